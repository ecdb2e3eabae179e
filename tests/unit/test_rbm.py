"""Tests of gradbook.models.rbm: the maths by enumeration on tiny models, the
sampler against exact distributions, CD on bars and stripes, parity with
scikit-learn's BernoulliRBM, scikit-learn's estimator checks, bad inputs, and
the fast paths against the plain versions beside them (cd_update,
free_energy, ais_log_partition)."""

from __future__ import annotations

import itertools
import pickle
import re

import numpy as np
import pytest
import scipy.sparse
import torch
from scipy.special import expit, logsumexp
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import BernoulliRBM as SkBernoulliRBM
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from gradbook.models.rbm import (
    MAX_ENUMERATED_UNITS,
    BernoulliRBM,
    CDUpdate,
    ais_log_partition,
    cd_update,
    free_energy,
    uniform_from_bits,
)
from gradbook.data import bars_and_stripes

QUIET = {"progress": False}


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """scikit-learn's test data: the 8x8 digits scaled to [0, 1]."""
    X = load_digits().data
    return (X - X.min()) / (X.max() - X.min())


def states(n: int) -> np.ndarray:
    """All 2**n binary vectors, (2**n, n) float64."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def tiny_rbm(n_visible: int, n_hidden: int, seed: int, scale: float = 1.5) -> BernoulliRBM:
    """A 'fitted' RBM with random parameters of order ``scale``."""
    rng = np.random.default_rng(seed)
    rbm = BernoulliRBM(n_hidden, n_iter=0, random_state=seed, **QUIET)
    rbm.fit(np.zeros((1, n_visible)))
    rbm.components_ = (scale * rng.standard_normal((n_hidden, n_visible))).astype(np.float32)
    rbm.intercept_visible_ = (scale * rng.standard_normal(n_visible)).astype(np.float32)
    rbm.intercept_hidden_ = (scale * rng.standard_normal(n_hidden)).astype(np.float32)
    return rbm


def joint(rbm: BernoulliRBM) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Brute force: all v, all h, and p(v, h) as a (2**n, 2**m) table from the energy."""
    W, b, c = (np.asarray(a, dtype=np.float64) for a in
               (rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_))
    V, H = states(W.shape[1]), states(W.shape[0])
    minus_energy = (V @ b)[:, None] + (H @ c)[None, :] + V @ W.T @ H.T  # -E(v, h)
    return V, H, np.exp(minus_energy - logsumexp(minus_energy))


def copy_to_sklearn(rbm: BernoulliRBM, random_state: int = 0) -> SkBernoulliRBM:
    """A scikit-learn BernoulliRBM holding our parameters (in float64)."""
    sk = SkBernoulliRBM(rbm.n_components, n_iter=0, random_state=random_state)
    sk.fit(np.zeros((1, rbm.n_features_in_)))  # sets the attributes, overwritten below
    sk.components_ = rbm.components_.astype(np.float64)
    sk.intercept_visible_ = rbm.intercept_visible_.astype(np.float64)
    sk.intercept_hidden_ = rbm.intercept_hidden_.astype(np.float64)
    return sk


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    return 0.5 * float(np.abs(p - q).sum())


def frequencies(samples: np.ndarray) -> np.ndarray:
    """Empirical distribution of binary rows over all 2**n states (in `states` order)."""
    n = samples.shape[1]
    index = samples.astype(np.int64) @ (2 ** np.arange(n - 1, -1, -1))
    return np.bincount(index, minlength=2**n) / len(samples)


# ----------------------------------------------------------------- bars and stripes
def test_bars_and_stripes_patterns():
    X = bars_and_stripes(3)
    assert X.shape == (14, 9) and X.dtype == np.float32
    assert len(np.unique(X, axis=0)) == 14
    grids = X.reshape(-1, 3, 3)
    rows_constant = (grids == grids[:, :, :1]).all(axis=(1, 2))
    cols_constant = (grids == grids[:, :1, :]).all(axis=(1, 2))
    assert (rows_constant | cols_constant).all()
    assert rows_constant.sum() == 8 and cols_constant.sum() == 8  # empty and full are both
    assert len(bars_and_stripes(4)) == 30 and len(bars_and_stripes(1)) == 2


def test_bars_and_stripes_samples_seeded():
    a = bars_and_stripes(3, 500, seed=1)
    assert a.shape == (500, 9)
    assert np.array_equal(a, bars_and_stripes(3, 500, seed=1))
    assert not np.array_equal(a, bars_and_stripes(3, 500, seed=2))
    patterns = {tuple(r) for r in bars_and_stripes(3)}
    assert {tuple(r) for r in a} == patterns  # 500 draws from 14 patterns hit them all


@pytest.mark.parametrize("kwargs", [{"size": 0}, {"size": 13}, {"size": 3, "n_samples": 0},
                                    {"size": 3, "n_samples": 5, "seed": -1}])
def test_bars_and_stripes_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        bars_and_stripes(**kwargs)


# ------------------------------------------------------------- maths by enumeration
def test_conditionals_and_free_energy_match_brute_force():
    rbm = tiny_rbm(4, 3, seed=0)
    V, H, p = joint(rbm)
    p_h_given_v = p / p.sum(axis=1, keepdims=True)  # (2**n, 2**m)
    np.testing.assert_allclose(rbm.transform(V), p_h_given_v @ H, atol=2e-6)
    # P(v_i = 1 | h) is what gibbs and the sampler draw from: the brute-force
    # conditional equals the sigmoid formula of the docstring.
    p_v_given_h = p / p.sum(axis=0, keepdims=True)
    W, b = rbm.components_.astype(np.float64), rbm.intercept_visible_.astype(np.float64)
    np.testing.assert_allclose(p_v_given_h.T @ V, expit(b + H @ W), atol=1e-9)
    # F(v) = -log sum_h exp(-E(v, h)), up to the same log Z for every v.
    log_p_v = np.log(p.sum(axis=1))
    np.testing.assert_allclose(-rbm.free_energy(V) - rbm.log_partition(), log_p_v, atol=1e-9)


