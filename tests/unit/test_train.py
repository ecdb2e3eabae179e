"""gradbook.train: the training loop learns, records what it promises, respects
frozen layers, is reproducible, checks its arguments; progress-bar logic;
evaluate."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from gradbook.diagnostics import relative_weight_change, snapshot
from gradbook.models.mlp import linear_layers, mlp
from gradbook.train import History, evaluate, set_threads, show_progress, train


@pytest.fixture(scope="module")
def small(digits_split):
    """600 training and 200 test digits: enough to learn, quick to train."""
    X_tr, X_te, y_tr, y_te = digits_split
    return X_tr[:600], y_tr[:600], X_te[:200], y_te[:200]


def test_train_lowers_the_loss_on_digits(small):
    X, y, X_te, y_te = small
    net = mlp([64, 30, 10], seed=0)
    h = train(net, X, y, epochs=5, lr=0.5, batch_size=20, X_test=X_te, y_test=y_te)
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    assert h.test_loss[-1] < h.test_loss[0]
    assert h.train_acc[-1] > 0.8 and h.test_acc[-1] > 0.75
    assert h.train_acc[0] < 0.3  # a random net is near chance
    assert h.seconds > 0


def test_history_lengths_include_epoch_zero(small):
    X, y, X_te, y_te = small
    h = train(mlp([64, 10, 10]), X, y, epochs=3, batch_size=50, X_test=X_te, y_test=y_te)
    assert h.epoch == [0, 1, 2, 3]
    for name in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert len(getattr(h, name)) == 4
    assert len(h.step_loss) == 3 * math.ceil(600 / 50)
    assert h.diag_epoch == [] and h.bias_grad == [] and h.weight_change == [] and h.saturated == []


def test_history_first_record_is_the_untrained_net(small):
    X, y, X_te, y_te = small
    net = mlp([64, 10, 10], seed=4)
    before = evaluate(net, X, y)
    before_test = evaluate(net, X_te, y_te)
    h = train(net, X, y, epochs=1, X_test=X_te, y_test=y_te)
    assert (h.train_loss[0], h.train_acc[0]) == before
    assert (h.test_loss[0], h.test_acc[0]) == before_test
    assert (h.train_loss[-1], h.train_acc[-1]) == evaluate(net, X, y)


def test_zero_epochs_records_only_the_start(small):
    X, y, _, _ = small
    net = mlp([64, 10, 10])
    w = net[0].weight.detach().clone()
    h = train(net, X, y, epochs=0)
    assert h.epoch == [0] and h.step_loss == []
    assert torch.equal(net[0].weight, w)


def test_no_test_data_leaves_test_fields_empty(small):
    X, y, _, _ = small
    h = train(mlp([64, 10, 10]), X, y, epochs=1)
    assert h.test_loss == [] and h.test_acc == []
    assert list(h.to_frame().columns) == ["epoch", "train_loss", "train_acc"]


def test_diagnostics_every(small):
    X, y, X_te, y_te = small
    net = mlp([64, 12, 11, 10], seed=0)
    h = train(net, X, y, epochs=5, batch_size=50, X_test=X_te, y_test=y_te, diagnostics_every=2)
    assert h.diag_epoch == [0, 2, 4]
    assert len(h.bias_grad) == len(h.weight_change) == len(h.saturated) == 3
    assert all(len(r) == 2 for r in h.bias_grad)  # hidden layers
    assert all(len(r) == 3 for r in h.weight_change)  # every linear layer
    assert all(len(r) == 2 for r in h.saturated)
    assert h.weight_change[0] == [0.0, 0.0, 0.0]
    assert all(v > 0 for v in h.weight_change[-1])
    assert all(0 <= v <= 1 for r in h.saturated for v in r)


def test_diagnostics_default_to_the_first_1000_training_samples(digits_split):
    from gradbook.diagnostics import bias_gradient_norms

    X, _, y, _ = digits_split
    net = mlp([64, 8, 10], seed=0)
    expected = bias_gradient_norms(net, X[:1000], y[:1000])
    h = train(net, X, y, epochs=0, diagnostics_every=1)
    assert h.bias_grad == [expected]


def test_diagnostics_data_and_loss_are_used(small):
    from gradbook.diagnostics import bias_gradient_norms

    X, y, X_te, y_te = small
    net = mlp([64, 8, 10], seed=0)
    expected = bias_gradient_norms(net, X_te, y_te, loss="sigmoid")
    h = train(net, X, y, epochs=0, loss="sigmoid", diagnostics_every=1,
              diagnostics_data=(X_te, y_te))
    assert h.bias_grad == [expected]


def test_to_frame_columns(small):
    X, y, X_te, y_te = small
    h = train(mlp([64, 12, 11, 10]), X, y, epochs=3, batch_size=50, X_test=X_te, y_test=y_te,
              diagnostics_every=2)
    frame = h.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [
        "epoch", "train_loss", "train_acc", "test_loss", "test_acc",
        "bias_grad_1", "bias_grad_2",
        "weight_change_1", "weight_change_2", "weight_change_3",
        "saturated_1", "saturated_2",
    ]
    assert frame["epoch"].tolist() == [0, 1, 2, 3]
    assert frame["train_loss"].tolist() == h.train_loss
    # diagnostics only at epochs 0 and 2; the other rows are missing values
    assert frame["bias_grad_1"].isna().tolist() == [False, True, False, True]
    assert frame.loc[2, "bias_grad_2"] == h.bias_grad[1][1]
    assert frame.loc[2, "weight_change_3"] == h.weight_change[1][2]


def test_frozen_layers_do_not_move(small):
    X, y, _, _ = small
    net = mlp([64, 12, 11, 10], seed=0)
    layers = linear_layers(net)
    layers[0].requires_grad_(False)
    frozen = [layers[0].weight.detach().clone(), layers[0].bias.detach().clone()]
    ref = snapshot(net)
    h = train(net, X, y, epochs=2, lr=0.5, momentum=0.5, weight_decay=1e-3,
              diagnostics_every=1)
    assert torch.equal(layers[0].weight, frozen[0])
    assert torch.equal(layers[0].bias, frozen[1])
    change = relative_weight_change(net, ref)
    assert change[0] == 0.0 and change[1] > 0 and change[2] > 0
    assert [r[0] for r in h.weight_change] == [0.0, 0.0, 0.0]
    assert not layers[0].weight.requires_grad  # still frozen afterwards
    assert all(v > 0 for v in h.bias_grad[-1])  # measured although frozen


def test_same_seed_same_result_bit_for_bit(small):
    X, y, X_te, y_te = small

    def run(seed):
        net = mlp([64, 10, 10], seed=1)
        h = train(net, X, y, epochs=2, lr=0.3, momentum=0.9, batch_size=32, seed=seed,
                  X_test=X_te, y_test=y_te, diagnostics_every=1)
        return h, net

    (a, net_a), (b, net_b), (c, _) = run(7), run(7), run(8)
    assert a.step_loss == b.step_loss
    assert a.train_loss == b.train_loss and a.test_acc == b.test_acc
    assert a.bias_grad == b.bias_grad and a.weight_change == b.weight_change
    for p, q in zip(net_a.parameters(), net_b.parameters()):
        assert torch.equal(p, q)
    assert a.step_loss != c.step_loss  # the seed orders the mini-batches


def test_training_does_not_depend_on_the_global_rng(small):
    X, y, _, _ = small
    torch.manual_seed(0)
    a = train(mlp([64, 10, 10]), X, y, epochs=1, seed=3)
    torch.manual_seed(123)
    b = train(mlp([64, 10, 10]), X, y, epochs=1, seed=3)
    assert a.step_loss == b.step_loss


def test_diagnostics_do_not_change_training(small):
    X, y, _, _ = small
    a = train(mlp([64, 10, 10]), X, y, epochs=2, seed=0)
    b = train(mlp([64, 10, 10]), X, y, epochs=2, seed=0, diagnostics_every=1)
    assert a.step_loss == b.step_loss


def test_accepts_numpy_input(small):
    X, y, _, _ = small
    a = train(mlp([64, 10, 10]), X.numpy().astype(np.float64), y.numpy(), epochs=1)
    b = train(mlp([64, 10, 10]), X, y, epochs=1)
    assert a.step_loss == b.step_loss


def test_sigmoid_loss_trains(small):
    X, y, _, _ = small
    h = train(mlp([64, 30, 10]), X, y, epochs=3, lr=0.5, loss="sigmoid")
    assert h.train_loss[-1] < h.train_loss[0]


def test_callback_is_called_after_every_record(small):
    X, y, _, _ = small
    net = mlp([64, 10, 10])
    seen = []

    def callback(epoch, model):
        assert model is net
        seen.append((epoch, float(model[0].weight.detach().sum())))

    h = train(net, X, y, epochs=3, batch_size=100, callback=callback)
    assert [e for e, _ in seen] == [0, 1, 2, 3]
    assert len({w for _, w in seen}) == 4  # called on the net as trained so far
    assert h.epoch == [0, 1, 2, 3]


def test_callback_does_not_change_training(small):
    X, y, _, _ = small
    a = train(mlp([64, 10, 10]), X, y, epochs=2, seed=0)
    b = train(mlp([64, 10, 10]), X, y, epochs=2, seed=0, callback=lambda e, m: None)
    assert a.step_loss == b.step_loss


def test_callback_must_be_callable(small):
    X, y, _, _ = small
    with pytest.raises(TypeError, match="callback must be (a )?callable"):
        train(mlp([64, 10, 10]), X, y, epochs=1, callback="print")


# ----------------------------------------------------------------- bad input


def _bad(**overrides):
    gen = torch.Generator().manual_seed(0)
    args = dict(X=torch.rand(20, 4, generator=gen), y=torch.arange(20) % 3)
    args.update(overrides)
    X, y = args.pop("X"), args.pop("y")
    return X, y, args


@pytest.mark.parametrize(
    "overrides, exc, message",
    [
        (dict(lr=0), ValueError, "lr must be a finite number > 0"),
        (dict(lr=-0.1), ValueError, "lr"),
        (dict(lr=float("inf")), ValueError, "lr"),
        (dict(lr="0.1"), TypeError, "lr"),
        (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1"),
        (dict(batch_size=2.0), TypeError, "batch_size"),
        (dict(momentum=1), ValueError, r"momentum must (be a finite number >= 0 and < 1|lie in \[0, 1\))"),
        (dict(momentum=-0.5), ValueError, "momentum"),
        (dict(weight_decay=-1e-3), ValueError, "weight_decay"),
        (dict(epochs=-1), ValueError, "epochs must be an integer (from 0 to 10,000,000|>= 0)"),
        (dict(epochs=1.5), TypeError, "epochs"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(loss="mse"), ValueError, "loss must be one of"),
        (dict(diagnostics_every=0), ValueError, "diagnostics_every"),
        (dict(progress="yes"), ValueError, "progress must be True.*'auto'"),
        (dict(X_test=torch.rand(5, 4)), ValueError, "give both X_test and y_test"),
        (dict(y_test=torch.zeros(5, dtype=torch.int64)), ValueError, "give both X_test and y_test"),
        (dict(X_test=torch.rand(5, 3), y_test=torch.zeros(5, dtype=torch.int64)), ValueError,
         "X_test must have 4 features"),
        (dict(X_test=torch.rand(5, 4), y_test=torch.zeros(4, dtype=torch.int64)), ValueError,
         "y_test has 4 labels but X has 5"),
        (dict(X_test=torch.rand(5, 4), y_test=torch.full((5,), 3)), ValueError,
         "y_test holds label 3, but the model has only 3 outputs"),
        (dict(y=torch.arange(20) % 4), ValueError, "y holds label 3, but the model has only 3 outputs"),
        (dict(y=torch.arange(20) - 1), ValueError, "labels >= 0"),
        (dict(y=torch.zeros(19, dtype=torch.int64)), ValueError, "19 labels but X has 20"),
        (dict(X=torch.rand(20, 5)), ValueError, "X must have 4 features"),
        (dict(X=torch.rand(20)), ValueError, "X must be (a )?2-D"),
        (dict(X=torch.rand(0, 4), y=torch.zeros(0, dtype=torch.int64)), ValueError, "X (must be .* got 0 entries|is empty)"),
        (dict(X=torch.where(torch.arange(80).reshape(20, 4) == 5, float("nan"), 0.5)),
         ValueError, "X contains (1 )?NaN"),
        (dict(diagnostics_every=1, diagnostics_data=(torch.rand(5, 2), torch.zeros(5, dtype=torch.int64))),
         ValueError, "diagnostics_data X must have 4 features"),
    ],
)
def test_bad_arguments(overrides, exc, message):
    X, y, kwargs = _bad(**overrides)
    net = mlp([4, 5, 3])
    w = net[0].weight.detach().clone()
    kwargs.setdefault("epochs", 1)
    with pytest.raises(exc, match=message):
        train(net, X, y, **kwargs)
    assert torch.equal(net[0].weight, w)  # nothing was trained


def test_all_parameters_frozen_is_an_error():
    X, y, _ = _bad()
    net = mlp([4, 5, 3])
    net.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameter"):
        train(net, X, y)


def test_model_must_be_a_module():
    X, y, _ = _bad()
    with pytest.raises(TypeError, match="torch.nn.Module"):
        train("net", X, y)


# ------------------------------------------------------------------ progress


def test_show_progress_follows_the_build_variable(monkeypatch):
    monkeypatch.delenv("GRADBOOK_BUILD", raising=False)
    assert show_progress() is True
    assert show_progress("auto") is True
    monkeypatch.setenv("GRADBOOK_BUILD", "")
    assert show_progress() is True
    monkeypatch.setenv("GRADBOOK_BUILD", "0")
    assert show_progress() is True
    monkeypatch.setenv("GRADBOOK_BUILD", "1")
    assert show_progress() is False
    # an explicit choice wins over the variable
    assert show_progress(True) is True
    monkeypatch.setenv("GRADBOOK_BUILD", "0")
    assert show_progress(False) is False


@pytest.mark.parametrize("bad", ["yes", 1, None, "AUTO"])
def test_show_progress_bad_value(bad):
    with pytest.raises(ValueError, match="progress must be True.*'auto'"):
        show_progress(bad)


def test_train_draws_a_bar_only_in_live_use(monkeypatch, capsys):
    X, y, _ = _bad()
    monkeypatch.setenv("GRADBOOK_BUILD", "1")
    train(mlp([4, 5, 3]), X, y, epochs=2)
    assert "training" not in capsys.readouterr().err
    monkeypatch.delenv("GRADBOOK_BUILD")
    train(mlp([4, 5, 3]), X, y, epochs=2)
    assert "training" in capsys.readouterr().err
    train(mlp([4, 5, 3]), X, y, epochs=2, progress=False)
    assert "training" not in capsys.readouterr().err


def test_set_threads():
    before = torch.get_num_threads()
    try:
        set_threads(1)
        assert torch.get_num_threads() == 1
        with pytest.raises(ValueError, match="n must be an integer (from 1 to|>= 1)"):
            set_threads(0)
    finally:
        torch.set_num_threads(before)


# ------------------------------------------------------------------ evaluate


def test_evaluate_loss_and_accuracy(small):
    from gradbook.losses import loss_value

    X, y, _, _ = small
    net = mlp([64, 10, 10], seed=0)
    loss, acc = evaluate(net, X, y)
    with torch.no_grad():
        logits = net(X)
    assert loss == pytest.approx(float(loss_value(logits, y)))
    assert acc == pytest.approx(float((logits.argmax(1) == y).double().mean()))
    sig_loss, sig_acc = evaluate(net, X, y, loss="sigmoid")
    assert sig_loss == pytest.approx(float(loss_value(logits, y, "sigmoid")))
    assert sig_acc == acc


def test_evaluate_perfect_and_wrong():
    net = mlp([2, 2])
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2) * 10)
        net[0].bias.zero_()
    X = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert evaluate(net, X, torch.tensor([0, 1]))[1] == 1.0
    assert evaluate(net, X, torch.tensor([1, 0]))[1] == 0.0
    assert evaluate(net, X, torch.tensor([0, 0]))[1] == 0.5


def test_evaluate_restores_the_mode_and_leaves_no_graph():
    net = mlp([3, 4, 2])
    X, y = torch.rand(5, 3), torch.tensor([0, 1, 0, 1, 1])
    net.train()
    evaluate(net, X, y)
    assert net.training
    net.eval()
    evaluate(net, X, y)
    assert not net.training
    assert all(p.grad is None for p in net.parameters())


def test_evaluate_checks_input():
    net = mlp([3, 4, 2])
    with pytest.raises(ValueError, match="3 features"):
        evaluate(net, torch.rand(5, 2), torch.zeros(5, dtype=torch.int64))
    with pytest.raises(ValueError, match="only 2 outputs"):
        evaluate(net, torch.rand(5, 3), torch.full((5,), 2))


def test_history_defaults():
    h = History()
    assert h.epoch == [] and h.seconds == 0.0
    assert list(h.to_frame().columns) == ["epoch", "train_loss", "train_acc"]


def test_record_every_thins_the_records_not_the_training(small):
    X, y, X_te, y_te = small
    kw = dict(epochs=7, lr=0.5, batch_size=32, seed=1, X_test=X_te, y_test=y_te)
    every = train(mlp([64, 16, 10], seed=0), X, y, **kw)
    thin = train(mlp([64, 16, 10], seed=0), X, y, record_every=3, **kw)
    assert thin.epoch == [0, 3, 6, 7]  # the start, every third epoch, the last
    assert thin.step_loss == every.step_loss
    assert thin.test_acc == [every.test_acc[e] for e in thin.epoch]
    with pytest.raises(TypeError, match="record_every must be an integer"):
        train(mlp([64, 16, 10]), X, y, record_every=1.5)


def test_evaluate_reads_sizes_from_an_unflatten_first_layer(small):
    from torch import nn

    X, y, _, _ = small
    net = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 2, 3), nn.Flatten(),
                        nn.Linear(72, 10))
    loss, acc = evaluate(net, X, y)
    assert math.isfinite(loss) and 0 <= acc <= 1
    with pytest.raises(ValueError, match="X must have 64 features"):
        evaluate(net, X[:, :60], y)


# ------------------------------------------------- one loop for every net


def _all_finite(history: History) -> bool:
    """Every number the history holds is finite."""
    values: list[float] = list(history.train_loss + history.train_acc + history.test_loss + history.test_acc
                               + history.step_loss + history.grad_norms)
    for rows in (history.bias_grad, history.weight_change, history.saturated):
        values += [v for row in rows for v in row]
    return all(math.isfinite(v) for v in values)


def _mlp():
    return mlp([64, 16, 10], seed=0)


def _cnn():
    from gradbook.models.cnn import small_cnn

    return small_cnn(channels=4, seed=0)


@pytest.mark.parametrize("make", [_mlp, _cnn], ids=["mlp", "cnn"])
@pytest.mark.parametrize("clip", [("norm", 1.0), ("value", 0.05)], ids=["norm", "value"])
def test_train_clips_feed_forward_nets(small, make, clip):
    X, y, X_te, y_te = small
    h = train(make(), X, y, epochs=3, lr=0.3, batch_size=32, momentum=0.5, clip=clip, X_test=X_te, y_test=y_te)
    assert h.train_loss[-1] < 0.7 * h.train_loss[0] and h.test_acc[-1] > h.test_acc[0]
    # clipping measures the norm before clipping at every update
    assert h.steps == len(h.step_loss) == len(h.grad_norms) == 3 * math.ceil(600 / 32)
    assert not h.diverged and _all_finite(h) and all(v > 0 for v in h.grad_norms)


@pytest.mark.parametrize("clip", [("norm", 1.0), ("value", 0.05)], ids=["norm", "value"])
def test_train_clips_a_recurrent_net_on_the_adding_problem(clip):
    from gradbook.data import adding_problem
    from gradbook.models.rnn import VanillaRNN, task_loss

    x, y = adding_problem(256, 10, seed=0)
    x_te, y_te = adding_problem(128, 10, seed=1)
    net = VanillaRNN(2, 16, 1, "tanh", seed=0)
    h = train(net, x, y, steps=150, lr=0.1, batch_size=32, momentum=0.9, clip=clip, X_test=x_te, y_test=y_te)
    assert h.epoch == [0, 150] and h.train_acc == [] and h.test_acc == []  # "mse": no accuracy
    assert h.train_loss[-1] < 0.5 * h.train_loss[0] and h.test_loss[-1] < h.test_loss[0]
    assert h.test_loss[-1] == pytest.approx(task_loss(net, x_te, y_te))
    assert h.steps == len(h.step_loss) == len(h.grad_norms) == 150 and _all_finite(h)
    assert list(h.to_frame().columns) == ["epoch", "train_loss", "test_loss"]


def test_a_norm_clipped_update_moves_the_weights_at_most_lr_times_the_threshold(small):
    X, y, _, _ = small
    net = mlp([64, 16, 10], seed=0)
    before = torch.cat([p.detach().flatten().clone() for p in net.parameters()])
    h = train(net, X, y, steps=1, lr=10.0, batch_size=100, clip=("norm", 0.01))
    after = torch.cat([p.detach().flatten() for p in net.parameters()])
    assert h.grad_norms[0] > 0.01  # the clip acted
    assert float((after - before).norm()) <= 10.0 * 0.01 * (1 + 1e-5)


def test_the_clip_is_the_books_clip_by_global_norm(small, monkeypatch):
    import gradbook.train as gb_train

    X, y, _, _ = small
    calls = []
    original = gb_train.clip_by_global_norm

    def spy(grads, max_norm):
        calls.append(max_norm)
        return original(grads, max_norm)

    monkeypatch.setattr(gb_train, "clip_by_global_norm", spy)
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", None)  # not torch's
    h = train(mlp([64, 8, 10]), X, y, steps=3, batch_size=20, clip=("norm", 0.5))
    assert calls == [0.5] * 3 and h.steps == 3


def test_a_diverging_run_stops_before_the_bad_update_and_records_no_nan(small):
    X, y, X_te, y_te = small
    net = mlp([64, 30, 30, 10], activation="relu", init="he", seed=0)
    h = train(net, X, y, epochs=3, lr=1e6, momentum=0.9, batch_size=20, X_test=X_te, y_test=y_te,
              diagnostics_every=1)
    assert h.diverged and h.diverged_at is not None and h.diverged_at < 3 * 30
    assert h.steps == h.diverged_at == len(h.step_loss)
    assert "nan" in h.reason.lower() or "inf" in h.reason.lower()
    assert f"step {h.diverged_at}" in h.reason
    assert _all_finite(h)
    assert len(h.epoch) == len(h.train_loss) == len(h.test_acc)  # complete records only
    # step mode, with the default max_loss of 1e6
    net = mlp([64, 30, 30, 10], activation="relu", init="he", seed=0)
    s = train(net, X, y, steps=50, lr=1e6, momentum=0.9, batch_size=20)
    assert s.diverged and s.steps == s.diverged_at < 50 and s.reason and _all_finite(s)
    assert len(s.grad_norms) == s.steps


def test_a_net_that_turns_nan_stops_at_its_next_batch(small):
    X, y, _, _ = small
    net = mlp([64, 8, 10], seed=0)

    def poison(epoch, model):
        if epoch == 1:
            with torch.no_grad():
                model[0].weight.fill_(float("nan"))  # the next record (and batch) is NaN

    h = train(net, X, y, epochs=3, batch_size=100, callback=poison)
    assert h.diverged and h.epoch == [0, 1] and h.steps == h.diverged_at == 6 and _all_finite(h)
    assert "loss" in h.reason


def test_max_loss_stops_epoch_mode_too(small):
    X, y, _, _ = small
    h = train(mlp([64, 8, 10]), X, y, epochs=2, max_loss=1e-3)
    assert h.diverged and h.diverged_at == 0 and h.steps == 0 and h.epoch == [0]
    assert "max_loss" in h.reason


def _old_step_loop(model, x, y, *, steps, lr, batch_size, momentum, seed):
    """The loop gradbook.train.train_rnn ran (unclipped), written out by hand."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.SGD(params, lr=lr, momentum=momentum)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for _ in range(steps):
        idx = torch.randperm(x.shape[0], generator=gen)[:batch_size]
        optimiser.zero_grad(set_to_none=True)
        value = ((model.last_output(x[idx]) - y[idx]) ** 2).sum(1).mean()
        losses.append(value.item())
        value.backward()
        optimiser.step()
    return losses


