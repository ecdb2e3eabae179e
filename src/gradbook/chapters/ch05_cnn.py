r"""Chapter 5's experiments: convolutional nets and weight sharing on the digits.

The nets are :mod:`gradbook.models.cnn`'s; this module trains them with the
chapter's settings (capacity, labels, a pixel shuffle, gradients layer by
layer) and draws the chapter's figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from .._validate import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_SEEDS,
    MAX_STEPS,
    Choice,
    Instance,
    Int,
    Optional,
    Positive,
    Probability,
    Seed,
    check_budget,
    check_choice,
    check_positive_float,
    check_positive_int,
    check_seed,
    check_seeds,
    declare,
    derived_seed,
)
from .._validate import (
    Sequence as SequenceOf,
)
from ..data import digits_split, digits_train_size, label_subset, permute_pixels, pixel_permutation
from ..diagnostics import layer_gradient_table
from ..memo import memoised
from ..models.cnn import SIDE, count_parameters, deep_cnn, deep_mlp, small_cnn
from ..models.ensemble import ensemble, stack_inputs
from ..models.mlp import ACTIVATIONS, mlp, permute_first_layer
from ..train import evaluate, train

__all__ = [
    "MAX_CHANNELS",
    "MAX_WIDTH",
    "CnnSettings",
    "SETTINGS",
    "capacity_comparison",
    "label_sweep",
    "permutation_check",
    "sharing_runs",
    "sharing_profile",
    "training_profiles",
    "first_last_ratio",
    "ratios_by_epoch",
    "NET_COLOURS",
    "sharing_profile_figure",
    "labels_figure",
    "feature_maps",
    "feature_maps_figure",
    "claim_comparisons",
    "claim_verdicts",
    "ARGUED",
]

__undeclared__ = {
    "claim_verdicts": "takes no arguments and runs the chapter's full comparisons (claim_comparisons, "
                      "declared, takes the small trial settings); the claim tests call it",
}

#: The most channels per convolution of any CNN here (memory of the feature maps
#: of the 1,438 training digits, evaluated at once).
MAX_CHANNELS = 512

#: The widest hidden layer of any MLP here.
MAX_WIDTH = 10_000

_N_TRAIN = digits_train_size()
#: The largest learning rate a training runner accepts: the nets are float32,
#: and a larger rate only overflows the first update.
_MAX_LR = 1e6
_N_TEST = int(digits_split()[1].shape[0])

#: A label count: at least 10 (one per class), at most every training digit.
_LABELS = Int(10, _N_TRAIN)
_SEEDS = SequenceOf(Seed(), 1, MAX_SEEDS)
#: The training settings every runner takes (None: :data:`SETTINGS`'s).
_TRAINING = dict(steps=Optional(Int(1, MAX_STEPS)), lr=Optional(Positive(_MAX_LR)),
                 batch_size=Optional(Int(1, _N_TRAIN)))


@declare(steps=Int(1, MAX_STEPS), lr=Positive(_MAX_LR), batch_size=Int(1, _N_TRAIN), momentum=Probability(),
         seeds=_SEEDS, label_budgets=SequenceOf(_LABELS), cnn_channels=Int(1, MAX_CHANNELS),
         mlp_width=Int(1, MAX_WIDTH), mlp_widths=SequenceOf(Int(1, MAX_WIDTH)), fewer_width=Int(1, MAX_WIDTH),
         reference_accuracy=Probability(), depth=Int(1, MAX_DEPTH), ratio_margin=Positive(),
         example=dict(steps=4, seeds=(0,)))
@dataclass(frozen=True)
class CnnSettings:
    """Chapter 5's settings.

    The digit classifiers: SGD with ``momentum``, about ``steps`` mini-batches
    of ``batch_size`` whatever the number of labels, at ``lr``, once per seed
    of ``seeds`` (trained together as one ensemble,
    :mod:`gradbook.models.ensemble`); ``label_budgets`` are the label counts
    of the label sweep (the last is every training image). The CNN is
    :func:`small_cnn` with ``cnn_channels``; the MLP beside it has one ReLU
    layer of ``mlp_width`` units; the capacity table tries ``mlp_widths``, and
    C10's comparisons pit the CNN against the MLP of ``fewer_width`` units,
    the widest of them with fewer parameters than the CNN.
    ``reference_accuracy`` is C16's bar for "trains well from scratch" (the
    5.0 % test error of LeCun et al.'s 1989 zip-code CNN).

    The gradient measurements (C17) use nets of ``depth`` hidden layers; the
    margin of their comparisons, on log10 ratios, is ``ratio_margin``
    (log10 2: a factor of two either way counts as no difference)."""

    steps: int = 400
    lr: float = 0.05
    batch_size: int = 32
    momentum: float = 0.9
    seeds: tuple[int, ...] = tuple(range(20))
    label_budgets: tuple[int, ...] = field(default_factory=lambda: (50, 200, digits_train_size()))
    cnn_channels: int = 8
    mlp_width: int = 32
    mlp_widths: tuple[int, ...] = (8, 16, 32, 64)
    fewer_width: int = 16
    reference_accuracy: float = 0.95
    depth: int = 6
    ratio_margin: float = math.log10(2)

    def __post_init__(self) -> None:
        for name in ("seeds", "label_budgets", "mlp_widths"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


#: The chapter's settings (see :class:`CnnSettings`).
SETTINGS = CnnSettings()


def _training(steps: int | None, lr: float | None, batch_size: int | None) -> tuple[int, float, int]:
    """``(steps, lr, batch_size)``, each from :data:`SETTINGS` where None, checked."""
    return (check_positive_int(SETTINGS.steps if steps is None else steps, "steps"),
            float(check_positive_float(SETTINGS.lr if lr is None else lr, "lr")),
            check_positive_int(SETTINGS.batch_size if batch_size is None else batch_size, "batch_size"))


def _sizes(cnn_channels: int | None, mlp_width: int | None) -> tuple[int, int]:
    """The CNN's channels and the MLP's width, each from :data:`SETTINGS` where None, checked."""
    return (check_positive_int(SETTINGS.cnn_channels if cnn_channels is None else cnn_channels, "cnn_channels"),
            check_positive_int(SETTINGS.mlp_width if mlp_width is None else mlp_width, "mlp_width"))


def _check_deep_nets(depth: int, channels: int, width: int, n_samples: int) -> None:
    """Refuse a deep CNN and MLP (:func:`deep_cnn`, :func:`deep_mlp`) whose
    weights, or whose activations and error signals on ``n_samples`` digits,
    would not fit in ``MAX_BYTES``."""
    weights = depth * (9 * channels * channels + width * width) + (channels + width) * SIDE * SIDE * 10
    signals = 3 * n_samples * depth * (channels * SIDE * SIDE + width)
    check_budget(4 * (3 * weights + signals), MAX_BYTES,
                  f"depth={depth:,} with channels={channels:,}, width={width:,} and {n_samples:,} samples",
                  "bytes")


# ---------------------------------------------------------------- experiments


def _net(arch: str, size: int, seed: int) -> torch.nn.Module:
    """A fresh net: "cnn" (``size`` = channels of :func:`small_cnn`), "mlp"
    (``size`` hidden ReLU units, He's initialisation) or "mlp-twin" (that MLP
    with its first layer relabelled for the shuffled pixels,
    :func:`permute_first_layer`)."""
    if arch == "cnn":
        return small_cnn(size, "relu", seed=seed)
    net = mlp([SIDE * SIDE, size, 10], activation="relu", init="he", seed=seed)
    if arch == "mlp-twin":  # the same initial net, relabelled for shuffled pixels
        net = permute_first_layer(net, pixel_permutation(0))
    return net


def _epochs(steps: int, batch_size: int, n_labels: int) -> int:
    """Epochs of about ``steps`` mini-batches of ``batch_size`` on ``n_labels`` images."""
    return max(1, math.ceil(steps * batch_size / n_labels))


def _train_seeds(arch: str, size: int, n_labels: int, shuffled: bool, seeds: tuple[int, ...], steps: int,
                 lr: float, batch_size: int):
    """One training run per seed on the digits split, all seeds trained
    together as one ensemble (member k trains as the single net with seed
    ``seeds[k]`` would, to float rounding). ``arch`` as :func:`_net`. Seed
    k's training set is the first ``n_labels`` of a seeded, class-stratified
    order (:func:`label_subset` with seed k); training lasts about ``steps``
    mini-batches whatever the number of labels. Returns one (history,
    trained net) per seed."""
    X_train, X_test, y_train, y_test = digits_split()
    if shuffled:
        perm = pixel_permutation(0)
        X_train, X_test = permute_pixels(X_train, perm), permute_pixels(X_test, perm)
    index = [label_subset(y_train, n_labels, s) for s in seeds]
    nets = ensemble(lambda seed: _net(arch, size, seed), seeds)
    epochs = _epochs(steps, batch_size, n_labels)
    histories = train(nets, stack_inputs([X_train[i] for i in index]), stack_inputs([y_train[i] for i in index]),
                      epochs=epochs, lr=lr, batch_size=batch_size, momentum=SETTINGS.momentum,
                      X_test=X_test, y_test=y_test, record_every=max(1, epochs // 10))
    return tuple(zip(histories, nets.members()))


@memoised
def _runs(arch: str, size: int, n_labels: int, shuffled: bool, seeds: tuple[int, ...], steps: int,
          lr: float, batch_size: int):
    """:func:`_train_seeds`, memoised: the capacity table, the label sweep,
    the comparisons and the figures share their runs (each call returns
    fresh copies)."""
    return _train_seeds(arch, size, n_labels, shuffled, seeds, steps, lr, batch_size)


@memoised
def _run(arch: str, size: int, n_labels: int, shuffled: bool, seed: int, steps: int, lr: float,
         batch_size: int):
    """One seed's (history, net) trained alone (an ensemble of one), memoised:
    for a seed that is not one of ``SETTINGS.seeds``."""
    return _train_seeds(arch, size, n_labels, shuffled, (seed,), steps, lr, batch_size)[0]


def _check_runs(arch: str, size: int, n_labels: int, seeds: Sequence[int], steps: int, lr: float,
                batch_size: int, runs: Sequence[tuple[Any, Any]] | None = None) -> None:
    """Refuse runs that would take more than ``MAX_STEPS`` updates (before
    they start: ``runs`` None), or raise a ValueError that names ``lr`` if
    one of ``runs`` diverged."""
    if runs is None:
        check_budget(_epochs(steps, batch_size, n_labels) * math.ceil(n_labels / batch_size), MAX_STEPS,
                      f"steps={steps:,} with batch_size={batch_size:,} on {n_labels:,} labels", "updates")
        return
    for s, (history, _) in zip(seeds, runs):
        if history.diverged:
            raise ValueError(f"the {arch} run ({size}, {n_labels} labels, seed {s}) diverged at lr={lr!r}: "
                             f"{history.reason}")


def _trained_runs(arch: str, size: int, n_labels: int, shuffled: bool, seeds: Sequence[int], steps: int,
                  lr: float, batch_size: int):
    """:func:`_runs` (fresh copies), refused before it starts if it would take
    more than ``MAX_STEPS`` updates, and raising a ValueError that names
    ``lr`` if any seed's run diverged."""
    seeds = tuple(seeds)
    _check_runs(arch, size, n_labels, seeds, steps, lr, batch_size)
    if len(seeds) == 1:  # one seed: the single run (an ensemble of one)
        runs = (_run(arch, size, n_labels, shuffled, seeds[0], steps, float(lr), batch_size),)
    else:
        runs = _runs(arch, size, n_labels, shuffled, seeds, steps, float(lr), batch_size)
    _check_runs(arch, size, n_labels, seeds, steps, lr, batch_size, runs)
    return runs