@pytest.mark.parametrize("n_visible, n_hidden", [(5, 3), (3, 5), (4, 4)])
def test_log_partition_matches_double_sum(n_visible, n_hidden):
    rbm = tiny_rbm(n_visible, n_hidden, seed=n_visible)
    W, b, c = (np.asarray(a, dtype=np.float64) for a in
               (rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_))
    V, H = states(n_visible), states(n_hidden)
    brute = logsumexp((V @ b)[:, None] + (H @ c)[None, :] + V @ W.T @ H.T)
    assert rbm.log_partition() == pytest.approx(brute, abs=1e-10)
    assert rbm.log_partition(layer="visible") == pytest.approx(brute, abs=1e-10)
    assert rbm.log_partition(layer="hidden") == pytest.approx(brute, abs=1e-10)
    log_p = rbm.log_likelihood(V)
    assert log_p.shape == (2**n_visible,) and log_p.dtype == np.float64
    assert logsumexp(log_p) == pytest.approx(0.0, abs=1e-10)
    np.testing.assert_allclose(rbm.log_likelihood(V, log_z=brute), log_p, atol=1e-10)


def test_log_partition_chunks_large_layer_enumeration():
    # 2**12 states in chunks: agrees with the other direction and with a plain sum.
    rbm = tiny_rbm(12, 3, seed=3, scale=0.5)
    assert rbm.log_partition(layer="visible") == pytest.approx(
        rbm.log_partition(layer="hidden"), abs=1e-9)


def test_log_partition_refuses_large_layers():
    rbm = tiny_rbm(MAX_ENUMERATED_UNITS + 1, MAX_ENUMERATED_UNITS + 1, seed=0, scale=0.1)
    with pytest.raises(ValueError, match="limited to 20 units"):
        rbm.log_partition()
    small_hidden = tiny_rbm(MAX_ENUMERATED_UNITS + 1, 2, seed=0, scale=0.1)
    with pytest.raises(ValueError, match="visible layer, 21 units"):
        small_hidden.log_partition(layer="visible")
    with pytest.raises(ValueError, match="layer must be one of"):
        small_hidden.log_partition(layer="both")
    with pytest.raises(ValueError, match="limited to 20 units"):
        rbm.log_likelihood(np.zeros((1, 21)))


# ------------------------------------------------------------------------ sampling
def test_gibbs_step_matches_exact_kernel_and_sklearn():
    rbm = tiny_rbm(3, 2, seed=1)
    V, H, p = joint(rbm)
    kernel = (p / p.sum(axis=1, keepdims=True)) @ (p / p.sum(axis=0, keepdims=True)).T
    sk = copy_to_sklearn(rbm)
    n = 20_000
    for start in (0, 5):  # v = 000 and v = 101
        X = np.repeat(V[start:start + 1], n, axis=0)
        ours = rbm.gibbs(X)
        assert ours.shape == X.shape and ours.dtype == np.float32
        assert set(np.unique(ours)) <= {0.0, 1.0}
        assert total_variation(frequencies(ours), kernel[start]) < 0.02
        theirs = sk.gibbs(X).astype(np.float64)
        assert total_variation(frequencies(theirs), kernel[start]) < 0.02


def test_sample_matches_exact_distribution():
    rbm = tiny_rbm(4, 3, seed=2, scale=1.0)
    exact = np.exp(rbm.log_likelihood(states(4)))
    samples = rbm.sample(20_000, 30, seed=0)
    assert samples.shape == (20_000, 4) and samples.dtype == np.float32
    assert total_variation(frequencies(samples), exact) < 0.03
    means = rbm.sample(5, 3, seed=0, probabilities=True)
    assert ((means > 0) & (means < 1)).all()
    assert np.array_equal(rbm.sample(50, 5, seed=4), rbm.sample(50, 5, seed=4))
    assert not np.array_equal(rbm.sample(50, 5, seed=4), rbm.sample(50, 5, seed=5))


def test_gibbs_reproduces_input_when_weights_are_strong():
    # scikit-learn's test_fit_gibbs asserts gibbs([[0], [1]]) == [[0], [1]] after
    # 42 PCD epochs. There the weights end near 0.02, so each row is kept with
    # probability about 1/2, and the test passes by its seed (its comment says
    # so). What the assertion means holds when the weights are strong: one
    # hidden unit for each value, and a Gibbs step returns the input.
    X = np.array([[0.0], [1.0]])
    rbm = BernoulliRBM(2, n_iter=0, random_state=0, **QUIET).fit(X)
    rbm.components_ = np.array([[20.0], [-20.0]], dtype=np.float32)
    rbm.intercept_hidden_ = np.array([-10.0, 10.0], dtype=np.float32)
    for _ in range(20):
        assert np.array_equal(rbm.gibbs(X), X)
    # And scikit-learn's setting: small weights, a step keeps each row with
    # probability near 1/2, in both implementations.
    ours = BernoulliRBM(2, batch_size=2, n_iter=42, random_state=42, persistent=True,
                        **QUIET).fit(X)
    theirs = SkBernoulliRBM(2, batch_size=2, n_iter=42, random_state=42).fit(X)
    for model in (ours, theirs):
        assert np.abs(model.components_).max() < 0.1
        p_h = expit(X @ model.components_.T + model.intercept_hidden_)  # (2, 2)
        p_v1 = {h: expit(model.intercept_visible_ + np.array(h) @ model.components_)[0]
                for h in itertools.product([0, 1], repeat=2)}
        for row, x in enumerate(X[:, 0]):
            keep = sum(np.prod(np.where(h, p_h[row], 1 - p_h[row])) *
                       (p_v1[h] if x else 1 - p_v1[h]) for h in p_v1)
            assert 0.4 < keep < 0.6


