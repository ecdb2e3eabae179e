"""gradbook.chapters.ch01_vanishing_gradients: the shapes and columns of chapter 1's experiments, run
with tiny settings (the qualitative results are in tests/claims/)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from gradbook.chapters import ch01_vanishing_gradients as ch01
from gradbook import data as gb_data
from gradbook.diagnostics import bias_gradient_norms, relative_weight_change, snapshot
from gradbook.models.mlp import linear_layers, mlp
from gradbook.train import History, train


# ------------------------------------------------------------ gradient_profile


def test_gradient_profile_shape_and_values(digits_split):
    X_tr, _, y_tr, _ = digits_split
    prof = ch01.initial_delta_norms(3, seeds=(0, 4), n_samples=200, data="digits")
    assert isinstance(prof, np.ndarray) and prof.shape == (2, 3)
    assert np.all(np.isfinite(prof)) and np.all(prof > 0)
    for row, s in zip(prof, (0, 4)):
        net = mlp([64, 30, 30, 30, 10], seed=s)
        expected = bias_gradient_norms(net, X_tr[:200], y_tr[:200], loss="sigmoid")
        np.testing.assert_allclose(row, expected, rtol=1e-6)


def test_gradient_profile_options():
    prof = ch01.initial_delta_norms(2, "relu", "he", width=7, seeds=(1,), n_samples=50,
                                      loss="softmax")
    assert prof.shape == (1, 2)


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        (dict(depth=0), ValueError, "depth"),
        (dict(depth=2, seeds=()), ValueError, "seeds"),
        (dict(depth=2, seeds=(-1,)), ValueError, "seeds"),
        (dict(depth=2, width=0), ValueError, "width"),
        (dict(depth=2, n_samples=0), ValueError, "n_samples"),
        (dict(depth=2, activation="elu"), ValueError, "activation"),
    ],
)
def test_gradient_profile_bad_arguments(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        ch01.initial_delta_norms(**kwargs)


# --------------------------------------------------------- nielsen_comparison


def test_nielsen_comparison_table():
    table = ch01.nielsen_comparison(seeds=(0, 1, 2))
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == [
        "hidden layers", "layer", "ours", "ours sd", "ours lowest", "ours highest",
        "Nielsen (MNIST)", "Nielsen within our range", "ratio last/first, ours",
        "ratio last/first, Nielsen", "Nielsen's ratio within our range",
    ]
    assert len(table) == 9
    assert table["hidden layers"].tolist() == [2, 2, 3, 3, 3, 4, 4, 4, 4]
    assert table["layer"].tolist() == [1, 2, 1, 2, 3, 1, 2, 3, 4]
    published = [v for d in (2, 3, 4) for v in ch01.NIELSEN_EPOCH0[d]]
    assert table["Nielsen (MNIST)"].tolist() == published
    assert (table["ours sd"] > 0).all()
    for depth, rows in table.groupby("hidden layers"):
        mean = ch01.initial_delta_norms(depth, seeds=(0, 1, 2)).mean(axis=0)
        np.testing.assert_allclose(rows["ours"], mean, rtol=1e-6)
        norms = ch01.initial_delta_norms(depth, seeds=(0, 1, 2))
        np.testing.assert_allclose(rows["ours lowest"], norms.min(axis=0), rtol=1e-6)
        np.testing.assert_allclose(rows["ours highest"], norms.max(axis=0), rtol=1e-6)
        inside = (norms.min(axis=0) <= ch01.NIELSEN_EPOCH0[depth]) & (ch01.NIELSEN_EPOCH0[depth] <= norms.max(axis=0))
        assert rows["Nielsen within our range"].tolist() == inside.tolist()
        per_seed = norms[:, -1] / norms[:, 0]
        ratio = ch01.NIELSEN_EPOCH0[depth][-1] / ch01.NIELSEN_EPOCH0[depth][0]
        assert rows["Nielsen's ratio within our range"].iloc[0] == (per_seed.min() <= ratio <= per_seed.max())
        assert rows["ratio last/first, ours"].iloc[0] == pytest.approx(mean[-1] / mean[0])
        theirs = ch01.NIELSEN_EPOCH0[depth]
        assert rows["ratio last/first, Nielsen"].iloc[0] == pytest.approx(theirs[-1] / theirs[0])


def test_nielsen_comparison_one_seed_has_zero_sd():
    table = ch01.nielsen_comparison(seeds=(0,))
    assert (table["ours sd"] == 0.0).all()


# ------------------------------------------------------------- profile_figure


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_profile_figure(activation):
    fig = ch01.delta_profile_figure(3, activation, 0.5)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    assert len(ax.lines[0].get_xdata()) == 3
    assert "last/first" in ax.get_title() and activation in ax.get_title()


# ---------------------------------------------------------- training_profile


def test_training_profile_records_every_epoch():
    h = ch01.training_profile(2, epochs=2, n_train=100)
    assert isinstance(h, History)
    assert h.epoch == [0, 1, 2] and h.diag_epoch == [0, 1, 2]
    assert all(len(r) == 2 for r in h.bias_grad)
    assert len(h.test_acc) == 3
    assert len(h.step_loss) == 2 * 10  # 100 samples in batches of 10


# --------------------------------------------------------- freeze_comparison


class RecordingTrain:
    """Wraps gradbook.train.train to see the nets an experiment trains: each
    call trains one ensemble; its members are recorded before and after."""

    def __init__(self):
        self.runs: list[dict] = []

    def __call__(self, model, *args, **kwargs):
        start = model.members()
        run = {
            "start": [[(l.weight.detach().clone(), l.bias.detach().clone()) for l in linear_layers(net)]
                      for net in start],
            "trainable": [[l.weight.requires_grad for l in linear_layers(net)] for net in start],
            "seeds": list(model.seeds),
            "kwargs": kwargs,
        }
        run["histories"] = train(model, *args, **kwargs)
        run["nets"] = model.members()
        self.runs.append(run)
        return run["histories"]


RESULT_COLUMNS = ["variant", "seed", "test accuracy", "short-budget test accuracy", "train accuracy",
                  "epoch to 50%"]


def test_freeze_comparison_tiny(monkeypatch):
    ch01.clear_cache()  # runs are memoised: make sure these are trained here
    rec = RecordingTrain()
    monkeypatch.setattr(ch01, "train", rec)
    results, changes = ch01.freeze_comparison(depth=3, width=8, seeds=(0, 1), epochs=2, short_epochs=1)

    assert list(results.columns) == RESULT_COLUMNS
    assert results["variant"].tolist() == ["deep"] * 2 + ["frozen"] * 2 + ["shallow"] * 2
    assert results["seed"].tolist() == [0, 1] * 3
    assert results["test accuracy"].between(0, 1).all()
    assert list(changes.columns) == ["variant", "seed", "epoch", "layer", "relative change"]
    # diagnostics at epochs 0 and 2 (every gcd(early_epoch, epochs) = 1 epoch: 0, 1, 2)
    epochs = sorted(changes["epoch"].unique())
    assert epochs[0] == 0 and epochs[-1] == 2
    assert (changes.loc[changes["epoch"] == 0, "relative change"] == 0).all()

    # the frozen variant's first depth - 1 = 2 layers did not move, the others did
    frozen = changes[(changes["variant"] == "frozen") & (changes["epoch"] > 0)]
    assert (frozen.loc[frozen["layer"] <= 2, "relative change"] == 0.0).all()
    assert (frozen.loc[frozen["layer"] > 2, "relative change"] > 0.0).all()
    deep = changes[(changes["variant"] == "deep") & (changes["epoch"] > 0)]
    assert (deep["relative change"] > 0.0).all()

    deep_run, frozen_run, shallow_run = rec.runs  # one ensemble per variant
    assert deep_run["seeds"] == frozen_run["seeds"] == shallow_run["seeds"] == [0, 1]
    assert [l.out_features for l in linear_layers(deep_run["nets"][0])] == [8, 8, 8, 10]
    assert [l.out_features for l in linear_layers(shallow_run["nets"][0])] == [8, 10]
    assert deep_run["trainable"] == [[True] * 4] * 2
    assert frozen_run["trainable"] == [[False, False, True, True]] * 2
    for k in range(2):
        # member k of the frozen net starts from exactly member k of the deep net ...
        for (w1, b1), (w2, b2) in zip(deep_run["start"][k], frozen_run["start"][k]):
            assert torch.equal(w1, w2) and torch.equal(b1, b2)
        # ... which is the single net built with seed k
        for (w, b), layer in zip(deep_run["start"][k], linear_layers(mlp([64, 8, 8, 8, 10], seed=k))):
            assert torch.equal(w, layer.weight) and torch.equal(b, layer.bias)
        # the frozen layers (weights and biases) are still there at the end
        for i, layer in enumerate(linear_layers(frozen_run["nets"][k])):
            w0, b0 = frozen_run["start"][k][i]
            if i < 2:
                assert torch.equal(layer.weight, w0) and torch.equal(layer.bias, b0)
            else:
                assert not torch.equal(layer.weight, w0)
        # the recorded changes are those of the trained nets
        final = deep[(deep["epoch"] == 2) & (deep["seed"] == k)].sort_values("layer")["relative change"]
        ref = [w for w, _ in deep_run["start"][k]]
        assert final.tolist() == pytest.approx(relative_weight_change(deep_run["nets"][k], ref), rel=1e-5)


def test_runs_are_shared_between_experiments(monkeypatch):
    # the freeze comparison's shallow net is the depth sweep's 1-layer net
    ch01.clear_cache()
    rec = RecordingTrain()
    monkeypatch.setattr(ch01, "train", rec)
    results, _ = ch01.freeze_comparison(depth=2, seeds=(1,), epochs=1, short_epochs=1)
    assert len(rec.runs) == 3
    sweep = ch01.depth_sweep(depths=(1,), seeds=(1,), epochs=1, early_epoch=1, short_epochs=1)
    assert len(rec.runs) == 3  # nothing trained again
    shallow = results[results["variant"] == "shallow"]["test accuracy"].item()
    assert sweep["test accuracy"].item() == shallow
    again, _ = ch01.freeze_comparison(depth=2, seeds=(1,), epochs=1, short_epochs=1)
    assert len(rec.runs) == 3
    pd.testing.assert_frame_equal(again, results)


def test_freeze_comparison_epoch_to_50_percent(monkeypatch):
    ch01.clear_cache()
    rec = RecordingTrain()
    monkeypatch.setattr(ch01, "train", rec)
    results, _ = ch01.freeze_comparison(depth=2, width=8, seeds=(0,), epochs=2, short_epochs=1)
    histories = [h for run in rec.runs for h in run["histories"]]
    for h, (_, row) in zip(histories, results.iterrows()):
        reached = [e for e, a in zip(h.epoch, h.test_acc) if a >= 0.5]
        if reached:
            assert row["epoch to 50%"] == reached[0]
        else:
            assert np.isnan(row["epoch to 50%"])
        assert row["test accuracy"] == h.test_acc[-1]
        assert row["short-budget test accuracy"] == h.test_acc[1]
        assert row["train accuracy"] == h.train_acc[-1]


def test_freeze_comparison_bad_arguments():
    with pytest.raises(ValueError, match="depth must be an integer from 2"):
        ch01.freeze_comparison(depth=1)
    with pytest.raises(ValueError, match="seeds"):
        ch01.freeze_comparison(depth=2, seeds=())
    with pytest.raises(ValueError, match="width"):
        ch01.freeze_comparison(depth=2, width=0)
    with pytest.raises(ValueError, match="epochs"):
        ch01.freeze_comparison(depth=2, epochs=0)


# --------------------------------------------------------------- depth_sweep

SWEEP_COLUMNS = [
    "depth", "seed", "first-layer grad", "last-layer grad", "last/first",
    "first-layer change (early)", "first-layer change (end)", "test accuracy",
    "short-budget test accuracy", "train accuracy", "epoch to 50%",
]


def _first_layer_changes(depth, seed, epochs, lr=1.0, batch_size=32):
    """The first layer's relative weight change after every epoch (index =
    epoch), from the same training as depth_sweep's, recorded every epoch."""
    X_tr, X_te, y_tr, y_te = gb_data.digits_split()
    net = mlp([64] + [30] * depth + [10], seed=seed)
    ref = snapshot(net)
    h = train(net, X_tr, y_tr, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
              X_test=X_te, y_test=y_te, diagnostics_every=1)
    out = [r[0] for r in h.weight_change]
    assert out[-1] == pytest.approx(relative_weight_change(net, ref)[0], rel=1e-6)
    return out, h


