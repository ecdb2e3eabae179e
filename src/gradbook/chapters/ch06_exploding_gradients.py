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

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validate import (
    MAX_STEPS,
    SEED_LIMIT,
    Array,
    Choice,
    Float,
    Instance,
    Int,
    Optional,
    Positive,
    Probability,
    Seed,
    Sequence,
    Unchecked,
    check_budget,
    check_choice,
    check_finite_float,
    check_memory,
    check_positive_float,
    check_positive_int,
    check_seed,
    declare,
    derived_seed,
)
from ..data import adding_problem
from ..diagnostics import gradient_through_time
from ..memo import memoised
from ..models.rnn import NONLINEARITIES, RECURRENT_INITS, LSTMNet, RecurrentNet, VanillaRNN, task_loss
from ..train import Clip, History, check_clip, train

__all__ = [
    "CLIFF_ACTIVATIONS",
    "MAX_LENGTH",
    "MAX_HIDDEN",
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
    "SEEDS",
    "SeedRuns",
    "adding_runs",
    "growth_rates",
    "CLAIM_ARMS",
    "claim_comparisons",
    "ARGUED",
    "claim_verdicts",
]

CLIFF_ACTIVATIONS = ("sigmoid", "tanh")

#: The longest sequence (and the longest cliff recurrence) any function here
#: accepts: each step of a recurrent net is one Python-level step with its
#: autograd record (tens of microseconds and about a kilobyte).
MAX_LENGTH = 10**5

#: The widest recurrent net here: drawing its W takes the eigenvalues (or a QR
#: factorisation) of a (hidden, hidden) matrix, seconds at 2,048.
MAX_HIDDEN = 2048

#: The largest learning rate a training runner accepts: the nets are float32,
#: and a larger rate only overflows the first update.
_MAX_LR = 1e6

#: Result records the runners build; users never construct them.
__undeclared__ = {
    "CliffPath": "the result record of cliff_trajectory; users never build one",
    "AddingRun": "the result record of adding_run; users never build one",
    "SeedRuns": "the result record of adding_runs; users never build one",
}


# --------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------


@declare(length=Int(2, MAX_LENGTH), hidden_size=Int(1, MAX_HIDDEN), n_sequences=Int(1, MAX_STEPS),
         init=Choice(RECURRENT_INITS), example=dict(length=10, hidden_size=4))
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


#: The most points of each axis of the cliff's loss-surface grid.
_MAX_GRID_POINTS = 10_000

#: ``(low, high, points)`` of a grid axis (points: an integer >= 2, checked on construction).
_GRID = Sequence(Float(), 3, 3)


@declare(start=Sequence(Float(), 2, 2), length=Int(1, MAX_LENGTH), w_grid=_GRID, b_grid=_GRID,
         example=dict(length=5, w_grid=(2.0, 8.0, 31)))
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

    def __post_init__(self) -> None:
        for name in ("w_grid", "b_grid"):
            low, high, points = getattr(self, name)
            if isinstance(points, bool) or not isinstance(points, (int, np.integer)) \
                    or not 2 <= points <= _MAX_GRID_POINTS:
                raise ValueError(f"{name}'s number of points must be an integer from 2 to "
                                 f"{_MAX_GRID_POINTS:,}; got {points!r}")
            if not low < high:
                raise ValueError(f"{name} must run from low to high (low < high); got {low!r}, {high!r}")
            object.__setattr__(self, name, (float(low), float(high), int(points)))
        object.__setattr__(self, "start", tuple(float(v) for v in self.start))


@declare(steps=Int(1, MAX_STEPS), momentum=Probability(), hidden_size=Int(1, MAX_HIDDEN),
         batch_size=Int(1, MAX_STEPS), n_train=Int(1, MAX_STEPS), n_test=Int(1, MAX_STEPS),
         test_seed_offset=Int(0, SEED_LIMIT - 1), example=dict(steps=7, hidden_size=4))
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

    def __post_init__(self) -> None:
        if self.batch_size > self.n_train:
            raise ValueError(f"batch_size must be at most n_train (each update draws batch_size distinct "
                             f"sequences); got batch_size={self.batch_size}, n_train={self.n_train}")


