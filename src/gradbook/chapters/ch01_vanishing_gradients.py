r"""Chapter 1's experiments on the vanishing gradient, as tested functions.

Each function runs one experiment of the chapter on the digits data and
returns plain numbers (numpy arrays or pandas DataFrames); the chapter only
plots and discusses them.

Published values used for comparison
------------------------------------
:data:`NIELSEN_EPOCH0` holds the norms :math:`\|\delta^l\|` that Nielsen
reports in chapter 5 of *Neural Networks and Deep Learning* (2015) for
sigmoid nets with hidden layers of 30 units on MNIST, at initialisation
(N(0, 1/n_in) weights, cross-entropy cost, measured on 1,000 training images).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from .._validate import (
    MAX_DEPTH,
    MAX_SEEDS,
    MAX_STEPS,
    Choice,
    Instance,
    Int,
    LayerSizes,
    Optional,
    Positive,
    Seed,
    check_memory,
    check_positive_int,
    check_seed,
    check_seeds,
    declare,
    or_default,
)
from .._validate import (
    Sequence as SequenceOf,
)
from ..data import digits_split
from ..diagnostics import bias_gradient_norms
from ..losses import LOSSES
from ..memo import memoised
from ..ledger import NOT_YET_ON_THE_RULE
from ..models.mlp import ACTIVATIONS, INIT, linear_layers, mlp
from ..train import train

__all__ = [
    "NIELSEN_EPOCH0",
    "NielsenSettings",
    "DigitsTrainingSettings",
    "PlateauSettings",
    "VanishingSettings",
    "SETTINGS",
    "clear_cache",
    "initial_delta_norms",
    "nielsen_comparison",
    "training_profile",
    "freeze_comparison",
    "depth_sweep",
    "plateau_run",
    "delta_profile_figure",
]

NIELSEN_EPOCH0 = {
    2: [0.0657, 0.309],
    3: [0.0118, 0.0600, 0.283],
    4: [0.00298, 0.0171, 0.0695, 0.285],
}

# What the parameters below accept (see gradbook._validate.declare).
_SEEDS = SequenceOf(Seed(), 1, MAX_SEEDS)
_DEPTH = Int(1, MAX_DEPTH)
_WIDTH = Int(1, 10**5)
_COUNT = Int(1, MAX_STEPS)  # epochs, images, mini-batch sizes
_LR = Positive()


def _tuples(settings, *names: str) -> None:
    """Store the sequence fields ``names`` of a frozen settings object as
    tuples (a list given by the caller would make it unhashable)."""
    for name in names:
        object.__setattr__(settings, name, tuple(getattr(settings, name)))


@declare(width=_WIDTH, n_samples=_COUNT, seeds=_SEEDS, comparison_seeds=_SEEDS, n_train=_COUNT,
         epochs=_COUNT, lr=_LR, batch_size=_COUNT, example=dict(width=8, seeds=(0, 1)))
@dataclass(frozen=True)
class NielsenSettings:
    """Nielsen's measurement at initialisation and his training setting:
    hidden layers of ``width`` units, norms measured on the first
    ``n_samples`` training images over ``seeds``; training on the first
    ``n_train`` images for ``epochs`` epochs, mini-batches of ``batch_size``,
    learning rate ``lr``, his cross-entropy."""

    width: int = 30
    n_samples: int = 1000
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    comparison_seeds: tuple[int, ...] = tuple(range(10))
    n_train: int = 1000
    epochs: int = 30
    lr: float = 0.1
    batch_size: int = 10

    def __post_init__(self) -> None:
        _tuples(self, "seeds", "comparison_seeds")


@declare(width=_WIDTH, depths=SequenceOf(_DEPTH, 1, MAX_DEPTH), freeze_depth=Int(2, MAX_DEPTH),
         seeds=_SEEDS, epochs=_COUNT, lr=_LR, batch_size=_COUNT, early_epoch=_COUNT,
         example=dict(depths=(1, 2), epochs=4, early_epoch=2))
@dataclass(frozen=True)
class DigitsTrainingSettings:
    """The depth sweep and the freeze comparison (claims C2, C11): nets with
    hidden layers of ``width`` units trained on the whole digits split for
    ``epochs`` epochs, mini-batches of ``batch_size``, learning rate ``lr``,
    over ``seeds``; ``early_epoch`` is when the first layer's early change is read."""

    width: int = 30
    depths: tuple[int, ...] = (1, 2, 3, 4, 5)
    freeze_depth: int = 3
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 30
    lr: float = 1.0
    batch_size: int = 32
    early_epoch: int = 5

    def __post_init__(self) -> None:
        _tuples(self, "depths", "seeds")