def test_depth_sweep_tiny():
    # the depth sweep trains its seeds as one ensemble; member 0 is the single
    # net trained with seed 0, up to float rounding
    sweep = ch01.depth_sweep(depths=(1, 2), seeds=(0,), epochs=2, early_epoch=1, short_epochs=1)
    assert list(sweep.columns) == SWEEP_COLUMNS
    assert sweep["depth"].tolist() == [1, 2] and sweep["seed"].tolist() == [0, 0]
    one = sweep.iloc[0]
    assert one["first-layer grad"] == one["last-layer grad"] and one["last/first"] == 1.0
    two = sweep.iloc[1]
    assert two["last/first"] == pytest.approx(two["last-layer grad"] / two["first-layer grad"])
    changes, h = _first_layer_changes(2, 0, 2)
    assert two["first-layer change (early)"] == pytest.approx(changes[1], rel=1e-5)
    assert two["first-layer change (end)"] == pytest.approx(changes[2], rel=1e-5)
    assert two["test accuracy"] == h.test_acc[-1]
    assert two["short-budget test accuracy"] == h.test_acc[1]
    assert two["first-layer grad"] == pytest.approx(h.bias_grad[0][0], rel=1e-6)
    reached = [e for e, a in zip(h.epoch, h.test_acc) if a >= 0.5]
    if reached:
        assert two["epoch to 50%"] == reached[0]
    else:
        assert np.isnan(two["epoch to 50%"])


