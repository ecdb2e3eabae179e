r"""Recurrent networks, gradients through time, and gradient clipping.

A vanilla recurrent network reads a sequence :math:`x_1, \dots, x_T` and
keeps a hidden state

.. math::

    a_t = W h_{t-1} + U x_t + b,\qquad h_t = \phi(a_t),\qquad
    \hat y_t = V h_t + c,

with :math:`h_0 = 0` and :math:`\phi = \tanh` (or the identity, "linear",
for the theory). Back-propagation through time multiplies the error at the
last step by one Jacobian per step,

.. math::

    \frac{\partial L}{\partial h_t}
      = \Big(\prod_{k=t+1}^{T} \operatorname{diag}\phi'(a_k)\, W\Big)^{\!\top}
        \frac{\partial L}{\partial h_T},

so for a linear network :math:`\partial L/\partial h_t =
(W^\top)^{T-t}\,\partial L/\partial h_T`: its norm shrinks like
:math:`\rho^{T-t}` when the spectral radius :math:`\rho` of :math:`W` is
below 1 (vanishing) and, for most error vectors, grows like
:math:`\rho^{T-t}` when it is above 1 (exploding). Pascanu, Mikolov &
Bengio (2013) prove the first half (:math:`\rho < 1` suffices to vanish) and
that :math:`\rho > 1` is necessary to explode; they tame explosions by
*clipping* the gradient's norm (:func:`gradbook.train.clip_by_global_norm`).

Conventions: sequences are batch first, ``x`` of shape
``(batch, time, features)``; the loss is taken at the last time step only.
Everything random takes a ``seed``; the same seed gives the same numbers.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .._validate import (
    Array,
    Choice,
    Float,
    Instance,
    Int,
    Module,
    Seed,
    Unchecked,
    as_features,
    as_labels,
    as_sequences,
    as_square_matrix,
    check_choice,
    check_finite_float,
    check_positive_float,
    check_positive_int,
    check_seed,
    declare,
    derived_seed,
)
from ..losses import loss_value
from .mlp import WIDTH, check_parameter_count

__all__ = [
    "NONLINEARITIES",
    "RECURRENT_INITS",
    "TASK_LOSSES",
    "MAX_HIDDEN",
    "MAX_SCALE",
    "TARGETS",
    "as_targets",
    "last_step_loss",
    "orthogonal_matrix",
    "spectral_radius",
    "recurrent_matrix",
    "RecurrentNet",
    "VanillaRNN",
    "LSTMNet",
    "check_recurrent_net",
    "task_loss",
]

NONLINEARITIES = ("tanh", "linear")


RECURRENT_INITS = ("orthogonal", "gaussian")


TASK_LOSSES = ("mse", "softmax")


__undeclared__ = {
    "RecurrentNet": "the base class of VanillaRNN and LSTMNet, which declare its parameters; "
                    "users build those",
}


#: The largest recurrent matrix (n, n) the module draws or measures: the
#: eigenvalues of a "gaussian" one (and spectral_radius) take about 15 s at
#: n = 2048 on the book's CPU, and eight times longer at twice the size.
MAX_HIDDEN = 2048

#: The largest spectral radius, input scale or forget-gate bias accepted: far
#: beyond any a recurrent net is trained with, and small enough that the
#: weights themselves stay finite in float32.
MAX_SCALE = 1e6

#: Targets for the last step: (n,) class labels or (n, n_outputs) values.
TARGETS = Array((1, 2))


# --------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------


@declare(y=TARGETS, loss=Choice(TASK_LOSSES), n_samples=Int(1), n_outputs=Int(1),
         name=Unchecked("the argument's name, used in messages"), check=False,
         example=dict(y=[[0.5], [1.0]], loss="mse", n_samples=2, n_outputs=1))
def as_targets(y: Any, loss: str, n_samples: int, n_outputs: int, name: str = "y") -> torch.Tensor:
    """Targets for the last time step: (n, n_outputs) floats for "mse",
    (n,) class labels for "softmax". Checks its arguments itself (the
    messages name ``name``: the caller's argument)."""
    check_choice(loss, "loss", TASK_LOSSES)
    n_samples = check_positive_int(n_samples, "n_samples")
    n_outputs = check_positive_int(n_outputs, "n_outputs")
    if loss == "softmax":
        return as_labels(y, name, n_samples=n_samples, n_classes=n_outputs)
    t = as_features(y, name, n_features=n_outputs)
    if t.shape[0] != n_samples:
        raise ValueError(f"{name} has {t.shape[0]} rows but x has {n_samples} sequences")
    return t


@declare(last=Instance(torch.Tensor, what="a torch.Tensor"), y=Instance(torch.Tensor, what="a torch.Tensor"),
         loss=Choice(TASK_LOSSES), example=lambda: dict(last=torch.zeros(2, 1), y=torch.ones(2, 1), loss="mse"))
def last_step_loss(last: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean loss of the last step's outputs (n, n_outputs) against ``y``:
    :func:`gradbook.losses.loss_value` with "mse" or "softmax"."""
    check_choice(loss, "loss", TASK_LOSSES)
    return loss_value(last, y, loss)


# --------------------------------------------------------------------------
# recurrent matrices
# --------------------------------------------------------------------------


@declare(n=Int(1, MAX_HIDDEN), seed=Seed(), example=dict(n=3))
def orthogonal_matrix(n: int, seed: int = 0) -> torch.Tensor:
    r"""A random orthogonal matrix, uniform (Haar) over the orthogonal group.

    The Q factor of the QR decomposition of an (n, n) standard Gaussian
    matrix, with the signs fixed so that :math:`R` has a positive diagonal
    (Mezzadri 2007). :math:`Q^\top Q = I`; every eigenvalue has modulus 1.

    Returns
    -------
    torch.Tensor of shape (n, n), float32.
    """
    n = check_positive_int(n, "n")
    gen = torch.Generator().manual_seed(check_seed(seed))
    q, r = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).to(torch.float32)


@declare(W=Array(2), example=dict(W=[[0.5, 0.0], [0.0, 2.0]]))
def spectral_radius(W: Any) -> float:
    r"""The spectral radius :math:`\rho(W) = \max_i |\lambda_i(W)|`.

    It governs :math:`\|W^k\|` for large k: :math:`\|W^k\|^{1/k} \to \rho(W)`
    (Gelfand's formula). ``W`` must be a square real matrix, at most
    ``MAX_HIDDEN`` rows.
    """
    W = as_square_matrix(W)
    if W.shape[0] > MAX_HIDDEN:
        raise ValueError(f"W has {W.shape[0]:,} rows; spectral_radius takes at most {MAX_HIDDEN:,}")
    return float(torch.linalg.eigvals(W).abs().max())


@declare(n=Int(1, MAX_HIDDEN), radius=Float(0.0, MAX_SCALE), kind=Choice(RECURRENT_INITS), seed=Seed(),
         example=dict(n=3, radius=0.9))
def recurrent_matrix(n: int, radius: float = 1.0, kind: str = "orthogonal", seed: int = 0) -> torch.Tensor:
    r"""A random (n, n) recurrent matrix with spectral radius ``radius``.

    - ``"orthogonal"``: :math:`W = \rho Q` with :math:`Q` from
      :func:`orthogonal_matrix`; every singular value equals :math:`\rho`,
      so :math:`\|W^k v\| = \rho^k \|v\|` exactly.
    - ``"gaussian"``: :math:`W = \rho G / \rho(G)` with :math:`G_{ij} \sim
      N(0, 1/n)`. Its eigenvalues fill a disc (the circular law); powers of
      :math:`W` behave like :math:`\rho^k` only in the long run.

    Parameters
    ----------
    n : hidden size.
    radius : the spectral radius :math:`\rho \ge 0`.
    kind : "orthogonal" or "gaussian".
    seed : the same seed gives the same matrix.

    Returns
    -------
    torch.Tensor of shape (n, n), float32.
    """
    n = check_positive_int(n, "n")
    radius = check_positive_float(radius, "radius", allow_zero=True)
    check_choice(kind, "kind", RECURRENT_INITS)
    seed = check_seed(seed)
    if kind == "orthogonal":
        return orthogonal_matrix(n, seed) * radius
    gen = torch.Generator().manual_seed(seed)
    G = torch.randn(n, n, generator=gen, dtype=torch.float64) / math.sqrt(n)
    return (G * (radius / spectral_radius(G))).to(torch.float32)


# --------------------------------------------------------------------------
# networks
# --------------------------------------------------------------------------


class RecurrentNet(nn.Module):
    r"""What :class:`VanillaRNN` and :class:`LSTMNet` share: unrolling over
    time, a linear readout at every step, and the state list that the
    gradient functions differentiate against.

    ``forward(x)`` with ``x`` of shape (batch, time, input_size) returns
    ``(outputs, states)``:

    - ``outputs``: (batch, time, output_size), the readout
      :math:`\hat y_t = V h_t + c` at every step;
    - ``states``: a list of ``time + 1`` tensors (batch, state_size),
      :math:`s_0, \dots, s_T`, each in the autograd graph: every later state
      is computed from it, so ``torch.autograd.grad(loss, states)`` gives the
      full :math:`\partial L / \partial s_t`.
    """

    state_size: int

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.output_size = check_positive_int(output_size, "output_size")
        # skip_init: no draw from torch's global generator; _init_readout fills it.
        self.readout = torch.nn.utils.skip_init(nn.Linear, self.hidden_size, self.output_size)

    def _init_readout(self, gen: torch.Generator) -> None:
        """Readout weights N(0, 1/hidden_size), zero bias."""
        with torch.no_grad():
            w = torch.randn(self.output_size, self.hidden_size, generator=gen)
            self.readout.weight.copy_(w / math.sqrt(self.hidden_size))
            self.readout.bias.zero_()

    def initial_state(self, batch_size: int) -> torch.Tensor:
        """The zero state :math:`s_0`, shape (batch_size, state_size)."""
        p = self.readout.weight
        return torch.zeros(batch_size, self.state_size, dtype=p.dtype, device=p.device)

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def _step(self, u_t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _hidden(self, state: torch.Tensor) -> torch.Tensor:
        return state

    def last_output(self, x: torch.Tensor) -> torch.Tensor:
        """The readout at the last step, (batch, output_size), without keeping
        the states: what training needs."""
        return self(x)[0][:, -1]

    def forward(
        self, x: torch.Tensor, state0: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = as_sequences(x, "x", n_features=self.input_size)
        x = x.to(self.readout.weight.dtype)
        batch = x.shape[0]
        if state0 is None:
            state = self.initial_state(batch)
        else:
            if not isinstance(state0, torch.Tensor) or tuple(state0.shape) != (batch, self.state_size):
                raise ValueError(
                    f"state0 must be a tensor of shape ({batch}, {self.state_size}); "
                    f"got {tuple(getattr(state0, 'shape', ())) or type(state0).__name__}"
                )
            state = state0
        u = self._inputs(x)
        states = [state]
        for t in range(x.shape[1]):
            state = self._step(u[:, t], state)
            states.append(state)
        hidden = torch.stack([self._hidden(s) for s in states[1:]], dim=1)
        return self.readout(hidden), states


@declare(input_size=WIDTH, hidden_size=Int(1, MAX_HIDDEN), output_size=WIDTH,
         nonlinearity=Choice(NONLINEARITIES), init=Choice(RECURRENT_INITS), radius=Float(0.0, MAX_SCALE),
         input_scale=Float(0.0, MAX_SCALE), seed=Seed(), example=dict(input_size=2, hidden_size=3))
class VanillaRNN(RecurrentNet):
    r"""An Elman network :math:`h_t = \phi(W h_{t-1} + U x_t + b)` with a
    linear readout :math:`\hat y_t = V h_t + c`.

    Parameters
    ----------
    input_size, hidden_size, output_size : the widths of :math:`x_t`,
        :math:`h_t` and :math:`\hat y_t`.
    nonlinearity : "tanh" or "linear" (:math:`\phi` the identity).
    init : how :math:`W` is drawn, "orthogonal" or "gaussian"
        (see :func:`recurrent_matrix`).
    radius : the spectral radius of :math:`W` at initialisation.
    input_scale : :math:`U_{ij} \sim N(0, \text{input\_scale}^2/\text{input\_size})`.
    seed : seeds :math:`W`, :math:`U` and :math:`V`; :math:`b = c = 0`.

    Attributes
    ----------
    weight_hh : (hidden, hidden) parameter :math:`W`.
    weight_ih : (hidden, input) parameter :math:`U`.
    bias : (hidden,) parameter :math:`b`.
    readout : ``nn.Linear(hidden, output)``, :math:`V` and :math:`c`.

    The state is :math:`h_t` itself (``state_size == hidden_size``).
    Draws nothing from torch's global generator.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int = 1,
        nonlinearity: str = "tanh",
        *,
        init: str = "orthogonal",
        radius: float = 1.0,
        input_scale: float = 1.0,
        seed: int = 0,
    ) -> None:
        hidden_size = check_positive_int(hidden_size, "hidden_size")
        if hidden_size > MAX_HIDDEN:
            raise ValueError(f"hidden_size must be an integer from 1 to {MAX_HIDDEN:,}; got {hidden_size}")
        check_choice(init, "init", RECURRENT_INITS)
        check_parameter_count(_rnn_parameters(input_size, hidden_size, output_size),
                              "input_size, hidden_size and output_size")
        super().__init__(input_size, hidden_size, output_size)
        self.nonlinearity = check_choice(nonlinearity, "nonlinearity", NONLINEARITIES)
        input_scale = check_positive_float(input_scale, "input_scale", allow_zero=True)
        seed = check_seed(seed)
        self.state_size = self.hidden_size
        self.weight_hh = nn.Parameter(recurrent_matrix(self.hidden_size, radius, init, seed))
        gen = torch.Generator().manual_seed(derived_seed(seed + 1))
        U = torch.randn(self.hidden_size, self.input_size, generator=gen)
        self.weight_ih = nn.Parameter(U * (input_scale / math.sqrt(self.input_size)))
        self.bias = nn.Parameter(torch.zeros(self.hidden_size))
        self._init_readout(gen)

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight_ih.T + self.bias

    def _step(self, u_t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        a = state @ self.weight_hh.T + u_t
        return torch.tanh(a) if self.nonlinearity == "tanh" else a


def _rnn_parameters(input_size: Any, hidden_size: int, output_size: Any, gates: int = 1) -> int:
    """Trainable numbers of a recurrent net (``gates`` 4 for an LSTM), 0 if a
    size is not an int yet (RecurrentNet's checks then name it)."""
    sizes = (input_size, hidden_size, output_size)
    if any(isinstance(v, bool) or not isinstance(v, int) for v in sizes):
        return 0
    return gates * hidden_size * (input_size + hidden_size + 2) + output_size * (hidden_size + 1)


@declare(input_size=WIDTH, hidden_size=WIDTH, output_size=WIDTH, forget_bias=Float(-MAX_SCALE, MAX_SCALE),
         seed=Seed(), example=dict(input_size=2, hidden_size=3))
class LSTMNet(RecurrentNet):
    r"""A one-layer LSTM (Hochreiter & Schmidhuber 1997, with the forget gate
    of Gers et al. 2000) with the same interface as :class:`VanillaRNN`.

    .. math::

        (i, f, g, o) = (\sigma, \sigma, \tanh, \sigma)(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}),\\
        c_t = f \odot c_{t-1} + i \odot g,\qquad h_t = o \odot \tanh c_t .

    The weights live in ``self.lstm``, a ``torch.nn.LSTM``. Training
    (:meth:`last_output`) runs that fused module over the whole sequence;
    ``forward`` unrolls the same equations one step at a time, so that every
    state :math:`s_t = [h_t, c_t]` (``state_size == 2 * hidden_size``) is a
    node of the graph. The additive path through :math:`c_t` is what keeps the
    gradient from vanishing.

    Parameters
    ----------
    input_size, hidden_size, output_size : as for :class:`VanillaRNN`.
    forget_bias : initial bias of the forget gate (1.0, as Gers et al. 2000
        and Jozefowicz et al. 2015 advise: remember by default).
    seed : seeds all weights, which start U(-1/sqrt(hidden), 1/sqrt(hidden))
        as in PyTorch; the readout starts N(0, 1/hidden) with zero bias.
        Draws nothing from torch's global generator.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int = 1,
        *,
        forget_bias: float = 1.0,
        seed: int = 0,
    ) -> None:
        check_parameter_count(_rnn_parameters(input_size, hidden_size, output_size, gates=4),
                              "input_size, hidden_size and output_size")
        super().__init__(input_size, hidden_size, output_size)
        forget_bias = check_finite_float(forget_bias, "forget_bias")
        if abs(forget_bias) > MAX_SCALE:
            raise ValueError(f"forget_bias must lie in [-{MAX_SCALE:g}, {MAX_SCALE:g}]; got {forget_bias!r}")
        gen = torch.Generator().manual_seed(check_seed(seed))
        self.state_size = 2 * self.hidden_size
        # Built on the meta device, then given empty memory: no draw from torch's
        # global generator (skip_init does the same for modules that name their
        # device argument, which nn.LSTM does not); every parameter is filled below.
        self.lstm = nn.LSTM(self.input_size, self.hidden_size, batch_first=True,
                            device="meta").to_empty(device="cpu")
        k = 1.0 / math.sqrt(self.hidden_size)
        H = self.hidden_size
        with torch.no_grad():
            for p in self.lstm.parameters():
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * k)
            self.lstm.bias_ih_l0[H:2 * H] = forget_bias
            self.lstm.bias_hh_l0[H:2 * H] = 0.0
        self._init_readout(gen)

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.lstm.weight_ih_l0.T + self.lstm.bias_ih_l0 + self.lstm.bias_hh_l0

    def _step(self, u_t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        h, c = state.split(self.hidden_size, dim=1)
        i, f, g, o = (u_t + h @ self.lstm.weight_hh_l0.T).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return torch.cat([h, c], dim=1)

    def _hidden(self, state: torch.Tensor) -> torch.Tensor:
        return state[:, : self.hidden_size]

    def last_output(self, x: torch.Tensor) -> torch.Tensor:
        x = as_sequences(x, "x", n_features=self.input_size).to(self.readout.weight.dtype)
        hidden, _ = self.lstm(x)
        return self.readout(hidden[:, -1])


@declare(model=Module(), example=lambda: dict(model=VanillaRNN(2, 3)))
def check_recurrent_net(model: Any) -> RecurrentNet:
    """Return ``model`` if it is a :class:`VanillaRNN` or :class:`LSTMNet`
    (a :class:`RecurrentNet`); raise a ``TypeError`` otherwise."""
    if not isinstance(model, RecurrentNet):
        raise TypeError(
            f"model must be a VanillaRNN or LSTMNet (a gradbook.models.rnn.RecurrentNet); "
            f"got {type(model).__name__}"
        )
    return model


# --------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------


@declare(model=Instance(RecurrentNet, what="a VanillaRNN or LSTMNet"), x=Array(3), y=TARGETS,
         loss=Choice(TASK_LOSSES), example=lambda: dict(model=VanillaRNN(2, 3), x=torch.zeros(2, 4, 2),
                                                         y=torch.zeros(2, 1)))
def task_loss(model: RecurrentNet, x: Any, y: Any, loss: str = "mse") -> float:
    """The mean loss of ``model`` at the last step of ``(x, y)``
    (see :func:`hidden_state_gradients` for the shapes)."""
    model = check_recurrent_net(model)
    x = as_sequences(x, "x", n_features=model.input_size)
    y = as_targets(y, loss, x.shape[0], model.output_size)
    with torch.no_grad():
        return float(last_step_loss(model.last_output(x), y, loss))
