"""gradbook.rbm_experiments: the maths of chapter 2's helpers checked by
enumeration and finite differences, the shapes and columns of its runners
(with tiny settings), its figures, and bad inputs. The qualitative results the
chapter reports are in tests/claims/test_c3_c4_c6_rbm.py."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from scipy.special import logsumexp

from gradbook.chapters import ch02_rbm as ch02
from gradbook.models.rbm import BernoulliRBM


def all_states(n: int) -> np.ndarray:
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


# ---------------------------------------------------------------- small helpers


@pytest.mark.parametrize("method, expected", [("CD-1", (1, False)), ("CD-10", (10, False)),
                                              ("PCD-1", (1, True)), ("PCD-25", (25, True))])
def test_parse_method(method, expected):
    assert ch02.parse_method(method) == expected


@pytest.mark.parametrize("method", ["CD", "CD-0", "cd-1", "PCD1", "CD-1.5", "CD-100000000"])
def test_parse_method_rejects(method):
    with pytest.raises(ValueError, match="method"):
        ch02.parse_method(method)


@pytest.mark.parametrize("method", [1, None])
def test_parse_method_rejects_non_strings(method):
    with pytest.raises(TypeError, match="method must be a string"):
        ch02.parse_method(method)


def test_random_rbm_is_seeded_and_shaped():
    a, b = ch02.random_rbm(5, 3, seed=1), ch02.random_rbm(5, 3, seed=1)
    assert a.components_.shape == (3, 5) and a.intercept_visible_.shape == (5,)
    assert np.array_equal(a.components_, b.components_)
    assert not np.array_equal(a.components_, ch02.random_rbm(5, 3, seed=2).components_)
    assert np.abs(a.components_).max() > 1  # strong couplings, scale 1.5
    with pytest.raises(ValueError, match="n_hidden"):
        ch02.random_rbm(5, 0)


def test_energy_sums_to_the_free_energy():
    rbm = ch02.random_rbm(4, 3, seed=0)
    W, b, c = (np.asarray(x, dtype=np.float64) for x in
               (rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_))
    V, H = all_states(4), all_states(3)
    E = np.array([[ch02.energy(v[None], h[None], W, b, c)[0] for h in H] for v in V])
    manual = np.array([[-(v @ b) - (h @ c) - h @ W @ v for h in H] for v in V])
    np.testing.assert_allclose(E, manual, atol=1e-12)
    # F(v) = -log sum_h exp(-E(v, h))
    np.testing.assert_allclose(-logsumexp(-E, axis=1), rbm.free_energy(V), atol=1e-9)


def test_energy_rejects_mismatched_shapes():
    W, b, c = np.zeros((3, 4)), np.zeros(4), np.zeros(3)
    with pytest.raises(ValueError, match="same number of rows"):
        ch02.energy(np.zeros((2, 4)), np.zeros((3, 3)), W, b, c)
    with pytest.raises(ValueError, match="W must be"):
        ch02.energy(np.zeros((2, 4)), np.zeros((2, 3)), W.T, b, c)


def test_factorisation_check_table():
    table = ch02.factorisation_check(3, 2, seed=1)
    assert list(table.columns) == ["model", "conditional", "probabilities compared",
                                   "max abs difference"]
    assert table["conditional"].tolist() == ["P(h | v)", "P(v | h)", "P(h | v)"]
    assert table["probabilities compared"].tolist() == [32, 32, 32]
    assert (table["max abs difference"].iloc[:2] < 1e-12).all()
    assert table["max abs difference"].iloc[2] > 1e-3
    # without a coupling, the "coupled" machine is an RBM again
    assert ch02.factorisation_check(3, 2, seed=1, coupling=0.0)["max abs difference"].max() < 1e-12


@pytest.mark.parametrize("kwargs", [dict(n_hidden=1), dict(n_visible=10, n_hidden=6),
                                    dict(n_visible=0)])
def test_factorisation_check_bad_sizes(kwargs):
    with pytest.raises(ValueError):
        ch02.factorisation_check(**kwargs)


def test_reconstruct_is_one_mean_field_pass():
    rbm = ch02.random_rbm(6, 4, seed=3)
    X = all_states(6)[::5]
    W, b = rbm.components_.astype(np.float64), rbm.intercept_visible_.astype(np.float64)
    expected = 1 / (1 + np.exp(-(b + rbm.transform(X).astype(np.float64) @ W)))
    np.testing.assert_allclose(ch02.reconstruct(rbm, X), expected, atol=1e-6)
    error = ch02.reconstruction_error(rbm, X)
    assert error == pytest.approx(np.mean((X - expected) ** 2), abs=1e-6)
    with pytest.raises(ValueError):
        ch02.reconstruct(rbm, X * 2)  # not in [0, 1]


# ------------------------------------------------------------------- CD-1 case


@pytest.mark.parametrize("kwargs", [dict(), dict(n_visible=5, n_hidden=7, n_rows=3, seed=4,
                                                  lr=0.5)])
def test_cd1_case_is_redone_by_hand(kwargs):
    case = ch02.cd1_case(**kwargs)
    v, W, b, c, lr = case["v"], case["W"], case["b"], case["c"], case["learning_rate"]
    assert set(torch.unique(v).tolist()) <= {0.0, 1.0}
    assert case["u_hid"].shape == (v.shape[0], W.shape[0])
    assert case["u_vis"].shape == v.shape
    p_h0 = torch.sigmoid(v @ W.T + c)
    h0 = (case["u_hid"] < p_h0).float()
    v1 = (case["u_vis"] < torch.sigmoid(h0 @ W + b)).float()
    p_h1 = torch.sigmoid(v1 @ W.T + c)
    W1 = W + lr / v.shape[0] * (p_h0.T @ v - p_h1.T @ v1)
    torch.testing.assert_close(case["W_new"], W1, atol=1e-6, rtol=0)
    torch.testing.assert_close(case["b_new"], b + lr * (v - v1).mean(0), atol=1e-6, rtol=0)
    torch.testing.assert_close(case["c_new"], c + lr * (p_h0 - p_h1).mean(0), atol=1e-6, rtol=0)
    assert (case["W_new"] - W).abs().max() > 1e-3  # the update did something


def test_cd1_case_is_seeded():
    a, b = ch02.cd1_case(seed=2), ch02.cd1_case(seed=2)
    assert all(torch.equal(a[k], b[k]) for k in ("v", "u_hid", "W_new"))
    assert not torch.equal(a["W_new"], ch02.cd1_case(seed=3)["W_new"])


# --------------------------------------------------------------- bars and stripes


def test_bas_training_set_is_exactly_uniform():
    X = ch02.bas_training_set(3, seed=0)
    assert X.shape == (42, 9) and X.dtype == np.float32
    _, counts = np.unique(X, axis=0, return_counts=True)
    assert counts.tolist() == [3] * 14
    assert np.array_equal(X, ch02.bas_training_set(3, seed=0))
    assert not np.array_equal(X, ch02.bas_training_set(3, seed=1))


def test_bas_learning_curve_columns_and_exact_values():
    curve = ch02.bas_learning_curve("CD-1", 0.2, 3, epochs=3, repeats=2, seed=5)
    assert list(curve.columns) == ["epoch", "log_likelihood", "kl", "reconstruction_error"]
    assert curve["epoch"].tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(curve["kl"], -curve["log_likelihood"] - math.log(14))
    assert (curve["kl"] > 0).all()  # KL(data || model) >= 0, and no RBM is perfect
    start = BernoulliRBM(3, n_iter=0, random_state=5, progress=False).fit(ch02.BAS_PATTERNS)
    assert curve["log_likelihood"].iloc[0] == pytest.approx(
        start.log_likelihood(ch02.BAS_PATTERNS).mean(), abs=1e-9)
    model = ch02.bas_model("CD-1", 0.2, 3, epochs=3, repeats=2, seed=5)
    assert curve["log_likelihood"].iloc[-1] == pytest.approx(
        model.log_likelihood(ch02.BAS_PATTERNS).mean(), abs=1e-9)
    assert curve["reconstruction_error"].iloc[-1] == pytest.approx(
        ch02.reconstruction_error(model, ch02.BAS_PATTERNS))


def test_bas_model_rejects_unknown_options():
    with pytest.raises(TypeError, match="unexpected keyword argument 'epoch'"):
        ch02.bas_model("CD-1", 0.2, 3, epoch=2)


def test_bas_learning_curve_is_memoised_but_returns_copies():
    a = ch02.bas_learning_curve("PCD-1", 0.2, 3, epochs=2, repeats=2)
    a.loc[:, "log_likelihood"] = 0.0
    b = ch02.bas_learning_curve("PCD-1", 0.2, 3, epochs=2, repeats=2)
    assert (b["log_likelihood"] < 0).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="XCD-1"), "method"), (dict(lr=0), "lr"),
    (dict(n_hidden=0), "n_hidden"), (dict(epochs=0), "epochs"), (dict(seed=-1), "seed"),
])
def test_bas_learning_curve_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ch02.bas_learning_curve(**kwargs)


def test_bas_comparison_and_grid_summary():
    both = ch02.bas_comparison(("CD-1", "CD-2"), 0.2, 3, seeds=(0, 1), epochs=2)
    assert set(both["method"]) == {"CD-1", "CD-2"} and set(both["seed"]) == {0, 1}
    assert len(both) == 2 * 2 * 3
    summary = ch02.bas_grid_summary(("CD-1",), (0.2,), (2, 3), epochs=2)
    assert list(summary.columns) == ["method", "learning rate", "hidden units",
                                     "final log-likelihood", "best log-likelihood",
                                     "best epoch", "final reconstruction error"]
    assert len(summary) == 2
    assert (summary["best log-likelihood"] >= summary["final log-likelihood"]).all()
    with pytest.raises(ValueError, match="methods must be a list or tuple of 1 to 100"):
        ch02.bas_comparison((), 0.2, 3)


# ------------------------------------------------------------------- CD bias


def _mean_log_likelihood(rbm, params, data):
    W, b, c = params
    rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_ = (
        W.astype(np.float32), b.astype(np.float32), c.astype(np.float32))
    return float(rbm.log_likelihood(data).mean())


def test_cd_bias_gradient_matches_finite_differences():
    rbm = ch02.random_rbm(4, 3, seed=0, scale=0.8)
    data = all_states(4)[[1, 6, 9, 15]]
    base = [np.asarray(x, dtype=np.float64) for x in
            (rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_)]
    table = ch02.cd_bias(rbm, data, ks=(1,))
    # the gradient in the order W (row by row), b, c, by central differences
    numeric, eps = [], 1e-2
    for which, array in enumerate(base):
        for index in np.ndindex(array.shape):
            up = [a.copy() for a in base]
            down = [a.copy() for a in base]
            up[which][index] += eps
            down[which][index] -= eps
            numeric.append((_mean_log_likelihood(rbm, up, data)
                            - _mean_log_likelihood(rbm, down, data)) / (2 * eps))
    assert table["gradient norm"].iloc[0] == pytest.approx(np.linalg.norm(numeric), rel=1e-3)


def test_cd_bias_expected_update_matches_many_cd1_updates():
    # One CD-1 update of BernoulliRBM on a huge batch (one partial_fit, from the
    # same parameters) is the expected update, up to sampling noise.
    rbm = ch02.random_rbm(4, 3, seed=2, scale=1.0)
    data = all_states(4)[[0, 3, 5, 12]]
    expected = ch02.cd_bias(rbm, data, ks=(1,))
    lr = 0.1
    before = [np.asarray(x, dtype=np.float64).copy() for x in
              (rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_)]
    rbm.set_params(learning_rate=lr)
    rbm.partial_fit(np.tile(data, (20_000, 1)))
    after = [np.asarray(x, dtype=np.float64) for x in
             (rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_)]
    update = np.concatenate([(a - b).ravel() for a, b in zip(after, before)]) / lr
    assert np.linalg.norm(update) == pytest.approx(expected["CD-k update norm"].iloc[0], rel=0.05)


def test_cd_bias_limits():
    rbm = ch02.random_rbm(5, 3, seed=1)
    table = ch02.cd_bias(rbm, all_states(5)[:7], ks=(1000, 1, 10))
    assert table["k"].tolist() == [1, 10, 1000]
    assert table["cosine"].iloc[-1] == pytest.approx(1.0, abs=1e-6)
    assert table["relative size"].iloc[-1] == pytest.approx(1.0, abs=1e-3)
    assert (table["cosine"] <= 1 + 1e-12).all()
    assert (table["gradient norm"] == table["gradient norm"].iloc[0]).all()


def test_cd_bias_default_data_is_bars_and_stripes():
    rbm = ch02.random_rbm(9, 3, seed=0, scale=0.3)
    pd.testing.assert_frame_equal(ch02.cd_bias(rbm, ks=(2,)),
                                  ch02.cd_bias(rbm, ch02.BAS_PATTERNS, ks=(2,)))


def test_cd_bias_bad_inputs():
    with pytest.raises(ValueError, match="at most 12"):
        ch02.cd_bias(ch02.random_rbm(13, 2))
    with pytest.raises(ValueError, match="18 in all"):
        ch02.cd_bias(ch02.random_rbm(10, 10))
    rbm = ch02.random_rbm(4, 2)
    with pytest.raises(ValueError, match="binary rows"):
        ch02.cd_bias(rbm, np.full((2, 4), 0.5))
    with pytest.raises(ValueError, match="binary rows"):
        ch02.cd_bias(rbm, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="ks"):
        ch02.cd_bias(rbm, np.zeros((2, 4)), ks=(0,))
    with pytest.raises(ValueError, match="ks"):
        ch02.cd_bias(rbm, np.zeros((2, 4)), ks=())


# ---------------------------------------------------------------------- digits


def _sklearn_example_data():
    """scikit-learn's example, step by step (its nudge_dataset with convolutions)."""
    from scipy.ndimage import convolve
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import minmax_scale

    X, y = datasets.load_digits(return_X_y=True)
    X = np.asarray(X, "float32")
    kernels = [[[0, 1, 0], [0, 0, 0], [0, 0, 0]], [[0, 0, 0], [1, 0, 0], [0, 0, 0]],
               [[0, 0, 0], [0, 0, 1], [0, 0, 0]], [[0, 0, 0], [0, 0, 0], [0, 1, 0]]]
    shifted = [np.array([convolve(x.reshape(8, 8), mode="constant", weights=k).ravel()
                         for x in X]) for k in kernels]
    X = minmax_scale(np.concatenate([X] + shifted), feature_range=(0, 1))
    return train_test_split(X, np.concatenate([y] * 5), test_size=0.2, random_state=0)