def test_depth_sweep_end_change_is_at_the_last_epoch():
    # epochs not a multiple of early_epoch: "at the end" must still mean epoch 3
    sweep = ch01.depth_sweep(depths=(1,), seeds=(0,), epochs=3, early_epoch=2, short_epochs=1)
    changes, h = _first_layer_changes(1, 0, 3)
    row = sweep.iloc[0]
    assert row["first-layer change (early)"] == pytest.approx(changes[2], rel=1e-5)
    assert row["test accuracy"] == h.test_acc[-1]
    assert row["first-layer change (end)"] == pytest.approx(changes[3], rel=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(epochs=2, early_epoch=3), r"early_epoch \(3\) must not exceed epochs \(2\)"),
        (dict(epochs=0), "epochs"),
        (dict(early_epoch=0), "early_epoch"),
        (dict(depths=(0,), epochs=1, early_epoch=1), "depth"),
        (dict(seeds=(), epochs=1, early_epoch=1), "seeds"),
    ],
)
def test_depth_sweep_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ch01.depth_sweep(**kwargs)


# ---------------------------------------------------------------- plateau_run


def test_plateau_run_tiny():
    histories, curvature = ch01.plateau_run(depth=2, seeds=(0, 1), epochs=2, hessian_epochs=(0, 2, 7),
                                            hessian_samples=50)
    assert len(histories) == 2 and all(isinstance(h, History) for h in histories)
    assert all(h.epoch == [0, 1, 2] for h in histories)
    assert list(curvature.columns) == ["seed", "epoch", "lambda_max", "lambda_min", "grad_norm",
                                       "train loss", "on plateau"]
    assert curvature["epoch"].tolist() == [0, 0, 2, 2]  # epoch 7 is past the end
    assert curvature["seed"].tolist() == [0, 1, 0, 1]
    assert (curvature["lambda_max"] >= curvature["lambda_min"]).all()
    assert (curvature["grad_norm"] > 0).all()
    # the training loss recorded beside the curvature is the member's own
    for (_, row) in curvature.iterrows():
        h = histories[int(row["seed"])]
        assert row["train loss"] == h.train_loss[h.epoch.index(int(row["epoch"]))]
        assert row["on plateau"] == (abs(row["train loss"] - np.log(10)) < ch01.SETTINGS.plateau.margin)


