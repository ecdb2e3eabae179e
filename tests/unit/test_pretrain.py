"""gradbook.models.stacks and gradbook.chapters.ch03_pretraining: the greedy loop, the corruption, the two stacks (shapes,
each stage improving its own objective, to_mlp reproducing the stack exactly,
bad inputs), the hand-written autoencoder gradients against autograd, and
chapter 3's experiment runners and figures on tiny settings (the qualitative
results are in tests/claims/test_c4_c5_c10_c14_pretraining.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from gradbook.chapters import ch03_pretraining as ch03
from gradbook.data import digits_split, label_subset
from gradbook.models.mlp import linear_layers
from gradbook.models.stacks import (
    DBN,
    StackedAutoencoder,
    _autoencoder_gradients,
    autoencoder_objective,
    greedy_layerwise,
    mask_noise,
)
from gradbook.train import train


@pytest.fixture(scope="module")
def X_small(digits):
    """300 digits, values in [0, 1]."""
    return digits[0][:300].clone()


@pytest.fixture(scope="module")
def dbn(X_small):
    return DBN((16, 12), n_iter=4, learning_rate=0.05, momentum=0.5, random_state=0).fit(X_small)


@pytest.fixture(scope="module")
def sae(X_small):
    return StackedAutoencoder((16, 12), n_iter=4, random_state=0).fit(X_small)


# ------------------------------------------------------------------ mask_noise


def test_mask_noise_zeroes_the_expected_fraction_and_keeps_the_rest():
    X = torch.rand(400, 50) + 0.5  # no zeros to begin with
    gen = torch.Generator().manual_seed(0)
    out = mask_noise(X, 0.3, gen)
    assert out.shape == X.shape and out.dtype == torch.float32
    zeroed = out == 0
    assert abs(float(zeroed.float().mean()) - 0.3) < 0.01
    assert torch.equal(out[~zeroed], X[~zeroed])
    assert not torch.equal(out, X) and (X > 0).all()  # X itself is untouched


def test_mask_noise_is_seeded_and_zero_corruption_is_the_identity():
    X = torch.rand(20, 8)
    a = mask_noise(X, 0.5, torch.Generator().manual_seed(3))
    b = mask_noise(X, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert torch.equal(mask_noise(X, 0.0), X)


@pytest.mark.parametrize(
    "X, corruption, exc, message",
    [
        (torch.rand(4, 3), 1.0, ValueError, "corruption"),
        (torch.rand(4, 3), -0.1, ValueError, "corruption"),
        (torch.rand(4, 3), "0.2", TypeError, "corruption"),
        (torch.rand(4), 0.2, ValueError, "2-D"),
        (torch.tensor([[0.5, float("nan")]]), 0.2, ValueError, "NaN"),
    ],
)
def test_mask_noise_bad_inputs(X, corruption, exc, message):
    with pytest.raises(exc, match=message):
        mask_noise(X, corruption)


# ------------------------------------------------------------ greedy_layerwise


def test_greedy_layerwise_trains_each_layer_on_the_codes_below():
    seen = []

    def fit_layer(codes, n_hidden, depth):
        seen.append((codes.clone(), n_hidden, depth))
        return torch.full((codes.shape[1], n_hidden), float(depth + 1))

    def encode(layer, codes):
        return codes @ layer

    X = torch.ones(5, 3)
    layers = greedy_layerwise(X, (4, 2), fit_layer, encode)
    assert [n for _, n, _ in seen] == [4, 2] and [d for _, _, d in seen] == [0, 1]
    assert torch.equal(seen[0][0], X)
    assert torch.equal(seen[1][0], X @ layers[0])  # layer 2 saw layer 1's codes
    assert len(layers) == 2 and layers[1].shape == (4, 2)


# ------------------------------------------------------------------- the stacks


@pytest.mark.parametrize("name", ["dbn", "sae"])
def test_transform_shapes_per_layer(name, request, X_small):
    stack = request.getfixturevalue(name)
    assert stack.n_layers_ == 2 and stack.hidden_layer_sizes_ == (16, 12)
    assert stack.n_features_in_ == 64
    assert stack.transform(X_small).shape == (300, 12)
    assert stack.transform(X_small, layer=1).shape == (300, 16)
    assert stack.transform(X_small, layer=-1).shape == (300, 12)
    assert stack.transform(X_small, layer=-2).shape == (300, 16)
    np.testing.assert_array_equal(stack.transform(X_small, layer=0), X_small.numpy())
    h = stack.transform(X_small)
    assert h.dtype == np.float32 and h.min() >= 0 and h.max() <= 1


@pytest.mark.parametrize("name", ["dbn", "sae"])
def test_to_mlp_reproduces_the_stack_exactly(name, request, X_small):
    stack = request.getfixturevalue(name)
    net = stack.to_mlp(10, seed=4)
    layers = linear_layers(net)
    assert [tuple(layer.weight.shape) for layer in layers] == [(16, 64), (12, 16), (10, 12)]
    with torch.no_grad():
        hidden = net[:-1](X_small)
    assert torch.equal(hidden, torch.as_tensor(stack.transform(X_small)))
    # the output layer is the random one mlp() draws with the same seed and init
    from gradbook.models.mlp import mlp

    baseline = mlp([64, 16, 12, 10], "sigmoid", "xavier", seed=4)
    assert torch.equal(layers[-1].weight, linear_layers(baseline)[-1].weight)
    # and the net is independent of the stack: training it leaves the stack alone
    before = stack.transform(X_small[:5]).copy()
    train(net, X_small, torch.zeros(300, dtype=torch.long), epochs=1, lr=0.5)
    np.testing.assert_array_equal(stack.transform(X_small[:5]), before)


def test_each_dbn_stage_raises_its_own_pseudo_likelihood(dbn):
    assert len(dbn.history_) == 2
    for history in dbn.history_:
        assert history["epoch"] == [0, 1, 2, 3, 4]
        assert len(history["pseudo_likelihood"]) == 5 and len(history["seconds"]) == 5
        assert history["pseudo_likelihood"][-1] > history["pseudo_likelihood"][0] + 1
        assert history["seconds"][0] == 0 and np.all(np.diff(history["seconds"]) >= 0)
    assert len(dbn.layer_seconds_) == 2 and all(s > 0 for s in dbn.layer_seconds_)
    assert dbn.fit_seconds_ >= sum(dbn.layer_seconds_)


def test_each_autoencoder_stage_lowers_its_own_objective(sae):
    for history in sae.history_:
        assert history["epoch"] == [0, 1, 2, 3, 4]
        assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert [w.shape for w in sae.coefs_] == [(16, 64), (12, 16)]
    assert [w.shape for w in sae.decoder_coefs_] == [(16, 64), (12, 16)]
    assert [b.shape for b in sae.intercepts_] == [(16,), (12,)]
    assert [b.shape for b in sae.intercepts_visible_] == [(64,), (16,)]
    np.testing.assert_array_equal(sae.coefs_[0], sae.decoder_coefs_[0])  # tied


@pytest.mark.parametrize("kwargs", [dict(corruption=0.4), dict(contraction=0.5),
                                    dict(tied=False), dict(momentum=0.0)])
def test_autoencoder_variants_train_and_differ_from_the_plain_one(kwargs, X_small, sae):
    model = StackedAutoencoder((16, 12), n_iter=4, random_state=0, **kwargs).fit(X_small)
    for history in model.history_:
        assert history["loss"][-1] < history["loss"][0]
    assert not np.array_equal(model.coefs_[0], sae.coefs_[0])
    if kwargs.get("tied") is False:
        assert not np.array_equal(model.coefs_[0], model.decoder_coefs_[0])


def test_untrained_autoencoder_is_its_initialisation(X_small, sae):
    start = StackedAutoencoder((16, 12), n_iter=0, random_state=0).fit(X_small)
    assert [h["epoch"] for h in start.history_] == [[0], [0]]
    assert start.history_[0]["loss"][0] == pytest.approx(sae.history_[0]["loss"][0])
    bound = 4 * np.sqrt(6 / (64 + 16))
    assert np.abs(start.coefs_[0]).max() <= bound and np.abs(start.coefs_[0]).max() > bound / 2
    assert np.all(start.intercepts_[0] == 0)


def test_reconstruct(sae, X_small):
    full = sae.reconstruct(X_small[:10])
    one = sae.reconstruct(X_small[:10], layer=1)
    assert full.shape == one.shape == (10, 64)
    assert 0 <= full.min() and full.max() <= 1
    np.testing.assert_array_equal(sae.reconstruct(X_small[:10], layer=0), X_small[:10].numpy())
    # a trained one-layer autoencoder reconstructs better than the mean image
    err = np.mean((one - X_small[:10].numpy()) ** 2)
    assert err < np.mean((X_small.mean(0).numpy() - X_small[:10].numpy()) ** 2)


@pytest.mark.parametrize("cls", [DBN, StackedAutoencoder])
def test_same_seed_same_stack_and_sklearn_clone(cls, X_small):
    a = cls((8,), n_iter=2, random_state=5).fit(X_small[:100])
    b = clone(a).fit(X_small[:100])
    np.testing.assert_array_equal(a.transform(X_small[:20]), b.transform(X_small[:20]))
    c = cls((8,), n_iter=2, random_state=6).fit(X_small[:100])
    assert not np.array_equal(a.transform(X_small[:20]), c.transform(X_small[:20]))
    assert clone(a).get_params()["hidden_layer_sizes"] == (8,)


def test_stacks_work_in_a_pipeline(digits):
    X, y = digits[0][:400].numpy(), digits[1][:400].numpy()
    for stack in (DBN((20,), n_iter=5, learning_rate=0.05, momentum=0.9, random_state=0),
                  StackedAutoencoder((20,), n_iter=3, random_state=0)):
        pipe = make_pipeline(stack, LogisticRegression(max_iter=300)).fit(X, y)
        assert pipe.score(X, y) > 0.5


def test_dbn_samples(dbn):
    images = dbn.sample(7, 5, seed=1)
    assert images.shape == (7, 64) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1 and len(np.unique(images)) > 2
    np.testing.assert_array_equal(images, dbn.sample(7, 5, seed=1))
    assert not np.array_equal(images, dbn.sample(7, 5, seed=2))
    binary = dbn.sample(7, 5, seed=1, probabilities=False)
    assert set(np.unique(binary)) <= {0.0, 1.0}


def test_one_layer_dbn_samples_like_its_rbm(X_small):
    model = DBN((10,), n_iter=2, random_state=0).fit(X_small)
    np.testing.assert_array_equal(model.sample(4, 3, seed=0),
                                  model.rbms_[0].sample(4, 3, seed=0, probabilities=True))


@pytest.mark.parametrize("cls", [DBN, StackedAutoencoder])
@pytest.mark.parametrize(
    "X, params, exc, message",
    [
        (np.full((10, 4), 2.0), {}, ValueError, r"\[0, 1\]"),
        (np.array([[0.5, np.nan]]), {}, ValueError, "NaN"),
        (np.zeros(5), {}, ValueError, "2-D"),
        (np.zeros((0, 4)), {}, ValueError, "empty"),
        (np.zeros((5, 4)), {"hidden_layer_sizes": ()}, ValueError, "at least one"),
        (np.zeros((5, 4)), {"hidden_layer_sizes": (3, 0)}, ValueError, "hidden_layer_sizes"),
        (np.zeros((5, 4)), {"hidden_layer_sizes": "12"}, TypeError, "hidden_layer_sizes"),
        (np.zeros((5, 4)), {"random_state": -1}, ValueError, "random_state"),
        (np.zeros((5, 4)), {"n_iter": -1}, ValueError, "n_iter"),
    ],
)
def test_fit_bad_inputs(cls, X, params, exc, message):
    with pytest.raises(exc, match=message):
        cls(**{"n_iter": 1, **params}).fit(X)


@pytest.mark.parametrize("cls", [DBN, StackedAutoencoder])
def test_sparse_input_is_refused_by_name(cls, X_small):
    import scipy.sparse

    sparse = scipy.sparse.csr_matrix(X_small[:20].numpy())
    with pytest.raises(TypeError, match="sparse input is not supported"):
        cls((4,), n_iter=1).fit(sparse)
    fitted = cls((4,), n_iter=1, random_state=0).fit(X_small[:20])
    with pytest.raises(TypeError, match="sparse input is not supported"):
        fitted.transform(sparse)


@pytest.mark.parametrize(
    "params, exc, message",
    [
        ({"corruption": 1.0}, ValueError, "corruption"),
        ({"contraction": -1.0}, ValueError, "contraction"),
        ({"tied": "yes"}, TypeError, "tied"),
        ({"momentum": 1.0}, ValueError, "momentum"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"progress": "sometimes"}, ValueError, "progress"),
    ],
)
def test_autoencoder_bad_parameters(params, exc, message):
    with pytest.raises(exc, match=message):
        StackedAutoencoder((3,), n_iter=1, **params).fit(np.zeros((5, 4)))


@pytest.mark.parametrize("name", ["dbn", "sae"])
def test_fitted_stack_bad_inputs(name, request):
    stack = request.getfixturevalue(name)
    with pytest.raises(ValueError, match="64 features"):
        stack.transform(np.zeros((3, 10)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stack.transform(np.full((3, 64), -1.0))
    with pytest.raises(ValueError, match="layer"):
        stack.transform(np.zeros((3, 64)), layer=3)
    with pytest.raises(TypeError, match="layer"):
        stack.transform(np.zeros((3, 64)), layer=1.0)
    with pytest.raises(ValueError, match="n_classes"):
        stack.to_mlp(0)
    with pytest.raises(ValueError, match="seed"):
        stack.to_mlp(10, seed=-1)


def test_unfitted_stacks_refuse():
    for stack in (DBN(), StackedAutoencoder()):
        with pytest.raises(NotFittedError):
            stack.transform(np.zeros((2, 64)))
        with pytest.raises(NotFittedError):
            stack.to_mlp(10)
    with pytest.raises(NotFittedError):
        DBN().sample(2, 1)


def test_sample_bad_arguments(dbn):
    for kwargs, exc in ((dict(n_samples=0, gibbs_steps=1), ValueError),
                        (dict(n_samples=2, gibbs_steps=0), ValueError),
                        (dict(n_samples=2, gibbs_steps=1, seed=-3), ValueError),
                        (dict(n_samples=2, gibbs_steps=1, probabilities=1), TypeError)):
        with pytest.raises(exc):
            dbn.sample(**kwargs)


# ---------------------------------------------------------- the maths, by hand


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("contraction", [0.0, 0.7])
def test_autoencoder_gradients_match_autograd(tied, contraction):
    gen = torch.Generator().manual_seed(0)
    kw = dict(generator=gen, dtype=torch.float64)
    X = torch.rand(9, 6, **kw)
    X_in = X * (torch.rand(9, 6, **kw) > 0.3)
    W, D = torch.randn(5, 6, **kw), torch.randn(5, 6, **kw)
    c, b = torch.randn(5, **kw), torch.randn(6, **kw)
    params = [t.clone().requires_grad_() for t in (W, c, D, b)]
    decoder = params[0] if tied else params[2]
    value = autoencoder_objective(X, X_in, params[0], params[1], decoder, params[3],
                                           contraction)
    expected = torch.autograd.grad(value, params, allow_unused=True)
    gW, gc, gD, gb = _autoencoder_gradients(
        X, X_in, W, c, W if tied else D, b, contraction, tied)
    torch.testing.assert_close(gW, expected[0])
    torch.testing.assert_close(gc, expected[1])
    torch.testing.assert_close(gb, expected[3])
    if tied:
        assert gD is None and expected[2] is None
    else:
        torch.testing.assert_close(gD, expected[2])


def test_contractive_penalty_is_the_squared_jacobian_norm():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(1, 5, generator=gen, dtype=torch.float64)
    W, c = torch.randn(4, 5, generator=gen, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    D, b = torch.zeros(4, 5, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
    J = torch.autograd.functional.jacobian(lambda v: torch.sigmoid(v @ W.T + c), x).reshape(4, 5)
    plain = autoencoder_objective(x, x, W, c, D, b, 0.0)
    with_penalty = autoencoder_objective(x, x, W, c, D, b, 2.0)
    torch.testing.assert_close(with_penalty - plain, 2.0 * (J ** 2).sum())


# ------------------------------------------------------------------ label_subset


def test_label_subset_is_balanced_unique_and_seeded(digits):
    y = digits[1]
    index = label_subset(y, 53, seed=2)
    assert len(index) == 53 and len(torch.unique(index)) == 53
    counts = torch.bincount(y[index], minlength=10)
    assert counts.max() - counts.min() <= 1
    assert torch.equal(index, label_subset(y, 53, seed=2))
    assert not torch.equal(index, label_subset(y, 53, seed=3))
    assert torch.equal(torch.sort(label_subset(y, len(y))).values, torch.arange(len(y)))
    # a smaller budget is a prefix of a larger one with the same seed
    assert torch.equal(label_subset(y, 20, seed=2), index[:20])


@pytest.mark.parametrize("n, exc", [(0, ValueError), (10_000, ValueError), (2.5, TypeError)])
def test_label_subset_bad_budget(digits, n, exc):
    with pytest.raises(exc, match="n_labels"):
        label_subset(digits[1], n)


# --------------------------------------------------------------- catch_up_budget


def _grid(rows):
    return pd.DataFrame([{"method": m, "labels": n, "seed": 0, "test accuracy": a}
                         for m, n, a in rows])


def test_catch_up_budget():
    grid = _grid([("ReLU", 10, 0.7), ("DAE", 10, 0.8), ("ReLU", 20, 0.86), ("DAE", 20, 0.9),
                  ("ReLU", 30, 0.898), ("DAE", 30, 0.9), ("ReLU", 40, 0.95), ("DAE", 40, 0.94)])
    assert ch03.catch_up_budget(grid, against=("DAE",)) == 30
    assert ch03.catch_up_budget(grid, against=("DAE",), tolerance=0.05) == 20
    assert ch03.catch_up_budget(grid, against=("DAE",), tolerance=0.0) == 40
    never = _grid([("ReLU", 10, 0.5), ("DAE", 10, 0.8)])
    assert ch03.catch_up_budget(never, against=("DAE",)) is None
    with pytest.raises(ValueError, match="not in the grid"):
        ch03.catch_up_budget(grid)  # DBN and SAE are missing
    with pytest.raises(ValueError, match="lacks"):
        ch03.catch_up_budget(pd.DataFrame({"x": [1]}))


# ------------------------------------------------------------------------ tile


def test_tile():
    images = np.arange(3 * 4, dtype=float).reshape(3, 4)
    out = ch03.tile(images, shape=(2, 2), n_cols=2, pad=1)
    assert out.shape == (5, 5)
    assert np.isnan(out[2]).all() and np.isnan(out[3:, 3:]).all()
    np.testing.assert_allclose(out[:2, :2], [[0, 1 / 3], [2 / 3, 1]])
    raw = ch03.tile(images, shape=(2, 2), n_cols=3, normalise=False)
    np.testing.assert_array_equal(raw[:2, 3:5], [[4, 5], [6, 7]])
    with pytest.raises(ValueError, match="shape"):
        ch03.tile(np.zeros((2, 5)))


# ----------------------------------------------- the experiments, tiny settings


@pytest.fixture
def tiny(monkeypatch):
    """Chapter 3's runners with a tiny setup, restored (and caches cleared) after."""
    settings = dataclasses.replace(
        ch03.SETTINGS, hidden=(8, 6), seeds=(0, 1), epochs=1, updates=3,
        dbn=ch03.DBNSettings(learning_rate=0.05, n_iter=1, batch_size=50),
        autoencoder=ch03.AutoencoderSettings(learning_rate=0.1, n_iter=1, batch_size=50),
        budgets=(20, 40), corruptions=(0.0, 0.5), tuning_seeds=2, lr_grid=(0.1, 0.3))
    monkeypatch.setattr(ch03, "SETTINGS", settings)
    ch03.clear_cache()
    yield
    ch03.clear_cache()


