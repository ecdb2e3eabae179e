"""gradbook.models.mlp (dropout, batch norm, residual nets) and gradbook.chapters.ch04_relu_dropout: the nets, dropout, the gradient profile and chapter 4's
runs, with tiny settings (the qualitative results are in tests/claims/)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from gradbook import data as gb_data
from gradbook.chapters import ch03_pretraining as ch03
from gradbook.chapters import ch04_relu_dropout as ch04
from gradbook.diagnostics import bias_gradient_norms, weight_gradient_norms, weight_gradient_norms_training
from gradbook.models.mlp import (
    InvertedDropout,
    ResidualMLP,
    batchnorm_mlp,
    count_parameters,
    dropout_mlp,
    hidden_layers,
    inverted_dropout,
    linear_layers,
    mlp,
)


@pytest.fixture
def tiny(monkeypatch):
    """Shrink chapter 4's SETTINGS so that every run takes milliseconds; the
    memoised runs are forgotten before and after."""
    monkeypatch.setattr(ch04, "SETTINGS", ch04.ReluDropoutSettings(
        deep=dataclasses.replace(ch04.SETTINGS.deep, depth=3, width=8, epochs=2, seeds=(0,),
                                 diagnostic_samples=100),
        wide=dataclasses.replace(ch04.SETTINGS.wide, width=8, updates=6, seeds=(0,))))
    ch04.clear_cache()
    yield
    ch04.clear_cache()


# ------------------------------------------------------------------ dropout


def test_inverted_dropout_keeps_the_expectation():
    h = torch.ones(200_000)
    gen = torch.Generator().manual_seed(0)
    out = inverted_dropout(h, 0.3, gen)
    dropped = float((out == 0).float().mean())
    assert dropped == pytest.approx(0.3, abs=0.005)
    survivors = out[out != 0]
    torch.testing.assert_close(survivors, torch.full_like(survivors, 1 / 0.7))
    assert float(out.mean()) == pytest.approx(1.0, abs=0.01)


def test_inverted_dropout_zero_rate_and_determinism():
    h = torch.randn(5, 7)
    assert inverted_dropout(h, 0.0) is h
    a = inverted_dropout(h, 0.5, torch.Generator().manual_seed(3))
    b = inverted_dropout(h, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert a.shape == h.shape


@pytest.mark.parametrize(
    "args, exc, message",
    [
        ((np.ones(3), 0.5), TypeError, "torch.Tensor"),
        ((torch.ones(3), 1.0), ValueError, r"p must lie in \[0, 1\)"),
        ((torch.tensor([0.5, float("nan")]), 0.5), ValueError, "h contains NaN"),
        ((torch.tensor([float("inf")]), 0.0), ValueError, "h contains NaN or infinite"),
        ((torch.ones(3), 0.5, "seed"), TypeError, "generator must be a torch.Generator"),
        ((torch.ones(3), -0.1), ValueError, "p must be a finite number"),
    ],
)
def test_inverted_dropout_bad_input(args, exc, message):
    with pytest.raises(exc, match=message):
        inverted_dropout(*args)


def test_inverted_dropout_layer_is_identity_in_eval_mode():
    layer = InvertedDropout(0.5, seed=1)
    h = torch.randn(4, 6)
    layer.eval()
    assert torch.equal(layer(h), h)
    layer.train()
    out = layer(h)
    assert ((out == 0) | torch.isclose(out, 2 * h)).all()
    assert "p=0.5" in repr(layer)
    with pytest.raises(ValueError, match="p must be a finite number >= 0 and < 1"):
        InvertedDropout(1.5)


def test_dropout_mlp_structure_and_same_weights_as_mlp():
    net = dropout_mlp([64, 20, 20, 10], 0.5, seed=2)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "ReLU", "InvertedDropout", "Linear", "ReLU", "InvertedDropout",
                     "Linear"]
    plain = mlp([64, 20, 20, 10], "relu", "he", seed=2)
    for a, b in zip(linear_layers(net), linear_layers(plain)):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    net.eval()
    x = torch.rand(3, 64)
    torch.testing.assert_close(net(x), plain(x))


@pytest.mark.parametrize(
    "sizes, p, exc, message",
    [
        ([64, 10], 0.5, ValueError, "sizes must be a list or tuple of 3 to"),
        ("64,10", 0.5, TypeError, "sizes must be a list or tuple"),
        ([64, 0, 10], 0.5, ValueError, r"sizes\[1\]"),
        ([64, 8, 10], 1.0, ValueError, "p must be a finite number >= 0 and < 1"),
    ],
)
def test_dropout_mlp_bad_input(sizes, p, exc, message):
    with pytest.raises(exc, match=message):
        dropout_mlp(sizes, p)


# --------------------------------------------------------- the deep variants


def test_batchnorm_mlp_normalises_and_kills_the_bias_gradient(digits_split):
    X, _, y, _ = digits_split
    net = batchnorm_mlp([64, 16, 16, 10], seed=0)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "BatchNorm1d", "Sigmoid", "Linear", "BatchNorm1d", "Sigmoid",
                     "Linear"]
    net.train()
    z = net[1](net[0](X[:200]))
    torch.testing.assert_close(z.mean(0), torch.zeros(16), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(0, unbiased=False), torch.ones(16), atol=1e-3, rtol=0)
    # the normalisation removes the linear layer's bias: no gradient reaches it
    assert max(bias_gradient_norms(net, X[:200], y[:200])) < 1e-5


def test_residual_mlp_forward_matches_the_formula():
    net = ResidualMLP(64, 12, 3, 10, activation="tanh", init=0.3, seed=4)
    assert len(linear_layers(net)) == 4 and len(hidden_layers(net)) == 3
    x = torch.rand(5, 64)
    W = linear_layers(net)
    h = torch.tanh(W[0](x))
    h = h + torch.tanh(W[1](h))
    h = h + torch.tanh(W[2](h))
    torch.testing.assert_close(net(x), W[3](h))


def test_residual_mlp_one_layer_and_bad_input():
    net = ResidualMLP(64, 5, 1, 10)
    assert net(torch.rand(2, 64)).shape == (2, 10)
    with pytest.raises(ValueError, match="depth"):
        ResidualMLP(64, 5, 0, 10)
    with pytest.raises(ValueError, match="activation"):
        ResidualMLP(64, 5, 2, 10, activation="elu")
    with pytest.raises(ValueError, match="init"):
        ResidualMLP(64, 5, 2, 10, init=-1.0)


@pytest.mark.parametrize("variant", ch04.VARIANTS)
def test_deep_net_variants(variant):
    net = ch04.deep_net(variant, depth=3, width=6, seed=1)
    assert len(hidden_layers(net)) == 3
    assert net(torch.rand(4, 64)).shape == (4, 10)
    again = ch04.deep_net(variant, depth=3, width=6, seed=1)
    for a, b in zip(linear_layers(net), linear_layers(again)):
        assert torch.equal(a.weight, b.weight)


def test_deep_net_initialisations():
    sig = ch04.deep_net("sigmoid", depth=2, width=400, seed=0)
    assert float(linear_layers(sig)[1].weight.detach().std()) == pytest.approx(ch04.SETTINGS.deep.small_init, rel=0.02)
    he = ch04.deep_net("ReLU + He", depth=2, width=400, seed=0)
    assert float(linear_layers(he)[1].weight.detach().std()) == pytest.approx((2 / 400) ** 0.5, rel=0.02)
    assert isinstance(ch04.deep_net("residual", 2, 4), ResidualMLP)
    assert any(isinstance(m, nn.BatchNorm1d) for m in ch04.deep_net("batch norm", 2, 4).modules())


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(variant="elu"), "variant"), (dict(variant="residual", depth=0), "depth"),
     (dict(variant="residual", width=0), "width"), (dict(variant="residual", seed=-1), "seed")],
)
def test_deep_net_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ch04.deep_net(**kwargs)


def test_parameter_count():
    assert count_parameters(mlp([64, 30, 10])) == 64 * 30 + 30 + 30 * 10 + 10
    # batch norm adds a scale and a shift per unit
    assert count_parameters(batchnorm_mlp([64, 30, 10])) == 2260 + 60
    with pytest.raises(TypeError, match="torch.nn.Module"):
        count_parameters("net")


def test_gradient_profile_plain_net_matches_diagnostics(digits_split):
    X, _, y, _ = digits_split
    net = mlp([64, 10, 10, 10], "tanh", "xavier", seed=0)
    net.eval()
    got = weight_gradient_norms_training(net, X[:100], y[:100])
    np.testing.assert_allclose(got, weight_gradient_norms(net, X[:100], y[:100]), rtol=1e-6)
    assert not net.training  # the mode is restored


def test_gradient_profile_leaves_batch_norm_running_stats_alone(digits_split):
    X, _, y, _ = digits_split
    net = batchnorm_mlp([64, 8, 8, 10], seed=0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    norms = weight_gradient_norms_training(net, X[:100], y[:100])
    assert len(norms) == 2 and all(n > 0 for n in norms)
    for k, v in net.state_dict().items():
        if "num_batches" not in k:
            assert torch.equal(v, before[k]), k
    assert all(m.momentum == 0.1 for m in net.modules() if isinstance(m, nn.BatchNorm1d))
    assert all(p.grad is None for p in net.parameters())
    with pytest.raises(TypeError, match="torch.nn.Module"):
        weight_gradient_norms_training(None, X, y)


def test_residual_skips_carry_the_gradient(digits_split):
    """Maths check: with the same small sigmoid weights, the skips keep the
    first layer's gradient within a small factor of the last's."""
    X, _, y, _ = digits_split
    plain = weight_gradient_norms_training(ch04.deep_net("sigmoid", 6, 16), X[:300], y[:300])
    skips = weight_gradient_norms_training(ch04.deep_net("residual", 6, 16), X[:300], y[:300])
    assert plain[-1] / plain[0] > 100 * (skips[-1] / skips[0])


# ------------------------------------------------------------------ runs


def test_fix_run_records_and_is_memoised(tiny):
    run = ch04.fix_run("ReLU + He")
    assert run.profile_epochs == (0, 1, 2)
    assert run.profiles.shape == (3, 3)  # epochs 0, 1, 2; 3 hidden layers
    assert run.history.epoch == [0, 1, 2] and len(run.history.test_acc) == 3
    np.testing.assert_array_equal(run.profile_at(2), run.profiles[2])
    with pytest.raises(ValueError, match="profiled epochs"):
        run.profile_at(5)
    np.testing.assert_allclose(run.ratio, run.profiles[:, -1] / run.profiles[:, 0])
    assert run.parameters == count_parameters(ch04.deep_net("ReLU + He"))
    again = ch04.fix_run("ReLU + He")  # memoised: an equal copy
    assert again is not run and again.history.test_acc == run.history.test_acc
    assert np.array_equal(again.profiles, run.profiles)
    # the first profile is the initial net's
    net = ch04.deep_net("ReLU + He")
    X, _, y, _ = gb_data.digits_split()
    np.testing.assert_allclose(run.profiles[0], weight_gradient_norms_training(net, X[:100], y[:100]),
                               rtol=1e-5)


def test_profile_epochs_are_a_subset():
    assert ch04._profile_epochs(12) == (0, 1, 4, 12)
    assert ch04._profile_epochs(6) == (0, 1, 4, 6)
    assert ch04._profile_epochs(1) == (0, 1)


def test_fix_run_is_deterministic(tiny):
    a = ch04.fix_run("batch norm").history.train_loss
    ch04.clear_cache()
    b = ch04.fix_run("batch norm").history.train_loss
    assert a == b


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(variant="elu"), "variant"), (dict(variant="residual", epochs=0), "epochs"),
     (dict(variant="residual", lr=0.0), "lr"), (dict(variant="residual", seed=-2), "seed")],
)
def test_fix_run_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ch04.fix_run(**kwargs)


def test_fix_comparison_columns(tiny):
    table = ch04.fix_comparison(("sigmoid", "residual"))
    assert list(table["variant"]) == ["sigmoid", "residual"]
    for column in ("test accuracy", "train accuracy", "epoch to 50%", "ratio at init",
                   "ratio early", "first-layer grad at init", "parameters"):
        assert column in table.columns
    assert table["ratio at init"].gt(0).all()
    with pytest.raises(ValueError, match="seeds must be a list or tuple of 1 to 1000"):
        ch04.fix_comparison(seeds=())


def test_wide_run_and_its_options(tiny):
    run = ch04.wide_run(20)
    assert run.steps_per_epoch == 1 and run.history.epoch[-1] == 6
    assert run.parameters == 64 * 8 + 8 + 8 * 8 + 8 + 8 * 10 + 10
    assert run.gap == pytest.approx(run.history.train_acc[-1] - run.history.test_acc[-1])
    again = ch04.wide_run(20)  # memoised: an equal copy
    assert again is not run and again.history.step_loss == run.history.step_loss
    shuffled = ch04.wide_run(20, random_labels=True)
    assert shuffled is not run
    dropped = ch04.wide_run(20, dropout=0.5, weight_decay=0.01)
    assert dropped.history.train_loss != run.history.train_loss


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        (dict(n_labels=0), ValueError, "n_labels"),
        (dict(n_labels=2000), ValueError, "n_labels must be an integer from 1 to 1,438"),
        (dict(n_labels=20, dropout=1.0), ValueError, "dropout"),
        (dict(n_labels=20, weight_decay=-1.0), ValueError, "weight_decay"),
        (dict(n_labels=20, random_labels=1), TypeError, "random_labels"),
        (dict(n_labels=20, updates=0), ValueError, "updates"),
    ],
)
def test_wide_run_bad_input(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        ch04.wide_run(**kwargs)


def test_dropout_grid_width_sweep_regularisation(tiny):
    grid = ch04.dropout_grid(rates=(0.0, 0.5), labels=(20, 40))
    assert len(grid) == 4 and set(grid["dropout"]) == {0.0, 0.5}
    # one row per seed; each seed draws its own label subset, so the seeds differ
    two = ch04.dropout_grid(rates=(0.0,), labels=(20,), seeds=(0, 1))
    assert list(two["seed"]) == [0, 1]
    assert two.loc[0, "train accuracy"] != two.loc[1, "train accuracy"] or \
        two.loc[0, "test accuracy"] != two.loc[1, "test accuracy"]
    # a seed's run is the same trained alone or among others (member k = single net k)
    alone = ch04.wide_runs(20, seeds=(1,))[0].history
    assert alone.test_acc == ch04.wide_runs(20, seeds=(0, 1))[1].history.test_acc
    np.testing.assert_allclose(grid["gap"], grid["train accuracy"] - grid["test accuracy"])
    sweep = ch04.width_sweep(widths=(4, 8), n_labels=20)
    assert list(sweep["width"]) == [4, 8]
    assert sweep["parameters"].is_monotonic_increasing
    reg = ch04.regularisation_comparison(20, seeds=(0,))
    assert list(reg["regulariser"]) == ["none", "dropout 0.5", "weight decay 0.01", "both"]
    with pytest.raises(ValueError, match="weight_decay"):
        ch04.regularisation_comparison(20, weight_decay=0.0)


def test_random_label_run(tiny):
    run = ch04.random_label_run(30, width=8, updates=4)
    assert run.history.epoch[-1] == 4


def test_pretraining_cost_columns(monkeypatch):

    monkeypatch.setattr(ch03, "SETTINGS", dataclasses.replace(
        ch03.SETTINGS, hidden=(8, 8), epochs=1, updates=1,
        autoencoder=dataclasses.replace(ch03.SETTINGS.autoencoder, n_iter=1)))
    ch03.clear_cache()
    try:
        table = ch04.pretraining_cost(("ReLU", "SAE"))
        assert list(table["method"]) == ["ReLU", "SAE"]
        assert table.loc[0, "pretrain seconds"] == 0.0 and table.loc[1, "pretrain seconds"] > 0
        np.testing.assert_allclose(table["total seconds"],
                                   table["pretrain seconds"] + table["finetune seconds"])
        with pytest.raises(ValueError, match="method"):
            ch04.pretraining_cost(("RBM",))
    finally:
        ch03.clear_cache()


# ---------------------------------------------------------------- figures


def test_profile_figure(tiny):
    fig = ch04.fix_profile_figure(3, "residual")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    assert "residual" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="variant"):
        ch04.fix_profile_figure(3, "elu")


def test_dropout_figure(tiny, monkeypatch):
    monkeypatch.setattr(ch04, "SETTINGS", dataclasses.replace(
        ch04.SETTINGS, wide=dataclasses.replace(ch04.SETTINGS.wide, label_budgets=(20, 40))))
    fig = ch04.dropout_figure(0.5, 20, rates=(0.0, 0.5))
    assert isinstance(fig, Figure)
    assert "gap" in fig.axes[0].get_title()
    assert len(fig.axes[0].get_lines()) == 4  # train and test, with and without dropout
    fig0 = ch04.dropout_figure(0.0, 40, rates=(0.0, 0.5))
    assert len(fig0.axes[0].get_lines()) == 2
    with pytest.raises(ValueError, match="dropout"):
        ch04.dropout_figure(1.0, 20)


# ------------------------------------------ chapter 4: bounds, lists, copies


def test_nets_too_large_are_refused_before_anything_is_built():
    with pytest.raises(ValueError, match="depth=1000 and width=10000: sizes .* GiB"):
        ch04.deep_net("sigmoid", depth=1000, width=10_000)
    with pytest.raises(ValueError, match="depth=1000 and width=10000"):
        ch04.fix_run("sigmoid", 1000, width=10_000)
    with pytest.raises(ValueError, match="depth=1000 and width=10000"):
        ch04.DeepNetSettings(depth=1000, width=10_000)
    with pytest.raises(ValueError, match="width"):
        ch04.wide_run(20, width=10**6)


def test_sequences_may_be_lists(tiny):
    grid = ch04.dropout_grid(rates=[0.0, 0.5], labels=[20])
    assert list(grid["dropout"]) == [0.0, 0.5]
    assert list(ch04.width_sweep([4], n_labels=20)["width"]) == [4]
    assert len(ch04.fix_comparison(["residual"], seeds=[0])) == 1
    settings = ch04.DeepNetSettings(seeds=[0, 1], profile_epochs=[0, 2])
    assert settings.seeds == (0, 1) and settings.profile_epochs == (0, 2)
    assert ch04.WideNetSettings(label_budgets=[20, 40]).label_budgets == (20, 40)


def test_a_diverged_run_says_so(tiny):
    # each update multiplies the weights by 1 - lr * weight_decay = -19999
    with pytest.raises(ValueError, match=r"the wide net diverged with weight_decay=1000000.0"):
        ch04.wide_run(20, weight_decay=1e6)


def test_figure_overrides_reach_the_runs(tiny):
    fig = ch04.fix_profile_figure(1, "sigmoid", width=3, epochs=1)
    assert fig.axes[1].get_title().endswith("after 1 epochs")
    fig = ch04.dropout_figure(0.5, 20, rates=[0.0], width=3, updates=2)
    assert "gap" in fig.axes[0].get_title()


def test_pretraining_methods_are_chapter_3s():
    assert ch04._PRETRAINING_METHODS == ch03.METHODS


def test_wide_runs_cannot_be_corrupted(tiny):
    run = ch04.random_label_run(30, width=8, updates=4)
    run.history.train_acc[:] = [-1.0] * len(run.history.train_acc)
    assert min(ch04.random_label_run(30, width=8, updates=4).history.train_acc) >= 0
    table = ch04.dropout_grid(rates=(0.0,), labels=(20,))
    ch04.wide_run(20).history.test_acc.clear()
    assert ch04.dropout_grid(rates=(0.0,), labels=(20,)).equals(table)


def test_tuned_updates_reads_each_grid_point_from_one_longer_run(tiny, monkeypatch):
    monkeypatch.setattr(ch04, "SETTINGS", dataclasses.replace(
        ch04.SETTINGS, wide=dataclasses.replace(ch04.SETTINGS.wide, updates_grid=(6, 18), seeds=(0, 1))))
    best, table = ch04.tuned_updates(0.5, 64)
    assert list(table["updates"]) == [6, 18] and best in (6, 18)
    wide = ch04.SETTINGS.wide
    for updates, accuracy in zip(table["updates"], table["validation accuracy"]):
        # a separate run of that many updates (whole epochs) gives the same accuracy
        alone = ch04._wide_runs(wide.width, 0.5, 0.0, 64, ch04._tuning_seeds(wide.seeds), False, int(updates),
                                validation=True)
        assert accuracy == pytest.approx(np.mean([r.history.test_acc[-1] for r in alone]), abs=1e-12)