def _trained(arch: str, size: int, n_labels: int, shuffled: bool, seed: int, steps: int,
             lr: float, batch_size: int):
    """Seed ``seed``'s (history, net), checked as :func:`_trained_runs`: from
    the chapter's ensemble if ``seed`` is one of ``SETTINGS.seeds``, else
    trained alone (:func:`_run`; a member trains as the single net would,
    whatever the others, so both give one result)."""
    if seed in SETTINGS.seeds:
        runs = _trained_runs(arch, size, n_labels, shuffled, SETTINGS.seeds, steps, lr, batch_size)
        return runs[SETTINGS.seeds.index(seed)]
    _check_runs(arch, size, n_labels, (seed,), steps, lr, batch_size)
    run = _run(arch, size, n_labels, shuffled, seed, steps, float(lr), batch_size)
    _check_runs(arch, size, n_labels, (seed,), steps, lr, batch_size, (run,))
    return run


@declare(cnn_channels=Optional(SequenceOf(Int(1, MAX_CHANNELS), 0)),
         mlp_widths=Optional(SequenceOf(Int(1, MAX_WIDTH), 0)),
         seeds=Optional(_SEEDS), **_TRAINING,
         example=dict(cnn_channels=(1,), mlp_widths=(1,), seeds=(0,), steps=1, batch_size=_N_TRAIN))
