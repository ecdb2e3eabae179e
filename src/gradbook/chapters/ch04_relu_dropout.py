r"""Chapter 4's experiments: ReLU, initialisation, normalisation, skips and dropout.

Two groups of experiments on the digits, each a memoised run of
:func:`gradbook.train.train`, so that the chapter's tables, figures and claim
checks share one set of runs.

The deep nets (claims C12, C13)
-------------------------------
One deep, narrow net (``SETTINGS.deep.depth`` hidden layers of ``SETTINGS.deep.width``
units) in six variants (:data:`VARIANTS`):

- ``"sigmoid"``: the baseline, sigmoid units, weights :math:`N(0, 0.1^2)`
  (``SETTINGS.deep.small_init``), zero biases: the plain net of the article's time;
- ``"sigmoid + Glorot"``: the same units, Glorot & Bengio's normalised
  initialisation :math:`N(0, 2/(n_\text{in}+n_\text{out}))` (a control: the
  initialisation alone);
- ``"tanh + Glorot"``: tanh units, Glorot's initialisation;
- ``"ReLU + He"``: rectified linear units, He's :math:`N(0, 2/n_\text{in})`;
- ``"batch norm"``: the baseline with a batch-normalisation layer between
  every hidden linear layer and its sigmoid (:func:`gradbook.models.mlp.batchnorm_mlp`);
- ``"residual"``: the baseline with identity skips,
  :math:`h^l = h^{l-1} + \sigma(W^l h^{l-1} + b^l)` (:class:`gradbook.models.mlp.ResidualMLP`).

Each is trained the same way (``SETTINGS.deep``); what we record is the test
accuracy and the per-layer weight-gradient norms
:math:`\|\partial C/\partial W^l\|` through training
(:func:`gradbook.diagnostics.weight_gradient_norms_training`).

The wide nets (claims C8, C13)
------------------------------
A wide two-layer ReLU net trained on a balanced subset of the labels
(:func:`gradbook.data.label_subset`) for a fixed number of updates, with
or without (inverted) dropout (:class:`gradbook.models.mlp.InvertedDropout`) and weight decay;
the gap between training and test accuracy measures the overfitting. The
width sweep, the label sweep and a run on randomly permuted labels (Zhang et
al. 2017) use the same function (:func:`wide_run`).

Wall time of pretraining (claim C14)
------------------------------------
:func:`pretraining_cost` reuses chapter 3's :func:`gradbook.chapters.ch03_pretraining.finetune`
with all labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from .._validate import (
    MAX_DEPTH,
    MAX_SEEDS,
    MAX_STEPS,
    Bool,
    Choice,
    Float,
    Instance,
    Int,
    LayerSizes,
    Optional,
    Positive,
    Probability,
    Seed,
    check_choice,
    check_positive_float,
    check_positive_int,
    check_probability,
    check_seed,
    check_seeds,
    declare,
    derived_seed,
)
from .._validate import (
    Sequence as SequenceOf,
)
from ..data import digits_split, digits_train_size, label_subset, train_test_split
from ..diagnostics import weight_gradient_norms_training
from ..memo import memoised
from ..models.mlp import ResidualMLP, batchnorm_mlp, count_parameters, dropout_mlp, mlp

__all__ = [
    "MAX_WIDTH",
    "VARIANTS",
    "DeepNetSettings",
    "WideNetSettings",
    "ReluDropoutSettings",
    "SETTINGS",
    "deep_net",
    "FixRun",
    "fix_run",
    "fix_runs",
    "fix_comparison",
    "tuned_lr",
    "WideRun",
    "wide_run",
    "wide_runs",
    "tuned_updates",
    "dropout_grid",
    "regularisation_comparison",
    "width_sweep",
    "random_label_run",
    "FIXES",
    "claim_comparisons",
    "claim_verdicts",
    "ARGUED",
    "pretraining_cost",
    "clear_cache",
    "VARIANT_COLOURS",
    "fix_profile_figure",
    "dropout_figure",
]

#: Result records the runners build; users never construct them.
__undeclared__ = {
    "FixRun": "the result record of fix_run; users never build one",
    "WideRun": "the result record of wide_run; users never build one",
    "claim_verdicts": "takes no arguments and runs the chapter's full comparisons (claim_comparisons, "
                      "declared, takes the small trial settings); the claim tests call it",
}

#: The widest hidden layer of any net here (the weights and gradients of the
#: whole net are also checked against ``MAX_BYTES``).
MAX_WIDTH = 10_000

_N_TRAIN = digits_train_size()
#: The largest learning rate a training runner accepts: the nets are float32,
#: and a larger rate only overflows the first update.
_MAX_LR = 1e6
#: Chapter 3's ``METHODS`` (a test checks they agree), spelt out so that importing
#: this module does not import chapter 3 and scikit-learn.
_PRETRAINING_METHODS = ("random", "untrained AE", "DBN", "SAE", "DAE", "ReLU")
_SEEDS = SequenceOf(Seed(), 1, MAX_SEEDS)
#: A label count of the wide nets: at least 1, at most every training image.
_LABELS = Int(1, _N_TRAIN)

#: The deep-net variants, in the order the chapter shows them.
VARIANTS = ("sigmoid", "sigmoid + Glorot", "tanh + Glorot", "ReLU + He", "batch norm", "residual")


def _check_sizes(sizes: list[int], what: str) -> None:
    """Refuse a net whose weights and gradients would not fit ``MAX_BYTES``,
    naming ``what`` (the settings that set ``sizes``)."""
    try:
        LayerSizes(2).check(sizes, "sizes")
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


@declare(depth=Int(1, MAX_DEPTH), width=Int(1, MAX_WIDTH), epochs=Int(1, MAX_STEPS), batch_size=Int(1, _N_TRAIN),
         momentum=Probability(), lr=Positive(_MAX_LR), seeds=_SEEDS, diagnostic_samples=Int(1, _N_TRAIN),
         small_init=Positive(1e6), profile_epochs=SequenceOf(Int(0, MAX_STEPS)),
         lr_grid=SequenceOf(Positive(_MAX_LR), 1, 10), example=dict(depth=2, width=8, epochs=1, seeds=(0,)))
@dataclass(frozen=True)
class DeepNetSettings:
    """The deep, narrow nets (claims C12, C13): ``depth`` hidden layers of
    ``width`` units, trained for ``epochs`` epochs in mini-batches of
    ``batch_size`` by SGD with ``momentum`` at ``lr``, over ``seeds``;
    gradient profiles measured on the first ``diagnostic_samples`` training
    images at the epochs ``profile_epochs`` (and the last). ``small_init``
    is the weight standard deviation of the baseline ("a small Gaussian").
    ``lr_grid`` is the tuning grid of the learning rate (:func:`tuned_lr`)."""

    depth: int = 8
    width: int = 32
    epochs: int = 12
    batch_size: int = 32
    momentum: float = 0.9
    lr: float = 0.02
    seeds: tuple[int, ...] = tuple(range(20))
    diagnostic_samples: int = 500
    small_init: float = 0.1
    profile_epochs: tuple[int, ...] = (0, 1, 4, 12)
    lr_grid: tuple[float, ...] = (0.02, 0.1, 0.5)

    def __post_init__(self) -> None:
        for name in ("seeds", "profile_epochs", "lr_grid"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        _check_sizes([64] + [self.width] * self.depth + [10], f"depth={self.depth} and width={self.width}")


@declare(width=Int(1, MAX_WIDTH), updates=Int(1, MAX_STEPS), batch_size=Int(1, _N_TRAIN), momentum=Probability(),
         lr=Positive(_MAX_LR), label_budgets=SequenceOf(_LABELS), seeds=_SEEDS,
         updates_grid=SequenceOf(Int(1, MAX_STEPS), 1, 10), widths=SequenceOf(Int(1, MAX_WIDTH), 2, 20),
         n_labels=_LABELS,
         example=dict(width=8, updates=4, seeds=(0,)))
@dataclass(frozen=True)
class WideNetSettings:
    """The wide nets (claims C8, C13): two hidden ReLU layers of ``width``
    units, He initialisation, about ``updates`` updates in mini-batches of
    ``batch_size`` (SGD with ``momentum`` at ``lr``); ``label_budgets`` are the
    label counts of the dropout grid and its figure (the last is every
    training image); ``seeds`` the seeds of every comparison; ``updates_grid``
    the tuning grid of the number of updates (:func:`tuned_updates`);
    ``widths`` those of the width sweep (:func:`width_sweep`, claim C8), whose
    second and last are compared by the rule, with ``n_labels`` labels (also
    the budget of :func:`regularisation_comparison`)."""

    width: int = 128
    updates: int = 400
    batch_size: int = 32
    momentum: float = 0.9
    lr: float = 0.02
    label_budgets: tuple[int, ...] = field(default_factory=lambda: (50, 150, 500, digits_train_size()))
    seeds: tuple[int, ...] = tuple(range(20))
    updates_grid: tuple[int, ...] = (400, 800)
    widths: tuple[int, ...] = (8, 32, 128, 256)
    n_labels: int = 150

    def __post_init__(self) -> None:
        for name in ("label_budgets", "seeds", "updates_grid", "widths"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


@declare(deep=Instance(DeepNetSettings), wide=Instance(WideNetSettings),
         example=lambda: dict(deep=DeepNetSettings(depth=2)))
@dataclass(frozen=True)
class ReluDropoutSettings:
    """Chapter 4's settings: the deep nets and the wide nets. Replace
    :data:`SETTINGS` (``dataclasses.replace``) and call :func:`clear_cache`
    to run the experiments with other settings."""

    deep: DeepNetSettings = DeepNetSettings()
    wide: WideNetSettings = WideNetSettings()


#: The chapter's settings (see :class:`ReluDropoutSettings`).
SETTINGS = ReluDropoutSettings()


#: What the deep-net runners accept for the variant and the net's shape.
_DEEP = dict(variant=Choice(VARIANTS), depth=Optional(Int(1, MAX_DEPTH)), width=Optional(Int(1, MAX_WIDTH)))


@declare(**_DEEP, seed=Seed(), example=dict(variant="residual", depth=1, width=2))
def deep_net(variant: str, depth: int | None = None, width: int | None = None,
             seed: int = 0) -> nn.Module:
    """The chapter's deep net in one of :data:`VARIANTS` (see the module
    docstring): ``depth`` hidden layers of ``width`` units (default
    ``SETTINGS.deep``), 64 inputs, 10 outputs."""
    check_choice(variant, "variant", VARIANTS)
    depth = check_positive_int(SETTINGS.deep.depth if depth is None else depth, "depth")
    width = check_positive_int(SETTINGS.deep.width if width is None else width, "width")
    seed = check_seed(seed)
    sizes = [64] + [width] * depth + [10]
    _check_sizes(sizes, f"depth={depth} and width={width}")
    if variant == "sigmoid":
        return mlp(sizes, "sigmoid", SETTINGS.deep.small_init, seed=seed)
    if variant == "sigmoid + Glorot":
        return mlp(sizes, "sigmoid", "xavier", seed=seed)
    if variant == "tanh + Glorot":
        return mlp(sizes, "tanh", "xavier", seed=seed)
    if variant == "ReLU + He":
        return mlp(sizes, "relu", "he", seed=seed)
    if variant == "batch norm":
        return batchnorm_mlp(sizes, "sigmoid", SETTINGS.deep.small_init, seed=seed)
    return ResidualMLP(64, width, depth, 10, activation="sigmoid", init=SETTINGS.deep.small_init, seed=seed)


# ------------------------------------------------------------------ runs


@dataclass
class FixRun:
    """One deep-net run: the :class:`gradbook.train.History`, the gradient
    profile (:func:`weight_gradient_norms_training`) at each epoch of ``profile_epochs``
    (one row per epoch; epoch 0 is the initial net), and the number of
    parameters."""

    history: Any
    profile_epochs: tuple[int, ...]
    profiles: np.ndarray
    parameters: int

    @property
    def ratio(self) -> np.ndarray:
        """last/first hidden layer's gradient norm, per profiled epoch."""
        return self.profiles[:, -1] / self.profiles[:, 0]

    def profile_at(self, epoch: int) -> np.ndarray:
        """The gradient profile after ``epoch`` epochs (one of ``profile_epochs``)."""
        if epoch not in self.profile_epochs:
            raise ValueError(f"epoch must be one of the profiled epochs {self.profile_epochs}; "
                             f"got {epoch!r}")
        return self.profiles[self.profile_epochs.index(epoch)]


