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

import math
from typing import Any

import torch
import torch.nn.functional as F

from ._validate import Array, Choice, Instance, as_features, as_labels, check_choice, declare

__all__ = [
    "LOSSES",
    "REGRESSION_LOSSES",
    "loss_value",
]

#: Losses against class labels.
LOSSES = ("softmax", "sigmoid")

#: Losses against real-valued targets.
REGRESSION_LOSSES = ("mse",)


def _checked_targets(logits: torch.Tensor, y: Any, loss: str) -> torch.Tensor:
    """``y`` checked against ``logits`` (n, n_outputs). A tensor of the
    expected kind costs a few metadata reads and one small reduction; anything
    else (numpy, lists, other dtypes) goes through the full checks."""
    n, k = logits.shape
    if loss == "mse":
        if not (isinstance(y, torch.Tensor) and y.is_floating_point()):
            y = as_features(y, "y")
        if tuple(y.shape) != (n, k):
            raise ValueError(f"y must have the shape of the outputs, (n, n_outputs) = {(n, k)}, "
                             f"for loss='mse'; got {tuple(y.shape)}")
        return y
    if not (isinstance(y, torch.Tensor) and y.dtype == torch.int64):
        return as_labels(y, "y", n_samples=n, n_classes=k)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"y must hold one class label per row of the outputs, shape ({n},); "
                         f"got shape {tuple(y.shape)}")
    low, high = (int(v) for v in torch.aminmax(y))
    if low < 0 or high >= k:
        bad = low if low < 0 else high
        raise ValueError(f"y holds label {bad}, but labels must lie in 0..{k - 1} "
                         f"(one per output of the {k} outputs)")
    return y


@declare(logits=Instance(torch.Tensor, what="a float torch.Tensor (n, n_outputs)"),
         y=Array((1, 2)), loss=Choice(LOSSES + REGRESSION_LOSSES), check=False,
         example=lambda: dict(logits=torch.zeros(3, 2), y=torch.tensor([0, 1, 1])))
def loss_value(logits: torch.Tensor, y: torch.Tensor, loss: str = "softmax") -> torch.Tensor:
    """Mean loss of the outputs ``logits`` (n, n_outputs) against labels
    ``y`` (n,) for "softmax" and "sigmoid", or against targets ``y``
    (n, n_outputs) for "mse".

    Called at every training step, so it checks its arguments itself, cheaply
    (an int64 label tensor costs one reduction for its range): labels outside
    0..n_outputs-1, a length that differs from the outputs' or targets that
    are not finite ("mse") raise a ``ValueError`` naming ``y``; labels given as numpy,
    as whole-number floats or as another integer type are converted."""
    check_choice(loss, "loss", LOSSES + REGRESSION_LOSSES)
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError(f"logits must be a float torch.Tensor (a net's outputs); got "
                        f"{type(logits).__name__}" + (f" of dtype {logits.dtype}" if isinstance(logits, torch.Tensor) else ""))
    if logits.ndim != 2 or 0 in logits.shape:
        raise ValueError(f"logits must be 2-D and non-empty, (n, n_outputs); got shape {tuple(logits.shape)}")
    y = _checked_targets(logits, y, loss)
    if loss == "softmax":
        return F.cross_entropy(logits, y)
    if loss == "mse":
        value = ((logits - y.to(logits.dtype)) ** 2).sum(1).mean()
        # one scalar read instead of a pass over y: only a value that is not
        # finite looks at the targets
        if not math.isfinite(value.item()) and not bool(torch.isfinite(y).all()):
            raise ValueError("y contains NaN or infinite targets; all targets must be finite")
        return value
    target = F.one_hot(y, logits.shape[1]).to(logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / logits.shape[0]