def test_step_mode_reproduces_the_old_recurrent_loop():
    from gradbook.data import adding_problem
    from gradbook.models.rnn import LSTMNet, VanillaRNN

    x, y = adding_problem(200, 12, seed=3)
    for make in (lambda: VanillaRNN(2, 12, 1, "tanh", seed=1), lambda: LSTMNet(2, 6, 1, seed=1)):
        a, b = make(), make()
        expected = _old_step_loop(a, x, y, steps=40, lr=0.1, batch_size=25, momentum=0.9, seed=5)
        h = train(b, x, y, steps=40, lr=0.1, batch_size=25, momentum=0.9, seed=5)
        assert h.step_loss == expected  # bit for bit
        for p, q in zip(a.parameters(), b.parameters()):
            assert torch.equal(p, q)


def test_epoch_mode_reproduces_the_plain_epoch_loop(small):
    X, y, _, _ = small
    a, b = mlp([64, 12, 10], seed=2), mlp([64, 12, 10], seed=2)
    optimiser = torch.optim.SGD(a.parameters(), lr=0.2, momentum=0.5, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(4)
    expected = []
    a.train()
    for _ in range(2):
        order = torch.randperm(X.shape[0], generator=gen)
        for i in range(0, X.shape[0], 64):
            idx = order[i:i + 64]
            optimiser.zero_grad(set_to_none=True)
            value = torch.nn.functional.cross_entropy(a(X[idx]), y[idx])
            value.backward()
            optimiser.step()
            expected.append(value.item())
    h = train(b, X, y, epochs=2, lr=0.2, momentum=0.5, weight_decay=1e-4, batch_size=64, seed=4)
    assert h.step_loss == expected and h.steps == len(expected)
    assert h.grad_norms == [] and not h.diverged  # epoch mode measures the norm only to clip
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_step_mode_on_a_feed_forward_net_and_its_records(small):
    X, y, X_te, y_te = small
    seen = []
    h = train(mlp([64, 10, 10]), X, y, steps=25, batch_size=16, record_every=10, X_test=X_te, y_test=y_te,
              diagnostics_every=10, callback=lambda step, model: seen.append(step))
    assert h.epoch == seen == [0, 10, 20, 25] and h.diag_epoch == [0, 10, 20]
    assert h.steps == len(h.step_loss) == len(h.grad_norms) == 25
    assert len(h.test_acc) == 4 and _all_finite(h)
    assert train(mlp([64, 10, 10]), X, y, steps=0).epoch == [0]


def test_neither_epochs_nor_steps_means_ten_epochs(small):
    X, y, _, _ = small
    h = train(mlp([64, 10, 10]), X, y, batch_size=300)
    assert h.epoch == list(range(11)) and h.steps == 20


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        (dict(epochs=2, steps=5), ValueError, "give epochs or steps, not both"),
        (dict(steps=-1), ValueError, "steps must be an integer (from 0 to 10,000,000|>= 0)"),
        (dict(steps=2.5), TypeError, "steps"),
        (dict(steps=5, batch_size=21), ValueError, r"batch_size must be at most the number of training samples \(20\)"),
        (dict(clip=1.0), ValueError, r"clip must be None, \('norm', threshold\) or \('value', threshold\)"),
        (dict(clip=("both", 1.0)), ValueError, "clip\\[0\\] must be one of 'norm', 'value'"),
        (dict(clip=("norm", -1.0)), ValueError, "clip threshold must be a finite number > 0"),
        (dict(clip=("value", float("nan"))), ValueError, "clip threshold"),
        (dict(clip=("norm", "1")), TypeError, "clip threshold"),
        (dict(clip=("norm", 1.0, 2.0)), ValueError, "clip must be None"),
        (dict(max_loss=0.0), ValueError, "max_loss must be a finite number > 0"),
        (dict(max_loss="big"), (TypeError, ValueError), "max_loss"),
    ],
)
def test_bad_loop_arguments(kwargs, exc, message):
    X, y, _ = _bad()
    net = mlp([4, 5, 3])
    w = net[0].weight.detach().clone()
    with pytest.raises(exc, match=message):
        train(net, X, y, **kwargs)
    assert torch.equal(net[0].weight, w)