# ------------------------------------------------------------------------- learning
def exact_cd_update(rbm: BernoulliRBM, X: np.ndarray, k: int, chains: np.ndarray | None):
    """Expected change of (W, b, c) for one update at learning rate 1, by enumeration."""
    V, H, p = joint(rbm)
    p_h_v = p / p.sum(axis=1, keepdims=True)  # P(h | v), rows v
    p_v_h = (p / p.sum(axis=0, keepdims=True)).T  # P(v | h), rows h
    mean_h = p_h_v @ H  # E[h | v] for every v
    row_of = {tuple(v): i for i, v in enumerate(V)}
    data = np.array([row_of[tuple(x)] for x in X])
    pos_W = (mean_h[data].T @ X) / len(X)
    pos_b, pos_c = X.mean(axis=0), mean_h[data].mean(axis=0)
    if chains is None:  # CD-k: from the data, k steps of the v -> v kernel
        dist = np.eye(len(V))[data] @ np.linalg.matrix_power(p_h_v @ p_v_h, k)
    else:  # PCD-k: from hidden states, v ~ P(v | h), then k - 1 more steps
        hidden = np.array([int("".join(str(int(x)) for x in h), 2) for h in chains])
        dist = np.eye(len(H))[hidden] @ p_v_h @ np.linalg.matrix_power(p_h_v @ p_v_h, k - 1)
    weight = dist.mean(axis=0)  # probability of each negative v
    neg_W = (mean_h * weight[:, None]).T @ V
    neg_b, neg_c = weight @ V, weight @ mean_h
    return pos_W - neg_W, pos_b - neg_b, pos_c - neg_c


@pytest.mark.parametrize("k, persistent", [(1, False), (2, False), (1, True), (3, True)])
def test_one_update_matches_expected_cd_gradient(k, persistent):
    rbm = tiny_rbm(3, 2, seed=4, scale=1.0)
    rbm.set_params(k=k, persistent=persistent, learning_rate=1.0)
    n = 40_000
    X = states(3)[np.arange(n) % 3 + 2]  # three patterns, many copies
    chains = None
    if persistent:
        chains = states(2)[np.arange(n) % 4]
        rbm.h_samples_ = chains.astype(np.float32)
    before = [np.array(a, dtype=np.float64) for a in
              (rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_)]
    expected = exact_cd_update(rbm, X, k, chains)
    rbm.partial_fit(X)
    after = (rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_)
    for old, new, change in zip(before, after, expected):
        np.testing.assert_allclose(new - old, change, atol=0.015)  # about 6 standard errors
    if persistent:  # the chains moved on: h ~ P(h | v_negative)
        assert rbm.h_samples_.shape == (n, 2) and not np.array_equal(rbm.h_samples_, chains)


@pytest.mark.parametrize("params", [
    {},  # CD-1
    {"k": 3},
    {"persistent": True},
    {"momentum": 0.5, "weight_decay": 1e-4},
])
def test_training_raises_exact_log_likelihood_on_bars_and_stripes(params):
    X = np.tile(bars_and_stripes(3), (10, 1))
    record = []
    rbm = BernoulliRBM(16, learning_rate=0.3, batch_size=10, n_iter=60, random_state=0,
                       callback=lambda model, epoch: record.append(
                           model.log_likelihood(X).mean()), **QUIET, **params)
    initial = BernoulliRBM(16, n_iter=0, random_state=0, **QUIET).fit(X).log_likelihood(X).mean()
    rbm.fit(X)
    assert len(record) == 60
    assert initial == pytest.approx(9 * np.log(0.5), abs=0.05)  # near-uniform start
    assert record[-1] > initial + 1.5  # the optimum is log(1/14) = -2.64
    assert max(record[-10:]) > np.mean(record[:5])


def test_weight_decay_shrinks_weights():
    X = np.tile(bars_and_stripes(3), (10, 1))
    norms = [np.linalg.norm(BernoulliRBM(16, n_iter=20, random_state=0, weight_decay=wd,
                                         **QUIET).fit(X).components_) for wd in (0.0, 0.1)]
    assert norms[1] < 0.8 * norms[0]


def test_fit_restores_torch_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        BernoulliRBM(4, n_iter=1, random_state=0, **QUIET).fit(bars_and_stripes(3))
        assert torch.get_num_threads() == 2  # small products ran on one thread, then back
    finally:
        torch.set_num_threads(before)


def test_history_callback_and_verbose(capsys):
    X = np.tile(bars_and_stripes(2), (5, 1))
    seen = []
    rbm = BernoulliRBM(3, n_iter=4, random_state=0, verbose=1,
                       callback=lambda model, epoch: seen.append(epoch), **QUIET).fit(X)
    assert seen == [1, 2, 3, 4]
    assert rbm.history_["epoch"] == [1, 2, 3, 4]
    assert np.all(np.diff(rbm.history_["seconds"]) > 0)
    assert np.isfinite(rbm.history_["pseudo_likelihood"]).all()
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    assert re.match(r"\[BernoulliRBM\] Iteration 1, pseudo-likelihood = -?\d+\.\d+, "
                    r"time = [\d.]+s", lines[0])


# ----------------------------------------------------------- parity with scikit-learn
def test_initial_weights_are_sklearns(digits):
    ours = BernoulliRBM(64, n_iter=0, random_state=9, **QUIET).fit(digits)
    theirs = SkBernoulliRBM(64, n_iter=0, random_state=9).fit(digits)
    np.testing.assert_allclose(ours.components_, theirs.components_, rtol=1e-6)
    assert not ours.intercept_hidden_.any() and not ours.intercept_visible_.any()


