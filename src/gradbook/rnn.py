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
*clipping* the gradient's norm.

Conventions: sequences are batch first, ``x`` of shape
``(batch, time, features)``; the loss is taken at the last time step only.
Everything random takes a ``seed``; the same seed gives the same numbers.
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ._validate import (
    as_features,
    as_labels,
    check_choice,
    check_positive_float,
    check_positive_int,
    check_probability,
    check_seed,
)
from .losses import loss_value
from .train import show_progress

__all__ = [
    "NONLINEARITIES",
    "RECURRENT_INITS",
    "TASK_LOSSES",
    "orthogonal_matrix",
    "recurrent_matrix",
    "spectral_radius",
    "RecurrentNet",
    "VanillaRNN",
    "LSTMNet",
    "hidden_state_gradients",
    "gradient_through_time",
    "jacobian_product_norms",
    "adding_problem",
    "temporal_order",
    "global_norm",
    "clip_by_global_norm",
    "clip_by_value",
    "task_loss",
    "TrainResult",
    "train_rnn",
    "cliff_loss",
    "cliff_gradient",
    "CliffPath",
    "cliff_trajectory",
    "ADDING_BASELINE",
    "ADDING_ONE_VALUE",
    "lag_profile",
    "growth_rate",
    "gradient_time_figure",
    "CLIFF_START",
    "CLIFF_LENGTH",
    "cliff_figure",
    "AddingRun",
    "adding_run",
    "plot_run",
]

NONLINEARITIES = ("tanh", "linear")
RECURRENT_INITS = ("orthogonal", "gaussian")
TASK_LOSSES = ("mse", "softmax")
CLIFF_ACTIVATIONS = ("sigmoid", "tanh")


# --------------------------------------------------------------------------
# private checks
# --------------------------------------------------------------------------