@declare(lag=Instance(LagSettings), cliff=Instance(CliffSettings), adding=Instance(AddingSettings),
         example=lambda: dict(cliff=CliffSettings(length=5)))
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


#: What the cliff's functions accept for the settings they share.
_CLIFF_SETTINGS = dict(length=Int(1, MAX_LENGTH), h0=Float(), target=Float(),
                       activation=Choice(CLIFF_ACTIVATIONS))

#: The most grid points times steps :func:`cliff_loss` runs (a few seconds).
_MAX_SURFACE_WORK = 100 * MAX_STEPS


def _as_grid_axis(v: Any, name: str) -> torch.Tensor:
    arr = np.asarray(v, dtype=np.float64) if not isinstance(v, torch.Tensor) else v.detach().double().numpy()
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a number or a 1-D grid; got shape {arr.shape}")
    arr = np.atleast_1d(arr)
    if arr.size == 0 or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be non-empty and finite")
    return torch.from_numpy(arr.copy())


@declare(w=Array((1, 0)), b=Array((1, 0)), **_CLIFF_SETTINGS, example=dict(w=[2.0, 6.0], b=-3.0, length=5))
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
    points = len(w) * len(b)
    check_memory(4 * 8 * points, f"a grid of len(w) * len(b) = {points:,} points")
    check_budget(points * length, _MAX_SURFACE_WORK, f"len(w) * len(b) * length = {points:,} * {length:,}",
                  "state updates")
    with torch.no_grad():
        hT = _cliff_final_state(w[None, :], b[:, None], length, h0, activation)
    loss = ((hT - target) ** 2).numpy()
    if not np.isfinite(loss).all():
        raise ValueError(f"the loss overflowed: target={target!r} is too far from the final state, "
                         f"which lies in [-1, 1]")
    return loss


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


def _finite_cliff(
    w: float, b: float, length: int, h0: float, target: float, activation: str
) -> tuple[float, float, float]:
    """:func:`_cliff_forward`, raising a ValueError that names the settings
    if the loss or the gradient overflowed."""
    loss, g_w, g_b = _cliff_forward(w, b, length, h0, target, activation)
    if not math.isfinite(loss):
        raise ValueError(f"the loss overflowed at (w, b) = ({w!r}, {b!r}): target={target!r} is too far "
                         f"from the final state, which lies in [-1, 1]")
    if not (math.isfinite(g_w) and math.isfinite(g_b)):
        raise ValueError(f"the gradient overflowed at (w, b) = ({w!r}, {b!r}) with length={length}: on the "
                         f"wall it grows like (w/4)**length; use a shorter length or a smaller |w|")
    return loss, g_w, g_b


@declare(w=Float(), b=Float(), **_CLIFF_SETTINGS, example=dict(w=6.0, b=-3.0, length=5))
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
    return _finite_cliff(check_finite_float(w, "w"), check_finite_float(b, "b"), length, h0, target, activation)


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


