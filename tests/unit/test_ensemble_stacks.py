"""Stacks of many seeds fitted as one batched model (gradbook.models.stacks.fit_stacks,
gradbook.models.rbm.fit_rbms): member k is the stack fitted alone with seed k (same
initial weights, same mini-batches, same random draws), and the members never share
their random numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from gradbook.data import digits_split
from gradbook.models.rbm import BernoulliRBM, fit_rbms
from gradbook.models.stacks import DBN, StackedAutoencoder, fit_stacks

X = digits_split()[0][:300]
SEEDS = (3, 7, 11)

STACKS = {
    "DBN": DBN((24, 12), n_iter=3, learning_rate=0.05, momentum=0.9, progress=False),
    "DBN-PCD-k2": DBN((16,), n_iter=2, k=2, persistent=True, weight_decay=1e-3, progress=False),
    "SAE": StackedAutoencoder((24, 12), n_iter=3, progress=False),
    "DAE": StackedAutoencoder((24, 12), n_iter=3, corruption=0.3, progress=False),
    "DAE-untied-contractive": StackedAutoencoder((16,), n_iter=2, corruption=0.5, tied=False,
                                                 contraction=0.1, batch_size=32, progress=False),
}


def _parameters(stack) -> list[np.ndarray]:
    if isinstance(stack, DBN):
        return [a for r in stack.rbms_ for a in (r.components_, r.intercept_hidden_, r.intercept_visible_)]
    return [*stack.coefs_, *stack.intercepts_, *stack.decoder_coefs_, *stack.intercepts_visible_]


def _objective(stack) -> list[list[float]]:
    key = "pseudo_likelihood" if isinstance(stack, DBN) else "loss"
    return [h[key] for h in stack.history_]


@pytest.mark.parametrize("name", STACKS)
def test_member_k_is_the_stack_fitted_alone_with_seed_k(name):
    template = STACKS[name]
    members = fit_stacks(template, X, SEEDS)
    assert [type(m) for m in members] == [type(template)] * len(SEEDS)
    assert not hasattr(template, "hidden_layer_sizes_")  # the template stays unfitted
    for seed, member in zip(SEEDS, members):
        alone = clone(template).set_params(random_state=seed).fit(X)
        assert member.random_state == seed
        assert member.hidden_layer_sizes_ == alone.hidden_layer_sizes_
        for a, b in zip(_parameters(member), _parameters(alone), strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
        for got, want in zip(_objective(member), _objective(alone), strict=True):
            assert got == pytest.approx(want, rel=1e-5, abs=1e-5)
        np.testing.assert_allclose(member.transform(X), alone.transform(X), atol=1e-5)
        assert member.fit_seconds_ > 0
    # different seeds give different stacks (the members do not collapse into one)
    assert np.abs(_parameters(members[0])[0] - _parameters(members[1])[0]).max() > 1e-3


@pytest.mark.parametrize("name", ["DBN", "DAE"])
def test_the_members_draw_their_own_random_numbers(name):
    """Fitted with the same seed twice, two members are equal; had they shared one
    stream of random draws (sampling, masks, batch order), they would differ."""
    members = fit_stacks(STACKS[name], X, (5, 5, 6))
    for a, b in zip(_parameters(members[0]), _parameters(members[1])):
        np.testing.assert_array_equal(a, b)
    alone = clone(STACKS[name]).set_params(random_state=6).fit(X)
    for a, b in zip(_parameters(members[2]), _parameters(alone)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize("rows", [300, 291, 292, 293])
def test_the_dbn_is_the_same_bit_for_bit(rows):
    """At chapter 3's widths and batch size, with a last batch of 10, 1, 2 or 3 rows (where
    the small-matrix kernels round by where a member's matrices start), bmm gives each
    member the bits of its own mm, so no Gibbs sample flips: the members are exactly the
    single fits."""
    template = DBN((100, 100), n_iter=2, learning_rate=0.05, momentum=0.9, progress=False)
    seeds = (0, 1, 2)
    for seed, member in zip(seeds, fit_stacks(template, X[:rows], seeds)):
        alone = clone(template).set_params(random_state=seed).fit(X[:rows])
        for a, b in zip(_parameters(member), _parameters(alone), strict=True):
            np.testing.assert_array_equal(a, b)


def test_fitted_stacks_pickle_and_keep_no_callback():
    import pickle

    for member in fit_stacks(STACKS["DBN"], X, (0, 1)):
        assert all(r.callback is None for r in member.rbms_)
        again = pickle.loads(pickle.dumps(member))
        np.testing.assert_array_equal(again.transform(X), member.transform(X))


@pytest.mark.parametrize("persistent", [False, True])
def test_fit_rbms_one_data_set_per_member(persistent):
    data = np.stack([X[:100].numpy(), X[100:200].numpy()])
    rbms = [BernoulliRBM(8, n_iter=2, random_state=s, persistent=persistent, progress=False) for s in (0, 1)]
    fit_rbms(rbms, data)
    for i, rbm in enumerate(rbms):
        alone = BernoulliRBM(8, n_iter=2, random_state=i, persistent=persistent, progress=False).fit(data[i])
        np.testing.assert_allclose(rbm.components_, alone.components_, atol=1e-6, rtol=0)
        assert rbm.history_["pseudo_likelihood"] == pytest.approx(alone.history_["pseudo_likelihood"])
        if persistent:
            np.testing.assert_array_equal(rbm.h_samples_, alone.h_samples_)


def test_fit_rbms_calls_each_callback():
    seen = []
    rbms = [BernoulliRBM(4, n_iter=2, random_state=s, progress=False,
                         callback=lambda rbm, epoch, s=s: seen.append((s, epoch))) for s in (0, 1)]
    fit_rbms(rbms, X[:50])
    assert sorted(seen) == [(0, 1), (0, 2), (1, 1), (1, 2)]


# ------------------------------------------------------------------ bad input


def test_fit_rbms_refuses_rbms_that_differ_in_more_than_the_seed():
    with pytest.raises(ValueError, match=r"rbms\[1\]\.n_components"):
        fit_rbms([BernoulliRBM(4, random_state=0), BernoulliRBM(5, random_state=1)], X[:20])
    with pytest.raises(ValueError, match=r"rbms\[1\]\.learning_rate"):
        fit_rbms([BernoulliRBM(4), BernoulliRBM(4, learning_rate=0.2)], X[:20])


def test_fit_rbms_refuses_the_same_object_twice():
    rbm = BernoulliRBM(4, random_state=0)
    with pytest.raises(ValueError, match="distinct"):
        fit_rbms([rbm, rbm], X[:20])


def test_fit_rbms_refuses_a_data_set_count_that_does_not_match():
    with pytest.raises(ValueError, match=r"one data set per RBM, shape \(2,"):
        fit_rbms([BernoulliRBM(4), BernoulliRBM(4)], np.stack([X[:20].numpy()] * 3))


@pytest.mark.parametrize("bad, match", [
    (dict(X=X * 2), "X"),
    (dict(X=torch.full((4, 64), float("nan"))), "X"),
    (dict(X=X[0]), "X"),
    (dict(seeds=()), "seeds"),
    (dict(seeds=(0, -1)), r"seeds\[1\]"),
    (dict(seeds=(0, 1.5)), r"seeds\[1\]"),
    (dict(stack=BernoulliRBM(4)), "stack"),
    (dict(stack=DBN((4,), learning_rate=-1.0)), "learning_rate"),
    (dict(stack=StackedAutoencoder((4,), corruption=1.5)), "corruption"),
    (dict(stack=StackedAutoencoder((0,))), "hidden_layer_sizes"),
])
def test_fit_stacks_refuses_bad_input_with_a_clear_error(bad, match):
    args = dict(stack=STACKS["SAE"], X=X[:20], seeds=(0, 1)) | bad
    with pytest.raises((ValueError, TypeError), match=match):
        fit_stacks(**args)