def test_batch_size_above_n_is_fine_in_epoch_mode():
    X, y, _ = _bad()
    h = train(mlp([4, 5, 3]), X, y, epochs=2, batch_size=50)
    assert h.steps == 2  # one batch of all 20 samples per epoch


def test_history_equality_ignores_the_wall_time():
    assert History(seconds=1.0) == History(seconds=2.0)
    assert History(steps=1) != History(steps=2)


# ------------------------------------------------------------ upper bounds


def test_set_threads_is_bounded_by_the_cpus():
    import os

    before = torch.get_num_threads()
    try:
        for bad in (10**4, (os.cpu_count() or 1) + 1):
            with pytest.raises(ValueError, match="n must be"):
                set_threads(bad)
            assert torch.get_num_threads() == before  # refused before torch saw it
        set_threads(os.cpu_count() or 1)
        assert torch.get_num_threads() == (os.cpu_count() or 1)
    finally:
        torch.set_num_threads(before)


@pytest.mark.timeout(10)
def test_a_run_too_long_to_finish_is_refused_before_it_starts():
    X, y, _ = _bad()
    net = mlp([4, 5, 3])
    w = net[0].weight.detach().clone()
    # 10**6 epochs of 2 batches: 2 * 10**6 updates are allowed, 10**7 epochs are not
    with pytest.raises(ValueError, match="epochs=5,000,001 over 20 samples in batches of 10 would take"):
        train(net, X, y, epochs=5_000_001)
    with pytest.raises(ValueError, match="steps must be (an integer from 0 to|at most) 10,000,000"):
        train(net, X, y, steps=10**8)
    assert torch.equal(net[0].weight, w)