def test_transform_free_energy_and_score_samples_equal_sklearns(digits):
    rbm = BernoulliRBM(16, n_iter=2, random_state=3, **QUIET).fit(digits[:200])
    sk = copy_to_sklearn(rbm, random_state=3)
    X = digits[200:300]
    np.testing.assert_allclose(rbm.transform(X), sk.transform(X), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(rbm.free_energy(X), sk._free_energy(X), rtol=1e-10)
    # Same random_state: the same unit is flipped in each row, number for number.
    np.testing.assert_allclose(rbm.score_samples(X), sk.score_samples(X), rtol=1e-10)
    assert rbm.transform(X).dtype == np.float32


def test_pseudo_likelihood_in_sklearns_band(digits):
    # scikit-learn's test_fit: 64 components, learning rate 0.1, batch 10,
    # 7 iterations, random_state 9, expects -21 to decimal=0 (within 1.5).
    settings = dict(n_components=64, learning_rate=0.1, batch_size=10, n_iter=7, random_state=9)
    X = digits.copy()
    ours = BernoulliRBM(persistent=True, **settings, **QUIET).fit(X)
    assert abs(ours.score_samples(X).mean() + 21.0) < 1.5
    assert np.array_equal(X, digits)  # the input is not modified
    cd = BernoulliRBM(**settings, **QUIET).fit(X)
    assert abs(cd.score_samples(X).mean() + 21.0) < 1.5


def test_partial_fit_in_sklearns_band(digits):
    # scikit-learn's test_partial_fit: batches of 20 fed by hand, 7 passes.
    rbm = BernoulliRBM(64, learning_rate=0.1, batch_size=20, random_state=9, persistent=True,
                       **QUIET)
    for _ in range(7):
        for batch in np.array_split(digits, int(np.ceil(len(digits) / 20))):
            rbm.partial_fit(batch)
    assert abs(rbm.score_samples(digits).mean() + 21.0) < 1.5


def test_pipeline_clone_pickle_and_feature_names(digits):
    y = load_digits().target
    pipe = Pipeline([("rbm", BernoulliRBM(64, learning_rate=0.06, n_iter=10, random_state=0,
                                          **QUIET)),
                     ("logistic", LogisticRegression(max_iter=500))])
    with threadpool_limits(1):  # lbfgs on two BLAS threads crawls on a busy 2-core machine
        pipe.fit(digits[:1000], y[:1000])
        assert pipe.score(digits[1000:], y[1000:]) > 0.75  # 0.79 measured
    rbm = pipe.named_steps["rbm"]
    assert list(rbm.get_feature_names_out()[:2]) == ["bernoullirbm0", "bernoullirbm1"]
    twin = clone(rbm)
    assert twin.get_params() == rbm.get_params() and not hasattr(twin, "components_")
    restored = pickle.loads(pickle.dumps(rbm))
    np.testing.assert_array_equal(restored.transform(digits[:5]), rbm.transform(digits[:5]))


# -------------------------------------------------------------------- reproducibility
@pytest.mark.parametrize("persistent", [False, True])
def test_same_seed_same_numbers(digits, persistent):
    def run(seed):
        rbm = BernoulliRBM(20, n_iter=2, random_state=seed, persistent=persistent,
                           momentum=0.5, **QUIET).fit(digits[:300])
        return rbm, rbm.gibbs(digits[:10]), rbm.score_samples(digits[:50])

    (a, gibbs_a, score_a), (b, gibbs_b, score_b) = run(5), run(5)
    for name in ("components_", "intercept_hidden_", "intercept_visible_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.history_["pseudo_likelihood"] == b.history_["pseudo_likelihood"]
    np.testing.assert_array_equal(gibbs_a, gibbs_b)
    np.testing.assert_array_equal(score_a, score_b)
    c = run(6)[0]
    assert not np.array_equal(a.components_, c.components_)
    assert hasattr(a, "h_samples_") == persistent


def test_gibbs_stream_moves_on(digits):
    rbm = BernoulliRBM(42, batch_size=40, n_iter=3, random_state=42, **QUIET).fit(digits)
    first, second = rbm.gibbs(digits), rbm.gibbs(digits)
    assert np.isfinite(first).all()
    assert (first != second).any(axis=1).all()  # as scikit-learn's test_gibbs_smoke


def test_partial_fit_continues_fit_reproducibly(digits):
    def run():
        rbm = BernoulliRBM(10, n_iter=1, random_state=0, persistent=True, momentum=0.9,
                           **QUIET).fit(digits[:100])
        for start in range(0, 100, 25):
            rbm.partial_fit(digits[start:start + 25])
        return rbm.components_

    np.testing.assert_array_equal(run(), run())


# ------------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("X, error, message", [
    (np.full((3, 2), 1.5), ValueError, r"must lie in \[0, 1\]"),
    (np.full((3, 2), -0.1), ValueError, r"must lie in \[0, 1\]"),
    (np.array([[0.5, np.nan]]), ValueError, "NaN"),
    (np.array([[0.5, np.inf]]), ValueError, "infinite"),
    (np.empty((0, 3)), ValueError, "empty"),
    (np.array([0.0, 1.0, 1.0]), ValueError, "2-D"),
    (np.zeros((2, 2, 2)), ValueError, "2-D"),
    (np.array([["a", "b"]]), TypeError, "numeric"),
])
def test_fit_rejects_bad_input(X, error, message):
    with pytest.raises(error, match=message):
        BernoulliRBM(2, **QUIET).fit(X)