def test_example_split_is_scikit_learns():
    ours = ch02.example_split("example")
    theirs = _sklearn_example_data()
    assert [a.shape for a in ours] == [(7188, 64), (1797, 64), (7188,), (1797,)]
    assert ours[0].dtype == np.float32 and ours[2].dtype == np.int64
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_leak_free_split_keeps_digits_apart():
    X_train, X_test, y_train, y_test = ch02.example_split("leak-free")
    assert X_train.shape == (7185, 64) and X_test.shape == (1800, 64)
    assert X_train.min() >= 0 and X_train.max() <= 1 and X_test.min() >= 0 and X_test.max() <= 1
    from sklearn.model_selection import train_test_split

    from gradbook.data import load_digits

    X, y = load_digits()
    train_ids, test_ids = train_test_split(np.arange(1797), test_size=0.2, random_state=0)
    # each part is its digits, then their four shifts: the first blocks are the originals
    np.testing.assert_array_equal(y_train[:1437], y.numpy()[train_ids])
    np.testing.assert_array_equal(y_test[:360], y.numpy()[test_ids])
    np.testing.assert_array_equal(y_test, np.tile(y_test[:360], 5))
    lo, hi = X_train.min(axis=0), X_train.max(axis=0)
    assert np.array_equal(lo[hi > lo], np.zeros((hi > lo).sum()))  # scaled on the training part
    assert np.allclose(hi[hi > lo], 1)