def capacity_comparison(
    cnn_channels: Sequence[int] | None = None,
    mlp_widths: Sequence[int] | None = None,
    *,
    seeds: Sequence[int] | None = None,
    steps: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
) -> pd.DataFrame:
    """Claim C10 (CNN half): parameters against test accuracy for a family of
    small CNNs (:func:`small_cnn` with each number of channels) and of
    one-hidden-layer ReLU MLPs (each width), all trained on every training
    digit with the same SGD (momentum 0.9), once per seed. None:
    ``SETTINGS.cnn_channels`` alone and ``SETTINGS.mlp_widths``.

    One row per (net, size, seed): ``net``, ``size``, ``seed``,
    ``parameters``, ``test accuracy``, ``seconds``.
    """
    steps, lr, batch_size = _training(steps, lr, batch_size)
    rows = []
    cnn_channels = (SETTINGS.cnn_channels,) if cnn_channels is None else cnn_channels
    mlp_widths = SETTINGS.mlp_widths if mlp_widths is None else mlp_widths
    for arch, sizes in (("cnn", cnn_channels), ("mlp", mlp_widths)):
        for size in sizes:
            size = check_positive_int(size, f"{arch} size")
            seed_list = check_seeds(seeds, SETTINGS.seeds)
            runs = _trained_runs(arch, size, _N_TRAIN, False, seed_list, steps, lr, batch_size)
            for s, (history, net) in zip(seed_list, runs):
                rows.append({"net": arch.upper(), "size": size, "seed": s,
                             "parameters": count_parameters(net),
                             "test accuracy": history.test_acc[-1], "seconds": history.seconds})
    return pd.DataFrame(rows)


@declare(n_labels=Optional(SequenceOf(_LABELS)), seeds=Optional(_SEEDS), cnn_channels=Optional(Int(1, MAX_CHANNELS)),
         mlp_width=Optional(Int(1, MAX_WIDTH)), **_TRAINING,
         example=dict(n_labels=(10,), seeds=(0,), cnn_channels=1, mlp_width=1, steps=1, batch_size=10))
def label_sweep(
    n_labels: Sequence[int] | None = None,
    *,
    seeds: Sequence[int] | None = None,
    cnn_channels: int | None = None,
    mlp_width: int | None = None,
    steps: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
) -> pd.DataFrame:
    """Claim C16: test accuracy against the number of labels, for the CNN and
    the MLP trained from scratch by backprop, on the images as they are and
    with one fixed random permutation of the 64 pixels (the same for train and
    test, :func:`pixel_permutation` with seed 0). None: ``SETTINGS``'s
    label budgets, seeds, channels and width.

    One row per (net, pixels, labels, seed) with ``test accuracy`` and
    ``train accuracy``.
    """
    steps, lr, batch_size = _training(steps, lr, batch_size)
    cnn_channels, mlp_width = _sizes(cnn_channels, mlp_width)
    rows = []
    for n in SETTINGS.label_budgets if n_labels is None else n_labels:
        n = check_positive_int(n, "n_labels[i]", minimum=10)
        if n > digits_train_size():
            raise ValueError(f"n_labels can be at most {digits_train_size()} (the training set); got {n}")
        for arch, size in (("cnn", cnn_channels), ("mlp", mlp_width)):
            for shuffled in (False, True):
                seed_list = check_seeds(seeds, SETTINGS.seeds)
                runs = _trained_runs(arch, size, n, shuffled, seed_list, steps, lr, batch_size)
                for s, (history, _) in zip(seed_list, runs):
                    rows.append({"net": arch.upper(), "pixels": "shuffled" if shuffled else "original",
                                 "labels": n, "seed": s, "test accuracy": history.test_acc[-1],
                                 "train accuracy": history.train_acc[-1]})
    return pd.DataFrame(rows)