def test_fitted_methods_reject_bad_input():
    rbm = tiny_rbm(3, 2, seed=0)
    with pytest.raises(ValueError, match="X has 4 features, but BernoulliRBM is expecting 3"):
        rbm.transform(np.zeros((2, 4)))
    for method in (rbm.transform, rbm.gibbs, rbm.free_energy, rbm.score_samples,
                   rbm.log_likelihood, rbm.partial_fit):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            method(np.full((2, 3), 2.0))
        with pytest.raises(ValueError, match="NaN"):
            method(np.full((2, 3), np.nan))
    with pytest.raises(TypeError, match="sparse input is not supported"):
        BernoulliRBM(2, **QUIET).fit(scipy.sparse.csr_matrix(np.eye(3)))


def test_unfitted_model_raises_not_fitted():
    rbm = BernoulliRBM(2)
    X = np.zeros((1, 3))
    for call in (lambda: rbm.transform(X), lambda: rbm.gibbs(X), lambda: rbm.free_energy(X),
                 lambda: rbm.score_samples(X), lambda: rbm.log_likelihood(X),
                 lambda: rbm.log_partition(), lambda: rbm.sample(1, 1)):
        with pytest.raises(NotFittedError):
            call()


@pytest.mark.parametrize("params, error", [
    ({"learning_rate": -0.1}, ValueError), ({"learning_rate": 0.0}, ValueError),
    ({"k": 0}, ValueError), ({"k": 1.5}, TypeError), ({"n_components": 0}, ValueError),
    ({"batch_size": 0}, ValueError), ({"n_iter": -1}, ValueError),
    ({"momentum": 1.0}, ValueError), ({"momentum": -0.1}, ValueError),
    ({"weight_decay": -1e-3}, ValueError), ({"random_state": -1}, ValueError),
    ({"random_state": "seed"}, TypeError), ({"persistent": "yes"}, TypeError),
    ({"callback": 3}, TypeError), ({"progress": "sometimes"}, ValueError),
    ({"verbose": -1}, ValueError), ({"learning_rate": float("nan")}, ValueError),
])
def test_bad_parameters_raise_at_fit(params, error):
    rbm = BernoulliRBM(**{"n_components": 2, **params})  # the constructor only stores them
    with pytest.raises(error):
        rbm.fit(np.zeros((2, 2)))
    with pytest.raises(error):
        clone(rbm).partial_fit(np.zeros((2, 2)))


def test_sample_rejects_bad_arguments():
    rbm = tiny_rbm(3, 2, seed=0)
    for args, kwargs in [((0, 1), {}), ((1, -1), {}), ((1, 1), {"seed": -3})]:
        with pytest.raises(ValueError):
            rbm.sample(*args, **kwargs)


# ----------------------------------------------------- scikit-learn's estimator checks
def _squash(X):
    """Map finite values into (0, 1) with the logistic function, keeping the container."""
    if hasattr(X, "iloc"):  # a DataFrame: keep the column names
        return 1 / (1 + np.exp(-X))
    try:
        arr = np.asarray(X)
    except Exception:
        return X
    if arr.dtype.kind not in "biuf" or arr.ndim == 0:
        return X  # sparse, complex, object, strings: let the estimator judge them
    with np.errstate(over="ignore"):
        return np.where(np.isfinite(arr), expit(arr.astype(np.float64)), arr)


class SquashedRBM(BernoulliRBM):
    """The estimator behind a logistic map of its input, for scikit-learn's checks.

    The checks draw data from normal or uniform(0, 3) distributions; an RBM
    wants [0, 1] and rejects the rest. Squashing each value elementwise keeps
    everything the checks test (shapes, counts, order and subset invariance,
    idempotence, pickling, cloning, NaN and inf rejection), so that they can
    exercise the estimator itself rather than only the range check.
    """

    def fit(self, X, y=None):
        return super().fit(_squash(X), y)

    def partial_fit(self, X, y=None):
        return super().partial_fit(_squash(X), y)

    def transform(self, X):
        return super().transform(_squash(X))

    def score_samples(self, X):
        return super().score_samples(_squash(X))


# Checks that fail on wording or type only: the messages come from
# gradbook._validate, which says what it expected in its own words.
_WORDING = {
    "check_estimators_empty_data_messages":
        "_validate says 'X has 0 features', not scikit-learn's '0 feature(s) (shape=...)'",
    "check_complex_data":
        "_validate raises TypeError('X must be real-valued'), not ValueError('Complex data...')",
    "check_dtype_object":
        "_validate rejects object arrays, even of numbers: nothing is converted silently",
    "check_fit2d_predict1d":
        "_validate says 'X must be 2-D, of shape (n_samples, n_features)', not 'Reshape your data'",
    # score_samples flips one random unit per row, drawn by row position, so it
    # changes when rows are reordered or subset. That is scikit-learn's own
    # definition, and scikit-learn expects these two checks to fail for its
    # BernoulliRBM as well (sklearn/utils/_test_common/instance_generator.py).
    "check_methods_sample_order_invariance": "score_samples flips a random unit per row",
    "check_methods_subset_invariance": "score_samples flips a random unit per row",
}
# Checks whose data lie outside [0, 1]: the real estimator rightly rejects it.
_RANGE = {name: "the check's data lie outside [0, 1]" for name in (
    "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self", "check_readonly_memmap_input",
    "check_n_features_in_after_fitting", "check_positive_only_tag_during_fit",
    "check_estimators_dtypes", "check_pipeline_consistency", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_transformer_data_not_an_array",
    "check_transformer_general", "check_transformer_preserve_dtypes",
    "check_fit2d_1sample", "check_fit2d_1feature", "check_dict_unchanged",
    "check_fit_idempotent", "check_fit_check_is_fitted", "check_n_features_in",
)}


def _expected_failures(estimator):
    if isinstance(estimator, SquashedRBM):
        return _WORDING
    return {**_WORDING, **_RANGE}