def _as_matrix(W: Any, name: str) -> torch.Tensor:
    """``W`` as a detached, non-empty, finite float64 matrix (no float32 round trip)."""
    try:
        t = W.detach() if isinstance(W, torch.Tensor) else torch.from_numpy(np.asarray(W, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real numeric matrix; got {type(W).__name__}") from exc
    if t.is_complex():
        raise TypeError(f"{name} must be real-valued; got dtype {t.dtype}")
    if t.ndim != 2 or 0 in t.shape:
        raise ValueError(f"{name} must be a non-empty 2-D matrix; got shape {tuple(t.shape)}")
    t = t.to(torch.float64)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values; all entries must be finite")
    return t


def _as_square(W: Any, name: str = "W") -> torch.Tensor:
    """``W`` as a detached float64 square matrix with finite entries."""
    shape = tuple(np.shape(W))
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"{name} must be a square matrix (n, n); got shape {shape}")
    return _as_matrix(W, name)


def _as_sequences(x: Any, name: str = "x", *, n_features: int | None = None) -> torch.Tensor:
    """``x`` as a float tensor of shape (batch, time, features), finite.

    A float tensor keeps its dtype and its autograd graph; anything else goes
    through :func:`~gradbook._validate.as_features` (one row per time step)
    and becomes float32.
    """
    try:
        shape = tuple(np.shape(x))
    except ValueError as exc:
        raise ValueError(f"{name} must be a (batch, time, features) array; got a ragged {type(x).__name__}") from exc
    if len(shape) != 3:
        raise ValueError(f"{name} must be 3-D, of shape (batch, time, features); got shape {shape}")
    if 0 in shape:
        raise ValueError(f"{name} is empty: shape {shape}; batch, time and features must be >= 1")
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        if not torch.isfinite(x.detach()).all():
            bad = int((~torch.isfinite(x.detach())).sum())
            raise ValueError(f"{name} contains {bad} NaN or infinite value(s); all values must be finite")
        t = x
    else:
        flat = x.reshape(-1, shape[2]) if isinstance(x, torch.Tensor) else np.asarray(x).reshape(-1, shape[2])
        t = as_features(flat, name).reshape(shape)
    if n_features is not None and shape[2] != n_features:
        raise ValueError(f"{name} must have {n_features} features (last axis); got {shape[2]}")
    return t


def _check_number(v: Any, name: str) -> float:
    """``v`` as a float if it is a finite real number."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number; got {v!r}")
    return float(v)


def _as_targets(y: Any, loss: str, n_samples: int, n_outputs: int) -> torch.Tensor:
    """Targets for the last time step: (n, n_outputs) floats for "mse",
    (n,) class labels for "softmax"."""
    check_choice(loss, "loss", TASK_LOSSES)
    if loss == "softmax":
        return as_labels(y, "y", n_samples=n_samples, n_classes=n_outputs)
    t = as_features(y, "y", n_features=n_outputs)
    if t.shape[0] != n_samples:
        raise ValueError(f"y has {t.shape[0]} rows but x has {n_samples} sequences")
    return t


def _last_step_loss(last: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean loss of the last step's outputs (n, n_outputs) against ``y``."""
    if loss == "mse":
        return ((last - y.to(last.dtype)) ** 2).sum(1).mean()
    return loss_value(last, y, "softmax")


def _check_model(model: Any) -> "RecurrentNet":
    if not isinstance(model, RecurrentNet):
        raise TypeError(
            f"model must be a VanillaRNN or LSTMNet (a gradbook.rnn.RecurrentNet); "
            f"got {type(model).__name__}"
        )
    return model


def _as_grads(grads: Any) -> list[torch.Tensor]:
    if isinstance(grads, torch.Tensor):
        grads = [grads]
    grads = list(grads)
    if not grads:
        raise ValueError("grads is empty; give at least one gradient tensor")
    for i, g in enumerate(grads):
        if not isinstance(g, torch.Tensor):
            raise TypeError(f"grads[{i}] must be a torch.Tensor; got {type(g).__name__}")
        if not torch.isfinite(g).all():
            raise ValueError(f"grads[{i}] contains NaN or infinite values; clipping needs finite gradients")
    return grads


# --------------------------------------------------------------------------
# recurrent matrices
# --------------------------------------------------------------------------


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


def spectral_radius(W: Any) -> float:
    r"""The spectral radius :math:`\rho(W) = \max_i |\lambda_i(W)|`.

    It governs :math:`\|W^k\|` for large k: :math:`\|W^k\|^{1/k} \to \rho(W)`
    (Gelfand's formula). ``W`` must be a square real matrix.
    """
    return float(torch.linalg.eigvals(_as_square(W)).abs().max())


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
        self.readout = nn.Linear(self.hidden_size, self.output_size)

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
        x = _as_sequences(x, "x", n_features=self.input_size)
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
        super().__init__(input_size, hidden_size, output_size)
        self.nonlinearity = check_choice(nonlinearity, "nonlinearity", NONLINEARITIES)
        input_scale = check_positive_float(input_scale, "input_scale", allow_zero=True)
        seed = check_seed(seed)
        self.state_size = self.hidden_size
        self.weight_hh = nn.Parameter(recurrent_matrix(self.hidden_size, radius, init, seed))
        gen = torch.Generator().manual_seed(seed + 1)
        U = torch.randn(self.hidden_size, self.input_size, generator=gen)
        self.weight_ih = nn.Parameter(U * (input_scale / math.sqrt(self.input_size)))
        self.bias = nn.Parameter(torch.zeros(self.hidden_size))
        self._init_readout(gen)

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight_ih.T + self.bias

    def _step(self, u_t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        a = state @ self.weight_hh.T + u_t
        return torch.tanh(a) if self.nonlinearity == "tanh" else a


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
        super().__init__(input_size, hidden_size, output_size)
        forget_bias = _check_number(forget_bias, "forget_bias")
        gen = torch.Generator().manual_seed(check_seed(seed))
        self.state_size = 2 * self.hidden_size
        self.lstm = nn.LSTM(self.input_size, self.hidden_size, batch_first=True)
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
        x = _as_sequences(x, "x", n_features=self.input_size).to(self.readout.weight.dtype)
        hidden, _ = self.lstm(x)
        return self.readout(hidden[:, -1])


# --------------------------------------------------------------------------
# gradients through time
# --------------------------------------------------------------------------


def hidden_state_gradients(model: RecurrentNet, x: Any, y: Any, loss: str = "mse") -> torch.Tensor:
    r"""The gradients :math:`\partial L/\partial s_t` for every state
    :math:`s_0, \dots, s_T`, with :math:`L` the mean loss at the last step.

    They are computed in float64 on a copy of ``model``, so gradients as small
    as 1e-300 still register; the model itself is left untouched.

    Parameters
    ----------
    model : a :class:`VanillaRNN` or :class:`LSTMNet`.
    x : (batch, time, input_size) inputs.
    y : targets for the last step: (batch, output_size) for ``loss="mse"``
        (squared error summed over outputs), (batch,) labels for "softmax".

    Returns
    -------
    torch.Tensor of shape (time + 1, batch, state_size), float64; row ``t``
    is :math:`\partial L/\partial s_t` (row ``time`` the last state).
    """
    model = _check_model(model)
    x = _as_sequences(x, "x", n_features=model.input_size)
    y = _as_targets(y, loss, x.shape[0], model.output_size)
    twin = copy.deepcopy(model).double()
    with torch.enable_grad():
        state0 = twin.initial_state(x.shape[0]).requires_grad_(True)
        outputs, states = twin(x.detach().double(), state0)
        value = _last_step_loss(outputs[:, -1], y, loss)
        grads = torch.autograd.grad(value, states)
    return torch.stack(grads).detach()


def gradient_through_time(model: RecurrentNet, x: Any, y: Any, loss: str = "mse") -> torch.Tensor:
    r"""The norm :math:`\|\partial L/\partial s_t\|` for t = 0, ..., T.

    The loss :math:`L` is taken at the last step :math:`T`; entry ``t`` is
    the gradient that reaches the state :math:`T - t` steps back (the lag),
    its Euclidean norm taken over the whole batch. For a linear
    :class:`VanillaRNN`,

    .. math:: \frac{\partial L}{\partial h_t} = (W^\top)^{T-t}\,\frac{\partial L}{\partial h_T}.

    See :func:`hidden_state_gradients` for the arguments.

    Returns
    -------
    torch.Tensor of shape (time + 1,), float64.
    """
    return hidden_state_gradients(model, x, y, loss).flatten(1).norm(dim=1)


def jacobian_product_norms(W: Any, hidden: Any, nonlinearity: str = "tanh") -> torch.Tensor:
    r"""Spectral norms of the Jacobians :math:`\partial h_T/\partial h_t`,
    computed analytically, for t = 0, ..., T.

    .. math::

        \frac{\partial h_T}{\partial h_t}
          = \prod_{k=T}^{t+1} \operatorname{diag}\phi'(a_k)\, W,
        \qquad \phi'(a_k) = 1 - h_k^2 \text{ for tanh},\ 1 \text{ for linear},

    (the product ordered from :math:`k = T` on the left down to
    :math:`k = t+1`); entry ``T`` is the identity, norm 1. Since
    :math:`\partial L/\partial h_t = (\partial h_T/\partial h_t)^\top
    \partial L/\partial h_T`, they bound the growth over :math:`T - t` steps,
    :math:`\|\partial L/\partial h_t\| \le \|\partial h_T/\partial h_t\|_2\,
    \|\partial L/\partial h_T\|`, with equality when all singular values of
    the product are equal (a linear net with :math:`W = \rho Q`, Q orthogonal).

    Parameters
    ----------
    W : (n, n) recurrent matrix.
    hidden : (T + 1, n) hidden states :math:`h_0, \dots, h_T` of one sequence
        (``torch.stack(states, 1)[i]`` for sequence ``i`` of a forward pass).
        Only :math:`h_1 \dots h_T` enter, through :math:`\phi'`. For
        ``nonlinearity="linear"`` the values do not matter and an int ``T``
        may be given instead.
    nonlinearity : "tanh" or "linear".

    Returns
    -------
    torch.Tensor of shape (T + 1,), float64.
    """
    W = _as_square(W)
    check_choice(nonlinearity, "nonlinearity", NONLINEARITIES)
    n = W.shape[0]
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        if nonlinearity != "linear":
            raise ValueError("an int length is only enough for nonlinearity='linear'; give the hidden states")
        T = check_positive_int(hidden, "hidden (the length T)")
        slopes = torch.ones(T + 1, n, dtype=torch.float64)
    else:
        h = _as_matrix(hidden, "hidden")
        if h.shape[1] != n:
            raise ValueError(f"hidden must have {n} columns, one per hidden unit of W; got {h.shape[1]}")
        if h.shape[0] < 2:
            raise ValueError(f"hidden must hold h_0 ... h_T with T >= 1, so at least 2 rows; got {h.shape[0]}")
        if nonlinearity == "tanh" and h.abs().max() > 1:
            raise ValueError("hidden states of a tanh network lie in [-1, 1]; got values outside")
        T = h.shape[0] - 1
        slopes = 1 - h**2 if nonlinearity == "tanh" else torch.ones_like(h)
    norms = torch.empty(T + 1, dtype=torch.float64)
    J = torch.eye(n, dtype=torch.float64)
    norms[T] = 1.0
    for k in range(T, 0, -1):
        J = J @ (slopes[k, :, None] * W)
        norms[k - 1] = torch.linalg.matrix_norm(J, ord=2)
    return norms


# --------------------------------------------------------------------------
# synthetic long-range tasks
# --------------------------------------------------------------------------


def _marker_positions(
    n: int, length: int, min_lag: int | None, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two positions p1 < p2 per sequence (see :func:`adding_problem`)."""
    if min_lag is None:
        half = length // 2
        p1 = torch.randint(0, half, (n,), generator=gen)
        p2 = torch.randint(half, length, (n,), generator=gen)
        return p1, p2
    p1 = torch.randint(0, length - min_lag, (n,), generator=gen)
    room = length - 1 - p1  # positions after p1
    p2 = p1 + 1 + (torch.rand(n, generator=gen, dtype=torch.float64) * room).long()
    return p1, p2


def _check_task(n: Any, length: Any, seed: Any, min_lag: Any) -> tuple[int, int, torch.Generator, int | None]:
    n = check_positive_int(n, "n")
    length = check_positive_int(length, "length", minimum=2)
    gen = torch.Generator().manual_seed(check_seed(seed))
    if min_lag is not None:
        min_lag = check_positive_int(min_lag, "min_lag")
        if min_lag > length - 1:
            raise ValueError(
                f"min_lag must be at most length - 1 = {length - 1} (the first marker must lie "
                f"inside the sequence, before a second one); got min_lag={min_lag}"
            )
    return n, length, gen, min_lag


def adding_problem(
    n: int, length: int, seed: int = 0, *, min_lag: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015).

    Each sequence has two channels: values :math:`v_t \sim U[0, 1]` and a
    marker channel that is 1 at exactly two positions :math:`p_1 < p_2` and 0
    elsewhere. The target is :math:`v_{p_1} + v_{p_2}`, read at the last
    step. Always answering 1 scores a mean squared error of
    :math:`\operatorname{Var}(v_{p_1}+v_{p_2}) = 1/6 \approx 0.167`; a net
    learns the task when it goes well below that.

    Parameters
    ----------
    n : number of sequences.
    length : T, the number of time steps (>= 2).
    seed : the same seed gives the same data.
    min_lag : where the first marker lies. ``None`` (default): as Le et al.,
        :math:`p_1` uniform in the first half and :math:`p_2` uniform in the
        second half. An int k in [1, T-1]: :math:`p_1` uniform in
        [0, T-1-k], so the first marker lies at least k steps before the
        last step, and :math:`p_2` uniform after :math:`p_1`. ``min_lag =
        T - 1`` puts the first marker at step 0.

    Returns
    -------
    x : torch.Tensor (n, length, 2), float32; ``x[..., 0]`` values,
        ``x[..., 1]`` markers.
    y : torch.Tensor (n, 1), float32.
    """
    n, length, gen, min_lag = _check_task(n, length, seed, min_lag)
    values = torch.rand(n, length, generator=gen)
    p1, p2 = _marker_positions(n, length, min_lag, gen)
    rows = torch.arange(n)
    markers = torch.zeros(n, length)
    markers[rows, p1] = 1.0
    markers[rows, p2] = 1.0
    y = (values[rows, p1] + values[rows, p2])[:, None]
    return torch.stack([values, markers], dim=2), y


def temporal_order(
    n: int, length: int, seed: int = 0, *, min_lag: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The temporal-order task (Hochreiter & Schmidhuber 1997, task 6a,
    without the start and end symbols).

    A sequence of random distractor symbols a, b, c, d holds, at two positions
    :math:`p_1 < p_2` (placed as in :func:`adding_problem`), the symbols X or
    Y. The class is their order: XX = 0, XY = 1, YX = 2, YY = 3. Guessing
    scores 25 % and a cross-entropy of :math:`\log 4 \approx 1.386`.

    Returns
    -------
    x : torch.Tensor (n, length, 6), float32, one-hot symbols in the order
        a, b, c, d, X, Y.
    y : torch.Tensor (n,), int64 class labels in {0, 1, 2, 3} (use
        ``loss="softmax"`` with an output size of 4).
    """
    n, length, gen, min_lag = _check_task(n, length, seed, min_lag)
    symbols = torch.randint(0, 4, (n, length), generator=gen)
    p1, p2 = _marker_positions(n, length, min_lag, gen)
    first_y = torch.randint(0, 2, (n,), generator=gen)
    second_y = torch.randint(0, 2, (n,), generator=gen)
    rows = torch.arange(n)
    symbols[rows, p1] = 4 + first_y
    symbols[rows, p2] = 4 + second_y
    x = torch.nn.functional.one_hot(symbols, 6).to(torch.float32)
    return x, 2 * first_y + second_y


# --------------------------------------------------------------------------
# clipping
# --------------------------------------------------------------------------


def global_norm(grads: Sequence[torch.Tensor] | torch.Tensor) -> float:
    r"""The norm of all gradients stacked into one vector,
    :math:`\|g\| = \sqrt{\sum_i \|g_i\|^2}`."""
    return math.sqrt(sum(float(g.detach().double().pow(2).sum()) for g in _as_grads(grads)))


def clip_by_global_norm(
    grads: Sequence[torch.Tensor] | torch.Tensor, max_norm: float
) -> tuple[list[torch.Tensor], float]:
    r"""Rescale the gradients so their global norm is at most ``max_norm``
    (Pascanu, Mikolov & Bengio 2013, algorithm 1):

    .. math::

        \text{if } \|g\| > \text{threshold}:\quad
        g \leftarrow \frac{\text{threshold}}{\|g\|}\, g .

    The direction is kept; only the step length is capped.

    Parameters
    ----------
    grads : a tensor or a sequence of tensors (e.g. ``[p.grad for p in params]``).
    max_norm : the threshold, > 0.

    Returns
    -------
    clipped : new tensors (the inputs are not changed).
    norm : the global norm before clipping.
    """
    grads = _as_grads(grads)
    max_norm = check_positive_float(max_norm, "max_norm")
    norm = global_norm(grads)
    if norm > max_norm:
        return [g * (max_norm / norm) for g in grads], norm
    return [g.clone() for g in grads], norm


def clip_by_value(grads: Sequence[torch.Tensor] | torch.Tensor, clip_value: float) -> list[torch.Tensor]:
    r"""Clip every gradient entry to :math:`[-c, c]`:
    :math:`g_i \leftarrow \max(-c, \min(c, g_i))`.

    Unlike :func:`clip_by_global_norm` this can change the direction of the
    step. Returns new tensors; the inputs are not changed.
    """
    grads = _as_grads(grads)
    c = check_positive_float(clip_value, "clip_value")
    return [g.clamp(-c, c) for g in grads]


# --------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------


def task_loss(model: RecurrentNet, x: Any, y: Any, loss: str = "mse") -> float:
    """The mean loss of ``model`` at the last step of ``(x, y)``
    (see :func:`hidden_state_gradients` for the shapes)."""
    model = _check_model(model)
    x = _as_sequences(x, "x", n_features=model.input_size)
    y = _as_targets(y, loss, x.shape[0], model.output_size)
    with torch.no_grad():
        return float(_last_step_loss(model.last_output(x), y, loss))


@dataclass
class TrainResult:
    """What :func:`train_rnn` recorded.

    ``losses[i]`` and ``grad_norms[i]`` are the mini-batch loss and the global
    gradient norm *before clipping* at step ``i``, for every step whose update
    was taken: ``steps`` of them. If the run diverged, ``diverged_at`` is the
    step at which it stopped (``steps == diverged_at``, no update was taken
    there) and ``reason`` says why; all recorded values are finite.
    """

    steps: int = 0
    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    diverged: bool = False
    diverged_at: int | None = None
    reason: str = ""


def _check_clip(clip: Any) -> tuple[str, float] | None:
    if clip is None:
        return None
    if not isinstance(clip, (tuple, list)) or len(clip) != 2:
        raise ValueError(f"clip must be None, ('norm', threshold) or ('value', threshold); got {clip!r}")
    kind = check_choice(clip[0], "clip[0]", ("norm", "value"))
    return kind, check_positive_float(clip[1], "clip threshold")


def train_rnn(
    model: RecurrentNet,
    data: tuple[Any, Any],
    *,
    steps: int,
    lr: float,
    batch_size: int = 32,
    clip: tuple[str, float] | None = None,
    momentum: float = 0.0,
    loss: str = "mse",
    seed: int = 0,
    max_loss: float = 1e6,
    progress: bool | str = False,
) -> TrainResult:
    r"""Train ``model`` in place by mini-batch SGD on the last-step loss.

    Each step draws ``batch_size`` distinct sequences at random (seeded),
    back-propagates through time, optionally clips the gradient with
    ``torch.nn.utils.clip_grad_norm_`` (``clip=("norm", t)``: rescale to
    global norm t when larger) or ``clip_grad_value_`` (``clip=("value", t)``:
    each entry to [-t, t]), and takes the step
    :math:`v \leftarrow \mu v + g,\ \theta \leftarrow \theta - \eta v`.

    The run stops early, without raising, when it diverges: the loss is NaN,
    infinite or above ``max_loss``, or the gradient norm is not finite. The
    result then has ``diverged=True`` and ``diverged_at`` the step.

    Parameters
    ----------
    model : a :class:`VanillaRNN` or :class:`LSTMNet` (changed in place).
    data : ``(x, y)`` with x (n, time, input_size); y (n, output_size) for
        "mse", (n,) labels for "softmax".
    steps : number of updates.
    lr, momentum : SGD's :math:`\eta` and :math:`\mu`.
    batch_size : sequences per step (at most n).
    clip : None, ("norm", t) or ("value", t).
    loss : "mse" (squared error summed over outputs) or "softmax".
    seed : seeds the order of the mini-batches.
    max_loss : a loss above this counts as divergence.
    progress : show a ``tqdm.auto`` bar: True, False (default) or "auto"
        (see :func:`gradbook.train.show_progress`).

    Returns
    -------
    TrainResult
    """
    model = _check_model(model)
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"data must be a pair (x, y); got {type(data).__name__}")
    x = _as_sequences(data[0], "x", n_features=model.input_size).detach().to(torch.float32)
    y = _as_targets(data[1], loss, x.shape[0], model.output_size)
    steps = check_positive_int(steps, "steps", minimum=0)
    lr = check_positive_float(lr, "lr")
    batch_size = check_positive_int(batch_size, "batch_size")
    if batch_size > x.shape[0]:
        raise ValueError(f"batch_size must be at most the number of sequences, {x.shape[0]}; got {batch_size}")
    clip = _check_clip(clip)
    momentum = check_probability(momentum, "momentum")
    gen = torch.Generator().manual_seed(check_seed(seed))
    max_loss = check_positive_float(max_loss, "max_loss")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameter (all have requires_grad=False)")

    optimiser = torch.optim.SGD(params, lr=lr, momentum=momentum)
    result = TrainResult()
    bar = None
    if show_progress(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="train_rnn", leave=False)
    model.train()
    try:
        for step in range(steps):
            idx = torch.randperm(x.shape[0], generator=gen)[:batch_size]
            optimiser.zero_grad(set_to_none=True)
            value = _last_step_loss(model.last_output(x[idx]), y[idx], loss)
            current = value.item()
            if not math.isfinite(current):
                result.reason = f"loss is {current} at step {step}"
                break
            if current > max_loss:
                result.reason = f"loss {current:.3g} exceeds max_loss={max_loss:.3g} at step {step}"
                break
            value.backward()
            grads = [p.grad for p in params if p.grad is not None]
            if clip is not None and clip[0] == "norm":
                norm = float(torch.nn.utils.clip_grad_norm_(params, clip[1]))
            else:
                norm = float(torch.nn.utils.get_total_norm(grads))
                if clip is not None:
                    torch.nn.utils.clip_grad_value_(params, clip[1])
            if not math.isfinite(norm):
                result.reason = f"gradient norm {norm} at step {step}"
                break
            optimiser.step()
            result.losses.append(current)
            result.grad_norms.append(norm)
            result.steps += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{current:.4g}", refresh=False)
    finally:
        if bar is not None:
            bar.close()
    if result.reason:
        result.diverged, result.diverged_at = True, result.steps
    return result


# --------------------------------------------------------------------------
# the cliff: a one-unit recurrent net
# --------------------------------------------------------------------------


def _cliff_final_state(
    w: torch.Tensor, b: torch.Tensor, length: int, h0: float, activation: str
) -> torch.Tensor:
    act = torch.sigmoid if activation == "sigmoid" else torch.tanh
    h = torch.full(torch.broadcast_shapes(w.shape, b.shape), h0, dtype=torch.float64)
    for _ in range(length):
        h = act(w * h + b)
    return h


def _check_cliff(length: Any, h0: Any, target: Any, activation: Any) -> tuple[int, float, float]:
    length = check_positive_int(length, "length")
    check_choice(activation, "activation", CLIFF_ACTIVATIONS)
    return length, _check_number(h0, "h0"), _check_number(target, "target")


def _as_grid_axis(v: Any, name: str) -> torch.Tensor:
    arr = np.asarray(v, dtype=np.float64) if not isinstance(v, torch.Tensor) else v.detach().double().numpy()
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a number or a 1-D grid; got shape {arr.shape}")
    arr = np.atleast_1d(arr)
    if arr.size == 0 or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be non-empty and finite")
    return torch.from_numpy(arr.copy())


def cliff_loss(
    w: Any,
    b: Any,
    *,
    length: int = 50,
    h0: float = 0.5,
    target: float = 0.7,
    activation: str = "sigmoid",
) -> np.ndarray:
    r"""The loss surface of a one-unit recurrent net (Pascanu et al. 2013, fig. 6).

    .. math::

        h_t = \sigma(w\,h_{t-1} + b),\quad t = 1..T,\qquad
        L(w, b) = (h_T - \text{target})^2 .

    For large :math:`w` the map :math:`h \mapsto \sigma(wh + b)` has two
    stable fixed points; crossing the boundary between their basins in
    :math:`(w, b)` sends :math:`h_T` from one to the other, so the loss jumps
    there: a narrow wall where the gradient is huge, beside flat plateaus.
    With the sigmoid and the defaults (:math:`h_0 = 1/2`, T = 50, target
    0.7) the wall is the line :math:`b = -w/2` for :math:`w > 4`: on it
    :math:`h_t = 1/2` for every t (the unstable fixed point), just above it
    :math:`h_T \approx 1` (loss about 0.09), just below :math:`h_T \approx 0`
    (loss about 0.49), and at :math:`(6, -3)` the gradient norm is about
    :math:`10^8`.

    Parameters
    ----------
    w, b : numbers or 1-D grids.
    length : T, the number of steps.
    h0 : the initial state.
    target : what :math:`h_T` should be.
    activation : "sigmoid" (Pascanu et al.) or "tanh".

    Returns
    -------
    numpy.ndarray of shape (len(b), len(w)): rows follow ``b``, columns
    follow ``w`` (ready for ``plt.pcolormesh(w, b, L)``).
    """
    length, h0, target = _check_cliff(length, h0, target, activation)
    w = _as_grid_axis(w, "w")
    b = _as_grid_axis(b, "b")
    with torch.no_grad():
        hT = _cliff_final_state(w[None, :], b[:, None], length, h0, activation)
    return ((hT - target) ** 2).numpy()


def _sigmoid(a: float) -> float:
    """The logistic function, without overflow for any finite ``a``."""
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def _cliff_forward(
    w: float, b: float, length: int, h0: float, target: float, activation: str
) -> tuple[float, float, float]:
    r"""Loss and gradient of the one-unit net, in forward mode (plain floats).

    Carries :math:`h_t` together with :math:`\partial h_t/\partial w` and
    :math:`\partial h_t/\partial b` through the recurrence, so a gradient
    costs ``length`` scalar steps: hundreds of times cheaper than autograd
    for this two-parameter model.
    """
    h, dh_dw, dh_db = h0, 0.0, 0.0
    for _ in range(length):
        if activation == "sigmoid":
            h_new = _sigmoid(w * h + b)
            slope = h_new * (1.0 - h_new)
        else:
            h_new = math.tanh(w * h + b)
            slope = 1.0 - h_new * h_new
        dh_dw, dh_db = slope * (h + w * dh_dw), slope * (1.0 + w * dh_db)
        h = h_new
    residual = h - target
    return residual * residual, 2.0 * residual * dh_dw, 2.0 * residual * dh_db


def cliff_gradient(
    w: float,
    b: float,
    *,
    length: int = 50,
    h0: float = 0.5,
    target: float = 0.7,
    activation: str = "sigmoid",
) -> tuple[float, float, float]:
    r"""The loss of :func:`cliff_loss` at one point and its gradient.

    Forward-mode differentiation of the recurrence:

    .. math::

        \frac{\partial h_t}{\partial w} = \sigma'(a_t)\Big(h_{t-1} + w\,\frac{\partial h_{t-1}}{\partial w}\Big),
        \qquad
        \frac{\partial h_t}{\partial b} = \sigma'(a_t)\Big(1 + w\,\frac{\partial h_{t-1}}{\partial b}\Big),

    with :math:`a_t = w h_{t-1} + b`. The factor :math:`w\,\sigma'(a_t)`
    multiplies the carried derivative at every step: the one-unit version of
    the product of Jacobians, which is what makes the wall so steep.

    Returns
    -------
    (loss, dL/dw, dL/db) as floats.
    """
    length, h0, target = _check_cliff(length, h0, target, activation)
    return _cliff_forward(_check_number(w, "w"), _check_number(b, "b"), length, h0, target, activation)


@dataclass
class CliffPath:
    """A gradient-descent path on :func:`cliff_loss`.

    ``params`` (steps + 1, 2) holds (w, b) from the start on; ``losses``
    (steps + 1,) the loss at each; ``grad_norms`` (steps,) the gradient norm
    before clipping at each step.
    """

    params: np.ndarray
    losses: np.ndarray
    grad_norms: np.ndarray


def cliff_trajectory(
    w0: float,
    b0: float,
    *,
    lr: float,
    steps: int,
    clip: float | None = None,
    length: int = 50,
    h0: float = 0.5,
    target: float = 0.7,
    activation: str = "sigmoid",
) -> CliffPath:
    r"""Gradient descent on :func:`cliff_loss` from :math:`(w_0, b_0)`,
    with or without clipping the gradient norm at ``clip``
    (the rule of :func:`clip_by_global_norm`).

    Without clipping, a step that lands on the wall meets a gradient many
    orders of magnitude larger than elsewhere and throws the parameters far
    away; with clipping the step is at most ``lr * clip`` long.

    Deterministic: no seed is needed.
    """
    length, h0, target = _check_cliff(length, h0, target, activation)
    lr = check_positive_float(lr, "lr")
    steps = check_positive_int(steps, "steps", minimum=0)
    if clip is not None:
        clip = check_positive_float(clip, "clip")
    w, b = _check_number(w0, "w0"), _check_number(b0, "b0")
    params, losses, norms = [(w, b)], [], []
    for _ in range(steps + 1):
        value, g_w, g_b = _cliff_forward(w, b, length, h0, target, activation)
        losses.append(value)
        if len(norms) == steps:
            break
        norm = math.hypot(g_w, g_b)
        norms.append(norm)
        if clip is not None and norm > clip:
            g_w, g_b = g_w * (clip / norm), g_b * (clip / norm)
        w, b = w - lr * g_w, b - lr * g_b
        params.append((w, b))
    return CliffPath(
        params=np.asarray(params, dtype=np.float64),
        losses=np.asarray(losses),
        grad_norms=np.asarray(norms),
    )


# --------------------------------------------------------------------------
# chapter 6: gradient profiles, training on the adding problem, figures
# --------------------------------------------------------------------------

#: Mean squared error of always answering 1 on the adding problem:
#: :math:`\operatorname{Var}(v_{p_1} + v_{p_2}) = 2/12`.
ADDING_BASELINE = 1.0 / 6.0
#: The error of a net that knows the second value exactly but not the first:
#: :math:`\operatorname{Var}(v_{p_1}) = 1/12`. Going below it needs the value
#: seen at the *first* marker, i.e. memory over the whole lag.
ADDING_ONE_VALUE = 1.0 / 12.0
MODEL_KINDS = ("rnn", "lstm")


_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def _power_label(value: float, _pos: Any = None) -> str:
    """``10⁻⁴``-style tick labels in plain Unicode: no mathtext to parse per frame."""
    if value <= 0:
        return ""
    exponent = int(round(math.log10(value)))
    return "1" if exponent == 0 else "10" + str(exponent).translate(_SUPERSCRIPT)


def _log_y(ax, low: int, high: int, step: int) -> None:
    """A log y axis from 10**low to 10**high with a labelled tick every ``step`` decades."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    ax.set_yscale("log")
    ax.set_ylim(10.0**low, 10.0**high)
    ax.yaxis.set_major_locator(FixedLocator([10.0**k for k in range(low, high + 1, step)]))
    ax.yaxis.set_major_formatter(FuncFormatter(_power_label))
    ax.yaxis.set_minor_locator(NullLocator())


def lag_profile(
    radius: float,
    nonlinearity: str = "tanh",
    length: int = 100,
    *,
    hidden_size: int = 32,
    n_sequences: int = 16,
    init: str = "gaussian",
    seed: int = 0,
) -> np.ndarray:
    r"""How the gradient through time scales with the lag, for a fresh net.

    Builds ``VanillaRNN(2, hidden_size, 1, nonlinearity, init=init,
    radius=radius, seed=seed)``, runs it on ``n_sequences`` sequences of the
    adding problem of length ``length`` and returns

    .. math:: r_k = \frac{\|\partial L/\partial h_{T-k}\|}{\|\partial L/\partial h_T\|},
              \qquad k = 0, \dots, T,

    the gradient that reaches :math:`k` steps back, relative to the last
    state's (:func:`gradient_through_time`, in float64). For a linear net,
    :math:`r_k` behaves like :math:`\rho^k` for large :math:`k`.

    Returns
    -------
    numpy.ndarray of shape (length + 1,); entry ``k`` is lag ``k``, entry 0 is 1.
    """
    length = check_positive_int(length, "length", minimum=2)
    n_sequences = check_positive_int(n_sequences, "n_sequences")
    model = VanillaRNN(2, hidden_size, 1, nonlinearity, init=init, radius=radius, seed=seed)
    x, y = adding_problem(n_sequences, length, seed=seed)
    norms = gradient_through_time(model, x, y).flip(0)
    if not torch.all(norms > 0):
        raise ValueError(
            f"the gradient underflowed to 0 at some lag (radius={radius}, length={length}); "
            "use a shorter length or a larger radius"
        )
    return (norms / norms[0]).numpy()


def growth_rate(profile: Any, *, start: int = 0) -> float:
    r"""The per-step factor of a lag profile: :math:`\exp(\hat s)`, with
    :math:`\hat s` the least-squares slope of :math:`\log r_k` against
    :math:`k` over lags ``start`` and later.

    For :math:`r_k = c\,\rho^k` it returns :math:`\rho` exactly; below 1 the
    gradient vanishes with the lag, above 1 it explodes.
    """
    r = np.asarray(profile, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"profile must be 1-D (one value per lag); got shape {r.shape}")
    start = check_positive_int(start, "start", minimum=0)
    r = r[start:]
    if r.size < 2:
        raise ValueError(f"need at least 2 lags from start={start} on; got {r.size}")
    if not np.all(np.isfinite(r)) or np.any(r <= 0):
        raise ValueError("profile must hold finite values > 0 (they are norms; take logs)")
    lags = np.arange(start, start + r.size, dtype=np.float64)
    return float(np.exp(np.polyfit(lags, np.log(r), 1)[0]))


def gradient_time_figure(radius: float, nonlinearity: str, length: int):
    r"""The chapter's first interactive figure: :math:`r_k` (see
    :func:`lag_profile`) against the lag :math:`k` on a log axis, for one
    spectral radius, nonlinearity and sequence length, beside the linear
    theory :math:`\rho^k` (dashed).

    The axes are the same for every slider position (lags 0-100,
    :math:`10^{-40}` to :math:`10^{40}`), so frames compare at a glance.
    """
    import matplotlib.pyplot as plt

    from .plots import PALETTE

    profile = lag_profile(radius, nonlinearity, length)
    lags = np.arange(length + 1)
    colour = PALETTE["blue"] if nonlinearity == "linear" else PALETTE["orange"]
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    ax.plot(lags, profile, color=colour, lw=3, alpha=0.85, label=f"measured, {nonlinearity}")
    ax.plot(lags, float(radius) ** lags, "--", color="black", lw=1.2, label=r"theory $\rho^k$ (linear)")
    ax.axhline(1.0, color=PALETTE["grey"], lw=0.8, ls=":")
    _log_y(ax, -40, 40, 20)
    ax.set_xlim(0, 100)
    ax.set_xlabel("lag k (steps back from the loss)")
    ax.set_ylabel("gradient at lag k / at lag 0", fontsize=9)
    rate = growth_rate(profile)
    ax.set_title(f"{nonlinearity}, radius {radius:g}, T = {length}: "
                 f"measured factor per step {rate:.3f}", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.subplots_adjust(left=0.15, right=0.95, bottom=0.16, top=0.9)
    return fig


# the cliff: where the chapter starts its descent, and how it draws the surface
CLIFF_START = (7.0, -3.75)
CLIFF_LENGTH = 20
_CLIFF_W = np.linspace(2.0, 10.0, 161)
_CLIFF_B = np.linspace(-6.0, 0.0, 121)


@functools.lru_cache(maxsize=4)
def _cliff_surface(length: int) -> np.ndarray:
    return cliff_loss(_CLIFF_W, _CLIFF_B, length=length)


def _draw_cliff_surface(ax, length: int):
    """The loss surface on ``ax`` as a grey map; returns the mappable."""
    dw, db = _CLIFF_W[1] - _CLIFF_W[0], _CLIFF_B[1] - _CLIFF_B[0]
    mesh = ax.imshow(_cliff_surface(length), origin="lower", aspect="auto", interpolation="nearest",
                     extent=(_CLIFF_W[0] - dw / 2, _CLIFF_W[-1] + dw / 2, _CLIFF_B[0] - db / 2, _CLIFF_B[-1] + db / 2),
                     cmap="Greys", vmin=-0.5, vmax=1.2)
    ax.set_xlim(_CLIFF_W[0], _CLIFF_W[-1])
    ax.set_ylim(_CLIFF_B[0], _CLIFF_B[-1])
    ax.set_xlabel("recurrent weight w")
    ax.set_ylabel("bias b")
    return mesh


def _draw_path(ax, path: CliffPath, colour: str, label: str, note_y: float) -> None:
    """A descent path, with a note where it leaves the window."""
    w, b = path.params[:, 0], path.params[:, 1]
    ax.plot(w, b, ".-", color=colour, lw=1.2, ms=3, label=label)
    inside = (w >= _CLIFF_W[0]) & (w <= _CLIFF_W[-1]) & (b >= _CLIFF_B[0]) & (b <= _CLIFF_B[-1])
    if not inside.all():
        k = int(np.argmin(inside))
        ax.annotate(f"thrown to ({w[k]:.3g}, {b[k]:.3g})", xy=(w[k - 1], b[k - 1]),
                    xytext=(0.03, note_y), textcoords="axes fraction",
                    fontsize=8, color=colour,
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=colour, lw=0.8))


def cliff_figure(clip: float, lr: float, *, steps: int = 100, length: int = CLIFF_LENGTH):
    r"""The chapter's second interactive figure: gradient descent on the
    one-unit cliff (:func:`cliff_loss`, sigmoid, T = ``length``) from
    :data:`CLIFF_START`, without clipping (vermillion) and with the gradient
    norm clipped at ``clip`` (blue), at learning rate ``lr``.

    Left: the paths on the loss surface. Right: the gradient norm before
    clipping at each step, on a log axis, with the threshold.
    """
    import matplotlib.pyplot as plt

    from .plots import PALETTE

    clip = check_positive_float(clip, "clip")
    free = cliff_trajectory(*CLIFF_START, lr=lr, steps=steps, length=length)
    clipped = cliff_trajectory(*CLIFF_START, lr=lr, steps=steps, length=length, clip=clip)
    fig, (ax_s, ax_g) = plt.subplots(1, 2, figsize=(9.2, 3.5), gridspec_kw={"width_ratios": [1.15, 1]})
    _draw_cliff_surface(ax_s, length)
    _draw_path(ax_s, free, PALETTE["vermillion"], "no clipping", 0.05)
    _draw_path(ax_s, clipped, PALETTE["blue"], f"clipped at {clip:g}", 0.15)
    ax_s.plot(*CLIFF_START, "o", color="black", ms=5)
    ax_s.legend(loc="upper right", fontsize=8, facecolor="white", framealpha=0.9, frameon=True)
    ax_s.set_title(f"lr {lr:g}, final loss: {free.losses[-1]:.3f} unclipped, "
                   f"{clipped.losses[-1]:.3f} clipped", fontsize=9)
    steps_axis = np.arange(len(free.grad_norms))
    ax_g.plot(steps_axis, free.grad_norms, color=PALETTE["vermillion"], lw=2.6, label="no clipping")
    ax_g.plot(steps_axis, clipped.grad_norms, color=PALETTE["blue"], lw=1.2, label="clipped")
    ax_g.axhline(clip, color=PALETTE["blue"], ls="--", lw=1, label="threshold")
    _log_y(ax_g, -5, 5, 2)
    ax_g.set_xlim(0, steps)
    ax_g.set_xlabel("step")
    ax_g.set_ylabel("gradient norm (before clipping)", fontsize=9)
    ax_g.legend(loc="lower right", fontsize=8)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.9, wspace=0.3)
    return fig


@dataclass
class AddingRun:
    """One training run on the adding problem (see :func:`adding_run`).

    ``result`` is what :func:`train_rnn` recorded; ``test_mse`` is the mean
    squared error on fresh sequences after training, or ``None`` if the run
    diverged (then ``result.diverged_at`` says when).
    """

    model: str
    length: int
    lr: float
    clip: tuple[str, float] | None
    result: TrainResult
    test_mse: float | None
    seconds: float

    @property
    def learned(self) -> bool:
        """Whether the net beat :data:`ADDING_ONE_VALUE` on the test set:
        only a net that carries the first value across the lag can."""
        return self.test_mse is not None and self.test_mse < ADDING_ONE_VALUE


def adding_run(
    model: str,
    length: int,
    *,
    lr: float,
    steps: int,
    clip: tuple[str, float] | None = None,
    momentum: float = 0.9,
    hidden_size: int = 32,
    batch_size: int = 32,
    n_train: int = 1024,
    n_test: int = 512,
    seed: int = 0,
) -> AddingRun:
    r"""Train a fresh net on the adding problem and test it on fresh data.

    ``model="rnn"``: ``VanillaRNN(2, hidden_size, 1, "tanh",
    init="orthogonal", radius=1.0, seed=seed)``; ``model="lstm"``:
    ``LSTMNet(2, hidden_size, 1, seed=seed)``. Training is
    :func:`train_rnn` on ``n_train`` sequences of the given length (seed
    ``seed``); testing, on ``n_test`` others (seed ``seed + 10_000``). A run
    that diverges is reported as such (``test_mse=None``), never raised.
    """
    import time

    check_choice(model, "model", MODEL_KINDS)
    length = check_positive_int(length, "length", minimum=2)
    seed = check_seed(seed)
    if model == "rnn":
        net: RecurrentNet = VanillaRNN(2, hidden_size, 1, "tanh", init="orthogonal", radius=1.0, seed=seed)
    else:
        net = LSTMNet(2, hidden_size, 1, seed=seed)
    train_data = adding_problem(n_train, length, seed=seed)
    test_data = adding_problem(n_test, length, seed=seed + 10_000)
    start = time.perf_counter()
    result = train_rnn(net, train_data, steps=steps, lr=lr, batch_size=batch_size, clip=clip,
                       momentum=momentum, seed=seed, progress="auto")
    test_mse = None if result.diverged else task_loss(net, *test_data)
    if test_mse is not None and not math.isfinite(test_mse):
        test_mse = None  # finite training losses, but the last update blew it up
    return AddingRun(model, length, lr, _check_clip(clip), result, test_mse, time.perf_counter() - start)


def plot_run(ax, result: TrainResult, *, label: str, color: str, what: str = "loss", window: int = 10) -> None:
    r"""Draw one training run on ``ax``: the loss (``what="loss"``, a
    moving average over ``window`` steps) or the gradient norm before
    clipping (``what="grad_norm"``, raw) at every step.

    A diverged run ends with an ``x`` at the step where it stopped and the
    note "diverged at step N", so it cannot be mistaken for a short run.
    """
    check_choice(what, "what", ("loss", "grad_norm"))
    window = check_positive_int(window, "window")
    values = np.asarray(result.losses if what == "loss" else result.grad_norms, dtype=np.float64)
    if values.size and what == "loss" and window > 1:
        kernel = np.ones(min(window, values.size))
        values = np.convolve(values, kernel, "full")[: values.size] / np.convolve(
            np.ones(values.size), kernel, "full")[: values.size]
    ax.plot(np.arange(values.size), values, color=color, lw=1.4, label=label)
    if result.diverged:
        last = values[-1] if values.size else 1.0
        ax.plot([result.diverged_at], [last], "x", color=color, ms=9, mew=2.5)
        ax.annotate(f"diverged at step {result.diverged_at}", (result.diverged_at, last),
                    xytext=(6, 0), textcoords="offset points", fontsize=8, color=color, va="center")
