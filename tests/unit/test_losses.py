"""gradbook.losses: the two cross-entropies and the squared error against their definitions."""

from __future__ import annotations

import math

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