def test_splits_return_copies_and_check_kind():
    a = ch02.example_split()
    a[0][:] = 0
    assert ch02.example_split()[0].max() == 1
    with pytest.raises(ValueError, match="kind"):
        ch02.example_split("random")
    with pytest.raises(ValueError, match="kind"):
        ch02.rbm_vs_pixels("random")
    with pytest.raises(ValueError, match="kind"):
        ch02.example_rbm("random")


def test_shared_digit_fraction():
    assert ch02.shared_digit_fraction() == pytest.approx(1.0)


def test_example_solver_check_columns():
    table = ch02.example_solver_check()
    assert list(table.columns) == ["tol", "newton iterations", "accuracy", "weighted F1"]
    assert table["tol"].tolist() == [1.0, 1e-4]
    assert table["newton iterations"].iloc[1] > table["newton iterations"].iloc[0]


def test_free_energy_monitor_columns():
    table = ch02.free_energy_monitor(20, n_hidden=5, epochs=4, every=2)
    assert table["epoch"].tolist() == [0, 2, 4]
    assert table["updates"].tolist() == [0, 4, 8]  # 20 rows: 2 batches of 10 per epoch
    np.testing.assert_allclose(table["gap"],
                               table["free energy, held out"] - table["free energy, train"])
    assert (table.filter(like="reconstruction error") >= 0).all().all()
    with pytest.raises(ValueError, match="n_train"):
        ch02.free_energy_monitor(5000)