@declare(depth=_DEPTH, epochs=_COUNT, lr=_LR, batch_size=_COUNT, seed=Seed(),
         hessian_epochs=SequenceOf(Int(0, MAX_STEPS), 0, MAX_STEPS), hessian_samples=_COUNT,
         example=dict(depth=2, hessian_epochs=(0, 5)))
@dataclass(frozen=True)
class PlateauSettings:
    """The plateau run (claim C9): ``depth`` hidden layers of 30, trained for
    ``epochs`` epochs at ``lr`` in mini-batches of ``batch_size``; the
    Hessian's extreme eigenvalues at ``hessian_epochs`` on
    ``hessian_samples`` training images."""

    depth: int = 4
    epochs: int = 60
    lr: float = 1.0
    batch_size: int = 32
    seed: int = 0
    hessian_epochs: tuple[int, ...] = (0, 10, 20, 40, 60)
    hessian_samples: int = 500

    def __post_init__(self) -> None:
        _tuples(self, "hessian_epochs")


@declare(nielsen=Instance(NielsenSettings), training=Instance(DigitsTrainingSettings),
         plateau=Instance(PlateauSettings), example=lambda: dict(nielsen=NielsenSettings(width=8)))
@dataclass(frozen=True)
class VanishingSettings:
    """Chapter 1's settings. Replace :data:`SETTINGS` (``dataclasses.replace``)
    and call :func:`clear_cache` to run the experiments with other settings;
    an argument given to an experiment overrides its setting."""

    nielsen: NielsenSettings = NielsenSettings()
    training: DigitsTrainingSettings = DigitsTrainingSettings()
    plateau: PlateauSettings = PlateauSettings()


#: The chapter's settings (see :class:`VanishingSettings`).
SETTINGS = VanishingSettings()


@declare(example={})
def clear_cache() -> None:
    """Forget the memoised training runs (after replacing :data:`SETTINGS`)."""
    _run.cache_clear()


def _sizes(depth: int, width: int, rows: int, what: str) -> list[int]:
    """The layer sizes ``[64] + [width] * depth + [10]``, refused (naming
    depth, width and ``what``) if their weights and gradients, or the
    activations of ``rows`` images, would not fit in :data:`MAX_BYTES`."""
    sizes = [64] + [width] * depth + [10]
    LayerSizes(2).check(sizes, "the net of depth and width")
    activations = 4 * 3 * rows * (width * depth + 74)  # forward, backward, and a copy
    check_memory(activations, f"the activations of depth={depth}, width={width} on {rows} images ({what})")
    return sizes


def _check_run(depth: int, width: int, epochs: int, n_train: int, batch_size: int) -> None:
    """Refuse a training run that is too long, or whose per-epoch records
    would not fit in memory, before it starts."""
    _sizes(depth, width, max(n_train, 1000), "n_train")
    updates = epochs * math.ceil(n_train / batch_size)
    if updates > MAX_STEPS:
        raise ValueError(f"epochs={epochs} over {n_train} images in mini-batches of batch_size="
                         f"{batch_size} make {updates:,} updates; at most {MAX_STEPS:,}")
    records = 32 * (3 * epochs * (depth + 1) + updates)  # per-layer lists and step losses
    check_memory(records, f"the diagnostics of epochs={epochs} of a net of depth={depth}")


def _finished(h, what: str, lr: float):
    """``h``, or a ValueError naming ``lr`` if the run diverged."""
    if getattr(h, "diverged", False):
        raise ValueError(f"{what} diverged at lr={lr:g}: {h.reason}")
    return h