def _profile_epochs(epochs: int) -> tuple[int, ...]:
    """The epochs at which a run measures its gradient profile: those of
    ``SETTINGS.deep.profile_epochs`` within the run, and its last epoch (measuring
    every epoch would cost a quarter of the training time)."""
    return tuple(sorted({e for e in SETTINGS.deep.profile_epochs if e <= epochs} | {0, 1, epochs}))


def _validation_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The tuning split: the 1,438 training digits cut into a fitting part and
    a stratified validation part of a fifth (seed 0). The test images are
    never used to choose a setting."""
    X_train, _, y_train, _ = digits_split()
    return train_test_split(X_train, y_train, test_size=0.2, seed=0)


def _data(validation: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(training rows, evaluation rows, their labels): the digits split, or
    for tuning the validation split of the training images."""
    return _validation_split() if validation else digits_split()


def _ensemble_seeds(seed: int, seeds: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """The ensemble a single seed's run comes from (the chapter's seeds if
    ``seed`` is one of them, else ``seed`` alone) and its member index. A
    member trains exactly as a net trained alone with its seed, whatever the
    other members (tests/unit/test_ensemble.py), so both give one result."""
    return (seeds, seeds.index(seed)) if seed in seeds else ((seed,), 0)


@memoised
def _fix_runs(variant: str, depth: int, width: int, seeds: tuple[int, ...], epochs: int, lr: float,
              validation: bool = False) -> tuple[FixRun, ...]:
    from ..models.ensemble import ensemble
    from ..train import train

    X_train, X_eval, y_train, y_eval = _data(validation)
    n = SETTINGS.deep.diagnostic_samples
    Xd, yd = X_train[:n], y_train[:n]
    nets = ensemble(lambda seed: deep_net(variant, depth, width, seed), seeds)
    wanted = () if validation else _profile_epochs(epochs)
    profiles: list[list[list[float]]] = [[] for _ in seeds]

    def measure(epoch: int, model: nn.Module) -> None:
        if epoch in wanted:
            for k, member in enumerate(model.members()):
                profiles[k].append(weight_gradient_norms_training(member, Xd, yd))

    histories = train(nets, X_train, y_train, epochs=epochs, lr=lr, batch_size=SETTINGS.deep.batch_size,
                      momentum=SETTINGS.deep.momentum, X_test=X_eval, y_test=y_eval, callback=measure)
    parameters = count_parameters(nets.member(0))
    return tuple(FixRun(h, wanted, np.asarray(p), parameters) for h, p in zip(histories, profiles))


def _finished_fix(runs: Sequence[FixRun], variant: str, depth: int, width: int, seeds: Sequence[int],
                  lr: float) -> list[FixRun]:
    for s, run in zip(seeds, runs):
        if run.history.diverged:
            raise ValueError(f"the {variant} net ({depth} hidden layers of {width}, seed {s}) diverged at "
                             f"lr={lr!r}: {run.history.reason}")
    return list(runs)


#: What the deep-net runners accept for the training settings (None: ``SETTINGS.deep``'s).
_DEEP_TRAINING = dict(width=Optional(Int(1, MAX_WIDTH)), epochs=Optional(Int(1, MAX_STEPS)))


def _deep_settings(depth: int | None, width: int | None, epochs: int | None, lr: float | None
                   ) -> tuple[int, int, int, float]:
    depth = check_positive_int(SETTINGS.deep.depth if depth is None else depth, "depth")
    width = check_positive_int(SETTINGS.deep.width if width is None else width, "width")
    epochs = check_positive_int(SETTINGS.deep.epochs if epochs is None else epochs, "epochs")
    lr = float(check_positive_float(SETTINGS.deep.lr if lr is None else lr, "lr"))
    _check_sizes([64] + [width] * depth + [10], f"depth={depth} and width={width}")
    return depth, width, epochs, lr


@declare(**_DEEP, seeds=Optional(_SEEDS), epochs=_DEEP_TRAINING["epochs"], lr=Optional(Positive(_MAX_LR)),
         example=dict(variant="ReLU + He", depth=1, width=3, seeds=(0, 1), epochs=1))
def fix_runs(variant: str, depth: int | None = None, seeds: Sequence[int] | None = None, *,
             width: int | None = None, epochs: int | None = None, lr: float | None = None
             ) -> list[FixRun]:
    """:func:`fix_run` for every seed of ``seeds`` (default
    ``SETTINGS.deep.seeds``), trained together as one ensemble
    (:mod:`gradbook.models.ensemble`). Memoised: each call returns fresh copies."""
    check_choice(variant, "variant", VARIANTS)
    depth, width, epochs, lr = _deep_settings(depth, width, epochs, lr)
    seeds = tuple(check_seeds(seeds, SETTINGS.deep.seeds))
    runs = _fix_runs(variant, depth, width, seeds, epochs, lr)
    return _finished_fix(runs, variant, depth, width, seeds, lr)


@declare(**_DEEP, epochs=_DEEP_TRAINING["epochs"], seed=Seed(), lr=Optional(Positive(_MAX_LR)),
         example=dict(variant="ReLU + He", depth=1, width=3, epochs=1))
def fix_run(variant: str, depth: int | None = None, seed: int = 0, *,
            width: int | None = None, epochs: int | None = None, lr: float | None = None
            ) -> FixRun:
    """Train :func:`deep_net` ``(variant, depth, width, seed)`` on the
    digits split (1,438 training, 359 test images) with SGD and momentum
    (``SETTINGS.deep``), recording the gradient profile on the first 500
    training images at initialisation, after the first and the last epoch
    and at the epochs of ``SETTINGS.deep.profile_epochs``. Memoised: each call
    returns a fresh copy. A run that diverges raises a ValueError naming
    ``lr``."""
    check_choice(variant, "variant", VARIANTS)
    depth, width, epochs, lr = _deep_settings(depth, width, epochs, lr)
    seeds, k = _ensemble_seeds(check_seed(seed), SETTINGS.deep.seeds)
    run = _fix_runs(variant, depth, width, seeds, epochs, lr)[k]
    return _finished_fix([run], variant, depth, width, [seed], lr)[0]


@declare(variants=SequenceOf(Choice(VARIANTS)), depth=Optional(Int(1, MAX_DEPTH)), seeds=Optional(_SEEDS),
         **_DEEP_TRAINING, lr=Optional(Positive(_MAX_LR)),
         example=dict(variants=("ReLU + He",), depth=1, seeds=(0,), width=3, epochs=1))
def fix_comparison(variants: Sequence[str] = VARIANTS, *, depth: int | None = None,
                   seeds: Sequence[int] | None = None, width: int | None = None,
                   epochs: int | None = None, lr: float | None = None) -> pd.DataFrame:
    """Claims C12, C13: every variant of the deep net, trained the same way.

    One row per (variant, seed): ``test accuracy`` and ``train accuracy`` at
    the end, the ``epoch to 50%`` test accuracy (NaN if never), the
    last/first hidden layer's gradient-norm ratio at initialisation
    (``ratio at init``) and after one epoch (``ratio early``),
    the first layer's gradient norm at initialisation, and the parameter
    count. ``width``, ``epochs`` and ``lr`` (None: ``SETTINGS.deep``'s) go to
    :func:`fix_runs`.
    """
    rows = []
    seeds = check_seeds(seeds, SETTINGS.deep.seeds)
    for variant in variants:
        for s, run in zip(seeds, fix_runs(variant, depth, seeds, width=width, epochs=epochs, lr=lr)):
            h = run.history
            rows.append({
                "variant": variant, "seed": s,
                "test accuracy": h.test_acc[-1], "train accuracy": h.train_acc[-1],
                "epoch to 50%": h.first_epoch_reaching(0.5),
                "ratio at init": run.ratio[0], "ratio early": run.ratio[1],
                "first-layer grad at init": run.profiles[0, 0],
                "parameters": run.parameters,
            })
    return pd.DataFrame(rows)


def _tuning_seeds(seeds: tuple[int, ...]) -> tuple[int, ...]:
    """The seeds of the tuning runs: as many as the comparison's, offset so
    that no tuning run shares a seed (initial weights, batch order, label
    subset) with a run it chooses for."""
    return tuple(derived_seed(10_000 + s) for s in seeds[:5])


@declare(variant=Choice(VARIANTS), example=dict(variant="ReLU + He"))
def tuned_lr(variant: str) -> tuple[float, pd.DataFrame]:
    """The learning rate of ``SETTINGS.deep.lr_grid`` at which ``variant``
    reaches the best mean validation accuracy (:func:`_validation_split`: a
    fifth of the training images held out, five tuning seeds distinct from
    the comparison's), and the table of the grid: ``lr``, ``validation
    accuracy`` (mean), ``diverged`` (tuning runs that diverged; a rate where
    any run diverges is not chosen)."""
    check_choice(variant, "variant", VARIANTS)
    deep = SETTINGS.deep
    rows = []
    for lr in deep.lr_grid:
        runs = _fix_runs(variant, deep.depth, deep.width, _tuning_seeds(deep.seeds), deep.epochs, float(lr),
                         validation=True)
        diverged = sum(r.history.diverged for r in runs)
        accuracy = float(np.mean([r.history.test_acc[-1] for r in runs])) if not diverged else float("nan")
        rows.append({"lr": float(lr), "validation accuracy": accuracy, "diverged": diverged})
    table = pd.DataFrame(rows)
    eligible = table[table["diverged"] == 0]
    if eligible.empty:
        raise ValueError(f"every learning rate of SETTINGS.deep.lr_grid={deep.lr_grid} diverges for {variant}")
    return float(eligible.loc[eligible["validation accuracy"].idxmax(), "lr"]), table


@dataclass
class WideRun:
    """One wide-net run: its history (accuracies on the labelled training
    images and on the test set, at about 50 epochs spread over the run and
    at the end), the number of parameters and of updates per epoch."""

    history: Any
    parameters: int
    steps_per_epoch: int

    @property
    def gap(self) -> float:
        """Final training accuracy minus final test accuracy."""
        return self.history.train_acc[-1] - self.history.test_acc[-1]


@memoised
def _wide_runs(width: int, dropout: float, weight_decay: float, n_labels: int, seeds: tuple[int, ...],
               random_labels: bool, updates: int, validation: bool = False,
               record_every: int | None = None) -> tuple[WideRun, ...]:
    from ..models.ensemble import ensemble, stack_inputs
    from ..train import train

    X_train, X_eval, y_train, y_eval = _data(validation)
    n_labels = min(n_labels, len(y_train))  # tuning: every fitting image at the largest budget
    blocks, labels = [], []
    for seed in seeds:
        index = label_subset(y_train, n_labels, seed)
        y = y_train[index]
        if random_labels:
            gen = torch.Generator().manual_seed(derived_seed(seed + 12345))
            y = y[torch.randperm(len(y), generator=gen)]
        blocks.append(X_train[index])
        labels.append(y)
    nets = ensemble(lambda seed: dropout_mlp([64, width, width, 10], dropout, seed=seed), seeds)
    batch = SETTINGS.wide.batch_size
    steps = math.ceil(n_labels / batch)
    epochs = math.ceil(updates / steps)
    histories = train(nets, stack_inputs(blocks), stack_inputs(labels), epochs=epochs,
                      lr=SETTINGS.wide.lr, batch_size=batch, momentum=SETTINGS.wide.momentum,
                      weight_decay=weight_decay, X_test=X_eval, y_test=y_eval,
                      record_every=record_every or math.ceil(epochs / _RECORDS))
    parameters = count_parameters(nets.member(0))
    return tuple(WideRun(h, parameters, steps) for h in histories)


#: At most about this many records (accuracies on the training and test
#: images) per wide-net run: with 50 labels an epoch is two updates, and
#: measuring after each would cost more than the training.
_RECORDS = 50


#: What the wide-net runners accept for the net and its training (None: ``SETTINGS.wide``'s).
_WIDE = dict(width=Optional(Int(1, MAX_WIDTH)), updates=Optional(Int(1, MAX_STEPS)))


def _wide_settings(n_labels: int, dropout: float, weight_decay: float, width: int | None,
                   random_labels: bool, updates: int | None) -> tuple[int, float, float, int, int]:
    n_labels = check_positive_int(n_labels, "n_labels")
    if n_labels > digits_train_size():
        raise ValueError(f"n_labels must be at most {digits_train_size()} (the training images); "
                         f"got {n_labels}")
    dropout = float(check_probability(dropout, "dropout"))
    weight_decay = float(check_positive_float(weight_decay, "weight_decay", allow_zero=True))
    width = check_positive_int(SETTINGS.wide.width if width is None else width, "width")
    updates = check_positive_int(SETTINGS.wide.updates if updates is None else updates, "updates")
    if not isinstance(random_labels, bool):
        raise TypeError(f"random_labels must be True or False; got {random_labels!r}")
    _check_sizes([64, width, width, 10], f"width={width}")
    return n_labels, dropout, weight_decay, width, updates


def _finished_wide(runs: Sequence[WideRun], weight_decay: float, dropout: float) -> list[WideRun]:
    for run in runs:
        if run.history.diverged:
            raise ValueError(f"the wide net diverged with weight_decay={weight_decay!r}, dropout={dropout!r} "
                             f"and SETTINGS.wide.lr={SETTINGS.wide.lr!r}: {run.history.reason}")
    return list(runs)


@declare(n_labels=_LABELS, dropout=Probability(), weight_decay=Float(0.0), seeds=Optional(_SEEDS),
         random_labels=Bool(), **_WIDE, example=dict(n_labels=10, width=2, updates=1, seeds=(0, 1)))
def wide_runs(n_labels: int, *, dropout: float = 0.0, weight_decay: float = 0.0,
              width: int | None = None, seeds: Sequence[int] | None = None, random_labels: bool = False,
              updates: int | None = None) -> list[WideRun]:
    """:func:`wide_run` for every seed of ``seeds`` (default
    ``SETTINGS.wide.seeds``; each seed draws its own label subset), trained
    together as one ensemble. Memoised: each call returns fresh copies."""
    settings = _wide_settings(n_labels, dropout, weight_decay, width, random_labels, updates)
    n_labels, dropout, weight_decay, width, updates = settings
    seeds = tuple(check_seeds(seeds, SETTINGS.wide.seeds))
    runs = _wide_runs(width, dropout, weight_decay, n_labels, seeds, random_labels, updates)
    return _finished_wide(runs, weight_decay, dropout)


@declare(n_labels=_LABELS, dropout=Probability(), weight_decay=Float(0.0), seed=Seed(), random_labels=Bool(),
         **_WIDE, example=dict(n_labels=10, width=2, updates=1))
def wide_run(n_labels: int, *, dropout: float = 0.0, weight_decay: float = 0.0,
             width: int | None = None, seed: int = 0, random_labels: bool = False,
             updates: int | None = None) -> WideRun:
    """Train the wide net ``[64, width, width, 10]`` (ReLU, He
    initialisation, :class:`InvertedDropout` of rate ``dropout`` after each
    hidden layer) on ``n_labels`` balanced training images (the subset of
    ``seed``) for about ``updates`` mini-batch updates (whole epochs), with
    ``weight_decay``; with ``random_labels`` the labels of those images are
    permuted at random first (the images keep no relation to their labels).
    Test accuracy is on the 359 test images. Memoised: each call returns a
    fresh copy. A run that diverges raises a ValueError naming the settings."""
    settings = _wide_settings(n_labels, dropout, weight_decay, width, random_labels, updates)
    n_labels, dropout, weight_decay, width, updates = settings
    seeds, k = _ensemble_seeds(check_seed(seed), SETTINGS.wide.seeds)
    run = _wide_runs(width, dropout, weight_decay, n_labels, seeds, random_labels, updates)[k]
    return _finished_wide([run], weight_decay, dropout)[0]


@declare(dropout=Probability(), n_labels=_LABELS, example=dict(dropout=0.5, n_labels=50))
def tuned_updates(dropout: float, n_labels: int) -> tuple[int, pd.DataFrame]:
    """The number of updates of ``SETTINGS.wide.updates_grid`` at which the
    wide net with ``dropout`` and ``n_labels`` labels reaches the best mean
    validation accuracy (the validation split of :func:`tuned_lr`, five
    tuning seeds; at the largest budget every fitting image), and the table
    of the grid (``updates``, ``validation accuracy``).

    One run per tuning seed, of the grid's largest number of updates, gives
    every grid point: a shorter run is the same run stopped earlier (the same
    mini-batches and dropout masks in the same order; evaluation draws
    nothing), so the accuracy is read at the epoch where it would stop."""
    dropout = float(check_probability(dropout, "dropout"))
    n_labels = check_positive_int(n_labels, "n_labels")
    wide = SETTINGS.wide
    fitting = min(n_labels, len(_data(True)[2]))
    steps = math.ceil(fitting / wide.batch_size)
    stops = {int(u): math.ceil(int(u) / steps) for u in wide.updates_grid}
    runs = _wide_runs(wide.width, dropout, 0.0, n_labels, _tuning_seeds(wide.seeds), False, max(stops),
                      validation=True, record_every=math.gcd(*stops.values()))
    _finished_wide(runs, 0.0, dropout)
    rows = []
    for updates, epoch in stops.items():
        accuracy = [r.history.test_acc[r.history.epoch.index(epoch)] for r in runs]
        rows.append({"updates": updates, "validation accuracy": float(np.mean(accuracy))})
    table = pd.DataFrame(rows)
    return int(table.loc[table["validation accuracy"].idxmax(), "updates"]), table


def _wide_row(run: WideRun, **keys: Any) -> dict[str, Any]:
    h = run.history
    return {**keys, "parameters": run.parameters, "train accuracy": h.train_acc[-1],
            "test accuracy": h.test_acc[-1], "gap": run.gap}


@declare(rates=SequenceOf(Probability()), labels=Optional(SequenceOf(_LABELS)), weight_decay=Float(0.0),
         seeds=Optional(_SEEDS), **_WIDE, example=dict(rates=(0.0,), labels=(10,), width=2, updates=1, seeds=(0,)))
def dropout_grid(rates: Sequence[float] = (0.0, 0.5),
                 labels: Sequence[int] | None = None, *,
                 weight_decay: float = 0.0, seeds: Sequence[int] | None = None, width: int | None = None,
                 updates: int | None = None) -> pd.DataFrame:
    """Claim C13 (dropout) and C8 (labels): one row per (dropout, labels,
    seed) with the wide net's final train and test accuracy and their gap
    (``labels=None`` means ``SETTINGS.wide.label_budgets``, ``seeds=None``
    ``SETTINGS.wide.seeds``; ``width`` and ``updates`` go to :func:`wide_runs`)."""
    rows = []
    seeds = check_seeds(seeds, SETTINGS.wide.seeds)
    for p in rates:
        for n in SETTINGS.wide.label_budgets if labels is None else labels:
            runs = wide_runs(n, dropout=p, weight_decay=weight_decay, seeds=seeds, width=width, updates=updates)
            for s, run in zip(seeds, runs):
                rows.append(_wide_row(run, dropout=float(p), labels=int(n), seed=s,
                                      **{"weight decay": float(weight_decay)}))
    return pd.DataFrame(rows)


@declare(n_labels=_LABELS, dropout=Probability(), weight_decay=Positive(), seeds=Optional(_SEEDS), **_WIDE,
         example=dict(n_labels=10, seeds=(0,), width=2, updates=1))
def regularisation_comparison(n_labels: int = 150, *, dropout: float = 0.5,
                              weight_decay: float = 0.01, seeds: Sequence[int] | None = None,
                              width: int | None = None, updates: int | None = None
                              ) -> pd.DataFrame:
    """Claim C13 (dropout): the wide net with ``n_labels`` labels, with no
    regularisation, with dropout, with weight decay, and with both; one row
    per (regulariser, seed) (``seeds=None``: ``SETTINGS.wide.seeds``).
    ``width`` and ``updates`` go to :func:`wide_runs`."""
    dropout = float(check_probability(dropout, "dropout"))
    weight_decay = float(check_positive_float(weight_decay, "weight_decay"))
    settings = {"none": (0.0, 0.0), f"dropout {dropout:g}": (dropout, 0.0),
                f"weight decay {weight_decay:g}": (0.0, weight_decay),
                "both": (dropout, weight_decay)}
    seeds = check_seeds(seeds, SETTINGS.wide.seeds)
    rows = []
    for name, (p, wd) in settings.items():
        runs = wide_runs(n_labels, dropout=p, weight_decay=wd, seeds=seeds, width=width, updates=updates)
        for s, run in zip(seeds, runs):
            rows.append(_wide_row(run, regulariser=name, seed=s))
    return pd.DataFrame(rows)


@declare(widths=Optional(SequenceOf(Int(1, MAX_WIDTH))), n_labels=_LABELS, seeds=Optional(_SEEDS),
         updates=_WIDE["updates"], example=dict(widths=(2,), n_labels=10, updates=1, seeds=(0,)))
def width_sweep(widths: Sequence[int] | None = None, n_labels: int = 150, *,
                seeds: Sequence[int] | None = None, updates: int | None = None) -> pd.DataFrame:
    """Claim C8 (parameters): the wide net's train/test gap at several widths,
    with ``n_labels`` labels and no regularisation (``updates``: see
    :func:`wide_runs`). One row per (width, seed) (``widths=None``:
    ``SETTINGS.wide.widths``, ``seeds=None``: ``SETTINGS.wide.seeds``)."""
    rows = []
    seeds = check_seeds(seeds, SETTINGS.wide.seeds)
    for w in SETTINGS.wide.widths if widths is None else widths:
        for s, run in zip(seeds, wide_runs(n_labels, width=w, seeds=seeds, updates=updates)):
            rows.append(_wide_row(run, width=int(w), seed=s))
    return pd.DataFrame(rows)


@declare(n_labels=_LABELS, width=Int(1, MAX_WIDTH), updates=Int(1, MAX_STEPS), seed=Seed(),
         example=dict(n_labels=10, width=2, updates=1))
def random_label_run(n_labels: int = 300, *, width: int = 256, updates: int = 1000,
                     seed: int = 0) -> WideRun:
    """Zhang et al.'s test on the digits: the wide net trained on ``n_labels``
    images whose labels were permuted at random (no regularisation), one
    seed (a demonstration, not a comparison over seeds)."""
    return wide_runs(n_labels, width=width, updates=updates, seeds=(seed,), random_labels=True)[0]


# ------------------------------------------------------- the claims' comparisons

#: The four fixes of the deep sigmoid net that need no pretraining (claim C12).
FIXES = ("tanh + Glorot", "ReLU + He", "batch norm", "residual")


def _accuracies(runs: Sequence[Any]) -> np.ndarray:
    return np.array([r.history.test_acc[-1] for r in runs])


def _gaps(runs: Sequence[WideRun]) -> np.ndarray:
    return np.array([r.gap for r in runs])


@declare(seeds=Optional(_SEEDS), depth=Optional(Int(1, MAX_DEPTH)), **_DEEP_TRAINING,
         wide_width=Optional(Int(1, MAX_WIDTH)), updates=_WIDE["updates"],
         example=dict(seeds=(0, 1), depth=1, width=3, epochs=1, wide_width=2, updates=1))
def claim_comparisons(seeds: Sequence[int] | None = None, *, depth: int | None = None,
                      width: int | None = None, epochs: int | None = None,
                      wide_width: int | None = None, updates: int | None = None
                      ) -> dict[str, list[Any]]:
    """The comparisons behind the verdicts on C8, C12 and C13, judged by the
    book's rule (:func:`gradbook.stats.compare`): paired over ``seeds``
    (default ``SETTINGS.deep.seeds`` and ``SETTINGS.wide.seeds``), on test
    accuracy unless named otherwise.

    - C12 (the article: only pretraining gets round the vanishing gradient,
      so a fix without it gains nothing, ``claimed="equal"``): each of
      :data:`FIXES` against the plain sigmoid net;
    - C13: ReLU + He against the sigmoid net (``"greater"``), and dropout 0.5
      against the same wide net without it at each label budget, each arm
      trained for its own tuned number of updates (:func:`tuned_updates`);
    - C8: the train/test gap with the fewest labels against all labels, and
      with the last of ``SETTINGS.wide.widths`` against the second at
      ``SETTINGS.wide.n_labels`` labels (``"greater"``: more
      overfitting with fewer labels, with more parameters).

    ``depth``, ``width`` and ``epochs`` go to the deep nets; ``wide_width`` and
    ``updates`` (which then replaces the tuned numbers) to the wide nets: for
    small trial runs."""
    from ..stats import compare

    deep_seeds = check_seeds(seeds, SETTINGS.deep.seeds)
    wide_seeds = check_seeds(seeds, SETTINGS.wide.seeds)
    deep = {v: _accuracies(fix_runs(v, depth, deep_seeds, width=width, epochs=epochs))
            for v in ("sigmoid",) + FIXES}
    out: dict[str, list[Any]] = {
        "C12": [compare(deep[v], deep["sigmoid"], claimed="equal", name=v, baseline_name="sigmoid")
                for v in FIXES],
        "C13": [compare(deep["ReLU + He"], deep["sigmoid"], claimed="greater", name="ReLU + He",
                        baseline_name="sigmoid")],
    }
    budgets = SETTINGS.wide.label_budgets
    for n in budgets:
        arms = {}
        for p in (0.0, 0.5):
            u = updates if updates is not None else tuned_updates(p, n)[0]
            arms[p] = _accuracies(wide_runs(n, dropout=p, seeds=wide_seeds, width=wide_width, updates=u))
        out["C13"].append(compare(arms[0.5], arms[0.0], claimed="greater", name=f"dropout 0.5, {n} labels",
                                  baseline_name=f"no dropout, {n} labels"))
    few, every = (_gaps(wide_runs(n, seeds=wide_seeds, width=wide_width, updates=updates))
                  for n in (min(budgets), max(budgets)))
    widths = SETTINGS.wide.widths[1], SETTINGS.wide.widths[-1]
    n_labels = SETTINGS.wide.n_labels
    narrow, wide = (_gaps(wide_runs(n_labels, seeds=wide_seeds, width=w, updates=updates)) for w in widths)
    out["C8"] = [
        compare(few, every, claimed="greater", name=f"gap with {min(budgets)} labels",
                baseline_name=f"gap with {max(budgets)} labels"),
        compare(wide, narrow, claimed="greater", name=f"gap at width {widths[1]}",
                baseline_name=f"gap at width {widths[0]}"),
    ]
    return out


#: The claims whose verdict here rests on something other than a comparison
#: over seeds, and why.
ARGUED: dict[str, str] = {
    "C14": "a wall-clock measurement, one run per route (its cost is its arithmetic, which does not "
           "vary by seed): is every pretrained route slower than the ReLU net trained from scratch? "
           "Chapter 3 decides the accuracy side by the rule",
}

#: The pretrained routes whose cost is compared with the ReLU net's (C14).
_PRETRAINED = ("DBN", "SAE", "DAE")


def claim_verdicts() -> dict[str, str]:
    """The verdict of each claim checked in this chapter: C8, C12 and C13 by
    the book's rule (:func:`gradbook.stats.verdict`) from
    :func:`claim_comparisons` with the chapter's settings; C14 (its cost)
    from :func:`pretraining_cost`: confirmed if every pretrained route takes
    longer than the ReLU net from scratch (see :data:`ARGUED`)."""
    from ..stats import verdict

    found = {claim: verdict(comparisons) for claim, comparisons in claim_comparisons().items()}
    cost = pretraining_cost(("ReLU",) + _PRETRAINED).set_index("method")["total seconds"]
    found["C14"] = "confirmed" if all(cost[m] > cost["ReLU"] for m in _PRETRAINED) else "corrected"
    return found



# ---------------------------------------------------------------- C14: cost


@declare(methods=SequenceOf(Choice(_PRETRAINING_METHODS)), seeds=_SEEDS,
         example=dict(methods=("ReLU",), seeds=(0,)))
def pretraining_cost(methods: Sequence[str] = ("ReLU", "DBN", "SAE", "DAE"),
                     seeds: Sequence[int] = (0,)) -> pd.DataFrame:
    """Claim C14: wall time and test accuracy with all 1,438 labels, from
    chapter 3's :func:`gradbook.chapters.ch03_pretraining.finetune` (a 64-100-100-10 net; the
    pretrained stacks are fitted on the training images without labels).

    One row per (method, seed) with ``pretrain seconds``, ``finetune
    seconds``, ``total seconds`` and ``test accuracy``.
    """
    from .ch03_pretraining import finetune

    rows = []
    for method in methods:
        check_choice(method, "method", _PRETRAINING_METHODS)
        for s in check_seeds(seeds, (0,)):
            run = finetune(method, digits_train_size(), s)
            rows.append({"method": method, "seed": s, "pretrain seconds": run.pretrain_seconds,
                         "finetune seconds": run.finetune_seconds,
                         "total seconds": run.pretrain_seconds + run.finetune_seconds,
                         "test accuracy": run.test_accuracy})
    return pd.DataFrame(rows)


@declare(example=dict())
def clear_cache() -> None:
    """Forget the memoised runs (after changing :data:`SETTINGS`)."""
    _fix_runs.cache_clear()
    _wide_runs.cache_clear()


# ---------------------------------------------------------------- figures

#: Colour (a :data:`gradbook.plots.PALETTE` name) of each variant.
VARIANT_COLOURS = {"sigmoid": "blue", "sigmoid + Glorot": "sky", "tanh + Glorot": "orange",
                   "ReLU + He": "green", "batch norm": "purple", "residual": "vermillion"}


def _figure_run(variant: str, depth: int, width: int | None, epochs: int | None) -> FixRun:
    """Seed 0's run for the interactive figure: from the chapter's ensemble
    at the chapter's settings, trained alone at any other depth (the same
    numbers either way; see :func:`_ensemble_seeds`)."""
    chapter = depth == SETTINGS.deep.depth and width in (None, SETTINGS.deep.width) and epochs in (
        None, SETTINGS.deep.epochs)
    return fix_run(variant, depth, 0, width=width, epochs=epochs) if chapter else fix_runs(
        variant, depth, (0,), width=width, epochs=epochs)[0]


@declare(depth=Int(1, MAX_DEPTH), variant=Choice(VARIANTS), **_DEEP_TRAINING,
         example=dict(depth=1, variant="ReLU + He", width=3, epochs=1))
def fix_profile_figure(depth: int, variant: str, *, width: int | None = None, epochs: int | None = None):
    """Interactive figure: the gradient profile of ``variant`` with ``depth``
    hidden layers (seed 0) at initialisation and after 1, 4 and 12 epochs,
    and its test accuracy through training beside every other variant's
    (``width`` and ``epochs``: see :func:`fix_run`)."""
    import matplotlib.pyplot as plt

    from ..plots import PALETTE, layer_log_axis

    check_choice(variant, "variant", VARIANTS)
    depth = check_positive_int(depth, "depth")
    run = _figure_run(variant, depth, width, epochs)
    fig, (ax_p, ax_a) = plt.subplots(1, 2, figsize=(10, 3.6))
    shades = plt.get_cmap("Greys")(np.linspace(0.35, 1.0, len(SETTINGS.deep.profile_epochs)))
    layers = np.arange(1, depth + 1)
    for epoch, shade in zip(SETTINGS.deep.profile_epochs, shades):
        if epoch in run.profile_epochs:
            ax_p.plot(layers, run.profile_at(epoch), "o-", color=shade, lw=1.8, ms=4,
                      label=f"epoch {epoch}")
    # plain-text tick labels: mathtext would cost a third of each frame's time
    layer_log_axis(ax_p, max(8, depth), range(-8, 3, 2), (1e-9, 1e2), plain_labels=True)
    ax_p.set_ylabel(r"$\|\partial C/\partial W^l\|$")
    ax_p.set_title(f"{variant}, {depth} hidden layers: last/first at init "
                   f"{run.ratio[0]:.3g}", fontsize=10, y=1.0)
    ax_p.legend(fontsize=8, loc="lower right")
    for other in VARIANTS:
        h = _figure_run(other, depth, width, epochs).history
        chosen = other == variant
        ax_a.plot(h.epoch, h.test_acc, color=PALETTE[VARIANT_COLOURS[other]],
                  lw=2.6 if chosen else 1.1, alpha=1.0 if chosen else 0.55, label=other)
    ax_a.set_ylim(0, 1.02)
    ax_a.set_xlabel("epoch")
    ax_a.set_ylabel("test accuracy")
    ax_a.set_title(f"{variant}: {run.history.test_acc[-1]:.3f} after "
                   f"{run.history.epoch[-1]} epochs", fontsize=10, y=1.0)
    ax_a.legend(fontsize=7.5, loc="center right")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.9, wspace=0.25)
    return fig