@declare(w0=Float(), b0=Float(), lr=Positive(), steps=Int(0, MAX_STEPS), clip=Optional(Positive()),
         **_CLIFF_SETTINGS, example=dict(w0=6.0, b0=-3.0, lr=0.5, steps=3, clip=1.0, length=5))
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

    Deterministic: no seed is needed. Each step runs the recurrence
    ``length`` times: ``steps * length`` is at most ``MAX_STEPS``
    (a few seconds). A step whose gradient or update overflows raises a
    ValueError that names the setting.
    """
    length, h0, target = _check_cliff(length, h0, target, activation)
    lr = check_positive_float(lr, "lr")
    steps = check_positive_int(steps, "steps", minimum=0)
    check_budget((steps + 1) * length, MAX_STEPS, f"(steps + 1) * length = {steps + 1:,} * {length:,}",
                  "recurrence steps")
    if clip is not None:
        clip = check_positive_float(clip, "clip")
    w, b = check_finite_float(w0, "w0"), check_finite_float(b0, "b0")
    params = np.empty((steps + 1, 2), dtype=np.float64)
    losses, norms = np.empty(steps + 1), np.empty(steps)
    params[0] = w, b
    for k in range(steps + 1):
        value, g_w, g_b = _finite_cliff(w, b, length, h0, target, activation)
        losses[k] = value
        if k == steps:
            break
        norm = math.hypot(g_w, g_b)
        if not math.isfinite(norm):
            raise ValueError(f"the gradient norm overflowed at step {k}, (w, b) = ({w!r}, {b!r}), "
                             f"length={length}; use a shorter length")
        norms[k] = norm
        if clip is not None and norm > clip:
            g_w, g_b = g_w * (clip / norm), g_b * (clip / norm)
        w, b = w - lr * g_w, b - lr * g_b
        if not (math.isfinite(w) and math.isfinite(b)):
            raise ValueError(f"step {k} overflowed: lr={lr!r} times a gradient of norm {norm:.3g} leaves the "
                             f"range of floats; use a smaller lr" + ("" if clip is not None else " or clip"))
        params[k + 1] = w, b
    return CliffPath(params=params, losses=losses, grad_norms=norms)


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


#: What :func:`lag_profile` and its figure accept for the radius, the nonlinearity and the length.
_LAG = dict(radius=Float(0.0, 1e6), nonlinearity=Choice(NONLINEARITIES))


@declare(**_LAG, length=Optional(Int(2, MAX_LENGTH)), hidden_size=Optional(Int(1, MAX_HIDDEN)),
         n_sequences=Optional(Int(1, MAX_STEPS)), init=Optional(Choice(RECURRENT_INITS)), seed=Seed(),
         example=dict(radius=1.25, nonlinearity="linear", length=5, hidden_size=4, n_sequences=2))
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

    Raises a ValueError naming the settings if the gradient overflows (too
    large a radius for the length, most of all for the linear net) or
    underflows to 0 (too small a radius) at some lag: float64 holds about
    :math:`10^{\pm 308}`.
    """
    settings = SETTINGS.lag
    length = check_positive_int(settings.length if length is None else length, "length", minimum=2)
    n_sequences = check_positive_int(settings.n_sequences if n_sequences is None else n_sequences, "n_sequences")
    hidden_size = check_positive_int(settings.hidden_size if hidden_size is None else hidden_size, "hidden_size")
    init = settings.init if init is None else init
    check_memory(6 * 8 * n_sequences * (length + 1) * hidden_size,
                  f"n_sequences * (length + 1) * hidden_size = {n_sequences:,} * {length + 1:,} * {hidden_size:,} "
                  "states and their gradients")
    model = VanillaRNN(2, hidden_size, 1, nonlinearity, init=init, radius=radius, seed=seed)
    x, y = adding_problem(n_sequences, length, seed=seed)
    norms = gradient_through_time(model, x, y).flip(0)
    setting = f"radius={radius!r}, nonlinearity={nonlinearity!r}, length={length}"
    if norms[0] == 0:
        raise ValueError(f"the gradient at the last state is 0 ({setting}): there is nothing to compare with")
    profile = norms / norms[0]
    finite = torch.isfinite(norms) & torch.isfinite(profile)
    if not torch.all(finite):
        lag = int(torch.nonzero(~finite)[0])
        raise ValueError(f"the net's states or its gradient through time overflowed (beyond float64's "
                         f"1.8e308; first at lag {lag}) ({setting}); use a shorter length or a smaller radius")
    if not torch.all(profile > 0):
        lag = int(torch.nonzero(profile <= 0)[0])
        if radius == 0:
            why = "radius=0 makes W = 0, which passes nothing back"
        elif nonlinearity == "tanh" and radius > 1:
            why = ("the tanh units saturate (slope 0 in float64) or the gradient underflowed below 1e-308; "
                   "use a shorter length or a smaller radius")
        else:
            why = "it underflowed (below float64's 1e-308); use a shorter length or a larger radius"
        raise ValueError(f"the gradient through time is 0 from lag {lag} on ({setting}): {why}")
    return profile.numpy()


@declare(profile=Array(1, min_size=2), start=Int(0, MAX_STEPS), example=dict(profile=[1.0, 0.5, 0.25]))
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
    slope = float(np.polyfit(lags, np.log(r), 1)[0])
    if slope > math.log(np.finfo(np.float64).max):
        raise ValueError(f"the profile grows by a factor beyond float64's range per lag (log slope {slope:.4g})")
    return float(np.exp(slope))