@declare(cnn_channels=Optional(Int(1, MAX_CHANNELS)), mlp_width=Optional(Int(1, MAX_WIDTH)),
         n_labels=Optional(_LABELS),
         seed=Seed(), **_TRAINING,
         example=dict(cnn_channels=1, mlp_width=1, n_labels=10, steps=1, batch_size=10))
def permutation_check(*, cnn_channels: int | None = None, mlp_width: int | None = None,
                      n_labels: int | None = None,
                      seed: int = 0, steps: int | None = None, lr: float | None = None,
                      batch_size: int | None = None) -> dict[str, Any]:
    """The shuffled-pixel test done exactly, for the MLP.

    The runs of :func:`label_sweep` for ``n_labels`` and ``seed`` (CNN and
    MLP, original and shuffled pixels; one fixed permutation,
    :func:`pixel_permutation` with seed 0, for train and test), plus one more:
    the MLP's *twin*, the original MLP's initial weights relabelled by
    :func:`permute_first_layer`, trained on the shuffled pixels with the
    same mini-batches. In exact arithmetic the twin's run is the original
    run; in float32 they differ only by the order in which the first layer
    adds its 64 products. The CNN has no such twin.

    Returns a dict with the five histories (``cnn``, ``cnn_shuffled``,
    ``mlp``, ``mlp_shuffled``, ``mlp_twin``) and ``max_loss_gap``, the largest
    difference between the per-step losses of ``mlp`` and ``mlp_twin``.
    The histories are fresh copies of the memoised runs.
    """
    cnn_channels, mlp_width = _sizes(cnn_channels, mlp_width)
    n_labels = digits_train_size() if n_labels is None else n_labels
    n_labels = check_positive_int(n_labels, "n_labels", minimum=10)
    seed = check_seed(seed)
    args = (n_labels, seed, *_training(steps, lr, batch_size))
    out: dict[str, Any] = {
        "cnn": _trained("cnn", cnn_channels, n_labels, False, seed, *args[2:])[0],
        "cnn_shuffled": _trained("cnn", cnn_channels, n_labels, True, seed, *args[2:])[0],
        "mlp": _trained("mlp", mlp_width, n_labels, False, seed, *args[2:])[0],
        "mlp_shuffled": _trained("mlp", mlp_width, n_labels, True, seed, *args[2:])[0],
        "mlp_twin": _trained("mlp-twin", mlp_width, n_labels, True, seed, *args[2:])[0],
    }
    out["max_loss_gap"] = float(np.max(np.abs(np.subtract(out["mlp"].step_loss,
                                                          out["mlp_twin"].step_loss))))
    return out


@memoised
def _profile(arch: str, depth: int, activation: str, seed: int, n_samples: int,
             channels: int, width: int) -> pd.DataFrame:
    X_train, _, y_train, _ = digits_split()
    if arch == "cnn":
        net = deep_cnn(depth, channels, activation, seed=seed)
    else:
        net = deep_mlp(depth, width, activation, seed=seed)
    return layer_gradient_table(net, X_train[:n_samples], y_train[:n_samples])


#: What the deep-net runners accept for the nets' shapes.
_DEEP = dict(depth=Int(1, MAX_DEPTH), activation=Choice(ACTIVATIONS), n_samples=Int(1, _N_TRAIN),
             channels=Int(1, MAX_CHANNELS), width=Int(1, MAX_WIDTH))


@declare(**_DEEP, seeds=Optional(_SEEDS),
         example=dict(depth=1, activation="relu", seeds=(0,), n_samples=5, channels=1, width=2))
def sharing_runs(depth: int, activation: str = "sigmoid", *, seeds: Sequence[int] | None = None,
                 n_samples: int = 250, channels: int = 4, width: int = 64) -> pd.DataFrame:
    """Claim C17 at initialisation, seed by seed: :func:`layer_gradient_table`
    of the deep CNN (:func:`deep_cnn`, ``channels`` per layer) and of the
    equally deep MLP (:func:`deep_mlp`, ``width`` per layer), each built with
    every seed of ``seeds`` (None: ``SETTINGS.seeds``), on the first
    ``n_samples`` training digits.

    One row per (net, seed, layer) with ``delta rms``, ``weight grad rms``
    and ``terms per weight``; memoised per seed."""
    depth = check_positive_int(depth, "depth")
    check_choice(activation, "activation", ACTIVATIONS)
    n_samples = check_positive_int(n_samples, "n_samples")
    channels = check_positive_int(channels, "channels")
    width = check_positive_int(width, "width")
    _check_deep_nets(depth, channels, width, n_samples)
    frames = []
    for arch in ("cnn", "mlp"):
        for s in check_seeds(seeds, SETTINGS.seeds):
            f = _profile(arch, depth, activation, s, n_samples, channels, width).copy()
            f["net"], f["seed"] = arch.upper(), s
            frames.append(f)
    return pd.concat(frames, ignore_index=True)[["net", "seed", "layer", "delta rms", "weight grad rms",
                                                 "terms per weight"]]