def test_budget_grid_and_finetune(tiny):
    grid = ch03.budget_grid()
    assert len(grid) == len(ch03.ARMS) * 2 * 2
    assert set(grid.columns) >= {"method", "labels", "seed", "test accuracy", "train accuracy", "lr",
                                 "pretrain seconds", "finetune seconds", "total seconds"}
    assert set(grid["lr"]) <= set(ch03.SETTINGS.lr_grid)
    assert grid["test accuracy"].between(0, 1).all()
    random = grid[grid.method.isin(["random", "small Gaussian", "ReLU", "untrained AE"])]
    assert (random["pretrain seconds"] == 0).all()
    assert (grid.loc[grid.method == "DBN", "pretrain seconds"] > 0).all()
    run = ch03.finetune("SAE", 20, 1)
    again = ch03.finetune("SAE", 20, 1)  # memoised: an equal copy
    assert again is not run and again.history.step_loss == run.history.step_loss
    assert run.steps_per_epoch == 1 and run.epochs == 3  # at least 3 updates
    assert ch03.finetune("DAE", 20, 1, corruption=0.0).history.step_loss == run.history.step_loss  # the same stack and run
    big = ch03.finetune("SAE", 40, 1)
    assert big.history.epoch[-1] == big.epochs == 2  # 2 updates per epoch (batches of 32)