def test_free_energy_at_start_matches_the_initial_model():
    from gradbook.data import load_digits, train_test_split

    table = ch02.free_energy_monitor(30, n_hidden=4, epochs=1, every=1, seed=3)
    X, y = load_digits()
    X_train, X_test, _, _ = train_test_split(X, y, test_size=0.2, seed=0)
    start = BernoulliRBM(4, n_iter=0, random_state=3, progress=False).fit(X_train[:30].numpy())
    assert table["free energy, train"].iloc[0] == pytest.approx(
        start.free_energy(X_train[:30].numpy()).mean())
    assert table["free energy, held out"].iloc[0] == pytest.approx(
        start.free_energy(X_test.numpy()).mean())


def test_gibbs_samples_are_seeded_probabilities():
    a = ch02.gibbs_samples(3, n_samples=5)
    assert a.shape == (5, 64) and (a >= 0).all() and (a <= 1).all()
    a[:] = -1
    b = ch02.gibbs_samples(3, n_samples=5)
    assert (b >= 0).all()
    np.testing.assert_array_equal(b, ch02.example_rbm().sample(5, 3, seed=0, probabilities=True))
    with pytest.raises(ValueError, match="n_steps"):
        ch02.gibbs_samples(0)


# --------------------------------------------------------------------- figures