@declare(**_DEEP, seeds=Optional(_SEEDS),
         example=dict(depth=1, activation="relu", seeds=(0,), n_samples=5, channels=1, width=2))
def sharing_profile(depth: int, activation: str = "sigmoid", *, seeds: Sequence[int] | None = None,
                     n_samples: int = 250, channels: int = 4, width: int = 64) -> pd.DataFrame:
    """:func:`sharing_runs` averaged over the seeds: one row per (net, layer)
    with the mean ``delta rms``, ``weight grad rms`` and ``terms per
    weight``."""
    runs = sharing_runs(depth, activation, seeds=seeds, n_samples=n_samples, channels=channels, width=width)
    return (runs.groupby(["net", "layer"], as_index=False)
            [["delta rms", "weight grad rms", "terms per weight"]].mean())


@declare(**_DEEP, epochs=Int(1, MAX_STEPS), lr=Positive(_MAX_LR), batch_size=Int(1, _N_TRAIN), seed=Seed(),
         example=dict(depth=1, activation="relu", epochs=1, n_samples=5, channels=1, width=2, batch_size=_N_TRAIN))
def training_profiles(depth: int = 6, activation: str = "sigmoid", *, epochs: int = 5,
                      lr: float = 0.05, batch_size: int = 32, seed: int = 0,
                      n_samples: int = 250, channels: int = 4, width: int = 64) -> pd.DataFrame:
    """Claim C17 early in training: train the deep CNN and the deep MLP of
    :func:`sharing_profile` for ``epochs`` epochs (SGD with ``SETTINGS.momentum``) and
    measure :func:`layer_gradient_table` after every epoch.

    One row per (net, epoch, layer) with ``delta rms``, ``weight grad rms``
    and the net's ``test accuracy`` at that epoch. A run that diverges
    raises a ValueError naming ``lr``.
    """
    args = (check_positive_int(depth, "depth"), check_choice(activation, "activation", ACTIVATIONS),
            check_positive_int(epochs, "epochs"), check_positive_float(lr, "lr"),
            check_positive_int(batch_size, "batch_size"), check_seed(seed),
            check_positive_int(n_samples, "n_samples"), check_positive_int(channels, "channels"),
            check_positive_int(width, "width"))
    _check_deep_nets(depth, channels, width, max(n_samples, _N_TRAIN))
    check_budget(2 * epochs * math.ceil(_N_TRAIN / batch_size), MAX_STEPS,
                  f"epochs={epochs:,} with batch_size={batch_size:,}", "updates")
    return _training_profiles(*args)


@memoised
def _training_profiles(depth, activation, epochs, lr, batch_size, seed, n_samples, channels, width):
    X_train, X_test, y_train, y_test = digits_split()
    Xd, yd = X_train[:n_samples], y_train[:n_samples]
    rows = []
    for arch in ("cnn", "mlp"):
        net = (deep_cnn(depth, channels, activation, seed=seed) if arch == "cnn"
               else deep_mlp(depth, width, activation, seed=seed))
        for epoch in range(epochs + 1):
            if epoch > 0:
                history = train(net, X_train, y_train, epochs=1, lr=lr, batch_size=batch_size,
                                momentum=SETTINGS.momentum, seed=derived_seed(seed * 1000 + epoch))
                if history.diverged:
                    raise ValueError(f"the deep {arch.upper()} diverged in epoch {epoch} at lr={lr!r}: "
                                     f"{history.reason}")
            acc = evaluate(net, X_test, y_test)[1]
            f = layer_gradient_table(net, Xd, yd)
            f["net"], f["epoch"], f["test accuracy"] = arch.upper(), epoch, acc
            rows.append(f)
    return pd.concat(rows, ignore_index=True)


@declare(profile=Instance(pd.DataFrame), net=Instance(str, what="a net's name, e.g. 'CNN' or 'MLP'"),
         column=Instance(str, what="a column's name, e.g. 'delta rms'"),
         example=lambda: dict(profile=pd.DataFrame({"net": ["CNN", "CNN"], "layer": [1, 2], "delta rms": [1.0, 0.5]}),
                              net="CNN"))
def first_last_ratio(profile: pd.DataFrame, net: str, column: str = "delta rms") -> float:
    """Last hidden layer's value over the first's, for one net of a
    :func:`sharing_profile` (or one epoch of :func:`training_profiles`):
    how many times less the first layer gets."""
    if not isinstance(profile, pd.DataFrame) or not {"net", "layer", column} <= set(profile.columns):
        raise ValueError(f"profile must be a DataFrame with columns net, layer and {column!r}")
    part = profile[profile.net == net].sort_values("layer")[column].to_numpy()
    if len(part) == 0:
        raise ValueError(f"profile has no rows for net {net!r}; nets: {sorted(set(profile.net))}")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.float64(part[-1]) / np.float64(part[0]))
    if not math.isfinite(ratio):
        raise ValueError(f"the last/first ratio of {column!r} for net {net!r} is not finite: "
                         f"first {part[0]!r}, last {part[-1]!r}")
    return ratio


@declare(profiles=Instance(pd.DataFrame), column=Instance(str, what="a column's name, e.g. 'delta rms'"),
         example=lambda: dict(profiles=pd.DataFrame({"net": ["CNN", "CNN"], "epoch": [0, 0], "layer": [1, 2],
                                                     "delta rms": [1.0, 0.5], "test accuracy": [0.1, 0.1]})))
