r"""Chapter 1's experiments on the vanishing gradient, as tested functions.

Each function runs one experiment of the chapter on the digits data and
returns plain numbers (numpy arrays, pandas DataFrames or
:class:`gradbook.train.History` objects); the chapter only plots and
discusses them. Every training experiment runs its seeds at once, as one
:class:`gradbook.models.ensemble.Ensemble` (member k trains exactly as a
single net with seed k), and the comparisons behind the chapter's verdicts
(:func:`claim_comparisons`) are judged by :mod:`gradbook.stats`.

Published values used for comparison
------------------------------------
:data:`NIELSEN_EPOCH0` holds the norms :math:`\|\delta^l\|` that Nielsen
reports in chapter 5 of *Neural Networks and Deep Learning* (2015) for
sigmoid nets with hidden layers of 30 units on MNIST, at initialisation
(N(0, 1/n_in) weights, cross-entropy cost, measured on 1,000 training images).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from .._validate import (
    MAX_DEPTH,
    MAX_SEEDS,
    MAX_STEPS,
    Choice,
    Float,
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
from ..data import digits_split, label_subset, mnist_split
from ..diagnostics import bias_gradient_norms
from ..losses import LOSSES
from ..memo import memoised
from ..models.ensemble import ensemble
from ..models.mlp import ACTIVATIONS, INIT, linear_layers, mlp
from ..train import History, train

__all__ = [
    "NIELSEN_EPOCH0",
    "NielsenSettings",
    "DigitsTrainingSettings",
    "PlateauSettings",
    "VanishingSettings",
    "SETTINGS",
    "clear_cache",
    "initial_delta_norms",
    "DATA",
    "nielsen_images",
    "nielsen_comparison",
    "training_profile",
    "training_profiles",
    "freeze_comparison",
    "frozen_probe",
    "depth_sweep",
    "escape_epoch",
    "plateau_run",
    "claim_comparisons",
    "claim_verdicts",
    "ARGUED",
    "delta_profile_figure",
]

__undeclared__ = {
    "claim_verdicts": "takes no arguments and runs the chapter's full comparisons (claim_comparisons, "
                      "declared, takes small trial settings); the claim tests call it",
}

NIELSEN_EPOCH0 = {
    2: [0.0657, 0.309],
    3: [0.0118, 0.0600, 0.283],
    4: [0.00298, 0.0171, 0.0695, 0.285],
}

#: The data sets Nielsen's measurement runs on: scikit-learn's 8x8 digits, or
#: the offline MNIST sample (``gradbook.data.mnist_split``), his data.
DATA = ("digits", "mnist")

#: The loss of a net that predicts the class frequencies of the (balanced)
#: digits: the height of the plateau of claim C9.
PLATEAU_LOSS = math.log(10)

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
         epochs=_COUNT, lr=_LR, batch_size=_COUNT, ratio_margin=Float(1.0, 1e6, low_open=True),
         data=Choice(DATA),
         figure_seeds=_SEEDS, figure_samples=_COUNT,
         example=dict(width=8, seeds=(0, 1)))
@dataclass(frozen=True)
class NielsenSettings:
    """Nielsen's measurement at initialisation and his training setting:
    hidden layers of ``width`` units, norms measured on the first
    ``n_samples`` training images over ``seeds`` (the table: over
    ``comparison_seeds``); training on the first ``n_train`` images for
    ``epochs`` epochs, mini-batches of ``batch_size``, learning rate ``lr``,
    his cross-entropy; on ``data`` ("mnist", his data, from the offline
    sample: :func:`nielsen_images`; or "digits"). ``ratio_margin`` is the smallest ratio between two
    layers' norms that claim C1's comparisons treat as a real gap (their
    margin is its log10). The interactive figure averages ``figure_seeds`` on
    ``figure_samples`` images."""

    width: int = 30
    n_samples: int = 1000
    seeds: tuple[int, ...] = tuple(range(20))
    comparison_seeds: tuple[int, ...] = tuple(range(20))
    n_train: int = 1000
    epochs: int = 20
    lr: float = 0.1
    batch_size: int = 10
    ratio_margin: float = 2.0
    data: str = "digits"
    figure_seeds: tuple[int, ...] = (0, 1, 2)
    figure_samples: int = 500

    def __post_init__(self) -> None:
        _tuples(self, "seeds", "comparison_seeds", "figure_seeds")


@declare(width=_WIDTH, depths=SequenceOf(_DEPTH, 1, MAX_DEPTH), freeze_depth=Int(2, MAX_DEPTH),
         seeds=_SEEDS, epochs=_COUNT, short_epochs=_COUNT, lr=_LR, batch_size=_COUNT, early_epoch=_COUNT,
         example=dict(depths=(1, 2), epochs=4, short_epochs=3, early_epoch=2))
@dataclass(frozen=True)
class DigitsTrainingSettings:
    """The depth sweep and the freeze comparison (claims C2, C11) and the
    plateau (C9): nets with hidden layers of ``width`` units trained on the
    whole digits split for ``epochs`` epochs (long enough for the nets that
    learn to fit their training set: claim C2 is about where a net *ends
    up*), mini-batches of ``batch_size``, learning rate ``lr``, over
    ``seeds``, all seeds as one ensemble. ``short_epochs`` is a shorter
    budget read off the same runs (the first epochs of a run are the run
    with fewer epochs); ``early_epoch`` is when the first layer's early
    change is read."""

    width: int = 30
    depths: tuple[int, ...] = (1, 2, 3, 4, 5)
    freeze_depth: int = 3
    seeds: tuple[int, ...] = tuple(range(20))
    epochs: int = 90
    short_epochs: int = 30
    lr: float = 1.0
    batch_size: int = 32
    early_epoch: int = 5

    def __post_init__(self) -> None:
        _tuples(self, "depths", "seeds")
        for name in ("short_epochs", "early_epoch"):
            if getattr(self, name) > self.epochs:
                raise ValueError(f"{name} ({getattr(self, name)}) must not exceed epochs ({self.epochs})")


@declare(depth=_DEPTH, hessian_epochs=SequenceOf(Int(0, MAX_STEPS), 1, 100), hessian_samples=_COUNT,
         hessian_iters=Int(1, 1000), margin=Positive(10.0),
         example=dict(depth=2, hessian_epochs=(0, 5)))
@dataclass(frozen=True)
class PlateauSettings:
    """The plateau (claim C9): the depth-sweep nets with ``depth`` hidden
    layers (trained as :class:`DigitsTrainingSettings` says); the Hessian's
    extreme eigenvalues at ``hessian_epochs`` on ``hessian_samples``
    training images (``hessian_iters`` power iterations each). A net is on
    the plateau while its training loss lies within ``margin`` of
    :data:`PLATEAU_LOSS` (``log 10``), and has left it at the first epoch
    its loss falls below ``log 10 - margin``."""

    depth: int = 4
    hessian_epochs: tuple[int, ...] = (10,)
    hessian_samples: int = 500
    hessian_iters: int = 60
    margin: float = 0.1

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
    for runner in (_runs, _profiles, _curvature, _claim_comparisons):
        runner.cache_clear()


def _sizes(depth: int, width: int, rows: int, what: str, n_in: int = 64) -> list[int]:
    """The layer sizes ``[n_in] + [width] * depth + [10]``, refused (naming
    depth, width and ``what``) if their weights and gradients, or the
    activations of ``rows`` images, would not fit in :data:`MAX_BYTES`."""
    sizes = [n_in] + [width] * depth + [10]
    LayerSizes(2).check(sizes, "the net of depth and width")
    activations = 4 * 3 * rows * (width * depth + n_in + 10)  # forward, backward, and a copy
    check_memory(activations, f"the activations of depth={depth}, width={width} on {rows} images ({what})")
    return sizes


def _check_run(depth: int, width: int, epochs: int, n_train: int, batch_size: int, members: int = 1,
               n_in: int = 64) -> None:
    """Refuse a training run that is too long, or whose per-epoch records
    would not fit in memory, before it starts."""
    _sizes(depth, width, members * max(n_train, 1000), "n_train", n_in)
    updates = epochs * math.ceil(n_train / batch_size)
    if updates > MAX_STEPS:
        raise ValueError(f"epochs={epochs} over {n_train} images in mini-batches of batch_size="
                         f"{batch_size} make {updates:,} updates; at most {MAX_STEPS:,}")
    records = members * 32 * (3 * epochs * (depth + 1) + updates)  # per-layer lists and step losses
    check_memory(records, f"the diagnostics of epochs={epochs} of a net of depth={depth}")


def _finished(h, what: str, lr: float):
    """``h``, or a ValueError naming ``lr`` if the run diverged."""
    if getattr(h, "diverged", False):
        raise ValueError(f"{what} diverged at lr={lr:g}: {h.reason}")
    return h


def _n_images(n: int, available: int, name: str, data: str = "digits") -> int:
    if n > available:
        raise ValueError(f"{name} must be at most {available} (the {data} training images); got {n}")
    return n


@functools.lru_cache(maxsize=None)
def _images(data: str) -> tuple[torch.Tensor, ...]:
    if data == "digits":
        return tuple(digits_split())
    X_train, X_test, y_train, y_test = mnist_split()
    order = label_subset(y_train, len(y_train), seed=0)  # classes in turns: every prefix is balanced
    return X_train[order], X_test, y_train[order], y_test


@declare(data=Choice(DATA), example=dict(data="digits"))
def nielsen_images(data: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The images of Nielsen's measurement and training: ``X_train, X_test,
    y_train, y_test`` as flat rows, the "first n training images" being
    ``X_train[:n]``.

    - "digits": :func:`gradbook.data.digits_split` (64 pixels; 1,438 and 359
      images).
    - "mnist": :func:`gradbook.data.mnist_split`, the offline MNIST sample
      (784 pixels; 4,000 and 1,000 images), its training images reordered so
      that the classes come in turns (the sample is sorted by label, so its
      first 1,000 would be zeros and ones; Nielsen's first 1,000 MNIST
      training images hold every class). Copies: changing them changes
      nothing here.
    """
    if data not in DATA:
        raise ValueError(f"data must be one of {', '.join(map(repr, DATA))}; got {data!r:.80}")
    return tuple(t.clone() for t in _images(data))