@declare(dropout=Probability(), labels=_LABELS, weight_decay=Float(0.0), rates=SequenceOf(Probability()), **_WIDE,
         example=dict(dropout=0.0, labels=10, width=2, updates=1))
def dropout_figure(dropout: float, labels: int, weight_decay: float = 0.0,
                   rates: Sequence[float] = (0.0, 0.5), *, width: int | None = None,
                   updates: int | None = None):
    """Interactive figure: training and test accuracy of the wide net through
    training, with ``dropout`` and ``labels`` (the unregularised run in grey
    for comparison), and the final gap for every label count and each of
    ``rates`` (the slider's dropout rates); ``width`` and ``updates`` go to
    :func:`wide_run`."""
    import matplotlib.pyplot as plt

    from ..plots import PALETTE

    run = wide_run(labels, dropout=dropout, weight_decay=weight_decay, width=width, updates=updates)
    base = wide_run(labels, width=width, updates=updates)
    fig, (ax_c, ax_g) = plt.subplots(1, 2, figsize=(10, 3.6))
    pairs = [(run, PALETTE["vermillion"], f"dropout {dropout:g}")]
    if dropout > 0 or weight_decay > 0:  # else run is the unregularised run itself
        pairs.insert(0, (base, PALETTE["grey"], "no dropout"))
    for r, colour, name in pairs:
        done = np.asarray(r.history.epoch) * r.steps_per_epoch
        ax_c.plot(done, r.history.train_acc, "--", color=colour, lw=1.6,
                  label=f"{name}, train")
        ax_c.plot(done, r.history.test_acc, "-", color=colour, lw=2,
                  label=f"{name}, test")
    ax_c.set_ylim(0, 1.02)
    ax_c.set_xlabel("updates")
    ax_c.set_ylabel("accuracy")
    ax_c.set_title(f"{labels} labels, dropout {dropout:g}: gap {run.gap:.3f}", fontsize=10,
                   y=1.0)
    ax_c.legend(fontsize=8, loc="lower right")
    grid = dropout_grid(rates=tuple(sorted(set(rates) | {float(dropout)})),
                        weight_decay=weight_decay, width=width, updates=updates)
    for p, part in grid.groupby("dropout"):
        chosen = p == dropout
        part = part.groupby("labels")["gap"].agg(["mean", "std"]).reset_index()
        ax_g.errorbar(part["labels"], part["mean"], yerr=part["std"], capsize=3, fmt="none",
                      color=PALETTE["vermillion"] if chosen else PALETTE["grey"], alpha=0.8)
        ax_g.plot(part["labels"], part["mean"], "o-", lw=2.4 if chosen else 1.1,
                  alpha=1.0 if chosen else 0.6,
                  color=PALETTE["vermillion"] if chosen else PALETTE["grey"],
                  label=f"dropout {p:g}")
    here = grid[(grid["dropout"] == float(dropout)) & (grid["labels"] == labels)]["gap"]
    ax_g.plot([labels], [here.mean() if len(here) else run.gap], "o", ms=12, mfc="none", mec="black",
              mew=1.5)
    ax_g.set_xscale("log")
    ax_g.set_xticks(SETTINGS.wide.label_budgets, [str(n) for n in SETTINGS.wide.label_budgets])
    ax_g.xaxis.set_minor_locator(plt.NullLocator())
    ax_g.set_ylim(-0.02, 0.5)
    ax_g.set_xlabel("labelled training images")
    ax_g.set_ylabel("train - test accuracy")
    ax_g.set_title(f"Overfitting gap at the end (mean \u00b1 sd, {len(SETTINGS.wide.seeds)} seeds)",
                   fontsize=10, y=1.0)
    ax_g.legend(fontsize=8, loc="upper right")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.9, wspace=0.25)
    return fig
