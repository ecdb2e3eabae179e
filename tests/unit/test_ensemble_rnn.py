"""Ensembles of chapter 6's recurrent nets: member k trains exactly as a single
net with seed k (same initial weights, same mini-batches, clipping by its own
norm), and architectures the ensemble cannot stack raise a TypeError."""

from __future__ import annotations

import pytest
import torch

from gradbook.data import adding_problem
from gradbook.models.ensemble import Ensemble, stack_inputs
from gradbook.models.rnn import LSTMNet, RecurrentNet, VanillaRNN
from gradbook.train import train

SEEDS = (0, 1, 2)
BUILDERS = {"rnn": lambda s: VanillaRNN(2, 8, 1, "tanh", seed=s), "lstm": lambda s: LSTMNet(2, 8, 1, seed=s)}


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_members_start_from_the_single_nets_weights(kind):
    ens = Ensemble([BUILDERS[kind](s) for s in SEEDS], SEEDS)
    for k, s in enumerate(SEEDS):
        alone = BUILDERS[kind](s)
        for (name, p), (_, q) in zip(alone.named_parameters(), ens.member(k).named_parameters()):
            assert torch.equal(p, q), name


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("clip", [None, ("norm", 0.1), ("value", 0.01)])
def test_members_train_as_single_nets(kind, clip):
    build = BUILDERS[kind]
    data = [adding_problem(64, 10, seed=s) for s in SEEDS]
    settings = dict(steps=25, lr=0.1, batch_size=16, momentum=0.9, clip=clip, progress=False)
    singles = []
    for s, (x, y) in zip(SEEDS, data):
        net = build(s)
        singles.append((net, train(net, x, y, seed=s, **settings)))
    ens = Ensemble([build(s) for s in SEEDS], SEEDS)
    histories = train(ens, stack_inputs([d[0] for d in data]), stack_inputs([d[1] for d in data]), **settings)
    assert len(histories) == len(SEEDS)
    for k, (net, alone) in enumerate(singles):
        member = ens.member(k)
        for (name, p), (_, q) in zip(net.named_parameters(), member.named_parameters()):
            assert torch.allclose(p, q, atol=2e-5), (name, float((p - q).abs().max()))
        assert histories[k].step_loss == pytest.approx(alone.step_loss, rel=1e-4, abs=1e-6)
        assert histories[k].grad_norms == pytest.approx(alone.grad_norms, rel=1e-4)
        assert histories[k].train_loss == pytest.approx(alone.train_loss, rel=1e-4)
        assert histories[k].train_acc == [] and histories[k].steps == alone.steps == 25


def test_clipping_is_by_each_members_own_norm():
    # member 1 has a hundred times larger recurrent weights: its gradient norm
    # is far above the others'; clipping must rescale each member by its own
    nets = [VanillaRNN(2, 8, 1, "tanh", radius=r, seed=s) for s, r in zip(SEEDS, (0.5, 3.0, 1.0))]
    x, y = adding_problem(32, 10, seed=0)
    ens = Ensemble(nets, SEEDS)
    histories = train(ens, x, y, steps=1, lr=0.1, batch_size=32, clip=("norm", 1e-3), progress=False)
    for k, net in enumerate(nets):
        alone = train(net, x, y, steps=1, lr=0.1, batch_size=32, clip=("norm", 1e-3), seed=SEEDS[k],
                      progress=False)
        assert histories[k].grad_norms == pytest.approx(alone.grad_norms, rel=1e-5)
        for p, q in zip(net.parameters(), ens.member(k).parameters()):
            assert torch.allclose(p, q, atol=1e-6)
    assert len({round(h.grad_norms[0], 3) for h in histories}) == 3


def test_a_diverging_member_stops_alone():
    nets = [VanillaRNN(2, 8, 1, "tanh", seed=s) for s in SEEDS]
    x, y = adding_problem(64, 10, seed=0)
    ens = Ensemble(nets, SEEDS)
    histories = train(ens, x, y * torch.tensor([1.0]), steps=30, lr=0.1, batch_size=16, max_loss=0.5,
                      progress=False)
    singles = [train(VanillaRNN(2, 8, 1, "tanh", seed=s), x, y, steps=30, lr=0.1, batch_size=16, max_loss=0.5,
                     seed=s, progress=False) for s in SEEDS]
    assert [h.diverged_at for h in histories] == [h.diverged_at for h in singles]


class _OtherRecurrent(RecurrentNet):
    def __init__(self, seed: int = 0) -> None:
        super().__init__(2, 3, 1)
        self.state_size = 3


def test_unsupported_recurrent_nets_raise_type_error():
    with pytest.raises(TypeError, match="VanillaRNN and LSTMNet"):
        Ensemble([_OtherRecurrent(), _OtherRecurrent()], (0, 1))
    with pytest.raises(TypeError, match="cannot stack"):
        Ensemble([torch.nn.GRU(2, 3), torch.nn.GRU(2, 3)], (0, 1))


def test_bad_inputs_name_the_shape():
    ens = Ensemble([VanillaRNN(2, 4, 1, seed=s) for s in (0, 1)], (0, 1))
    with pytest.raises(ValueError, match=r"\(2, batch, time, input_size\)"):
        ens(torch.zeros(3, 4, 5, 2))
    x, y = adding_problem(8, 5, seed=0)
    with pytest.raises(ValueError):
        train(ens, torch.stack([x, x, x]), y, steps=1, batch_size=4, progress=False)
    with pytest.raises(ValueError, match="diagnostics_every"):
        train(ens, x, y, steps=1, batch_size=4, diagnostics_every=1, progress=False)