def test_ensemble_members_train_as_single_nets(tiny):
    # finetune trains one net alone, finetune_runs every seed of every sigmoid arm at one
    # rate in one ensemble: the same training, so the same losses to float tolerance
    for method in ("small Gaussian", "DBN", "ReLU"):
        for seed, member in zip(ch03.SETTINGS.seeds, ch03.finetune_runs(method, 40)):
            alone = ch03.finetune(method, 40, seed)
            assert member.lr == alone.lr == ch03.tuned_lr(method, 40)[0]
            np.testing.assert_allclose(member.history.step_loss, alone.history.step_loss, rtol=1e-3,
                                       atol=1e-4)


def test_tuned_lr_picks_the_best_validation_accuracy(tiny):
    lr, table = ch03.tuned_lr("random", 20)
    assert list(table.columns) == ["lr", "validation accuracy", "diverged"]
    assert list(table["lr"]) == [0.1, 0.3]
    assert lr == table.loc[table["validation accuracy"].idxmax(), "lr"]
    assert not set(ch03._tuning_seeds()) & set(ch03.SETTINGS.seeds)
    with pytest.raises(ValueError, match="method"):
        ch03.tuned_lr("PCA", 20)


def test_claim_comparisons_and_verdicts(tiny):
    from gradbook import stats

    found = ch03.claim_comparisons()
    assert set(found) == {"C4", "C5", "C10", "C14"}
    assert [c.baseline for c in found["C4"]] == [
        "small Gaussian, 20 labels", "small Gaussian, 40 labels", "Glorot, 20 labels", "Glorot, 40 labels"]
    assert len(found["C10"]) == 5 and len(found["C5"]) == 4
    assert all(c.n == 2 for cs in found.values() for c in cs)
    # paired by seed: the comparison is the rule applied to the runs' accuracies
    dbn = [r.test_accuracy for r in ch03.finetune_runs("DBN", 20)]
    base = [r.test_accuracy for r in ch03.finetune_runs("small Gaussian", 20)]
    assert found["C4"][0] == stats.compare(dbn, base, name="DBN, 20 labels",
                                           baseline_name="small Gaussian, 20 labels")
    verdicts = ch03.claim_verdicts()
    assert set(verdicts) == {"C4", "C5", "C7", "C10", "C14", "C15"}
    assert set(verdicts.values()) <= set(stats.VERDICTS)
    assert verdicts["C4"] == stats.verdict(found["C4"])