@declare(**_LAG, length=Int(2, MAX_LENGTH), example=dict(radius=1.25, nonlinearity="linear", length=5))
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
    with np.errstate(over="ignore", under="ignore"):  # beyond the axis' 1e40 either way
        theory = float(radius) ** lags
    ax.plot(lags, theory, "--", color="black", lw=1.2, label=r"theory $\rho^k$ (linear)")
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


@memoised
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


@declare(clip=Positive(), lr=Positive(), steps=Int(1, MAX_STEPS), length=Optional(Int(1, MAX_LENGTH)),
         example=dict(clip=1.0, lr=0.3, steps=3, length=3))
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


@declare(model=Choice(MODEL_KINDS), length=Int(2, MAX_LENGTH), lr=Positive(_MAX_LR), steps=Optional(Int(0, MAX_STEPS)),
         clip=Clip(), momentum=Optional(Probability()),
         hidden_size=Optional(Int(1, MAX_HIDDEN)), batch_size=Optional(Int(1, MAX_STEPS)),
         n_train=Optional(Int(1, MAX_STEPS)), n_test=Optional(Int(1, MAX_STEPS)), seed=Seed(),
         example=dict(model="rnn", length=3, lr=0.1, steps=2, clip=("norm", 1.0), hidden_size=2,
                      batch_size=2, n_train=4, n_test=4))
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
    clip = check_clip(clip)
    steps = check_positive_int(settings.steps if steps is None else steps, "steps", minimum=0)
    hidden_size = check_positive_int(settings.hidden_size if hidden_size is None else hidden_size, "hidden_size")
    batch_size = check_positive_int(settings.batch_size if batch_size is None else batch_size, "batch_size")
    n_train = check_positive_int(settings.n_train if n_train is None else n_train, "n_train")
    n_test = check_positive_int(settings.n_test if n_test is None else n_test, "n_test")
    if batch_size > n_train:
        raise ValueError(f"batch_size must be at most n_train (each update draws batch_size distinct "
                         f"sequences); got batch_size={batch_size}, n_train={n_train}")
    check_budget(steps * length, MAX_STEPS, f"steps * length = {steps:,} * {length:,}", "recurrence steps")
    check_memory(4 * length * (2 * (n_train + n_test) + 16 * hidden_size * (batch_size + n_test)),
                  f"length={length:,} with n_train={n_train:,}, n_test={n_test:,}, batch_size={batch_size:,} "
                  f"and hidden_size={hidden_size:,}")
    if model == "rnn":
        net: RecurrentNet = VanillaRNN(2, hidden_size, 1, "tanh", init="orthogonal", radius=1.0, seed=seed)
    else:
        net = LSTMNet(2, hidden_size, 1, seed=seed)
    train_x, train_y = adding_problem(n_train, length, seed=seed)
    test_data = adding_problem(n_test, length, seed=derived_seed(seed + settings.test_seed_offset))
    start = time.perf_counter()
    history = train(net, train_x, train_y, steps=steps, lr=lr, batch_size=batch_size, clip=clip,
                    momentum=settings.momentum if momentum is None else momentum, loss="mse", seed=seed,
                    progress="auto")
    test_mse = None if history.diverged else task_loss(net, *test_data)
    if test_mse is not None and not math.isfinite(test_mse):
        test_mse = None  # finite training losses, but the last update blew it up
    return AddingRun(model, length, lr, clip, history, test_mse, time.perf_counter() - start)


def _plot_run_example() -> dict[str, Any]:
    import matplotlib.pyplot as plt

    return dict(ax=plt.figure().add_subplot(), history=History(steps=2, step_loss=[1.0, 0.5], grad_norms=[1.0, 2.0]),
                label="run", color="black", window=2)


@declare(ax=Unchecked("a matplotlib Axes, checked in the body (matplotlib is imported only to draw)"),
         history=Instance(History), label=Unchecked("legend text: any string (matplotlib shows it as given)"),
         color=Unchecked("any matplotlib colour; matplotlib checks it"),
         what=Choice(("loss", "grad_norm")), window=Int(1, MAX_STEPS), example=_plot_run_example)
