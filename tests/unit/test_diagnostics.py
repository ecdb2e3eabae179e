"""gradbook.diagnostics: Nielsen's ||delta^l|| against a hand-written backprop
and against finite differences; the functions leave the model as they found it;
weight changes and activation statistics."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from gradbook.diagnostics import (
    activation_stats,
    bias_gradient_norms,
    layer_gradients,
    relative_weight_change,
    snapshot,
    weight_gradient_norms,
)
from gradbook.losses import loss_value
from gradbook.models.mlp import linear_layers, mlp

# ------------------------------------------------------------------ references


def _derivative(activation, z):
    if activation == "sigmoid":
        s = torch.sigmoid(z)
        return s * (1 - s)
    if activation == "tanh":
        return 1 - torch.tanh(z) ** 2
    return (z > 0).to(z.dtype)


def _forward_fn(activation):
    return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[activation]


def manual_backprop(net, X, y, loss="sigmoid", activation="sigmoid"):
    """Nielsen's four equations in float64, written out by hand.

    Forward: z^l = a^{l-1} W^l^T + b^l, a^l = f(z^l) (the output layer is linear).
    Output error (per sample): delta^L = a^L - t, with a^L = sigmoid(z^L) for
    Nielsen's cross-entropy or softmax(z^L) for the categorical one.
    Backward: delta^l = (delta^{l+1} W^{l+1}) * f'(z^l).
    Gradients of the *mean* cost: dC/db^l = mean over samples of delta^l,
    dC/dW^l = delta^l^T a^{l-1} / n.
    """
    Ws = [l.weight.detach().double() for l in linear_layers(net)]
    bs = [l.bias.detach().double() for l in linear_layers(net)]
    f = _forward_fn(activation)
    a = X.double()
    acts, zs = [a], []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        z = a @ W.T + b
        zs.append(z)
        a = f(z) if i < len(Ws) - 1 else z
        acts.append(a)
    t = F.one_hot(y, Ws[-1].shape[0]).double()
    out = torch.sigmoid(zs[-1]) if loss == "sigmoid" else torch.softmax(zs[-1], dim=1)
    delta = out - t
    deltas = [delta]
    for l in range(len(Ws) - 2, -1, -1):
        delta = (delta @ Ws[l + 1]) * _derivative(activation, zs[l])
        deltas.insert(0, delta)
    n = X.shape[0]
    grad_b = [d.mean(0) for d in deltas]
    grad_W = [d.T @ a_prev / n for d, a_prev in zip(deltas, acts[:-1])]
    return grad_W, grad_b


def finite_difference_bias_grads(net, X, y, loss, eps=1e-6):
    """Central differences of the mean loss w.r.t. every bias, in float64."""
    net64 = copy.deepcopy(net).double()
    X64 = X.double()
    grads = []
    with torch.no_grad():
        for layer in linear_layers(net64):
            g = torch.zeros_like(layer.bias)
            for j in range(layer.bias.numel()):
                old = float(layer.bias[j])
                layer.bias[j] = old + eps
                up = float(loss_value(net64(X64), y, loss))
                layer.bias[j] = old - eps
                down = float(loss_value(net64(X64), y, loss))
                layer.bias[j] = old
                g[j] = (up - down) / (2 * eps)
            grads.append(g)
    return grads


@pytest.fixture
def tiny():
    """A tiny sigmoid net [6, 5, 4, 4, 3] and 11 samples in [0, 1]."""
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(11, 6, generator=gen)
    y = torch.randint(0, 3, (11,), generator=gen)
    return mlp([6, 5, 4, 4, 3], seed=2), X, y


# --------------------------------------------------------------- ||delta^l||


@pytest.mark.parametrize("loss", ["sigmoid", "softmax"])
def test_bias_gradient_norms_match_hand_backprop(tiny, loss):
    net, X, y = tiny
    _, grad_b = manual_backprop(net, X, y, loss)
    expected = [float(g.norm()) for g in grad_b[:-1]]  # hidden layers only
    got = bias_gradient_norms(net, X, y, loss=loss)
    assert len(got) == 3
    assert got == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_layer_gradients_match_hand_backprop_componentwise(digits, activation):
    X, y = digits
    X, y = X[:200], y[:200]
    net = mlp([64, 12, 9, 10], activation=activation, init="xavier" if activation != "relu" else "he",
              seed=1)
    grad_W, grad_b = manual_backprop(net, X, y, "softmax", activation)
    got = layer_gradients(net, X, y, "softmax")
    assert len(got) == 3
    for (gW, gb), eW, eb in zip(got, grad_W, grad_b):
        assert gW.shape == eW.shape and gb.shape == eb.shape
        assert torch.allclose(gW.double(), eW, rtol=1e-4, atol=1e-7)
        assert torch.allclose(gb.double(), eb, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("loss", ["sigmoid", "softmax"])
def test_bias_gradients_match_finite_differences(tiny, loss):
    net, X, y = tiny
    fd = finite_difference_bias_grads(net, X, y, loss)
    got = layer_gradients(net, X, y, loss)
    for (_, gb), g_fd in zip(got, fd):
        err = float((gb.double() - g_fd).norm())
        assert err <= 1e-4 * float(g_fd.norm()) + 1e-8
    norms = bias_gradient_norms(net, X, y, loss)
    assert norms == pytest.approx([float(g.norm()) for g in fd[:-1]], rel=1e-4)


def test_sigmoid_gradient_shrinks_toward_the_input(digits):
    # the vanishing gradient itself, on one net: ||delta^1|| < ... < ||delta^4||
    X, y = digits
    net = mlp([64, 30, 30, 30, 30, 10], seed=0)
    norms = bias_gradient_norms(net, X[:500], y[:500], loss="sigmoid")
    assert len(norms) == 4
    assert all(a < b for a, b in zip(norms, norms[1:]))


def test_weight_gradient_norms(tiny):
    net, X, y = tiny
    grad_W, _ = manual_backprop(net, X, y, "softmax")
    hidden = weight_gradient_norms(net, X, y)
    everything = weight_gradient_norms(net, X, y, include_output=True)
    assert len(hidden) == 3 and len(everything) == 4
    assert everything[:3] == hidden
    assert everything == pytest.approx([float(g.norm()) for g in grad_W], rel=1e-5)


def test_diagnostics_leave_flags_and_grads_untouched(tiny):
    net, X, y = tiny
    layers = linear_layers(net)
    layers[0].requires_grad_(False)  # frozen
    sentinel = torch.full_like(layers[1].weight, 7.0)
    layers[1].weight.grad = sentinel.clone()
    before = [p.detach().clone() for p in net.parameters()]
    flags = [p.requires_grad for p in net.parameters()]
    bias_gradient_norms(net, X, y)
    weight_gradient_norms(net, X, y, include_output=True)
    layer_gradients(net, X, y, "sigmoid")
    activation_stats(net, X)
    assert [p.requires_grad for p in net.parameters()] == flags
    assert torch.equal(layers[1].weight.grad, sentinel)
    for p in net.parameters():
        if p is not layers[1].weight:
            assert p.grad is None
    for p, q in zip(net.parameters(), before):
        assert torch.equal(p, q)


def test_diagnostics_restore_flags_after_an_error(tiny):
    net, X, y = tiny
    linear_layers(net)[0].requires_grad_(False)
    with pytest.raises(ValueError):
        bias_gradient_norms(net, X, y, loss="nope")
    assert [p.requires_grad for p in net.parameters()][:2] == [False, False]


def test_frozen_layers_are_measured_too(tiny):
    net, X, y = tiny
    free = bias_gradient_norms(net, X, y)
    for layer in linear_layers(net)[:2]:
        layer.requires_grad_(False)
    assert bias_gradient_norms(net, X, y) == free
    for layer in linear_layers(net):
        layer.requires_grad_(False)
    assert bias_gradient_norms(net, X, y) == free
    assert all(not p.requires_grad for p in net.parameters())


def test_gradients_under_no_grad_context(tiny):
    net, X, y = tiny
    expected = bias_gradient_norms(net, X, y)
    with torch.no_grad():
        assert bias_gradient_norms(net, X, y) == expected


def test_gradient_input_checks(tiny):
    net, X, y = tiny
    with pytest.raises(ValueError, match="6 features"):
        bias_gradient_norms(net, X[:, :5], y)
    with pytest.raises(ValueError, match="only 3 outputs"):
        bias_gradient_norms(net, X, torch.full((11,), 3))
    with pytest.raises(ValueError, match="labels but X has"):
        bias_gradient_norms(net, X, y[:5])
    with pytest.raises(ValueError, match="no hidden layer"):
        bias_gradient_norms(mlp([6, 3]), X, y)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        bias_gradient_norms("net", X, y)


# ------------------------------------------------------------- weight changes


def test_relative_weight_change_zero_right_after_snapshot(tiny):
    net, _, _ = tiny
    ref = snapshot(net)
    assert len(ref) == 4
    assert relative_weight_change(net, ref) == [0.0, 0.0, 0.0, 0.0]


def test_snapshot_is_a_copy(tiny):
    net, _, _ = tiny
    ref = snapshot(net)
    with torch.no_grad():
        net[0].weight.add_(1.0)
    assert not torch.equal(ref[0], net[0].weight)
    assert not ref[0].requires_grad


def test_relative_weight_change_measures_the_change(tiny):
    net, _, _ = tiny
    ref = snapshot(net)
    with torch.no_grad():
        net[2].weight.mul_(1.5)  # second linear layer: change = 0.5 ||W||
    change = relative_weight_change(net, ref)
    assert change[1] == pytest.approx(0.5, rel=1e-6)
    assert change[0] == change[2] == change[3] == 0.0
    with torch.no_grad():
        net[0].weight.add_(torch.ones_like(net[0].weight))
    expected = float(torch.ones_like(ref[0]).norm() / ref[0].norm())
    assert relative_weight_change(net, ref)[0] == pytest.approx(expected, rel=1e-5)


def test_relative_weight_change_from_zero_reference():
    net = mlp([3, 2, 2])
    with torch.no_grad():
        net[0].weight.zero_()
    ref = snapshot(net)
    assert relative_weight_change(net, ref)[0] == 0.0
    with torch.no_grad():
        net[0].weight.fill_(1.0)
    assert relative_weight_change(net, ref)[0] == float("inf")


def test_relative_weight_change_bad_reference(tiny):
    net, _, _ = tiny
    ref = snapshot(net)
    with pytest.raises(ValueError, match="snapshot.*4 matrices"):
        relative_weight_change(net, ref[:3])
    with pytest.raises((TypeError, ValueError), match="snapshot"):
        relative_weight_change(net, ref[0])
    with pytest.raises((TypeError, ValueError), match="snapshot"):
        relative_weight_change(net, None)
    with pytest.raises(ValueError, match=r"reference\[1\] must have shape \(4, 5\)"):
        relative_weight_change(net, [ref[0], ref[0], ref[2], ref[3]])
    with pytest.raises((TypeError, ValueError), match=r"reference\[2\]"):
        relative_weight_change(net, [ref[0], ref[1], ref[2].numpy(), ref[3]])


# ---------------------------------------------------------- activation_stats


def test_activation_stats_by_hand():
    # one hidden layer of two sigmoid units: z = +x and z = -x
    net = mlp([1, 2, 1])
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0], [-1.0]]))
        net[0].bias.zero_()
    X = torch.tensor([[10.0], [-10.0], [0.0]])
    stats = activation_stats(net, X, threshold=0.1)
    # sigma'(+-10) = 4.5e-5 < 0.1 * 1/4, sigma'(0) = 1/4: 4 of 6 pairs saturated
    assert stats["saturated"] == [pytest.approx(4 / 6)]
    assert stats["dead"] == [0.0]  # every unit passes gradient for x = 0
    assert stats["mean"] == [pytest.approx(float(torch.sigmoid(torch.tensor([10.0, -10, 0, -10, 10, 0])).mean()))]
    stats = activation_stats(net, X[:2])
    assert stats["saturated"] == [1.0] and stats["dead"] == [1.0]


def test_sigmoid_saturates_with_huge_weights(digits):
    X, _ = digits
    stats = activation_stats(mlp([64, 30, 30, 10], init=100.0, seed=0), X[:300])
    assert set(stats) == {"saturated", "dead", "mean"}
    assert len(stats["saturated"]) == 2
    assert all(s > 0.95 for s in stats["saturated"])


def test_sigmoid_not_saturated_with_tiny_weights(digits):
    X, _ = digits
    stats = activation_stats(mlp([64, 30, 30, 10], init=0.01, seed=0), X[:300])
    assert stats["saturated"] == [0.0, 0.0]
    assert stats["dead"] == [0.0, 0.0]
    assert stats["mean"] == pytest.approx([0.5, 0.5], abs=0.01)


def test_tanh_stats(digits):
    X, _ = digits
    small = activation_stats(mlp([64, 20, 10], "tanh", init=0.01), X[:100])
    assert small["saturated"] == [0.0] and small["mean"][0] == pytest.approx(0.0, abs=0.01)
    huge = activation_stats(mlp([64, 20, 10], "tanh", init=100.0), X[:100])
    assert huge["saturated"][0] > 0.95


def test_dead_relu_units_with_very_negative_biases(digits):
    X, _ = digits
    net = mlp([64, 30, 30, 10], activation="relu", init="he", seed=0)
    with torch.no_grad():
        for layer in linear_layers(net)[:-1]:
            layer.bias.fill_(-1000.0)
    stats = activation_stats(net, X[:200])
    assert stats["dead"] == [1.0, 1.0]
    assert stats["saturated"] == [1.0, 1.0]
    assert stats["mean"] == [0.0, 0.0]


def test_healthy_relu_has_few_dead_units(digits):
    X, _ = digits
    stats = activation_stats(mlp([64, 30, 30, 10], activation="relu", init="he"), X[:200])
    assert all(d < 0.3 for d in stats["dead"])
    assert all(0.2 < s < 0.8 for s in stats["saturated"])


def test_activation_stats_threshold_changes_the_count():
    net = mlp([1, 1, 1])
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[0].bias.zero_()
    X = torch.tensor([[2.0]])  # sigma'(2) = 0.105 = 0.42 * 1/4
    assert activation_stats(net, X, threshold=0.4)["saturated"] == [0.0]
    assert activation_stats(net, X, threshold=0.45)["saturated"] == [1.0]
    assert activation_stats(net, X, threshold=1.0)["saturated"] == [1.0]


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-0.1, ValueError), (1.5, ValueError),
                                      (float("nan"), ValueError), ("0.1", TypeError)])
def test_activation_stats_bad_threshold(tiny, bad, exc):
    net, X, _ = tiny
    with pytest.raises(exc, match="threshold"):
        activation_stats(net, X, threshold=bad)


def test_activation_stats_bad_input(tiny):
    net, X, _ = tiny
    with pytest.raises(ValueError, match="6 features"):
        activation_stats(net, X[:, :4])
    with pytest.raises(ValueError, match="no hidden layer"):
        activation_stats(mlp([6, 3]), X)


def test_activation_stats_removes_its_hooks(tiny):
    net, X, _ = tiny
    activation_stats(net, X)
    for m in net.modules():
        assert not m._forward_hooks


# ---------------------------------------------------------- hessian_extremes


def _exact_hessian_eigenvalues(net, X, y, loss):
    """Every eigenvalue of the Hessian of the mean loss over all weights and
    biases, from the full matrix (float64; fine for a net with 30 parameters)."""
    net64 = copy.deepcopy(net).double()
    layers = linear_layers(net64)
    shapes = [p.shape for l in layers for p in (l.weight, l.bias)]
    sizes = [s.numel() for s in shapes]
    flat = torch.cat([p.detach().reshape(-1) for l in layers for p in (l.weight, l.bias)])
    X64 = X.double()

    def f(theta):
        parts = [t.reshape(s) for t, s in zip(torch.split(theta, sizes), shapes)]
        a = X64
        for i in range(0, len(parts), 2):
            a = a @ parts[i].T + parts[i + 1]
            if i < len(parts) - 2:
                a = torch.sigmoid(a)
        return loss_value(a, y, loss)

    H = torch.autograd.functional.hessian(f, flat)
    assert torch.allclose(H, H.T, atol=1e-10)
    return torch.linalg.eigvalsh(H)


@pytest.mark.parametrize("loss", ["softmax", "sigmoid"])
def test_hessian_extremes_match_the_full_hessian(loss):
    from gradbook.diagnostics import hessian_extremes

    gen = torch.Generator().manual_seed(1)
    X = torch.rand(12, 3, generator=gen)
    y = torch.randint(0, 2, (12,), generator=gen)
    net = mlp([3, 4, 2], init="standard", seed=3)
    eig = _exact_hessian_eigenvalues(net, X, y, loss)
    top, bottom = hessian_extremes(net, X, y, loss=loss, iters=300)
    scale = float(eig.abs().max())
    assert top == pytest.approx(float(eig.max()), abs=1e-3 * scale)
    assert bottom == pytest.approx(float(eig.min()), abs=1e-3 * scale)
    assert top >= bottom


def test_hessian_extremes_negative_curvature_is_certified(tiny):
    # the smallest value is a Rayleigh quotient v^T H v: when it is negative,
    # so is H's smallest eigenvalue
    from gradbook.diagnostics import hessian_extremes

    net, X, y = tiny
    eig = _exact_hessian_eigenvalues(net, X, y, "softmax")
    _, bottom = hessian_extremes(net, X, y, iters=50)
    assert float(eig.min()) <= bottom + 1e-6


def test_hessian_extremes_is_seeded_and_leaves_the_model_alone(tiny):
    from gradbook.diagnostics import hessian_extremes

    net, X, y = tiny
    linear_layers(net)[0].requires_grad_(False)
    flags = [p.requires_grad for p in net.parameters()]
    before = [p.detach().clone() for p in net.parameters()]
    a = hessian_extremes(net, X, y, iters=20, seed=5)
    b = hessian_extremes(net, X, y, iters=20, seed=5)
    assert a == b
    assert [p.requires_grad for p in net.parameters()] == flags
    assert all(p.grad is None for p in net.parameters())
    for p, q in zip(net.parameters(), before):
        assert torch.equal(p, q)


def test_hessian_extremes_bad_arguments(tiny):
    from gradbook.diagnostics import hessian_extremes

    net, X, y = tiny
    with pytest.raises(ValueError, match="iters"):
        hessian_extremes(net, X, y, iters=0)
    with pytest.raises(ValueError, match="seed"):
        hessian_extremes(net, X, y, seed=-1)
    with pytest.raises(ValueError, match="6 features"):
        hessian_extremes(net, X[:, :2], y)


# ------------------------------------------------------------ upper bounds


@pytest.mark.timeout(10)
def test_work_beyond_the_bounds_is_refused_at_once(tiny):
    from gradbook.diagnostics import hessian_extremes, jacobian_product_norms

    net, X, y = tiny
    with pytest.raises(ValueError, match="iters"):
        hessian_extremes(net, X, y, iters=10**9)
    with pytest.raises(ValueError, match="hidden"):
        jacobian_product_norms(torch.eye(2), 10**9, "linear")


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_include_output_must_be_a_bool(tiny, bad):
    from gradbook.diagnostics import weight_gradient_norms

    net, X, y = tiny
    with pytest.raises(TypeError, match="include_output"):
        weight_gradient_norms(net, X, y, include_output=bad)
