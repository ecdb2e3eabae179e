"""gradbook.losses: the two cross-entropies and the squared error against their definitions."""

from __future__ import annotations

import math
import re

import numpy as np

import pytest
import torch
import torch.nn.functional as F

from gradbook.losses import LOSSES, REGRESSION_LOSSES, loss_value


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 5, generator=gen, dtype=torch.float64) * 3
    y = torch.tensor([0, 4, 2, 2, 1, 3, 0])
    return logits, y


def test_losses_table():
    assert LOSSES == ("softmax", "sigmoid")


def test_softmax_is_cross_entropy(batch):
    logits, y = batch
    assert torch.allclose(loss_value(logits, y), F.cross_entropy(logits, y))
    assert torch.allclose(loss_value(logits, y, "softmax"), F.cross_entropy(logits, y))


def test_softmax_by_hand(batch):
    logits, y = batch
    by_hand = 0.0
    for z, c in zip(logits.tolist(), y.tolist()):
        log_norm = math.log(sum(math.exp(v) for v in z))
        by_hand += -(z[c] - log_norm)
    assert float(loss_value(logits, y)) == pytest.approx(by_hand / len(y), rel=1e-12)


def test_sigmoid_is_nielsens_cross_entropy(batch):
    # C = -(1/n) sum_x sum_j [ t_j ln a_j + (1 - t_j) ln(1 - a_j) ],  a = sigmoid(z)
    logits, y = batch
    n, k = logits.shape
    total = 0.0
    for i in range(n):
        for j in range(k):
            a = 1 / (1 + math.exp(-float(logits[i, j])))
            t = 1.0 if j == int(y[i]) else 0.0
            total += -(t * math.log(a) + (1 - t) * math.log(1 - a))
    assert float(loss_value(logits, y, "sigmoid")) == pytest.approx(total / n, rel=1e-10)


def test_sigmoid_is_summed_over_outputs_not_averaged(batch):
    logits, y = batch
    mean_over_all = F.binary_cross_entropy_with_logits(
        logits, F.one_hot(y, 5).to(logits.dtype)
    )
    assert float(loss_value(logits, y, "sigmoid")) == pytest.approx(5 * float(mean_over_all))


def test_losses_are_differentiable_float32():
    logits = torch.randn(4, 3, requires_grad=True)
    y = torch.tensor([0, 1, 2, 1])
    for loss in LOSSES:
        value = loss_value(logits, y, loss)
        assert value.dtype == torch.float32 and value.ndim == 0
        (g,) = torch.autograd.grad(value, logits)
        assert torch.isfinite(g).all()


def test_sigmoid_gradient_is_output_minus_target():
    # Nielsen's point: with this cost, dC/dz^L = (a^L - t) / n, no sigma' factor
    logits = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    (g,) = torch.autograd.grad(loss_value(logits, y, "sigmoid"), logits)
    expected = (torch.sigmoid(logits) - F.one_hot(y, 4)) / 6
    assert torch.allclose(g, expected.detach())


def test_mse_is_the_squared_error_summed_over_outputs():
    # chapter 6's loss against real-valued targets (n, n_outputs)
    out = torch.tensor([[1.0, 2.0], [0.5, -1.0], [0.0, 0.0]], dtype=torch.float64)
    target = torch.tensor([[0.0, 2.0], [1.5, 1.0], [0.0, 3.0]], dtype=torch.float64)
    assert float(loss_value(out, target, "mse")) == pytest.approx((1 + 0 + 1 + 4 + 0 + 9) / 3, rel=1e-12)
    assert REGRESSION_LOSSES == ("mse",)


@pytest.mark.parametrize("bad", ["MSE", "Softmax", None])
def test_bad_loss_name(bad, batch):
    logits, y = batch
    with pytest.raises(ValueError, match="loss must be one of 'softmax', 'sigmoid'"):
        loss_value(logits, y, bad)


# ------------------------------------------------------------- bad targets
# loss_value runs at every training step, so it checks its arguments in its
# own body (declared with check=False): cheaply for an int64 label tensor,
# fully for anything else.


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize(
    "y, message",
    [
        (torch.tensor([0, 1, 2, 12, 0, 1, 2]), "label 12, but labels must lie in 0..4"),
        (torch.tensor([0, 1, 2, -1, 0, 1, 2]), "label -1"),
        (torch.tensor([0, 1, 2, -100, 0, 1, 2]), "label -100"),  # torch's ignore_index, not skipped
        (torch.tensor([0, 1, 2]), r"one class label per row of the outputs, shape \(7,\)"),
        (torch.zeros(7, 1, dtype=torch.int64), r"shape \(7,\)"),
        (torch.tensor([0.0, 1.5, 2, 2, 1, 3, 0]), "whole-number"),
        (np.array([0, 4, 2, 2, 1, 3, 9]), "label 9"),
        (torch.tensor([0.0, 1, 2, float("nan"), 1, 3, 0]), "NaN"),
    ],
)
def test_bad_labels_are_named(batch, loss, y, message):
    logits, _ = batch
    with pytest.raises(ValueError, match="y") as info:
        loss_value(logits, y, loss)
    assert re.search(message, str(info.value)), str(info.value)


@pytest.mark.parametrize("loss", LOSSES)
def test_labels_as_numpy_floats_or_other_ints_are_converted(batch, loss):
    logits, y = batch
    expected = loss_value(logits, y, loss)
    for other in (y.numpy(), y.tolist(), y.double(), y.to(torch.int32), y.to(torch.uint8)):
        assert torch.equal(loss_value(logits, other, loss), expected)


def test_mse_targets_must_have_the_outputs_shape():
    out = torch.zeros(4, 1)
    with pytest.raises(ValueError, match=r"y must have the shape of the outputs, \(n, n_outputs\) = \(4, 1\)"):
        loss_value(out, torch.zeros(4), "mse")  # would broadcast to (4, 4)
    with pytest.raises(ValueError, match=r"\(4, 1\)"):
        loss_value(out, torch.zeros(3, 1), "mse")
    with pytest.raises(ValueError, match="y contains NaN or infinite targets"):
        loss_value(out, torch.tensor([[0.0], [float("nan")], [0.0], [0.0]]), "mse")
    assert float(loss_value(out, np.ones((4, 1)), "mse")) == 1.0  # numpy targets are converted


@pytest.mark.parametrize("logits", [np.zeros((3, 2)), [[0.0, 1.0]], torch.zeros(3, 2, dtype=torch.int64), None])
def test_logits_must_be_a_float_tensor(logits):
    with pytest.raises(TypeError, match="logits must be a float torch.Tensor"):
        loss_value(logits, torch.tensor([0, 1, 1]))


@pytest.mark.parametrize("shape", [(3,), (0, 2), (3, 0), (3, 2, 1)])
def test_logits_must_be_2d_and_non_empty(shape):
    with pytest.raises(ValueError, match=r"logits must be 2-D and non-empty"):
        loss_value(torch.zeros(shape), torch.tensor([0, 1, 1]))