def _n_images(n: int, available: int, name: str) -> int:
    if n > available:
        raise ValueError(f"{name} must be at most {available} (the digits training images); got {n}")
    return n


@declare(depth=_DEPTH, activation=Choice(ACTIVATIONS), init=INIT, width=Optional(_WIDTH),
         seeds=Optional(_SEEDS), n_samples=Optional(_COUNT), loss=Choice(LOSSES),
         example=dict(depth=2, width=4, seeds=(0,), n_samples=10))
def initial_delta_norms(
    depth: int,
    activation: str = "sigmoid",
    init: str | float = "nielsen",
    *,
    width: int | None = None,
    seeds: Sequence[int] | None = None,
    n_samples: int | None = None,
    loss: str = "sigmoid",
) -> np.ndarray:
    r""":math:`\|\delta^l\|` of each hidden layer at initialisation, per seed.

    Returns an array of shape (len(seeds), depth): row s holds the norms of a
    freshly initialised net ``[64] + [width] * depth + [10]`` built with seed
    s, measured on the first ``n_samples`` training digits (at most 1,438).
    Norms that overflow (a large ``init`` scale on a deep ReLU net) raise.
    """
    depth = check_positive_int(depth, "depth")
    width = check_positive_int(or_default(width, SETTINGS.nielsen.width), "width")
    n_samples = check_positive_int(or_default(n_samples, SETTINGS.nielsen.n_samples), "n_samples")
    X_train, _, y_train, _ = digits_split()
    n_samples = _n_images(n_samples, len(X_train), "n_samples")
    sizes = _sizes(depth, width, n_samples, "n_samples")
    X, y = X_train[:n_samples], y_train[:n_samples]
    rows = []
    for s in check_seeds(seeds, SETTINGS.nielsen.seeds):
        net = mlp(sizes, activation=activation, init=init, seed=s)
        rows.append(bias_gradient_norms(net, X, y, loss=loss))
    rows = np.asarray(rows)
    if not np.isfinite(rows).all():
        raise ValueError(f"the gradient norms overflow (inf or NaN) at init={init!r} with "
                         f"{activation} units and depth={depth}; use a smaller init scale")
    return rows


@declare(seeds=Optional(_SEEDS), example=dict(seeds=(0,)))
def nielsen_comparison(seeds: Sequence[int] | None = None) -> pd.DataFrame:
    """Our epoch-0 norms on digits beside Nielsen's on MNIST (2, 3, 4 hidden layers).

    One row per (hidden layers, layer): our mean and standard deviation over
    ``seeds``, Nielsen's value, and the last/first ratio of each.
    """
    rows = []
    for depth, theirs in NIELSEN_EPOCH0.items():
        ours = initial_delta_norms(depth, seeds=check_seeds(seeds, SETTINGS.nielsen.comparison_seeds))
        mean = ours.mean(axis=0)
        for layer in range(depth):
            rows.append(
                {
                    "hidden layers": depth,
                    "layer": layer + 1,
                    "ours (digits)": mean[layer],
                    "ours sd": ours[:, layer].std(ddof=1) if len(ours) > 1 else 0.0,
                    "Nielsen (MNIST)": theirs[layer],
                    "ratio last/first, ours": mean[-1] / mean[0],
                    "ratio last/first, Nielsen": theirs[-1] / theirs[0],
                }
            )
    return pd.DataFrame(rows)


@declare(depth=_DEPTH, epochs=Optional(_COUNT), lr=Optional(_LR), batch_size=Optional(_COUNT),
         seed=Seed(), activation=Choice(ACTIVATIONS), init=INIT, loss=Choice(LOSSES),
         n_train=Optional(_COUNT), example=dict(depth=1, epochs=1, n_train=20))