@declare(depth=_DEPTH, activation=Choice(ACTIVATIONS), init=INIT, width=Optional(_WIDTH),
         seeds=Optional(_SEEDS), n_samples=Optional(_COUNT), loss=Choice(LOSSES), data=Optional(Choice(DATA)),
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
    data: str | None = None,
) -> np.ndarray:
    r""":math:`\|\delta^l\|` of each hidden layer at initialisation, per seed.

    Returns an array of shape (len(seeds), depth): row s holds the norms of a
    freshly initialised net ``[n_pixels] + [width] * depth + [10]`` built
    with seed s, measured on the first ``n_samples`` training images of
    :func:`nielsen_images` ``(data)`` (default ``SETTINGS.nielsen.data``).
    Norms that overflow (a large ``init`` scale on a deep ReLU net) raise.
    """
    depth = check_positive_int(depth, "depth")
    width = check_positive_int(or_default(width, SETTINGS.nielsen.width), "width")
    n_samples = check_positive_int(or_default(n_samples, SETTINGS.nielsen.n_samples), "n_samples")
    data = or_default(data, SETTINGS.nielsen.data)
    X_train, _, y_train, _ = _images(data)
    n_samples = _n_images(n_samples, len(X_train), "n_samples", data)
    sizes = _sizes(depth, width, n_samples, "n_samples", X_train.shape[1])
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