def test_initial_net_methods(tiny):
    X = digits_split()[0][:5]
    for method in ch03.ARMS:
        net = ch03.initial_net(method, 0)
        assert [layer.out_features for layer in linear_layers(net)] == [8, 6, 10]
        assert net(X).shape == (5, 10)
    assert isinstance(ch03.initial_net("ReLU", 0)[1], torch.nn.ReLU)
    deeper = ch03.initial_net("DBN", 0, hidden=(5, 5, 5))
    assert len(linear_layers(deeper)) == 4
    with pytest.raises(ValueError, match="method"):
        ch03.initial_net("PCA", 0)


def test_pretrained_arguments(tiny):
    assert ch03.pretrained("CAE", 0).contraction == ch03.SETTINGS.contraction
    assert ch03.pretrained("DAE", 0).corruption == ch03.SETTINGS.corruption
    assert np.array_equal(ch03.pretrained("DAE", 0, corruption=0.0).coefs_[0],
                          ch03.pretrained("SAE", 0).coefs_[0])
    assert ch03.pretrained("untrained AE", 0).history_[0]["epoch"] == [0]
    with pytest.raises(ValueError, match="corruption applies"):
        ch03.pretrained("SAE", 0, corruption=0.2)
    with pytest.raises(ValueError, match="method"):
        ch03.pretrained("random", 0)
    with pytest.raises(ValueError, match="corruption applies"):
        ch03.finetune("DBN", 20, 0, corruption=0.1)
    with pytest.raises(ValueError, match="seeds"):
        ch03.budget_grid(seeds=())


