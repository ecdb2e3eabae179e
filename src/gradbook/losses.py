r"""The book's losses, in one place.

Against class labels ``y`` (n,):

- ``"softmax"``: softmax outputs and the categorical cross-entropy,
  ``-log p_y``, averaged over the samples (today's default).
- ``"sigmoid"``: one sigmoid per output and the binary cross-entropy summed
  over the outputs, averaged over the samples. This is the cost of Nielsen's
  ``network2`` (chapter 3 of *Neural Networks and Deep Learning*), which his
  chapter 5 measurements of the vanishing gradient use.

Against real-valued targets ``y`` (n, n_outputs):

- ``"mse"``: the squared error summed over the outputs, averaged over the
  samples, :math:`\frac1n \sum_i \|\hat y_i - y_i\|^2` (chapter 6's
  recurrent nets on the adding problem).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._validate import check_choice

__all__ = [
    "LOSSES",
    "REGRESSION_LOSSES",
    "loss_value",
]

#: Losses against class labels.
LOSSES = ("softmax", "sigmoid")

#: Losses against real-valued targets.
REGRESSION_LOSSES = ("mse",)


def loss_value(logits: torch.Tensor, y: torch.Tensor, loss: str = "softmax") -> torch.Tensor:
    """Mean loss of the outputs ``logits`` (n, n_outputs) against labels
    ``y`` (n,) for "softmax" and "sigmoid", or against targets ``y``
    (n, n_outputs) for "mse"."""
    check_choice(loss, "loss", LOSSES + REGRESSION_LOSSES)
    if loss == "softmax":
        return F.cross_entropy(logits, y)
    if loss == "mse":
        return ((logits - y.to(logits.dtype)) ** 2).sum(1).mean()
    target = F.one_hot(y, logits.shape[1]).to(logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / logits.shape[0]
