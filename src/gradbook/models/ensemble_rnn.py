r"""Ensembles of recurrent nets: N seeds of chapter 6's nets as one batched model.

:class:`~gradbook.models.ensemble.Ensemble` stacks these when its members
are :class:`~gradbook.models.rnn.VanillaRNN` or
:class:`~gradbook.models.rnn.LSTMNet` nets. Member :math:`k`'s weights are
slice ``[k]`` of every stacked tensor, and each step of the recurrence is one
batched matrix product for all members,

.. math:: a^{(k)}_t = h^{(k)}_{t-1} W^{(k)\top} + u^{(k)}_t
          \quad (k = 1, \dots, N) \qquad\text{as one } \texttt{torch.baddbmm}

over weights of shape (N, hidden, hidden), with the input terms
:math:`u^{(k)}_t = x^{(k)}_t U^{(k)\top} + b^{(k)}` computed for all steps at
once before the loop. An ensemble of recurrent nets maps sequences
(N, batch, time, input_size) to the readout at the last step (N, batch,
output_size): what :func:`gradbook.train.train` trains on, as it trains a
single net on ``model.last_output``.

Why by hand and not ``torch.func.vmap`` over ``functional_call``:
``benchmarks/ensemble.py`` (RNN section) times both on chapter 6's net (32
tanh units, the adding problem, T = 10, batch 32, forward and backward, one
thread). Measured: the hand-batched recurrence took 0.25, 0.49 and 1.62 s
for 1, 5 and 20 members against vmap's 0.47, 0.76 and 1.61 s: faster for
few members, equal at 20. It wins on two other counts: vmap cannot run the
nets' own ``forward`` (its input checks read values, which vmap forbids), so
it would need a second, functional copy of every net, while the hand-batched
layers write each member back into a real net (``Ensemble.member``).

The LSTM member's single-net training runs the fused ``torch.nn.LSTM``; here
its equations are unrolled one step at a time (the same equations as
:meth:`LSTMNet.forward`), so the two agree to float tolerance, not bit for
bit. Both biases of the LSTM (``bias_ih_l0``, ``bias_hh_l0``) stay separate
parameters, so that each gets the gradient and the momentum it gets alone.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .rnn import LSTMNet, RecurrentNet, VanillaRNN

__all__: list[str] = []


def _stack(tensors: Sequence[torch.Tensor]) -> nn.Parameter:
    grad = tensors[0].requires_grad
    return nn.Parameter(torch.stack([t.detach() for t in tensors]).clone(), requires_grad=grad)


def _copy_into(target: nn.Parameter, source: torch.Tensor) -> None:
    with torch.no_grad():
        target.copy_(source)
    target.requires_grad_(source.requires_grad)


class _BatchedReadout(nn.Module):
    """N readouts ``nn.Linear(hidden, output)``: weight (N, out, hidden), bias (N, out)."""

    def __init__(self, layers: Sequence[nn.Linear]) -> None:
        super().__init__()
        self.weight = _stack([layer.weight for layer in layers])
        self.bias = _stack([layer.bias for layer in layers])

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), h, self.weight.transpose(1, 2))

    def write(self, k: int, layer: nn.Linear) -> None:
        _copy_into(layer.weight, self.weight[k])
        _copy_into(layer.bias, self.bias[k])


class _BatchedRecurrent(nn.Module):
    """What the batched vanilla RNN and LSTM share: input (N, batch, time,
    input) to the last step's readout (N, batch, output)."""

    #: The ensemble's inputs: (N, batch, time, features).
    input_ndim = 4
    input_shape = "(N, batch, time, input_size)"

    def __init__(self, members: Sequence[RecurrentNet]) -> None:
        super().__init__()
        first = members[0]
        self.input_size, self.hidden_size = first.input_size, first.hidden_size
        self.readout = _BatchedReadout([m.readout for m in members])

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def _run(self, u: torch.Tensor) -> torch.Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.input_size:
            raise ValueError(f"x must have {self.input_size} features per step (the members' input_size); "
                             f"got shape {tuple(x.shape)}")
        x = x.to(self.readout.weight.dtype)
        N, B, T, _ = x.shape
        u = self._inputs(x.reshape(N, B * T, self.input_size)).view(N, B, T, -1)
        return self.readout(self._run(u))


class _BatchedVanillaRNN(_BatchedRecurrent):
    r"""N :class:`VanillaRNN` nets: :math:`h_t = \phi(h_{t-1} W^\top + x_t U^\top + b)`."""

    def __init__(self, members: Sequence[VanillaRNN]) -> None:
        super().__init__(members)
        if len({m.nonlinearity for m in members}) != 1:
            raise ValueError("ensemble members must share their nonlinearity")
        self.nonlinearity = members[0].nonlinearity
        self.weight_hh = _stack([m.weight_hh for m in members])
        self.weight_ih = _stack([m.weight_ih for m in members])
        self.bias = _stack([m.bias for m in members])

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight_ih.transpose(1, 2))

    def _run(self, u: torch.Tensor) -> torch.Tensor:
        N, B, T, H = u.shape
        W = self.weight_hh.transpose(1, 2)
        h = u.new_zeros(N, B, H)
        for t in range(T):
            h = torch.baddbmm(u[:, :, t], h, W)
            if self.nonlinearity == "tanh":
                h = torch.tanh(h)
        return h

    def write(self, k: int, net: VanillaRNN) -> None:
        for name in ("weight_hh", "weight_ih", "bias"):
            _copy_into(getattr(net, name), getattr(self, name)[k])
        self.readout.write(k, net.readout)


class _BatchedLSTM(_BatchedRecurrent):
    """N :class:`LSTMNet` nets, the equations of :meth:`LSTMNet.forward` unrolled."""

    _NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")

    def __init__(self, members: Sequence[LSTMNet]) -> None:
        super().__init__(members)
        for name in self._NAMES:
            setattr(self, name, _stack([getattr(m.lstm, name) for m in members]))

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        bias = (self.bias_ih_l0 + self.bias_hh_l0).unsqueeze(1)
        return torch.baddbmm(bias, x, self.weight_ih_l0.transpose(1, 2))

    def _run(self, u: torch.Tensor) -> torch.Tensor:
        N, B, T, _ = u.shape
        W = self.weight_hh_l0.transpose(1, 2)
        h = u.new_zeros(N, B, self.hidden_size)
        c = torch.zeros_like(h)
        for t in range(T):
            i, f, g, o = torch.baddbmm(u[:, :, t], h, W).chunk(4, dim=2)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        return h

    def write(self, k: int, net: LSTMNet) -> None:
        for name in self._NAMES:
            _copy_into(getattr(net.lstm, name), getattr(self, name)[k])
        self.readout.write(k, net.readout)


def batched_recurrent(members: Sequence[RecurrentNet]) -> nn.Module:
    """The batched version of N recurrent nets of one architecture (checked
    by the caller, :func:`gradbook.models.ensemble._batched`)."""
    if isinstance(members[0], VanillaRNN):
        return _BatchedVanillaRNN(members)
    if isinstance(members[0], LSTMNet):
        return _BatchedLSTM(members)
    raise TypeError(f"an ensemble cannot stack a {type(members[0]).__name__} yet: of the recurrent nets it "
                    "stacks VanillaRNN and LSTMNet")