@parametrize_with_checks(
    [BernoulliRBM(4, n_iter=2, random_state=0, progress=False),
     SquashedRBM(4, n_iter=2, random_state=0, progress=False)],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_one_large_batch_update_is_exact_to_float32_rounding():
    """The update of a batch of 80,000 rows equals the float64 sum of its terms
    to within one float32 unit of A. (Adding the product into A with
    alpha = lr / rows, as before, was off by about 10 units: float32 rounding
    at every block of rows.)"""
    from gradbook.models.rbm import _ContrastiveDivergence

    rows, lr = 80_000, 1e-3
    X = (np.random.default_rng(0).random((rows, 40)) < 0.3).astype(np.float32)
    rbm = BernoulliRBM(n_components=24, learning_rate=lr, batch_size=rows, n_iter=1,
                       random_state=0, progress=False)
    rbm._initialise(40)
    with torch.inference_mode():
        trainer = _ContrastiveDivergence(rbm, torch.as_tensor(X), rows)
        before = trainer.A.double().clone()
        trainer.epoch()
    batch = trainer.batches[0]
    gradient = (batch.h_pos_T.double() @ batch.v.double()
                - batch.h_neg_T.double() @ batch.v_neg.double())
    expected = before + lr / rows * gradient
    unit = float(expected.abs().max()) * 2.0**-23
    assert float((trainer.A.double() - expected).abs().max()) <= 1.0 * unit


# ---------------------------------------------------------------- AIS


@pytest.fixture(scope="module")
def binary_digits_rbm():
    X = (load_digits().data / 16 > 0.5).astype(np.float32)
    rbm = BernoulliRBM(n_components=16, learning_rate=0.05, batch_size=20, n_iter=10,
                       random_state=0, progress=False).fit(X)
    return rbm, X


def test_ais_schedule_runs_from_zero_to_one():
    from gradbook.models.rbm import _ais_schedule

    for n_betas in (3, 100, 14_500):
        betas = _ais_schedule(n_betas)
        assert len(betas) == n_betas + 1
        assert float(betas[0]) == 0.0 and float(betas[-1]) == 1.0
        assert bool((betas.diff() > 0).all())


def test_ais_matches_exact_log_partition(binary_digits_rbm):
    rbm, X = binary_digits_rbm
    exact = rbm.log_partition()  # 2**16 hidden states
    estimate = rbm.ais_log_partition(X, n_betas=2000, random_state=0)
    assert abs(estimate.log_z - exact) < 0.1  # measured: about 0.01
    assert estimate.low <= exact <= estimate.high
    uniform = rbm.ais_log_partition(None, n_betas=2000, random_state=0)
    assert abs(uniform.log_z - exact) < 0.3
    # A base model fitted to the data gives tighter bounds than the uniform one.
    assert estimate.high - estimate.low < uniform.high - uniform.low
    ll = rbm.log_likelihood(X[:50], log_z=estimate.log_z)
    np.testing.assert_allclose(ll, rbm.log_likelihood(X[:50]), atol=0.1)


def test_ais_is_seeded(binary_digits_rbm):
    rbm, X = binary_digits_rbm
    first = rbm.ais_log_partition(X, n_runs=10, n_betas=50, random_state=3)
    assert first == rbm.ais_log_partition(X, n_runs=10, n_betas=50, random_state=3)
    assert first != rbm.ais_log_partition(X, n_runs=10, n_betas=50, random_state=4)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(n_runs=1), ValueError, "n_runs must be an integer >= 2"),
    (dict(n_betas=2), ValueError, "n_betas must be an integer >= 3"),
    (dict(n_betas=10.0), TypeError, "n_betas must be an integer"),
    (dict(random_state=-1), ValueError, "random_state must be an integer >= 0"),
])
def test_ais_rejects_bad_settings(binary_digits_rbm, kwargs, error, message):
    rbm, X = binary_digits_rbm
    with pytest.raises(error, match=message):
        rbm.ais_log_partition(X, **kwargs)


def test_ais_rejects_bad_base_data(binary_digits_rbm):
    rbm, X = binary_digits_rbm
    with pytest.raises(ValueError, match="X_base"):
        rbm.ais_log_partition(X * 2.0)
    with pytest.raises(ValueError, match="features"):
        rbm.ais_log_partition(X[:, :10])
    with pytest.raises(NotFittedError):
        BernoulliRBM().ais_log_partition()


# ------------------------------------------- the fast paths against the plain versions
# BernoulliRBM trains with _ContrastiveDivergence.update (one augmented matrix,
# buffers, random numbers drawn in blocks); the chapter shows cd_update. They
# must agree to float32 rounding when they start from the same state and
# consume the same uniform numbers.

EPS32 = 2.0**-23


def ulps(got: torch.Tensor, expected: torch.Tensor, scale: float) -> float:
    """Largest difference, in float32 units (2**-23) of ``scale``."""
    return float((got.double() - expected.double()).abs().max()) / (scale * EPS32)