def plot_run(ax, history: History, *, label: str, color: str, what: str = "loss", window: int = 10) -> None:
    r"""Draw one training run on ``ax``: the loss (``what="loss"``, a
    moving average over ``window`` steps) or the gradient norm before
    clipping (``what="grad_norm"``, raw) at every step (``history.step_loss``,
    ``history.grad_norms``).

    A diverged run ends with an ``x`` at the step where it stopped and the
    note "diverged at step N", so it cannot be mistaken for a short run.
    """
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes; got {type(ax).__name__}")
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


# --------------------------------------------------------------------------
# over seeds: the chapter's comparisons, trained as ensembles
# --------------------------------------------------------------------------

#: Seeds of every comparison behind C18's verdict (``gradbook.stats.MIN_SEEDS``).
SEEDS = tuple(range(20))


@dataclass
class SeedRuns:
    """One arm of the adding problem over seeds (see :func:`adding_runs`):
    per seed, the test MSE (None if the run diverged), the step it diverged
    at (None if it did not), and the share of its steps clipped by norm."""

    model: str
    length: int
    lr: float
    clip: tuple[str, float] | None
    seeds: tuple[int, ...]
    test_mse: list[float | None]
    diverged_at: list[int | None]
    clipped_share: list[float | None]

    @property
    def scored(self) -> np.ndarray:
        """The test MSE per seed, a diverged run scored as
        :data:`ADDING_BASELINE` (the error of always answering 1: what a net
        that learned nothing scores; generous to a run whose real error is
        huge)."""
        return np.array([ADDING_BASELINE if v is None else v for v in self.test_mse], dtype=np.float64)

    @property
    def n_diverged(self) -> int:
        return sum(d is not None for d in self.diverged_at)

    @property
    def n_learned(self) -> int:
        return sum(v is not None and v < ADDING_ONE_VALUE for v in self.test_mse)


@memoised
def _adding_runs(model: str, length: int, lr: float, clip: tuple[str, float] | None,
                 seeds: tuple[int, ...], steps: int) -> SeedRuns:
    from ..models.ensemble import Ensemble, stack_inputs
    from ..train import evaluate

    settings = SETTINGS.adding
    if model == "rnn":
        nets: list[RecurrentNet] = [VanillaRNN(2, settings.hidden_size, 1, "tanh", init="orthogonal",
                                               radius=1.0, seed=s) for s in seeds]
    else:
        nets = [LSTMNet(2, settings.hidden_size, 1, seed=s) for s in seeds]
    train_data = [adding_problem(settings.n_train, length, seed=s) for s in seeds]
    test_data = [adding_problem(settings.n_test, length, seed=derived_seed(s + settings.test_seed_offset))
                 for s in seeds]
    ens = Ensemble(nets, seeds)
    histories = train(ens, stack_inputs([d[0] for d in train_data]), stack_inputs([d[1] for d in train_data]),
                      steps=steps, lr=lr, batch_size=settings.batch_size, clip=clip,
                      momentum=settings.momentum, loss="mse", progress="auto")
    losses = [evaluate(net, x, y, "mse")[0] for net, (x, y) in zip(ens.members(), test_data)]
    test_mse = [None if h.diverged or not math.isfinite(float(v)) else float(v)
                for h, v in zip(histories, losses)]
    shares = [float(np.mean(np.array(h.grad_norms) > clip[1])) if clip and clip[0] == "norm" and h.grad_norms
              else None for h in histories]
    return SeedRuns(model, length, lr, clip, tuple(seeds), test_mse, [h.diverged_at for h in histories], shares)


@declare(model=Choice(MODEL_KINDS), length=Int(2, MAX_LENGTH), lr=Positive(_MAX_LR), clip=Clip(),
         seeds=Optional(Sequence(Seed(), 2, 1000)), steps=Optional(Int(0, MAX_STEPS)),
         example=dict(model="rnn", length=3, lr=0.1, clip=("norm", 1.0), seeds=(0, 1), steps=2))
