"""Unit tests for recurrent nets (gradbook.models.rnn), gradients through
time (gradbook.diagnostics), synthetic tasks (gradbook.data), clipping and
training recurrent nets (gradbook.train), and chapter 6's one-unit cliff."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gradbook.chapters import ch06_exploding_gradients as ch06
from gradbook.models import rnn
from gradbook.data import adding_problem, temporal_order
from gradbook.diagnostics import gradient_through_time, hidden_state_gradients, jacobian_product_norms
from gradbook.train import History, clip_by_global_norm, clip_by_value, global_norm, train


def _states(model, x):
    """Forward pass with s_0 in the graph; returns (outputs, states)."""
    state0 = model.initial_state(x.shape[0]).requires_grad_(True)
    return model(x, state0)


# --------------------------------------------------------------------------
# recurrent matrices
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", rnn.RECURRENT_INITS)
@pytest.mark.parametrize("radius", [0.5, 1.0, 1.5])
def test_recurrent_matrix_has_the_asked_spectral_radius(kind, radius):
    W = rnn.recurrent_matrix(24, radius, kind, seed=3)
    assert W.shape == (24, 24) and W.dtype == torch.float32
    assert rnn.spectral_radius(W) == pytest.approx(radius, rel=1e-5)


def test_orthogonal_matrix_is_orthogonal_and_seeded():
    Q = rnn.orthogonal_matrix(16, seed=1).double()
    assert torch.allclose(Q.T @ Q, torch.eye(16, dtype=torch.float64), atol=1e-6)
    # every singular value of rho * Q is rho: ||W^k v|| = rho^k ||v||
    sv = torch.linalg.svdvals(rnn.recurrent_matrix(16, 1.5, "orthogonal", seed=1).double())
    assert torch.allclose(sv, torch.full_like(sv, 1.5), rtol=1e-6)
    assert torch.equal(rnn.orthogonal_matrix(16, seed=1), rnn.orthogonal_matrix(16, seed=1))
    assert not torch.equal(rnn.orthogonal_matrix(16, seed=1), rnn.orthogonal_matrix(16, seed=2))


def test_spectral_radius_of_a_known_matrix():
    assert rnn.spectral_radius([[0.0, 2.0], [-2.0, 0.0]]) == pytest.approx(2.0)  # eigenvalues +-2i
    assert rnn.spectral_radius(np.diag([0.3, -0.9, 0.1])) == pytest.approx(0.9)


# --------------------------------------------------------------------------
# networks
# --------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda s: rnn.VanillaRNN(2, 8, 3, "tanh", init="gaussian", radius=1.2, seed=s),
    lambda s: rnn.LSTMNet(2, 8, 3, seed=s),
])
def test_models_are_seeded_and_return_outputs_and_states(make):
    x, _ = adding_problem(5, 7, seed=0)
    a, b, c = make(0), make(0), make(1)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))
    outputs, states = a(x)
    assert outputs.shape == (5, 7, 3)
    assert len(states) == 8 and all(s.shape == (5, a.state_size) for s in states)
    assert torch.equal(outputs, b(x)[0])


def test_vanilla_rnn_follows_its_recurrence():
    model = rnn.VanillaRNN(3, 4, 2, "tanh", radius=0.9, seed=2)
    with torch.no_grad():
        model.bias.fill_(0.1)
    x = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(0))
    outputs, states = model(x)
    h = torch.zeros(2, 4)
    W, U, b = model.weight_hh, model.weight_ih, model.bias
    for t in range(5):
        h = torch.tanh(h @ W.T + x[:, t] @ U.T + b)
        assert torch.allclose(states[t + 1], h, atol=1e-6)
    assert torch.allclose(outputs[:, -1], model.readout(h), atol=1e-6)


def test_lstm_state_is_h_and_c_and_forget_bias_is_set():
    model = rnn.LSTMNet(2, 6, 1, forget_bias=1.0, seed=0)
    assert model.state_size == 12
    assert torch.all(model.lstm.bias_ih_l0[6:12] == 1.0) and torch.all(model.lstm.bias_hh_l0[6:12] == 0.0)
    x, _ = adding_problem(3, 9, seed=0)
    outputs, states = model(x)
    h, c = states[-1][:, :6], states[-1][:, 6:]
    assert torch.allclose(outputs[:, -1], model.readout(h))
    assert torch.all(h.abs() < 1) and (c.abs() > 0).any()
    # the unrolled equations are torch.nn.LSTM's, step for step
    fused, (h_n, c_n) = model.lstm(x)
    assert torch.allclose(torch.stack(states[1:], 1)[..., :6], fused, atol=1e-6)
    assert torch.allclose(c, c_n[0], atol=1e-6)
    assert torch.allclose(model.last_output(x), outputs[:, -1], atol=1e-6)


# --------------------------------------------------------------------------
# gradients through time
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", rnn.RECURRENT_INITS)
def test_linear_rnn_gradient_is_the_analytic_jacobian_product(kind):
    T = 20
    model = rnn.VanillaRNN(2, 8, 1, "linear", init=kind, radius=0.95, seed=4)
    x, y = adding_problem(6, T, seed=1)
    grads = hidden_state_gradients(model, x, y)
    assert grads.shape == (T + 1, 6, 8) and grads.dtype == torch.float64
    W = model.weight_hh.detach().double()
    # dL/dh_t = (W^T)^(T-t) dL/dh_T; with batch rows: g_t = g_T W^(T-t)
    for t in range(T + 1):
        expected = grads[T] @ torch.linalg.matrix_power(W, T - t)
        assert torch.allclose(grads[t], expected, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("radius", [0.5, 1.0, 1.5])
def test_orthogonal_linear_rnn_gradient_norm_is_radius_to_the_lag(radius):
    T = 30
    model = rnn.VanillaRNN(2, 16, 1, "linear", init="orthogonal", radius=radius, seed=0)
    x, y = adding_problem(4, T, seed=2)
    norms = gradient_through_time(model, x, y)
    lags = torch.arange(T, -1, -1, dtype=torch.float64)
    ratio = norms / norms[-1]
    assert torch.allclose(ratio, radius**lags, rtol=1e-4)
    analytic = jacobian_product_norms(model.weight_hh, T, "linear")
    assert torch.allclose(ratio, analytic, rtol=1e-4)


def test_jacobian_product_norms_match_autograd_for_tanh():
    T, H = 8, 4
    model = rnn.VanillaRNN(2, H, 1, "tanh", init="gaussian", radius=1.3, seed=5)
    x, _ = adding_problem(1, T, seed=3)
    model = model.double()
    _, states = _states(model, x.double())
    hidden = torch.stack(states, 1)[0].detach()
    analytic = jacobian_product_norms(model.weight_hh, hidden, "tanh")
    # rows i of dh_T/dh_t from one backward pass per component of h_T
    rows = [torch.autograd.grad(states[-1][0, i], states, retain_graph=True) for i in range(H)]
    for t in range(T + 1):
        J = torch.stack([r[t][0] for r in rows])
        assert float(torch.linalg.matrix_norm(J, ord=2)) == pytest.approx(float(analytic[t]), rel=1e-9)


def test_gradient_norm_is_bounded_by_the_jacobian_norm():
    T = 25
    model = rnn.VanillaRNN(2, 10, 1, "tanh", init="gaussian", radius=1.5, seed=1)
    x, y = adding_problem(1, T, seed=4)
    norms = gradient_through_time(model, x, y)
    hidden = torch.stack(model(x)[1], 1)[0].detach()
    bound = jacobian_product_norms(model.weight_hh, hidden, "tanh") * norms[-1]
    assert torch.all(norms <= bound * (1 + 1e-5))


def test_gradient_through_time_leaves_the_model_alone_and_works_for_lstm():
    model = rnn.LSTMNet(2, 5, 1, seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    x, y = adding_problem(3, 12, seed=0)
    norms = gradient_through_time(model, x, y)
    assert norms.shape == (13,) and torch.isfinite(norms).all() and norms[-1] > 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.grad is None for p in model.parameters())
    # classification loss on the temporal-order task
    xo, yo = temporal_order(4, 9, seed=0)
    norms = gradient_through_time(rnn.VanillaRNN(6, 5, 4, seed=0), xo, yo, loss="softmax")
    assert norms.shape == (10,)


# --------------------------------------------------------------------------
# tasks
# --------------------------------------------------------------------------


def test_adding_problem_shapes_markers_and_target():
    x, y = adding_problem(64, 30, seed=7)
    assert x.shape == (64, 30, 2) and y.shape == (64, 1)
    assert x.dtype == torch.float32 and y.dtype == torch.float32
    values, markers = x[..., 0], x[..., 1]
    assert torch.all((values >= 0) & (values <= 1))
    assert torch.all(markers.sum(1) == 2) and set(markers.unique().tolist()) == {0.0, 1.0}
    assert torch.allclose((values * markers).sum(1, keepdim=True), y)
    # default placement (Le et al. 2015): one marker in each half
    assert torch.all(markers[:, :15].sum(1) == 1) and torch.all(markers[:, 15:].sum(1) == 1)


def test_adding_problem_is_seeded():
    a, b, c = (adding_problem(10, 20, seed=s) for s in (1, 1, 2))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("min_lag", [1, 10, 25, 39])
def test_adding_problem_min_lag_places_the_first_marker(min_lag):
    L = 40
    x, _ = adding_problem(200, L, seed=0, min_lag=min_lag)
    markers = x[..., 1]
    assert torch.all(markers.sum(1) == 2)
    first = markers.argmax(1)  # position of the first marker
    assert torch.all(L - 1 - first >= min_lag)
    if min_lag == L - 1:
        assert torch.all(first == 0)


def test_temporal_order_shapes_and_labels():
    x, y = temporal_order(50, 12, seed=0, min_lag=6)
    assert x.shape == (50, 12, 6) and x.dtype == torch.float32
    assert y.shape == (50,) and y.dtype == torch.int64
    assert torch.all(x.sum(2) == 1)
    symbols = x.argmax(2)
    for row, label in zip(symbols, y):
        special = row[row >= 4] - 4  # 0 for X, 1 for Y, in order
        assert len(special) == 2
        assert int(label) == 2 * int(special[0]) + int(special[1])
    assert set(y.tolist()) == {0, 1, 2, 3}


@pytest.mark.parametrize("task", [adding_problem, temporal_order])
@pytest.mark.parametrize("kwargs, match", [
    (dict(min_lag=20), "min_lag must be at most length - 1"),
    (dict(min_lag=50), "min_lag must be at most length - 1"),
    (dict(min_lag=0), "min_lag"),
])
def test_lag_longer_than_the_sequence_is_an_error(task, kwargs, match):
    with pytest.raises(ValueError, match=match):
        task(4, 20, **kwargs)


def test_task_size_errors():
    with pytest.raises(ValueError, match="length"):
        adding_problem(4, 1)
    with pytest.raises(ValueError, match="n"):
        adding_problem(0, 10)
    with pytest.raises(ValueError, match="seed"):
        adding_problem(4, 10, seed=-1)


# --------------------------------------------------------------------------
# clipping
# --------------------------------------------------------------------------

_shapes = st.lists(st.lists(st.integers(1, 4), min_size=1, max_size=2), min_size=1, max_size=3)


@settings(max_examples=60, deadline=None)
@given(shapes=_shapes, scale=st.floats(1e-3, 1e3), max_norm=st.floats(1e-2, 1e2), seed=st.integers(0, 2**16))
def test_clip_by_global_norm_never_exceeds_the_threshold(shapes, scale, max_norm, seed):
    gen = torch.Generator().manual_seed(seed)
    grads = [torch.randn(*s, generator=gen, dtype=torch.float64) * scale for s in shapes]
    clipped, norm = clip_by_global_norm(grads, max_norm)
    assert norm == pytest.approx(global_norm(grads))
    assert global_norm(clipped) <= max_norm * (1 + 1e-9)
    factor = min(1.0, max_norm / norm)  # the direction is kept
    for g, c in zip(grads, clipped):
        assert torch.allclose(c, g * factor, rtol=1e-12, atol=0)
    # torch's in-place version does the same (up to its 1e-6 guard)
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    torch.nn.utils.clip_grad_norm_(params, max_norm)
    for p, c in zip(params, clipped):
        assert torch.allclose(p.grad, c, rtol=2e-4, atol=0)


@settings(max_examples=40, deadline=None)
@given(shapes=_shapes, scale=st.floats(1e-3, 1e3), clip=st.floats(1e-2, 1e2), seed=st.integers(0, 2**16))
def test_clip_by_value_bounds_every_entry(shapes, scale, clip, seed):
    gen = torch.Generator().manual_seed(seed)
    grads = [torch.randn(*s, generator=gen, dtype=torch.float64) * scale for s in shapes]
    clipped = clip_by_value(grads, clip)
    for g, c in zip(grads, clipped):
        assert torch.all(c.abs() <= clip)
        inside = g.abs() <= clip
        assert torch.equal(c[inside], g[inside])
        assert torch.all(torch.sign(c) == torch.sign(g))


def test_clipping_does_not_change_its_input():
    g = torch.tensor([3.0, 4.0])
    clipped, norm = clip_by_global_norm([g], 1.0)
    assert norm == pytest.approx(5.0)
    assert torch.allclose(clipped[0], torch.tensor([0.6, 0.8]))
    assert torch.equal(g, torch.tensor([3.0, 4.0]))
    assert torch.equal(clip_by_value(g, 3.5)[0], torch.tensor([3.0, 3.5]))


@pytest.mark.parametrize("bad, error", [
    ([torch.tensor([1.0, float("nan")])], ValueError),
    ([], ValueError),
    ([np.ones(3)], TypeError),
])
def test_clipping_rejects_bad_gradients(bad, error):
    with pytest.raises(error):
        clip_by_global_norm(bad, 1.0)
    with pytest.raises(error):
        clip_by_value(bad, 1.0)


def test_clipping_rejects_bad_thresholds():
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_global_norm([torch.ones(2)], -1.0)
    with pytest.raises(ValueError, match="clip_value"):
        clip_by_value([torch.ones(2)], 0.0)


# --------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------


def _exploding_setup(seed=0):
    """A tanh RNN with radius 2 on the adding problem: huge gradients."""
    model = rnn.VanillaRNN(2, 8, 1, "tanh", radius=2.0, seed=seed)
    return model, adding_problem(64, 30, seed=seed)


def test_clipped_update_never_exceeds_lr_times_threshold():
    model, data = _exploding_setup()
    lr, threshold = 0.1, 0.5
    for step in range(4):
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        result = train(model, *data, steps=1, lr=lr, batch_size=16, clip=("norm", threshold), seed=step)
        after = torch.cat([p.detach().flatten() for p in model.parameters()])
        assert result.grad_norms[0] > threshold  # clipping was needed
        assert float((after - before).norm()) <= lr * threshold * (1 + 1e-5)


def test_value_clipped_update_bounds_every_entry():
    model, data = _exploding_setup()
    before = [p.detach().clone() for p in model.parameters()]
    train(model, *data, steps=1, lr=0.1, batch_size=16, clip=("value", 0.01), seed=0)
    for b, p in zip(before, model.parameters()):
        assert torch.all((p.detach() - b).abs() <= 0.1 * 0.01 + 1e-6)  # + float32 rounding


def test_training_a_recurrent_net_records_and_is_seeded(capsys):
    runs = []
    for _ in range(2):
        model = rnn.VanillaRNN(2, 8, 1, "tanh", radius=1.0, seed=0)
        runs.append(train(model, *adding_problem(64, 10, seed=0), steps=15, lr=0.05,
                          batch_size=16, momentum=0.9, clip=("norm", 1.0), seed=3))
    a, b = runs
    assert a == b
    assert a.steps == 15 and len(a.step_loss) == len(a.grad_norms) == 15
    assert not a.diverged and a.diverged_at is None and a.reason == ""
    assert all(math.isfinite(v) for v in a.step_loss + a.grad_norms)
    # step mode records the start and the end; "mse" has no accuracy
    assert a.epoch == [0, 15] and len(a.train_loss) == 2 and a.train_acc == []
    assert a.train_loss[-1] == pytest.approx(rnn.task_loss(model, *adding_problem(64, 10, seed=0)))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # no progress bar while the book builds


def test_training_a_recurrent_net_progress_bar_runs():
    model = rnn.LSTMNet(2, 4, 1, seed=0)
    result = train(model, *adding_problem(16, 5, seed=0), steps=2, lr=0.01,
                   batch_size=8, progress=True)
    assert result.steps == 2


def test_training_a_recurrent_net_reports_divergence_instead_of_raising():
    model = rnn.VanillaRNN(2, 8, 1, "linear", radius=1.0, seed=0)
    result = train(model, *adding_problem(64, 30, seed=0), steps=50, lr=0.05, batch_size=16)
    assert result.diverged and result.diverged_at is not None and result.diverged_at < 50
    assert result.steps == result.diverged_at == len(result.step_loss)
    assert all(math.isfinite(v) for v in result.step_loss + result.grad_norms)
    assert str(result.diverged_at) in result.reason
    # a low bound counts as divergence too
    model = rnn.VanillaRNN(2, 8, 1, "tanh", seed=0)
    result = train(model, *adding_problem(64, 5, seed=0), steps=5, lr=0.01,
                   batch_size=16, max_loss=1e-6)
    assert result.diverged and result.diverged_at == 0 and "max_loss" in result.reason


def test_training_a_recurrent_net_on_classification():
    model = rnn.VanillaRNN(6, 8, 4, seed=0)
    data = temporal_order(64, 8, seed=0)
    before = rnn.task_loss(model, *data, loss="softmax")
    result = train(model, *data, steps=30, lr=0.2, batch_size=32, loss="softmax", seed=0)
    assert not result.diverged
    assert rnn.task_loss(model, *data, loss="softmax") < before
    assert result.train_loss[-1] == pytest.approx(rnn.task_loss(model, *data, loss="softmax"))
    assert len(result.train_acc) == 2 and 0 <= result.train_acc[-1] <= 1


# --------------------------------------------------------------------------
# the cliff
# --------------------------------------------------------------------------


def test_cliff_loss_grid_and_wall():
    w = np.linspace(0.0, 10.0, 11)
    b = np.linspace(-6.0, 1.0, 8)
    L = ch06.cliff_loss(w, b)
    assert L.shape == (8, 11) and np.all(np.isfinite(L)) and np.all(L >= 0)
    assert ch06.cliff_loss(2.0, -1.0).shape == (1, 1)
    # with h0 = 1/2 the wall is the line b = -w/2 (w > 4): h_T falls from the
    # upper fixed point (~1, loss ~0.09) to the lower one (~0, loss ~0.49)
    upper = ch06.cliff_loss(8.0, -4.0 + 1e-3)[0, 0]
    lower = ch06.cliff_loss(8.0, -4.0 - 1e-3)[0, 0]
    assert upper < 0.1 and lower > 0.45


def test_gradient_descent_is_thrown_off_the_wall_unless_clipped():
    # (6, -3) lies on the wall: h_t = 1/2 for every t, and dL/d(w, b) is huge
    free = ch06.cliff_trajectory(6.0, -3.0, lr=0.5, steps=5)
    clipped = ch06.cliff_trajectory(6.0, -3.0, lr=0.5, steps=5, clip=1.0)
    assert free.params.shape == (6, 2) and free.losses.shape == (6,) and free.grad_norms.shape == (5,)
    assert free.grad_norms[0] > 1e6  # the wall
    plateau = ch06.cliff_trajectory(6.0, -1.0, lr=0.5, steps=1)
    assert plateau.grad_norms[0] < 1.0  # beside it
    jumps = np.linalg.norm(np.diff(free.params, axis=0), axis=1)
    assert jumps[0] > 1e5
    steps = np.linalg.norm(np.diff(clipped.params, axis=0), axis=1)
    assert np.all(steps <= 0.5 * 1.0 + 1e-12)
    assert np.all(np.isfinite(clipped.params))


# --------------------------------------------------------------------------
# bad inputs
# --------------------------------------------------------------------------


def test_bad_recurrent_matrices():
    with pytest.raises(ValueError, match="square"):
        rnn.spectral_radius(torch.ones(3, 4))
    with pytest.raises(ValueError, match="square"):
        jacobian_product_norms(torch.ones(3), 5, "linear")
    with pytest.raises(ValueError, match="NaN"):
        rnn.spectral_radius([[1.0, float("nan")], [0.0, 1.0]])
    with pytest.raises(TypeError, match="array of finite numbers; got dtype"):
        rnn.spectral_radius([["a", "b"], ["c", "d"]])
    with pytest.raises(ValueError, match="radius"):
        rnn.recurrent_matrix(4, -0.5)
    with pytest.raises(ValueError, match="radius"):
        rnn.VanillaRNN(2, 4, 1, radius=-1.0)
    with pytest.raises(ValueError, match="kind"):
        rnn.recurrent_matrix(4, 1.0, kind="uniform")


def test_unknown_nonlinearity():
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn.VanillaRNN(2, 4, 1, "relu")
    with pytest.raises(ValueError, match="nonlinearity"):
        jacobian_product_norms(torch.eye(3), 4, "sigmoid")
    with pytest.raises(ValueError, match="activation"):
        ch06.cliff_loss(1.0, 0.0, activation="relu")


def test_jacobian_product_norms_bad_hidden():
    W = torch.eye(3)
    with pytest.raises(ValueError, match="linear"):
        jacobian_product_norms(W, 5, "tanh")
    with pytest.raises(ValueError, match="3 columns"):
        jacobian_product_norms(W, torch.zeros(6, 4), "tanh")
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        jacobian_product_norms(W, torch.full((6, 3), 2.0), "tanh")


@pytest.mark.parametrize("x, match", [
    (torch.full((2, 5, 2), float("nan")), "NaN"),
    (torch.zeros(5, 2), "3-D"),
    (torch.zeros(2, 5, 3), "2 features"),
    (torch.zeros(0, 5, 2), "empty"),
    (np.full((2, 5, 2), np.inf), "NaN or infinite"),
])
def test_bad_sequences(x, match):
    model = rnn.VanillaRNN(2, 4, 1, seed=0)
    with pytest.raises(ValueError, match=match):
        model(x)
    with pytest.raises(ValueError, match=match):
        gradient_through_time(model, x, torch.zeros(2, 1))


def test_bad_targets_and_training_arguments():
    model = rnn.VanillaRNN(2, 4, 1, seed=0)
    x, y = adding_problem(8, 5, seed=0)
    with pytest.raises(ValueError, match="rows"):
        gradient_through_time(model, x, y[:3])
    with pytest.raises(ValueError, match="1 features"):
        gradient_through_time(model, x, torch.zeros(8, 2))
    with pytest.raises(ValueError, match="NaN"):
        train(model, x, torch.full((8, 1), float("nan")), steps=1, lr=0.1)
    with pytest.raises(ValueError, match="loss"):
        train(model, x, y, steps=1, lr=0.1, loss="hinge")
    with pytest.raises(ValueError, match="loss"):
        train(model, x, y, steps=1, lr=0.1, loss="sigmoid")  # a loss for labels, not for a recurrent net
    with pytest.raises(ValueError, match="clip"):
        train(model, x, y, steps=1, lr=0.1, batch_size=4, clip=("both", 1.0))
    with pytest.raises(ValueError, match="clip"):
        train(model, x, y, steps=1, lr=0.1, batch_size=4, clip=1.0)
    with pytest.raises(ValueError, match="batch_size"):
        train(model, x, y, steps=1, lr=0.1, batch_size=9)
    with pytest.raises(ValueError, match="lr"):
        train(model, x, y, steps=1, lr=-0.1, batch_size=4)
    with pytest.raises(ValueError, match="2 features"):
        train(model, torch.zeros(8, 5, 3), y, steps=1, lr=0.1, batch_size=4)
    with pytest.raises(ValueError, match="y_test has 3 rows"):
        train(model, x, y, steps=1, lr=0.1, batch_size=4, X_test=x[:4], y_test=y[:3])
    with pytest.raises(ValueError, match="diagnostics_every"):
        train(model, x, y, steps=1, lr=0.1, batch_size=4, diagnostics_every=1)
    with pytest.raises(ValueError, match="state0"):
        model(x, torch.zeros(3, 4))
    with pytest.raises(TypeError, match="model"):
        gradient_through_time(torch.nn.RNN(2, 4), x, y)


def test_bad_cliff_arguments():
    with pytest.raises(ValueError, match="1-D"):
        ch06.cliff_loss(np.zeros((2, 2)), 0.0)
    with pytest.raises(ValueError, match="finite"):
        ch06.cliff_loss([1.0, np.nan], 0.0)
    with pytest.raises(ValueError, match="w0"):
        ch06.cliff_trajectory(float("inf"), 0.0, lr=0.1, steps=3)
    with pytest.raises(ValueError, match="clip"):
        ch06.cliff_trajectory(1.0, 0.0, lr=0.1, steps=3, clip=0.0)


# --------------------------------------------------------------------------
# chapter 6 helpers: lag profiles, the cliff's gradient, runs, figures
# --------------------------------------------------------------------------


@pytest.mark.parametrize("radius", [0.5, 1.0, 1.5])
def test_lag_profile_of_a_linear_orthogonal_net_is_radius_to_the_lag(radius):
    profile = ch06.lag_profile(radius, "linear", 40, init="orthogonal", hidden_size=16, n_sequences=4)
    assert profile.shape == (41,) and profile[0] == 1.0
    np.testing.assert_allclose(profile, radius ** np.arange(41), rtol=1e-6)
    assert ch06.growth_rate(profile) == pytest.approx(radius, rel=1e-6)


def test_lag_profile_is_the_flipped_gradient_through_time():
    model = rnn.VanillaRNN(2, 32, 1, "tanh", init="gaussian", radius=1.2, seed=3)
    x, y = adding_problem(16, 30, seed=3)
    norms = gradient_through_time(model, x, y).numpy()
    np.testing.assert_allclose(ch06.lag_profile(1.2, "tanh", 30, seed=3), norms[::-1] / norms[-1], rtol=1e-12)


def test_growth_rate_of_a_geometric_sequence_and_bad_profiles():
    assert ch06.growth_rate(3.0 * 0.8 ** np.arange(10)) == pytest.approx(0.8)
    assert ch06.growth_rate([5.0, 1.0, 2.0, 4.0], start=1) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="1-D"):
        ch06.growth_rate(np.ones((2, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        ch06.growth_rate([1.0, 2.0], start=1)
    with pytest.raises(ValueError, match="> 0"):
        ch06.growth_rate([1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        ch06.growth_rate([1.0, np.nan])
    with pytest.raises(ValueError, match="length"):
        ch06.lag_profile(1.0, "linear", 1)


@pytest.mark.parametrize("point", [(6.0, -3.0), (6.0, -2.5), (2.0, 0.5), (8.0, -4.2)])
@pytest.mark.parametrize("activation", ch06.CLIFF_ACTIVATIONS)
def test_cliff_gradient_matches_autograd(point, activation):
    w, b = point
    loss, g_w, g_b = ch06.cliff_gradient(w, b, length=12, activation=activation)
    theta = torch.tensor([w, b], dtype=torch.float64, requires_grad=True)
    act = torch.sigmoid if activation == "sigmoid" else torch.tanh
    h = torch.tensor(0.5, dtype=torch.float64)
    for _ in range(12):
        h = act(theta[0] * h + theta[1])
    value = (h - 0.7) ** 2
    (grad,) = torch.autograd.grad(value, theta)
    assert loss == pytest.approx(value.item(), rel=1e-12)
    assert loss == pytest.approx(float(ch06.cliff_loss(w, b, length=12, activation=activation)[0, 0]), rel=1e-12)
    np.testing.assert_allclose([g_w, g_b], grad.numpy(), rtol=1e-9, atol=1e-15)


def test_cliff_gradient_on_the_wall_grows_like_w_over_4_to_the_length():
    # at b = -w/2 the state stays at 1/2, so dh_t/db = 1/4 + (w/4) dh_{t-1}/db:
    # dh_T/db = (1/4) ((w/4)^T - 1) / (w/4 - 1), and dL/db = 2 (1/2 - 0.7) dh_T/db
    for T in (10, 20, 30):
        expected = 2 * (0.5 - 0.7) * 0.25 * (1.75**T - 1) / 0.75
        assert ch06.cliff_gradient(7.0, -3.5, length=T)[2] == pytest.approx(expected, rel=1e-9)
    # far out on a plateau the sigmoid is saturated and nothing overflows
    loss, g_w, g_b = ch06.cliff_gradient(-1e6, -1e6)
    assert loss == pytest.approx(0.49) and g_w == 0.0 and g_b == 0.0
    with pytest.raises(ValueError, match="w"):
        ch06.cliff_gradient(float("nan"), 0.0)


def test_adding_run_reports_learning_and_divergence():
    ok = ch06.adding_run("rnn", 5, lr=0.05, steps=30, clip=("norm", 1.0), n_train=64, n_test=32, hidden_size=8)
    assert ok.history.steps == 30 and not ok.history.diverged and ok.clip == ("norm", 1.0)
    assert ok.test_mse is not None and math.isfinite(ok.test_mse) and ok.seconds > 0
    assert ok.learned == (ok.test_mse < ch06.ADDING_ONE_VALUE)
    bad = ch06.adding_run("rnn", 10, lr=5.0, steps=50, n_train=64, n_test=32, hidden_size=8)
    assert bad.history.diverged and bad.test_mse is None and not bad.learned
    lstm = ch06.adding_run("lstm", 5, lr=0.1, steps=3, n_train=64, n_test=32, hidden_size=4)
    assert lstm.model == "lstm" and lstm.history.steps == 3
    with pytest.raises(ValueError, match="model"):
        ch06.adding_run("gru", 5, lr=0.1, steps=1)
    with pytest.raises(ValueError, match="length"):
        ch06.adding_run("rnn", 1, lr=0.1, steps=1)


def test_adding_run_reads_its_defaults_from_the_settings(monkeypatch):
    small = dataclasses.replace(ch06.SETTINGS.adding, steps=7, hidden_size=4, batch_size=8, n_train=32,
                                n_test=16, momentum=0.5)
    monkeypatch.setattr(ch06, "SETTINGS", dataclasses.replace(ch06.SETTINGS, adding=small))
    run = ch06.adding_run("rnn", 5, lr=0.05)
    assert run.history.steps == 7 and len(run.history.step_loss) == 7
    # the same run with every setting spelled out
    spelled = ch06.adding_run("rnn", 5, lr=0.05, steps=7, hidden_size=4, batch_size=8, n_train=32,
                              n_test=16, momentum=0.5)
    assert spelled.history == run.history and spelled.test_mse == run.test_mse
    with pytest.raises(dataclasses.FrozenInstanceError):
        ch06.SETTINGS.adding.steps = 1


def test_cliff_settings_drive_the_cliff_figure(monkeypatch):
    cliff = dataclasses.replace(ch06.SETTINGS.cliff, start=(6.0, -1.0), length=5, w_grid=(2.0, 8.0, 31))
    monkeypatch.setattr(ch06, "SETTINGS", dataclasses.replace(ch06.SETTINGS, cliff=cliff))
    fig = ch06.cliff_figure(1.0, 0.1, steps=5)
    ax = fig.axes[0]
    assert ax.get_xlim() == (2.0, 8.0) and ax.get_ylim() == (-6.0, 0.0)
    start = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(start) == 1 and list(start[0].get_xdata()) == [6.0]


def test_plot_run_marks_divergence():
    import matplotlib.pyplot as plt

    diverged = History(steps=3, step_loss=[1.0, 10.0, 1e4], grad_norms=[1.0, 5.0, 1e3],
                       diverged=True, diverged_at=3, reason="loss is nan at step 3")
    fine = History(steps=4, step_loss=[1.0, 0.5, 0.4, 0.3], grad_norms=[1.0] * 4)
    fig, ax = plt.subplots()
    ch06.plot_run(ax, diverged, label="plain", color="red")
    ch06.plot_run(ax, fine, label="clipped", color="blue", what="grad_norm")
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["diverged at step 3"]
    marker = [line for line in ax.lines if line.get_marker() == "x"]
    assert len(marker) == 1 and list(marker[0].get_xdata()) == [3]
    # the moving average keeps the length and the first value
    assert list(ax.lines[0].get_ydata())[:2] == [1.0, 5.5] and len(ax.lines[0].get_ydata()) == 3
    with pytest.raises(ValueError, match="what"):
        ch06.plot_run(ax, fine, label="x", color="k", what="accuracy")


@pytest.mark.parametrize("make", [
    lambda: ch06.gradient_time_figure(1.5, "linear", 25),
    lambda: ch06.gradient_time_figure(0.5, "tanh", 100),
    lambda: ch06.cliff_figure(1.0, 0.1, steps=30),
    lambda: ch06.cliff_figure(0.1, 3.0, steps=30),
])
def test_figures_return_a_figure_that_renders(make):
    from matplotlib.figure import Figure

    from gradbook.widgets import render_png

    fig = make()
    assert isinstance(fig, Figure)
    png = render_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < 60_000


def test_cliff_figure_notes_the_throw_off_the_wall():
    fig = ch06.cliff_figure(1.0, 0.1)
    notes = [t.get_text() for t in fig.axes[0].texts]
    assert len(notes) == 1 and notes[0].startswith("thrown to")  # only the unclipped path leaves
    with pytest.raises(ValueError, match="clip"):
        ch06.cliff_figure(0.0, 0.1)


def test_power_tick_labels_need_no_mathtext():
    assert ch06._power_label(1e-4) == "10\u207b\u2074"
    assert ch06._power_label(1.0) == "1" and ch06._power_label(1e20) == "10\u00b2\u2070"
    assert ch06._power_label(0.0) == ""


# --------------------------------------------------------------------------
# chapter 6: bounds, overflow, and the memoised surface
# --------------------------------------------------------------------------


def test_cliff_trajectory_refuses_a_run_too_long_at_once():
    import time

    start = time.perf_counter()
    with pytest.raises(ValueError, match="steps must be an integer from 0 to 10,000,000"):
        ch06.cliff_trajectory(7.0, -3.75, lr=0.1, steps=10**9)
    with pytest.raises(ValueError, match=r"\(steps \+ 1\) \* length"):
        ch06.cliff_trajectory(7.0, -3.75, lr=0.1, steps=10**6, length=50)
    assert time.perf_counter() - start < 1.0


def test_cliff_trajectory_keeps_its_path_exactly():
    # the arrays are filled in place now; the path is the one the loop computes
    path = ch06.cliff_trajectory(6.0, -3.0, lr=0.5, steps=4, clip=1.0, length=12)
    w, b = 6.0, -3.0
    for k in range(4):
        loss, g_w, g_b = ch06.cliff_gradient(w, b, length=12)
        assert path.losses[k] == loss
        norm = math.hypot(g_w, g_b)
        assert path.grad_norms[k] == norm
        if norm > 1.0:
            g_w, g_b = g_w / norm, g_b / norm
        w, b = w - 0.5 * g_w, b - 0.5 * g_b
        assert tuple(path.params[k + 1]) == (w, b)
    assert ch06.cliff_trajectory(6.0, -3.0, lr=0.5, steps=0).grad_norms.shape == (0,)


def test_cliff_overflow_names_the_setting():
    with pytest.raises(ValueError, match="gradient overflowed .* length=10000"):
        ch06.cliff_gradient(100.0, -50.0, length=10_000)
    with pytest.raises(ValueError, match="gradient overflowed"):
        ch06.cliff_trajectory(100.0, -50.0, lr=0.1, steps=2, length=10_000)
    with pytest.raises(ValueError, match="target=1e\\+200"):
        ch06.cliff_gradient(6.0, -3.0, target=1e200)
    with pytest.raises(ValueError, match="target=1e\\+200"):
        ch06.cliff_loss([6.0], [-3.0], target=1e200)
    with pytest.raises(ValueError, match=r"len\(w\) \* len\(b\) \* length"):
        ch06.cliff_loss(np.zeros(3000), np.zeros(3000), length=200)
    with pytest.raises(ValueError, match=r"a grid of len\(w\) \* len\(b\) = 100,000,000 points .* GiB"):
        ch06.cliff_loss(np.zeros(10_000), np.zeros(10_000), length=1)


def test_lag_profile_says_whether_the_gradient_overflowed_or_underflowed():
    with pytest.raises(ValueError, match=r"overflowed .*radius=10\.0, nonlinearity='linear', length=400"):
        ch06.lag_profile(10.0, "linear", 400)
    with pytest.raises(ValueError, match=r"is 0 from lag \d+ on \(radius=0\.01.*underflowed"):
        ch06.lag_profile(0.01, "linear", 400)
    with pytest.raises(ValueError, match="radius=0 makes W = 0"):
        ch06.lag_profile(0.0, "linear", 10)
    with pytest.raises(ValueError, match="n_sequences .* GiB"):
        ch06.lag_profile(1.0, "linear", 10**5, n_sequences=10**4)


def test_growth_rate_overflow_is_reported():
    with pytest.raises(ValueError, match="beyond float64's range"):
        ch06.growth_rate([1e-300, 1e300])


def test_settings_check_their_fields():
    with pytest.raises(ValueError, match="w_grid's number of points"):
        ch06.CliffSettings(w_grid=(2.0, 8.0, 2.5))
    with pytest.raises(ValueError, match="b_grid must run from low to high"):
        ch06.CliffSettings(b_grid=(1.0, 0.0, 11))
    listed = ch06.CliffSettings(w_grid=[2, 8, 31], start=[6, -1])
    assert listed.w_grid == (2.0, 8.0, 31) and listed.start == (6.0, -1.0)
    hash(listed)
    with pytest.raises(ValueError, match="batch_size must be at most n_train"):
        dataclasses.replace(ch06.SETTINGS.adding, n_train=8)
    with pytest.raises(ValueError, match="hidden_size"):
        dataclasses.replace(ch06.SETTINGS.lag, hidden_size=10**6)


def test_adding_run_refuses_too_long_a_run_before_training():
    with pytest.raises(ValueError, match=r"steps \* length"):
        ch06.adding_run("rnn", 10**5, lr=0.1, steps=10**6)
    with pytest.raises(ValueError, match="batch_size must be at most n_train"):
        ch06.adding_run("rnn", 5, lr=0.1, steps=1, n_train=4, batch_size=8)
    with pytest.raises((TypeError, ValueError), match="clip"):
        ch06.adding_run("rnn", 5, lr=0.1, steps=1, clip=("norm", "value"))


def test_the_cliff_surface_cannot_be_corrupted():
    cliff = ch06.SETTINGS.cliff
    surface = ch06._cliff_surface(5, cliff.w_grid, cliff.b_grid)
    expected = surface.copy()
    surface[:] = -1.0
    np.testing.assert_array_equal(ch06._cliff_surface(5, cliff.w_grid, cliff.b_grid), expected)
    # nor through a figure: its image holds a copy
    fig = ch06.cliff_figure(1.0, 0.3, steps=3, length=5)
    image = fig.axes[0].images[0].get_array()
    image[:] = 0.0
    again = ch06.cliff_figure(1.0, 0.3, steps=3, length=5).axes[0].images[0].get_array()
    np.testing.assert_array_equal(np.asarray(again), expected)


def test_plot_run_needs_an_axes():
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        ch06.plot_run(None, History(), label="x", color="k")


# ------------------------------------------- chapter 6's comparisons over seeds


@pytest.mark.parametrize("model, clip", [("rnn", ("norm", 0.5)), ("lstm", None)])
def test_adding_runs_member_k_is_adding_run_with_seed_k(model, clip):
    runs = ch06.adding_runs(model, 4, lr=0.1, clip=clip, seeds=(0, 2), steps=6)
    assert runs.seeds == (0, 2) and runs.n_diverged == 0
    for seed, mse, share in zip(runs.seeds, runs.test_mse, runs.clipped_share):
        alone = ch06.adding_run(model, 4, lr=0.1, clip=clip, steps=6, seed=seed)
        assert mse == pytest.approx(alone.test_mse, rel=1e-4)
        if clip is None:
            assert share is None
        else:
            assert share == np.mean(np.array(alone.history.grad_norms) > clip[1])
    assert runs.scored.tolist() == pytest.approx(runs.test_mse)


def test_adding_runs_scores_a_diverged_run_as_the_one_value_error():
    runs = ch06.adding_runs("rnn", 10, lr=30.0, seeds=(0, 1), steps=40)
    assert runs.n_diverged == 2 and runs.test_mse == [None, None]
    assert runs.scored.tolist() == [ch06.ADDING_BASELINE] * 2
    assert runs.n_learned == 0


def test_growth_rates_are_the_growth_rate_of_each_seeds_profile():
    rates = ch06.growth_rates(1.5, "linear", seeds=(0, 1))
    for seed, rate in zip((0, 1), rates):
        assert rate == ch06.growth_rate(ch06.lag_profile(1.5, "linear", seed=seed))
