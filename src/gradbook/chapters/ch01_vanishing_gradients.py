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

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from .._validate import check_positive_int, check_seed, check_seeds
from ..data import digits_split
from ..diagnostics import bias_gradient_norms
from ..memo import memoised
from ..models.mlp import linear_layers, mlp
from ..train import train

__all__ = [
    "NIELSEN_EPOCH0",
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


def _or(value, default):
    return default if value is None else value


def clear_cache() -> None:
    """Forget the memoised training runs (after replacing :data:`SETTINGS`)."""
    _run.cache_clear()


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
    s, measured on the first ``n_samples`` training digits.
    """
    depth = check_positive_int(depth, "depth")
    width = check_positive_int(_or(width, SETTINGS.nielsen.width), "width")
    n_samples = check_positive_int(_or(n_samples, SETTINGS.nielsen.n_samples), "n_samples")
    X_train, _, y_train, _ = digits_split()
    X, y = X_train[:n_samples], y_train[:n_samples]
    rows = []
    for s in check_seeds(seeds, SETTINGS.nielsen.seeds):
        net = mlp([64] + [width] * depth + [10], activation=activation, init=init, seed=s)
        rows.append(bias_gradient_norms(net, X, y, loss=loss))
    return np.asarray(rows)


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
    :class:`gradbook.train.History`.
    """
    depth = check_positive_int(depth, "depth")
    s = SETTINGS.nielsen
    n_train = check_positive_int(_or(n_train, s.n_train), "n_train")
    X_train, X_test, y_train, y_test = digits_split()
    net = mlp([64] + [s.width] * depth + [10], activation=activation, init=init, seed=seed)
    return train(
        net, X_train[:n_train], y_train[:n_train], epochs=_or(epochs, s.epochs), lr=_or(lr, s.lr),
        batch_size=_or(batch_size, s.batch_size), loss=loss, seed=seed, X_test=X_test, y_test=y_test,
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
    """
    tr = SETTINGS.training
    depth = check_positive_int(_or(depth, tr.freeze_depth), "depth", minimum=2)
    width = check_positive_int(_or(width, tr.width), "width")
    epochs = check_positive_int(_or(epochs, tr.epochs), "epochs")
    lr, batch_size = _or(lr, tr.lr), _or(batch_size, tr.batch_size)
    results, changes = [], []
    for s in check_seeds(seeds, tr.seeds):
        runs = {
            "deep": _run(depth, s, epochs, lr, batch_size, "sigmoid", "nielsen", 0, width),
            "frozen": _run(depth, s, epochs, lr, batch_size, "sigmoid", "nielsen", depth - 1, width),
            "shallow": _run(1, s, epochs, lr, batch_size, "sigmoid", "nielsen", 0, width),
        }
        for variant, h in runs.items():
            results.append({"variant": variant, "seed": s, "test accuracy": h.test_acc[-1],
                            "epoch to 50%": h.first_epoch_reaching(0.5)})
            for e, row in zip(h.diag_epoch, h.weight_change):
                for layer, value in enumerate(row):
                    changes.append({"variant": variant, "seed": s, "epoch": e,
                                    "layer": layer + 1, "relative change": value})
    return pd.DataFrame(results), pd.DataFrame(changes)


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
    never).
    """
    tr = SETTINGS.training
    early_epoch = check_positive_int(_or(early_epoch, tr.early_epoch), "early_epoch")
    epochs = check_positive_int(_or(epochs, tr.epochs), "epochs")
    lr, batch_size = _or(lr, tr.lr), _or(batch_size, tr.batch_size)
    if early_epoch > epochs:
        raise ValueError(f"early_epoch ({early_epoch}) must not exceed epochs ({epochs})")
    rows = []
    for depth in _or(depths, tr.depths):
        depth = check_positive_int(depth, "depth")
        for s in check_seeds(seeds, tr.seeds):
            h = _run(depth, s, epochs, lr, batch_size, activation, init, 0, tr.width)
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
    depth = check_positive_int(_or(depth, pl.depth), "depth")
    hessian_samples = check_positive_int(_or(hessian_samples, pl.hessian_samples), "hessian_samples")
    seed = check_seed(_or(seed, pl.seed))
    epochs, lr, batch_size = _or(epochs, pl.epochs), _or(lr, pl.lr), _or(batch_size, pl.batch_size)
    hessian_epochs = _or(hessian_epochs, pl.hessian_epochs)
    X_train, X_test, y_train, y_test = digits_split()
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


def delta_profile_figure(depth: int, activation: str, weight_std: float):
    """The interactive figure of chapter 1: :math:`\\|\\delta^l\\|` per hidden
    layer at initialisation, on a log axis.

    Weights are drawn N(0, ``weight_std``^2) with zero biases; the norms are
    the mean over three seeds, on 500 training digits, softmax cross-entropy.
    """
    import matplotlib.pyplot as plt

    from ..plots import ACTIVATION_COLOURS, layer_log_axis

    norms = initial_delta_norms(depth, activation, init=weight_std, seeds=(0, 1, 2),
                             n_samples=500, loss="softmax").mean(axis=0)
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