def ratios_by_epoch(profiles: pd.DataFrame, column: str = "delta rms") -> pd.DataFrame:
    """Summarise :func:`training_profiles`: one row per (net, epoch) with the
    last/first ratio of ``column`` and the test accuracy."""
    if not isinstance(profiles, pd.DataFrame) or "epoch" not in profiles.columns:
        raise ValueError("profiles must be the DataFrame of training_profiles (with an epoch column)")
    rows = []
    for (net, epoch), group in profiles.groupby(["net", "epoch"]):
        rows.append({"net": net, "epoch": int(epoch), "ratio": first_last_ratio(group, net, column),
                     "test accuracy": float(group["test accuracy"].iloc[0])})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------- figures

#: The chapter's colour for each kind of net: ``plots.PALETTE``'s vermillion and
#: blue, spelt out so that importing this module does not import the plotting stack.
NET_COLOURS = {"CNN": "#D55E00", "MLP": "#0072B2"}


@declare(depth=Int(1, MAX_DEPTH), activation=Choice(ACTIVATIONS), example=dict(depth=1, activation="relu"))
def sharing_profile_figure(depth: int, activation: str):
    """Interactive figure: per-layer error signal (left) and per-weight
    gradient (right) at initialisation, CNN and MLP of the same depth, on a
    log axis: the mean over ``SETTINGS.seeds`` and, shaded, the range over
    the seeds, with the last/first ratio of the means in the legend."""
    import matplotlib.pyplot as plt

    from ..plots import layer_log_axis

    prof = sharing_profile(depth, activation)
    spread = sharing_runs(depth, activation).groupby(["net", "layer"])
    fig, axes = plt.subplots(1, 2, figsize=(9.2, 3.5), sharex=True)
    for ax, column, title in zip(axes, ("delta rms", "weight grad rms"),
                                 (r"error signal $\delta^l$ (rms per unit)",
                                  r"weight gradient $\partial C/\partial W^l$ (rms per weight)")):
        for net, group in prof.groupby("net"):
            values = group[column].to_numpy()
            ratio = values[-1] / values[0]
            ax.fill_between(group["layer"], spread[column].min()[net], spread[column].max()[net],
                            color=NET_COLOURS[net], alpha=0.2, lw=0)
            ax.plot(group["layer"], values, "o-", color=NET_COLOURS[net], lw=2,
                    label=f"{net}: last/first = {ratio:.3g}")
        layer_log_axis(ax, 8, range(-9, 2, 2), (1e-9, 1e1))
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"{activation}, {depth} hidden layers, at initialisation "
                 f"(mean and range of {len(SETTINGS.seeds)} seeds)", fontsize=11,
                 fontweight="bold")
    fig.subplots_adjust(left=0.08, right=0.99, bottom=0.15, top=0.83, wspace=0.22)
    return fig


@declare(labels=_LABELS, pixels=Choice(("original", "shuffled")), n_labels=Optional(SequenceOf(_LABELS)),
         seeds=Optional(_SEEDS), steps=Optional(Int(1, MAX_STEPS)),
         example=dict(labels=10, pixels="original", n_labels=(10,), seeds=(0,), steps=1))
def labels_figure(labels: int, pixels: str, *, n_labels: Sequence[int] | None = None,
                  seeds: Sequence[int] | None = None, steps: int | None = None):
    """Interactive figure: test accuracy during training for the CNN and the
    MLP trained on ``labels`` digits, ``pixels`` "original" or "shuffled"
    (left), and the final accuracy against the number of labels with the
    current choice marked (right). Replots the memoised runs of
    :func:`label_sweep` (called with ``n_labels``, ``seeds`` and ``steps``)."""
    import matplotlib.pyplot as plt

    check_choice(pixels, "pixels", ("original", "shuffled"))
    n_labels = SETTINGS.label_budgets if n_labels is None else tuple(n_labels)
    steps, lr, batch_size = _training(steps, None, None)
    if labels not in n_labels:
        raise ValueError(f"labels must be one of n_labels {tuple(n_labels)}; got {labels!r}")
    seeds = check_seeds(seeds, SETTINGS.seeds)
    sweep = label_sweep(n_labels, seeds=seeds, steps=steps)
    fig, (ax_c, ax_s) = plt.subplots(1, 2, figsize=(9.2, 3.5))
    for arch, size in (("cnn", SETTINGS.cnn_channels), ("mlp", SETTINGS.mlp_width)):
        colour = NET_COLOURS[arch.upper()]
        runs = _trained_runs(arch, size, labels, pixels == "shuffled", seeds, steps, lr, batch_size)
        done = np.array(runs[0][0].epoch) * math.ceil(labels / batch_size)
        curves = np.array([h.test_acc for h, _ in runs])
        ax_c.fill_between(done, curves.min(0), curves.max(0), color=colour, alpha=0.2, lw=0)
        ax_c.plot(done, curves.mean(0), "-", color=colour, lw=2, label=arch.upper())
        for shuffle, style in (("original", "o-"), ("shuffled", "s--")):
            part = sweep[(sweep.net == arch.upper()) & (sweep.pixels == shuffle)]
            by = part.groupby("labels")["test accuracy"]
            ax_s.errorbar(by.mean().index, by.mean().values, yerr=by.std().fillna(0).values, fmt=style,
                          color=colour, lw=1.8, capsize=3, alpha=1.0 if shuffle == pixels else 0.35,
                          label=f"{arch.upper()}, {shuffle}")
    chosen = sweep[(sweep.labels == labels) & (sweep.pixels == pixels)]
    for net, group in chosen.groupby("net"):
        ax_s.plot([labels], [group["test accuracy"].mean()], "o", ms=12, mfc="none",
                  mec=NET_COLOURS[net], mew=2)
    ax_c.set(xlabel="SGD steps", ylabel="test accuracy", ylim=(0, 1.02),
             title=f"{labels} labels, {pixels} pixels (mean, range)")
    ax_c.legend(fontsize=8, loc="lower right")
    ax_s.set_xscale("log")
    ax_s.set_xticks(list(n_labels))
    ax_s.set_xticklabels([str(n) for n in n_labels])
    ax_s.minorticks_off()
    ax_s.set(xlabel="labelled training digits", ylabel="final test accuracy", ylim=(0.7, 1.0),
             title=f"all runs (mean \u00b1 sd of {len(seeds)} seeds)")
    ax_s.legend(fontsize=7, loc="lower right", ncol=2)
    fig.subplots_adjust(left=0.08, right=0.99, bottom=0.15, top=0.9, wspace=0.25)
    return fig