def parts(A: torch.Tensor, m: int, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(W, b, c) of the fast path's augmented matrix [[W, c], [b, 0]] (or of its velocity)."""
    return A[:m, :n], A[m, :n], A[:m, n]


def recorded_fit(monkeypatch, X: np.ndarray, **params) -> tuple[BernoulliRBM, list[dict]]:
    """Fit a BernoulliRBM and record each fast update: the state before, the uniform
    numbers it consumed, and the state after."""
    from gradbook.models.rbm import _ContrastiveDivergence

    records, fast_update = [], _ContrastiveDivergence.update

    def update(trainer, batch, u_vis, u_hid):
        m, n, chains = trainer.n_hidden, trainer.n_visible, batch.chain.shape[0]
        velocity = None if trainer.velocity is None else parts(trainer.velocity.clone(), m, n)
        record = {"v": batch.v[:, :n].clone(), "before": parts(trainer.A.clone(), m, n),
                  "chains": trainer.chain[:chains, :m].clone(), "velocity": velocity,
                  "u_vis": [u.clone() for u in u_vis], "u_hid": [u.clone() for u in u_hid]}
        fast_update(trainer, batch, u_vis, u_hid)
        record["after"] = parts(trainer.A.clone(), m, n)
        record["chains_after"] = batch.chain_h.clone()
        records.append(record)

    monkeypatch.setattr(_ContrastiveDivergence, "update", update)
    rbm = BernoulliRBM(**params, progress=False).fit(X)
    monkeypatch.undo()
    return rbm, records


PLAIN_CASES = [
    {},  # CD-1
    {"k": 3},
    {"persistent": True},  # PCD-1: 10 chains, and 3 rows in the last batch
    {"persistent": True, "k": 2},
    {"weight_decay": 0.05},
    {"momentum": 0.5, "weight_decay": 0.01},
    {"persistent": True, "k": 2, "momentum": 0.9, "weight_decay": 0.1, "learning_rate": 0.5},
]


def plain_data() -> np.ndarray:
    """53 binary rows of 12 pixels: batches of 10 leave a short last batch of 3."""
    return (np.random.default_rng(1).random((53, 12)) < 0.4).astype(np.float32)


def plain_params(case: dict) -> dict:
    return {"n_components": 7, "batch_size": 10, "n_iter": 3, "random_state": 0,
            "learning_rate": 0.3, **case}


def plain_update(record: dict, params: dict, **changes) -> CDUpdate:
    """cd_update from a record's state before, with the numbers the fast path consumed."""
    kwargs = {"lr": params["learning_rate"], "momentum": params.get("momentum", 0.0),
              "weight_decay": params.get("weight_decay", 0.0), "velocity": record["velocity"],
              "chains": record["chains"] if params.get("persistent") else None, **changes}
    return cd_update(record["v"], *record["before"], record["u_hid"], record["u_vis"], **kwargs)


def update_scale(record: dict, params: dict, i: int) -> float:
    """Size of the numbers one parameter's update adds: |theta| + lr + momentum |velocity|
    (the statistics lie in [0, 1])."""
    scale = float(record["before"][i].abs().max()) + params["learning_rate"]
    if record["velocity"] is not None:
        scale += params["momentum"] * float(record["velocity"][i].abs().max())
    return scale


@pytest.mark.parametrize("case", PLAIN_CASES)
def test_each_fast_update_equals_cd_update(monkeypatch, case):
    """Every update of a fit (18 of them, over 3 epochs) from the same state and the same
    uniform numbers: parameters within 4 float32 units (measured: under 1), persistent
    chains exactly equal."""
    params = plain_params(case)
    _, records = recorded_fit(monkeypatch, plain_data(), **params)
    assert len(records) == 18 and len(records[-1]["v"]) == 3
    for record in records:
        plain = plain_update(record, params)
        for i, name in enumerate("Wbc"):
            error = ulps(plain[i], record["after"][i], update_scale(record, params, i))
            assert error <= 4, f"{name}: {error:.1f} float32 units"
        if params.get("persistent"):
            assert torch.equal(plain.chains, record["chains_after"])
        else:
            assert plain.chains is None


@pytest.mark.parametrize("slip", ["sign", "no 1/B", "one Gibbs step", "no momentum"])
def test_the_comparison_catches_wrong_updates(monkeypatch, slip):
    """The tolerance above is tight enough to catch the usual slips: a sign error, a
    missing 1/B, a Gibbs step too few, a forgotten velocity."""
    params = plain_params({"persistent": True, "k": 2, "momentum": 0.5})
    _, records = recorded_fit(monkeypatch, plain_data(), **params)
    record, lr = records[-2], params["learning_rate"]  # a full batch, 10 rows
    if slip == "sign":  # the step taken the wrong way: theta - (the right step)
        right = plain_update(record, params)
        wrong = [2 * before - after for before, after in zip(record["before"], right[:3])]
    elif slip == "no 1/B":
        wrong = plain_update(record, params, lr=lr * len(record["v"]))
    elif slip == "one Gibbs step":
        wrong = plain_update({**record, "u_vis": record["u_vis"][:1],
                              "u_hid": record["u_hid"][:1]}, params)
    else:
        wrong = plain_update(record, params, momentum=0.0)
    errors = [ulps(wrong[i], record["after"][i], update_scale(record, params, i))
              for i in range(3)]
    assert max(errors) > 1000


@pytest.mark.parametrize("case", PLAIN_CASES)
def test_cd_update_alone_retraces_fit(case):
    """cd_update chained over a whole fit (3 epochs of 6 batches, the last short), from
    the initial parameters and fed from the model's own random stream, ends where fit
    ends: the same samples all the way (persistent chains exactly equal) and parameters
    within 16 float32 units (measured: under 5). So the fast path also consumes the
    stream as documented: per update, k arrays of (chains, n + m) numbers, visible
    units first, the first rows only in a short CD batch."""
    params, X = plain_params(case), plain_data()
    rbm = BernoulliRBM(**params, progress=False).fit(X)
    start = BernoulliRBM(**{**params, "n_iter": 0}, progress=False).fit(X)
    W, b, c = (torch.as_tensor(a) for a in
               (start.components_, start.intercept_visible_, start.intercept_hidden_))
    persistent, k, size = params.get("persistent", False), params.get("k", 1), params["batch_size"]
    chains = torch.as_tensor(start.h_samples_) if persistent else None
    bits, n, velocity = start._bits(), X.shape[1], None
    for epoch in range(params["n_iter"]):
        for first in range(0, len(X), size):
            v = torch.as_tensor(X[first:first + size])
            # Each update's block is a whole number of 64-bit words (10 chains x 19
            # units), so drawing it alone gives the numbers the fast path draws in
            # blocks of several updates.
            noise = uniform_from_bits(bits, k, size, n + params["n_components"])
            noise = noise if persistent else noise[:, :len(v)]
            W, b, c, chains, velocity = cd_update(
                v, W, b, c, noise[..., n:], noise[..., :n], lr=params["learning_rate"],
                chains=chains, momentum=params.get("momentum", 0.0),
                weight_decay=params.get("weight_decay", 0.0), velocity=velocity)
    momentum = params.get("momentum", 0.0)
    for got, fitted in zip((W, b, c), (rbm.components_, rbm.intercept_visible_,
                                       rbm.intercept_hidden_)):
        scale = float(np.abs(fitted).max()) + params["learning_rate"] / (1.0 - momentum)
        assert ulps(got, torch.as_tensor(fitted), scale) <= 16
    if persistent:
        assert torch.equal(chains, torch.as_tensor(rbm.h_samples_))
    assert bits.random_raw() == rbm._bits().random_raw()  # and no number more or less


def test_partial_fit_equals_cd_update_with_the_models_random_numbers():
    """Without looking inside: partial_fit's update consumes uniform_from_bits of the
    model's stream, k arrays of (chains, n + m) numbers, visible units first."""
    X = plain_data()[:9]
    rbm = BernoulliRBM(5, batch_size=6, n_iter=1, k=2, persistent=True, learning_rate=0.2,
                       momentum=0.5, random_state=3, progress=False).fit(X)
    W, b, c = (torch.as_tensor(a.copy()) for a in
               (rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_))
    chains, n = torch.as_tensor(rbm.h_samples_.copy()), X.shape[1]
    velocity = parts(torch.as_tensor(rbm._velocity.copy()), 5, n)
    noise = uniform_from_bits(rbm._bits(), 2, 6, n + 5)  # 6 chains, 9 rows
    plain = cd_update(torch.as_tensor(X), W, b, c, noise[..., n:], noise[..., :n], lr=0.2,
                      chains=chains, momentum=0.5, velocity=velocity)
    rbm.partial_fit(X)
    for got, fitted in zip(plain[:3], (rbm.components_, rbm.intercept_visible_,
                                       rbm.intercept_hidden_)):
        assert ulps(got, torch.as_tensor(fitted), float(np.abs(fitted).max()) + 0.6) <= 4
    assert torch.equal(plain.chains, torch.as_tensor(rbm.h_samples_))


def test_cd_update_leaves_its_arguments_alone():
    rng = torch.Generator().manual_seed(0)
    v = (torch.rand(4, 6, generator=rng) < 0.5).float()
    W, b, c = torch.randn(3, 6, generator=rng), torch.randn(6, generator=rng), torch.zeros(3)
    u_hid, u_vis = torch.rand(2, 4, 3, generator=rng), torch.rand(2, 4, 6, generator=rng)
    before = [t.clone() for t in (v, W, b, c, u_hid, u_vis)]
    out = cd_update(v, W, b, c, u_hid, u_vis, lr=0.1, momentum=0.5, weight_decay=0.1)
    assert all(torch.equal(p, q) for p, q in zip(before, (v, W, b, c, u_hid, u_vis)))
    assert out.W.shape == W.shape and out.chains is None
    assert [t.shape for t in out.velocity] == [W.shape, b.shape, c.shape]


def test_free_energy_is_the_formula_summed_by_enumeration():
    """free_energy (what BernoulliRBM.free_energy returns) equals -log sum_h exp(-E(v, h)),
    in float64, from arrays or tensors."""
    rbm = tiny_rbm(5, 4, seed=2, scale=3.0)
    W, b, c = (np.asarray(a, dtype=np.float64) for a in
               (rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_))
    V, H = states(5), states(4)
    brute = -logsumexp((V @ b)[:, None] + (H @ c)[None, :] + V @ W.T @ H.T, axis=1)
    got = free_energy(V, W, b, c)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), brute, rtol=1e-13, atol=1e-12)
    assert np.array_equal(rbm.free_energy(V), got.numpy())
    same = free_energy(*(torch.as_tensor(a, dtype=torch.float32) for a in (V, W, b, c)))
    assert torch.equal(same, free_energy(V, rbm.components_, rbm.intercept_visible_,
                                         rbm.intercept_hidden_))