def test_figures_return_figures():
    assert isinstance(ch02.bipartite_figure(3, 2), Figure)
    assert isinstance(ch02.learning_curve_figure("CD-1", 0.2, 2, epochs=2), Figure)
    assert isinstance(ch02.samples_figure(2), Figure)
    grid = ch02.digit_grid_figure(np.random.default_rng(0).normal(size=(7, 64)), n_cols=3,
                                signed=True, title="t")
    assert isinstance(grid, Figure) and len(grid.axes) == 1
    mosaic = grid.axes[0].images[0].get_array()
    assert mosaic.shape == (3 * 9 - 1, 3 * 9 - 1)  # 3 rows of 3 tiles, blank pixels between
    assert np.isclose(np.nanmax(np.abs(mosaic)), 1.0)  # each tile scaled to its own maximum


def test_digit_grid_figure_rejects_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        ch02.digit_grid_figure(np.zeros((3, 63)))
    with pytest.raises(ValueError, match="images must be a 2-D array"):
        ch02.digit_grid_figure(np.zeros((0, 64)))


def test_misleading_pair():
    summary = pd.DataFrame({"method": ["a", "b", "c"],
                            "final reconstruction error": [0.01, 0.2, 0.001],
                            "final log-likelihood": [-3.0, -4.0, -9.0]})
    pair = ch02.misleading_pair(summary)
    assert pair["method_a"] == "c" and pair["method_b"] == "a"
    assert pair["log-likelihood gap"] == pytest.approx(6.0)
    honest = summary.assign(**{"final log-likelihood": [-3.0, -4.0, -2.0]})
    assert ch02.misleading_pair(honest).empty
    with pytest.raises(ValueError, match="columns"):
        ch02.misleading_pair(summary.drop(columns="final log-likelihood"))


# ------------------------------------------------- AIS on the binary digits


def test_binary_digits_are_binary_and_split_like_the_book():
    X_train, X_test = ch02.binary_digits()
    assert X_train.shape == (1438, 64) and X_test.shape == (359, 64)
    assert set(np.unique(X_train)) == {0.0, 1.0}
    X_train[0, 0] = 7.0  # a copy: the cached arrays stay as they were
    assert ch02.binary_digits()[0][0, 0] in (0.0, 1.0)


