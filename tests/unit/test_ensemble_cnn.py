"""Ensembles of chapter 5's CNNs (gradbook.models.ensemble_cnn): member k
starts as the single net with seed k, trains on its mini-batches exactly as
that net does, and never mixes with the other members."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gradbook.models.cnn import deep_cnn, small_cnn
from gradbook.models.ensemble import Ensemble, ensemble
from gradbook.train import train

X = torch.rand(48, 64, generator=torch.Generator().manual_seed(0))
Y = torch.randint(0, 10, (48,), generator=torch.Generator().manual_seed(1))
SEEDS = (3, 7, 11)

NETS = {
    "small-relu": (small_cnn, dict(channels=3, activation="relu")),
    "small-sigmoid": (small_cnn, dict(channels=2, activation="sigmoid")),
    "deep-sigmoid": (deep_cnn, dict(depth=4, channels=2, activation="sigmoid")),
}
RUNS = {"plain": dict(), "momentum": dict(momentum=0.9), "norm-clip": dict(clip=("norm", 0.05))}


def _max_diff(a: nn.Module, b: nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return max(float((sa[k].double() - sb[k].double()).abs().max()) for k in sa)


@pytest.mark.parametrize("net", NETS)
def test_members_start_as_single_nets_and_compute_the_same(net):
    builder, settings = NETS[net]
    e = ensemble(builder, SEEDS, **settings)
    out = e(X.expand(len(SEEDS), *X.shape))
    for k, s in enumerate(SEEDS):
        single = builder(seed=s, **settings)
        assert _max_diff(e.member(k), single) == 0.0
        assert torch.allclose(out[k], single(X), atol=1e-5)


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("net", NETS)
def test_member_k_trains_like_a_single_net_with_seed_k(net, run):
    builder, settings = NETS[net]
    options = dict(epochs=3, batch_size=8, lr=0.1, progress=False, X_test=X, y_test=Y) | RUNS[run]
    e = ensemble(builder, SEEDS, **settings)
    histories = train(e, X, Y, **options)
    for k, s in enumerate(SEEDS):
        single = builder(seed=s, **settings)
        h = train(single, X, Y, seed=s, **options)
        assert histories[k].steps == h.steps > 0
        assert _max_diff(e.member(k), single) < 2e-4
        assert histories[k].step_loss == pytest.approx(h.step_loss, rel=1e-4, abs=1e-5)
        assert histories[k].test_acc == pytest.approx(h.test_acc, abs=1e-9)
    assert _max_diff(e.member(0), e.member(1)) > 1e-3


def test_members_never_mix():
    """The gradient of member 0's loss reaches member 0's weights only."""
    e = ensemble(small_cnn, SEEDS, channels=2)
    out = e(X.expand(len(SEEDS), *X.shape))
    out[0].sum().backward()
    for p in e.parameters():
        assert p.grad[0].abs().sum() > 0
        assert p.grad[1:].abs().max() == 0


def test_unsupported_layers_raise_a_clear_type_error():
    nets = [nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 2, 3), nn.Dropout2d(0.5)) for _ in SEEDS]
    with pytest.raises(TypeError, match="cannot stack a Dropout2d"):
        Ensemble(nets, SEEDS)


def test_members_with_different_conv_settings_are_refused():
    a = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1))
    b = nn.Sequential(nn.Conv2d(1, 2, 3, padding=0))
    with pytest.raises(ValueError, match="padding"):
        Ensemble([a, b], (0, 1))