@declare(index=Int(0, _N_TEST - 1), pixels=Choice(("original", "shuffled")), steps=Optional(Int(1, MAX_STEPS)),
         example=dict(index=0, steps=1))
def feature_maps(index: int, pixels: str = "original", *, steps: int | None = None) -> dict[str, Any]:
    """The trained :func:`small_cnn` (``SETTINGS.cnn_channels``, 8 by default; all labels, seed 0) applied
    to test digit ``index``: its input image (as the net sees it), the first
    layer's 8 filters and feature maps (after ReLU), the second layer's 16
    feature maps, and the predicted class. The arrays are the caller's own:
    the net they come from is a fresh copy of the memoised run's."""
    index = check_positive_int(index, "index", minimum=0)
    check_choice(pixels, "pixels", ("original", "shuffled"))
    _, X_test, _, y_test = digits_split()
    if index >= len(X_test):
        raise ValueError(f"index must be below {len(X_test)} (test digits); got {index}")
    _, net = _trained("cnn", SETTINGS.cnn_channels, _N_TRAIN, pixels == "shuffled", 0,
                      *_training(steps, None, None))
    x = X_test[index:index + 1]
    if pixels == "shuffled":
        x = permute_pixels(x, pixel_permutation(0))
    with torch.no_grad():
        image = net[0](x)
        maps1 = net[2](net[1](image))
        maps2 = net[5](net[4](net[3](maps1)))
        label = int(net(x).argmax(1))
    return {"image": image[0, 0].numpy(), "filters": net[1].weight[:, 0].detach().numpy(),
            "maps1": maps1[0].numpy(), "maps2": maps2[0].numpy(), "predicted": label,
            "label": int(y_test[index])}


@declare(digit=Int(0, 9), pixels=Choice(("original", "shuffled")), steps=Optional(Int(1, MAX_STEPS)),
         example=dict(digit=0, pixels="original", steps=1))