@pytest.mark.parametrize("base", ["data", "uniform"])
def test_fast_ais_equals_the_plain_annealing_loop(binary_digits_rbm, base):
    """BernoulliRBM.ais_log_partition (blocks of random numbers, float32 samples) and the
    plain ais_log_partition (float64) give the same estimate for the same seed, within 4
    float32 units of log Z (measured: about 0.03): the same samples all the way. Another
    seed moves the estimate by far more."""
    rbm, X = binary_digits_rbm
    W, b, c = (torch.as_tensor(a, dtype=torch.float64) for a in
               (rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_))
    X_base, base_bias = None, None
    if base == "data":  # the base model BernoulliRBM.ais_log_partition(X) builds
        X_base = X
        mean = (torch.as_tensor(X, dtype=torch.float64).sum(dim=0) + 1.0) / (len(X) + 2.0)
        base_bias = torch.log(mean) - torch.log1p(-mean)
    fast = rbm.ais_log_partition(X_base, n_runs=10, n_betas=200, random_state=5)
    plain = ais_log_partition(W, b, c, base_bias, runs=10, steps=200, seed=5)
    tolerance = 4 * EPS32 * abs(fast.log_z)
    for got, expected in zip(plain, fast):  # low is -inf when the weights vary too much
        assert got == expected or abs(got - expected) <= tolerance
    other = ais_log_partition(W, b, c, base_bias, runs=10, steps=200, seed=6)
    assert abs(other.log_z - fast.log_z) > 100 * tolerance