def test_start_gradients_probes_and_sweep(tiny):
    start = ch03.start_gradients(methods=("random", "DBN"), seeds=(0,))
    assert list(start.columns) == ["method", "seed", "layer", "gradient norm", "saturated"]
    assert start["saturated"].between(0, 1).all()
    assert len(start) == 4 and (start["gradient norm"] > 0).all()
    probes = ch03.layer_probes(("random", "SAE"), budgets=(30,), seeds=(0,))
    assert len(probes) == 1 + 2 * 2
    assert set(probes["layer"]) == {0, 1, 2} and probes["probe accuracy"].between(0, 1).all()
    sweep = ch03.corruption_sweep(n_labels=20)
    assert (sweep["test accuracy"].to_numpy()[:2] != sweep["test accuracy"].to_numpy()[2:]).any()
    assert list(sweep["corruption"]) == [0.0, 0.0, 0.5, 0.5]


def test_figures(tiny):
    fig = ch03.budget_figure(20, "DBN")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    fig = ch03.corruption_figure(0.5, n_labels=20)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    with pytest.raises(ValueError, match="method"):
        ch03.budget_figure(20, "PCA")


# ------------------------------- chapter 3: copies, lists, bounds, figures' grids


def test_budget_grid_cannot_be_corrupted_through_finetune(tiny):
    grid = ch03.budget_grid(budgets=(20,), methods=("random", "SAE"), seeds=(0,))
    run = ch03.finetune("SAE", 20, 0)
    run.test_accuracy = -1.0
    run.history.train_acc[-1] = -1.0
    stack = ch03.pretrained("SAE", 0)
    stack.coefs_[0][:] = 0.0
    assert ch03.initial_net("SAE", 0)[0].weight.abs().sum() > 0
    again = ch03.budget_grid(budgets=(20,), methods=("random", "SAE"), seeds=(0,))
    pd.testing.assert_frame_equal(again.drop(columns=again.filter(like="seconds").columns),
                                  grid.drop(columns=grid.filter(like="seconds").columns))