def test_diagnostics_data_is_checked_and_needs_diagnostics_every():
    X, y, _ = _bad()
    with pytest.raises(ValueError, match="diagnostics_data is only used with diagnostics_every"):
        train(mlp([4, 5, 3]), X, y, epochs=1, diagnostics_data=(X, y))
    with pytest.raises(ValueError, match="diagnostics_data y holds label 7, but the model has only 3 outputs"):
        train(mlp([4, 5, 3]), X, y, epochs=1, diagnostics_every=1, diagnostics_data=(X, torch.full((20,), 7)))
    with pytest.raises(TypeError, match="diagnostics_data"):
        train(mlp([4, 5, 3]), X, y, epochs=1, diagnostics_every=1, diagnostics_data=X)


def test_a_divergence_names_the_settings_that_caused_it():
    X, y, _ = _bad()
    h = train(mlp([4, 5, 3], init="standard"), X * 1e3, y, epochs=5, lr=1e6, max_loss=100.0)
    assert h.diverged
    assert "lr=1e+06" in h.reason and "no clipping" in h.reason


@pytest.mark.parametrize("grads", [None, 3, "ab", [], [torch.ones(2), None], [torch.tensor([float("nan")])]])
def test_clipping_functions_check_their_gradients(grads):
    from gradbook.train import clip_by_global_norm, clip_by_value, global_norm

    for call in (lambda: global_norm(grads), lambda: clip_by_global_norm(grads, 1.0),
                 lambda: clip_by_value(grads, 1.0)):
        with pytest.raises((TypeError, ValueError), match="grads"):
            call()