def feature_maps_figure(digit: int, pixels: str, *, steps: int | None = None):
    """Interactive figure: the first test image of ``digit`` as the CNN sees
    it, the first layer's eight 3x3 filters, and the feature maps of both
    layers (each filter and map scaled to its own range)."""
    import matplotlib.pyplot as plt

    from ..plots import tile_images

    digit = check_positive_int(digit, "digit", minimum=0)
    if digit > 9:
        raise ValueError(f"digit must lie in 0..9; got {digit}")
    _, _, _, y_test = digits_split()
    index = int(torch.nonzero(y_test == digit)[0])
    maps = feature_maps(index, pixels, steps=steps)
    fig = plt.figure(figsize=(9.2, 3.3))
    grid = fig.add_gridspec(2, 3, width_ratios=[1.0, 1.6, 1.6], left=0.02, right=0.99,
                            top=0.86, bottom=0.03, wspace=0.12, hspace=0.45)
    panels = [
        (fig.add_subplot(grid[:, 0]), maps["image"], "gray_r",
         f"input ({pixels})\nlabel {maps['label']}, predicted {maps['predicted']}"),
        (fig.add_subplot(grid[0, 1]), tile_images(maps["filters"].reshape(8, -1), (3, 3), 4),
         "RdBu_r", "layer-1 filters (3x3)"),
        (fig.add_subplot(grid[1, 1]), tile_images(maps["maps1"].reshape(8, -1), (8, 8), 4),
         "magma", "layer-1 maps (8x8)"),
        (fig.add_subplot(grid[:, 2]), tile_images(maps["maps2"].reshape(16, -1), (4, 4), 4),
         "magma", "layer-2 maps (4x4)"),
    ]
    for ax, image, cmap, title in panels:
        ax.imshow(image, cmap=cmap, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    return fig


# ------------------------------------------------------------------ verdicts


def _accuracies(arch: str, size: int, n_labels: int, shuffled: bool, seeds: Sequence[int],
                training: tuple[int, float, int]) -> np.ndarray:
    """Final test accuracy of each seed's run (:func:`_trained_runs`), in seed order."""
    return np.array([h.test_acc[-1] for h, _ in _trained_runs(arch, size, n_labels, shuffled, seeds, *training)])


def _log_ratios(runs: pd.DataFrame, net: str, column: str) -> np.ndarray:
    """log10 of :func:`first_last_ratio` for each seed of :func:`sharing_runs`, in seed order."""
    part = runs[runs.net == net]
    return np.array([math.log10(first_last_ratio(part[part.seed == s], net, column))
                     for s in dict.fromkeys(part.seed)])


@declare(seeds=Optional(_SEEDS), steps=Optional(Int(1, MAX_STEPS)), batch_size=Optional(Int(1, _N_TRAIN)),
         depth=Optional(Int(2, MAX_DEPTH)),
         example=dict(seeds=(0, 1), steps=1, batch_size=_N_TRAIN, depth=2))
def claim_comparisons(seeds: Sequence[int] | None = None, *, steps: int | None = None,
                      batch_size: int | None = None, depth: int | None = None) -> dict[str, list[Any]]:
    """The comparisons behind the verdicts on C10 (the CNN half), C16 and C17,
    judged by the book's rule (:func:`gradbook.stats.compare`), paired over
    ``seeds`` (None: ``SETTINGS.seeds``; one seed gives both arms the same
    label subset and mini-batch order, and the same initial weights where
    the arms share a net). Accuracies are final test accuracies with the
    default margin; the CNN is ``SETTINGS.cnn_channels``'s, the MLP
    ``SETTINGS.mlp_width``'s.

    - C10 (fewer parameters for the same job): the CNN against the MLP of
      ``SETTINGS.fewer_width`` units, which has fewer parameters, with the
      fewest labels and with all of them: claimed greater (if the CNN did
      the job with fewer parameters, no MLP smaller than it would match it);
    - C16: the CNN trained from scratch by backprop against
      ``SETTINGS.reference_accuracy`` (claimed greater); the shuffled pixels
      against the original ones at every label budget, for the CNN (claimed
      less) and the MLP (claimed equal); the CNN against the MLP with the
      fewest labels, where a 2-D prior should help most (claimed greater);
    - C17: log10 of the last/first ratio of the error signal and of the
      per-weight gradient in the ``depth``-layer sigmoid nets at
      initialisation, CNN against MLP (claimed less: sharing would make the
      CNN's gradient vanish less), with margin ``SETTINGS.ratio_margin``.

    ``steps``, ``batch_size`` and ``depth`` replace the settings' for small
    trial runs."""
    from ..stats import compare

    seeds = tuple(check_seeds(seeds, SETTINGS.seeds))
    training = _training(steps, None, batch_size)
    depth = check_positive_int(SETTINGS.depth if depth is None else depth, "depth", minimum=2)
    cnn_c, mlp_w, fewer = SETTINGS.cnn_channels, SETTINGS.mlp_width, SETTINGS.fewer_width
    budgets = SETTINGS.label_budgets
    few = min(budgets)

    def acc(arch: str, size: int, n: int, shuffled: bool = False) -> np.ndarray:
        return _accuracies(arch, size, n, shuffled, seeds, training)

    cnn_params = count_parameters(_net("cnn", cnn_c, 0))
    fewer_params = count_parameters(_net("mlp", fewer, 0))
    out: dict[str, list[Any]] = {"C10": [
        compare(acc("cnn", cnn_c, n), acc("mlp", fewer, n), claimed="greater",
                name=f"CNN ({cnn_params:,} parameters), {n:,} labels",
                baseline_name=f"MLP of {fewer} units ({fewer_params:,} parameters), {n:,} labels")
        for n in (few, _N_TRAIN)]}
    c16 = [compare(acc("cnn", cnn_c, _N_TRAIN), np.full(len(seeds), SETTINGS.reference_accuracy),
                   claimed="greater", name=f"CNN from scratch, {_N_TRAIN:,} labels",
                   baseline_name=f"accuracy {SETTINGS.reference_accuracy:g}")]
    for arch, size, claimed in (("cnn", cnn_c, "less"), ("mlp", mlp_w, "equal")):
        for n in budgets:
            c16.append(compare(acc(arch, size, n, True), acc(arch, size, n), claimed=claimed,
                               name=f"{arch.upper()}, shuffled pixels, {n:,} labels",
                               baseline_name=f"{arch.upper()}, original pixels, {n:,} labels"))
    c16.append(compare(acc("cnn", cnn_c, few), acc("mlp", mlp_w, few), claimed="greater",
                       name=f"CNN, {few} labels", baseline_name=f"MLP of {mlp_w} units, {few} labels"))
    out["C16"] = c16
    runs = sharing_runs(depth, "sigmoid", seeds=seeds)
    out["C17"] = [compare(_log_ratios(runs, "CNN", column), _log_ratios(runs, "MLP", column), claimed="less",
                          margin=SETTINGS.ratio_margin, name=f"CNN, log10 last/first {column}",
                          baseline_name=f"MLP, log10 last/first {column}")
                  for column in ("delta rms", "weight grad rms")]
    return out


#: No verdict of this chapter rests on argument alone: LeNet-5's parameter
#: count (C10) is arithmetic, checked exactly by the claim test, and stated
#: beside the verdict, which the comparisons on the digits decide.
ARGUED: dict[str, str] = {}


def claim_verdicts() -> dict[str, str]:
    """The verdict of each claim checked in this chapter, by the book's rule
    (:func:`gradbook.stats.verdict`) from :func:`claim_comparisons` with the
    chapter's settings."""
    from ..stats import verdict

    return {claim: verdict(found) for claim, found in claim_comparisons().items()}