def test_list_arguments_reach_the_memoised_runs(tiny):
    a = ch03.pretrained("SAE", 0, hidden=[5, 4])
    b = ch03.pretrained("SAE", 0, hidden=(5, 4))
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    assert len(linear_layers(ch03.initial_net("DBN", 0, hidden=[5]))) == 2
    grid = ch03.budget_grid(budgets=[20], methods=["random"], seeds=[0])
    assert len(grid) == 1
    settings = dataclasses.replace(ch03.SETTINGS, hidden=[7], seeds=[1], budgets=[20],
                                   corruptions=[0.1])
    assert (settings.hidden, settings.seeds, settings.budgets, settings.corruptions) == (
        (7,), (1,), (20,), (0.1,))
    hash(settings)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("call, message", [
    (lambda: ch03.pretrained("DBN", hidden=[10**5, 10**5]), "hidden"),
    (lambda: ch03.start_gradients(methods=("random",), seeds=(0,), hidden=[10**6]), "hidden"),
    (lambda: ch03.finetune("random", 10**6), "n_labels"),
    (lambda: ch03.sample_quality(ch03._tiny_dbn(), steps=(10**6,), n_samples=64), "steps"),
    (lambda: ch03.sample_quality(ch03._tiny_dbn(), n_samples=1000), "n_samples"),
    (lambda: ch03.tile(np.zeros((10**5, 4)), shape=(2, 2), n_cols=1000, pad=100),
     "images: 100,000 tiles"),
    (lambda: ch03.initial_net("random", corruption=0.2), "corruption applies"),
    (lambda: ch03.budget_figure(77, "DBN"), "labels must be one of the budgets"),
    (lambda: ch03.budget_figure(20, "DBN", budgets=(20,), methods=("random",)),
     "method must be one of the methods drawn"),
    (lambda: ch03.corruption_figure(0.25), "corruption must be one of the levels"),
])
def test_bad_settings_are_refused_before_any_work(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_pretraining_settings_are_checked(monkeypatch):
    with pytest.raises(ValueError, match="n_iter"):
        ch03.DBNSettings(n_iter=-1)
    with pytest.raises(ValueError, match="corruption"):
        dataclasses.replace(ch03.SETTINGS, corruption=1.0)
    with pytest.raises(TypeError, match="autoencoder"):
        ch03.PretrainingSettings(autoencoder=None)
    monkeypatch.setattr(ch03, "SETTINGS", dataclasses.replace(
        ch03.SETTINGS, dbn=ch03.DBNSettings(n_iter=10**6)))
    with pytest.raises(ValueError, match="hidden: pretraining 2 layers"):
        ch03.pretrained("DBN", 0)


def test_figures_draw_a_smaller_grid(tiny):
    fig = ch03.budget_figure(20, "SAE", budgets=(20,), methods=("random", "SAE"), seeds=(0,))
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) >= 2
    fig = ch03.corruption_figure(0.5, n_labels=20, levels=(0.5,), seeds=(0,))
    assert isinstance(fig, Figure)