@declare(seeds=Optional(_SEEDS), data=Optional(Choice(DATA)), example=dict(seeds=(0,), data="digits"))
def nielsen_comparison(seeds: Sequence[int] | None = None, data: str | None = None) -> pd.DataFrame:
    """Our epoch-0 norms beside Nielsen's on MNIST (2, 3, 4 hidden layers),
    ours on ``data`` (default ``SETTINGS.nielsen.data``).

    One row per (hidden layers, layer): our mean, standard deviation, lowest
    and highest value over ``seeds``, Nielsen's value, whether it lies within
    our range (lowest to highest), the last/first ratio of each (ours: of the
    means over seeds), and whether Nielsen's ratio lies within the range of
    our per-seed ratios.
    """
    rows = []
    for depth, theirs in NIELSEN_EPOCH0.items():
        ours = initial_delta_norms(depth, seeds=check_seeds(seeds, SETTINGS.nielsen.comparison_seeds),
                                   data=data)
        mean, low, high = ours.mean(axis=0), ours.min(axis=0), ours.max(axis=0)
        per_seed = ours[:, -1] / ours[:, 0]
        for layer in range(depth):
            rows.append(
                {
                    "hidden layers": depth,
                    "layer": layer + 1,
                    "ours": mean[layer],
                    "ours sd": ours[:, layer].std(ddof=1) if len(ours) > 1 else 0.0,
                    "ours lowest": low[layer],
                    "ours highest": high[layer],
                    "Nielsen (MNIST)": theirs[layer],
                    "Nielsen within our range": bool(low[layer] <= theirs[layer] <= high[layer]),
                    "ratio last/first, ours": mean[-1] / mean[0],
                    "ratio last/first, Nielsen": theirs[-1] / theirs[0],
                    "Nielsen's ratio within our range":
                        bool(per_seed.min() <= theirs[-1] / theirs[0] <= per_seed.max()),
                }
            )
    return pd.DataFrame(rows)


@declare(depth=_DEPTH, epochs=Optional(_COUNT), lr=Optional(_LR), batch_size=Optional(_COUNT),
         seed=Seed(), activation=Choice(ACTIVATIONS), init=INIT, loss=Choice(LOSSES),
         n_train=Optional(_COUNT), data=Optional(Choice(DATA)), example=dict(depth=1, epochs=1, n_train=20))
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
    data: str | None = None,
):
    """Train a net with ``depth`` hidden layers of 30 and record, every epoch,
    the per-layer gradient norms, weight changes and saturation.

    Nielsen's setting: 1,000 training images, mini-batches of 10, learning
    rate 0.1, his cross-entropy (``loss="sigmoid"``), on the first
    ``n_train`` training images of :func:`nielsen_images` ``(data)``
    (default ``SETTINGS.nielsen.data``), tested on its test images. Returns
    the :class:`gradbook.train.History` (``diverged=True`` if the run
    diverged).
    """
    depth = check_positive_int(depth, "depth")
    s = SETTINGS.nielsen
    n_train = check_positive_int(or_default(n_train, s.n_train), "n_train")
    epochs, batch_size = or_default(epochs, s.epochs), or_default(batch_size, s.batch_size)
    data = or_default(data, s.data)
    X_train, X_test, y_train, y_test = _images(data)
    n_train = _n_images(n_train, len(X_train), "n_train", data)
    _check_run(depth, s.width, epochs, n_train, batch_size, n_in=X_train.shape[1])
    net = mlp([X_train.shape[1]] + [s.width] * depth + [10], activation=activation, init=init, seed=seed)
    return train(
        net, X_train[:n_train], y_train[:n_train], epochs=epochs, lr=or_default(lr, s.lr),
        batch_size=batch_size, loss=loss, seed=seed, X_test=X_test, y_test=y_test,
        diagnostics_every=1,
    )


@memoised
def _profiles(depth: int, seeds: tuple[int, ...], epochs: int, lr: float, batch_size: int,
              n_train: int, width: int, data: str) -> tuple[History, ...]:
    """Nielsen's training setting for every seed of ``seeds``, as one
    ensemble, memoised (each call returns fresh copies)."""
    X_train, X_test, y_train, y_test = _images(data)
    nets = ensemble(mlp, seeds, sizes=[X_train.shape[1]] + [width] * depth + [10], activation="sigmoid",
                    init="nielsen")
    return tuple(train(nets, X_train[:n_train], y_train[:n_train], epochs=epochs, lr=lr,
                       batch_size=batch_size, loss="sigmoid", X_test=X_test, y_test=y_test,
                       diagnostics_every=1))


@declare(depth=_DEPTH, seeds=Optional(_SEEDS), epochs=Optional(_COUNT), data=Optional(Choice(DATA)),
         example=dict(depth=1, seeds=(0, 1), epochs=1))