def test_plateau_run_bad_arguments():
    with pytest.raises(ValueError, match="depth"):
        ch01.plateau_run(depth=0)
    with pytest.raises(ValueError, match="hessian_samples"):
        ch01.plateau_run(depth=2, hessian_samples=0)


# ------------------------------------------------- bounds, overflow, divergence


@pytest.mark.timeout(10)
@pytest.mark.parametrize("call, message", [
    (lambda: ch01.initial_delta_norms(10**6), "depth"),
    (lambda: ch01.training_profile(10**6), "depth"),
    (lambda: ch01.initial_delta_norms(1000, width=10**5), "depth and width"),
    (lambda: ch01.initial_delta_norms(2, width=10**5, n_samples=1438), "depth and width"),
    (lambda: ch01.initial_delta_norms(2, n_samples=1439, data="digits"),
     "n_samples must be at most 1438 \\(the digits training images\\)"),
    (lambda: ch01.initial_delta_norms(2, n_samples=4001, data="mnist"),
     "n_samples must be at most 4000 \\(the mnist training images\\)"),
    (lambda: ch01.training_profile(1, epochs=10**6), "epochs=1000000 .* updates"),
    (lambda: ch01.training_profile(1000, epochs=10**5, n_train=1, batch_size=1),
     "epochs=100000 .*depth=1000 .* GiB"),
    (lambda: ch01.depth_sweep(depths=(10**6,)), "depths"),
    (lambda: ch01.plateau_run(hessian_samples=5000), "hessian_samples"),
])
def test_huge_sizes_are_refused_before_any_work(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_overflowing_norms_raise_naming_the_scale():
    with pytest.raises(ValueError, match=r"overflow .* init=100000.0"):
        ch01.initial_delta_norms(20, "relu", 1e5, seeds=(0,), n_samples=10)
    with pytest.raises(ValueError, match="weight_std=100000"):
        ch01.delta_profile_figure(20, "relu", 1e5)


def test_a_diverged_run_raises_naming_lr():
    with pytest.raises(ValueError, match="diverged at lr=1000"):
        ch01.depth_sweep(depths=(2,), seeds=(0,), epochs=1, early_epoch=1, activation="relu",
                         init="he", lr=1e3)


def test_lists_are_accepted_where_tuples_are():
    as_lists = ch01.depth_sweep(depths=[1], seeds=[0], epochs=1, early_epoch=1)
    pd.testing.assert_frame_equal(as_lists, ch01.depth_sweep(depths=(1,), seeds=(0,), epochs=1,
                                                             early_epoch=1))
    settings = ch01.DigitsTrainingSettings(depths=[1, 2], seeds=[0])
    assert settings.depths == (1, 2) and settings.seeds == (0,)
    hash(settings)


def test_settings_are_checked_when_built_or_replaced():
    import dataclasses

    with pytest.raises(ValueError, match="width"):
        ch01.NielsenSettings(width=0)
    with pytest.raises(ValueError, match="freeze_depth"):
        dataclasses.replace(ch01.SETTINGS.training, freeze_depth=1)
    with pytest.raises(TypeError, match="plateau"):
        ch01.VanishingSettings(plateau=3)


# ------------------------------------------------ ensembles and the plateau exit


def test_training_profiles_member_k_is_the_single_run_with_seed_k():
    together = ch01.training_profiles(2, seeds=(3, 5), epochs=1)
    assert len(together) == 2
    for seed, h in zip((3, 5), together):
        alone = ch01.training_profile(2, epochs=1, seed=seed)
        np.testing.assert_allclose(h.train_loss, alone.train_loss, rtol=1e-5)
        np.testing.assert_allclose(np.array(h.bias_grad), np.array(alone.bias_grad), rtol=1e-4)
        assert h.test_acc == pytest.approx(alone.test_acc, abs=1e-9)


def test_escape_epoch_is_the_first_epoch_below_the_plateau():
    log10 = np.log(10)
    h = History(epoch=[0, 1, 2, 3], train_loss=[log10 - 1.0, log10, log10 - 0.05, log10 - 0.5])
    # epoch 0 does not count (a net starts anywhere); 0.05 below is within the margin 0.1
    assert ch01.escape_epoch(h, margin=0.1) == 3.0
    assert ch01.escape_epoch(h, margin=0.01) == 2.0
    assert np.isnan(ch01.escape_epoch(h, margin=0.6))


def test_frozen_probe_reads_the_frozen_layers_of_each_seed():
    probe = ch01.frozen_probe(depth=2, width=6, seeds=(0, 1))
    assert probe["seed"].tolist() == [0, 1]
    assert probe["probe test accuracy"].between(0, 1).all()
    assert (probe["feature sd"] > 0).all()
    # a different seed gives different random features
    assert probe["feature sd"].iloc[0] != probe["feature sd"].iloc[1]


def test_claim_comparisons_tiny_judge_every_claim_by_the_rule():
    from gradbook import stats

    found = ch01.claim_comparisons(seeds=(0, 1), epochs=2, nielsen_epochs=1, hessian_epoch=1)
    assert set(found) == {"C1", "C2", "C9", "C11"}
    for claim, comparisons in found.items():
        assert all(isinstance(c, stats.Comparison) and c.n == 2 for c in comparisons)
        assert stats.verdict(comparisons) in stats.VERDICTS
    with pytest.raises(ValueError, match="seeds must be a list or tuple of 2"):
        ch01.claim_comparisons(seeds=(0,))


# ------------------------------------------------------ Nielsen's data: MNIST


def test_nielsen_images_on_mnist_take_the_classes_in_turns():
    X_train, X_test, y_train, y_test = ch01.nielsen_images("mnist")
    assert X_train.shape == (4000, 784) and X_test.shape == (1000, 784)
    # the sample is sorted by label; the first 1,000 here hold 100 of every class
    assert torch.bincount(y_train[:1000]).tolist() == [100] * 10
    assert y_train[:10].tolist() != [0] * 10
    # the same images as the seeded split, in another order
    split = gb_data.mnist_split()
    assert sorted(y_train.tolist()) == sorted(split[2].tolist())
    assert torch.equal(X_test, split[1])
    X_train[:] = 0  # a copy
    assert ch01.nielsen_images("mnist")[0].any()
    digits = ch01.nielsen_images("digits")
    assert all(torch.equal(a, b) for a, b in zip(digits, gb_data.digits_split()))


def test_initial_delta_norms_on_mnist_use_784_inputs():
    norms = ch01.initial_delta_norms(2, seeds=(0,), n_samples=50, data="mnist")
    X_train, _, y_train, _ = ch01.nielsen_images("mnist")
    net = mlp([784, 30, 30, 10], seed=0)
    np.testing.assert_allclose(norms[0], bias_gradient_norms(net, X_train[:50], y_train[:50], loss="sigmoid"),
                               rtol=1e-6)
    assert ch01.SETTINGS.nielsen.data in ch01.DATA
    table = ch01.nielsen_comparison(seeds=(0, 1), data="digits")
    np.testing.assert_allclose(table.loc[table["hidden layers"] == 2, "ours"],
                               ch01.initial_delta_norms(2, seeds=(0, 1), data="digits").mean(axis=0), rtol=1e-6)