def adding_runs(model: str, length: int, *, lr: float, clip: tuple[str, float] | None = None,
                seeds: Any = None, steps: int | None = None) -> SeedRuns:
    """:func:`adding_run` for every seed of ``seeds`` (default :data:`SEEDS`),
    trained at once as one :class:`~gradbook.models.ensemble.Ensemble`:
    member k is the net :func:`adding_run` trains with ``seed=k``, on the
    same data, with the same mini-batches. Memoised."""
    check_choice(model, "model", MODEL_KINDS)
    seeds = SEEDS if seeds is None else tuple(check_seed(s) for s in seeds)
    steps = check_positive_int(SETTINGS.adding.steps if steps is None else steps, "steps", minimum=0)
    return _adding_runs(model, check_positive_int(length, "length", minimum=2), check_positive_float(lr, "lr"),
                        check_clip(clip), seeds, steps)


@memoised
def _growth_rates(radius: float, nonlinearity: str, seeds: tuple[int, ...]) -> np.ndarray:
    return np.array([growth_rate(lag_profile(radius, nonlinearity, seed=s)) for s in seeds])


@declare(radius=Float(0.0, 1e6), nonlinearity=Choice(NONLINEARITIES), seeds=Optional(Sequence(Seed(), 1, 1000)),
         example=dict(radius=1.5, nonlinearity="linear", seeds=(0, 1)))
def growth_rates(radius: float, nonlinearity: str, seeds: Any = None) -> np.ndarray:
    """The per-step factor (:func:`growth_rate` of :func:`lag_profile`) of a
    fresh net for each seed (its W and its sequences), default :data:`SEEDS`."""
    check_choice(nonlinearity, "nonlinearity", NONLINEARITIES)
    seeds = SEEDS if seeds is None else tuple(check_seed(s) for s in seeds)
    return _growth_rates(check_positive_float(radius, "radius"), nonlinearity, seeds)


#: The arms of C18's training comparisons: (model, length, lr, clip).
CLAIM_ARMS = {
    "plain SGD, T = 10": ("rnn", 10, 0.1, None),
    "norm 0.1, T = 10": ("rnn", 10, 0.1, ("norm", 0.1)),
    "norm 1, T = 10": ("rnn", 10, 0.1, ("norm", 1.0)),
    "plain SGD lr 0.01, T = 20": ("rnn", 20, 0.01, None),
    "norm 0.1, T = 20": ("rnn", 20, 0.1, ("norm", 0.1)),
}


@declare(example=dict())
def claim_comparisons() -> dict[str, list[Any]]:
    """C18's comparisons over :data:`SEEDS`, by the book's rule
    (:func:`gradbook.stats.compare`, paired by seed):

    1. the per-step factor of the gradient through time of a linear net at
       spectral radius 1.5, against 1 (no growth): claimed greater;
    2. the same for a tanh net at radius 1.5;
    3. the same for a tanh net at radius 3;
    4. test MSE on the adding problem (T = 10, lr 0.1), clipped by norm at
       0.1 against plain SGD, a diverged run scored as ADDING_BASELINE:
       claimed less;
    5. at T = 20, clipped at 0.1 with lr 0.1 against plain SGD with lr 0.01:
       claimed less.

    The margin of the growth factors is the default 0.01 (one per cent per
    step); that of the MSEs too (an eighth of the 1/12 line)."""
    from ..stats import compare

    ones = np.ones(len(SEEDS))
    found = [compare(growth_rates(r, nl), ones, claimed="greater",
                     name=f"gradient factor per step, {nl}, radius {r:g}", baseline_name="1 (no growth)")
             for nl, r in (("linear", 1.5), ("tanh", 1.5), ("tanh", 3.0))]
    runs = {name: adding_runs(m, length, lr=lr, clip=clip) for name, (m, length, lr, clip) in CLAIM_ARMS.items()}
    for treated, base in (("norm 0.1, T = 10", "plain SGD, T = 10"),
                          ("norm 0.1, T = 20", "plain SGD lr 0.01, T = 20")):
        found.append(compare(runs[treated].scored, runs[base].scored, claimed="less",
                             name=f"test MSE, {treated}", baseline_name=base))
    return {"C18": found}


#: No C18 verdict rests on argument alone.
ARGUED: dict[str, str] = {}


@declare(example=dict())
def claim_verdicts() -> dict[str, str]:
    """C18's verdict by the book's rule (:func:`gradbook.stats.verdict`)."""
    from ..stats import verdict

    return {claim: verdict(found) for claim, found in claim_comparisons().items()}