def training_profiles(depth: int, *, seeds: Sequence[int] | None = None,
                      epochs: int | None = None, data: str | None = None) -> list[History]:
    """:func:`training_profile` in Nielsen's setting (``SETTINGS.nielsen``)
    for every seed of ``seeds`` (default ``SETTINGS.nielsen.seeds``), trained
    together as one ensemble: one :class:`~gradbook.train.History` per seed,
    in the order of ``seeds``, with the per-layer diagnostics of every epoch.
    A run that diverges raises, naming ``lr``."""
    depth = check_positive_int(depth, "depth")
    s = SETTINGS.nielsen
    epochs = check_positive_int(or_default(epochs, s.epochs), "epochs")
    seeds = tuple(check_seeds(seeds, s.seeds))
    data = or_default(data, s.data)
    X_train = _images(data)[0]
    n_train = _n_images(s.n_train, len(X_train), "n_train", data)
    _check_run(depth, s.width, epochs, n_train, s.batch_size, len(seeds), n_in=X_train.shape[1])
    histories = _profiles(depth, seeds, epochs, s.lr, s.batch_size, n_train, s.width, data)
    return [_finished(h, f"the run of depth {depth} (seed {k})", s.lr) for k, h in zip(seeds, histories)]


@memoised
def _runs(depth: int, seeds: tuple[int, ...], epochs: int, lr: float, batch_size: int,
          activation: str, init: str | float, n_frozen: int, width: int, keep: tuple[int, ...],
          every: int):
    """The nets ``[64] + [width] * depth + [10]`` of every seed, their first
    ``n_frozen`` linear layers frozen, trained on the digits split as one
    ensemble, accuracies and losses recorded every epoch and the per-layer
    diagnostics every ``every`` epochs, memoised: the depth sweep, the
    freeze comparison and the plateau share their runs (each call returns
    fresh copies). Returns ``(histories, kept)``: one History per seed, and
    for each epoch of ``keep`` the members' nets at that epoch."""
    X_train, X_test, y_train, y_test = digits_split()

    def build(seed: int):
        net = mlp([64] + [width] * depth + [10], activation=activation, init=init, seed=seed)
        for layer in linear_layers(net)[:n_frozen]:
            layer.requires_grad_(False)
        return net

    kept: dict[int, tuple] = {}

    def keep_members(epoch: int, model) -> None:
        if epoch in keep:
            kept[epoch] = tuple(model.members())

    histories = train(ensemble(build, seeds), X_train, y_train, epochs=epochs, lr=lr, batch_size=batch_size,
                      X_test=X_test, y_test=y_test, diagnostics_every=every,
                      callback=keep_members if keep else None)
    return tuple(histories), kept


def _keep(epochs: int, hessian_epochs: Sequence[int] | None = None) -> tuple[int, ...]:
    """The epochs at which a run keeps its members' nets: those of
    ``hessian_epochs`` (default ``SETTINGS.plateau.hessian_epochs``) within
    the run. Every run keeps them, so that the depth sweep's run and the
    plateau's are one."""
    return tuple(sorted({int(e) for e in or_default(hessian_epochs, SETTINGS.plateau.hessian_epochs)
                         if e <= epochs}))


def _every(epochs: int, early_epoch: int | None = None) -> int:
    """How often a run measures its per-layer diagnostics: every
    gcd(``early_epoch``, ``epochs``) epochs (default ``early_epoch``:
    ``SETTINGS.training.early_epoch``), so that the start, the early epoch
    and the end are all measured (every 5 epochs with the chapter's
    settings; measuring every epoch would cost a third of the training)."""
    return math.gcd(or_default(early_epoch, SETTINGS.training.early_epoch), epochs)


def _trained(depth: int, seeds: Sequence[int], epochs: int, lr: float, batch_size: int, width: int, *,
             activation: str = "sigmoid", init: str | float = "nielsen", n_frozen: int = 0,
             keep: tuple[int, ...] | None = None, every: int | None = None,
             what: str = "the run") -> tuple[list[History], dict]:
    """:func:`_runs`, refusing a run that diverged (naming ``lr``)."""
    keep = _keep(epochs) if keep is None else keep
    every = _every(epochs) if every is None else every
    histories, kept = _runs(depth, tuple(seeds), epochs, lr, batch_size, activation, init, n_frozen, width, keep,
                            every)
    return [_finished(h, f"{what} (seed {s})", lr) for s, h in zip(seeds, histories)], kept


def _training(epochs: int | None, lr: float | None, batch_size: int | None
              ) -> tuple[int, float, int]:
    tr = SETTINGS.training
    epochs = check_positive_int(or_default(epochs, tr.epochs), "epochs")
    return epochs, or_default(lr, tr.lr), or_default(batch_size, tr.batch_size)


def _short(short_epochs: int | None, epochs: int) -> int:
    """The shorter budget read off a run of ``epochs`` epochs (default
    ``SETTINGS.training.short_epochs``, or ``epochs`` if that is longer than
    the run)."""
    if short_epochs is None:
        return min(SETTINGS.training.short_epochs, epochs)
    short_epochs = check_positive_int(short_epochs, "short_epochs")
    if short_epochs > epochs:
        raise ValueError(f"short_epochs ({short_epochs}) must not exceed epochs ({epochs})")
    return short_epochs


def _accuracies(h: History, short: int) -> dict[str, float]:
    return {"test accuracy": h.test_acc[-1], "short-budget test accuracy": h.test_acc[short],
            "train accuracy": h.train_acc[-1], "epoch to 50%": h.first_epoch_reaching(0.5)}


