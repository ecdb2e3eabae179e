r"""Chapter 6's experiments: exploding gradients in recurrent nets, and clipping.

The nets (:mod:`gradbook.models.rnn`), the gradient through time
(:mod:`gradbook.diagnostics`), the adding problem (:mod:`gradbook.data`) and
clipping (:mod:`gradbook.train`) are library code; this module holds the
chapter's one-unit *cliff* (Pascanu, Mikolov & Bengio 2013, section 3), its
settings (:data:`SETTINGS`), its experiment runners and its figure functions.

Conventions: sequences are batch first, ``x`` of shape
``(batch, time, features)``; the loss is taken at the last time step only.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validate import (
    check_choice,
    check_finite_float,
    check_positive_float,
    check_positive_int,
    check_seed,
    derived_seed,
)
from ..data import adding_problem
from ..diagnostics import gradient_through_time
from ..models.rnn import LSTMNet, RecurrentNet, VanillaRNN, task_loss
from ..train import History, check_clip, train

__all__ = [
    "CLIFF_ACTIVATIONS",
    "LagSettings",
    "CliffSettings",
    "AddingSettings",
    "ExplodingSettings",
    "SETTINGS",
    "cliff_loss",
    "cliff_gradient",
    "CliffPath",
    "cliff_trajectory",
    "ADDING_BASELINE",
    "ADDING_ONE_VALUE",
    "MODEL_KINDS",
    "lag_profile",
    "growth_rate",
    "gradient_time_figure",
    "cliff_figure",
    "AddingRun",
    "adding_run",
    "plot_run",
]

CLIFF_ACTIVATIONS = ("sigmoid", "tanh")


# --------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LagSettings:
    """Experiment 1 (:func:`lag_profile`): fresh nets of ``hidden_size``
    units whose :math:`W` is drawn ``init`` ("gaussian" or "orthogonal"),
    run on ``n_sequences`` sequences of the adding problem of ``length``
    steps."""

    length: int = 100
    hidden_size: int = 32
    n_sequences: int = 16
    init: str = "gaussian"


@dataclass(frozen=True)
class CliffSettings:
    """The one-unit cliff's figures: gradient descent starts at ``start``
    :math:`(w_0, b_0)` on sequences of ``length`` steps; the loss surface is
    drawn on the grids ``w_grid`` and ``b_grid``, each ``(low, high,
    points)`` as for ``numpy.linspace``."""

    start: tuple[float, float] = (7.0, -3.75)
    length: int = 20
    w_grid: tuple[float, float, int] = (2.0, 10.0, 161)
    b_grid: tuple[float, float, int] = (-6.0, 0.0, 121)


@dataclass(frozen=True)
class AddingSettings:
    """Experiments 2 and 3 (:func:`adding_run`): nets of ``hidden_size``
    units trained for ``steps`` updates of ``batch_size`` sequences, SGD with
    ``momentum``, on ``n_train`` sequences (seed ``seed``) and tested on
    ``n_test`` others (seed ``seed + test_seed_offset``)."""

    steps: int = 400
    momentum: float = 0.9
    hidden_size: int = 32
    batch_size: int = 32
    n_train: int = 1024
    n_test: int = 512
    test_seed_offset: int = 10_000


@dataclass(frozen=True)
class ExplodingSettings:
    """Chapter 6's settings, one frozen object per experiment. Replace
    :data:`SETTINGS` (``dataclasses.replace``) to run the experiments with
    other settings; nothing is memoised against it."""

    lag: LagSettings = LagSettings()
    cliff: CliffSettings = CliffSettings()
    adding: AddingSettings = AddingSettings()


#: The chapter's settings (see :class:`ExplodingSettings`).
SETTINGS = ExplodingSettings()


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
    return length, check_finite_float(h0, "h0"), check_finite_float(target, "target")


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
    return _cliff_forward(check_finite_float(w, "w"), check_finite_float(b, "b"), length, h0, target, activation)


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
    w, b = check_finite_float(w0, "w0"), check_finite_float(b0, "b0")
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
    length: int | None = None,
    *,
    hidden_size: int | None = None,
    n_sequences: int | None = None,
    init: str | None = None,
    seed: int = 0,
) -> np.ndarray:
    r"""How the gradient through time scales with the lag, for a fresh net.

    Builds ``VanillaRNN(2, hidden_size, 1, nonlinearity, init=init,
    radius=radius, seed=seed)``, runs it on ``n_sequences`` sequences of the
    adding problem of length ``length`` (each None: ``SETTINGS.lag``'s) and
    returns

    .. math:: r_k = \frac{\|\partial L/\partial h_{T-k}\|}{\|\partial L/\partial h_T\|},
              \qquad k = 0, \dots, T,

    the gradient that reaches :math:`k` steps back, relative to the last
    state's (:func:`gradient_through_time`, in float64). For a linear net,
    :math:`r_k` behaves like :math:`\rho^k` for large :math:`k`.

    Returns
    -------
    numpy.ndarray of shape (length + 1,); entry ``k`` is lag ``k``, entry 0 is 1.
    """
    settings = SETTINGS.lag
    length = check_positive_int(settings.length if length is None else length, "length", minimum=2)
    n_sequences = check_positive_int(settings.n_sequences if n_sequences is None else n_sequences, "n_sequences")
    hidden_size = settings.hidden_size if hidden_size is None else hidden_size
    init = settings.init if init is None else init
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

    from ..plots import PALETTE

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


@functools.lru_cache(maxsize=4)
def _cliff_surface(length: int, w_grid: tuple[float, float, int], b_grid: tuple[float, float, int]) -> np.ndarray:
    return cliff_loss(np.linspace(*w_grid), np.linspace(*b_grid), length=length)


def _draw_cliff_surface(ax, length: int):
    """The loss surface on ``ax`` (``SETTINGS.cliff``'s grids) as a grey map; returns the mappable."""
    cliff = SETTINGS.cliff
    w_axis, b_axis = np.linspace(*cliff.w_grid), np.linspace(*cliff.b_grid)
    dw, db = w_axis[1] - w_axis[0], b_axis[1] - b_axis[0]
    mesh = ax.imshow(_cliff_surface(length, cliff.w_grid, cliff.b_grid), origin="lower", aspect="auto",
                     interpolation="nearest",
                     extent=(w_axis[0] - dw / 2, w_axis[-1] + dw / 2, b_axis[0] - db / 2, b_axis[-1] + db / 2),
                     cmap="Greys", vmin=-0.5, vmax=1.2)
    ax.set_xlim(w_axis[0], w_axis[-1])
    ax.set_ylim(b_axis[0], b_axis[-1])
    ax.set_xlabel("recurrent weight w")
    ax.set_ylabel("bias b")
    return mesh


def _draw_path(ax, path: CliffPath, colour: str, label: str, note_y: float) -> None:
    """A descent path, with a note where it leaves the window."""
    w_low, w_high, _ = SETTINGS.cliff.w_grid
    b_low, b_high, _ = SETTINGS.cliff.b_grid
    w, b = path.params[:, 0], path.params[:, 1]
    ax.plot(w, b, ".-", color=colour, lw=1.2, ms=3, label=label)
    inside = (w >= w_low) & (w <= w_high) & (b >= b_low) & (b <= b_high)
    if not inside.all():
        k = int(np.argmin(inside))
        ax.annotate(f"thrown to ({w[k]:.3g}, {b[k]:.3g})", xy=(w[k - 1], b[k - 1]),
                    xytext=(0.03, note_y), textcoords="axes fraction",
                    fontsize=8, color=colour,
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=colour, lw=0.8))


def cliff_figure(clip: float, lr: float, *, steps: int = 100, length: int | None = None):
    r"""The chapter's second interactive figure: gradient descent on the
    one-unit cliff (:func:`cliff_loss`, sigmoid, T = ``length``, by default
    ``SETTINGS.cliff.length``) from ``SETTINGS.cliff.start``, without
    clipping (vermillion) and with the gradient norm clipped at ``clip``
    (blue), at learning rate ``lr``.

    Left: the paths on the loss surface. Right: the gradient norm before
    clipping at each step, on a log axis, with the threshold.
    """
    import matplotlib.pyplot as plt

    from ..plots import PALETTE

    clip = check_positive_float(clip, "clip")
    start = SETTINGS.cliff.start
    length = check_positive_int(SETTINGS.cliff.length if length is None else length, "length")
    free = cliff_trajectory(*start, lr=lr, steps=steps, length=length)
    clipped = cliff_trajectory(*start, lr=lr, steps=steps, length=length, clip=clip)
    fig, (ax_s, ax_g) = plt.subplots(1, 2, figsize=(9.2, 3.5), gridspec_kw={"width_ratios": [1.15, 1]})
    _draw_cliff_surface(ax_s, length)
    _draw_path(ax_s, free, PALETTE["vermillion"], "no clipping", 0.05)
    _draw_path(ax_s, clipped, PALETTE["blue"], f"clipped at {clip:g}", 0.15)
    ax_s.plot(*start, "o", color="black", ms=5)
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

    ``history`` is what :func:`gradbook.train.train` recorded (per step:
    ``step_loss`` and ``grad_norms``); ``test_mse`` is the mean squared error
    on fresh sequences after training, or ``None`` if the run diverged (then
    ``history.diverged_at`` says when).
    """

    model: str
    length: int
    lr: float
    clip: tuple[str, float] | None
    history: History
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
    steps: int | None = None,
    clip: tuple[str, float] | None = None,
    momentum: float | None = None,
    hidden_size: int | None = None,
    batch_size: int | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
) -> AddingRun:
    r"""Train a fresh net on the adding problem and test it on fresh data.

    ``model="rnn"``: ``VanillaRNN(2, hidden_size, 1, "tanh",
    init="orthogonal", radius=1.0, seed=seed)``; ``model="lstm"``:
    ``LSTMNet(2, hidden_size, 1, seed=seed)``. Training is
    :func:`gradbook.train.train` in step mode (``steps`` updates of
    ``batch_size`` sequences, the mean squared error at the last step,
    ``clip``, ``momentum``) on ``n_train`` sequences of the given length (seed
    ``seed``); testing, on ``n_test`` others (seed ``seed +
    test_seed_offset``). Every setting left None is ``SETTINGS.adding``'s. A
    run that diverges is reported as such (``test_mse=None``), never raised.
    """
    import time

    settings = SETTINGS.adding
    check_choice(model, "model", MODEL_KINDS)
    length = check_positive_int(length, "length", minimum=2)
    seed = check_seed(seed)
    hidden_size = settings.hidden_size if hidden_size is None else hidden_size
    if model == "rnn":
        net: RecurrentNet = VanillaRNN(2, hidden_size, 1, "tanh", init="orthogonal", radius=1.0, seed=seed)
    else:
        net = LSTMNet(2, hidden_size, 1, seed=seed)
    train_x, train_y = adding_problem(settings.n_train if n_train is None else n_train, length, seed=seed)
    test_data = adding_problem(settings.n_test if n_test is None else n_test, length,
                               seed=derived_seed(seed + settings.test_seed_offset))
    start = time.perf_counter()
    history = train(net, train_x, train_y, steps=settings.steps if steps is None else steps, lr=lr,
                    batch_size=settings.batch_size if batch_size is None else batch_size, clip=clip,
                    momentum=settings.momentum if momentum is None else momentum, loss="mse", seed=seed,
                    progress="auto")
    test_mse = None if history.diverged else task_loss(net, *test_data)
    if test_mse is not None and not math.isfinite(test_mse):
        test_mse = None  # finite training losses, but the last update blew it up
    return AddingRun(model, length, lr, check_clip(clip), history, test_mse, time.perf_counter() - start)


def plot_run(ax, history: History, *, label: str, color: str, what: str = "loss", window: int = 10) -> None:
    r"""Draw one training run on ``ax``: the loss (``what="loss"``, a
    moving average over ``window`` steps) or the gradient norm before
    clipping (``what="grad_norm"``, raw) at every step (``history.step_loss``,
    ``history.grad_norms``).

    A diverged run ends with an ``x`` at the step where it stopped and the
    note "diverged at step N", so it cannot be mistaken for a short run.
    """
    check_choice(what, "what", ("loss", "grad_norm"))
    window = check_positive_int(window, "window")
    values = np.asarray(history.step_loss if what == "loss" else history.grad_norms, dtype=np.float64)
    if values.size and what == "loss" and window > 1:
        kernel = np.ones(min(window, values.size))
        values = np.convolve(values, kernel, "full")[: values.size] / np.convolve(
            np.ones(values.size), kernel, "full")[: values.size]
    ax.plot(np.arange(values.size), values, color=color, lw=1.4, label=label)
    if history.diverged:
        last = values[-1] if values.size else 1.0
        ax.plot([history.diverged_at], [last], "x", color=color, ms=9, mew=2.5)
        ax.annotate(f"diverged at step {history.diverged_at}", (history.diverged_at, last),
                    xytext=(6, 0), textcoords="offset points", fontsize=8, color=color, va="center")
