"""The two cross-entropy losses the book uses.

- ``"softmax"``: softmax outputs and the categorical cross-entropy,
  ``-log p_y``, averaged over the samples (today's default).
- ``"sigmoid"``: one sigmoid per output and the binary cross-entropy summed
  over the outputs, averaged over the samples. This is the cost of Nielsen's
  ``network2`` (chapter 3 of *Neural Networks and Deep Learning*), which his
  chapter 5 measurements of the vanishing gradient use.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._validate import check_choice

__all__ = ["LOSSES", "loss_value"]

LOSSES = ("softmax", "sigmoid")


def loss_value(logits: torch.Tensor, y: torch.Tensor, loss: str = "softmax") -> torch.Tensor:
    """Mean loss of ``logits`` (n, n_classes) against labels ``y`` (n,)."""
    check_choice(loss, "loss", LOSSES)
    if loss == "softmax":
        return F.cross_entropy(logits, y)
    target = F.one_hot(y, logits.shape[1]).to(logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / logits.shape[0]