@declare(depth=Optional(Int(2, MAX_DEPTH)), width=Optional(_WIDTH), seeds=Optional(_SEEDS),
         epochs=Optional(_COUNT), lr=Optional(_LR), batch_size=Optional(_COUNT), short_epochs=Optional(_COUNT),
         example=dict(depth=2, width=4, seeds=(0,), epochs=1))
def freeze_comparison(
    depth: int | None = None,
    *,
    width: int | None = None,
    seeds: Sequence[int] | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    short_epochs: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Claim C2: a deep net, the same net with its first layers frozen at
    their random initial values, and the shallow net of its last layers.

    - ``deep``: ``[64] + [width] * depth + [10]``, every layer trained;
    - ``frozen``: the same net and seed, the first ``depth - 1`` linear layers
      left at their initial values, only the last hidden and output layers
      trained;
    - ``shallow``: ``[64, width, 10]``, i.e. the last hidden layer and the
      output layer fed with the pixels directly.

    Each variant's seeds are trained together as one ensemble (defaults:
    ``SETTINGS.training``). Returns ``(results, changes)``: ``results`` has
    one row per (variant, seed), in the order of ``seeds``, with the test
    accuracy at the end and after ``short_epochs`` epochs, the training
    accuracy at the end and the first epoch at which the test accuracy
    reached 50 %; ``changes`` has one row per (variant, seed, epoch, layer)
    with the layer's relative weight change since initialisation. A run that
    diverges raises, naming ``lr``.
    """
    tr = SETTINGS.training
    depth = check_positive_int(or_default(depth, tr.freeze_depth), "depth", minimum=2)
    width = check_positive_int(or_default(width, tr.width), "width")
    epochs, lr, batch_size = _training(epochs, lr, batch_size)
    short = _short(short_epochs, epochs)
    seeds = check_seeds(seeds, tr.seeds)
    _check_run(depth, width, epochs, len(digits_split()[0]), batch_size, len(seeds))
    variants = {"deep": (depth, 0), "frozen": (depth, depth - 1), "shallow": (1, 0)}
    results, changes = [], []
    for variant, (d, n_frozen) in variants.items():
        histories, _ = _trained(d, seeds, epochs, lr, batch_size, width, n_frozen=n_frozen,
                                what=f"the {variant} run")
        for s, h in zip(seeds, histories):
            results.append({"variant": variant, "seed": s, **_accuracies(h, short)})
            for e, row in zip(h.diag_epoch, h.weight_change):
                for layer, value in enumerate(row):
                    changes.append({"variant": variant, "seed": s, "epoch": e,
                                    "layer": layer + 1, "relative change": value})
    return pd.DataFrame(results), pd.DataFrame(changes)


@declare(depth=Optional(Int(2, MAX_DEPTH)), width=Optional(_WIDTH), seeds=Optional(_SEEDS),
         example=dict(depth=2, width=4, seeds=(0,)))
def frozen_probe(depth: int | None = None, *, width: int | None = None,
                 seeds: Sequence[int] | None = None) -> pd.DataFrame:
    """What the frozen layers of :func:`freeze_comparison` pass on: for each
    seed, the outputs of the first ``depth - 1`` hidden layers of the net
    ``[64] + [width] * depth + [10]`` at initialisation (the frozen net's
    fixed features), standardised per unit and fed to a logistic regression
    fitted to convergence (scikit-learn's ``LogisticRegression``, lbfgs) on
    the training digits. One row per seed: ``probe test accuracy`` and
    ``feature sd`` (the features' standard deviation across the training
    images, averaged over units, before standardising)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    tr = SETTINGS.training
    depth = check_positive_int(or_default(depth, tr.freeze_depth), "depth", minimum=2)
    width = check_positive_int(or_default(width, tr.width), "width")
    _sizes(depth, width, len(digits_split()[0]), "the training images")
    X_train, X_test, y_train, y_test = digits_split()
    rows = []
    for s in check_seeds(seeds, tr.seeds):
        frozen = mlp([64] + [width] * depth + [10], seed=s)[: 2 * (depth - 1)]
        with torch.no_grad():
            f_train, f_test = frozen(X_train).numpy(), frozen(X_test).numpy()
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        probe.fit(f_train, y_train.numpy())
        rows.append({"seed": s, "probe test accuracy": float(probe.score(f_test, y_test.numpy())),
                     "feature sd": float(f_train.std(axis=0).mean())})
    return pd.DataFrame(rows)


@declare(depths=Optional(SequenceOf(_DEPTH, 1, MAX_DEPTH)), seeds=Optional(_SEEDS),
         epochs=Optional(_COUNT), lr=Optional(_LR), batch_size=Optional(_COUNT),
         activation=Choice(ACTIVATIONS), init=INIT, early_epoch=Optional(_COUNT), short_epochs=Optional(_COUNT),
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
    short_epochs: int | None = None,
) -> pd.DataFrame:
    """Claim C11: how the first layer's learning and the accuracy fall with depth.

    Nets ``[64] + [30] * depth + [10]`` trained on the digits, the seeds of
    each depth as one ensemble (defaults: ``SETTINGS.training``). One row per
    (depth, seed) with: the first and last hidden layers' gradient norms at
    initialisation and their ratio, the first layer's relative weight change
    after ``early_epoch`` epochs and at the end, the test accuracy at the
    end and after ``short_epochs`` epochs, the training accuracy at the end,
    and the first epoch at which the test accuracy reached 50 % (NaN if
    never). A run that diverges raises, naming ``lr``.
    """
    tr = SETTINGS.training
    early_epoch = check_positive_int(or_default(early_epoch, tr.early_epoch), "early_epoch")
    epochs, lr, batch_size = _training(epochs, lr, batch_size)
    if early_epoch > epochs:
        raise ValueError(f"early_epoch ({early_epoch}) must not exceed epochs ({epochs})")
    short = _short(short_epochs, epochs)
    depths = [check_positive_int(depth, "depth") for depth in or_default(depths, tr.depths)]
    seeds = check_seeds(seeds, tr.seeds)
    n_train = len(digits_split()[0])
    for depth in depths:
        _check_run(depth, tr.width, epochs, n_train, batch_size, len(seeds))
    rows = []
    for depth in depths:
        histories, _ = _trained(depth, seeds, epochs, lr, batch_size, tr.width, activation=activation,
                                init=init, every=_every(epochs, early_epoch), what=f"the run of depth {depth}")
        for s, h in zip(seeds, histories):
            g0 = h.bias_grad[0]
            rows.append({
                "depth": depth, "seed": s,
                "first-layer grad": g0[0], "last-layer grad": g0[-1],
                "last/first": g0[-1] / g0[0],
                "first-layer change (early)": h.weight_change[h.diag_epoch.index(early_epoch)][0],
                "first-layer change (end)": h.weight_change[-1][0],
                **_accuracies(h, short),
            })
    return pd.DataFrame(rows)


@declare(history=Instance(History), margin=Optional(Positive(10.0)),
         example=lambda: dict(history=History(epoch=[0, 1, 2], train_loss=[2.4, 2.3, 1.0])))
def escape_epoch(history: History, margin: float | None = None) -> float:
    """The first recorded epoch after the start at which the training loss
    of ``history`` fell below the plateau, ``log 10 - margin`` (default
    ``SETTINGS.plateau.margin``); NaN if it never did."""
    margin = or_default(margin, SETTINGS.plateau.margin)
    below = [e for e, loss in zip(history.epoch, history.train_loss) if e > 0 and loss < PLATEAU_LOSS - margin]
    return float(below[0]) if below else math.nan


@memoised
def _curvature(depth: int, seeds: tuple[int, ...], epochs: int, lr: float, batch_size: int, width: int,
               keep: tuple[int, ...], samples: int, iters: int) -> pd.DataFrame:
    from ..diagnostics import hessian_extremes, layer_gradients

    X_train, _, y_train, _ = digits_split()
    Xh, yh = X_train[:samples], y_train[:samples]
    histories, kept = _trained(depth, seeds, epochs, lr, batch_size, width, keep=keep,
                               what=f"the plateau run of depth {depth}")
    rows = []
    for epoch in keep:
        for k, (s, h, net) in enumerate(zip(seeds, histories, kept[epoch])):
            top, bottom = hessian_extremes(net, Xh, yh, iters=iters, seed=s)
            grads = layer_gradients(net, Xh, yh)
            norm = float(torch.sqrt(sum((gw ** 2).sum() + (gb ** 2).sum() for gw, gb in grads)))
            loss = h.train_loss[h.epoch.index(epoch)]
            rows.append({"seed": s, "epoch": epoch, "lambda_max": top, "lambda_min": bottom,
                         "grad_norm": norm, "train loss": loss,
                         "on plateau": bool(abs(loss - PLATEAU_LOSS) < SETTINGS.plateau.margin)})
    return pd.DataFrame(rows, columns=["seed", "epoch", "lambda_max", "lambda_min", "grad_norm",
                                       "train loss", "on plateau"])


@declare(depth=Optional(_DEPTH), seeds=Optional(_SEEDS), epochs=Optional(_COUNT),
         hessian_epochs=Optional(SequenceOf(Int(0, MAX_STEPS), 0, 100)), hessian_samples=Optional(_COUNT),
         example=dict(depth=1, seeds=(0,), epochs=1, hessian_epochs=(0,), hessian_samples=10))
def plateau_run(
    depth: int | None = None,
    *,
    seeds: Sequence[int] | None = None,
    epochs: int | None = None,
    hessian_epochs: Sequence[int] | None = None,
    hessian_samples: int | None = None,
) -> tuple[list[History], pd.DataFrame]:
    """Claim C9: train deep sigmoid nets through their plateau and look at the
    curvature there.

    The depth sweep's nets with ``depth`` hidden layers (default
    ``SETTINGS.plateau.depth``; Nielsen init, softmax cross-entropy,
    ``SETTINGS.training``'s optimiser and seeds), trained as one ensemble.
    At each epoch in ``hessian_epochs`` within the run, every member's
    Hessian's largest and smallest eigenvalues
    (:func:`gradbook.diagnostics.hessian_extremes`) on ``hessian_samples``
    training images.

    Returns ``(histories, curvature)``: one :class:`~gradbook.train.History`
    per seed, and a DataFrame with one row per (epoch, seed): seed, epoch,
    lambda_max, lambda_min, grad_norm (the norm of the full gradient on the
    same images), train loss, and whether the net is on the plateau then
    (its loss within ``SETTINGS.plateau.margin`` of log 10).
    """
    tr, pl = SETTINGS.training, SETTINGS.plateau
    depth = check_positive_int(or_default(depth, pl.depth), "depth")
    samples = check_positive_int(or_default(hessian_samples, pl.hessian_samples), "hessian_samples")
    epochs, lr, batch_size = _training(epochs, None, None)
    seeds = tuple(check_seeds(seeds, tr.seeds))
    X_train = digits_split()[0]
    samples = _n_images(samples, len(X_train), "hessian_samples")
    _check_run(depth, tr.width, epochs, len(X_train), batch_size, len(seeds))
    keep = _keep(epochs, hessian_epochs)
    histories, _ = _trained(depth, seeds, epochs, lr, batch_size, tr.width, keep=keep,
                            what=f"the plateau run of depth {depth}")
    return histories, _curvature(depth, seeds, epochs, lr, batch_size, tr.width, keep, samples, pl.hessian_iters)


# ------------------------------------------------------------ the claim checks

#: Claims whose verdict rests on an argument, not on a comparison over seeds:
#: none in this chapter (C9's remark that any hidden layer makes the loss
#: non-convex is an argument the chapter makes beside its measurement, but
#: the verdict rests on the measurement).
ARGUED: dict[str, str] = {}


def _log10(x: Any) -> np.ndarray:
    return np.log10(np.asarray(x, dtype=np.float64))


def _column(table: pd.DataFrame, key: str, value: Any, column: str) -> np.ndarray:
    """``table[column]`` where ``table[key] == value``, in table order (the
    order of the seeds)."""
    return table.loc[table[key] == value, column].to_numpy(dtype=np.float64)


@memoised
def _claim_comparisons(seeds: tuple[int, ...], epochs: int, nielsen_epochs: int,
                       hessian_epoch: int) -> dict[str, list[Any]]:
    from ..stats import compare

    nl, tr, pl = SETTINGS.nielsen, SETTINGS.training, SETTINGS.plateau
    ratio = math.log10(nl.ratio_margin)

    # C1: the last hidden layer's ||delta|| against the first's, on a log scale
    logs, c1 = {}, []
    for depth in NIELSEN_EPOCH0:
        norms = initial_delta_norms(depth, seeds=seeds)
        logs[depth] = _log10(norms[:, -1]) - _log10(norms[:, 0])
        c1.append(compare(_log10(norms[:, -1]), _log10(norms[:, 0]), claimed="greater", margin=ratio,
                          name=f"log10 of the last hidden layer's norm, {depth} hidden layers, at initialisation",
                          baseline_name="log10 of the first hidden layer's norm"))
    deepest, shallowest = max(NIELSEN_EPOCH0), min(NIELSEN_EPOCH0)
    end = np.array([h.bias_grad[-1] for h in training_profiles(deepest, seeds=seeds, epochs=nielsen_epochs)])
    c1.append(compare(_log10(end[:, -1]), _log10(end[:, 0]), claimed="greater", margin=ratio,
                      name=f"log10 of the last hidden layer's norm, {deepest} hidden layers, after "
                           f"{nielsen_epochs} epochs", baseline_name="log10 of the first hidden layer's norm"))
    c1.append(compare(logs[deepest], logs[shallowest], claimed="greater", margin=ratio,
                      name=f"log10 last/first, {deepest} hidden layers",
                      baseline_name=f"log10 last/first, {shallowest} hidden layers"))

    # C2: where the deep net ends up, against the shallow net and the frozen net
    results, _ = freeze_comparison(seeds=seeds, epochs=epochs)
    acc = {v: _column(results, "variant", v, "test accuracy") for v in ("deep", "frozen", "shallow")}
    c2 = [compare(acc["deep"], acc["shallow"], claimed="equal", name="deep net", baseline_name="shallow net"),
          compare(acc["frozen"], acc["deep"], claimed="equal", name="deep net with its first layers frozen",
                  baseline_name="deep net")]

    # C11: the shallowest nets against each other, and the deepest against the shallowest
    depths = sorted(tr.depths)
    sweep = depth_sweep(depths=depths, seeds=seeds, epochs=epochs, early_epoch=min(tr.early_epoch, epochs))
    acc = {d: _column(sweep, "depth", d, "test accuracy") for d in depths}
    speed = {d: _log10(_column(sweep, "depth", d, "first-layer change (early)")) for d in depths}
    one, two, most = depths[0], depths[1], depths[-1]
    c11 = [compare(acc[two], acc[one], claimed="equal", name=f"{two} hidden layers", baseline_name=f"{one}"),
           compare(speed[two], speed[one], claimed="equal", margin=ratio,
                   name=f"log10 first-layer change, {two} hidden layers", baseline_name=f"{one}"),
           compare(acc[most], acc[one], claimed="less", name=f"{most} hidden layers", baseline_name=f"{one}"),
           compare(speed[most], speed[one], claimed="less", margin=ratio,
                   name=f"log10 first-layer change, {most} hidden layers", baseline_name=f"{one}")]

    # C9: stuck on the plateau, and curvature there, for the plateau depth
    histories, curvature = plateau_run(seeds=seeds, epochs=epochs, hessian_epochs=(hessian_epoch,))
    final = np.array([h.train_loss[-1] for h in histories])
    c9 = [compare(final, np.full(len(final), PLATEAU_LOSS), claimed="equal", margin=pl.margin,
                  name="training loss at the end", baseline_name="log 10 (the plateau)")]
    at = curvature[curvature["epoch"] == hessian_epoch]
    if len(at) == len(seeds):
        c9.append(compare(at["lambda_min"].to_numpy(), np.zeros(len(at)), claimed="greater", margin=0.0,
                          name=f"smallest Hessian eigenvalue (estimate) at epoch {hessian_epoch}",
                          baseline_name="0 (a minimum has no negative one)"))
    return {"C1": c1, "C2": c2, "C9": c9, "C11": c11}


@declare(seeds=Optional(SequenceOf(Seed(), 2, MAX_SEEDS)), epochs=Optional(_COUNT),
         nielsen_epochs=Optional(_COUNT), hessian_epoch=Optional(Int(0, MAX_STEPS)),
         example=dict(seeds=(0, 1), epochs=2, nielsen_epochs=1, hessian_epoch=1))
def claim_comparisons(seeds: Sequence[int] | None = None, *, epochs: int | None = None,
                      nielsen_epochs: int | None = None, hessian_epoch: int | None = None
                      ) -> dict[str, list[Any]]:
    """The comparisons behind the verdicts on C1, C2, C9 and C11, judged by
    the book's rule (:func:`gradbook.stats.compare`), paired over ``seeds``
    (default ``SETTINGS.training.seeds``; one seed gives every arm the same
    mini-batch order and, where the arms share an architecture, the same
    initial weights).

    - C1 (``"greater"``, margin log10 of ``SETTINGS.nielsen.ratio_margin``):
      log10 of the last hidden layer's :math:`\\|\\delta\\|` against the
      first's, at initialisation with 2, 3 and 4 hidden layers (Nielsen's
      setting) and after ``nielsen_epochs`` epochs of his training with 4;
      and log10 last/first with 4 hidden layers against 2.
    - C2 (test accuracy, ``"equal"``: the article says the deep net ends up
      like the shallow net of its last layers, its first layers contributing
      nothing): the deep net against the shallow net, and the deep net with
      its first layers frozen at random against the deep net.
    - C11: the two shallowest depths of the sweep against each other
      (``"equal"``), and the deepest against the shallowest (``"less"``), on
      test accuracy and on log10 of the first layer's early change.
    - C9 (the article: trapped in a local minimum): the training loss at the
      end against the plateau's log 10 (``"equal"``, margin
      ``SETTINGS.plateau.margin``), and the smallest Hessian eigenvalue
      estimate at ``hessian_epoch`` against 0 (``"greater"``, margin 0: a
      minimum has none below 0).

    ``epochs`` (the training budget of C2, C9, C11), ``nielsen_epochs`` and
    ``hessian_epoch`` (default the first of ``SETTINGS.plateau.hessian_epochs``)
    are for small trial runs. Memoised: each call returns fresh copies."""
    seeds = tuple(check_seeds(seeds, SETTINGS.training.seeds))
    if len(seeds) < 2:
        raise ValueError(f"seeds must hold at least 2 seeds for a comparison; got {len(seeds)}")
    epochs = check_positive_int(or_default(epochs, SETTINGS.training.epochs), "epochs")
    nielsen_epochs = check_positive_int(or_default(nielsen_epochs, SETTINGS.nielsen.epochs), "nielsen_epochs")
    hessian_epoch = check_positive_int(or_default(hessian_epoch, SETTINGS.plateau.hessian_epochs[0]),
                                       "hessian_epoch", minimum=0)
    return _claim_comparisons(seeds, epochs, nielsen_epochs, hessian_epoch)


def claim_verdicts() -> dict[str, str]:
    """The verdict of each claim checked in this chapter (C1, C2, C9, C11),
    by the book's rule (:func:`gradbook.stats.verdict`) from
    :func:`claim_comparisons` with the chapter's settings."""
    from ..stats import verdict

    return {claim: verdict(found) for claim, found in claim_comparisons().items()}


@declare(depth=_DEPTH, activation=Choice(ACTIVATIONS), weight_std=Positive(1e6),
         example=dict(depth=2, activation="relu", weight_std=0.5))
def delta_profile_figure(depth: int, activation: str, weight_std: float):
    """The interactive figure of chapter 1: :math:`\\|\\delta^l\\|` per hidden
    layer at initialisation, on a log axis.

    Weights are drawn N(0, ``weight_std``^2) with zero biases; the line is
    the mean over ``SETTINGS.nielsen.figure_seeds`` and the band spans their
    lowest to highest value, on the first ``SETTINGS.nielsen.figure_samples``
    training digits, softmax cross-entropy.
    """
    import matplotlib.pyplot as plt

    from ..plots import ACTIVATION_COLOURS, layer_log_axis

    s = SETTINGS.nielsen
    try:
        per_seed = initial_delta_norms(depth, activation, init=weight_std, seeds=s.figure_seeds,
                                       n_samples=s.figure_samples, loss="softmax", data="digits")
    except ValueError as exc:
        raise ValueError(f"weight_std={weight_std:g}: {exc}") from None
    norms = per_seed.mean(axis=0)
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    layers = np.arange(1, depth + 1)
    colour = ACTIVATION_COLOURS[activation]
    ax.fill_between(layers, per_seed.min(axis=0), per_seed.max(axis=0), color=colour, alpha=0.2, lw=0,
                    label=f"range over {len(s.figure_seeds)} seeds")
    ax.plot(layers, norms, "o-", color=colour, lw=2, label="mean")
    layer_log_axis(ax, 8, range(-10, 7, 2), (1e-10, 1e6))
    ax.set_ylabel(r"$\|\delta^l\|$ at initialisation")
    ax.legend(fontsize=8, loc="upper left")
    ratio = norms[-1] / norms[0] if norms[0] > 0 else np.inf
    ax.set_title(f"{activation}, {depth} hidden layers, weight sd {weight_std:g}:"
                 f" last/first = {ratio:.3g}", fontsize=10)
    fig.subplots_adjust(left=0.13, right=0.98, bottom=0.16, top=0.9)
    return fig

