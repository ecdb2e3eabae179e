"""An ensemble trains each member exactly as if it were trained alone."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gradbook.models.ensemble import Ensemble, ensemble, stack_inputs
from gradbook.models.mlp import ResidualMLP, batchnorm_mlp, dropout_mlp, mlp
from gradbook.train import train

X = torch.rand(60, 8, generator=torch.Generator().manual_seed(0))
Y = torch.randint(0, 3, (60,), generator=torch.Generator().manual_seed(1))
SEEDS = (3, 7, 11)

NETS = {
    "sigmoid": (mlp, dict(sizes=[8, 5, 5, 3])),
    "tanh": (mlp, dict(sizes=[8, 5, 3], activation="tanh", init="xavier")),
    "relu": (mlp, dict(sizes=[8, 6, 6, 3], activation="relu", init="he")),
    "dropout": (dropout_mlp, dict(sizes=[8, 6, 6, 3], p=0.3)),
    "batchnorm": (batchnorm_mlp, dict(sizes=[8, 5, 5, 3])),
    "residual": (lambda seed, **k: ResidualMLP(8, 5, 3, 3, seed=seed), {}),
}
RUNS = {
    "plain": dict(),
    "momentum": dict(momentum=0.9, weight_decay=1e-3),
    "norm-clip": dict(clip=("norm", 0.05)),
    "value-clip": dict(clip=("value", 0.01)),
    "steps": dict(steps=20, epochs=None),
}


def _max_diff(a: nn.Module, b: nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return max(float((sa[k].double() - sb[k].double()).abs().max()) for k in sa)


@pytest.mark.parametrize("net", NETS)
def test_members_start_as_single_nets(net):
    builder, settings = NETS[net]
    e = ensemble(builder, SEEDS, **settings)
    for k, s in enumerate(SEEDS):
        assert _max_diff(e.member(k), builder(seed=s, **settings)) == 0.0


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("net", NETS)
def test_member_k_trains_like_a_single_net_with_seed_k(net, run):
    builder, settings = NETS[net]
    options = dict(epochs=3, batch_size=8, lr=0.5, progress=False, X_test=X, y_test=Y) | RUNS[run]
    e = ensemble(builder, SEEDS, **settings)
    histories = train(e, X, Y, **options)
    assert len(histories) == len(SEEDS)
    for k, s in enumerate(SEEDS):
        single = builder(seed=s, **settings)
        h = train(single, X, Y, seed=s, **options)
        assert histories[k].steps == h.steps > 0
        assert histories[k].epoch == h.epoch
        assert _max_diff(e.member(k), single) < 2e-4
        assert histories[k].test_acc == pytest.approx(h.test_acc, abs=1e-9)
        assert histories[k].step_loss == pytest.approx(h.step_loss, rel=1e-4, abs=1e-5)
        assert histories[k].grad_norms == pytest.approx(h.grad_norms, rel=1e-4)
    # members differ from each other (their own weights and batches)
    assert _max_diff(e.member(0), e.member(1)) > 1e-3


def test_per_member_training_sets():
    blocks = [torch.rand(40, 8, generator=torch.Generator().manual_seed(s)) for s in SEEDS]
    labels = [torch.randint(0, 3, (40,), generator=torch.Generator().manual_seed(s + 1)) for s in SEEDS]
    e = ensemble(mlp, SEEDS, sizes=[8, 4, 3])
    hs = train(e, stack_inputs(blocks), stack_inputs(labels), epochs=2, batch_size=10, progress=False)
    for k, s in enumerate(SEEDS):
        single = mlp([8, 4, 3], seed=s)
        h = train(single, blocks[k], labels[k], epochs=2, batch_size=10, seed=s, progress=False)
        assert _max_diff(e.member(k), single) < 1e-5
        assert hs[k].train_acc == pytest.approx(h.train_acc)


def test_a_member_that_diverges_stops_alone():
    def builder(seed):
        net = mlp([8, 5, 3], activation="relu", init="he", seed=seed)
        if seed == 7:
            with torch.no_grad():
                net[0].weight.mul_(1e4)
        return net

    e = ensemble(builder, SEEDS)
    hs = train(e, X, Y, epochs=3, batch_size=8, lr=0.5, max_loss=50.0, progress=False)
    assert hs[1].diverged and "max_loss" in hs[1].reason and hs[1].diverged_at == 0
    for k in (0, 2):
        assert not hs[k].diverged
        single = builder(SEEDS[k])
        train(single, X, Y, epochs=3, batch_size=8, lr=0.5, max_loss=50.0, seed=SEEDS[k], progress=False)
        assert _max_diff(e.member(k), single) < 1e-5
    # the diverged member keeps its last finite weights
    assert _max_diff(e.member(1), builder(7)) == 0.0


def test_explicit_seeds_reorder_batches_only():
    e1 = ensemble(mlp, SEEDS, sizes=[8, 4, 3])
    e2 = ensemble(mlp, SEEDS, sizes=[8, 4, 3])
    train(e1, X, Y, epochs=1, batch_size=8, progress=False)
    train(e2, X, Y, epochs=1, batch_size=8, seed=[0, 0, 0], progress=False)
    assert _max_diff(e1.member(0), e2.member(0)) > 1e-4
    single = mlp([8, 4, 3], seed=3)
    train(single, X, Y, epochs=1, batch_size=8, seed=0, progress=False)
    assert _max_diff(e2.member(0), single) < 1e-5


def test_bad_ensembles_are_refused():
    with pytest.raises(ValueError, match="same architecture"):
        Ensemble([mlp([8, 4, 3]), mlp([8, 5, 3])], (0, 1))
    with pytest.raises(ValueError, match="one seed per member"):
        Ensemble([mlp([8, 4, 3])], (0, 1))
    from gradbook.models.cnn import lenet5

    with pytest.raises(TypeError, match="cannot stack"):  # LeNet-5's trainable subsampling: not stacked
        Ensemble([lenet5("paper", seed=0)], (0,))
    e = ensemble(mlp, SEEDS, sizes=[8, 4, 3])
    with pytest.raises(ValueError, match="one block"):
        train(e, torch.rand(2, 60, 8), Y, epochs=1, progress=False)
    with pytest.raises(ValueError, match="one seed per member"):
        train(e, X, Y, epochs=1, seed=[1, 2], progress=False)
    with pytest.raises(ValueError, match="k must be"):
        e.member(3)
    with pytest.raises(ValueError, match="shape"):
        e(torch.rand(2, 5, 8))
    with pytest.raises(ValueError, match="seed setting"):
        ensemble(mlp, SEEDS, sizes=[8, 4, 3], seed=1)


@pytest.mark.parametrize("net", NETS)
def test_diagnostics_match_single_nets(net):
    """Per-epoch diagnostics (bias gradients, weight change, saturation) of
    member k equal those of the single net with seed k: measured all at once
    for plain MLPs, member by member for the others; frozen layers too."""
    builder, settings = NETS[net]
    e = ensemble(builder, SEEDS, **settings)
    assert e.plain == (net in ("sigmoid", "tanh", "relu"))
    options = dict(epochs=3, batch_size=8, lr=0.5, progress=False, diagnostics_every=1,
                   diagnostics_data=(X[:30], Y[:30]))
    histories = train(e, X, Y, **options)
    for k, s in enumerate(SEEDS):
        h = train(builder(seed=s, **settings), X, Y, seed=s, **options)
        assert histories[k].diag_epoch == h.diag_epoch == [0, 1, 2, 3]
        for name in ("bias_grad", "weight_change", "saturated"):
            ours, theirs = getattr(histories[k], name), getattr(h, name)
            assert len(ours) == len(theirs) == 4
            for a, b in zip(ours, theirs):
                assert a == pytest.approx(b, rel=2e-3, abs=1e-6), name
    # the first row's weight change is exactly zero, later ones are not
    assert histories[0].weight_change[0] == [0.0] * len(histories[0].weight_change[0])
    assert min(histories[0].weight_change[-1]) > 0


def test_batched_diagnostics_with_a_frozen_layer():
    def builder(seed):
        net = mlp([8, 5, 5, 3], seed=seed)
        net[0].requires_grad_(False)
        return net

    e = ensemble(builder, SEEDS)
    hs = train(e, X, Y, epochs=2, batch_size=8, lr=0.5, progress=False, diagnostics_every=1)
    for k, s in enumerate(SEEDS):
        h = train(builder(s), X, Y, epochs=2, batch_size=8, lr=0.5, seed=s, progress=False,
                  diagnostics_every=1)
        assert hs[k].weight_change[-1][0] == h.weight_change[-1][0] == 0.0
        assert hs[k].bias_grad[-1] == pytest.approx(h.bias_grad[-1], rel=2e-3)
    assert e.body.layers[0].bias.requires_grad is False  # restored after measuring


def test_layer_diagnostics_refuses_other_nets():
    e = ensemble(dropout_mlp, SEEDS, sizes=[8, 4, 3], p=0.2)
    with pytest.raises(TypeError, match="plain MLPs"):
        e.layer_diagnostics(X.expand(3, -1, -1), Y.expand(3, -1), lambda o, t: o.sum((1, 2)), [])


def test_a_member_does_not_depend_on_the_other_members():
    """Bitwise: member k of a 5-net ensemble equals the 1-net ensemble of its
    seed, so a chapter's seed-0 run is the same wherever it was trained."""
    big = ensemble(dropout_mlp, (0, 1, 2, 3, 4), sizes=[8, 6, 3], p=0.2)
    small = ensemble(dropout_mlp, (3,), sizes=[8, 6, 3], p=0.2)
    hb = train(big, X, Y, epochs=2, batch_size=8, lr=0.5, momentum=0.9, progress=False)
    hs = train(small, X, Y, epochs=2, batch_size=8, lr=0.5, momentum=0.9, progress=False)
    assert _max_diff(big.member(3), small.member(0)) == 0.0
    assert hb[3].step_loss == hs[0].step_loss