def test_ais_check_lands_on_the_exact_value():
    table = ch02.ais_check((30, 1000), n_hidden=10, epochs=3)
    assert list(table["n_betas"]) == [30, 1000]
    assert table["exact"].nunique() == 1
    row = table.iloc[-1]
    assert abs(row["error"]) < 0.05
    assert row["low"] <= row["exact"] <= row["high"]
    # more intermediate models, a narrower interval
    widths = table["high"] - table["low"]
    assert widths.iloc[1] < widths.iloc[0]


def test_ais_comparison_scores_each_method():
    table = ch02.ais_comparison(("CD-1", "PCD-1"), n_hidden=12, epochs=2, n_betas=100)
    assert list(table["method"]) == ["CD-1", "PCD-1"]
    assert (table["log-likelihood, held out"] < 0).all()
    assert np.isfinite(table.drop(columns="method").to_numpy()).all()


@pytest.mark.parametrize("call, message", [
    (lambda: ch02.ais_check(()), "n_betas must be a list or tuple of 1 to 100"),
    (lambda: ch02.ais_check((2,)), r"n_betas must be .* each an integer from 3"),
    (lambda: ch02.ais_check(n_hidden=30), "n_hidden must be an integer from 1 to 20"),
    (lambda: ch02.ais_comparison(()), "methods must be a list or tuple of 1 to 100"),
    (lambda: ch02.ais_comparison(("CD-one",)), r"methods must be .* 'CD-k' or 'PCD-k'"),
    (lambda: ch02.ais_comparison(n_betas=2), "n_betas must be an integer from 3"),
    (lambda: ch02.ais_comparison(lr=0), "lr must be a finite number > 0"),
])
def test_ais_experiments_reject_bad_settings(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ------------------------------------------ memoised runs hand out copies


def test_example_rbm_cannot_be_corrupted_by_its_caller():
    rbm = ch02.example_rbm(epochs=1)
    weights = rbm.components_.copy()
    rbm.components_[:] = 0.0
    rbm.intercept_hidden_[:] = 7.0
    again = ch02.example_rbm(epochs=1)
    assert again is not rbm
    np.testing.assert_array_equal(again.components_, weights)
    assert (again.intercept_hidden_ != 7.0).any()


def test_bas_runs_cannot_be_corrupted_by_their_caller():
    curve = ch02.bas_learning_curve("CD-1", 0.2, 3, epochs=2, repeats=2)
    expected = curve.copy()
    curve.loc[:, "kl"] = -1.0
    curve["epoch"] = -1
    pd.testing.assert_frame_equal(ch02.bas_learning_curve("CD-1", 0.2, 3, epochs=2, repeats=2),
                                  expected)
    model = ch02.bas_model("CD-1", 0.2, 3, epochs=2, repeats=2)
    weights = model.components_.copy()
    model.components_[:] = 0.0
    np.testing.assert_array_equal(ch02.bas_model("CD-1", 0.2, 3, epochs=2, repeats=2).components_,
                                  weights)


def test_gibbs_samples_and_splits_cannot_be_corrupted_by_their_caller():
    samples = ch02.gibbs_samples(2, n_samples=3)
    expected = samples.copy()
    samples[:] = -1.0
    np.testing.assert_array_equal(ch02.gibbs_samples(2, n_samples=3), expected)
    for kind in ch02.SPLITS:
        X_train, _, y_train, _ = ch02.example_split(kind)
        X_train[:] = -5.0
        y_train[:] = 99
        X_again, _, y_again, _ = ch02.example_split(kind)
        assert X_again.min() >= 0 and y_again.max() <= 9


def test_sequences_may_be_lists():
    as_lists = ch02.bas_comparison(["CD-1"], 0.2, 3, seeds=[0], epochs=2)
    as_tuples = ch02.bas_comparison(("CD-1",), 0.2, 3, seeds=(0,), epochs=2)
    pd.testing.assert_frame_equal(as_lists, as_tuples)
    summary = ch02.bas_grid_summary(["CD-1"], [0.2], [3], epochs=2)
    assert len(summary) == 1
    assert list(ch02.ais_check([3], n_hidden=2, epochs=1)["n_betas"]) == [3]
    settings = ch02.BarsAndStripesSettings(methods=["CD-1"], seeds=[1], ks=[1, 2])
    assert settings.methods == ("CD-1",) and settings.ks == (1, 2)
    hash(settings)


# --------------------------------------------- settings, bounds and overflow


def test_settings_defaults_are_the_chapters():
    st = ch02.SETTINGS
    assert (st.bars.method, st.bars.lr, st.bars.n_hidden, st.bars.epochs,
            st.bars.repeats, st.bars.batch_size) == ("CD-1", 0.1, 16, 50, 20, 10)
    assert (st.example_rbm.n_hidden, st.example_rbm.lr, st.example_rbm.epochs,
            st.example_rbm.method) == (100, 0.06, 10, "PCD-1")
    assert (st.free_energy.n_train, st.free_energy.epochs, st.free_energy.every) == (300, 200, 5)
    assert st.ais_check.n_betas == (100, 1000, 3000) and st.ais_comparison.n_betas == 2000
    assert st.gibbs.n_samples == 36


def test_settings_are_read_at_call_time(monkeypatch):
    import dataclasses

    monkeypatch.setattr(ch02, "SETTINGS", dataclasses.replace(
        ch02.SETTINGS, bars=dataclasses.replace(ch02.SETTINGS.bars, n_hidden=2, epochs=1,
                                                repeats=1)))
    curve = ch02.bas_learning_curve()
    assert curve["epoch"].tolist() == [0, 1]
    assert ch02.bas_model().components_.shape == (2, 9)
    with pytest.raises(ValueError, match="n_hidden"):
        dataclasses.replace(ch02.SETTINGS.bars, n_hidden=0)
    with pytest.raises(TypeError, match="gibbs"):
        ch02.RBMSettings(gibbs=3)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("call, message", [
    (lambda: ch02.cd_bias(ch02.random_rbm(9, 3), ks=[10**9]), "ks"),
    (lambda: ch02.cd_bias(ch02.random_rbm(12, 6), ks=[10**6]), "ks: 1,000,000 Gibbs steps"),
    (lambda: ch02.bas_learning_curve("CD-1000000"), "epochs=50, repeats=20 and method='CD-1000000'"),
    (lambda: ch02.bas_learning_curve(epochs=10**6), "Gibbs sweeps"),
    (lambda: ch02.example_rbm(epochs=10**6), "epochs=1000000"),
    (lambda: ch02.gibbs_samples(10**6, n_samples=100), "n_steps=1,000,000 times n_samples"),
    (lambda: ch02.ais_comparison(n_betas=10**7), "n_betas=10,000,000"),
    (lambda: ch02.random_rbm(10**6, 10**6), "n_visible and n_hidden"),
    (lambda: ch02.digit_grid_figure(np.zeros((20_000, 64)), n_cols=1), "images: 20,000 tiles"),
    (lambda: ch02.misleading_pair(pd.DataFrame({"final reconstruction error": np.zeros(3000),
                                                "final log-likelihood": np.zeros(3000)})),
     "at most 2,000 runs"),
])
def test_huge_settings_are_refused_before_any_work(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("which", ["v", "h", "W", "b", "c"])
def test_energy_refuses_nan(which):
    args = dict(v=np.ones((2, 3)), h=np.ones((2, 2)), W=np.ones((2, 3)), b=np.ones(3), c=np.ones(2))
    args[which] = np.full_like(args[which], np.nan)
    with pytest.raises(ValueError, match=f"{which} contains NaN"):
        ch02.energy(**args)


def test_energy_overflow_is_reported():
    with pytest.raises(ValueError, match="overflows"):
        ch02.energy(np.ones((1, 2)), np.ones((1, 1)), np.full((1, 2), 1e308), np.ones(2),
                    np.ones(1))


def test_a_learning_rate_beyond_float32_weights_is_refused():
    with pytest.raises(ValueError, match="lr must be a finite number > 0 and <= 1e"):
        ch02.bas_learning_curve("CD-1", 1e300, 3, epochs=2, repeats=1)


def test_rbm_vs_pixels_on_a_few_training_images():
    table = ch02.rbm_vs_pixels(epochs=1, n_train=100)
    assert table["features"].tolist() == ["raw pixels", "RBM features"]
    assert table["accuracy"].between(0, 1).all()
    with pytest.raises(ValueError, match="n_train must be at most 7185"):
        ch02.rbm_vs_pixels("leak-free", epochs=1, n_train=7188)