def training_profile(
    depth: int,
    *,
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    activation: str = "sigmoid",
    init: str | float = "nielsen",
    loss: str = "sigmoid",
    n_train: int | None = None,
):
    """Train a net with ``depth`` hidden layers of 30 and record, every epoch,
    the per-layer gradient norms, weight changes and saturation.

    Nielsen's setting: 1,000 training images, mini-batches of 10, learning
    rate 0.1, his cross-entropy (``loss="sigmoid"``). Returns the
    :class:`gradbook.train.History` (``diverged=True`` if the run diverged).
    """
    depth = check_positive_int(depth, "depth")
    s = SETTINGS.nielsen
    n_train = check_positive_int(or_default(n_train, s.n_train), "n_train")
    epochs, batch_size = or_default(epochs, s.epochs), or_default(batch_size, s.batch_size)
    X_train, X_test, y_train, y_test = digits_split()
    n_train = _n_images(n_train, len(X_train), "n_train")
    _check_run(depth, s.width, epochs, n_train, batch_size)
    net = mlp([64] + [s.width] * depth + [10], activation=activation, init=init, seed=seed)
    return train(
        net, X_train[:n_train], y_train[:n_train], epochs=epochs, lr=or_default(lr, s.lr),
        batch_size=batch_size, loss=loss, seed=seed, X_test=X_test, y_test=y_test,
        diagnostics_every=1,
    )


@memoised
def _run(depth: int, seed: int, epochs: int, lr: float, batch_size: int,
         activation: str, init: str | float, n_frozen: int, width: int):
    """One training run on the digits split, memoised: the depth sweep and
    the freeze comparison share their runs (each call returns a fresh copy of
    the History)."""
    X_train, X_test, y_train, y_test = digits_split()
    net = mlp([64] + [width] * depth + [10], activation=activation, init=init, seed=seed)
    for layer in linear_layers(net)[:n_frozen]:
        layer.requires_grad_(False)
    return train(net, X_train, y_train, epochs=epochs, lr=lr, batch_size=batch_size,
                 seed=seed, X_test=X_test, y_test=y_test, diagnostics_every=1)


@declare(depth=Optional(Int(2, MAX_DEPTH)), width=Optional(_WIDTH), seeds=Optional(_SEEDS),
         epochs=Optional(_COUNT), lr=Optional(_LR), batch_size=Optional(_COUNT),
         example=dict(depth=2, width=4, seeds=(0,), epochs=1))
def freeze_comparison(
    depth: int | None = None,
    *,
    width: int | None = None,
    seeds: Sequence[int] | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Claim C2: a deep net, the same net with its first layers frozen at
    their random initial values, and the shallow net of its last layers.

    - ``deep``: ``[64] + [width] * depth + [10]``, every layer trained;
    - ``frozen``: the same net and seed, the first ``depth - 1`` linear layers
      left at their initial values, only the last hidden and output layers
      trained;
    - ``shallow``: ``[64, width, 10]``, i.e. the last hidden layer and the
      output layer fed with the pixels directly.

    Returns ``(results, changes)``: ``results`` has one row per (variant,
    seed) with the final test accuracy and the first epoch at which the test
    accuracy reached 50 %; ``changes`` has one row per (variant, seed, epoch,
    layer) with the layer's relative weight change since initialisation.
    A run that diverges raises, naming ``lr``.
    """
    tr = SETTINGS.training
    depth = check_positive_int(or_default(depth, tr.freeze_depth), "depth", minimum=2)
    width = check_positive_int(or_default(width, tr.width), "width")
    epochs = check_positive_int(or_default(epochs, tr.epochs), "epochs")
    lr, batch_size = or_default(lr, tr.lr), or_default(batch_size, tr.batch_size)
    seeds = check_seeds(seeds, tr.seeds)
    _check_run(depth, width, epochs, len(digits_split()[0]), batch_size)
    results, changes = [], []
    for s in seeds:
        runs = {
            "deep": _run(depth, s, epochs, lr, batch_size, "sigmoid", "nielsen", 0, width),
            "frozen": _run(depth, s, epochs, lr, batch_size, "sigmoid", "nielsen", depth - 1, width),
            "shallow": _run(1, s, epochs, lr, batch_size, "sigmoid", "nielsen", 0, width),
        }
        for variant, h in runs.items():
            _finished(h, f"the {variant} run (seed {s})", lr)
            results.append({"variant": variant, "seed": s, "test accuracy": h.test_acc[-1],
                            "epoch to 50%": h.first_epoch_reaching(0.5)})
            for e, row in zip(h.diag_epoch, h.weight_change):
                for layer, value in enumerate(row):
                    changes.append({"variant": variant, "seed": s, "epoch": e,
                                    "layer": layer + 1, "relative change": value})
    return pd.DataFrame(results), pd.DataFrame(changes)


@declare(depths=Optional(SequenceOf(_DEPTH, 1, MAX_DEPTH)), seeds=Optional(_SEEDS),
         epochs=Optional(_COUNT), lr=Optional(_LR), batch_size=Optional(_COUNT),
         activation=Choice(ACTIVATIONS), init=INIT, early_epoch=Optional(_COUNT),
         example=dict(depths=(1,), seeds=(0,), epochs=1, early_epoch=1))
def depth_sweep(
    depths: Sequence[int] | None = None,
    *,
    seeds: Sequence[int] | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    activation: str = "sigmoid",
    init: str | float = "nielsen",
    early_epoch: int | None = None,
) -> pd.DataFrame:
    """Claim C11: how the first layer's learning and the accuracy fall with depth.

    Nets ``[64] + [30] * depth + [10]`` trained on the digits. One row per
    (depth, seed) with: the first and last hidden layers' gradient norms at
    initialisation and their ratio, the first layer's relative weight change
    after ``early_epoch`` epochs and at the end, the final test accuracy,
    and the first epoch at which the test accuracy reached 50 % (NaN if
    never). A run that diverges raises, naming ``lr``.
    """
    tr = SETTINGS.training
    early_epoch = check_positive_int(or_default(early_epoch, tr.early_epoch), "early_epoch")
    epochs = check_positive_int(or_default(epochs, tr.epochs), "epochs")
    lr, batch_size = or_default(lr, tr.lr), or_default(batch_size, tr.batch_size)
    if early_epoch > epochs:
        raise ValueError(f"early_epoch ({early_epoch}) must not exceed epochs ({epochs})")
    depths = [check_positive_int(depth, "depth") for depth in or_default(depths, tr.depths)]
    seeds = check_seeds(seeds, tr.seeds)
    n_train = len(digits_split()[0])
    for depth in depths:
        _check_run(depth, tr.width, epochs, n_train, batch_size)
    rows = []
    for depth in depths:
        for s in seeds:
            h = _run(depth, s, epochs, lr, batch_size, activation, init, 0, tr.width)
            _finished(h, f"the run of depth {depth} (seed {s})", lr)
            g0 = h.bias_grad[0]
            rows.append({
                "depth": depth, "seed": s,
                "first-layer grad": g0[0], "last-layer grad": g0[-1],
                "last/first": g0[-1] / g0[0],
                "first-layer change (early)": h.weight_change[early_epoch][0],
                "first-layer change (end)": h.weight_change[-1][0],
                "test accuracy": h.test_acc[-1],
                "epoch to 50%": h.first_epoch_reaching(0.5),
            })
    return pd.DataFrame(rows)


@declare(depth=Optional(_DEPTH), epochs=Optional(_COUNT), lr=Optional(_LR),
         batch_size=Optional(_COUNT), seed=Optional(Seed()),
         hessian_epochs=Optional(SequenceOf(Int(0, MAX_STEPS), 0, MAX_STEPS)),
         hessian_samples=Optional(_COUNT),
         example=dict(depth=1, epochs=1, hessian_epochs=(0,), hessian_samples=10))
def plateau_run(
    depth: int | None = None,
    *,
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    hessian_epochs: Sequence[int] | None = None,
    hessian_samples: int | None = None,
):
    """Claim C9: train a deep sigmoid net through its plateau and look at the
    curvature there.

    Trains ``[64] + [30] * depth + [10]`` (Nielsen init, softmax
    cross-entropy) on the digits with per-epoch diagnostics, and at each epoch
    in ``hessian_epochs`` estimates the Hessian's largest and smallest
    eigenvalues (:func:`gradbook.diagnostics.hessian_extremes`) on
    ``hessian_samples`` training images.

    Returns ``(history, curvature)``: the :class:`~gradbook.train.History`
    and a DataFrame with columns epoch, lambda_max, lambda_min, grad_norm
    (the norm of the full gradient on the same images).
    """
    from ..diagnostics import hessian_extremes, layer_gradients

    pl = SETTINGS.plateau
    depth = check_positive_int(or_default(depth, pl.depth), "depth")
    hessian_samples = check_positive_int(or_default(hessian_samples, pl.hessian_samples), "hessian_samples")
    seed = check_seed(or_default(seed, pl.seed))
    epochs, lr, batch_size = or_default(epochs, pl.epochs), or_default(lr, pl.lr), or_default(batch_size, pl.batch_size)
    hessian_epochs = or_default(hessian_epochs, pl.hessian_epochs)
    X_train, X_test, y_train, y_test = digits_split()
    hessian_samples = _n_images(hessian_samples, len(X_train), "hessian_samples")
    _check_run(depth, 30, epochs, len(X_train), batch_size)
    Xh, yh = X_train[:hessian_samples], y_train[:hessian_samples]
    wanted = set(int(e) for e in hessian_epochs)
    rows = []

    def measure(epoch: int, model) -> None:
        if epoch in wanted:
            top, bottom = hessian_extremes(model, Xh, yh, iters=60, seed=seed)
            grads = layer_gradients(model, Xh, yh)
            norm = float(torch.sqrt(sum((gw ** 2).sum() + (gb ** 2).sum() for gw, gb in grads)))
            rows.append({"epoch": epoch, "lambda_max": top, "lambda_min": bottom, "grad_norm": norm})

    net = mlp([64] + [30] * depth + [10], seed=seed)
    history = train(net, X_train, y_train, epochs=epochs, lr=lr, batch_size=batch_size,
                    seed=seed, X_test=X_test, y_test=y_test, diagnostics_every=1,
                    callback=measure)
    return history, pd.DataFrame(rows)


@declare(depth=_DEPTH, activation=Choice(ACTIVATIONS), weight_std=Positive(1e6),
         example=dict(depth=2, activation="relu", weight_std=0.5))
def delta_profile_figure(depth: int, activation: str, weight_std: float):
    """The interactive figure of chapter 1: :math:`\\|\\delta^l\\|` per hidden
    layer at initialisation, on a log axis.

    Weights are drawn N(0, ``weight_std``^2) with zero biases; the norms are
    the mean over three seeds, on 500 training digits, softmax cross-entropy.
    """
    import matplotlib.pyplot as plt

    from ..plots import ACTIVATION_COLOURS, layer_log_axis

    try:
        norms = initial_delta_norms(depth, activation, init=weight_std, seeds=(0, 1, 2),
                                    n_samples=500, loss="softmax").mean(axis=0)
    except ValueError as exc:
        raise ValueError(f"weight_std={weight_std:g}: {exc}") from None
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    layers = np.arange(1, depth + 1)
    ax.plot(layers, norms, "o-", color=ACTIVATION_COLOURS[activation], lw=2)
    layer_log_axis(ax, 8, range(-10, 7, 2), (1e-10, 1e6))
    ax.set_ylabel(r"$\|\delta^l\|$ at initialisation")
    ratio = norms[-1] / norms[0] if norms[0] > 0 else np.inf
    ax.set_title(f"{activation}, {depth} hidden layers, weight sd {weight_std:g}:"
                 f" last/first = {ratio:.3g}", fontsize=10)
    fig.subplots_adjust(left=0.13, right=0.98, bottom=0.16, top=0.9)
    return fig


# ------------------------------------------------ verdicts (not yet on the rule)

#: The verdicts of this chapter's claim-check boxes, not yet decided by the book's rule.
_VERDICTS = {'C1': 'confirmed', 'C2': 'confirmed with caveats', 'C9': 'corrected', 'C11': 'confirmed'}

#: Why each verdict here is not (yet) decided by the book's rule.
ARGUED: dict[str, str] = dict.fromkeys(_VERDICTS, NOT_YET_ON_THE_RULE)


def claim_verdicts() -> dict[str, str]:
    """The verdict of each claim checked in this chapter, as its claim-check
    boxes state it (see :data:`ARGUED`)."""
    return dict(_VERDICTS)
