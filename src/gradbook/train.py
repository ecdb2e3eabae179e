r"""The book's one training loop: mini-batch SGD (with momentum) for every
net of the book (MLPs, CNNs, recurrent nets), with optional gradient
clipping, a divergence stop, and a history of losses, accuracies, gradient
norms and, when asked, the per-layer diagnostics of :mod:`gradbook.diagnostics`.

Only parameters with ``requires_grad=True`` are updated, so freezing layers
is ``layer.requires_grad_(False)`` before calling :func:`train`.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import nn

from . import diagnostics
from ._validate import (
    MAX_SEEDS,
    MAX_STEPS,
    Array,
    Bool,
    Choice,
    Constraint,
    Float,
    Function,
    Instance,
    Int,
    Module,
    Optional,
    Positive,
    Probability,
    Seed,
    as_features,
    as_labels,
    as_sequences,
    check_choice,
    check_module,
    check_positive_float,
    check_positive_int,
    check_probability,
    check_seed,
    declare,
)
from ._validate import (
    Sequence as SequenceOf,
)
from .losses import LOSSES, REGRESSION_LOSSES, loss_value
from .models.ensemble import Ensemble
from .models.mlp import io_sizes
from .models.rnn import TASK_LOSSES, RecurrentNet, as_targets

__all__ = [
    "DEFAULT_EPOCHS",
    "STEP_MAX_LOSS",
    "CLIP_KINDS",
    "MAX_THREADS",
    "Clip",
    "show_progress",
    "set_threads",
    "History",
    "evaluate",
    "train",
    "check_clip",
    "global_norm",
    "clip_by_global_norm",
    "clip_by_value",
]

#: Epochs of :func:`train` when neither ``epochs`` nor ``steps`` is given.
DEFAULT_EPOCHS = 10

#: The default ``max_loss`` of :func:`train` in step mode: a mini-batch loss
#: above it counts as divergence. Epoch mode has no bound by default.
STEP_MAX_LOSS = 1e6

#: The kinds of gradient clipping: ``clip=("norm", t)`` or ``("value", t)``.
CLIP_KINDS = ("norm", "value")

#: Results :func:`train` builds; users read them, never build them.
__undeclared__ = {"History": "the record train() returns; users read it, they do not build it",
                  "Clip": "the declared constraint of a clip argument (see gradbook._validate), "
                          "shared by train() and chapter 6"}

#: The most threads :func:`set_threads` accepts: the machine's CPUs.
MAX_THREADS = os.cpu_count() or 1


class Clip(Constraint):
    """A clipping setting: None, or a pair (kind, threshold), kind in
    CLIP_KINDS, threshold > 0 (its messages say which part is wrong)."""

    def check(self, value: Any, name: str) -> None:
        _check_clip(value, name)

    def bad_values(self) -> list[Any]:
        return [1.0, "norm", ("both", 1.0), ("norm", -1.0), ("norm", math.nan),
                ("norm", math.inf), ("norm", "1"), ("norm", 1.0, 2.0)]

    def describe(self) -> str:
        return "None, ('norm', threshold) or ('value', threshold) with threshold > 0"


class _Pair(Constraint):
    """A pair (first, second), each accepted by its constraint."""

    def __init__(self, first: Constraint, second: Constraint, what: str) -> None:
        self.first, self.second, self.what = first, second, what

    def check(self, value: Any, name: str) -> None:
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise TypeError(f"{name} must be {self.describe()}; got {type(value).__name__}")
        self.first.check(value[0], f"{name}[0]")
        self.second.check(value[1], f"{name}[1]")

    def bad_values(self) -> list[Any]:
        good = [self._good(self.first), self._good(self.second)]
        return ([None, 3, "ab", (good[0],)]
                + [(v, good[1]) for v in self.first.bad_values()[:3]]
                + [(good[0], v) for v in self.second.bad_values()[:3]])

    @staticmethod
    def _good(rule: Constraint) -> Any:
        import numpy as np

        for v in (np.zeros((2, 4)), np.zeros(2, dtype=np.int64)):
            try:
                rule.check(v, "value")
                return v
            except (TypeError, ValueError):
                pass
        return None

    def describe(self) -> str:
        return self.what


#: What an ``X`` of :func:`train` and :func:`evaluate` accepts: rows, or sequences for a recurrent net.
_INPUTS = Array((2, 3))
#: Their ``y``: labels (n,), or targets (n, n_outputs) for "mse".
_TARGETS = Array((1, 2))
#: What :func:`train` also accepts for an ensemble of recurrent nets: one block of
#: sequences (N, n, time, features) and of targets (N, n, outputs) per member.
_TRAIN_INPUTS = Array((2, 3, 4))
_TRAIN_TARGETS = Array((1, 2, 3))
#: A gradient or a list of gradients.
_GRADS = Instance(torch.Tensor, what="a torch.Tensor") | SequenceOf(Instance(torch.Tensor, what="a torch.Tensor"))


@declare(progress=Bool() | Choice(("auto",)), example=dict(progress=False))
def show_progress(progress: bool | str = "auto") -> bool:
    """Whether to draw a progress bar.

    ``"auto"`` draws one in live use and none while the book is built (the
    build sets ``GRADBOOK_BUILD=1``), so no progress-bar widgets end up on the
    static pages.
    """
    if isinstance(progress, str) and progress == "auto":
        return os.environ.get("GRADBOOK_BUILD", "") in ("", "0")
    if not isinstance(progress, bool):
        raise ValueError(f"progress must be True, False or 'auto'; got {progress!r:.80}")
    return progress


@declare(n=Int(1, MAX_THREADS), example=dict(n=1))
def set_threads(n: int = 1) -> None:
    """Use ``n`` CPU threads in torch, 1 to ``os.cpu_count()`` (more only
    oversubscribe the machine; thousands exhaust OpenMP's memory). The book's
    nets are tiny: on a 2-core machine one thread is about three times faster
    per step than two."""
    n = check_positive_int(n, "n")
    if n > MAX_THREADS:
        raise ValueError(f"n must be at most the number of CPUs, os.cpu_count() = {MAX_THREADS}; got {n}")
    torch.set_num_threads(n)


@dataclass
class History:
    """What :func:`train` recorded.

    Per record (``epoch``; see ``record_every``): ``epoch[0] == 0`` is the
    state before training; later entries count completed epochs (epoch mode)
    or updates (step mode). ``train_loss``/``test_loss`` have one value per
    record, ``train_acc``/``test_acc`` too except for the "mse" loss (no
    accuracy: they stay empty). ``bias_grad``, ``weight_change`` and
    ``saturated`` hold one list (one value per layer) for each record in
    ``diag_epoch`` when diagnostics were asked for, else stay empty.

    Per update: ``step_loss`` is the loss of every mini-batch whose update
    was taken, in order; ``grad_norms`` the global gradient norm before
    clipping at each of them (recorded when clipping or in step mode, else
    empty). ``steps`` counts the updates taken.

    If the run diverged, ``diverged`` is True, ``diverged_at`` the step at
    which it stopped (``steps == diverged_at``: no update was taken there)
    and ``reason`` says why. Every recorded value is finite.
    ``seconds`` (the wall time) is not compared by ``==``.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    bias_grad: list[list[float]] = field(default_factory=list)
    weight_change: list[list[float]] = field(default_factory=list)
    saturated: list[list[float]] = field(default_factory=list)
    diag_epoch: list[int] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    steps: int = 0
    diverged: bool = False
    diverged_at: int | None = None
    reason: str = ""
    seconds: float = field(default=0.0, compare=False)

    def first_epoch_reaching(self, accuracy: float, split: str = "test") -> float:
        """The first recorded epoch at which the ``split`` ("test" or "train")
        accuracy reached ``accuracy``; NaN if it never did."""
        accuracy = check_positive_float(accuracy, "accuracy", allow_zero=True)
        values = {"test": self.test_acc, "train": self.train_acc}[check_choice(split, "split", ("test", "train"))]
        reached = [e for e, a in zip(self.epoch, values) if a >= accuracy]
        return reached[0] if reached else math.nan

    def to_frame(self):
        """The per-record values as a pandas DataFrame (one column per layer
        for the diagnostics: ``bias_grad_1``, ``weight_change_1``, ...)."""
        import pandas as pd

        data: dict[str, Any] = {"epoch": self.epoch, "train_loss": self.train_loss}
        if len(self.train_acc) == len(self.epoch):
            data["train_acc"] = self.train_acc
        if self.test_loss:
            data["test_loss"] = self.test_loss
            if len(self.test_acc) == len(self.test_loss):
                data["test_acc"] = self.test_acc
        frame = pd.DataFrame(data)
        if not self.diag_epoch:
            return frame
        diag: dict[str, Any] = {"epoch": self.diag_epoch}
        for name in ("bias_grad", "weight_change", "saturated"):
            rows = getattr(self, name)
            for j in range(len(rows[0])):
                diag[f"{name}_{j + 1}"] = [r[j] for r in rows]
        return frame.merge(pd.DataFrame(diag), on="epoch", how="left")


# --------------------------------------------------------------------------
# what differs between feed-forward and recurrent nets
# --------------------------------------------------------------------------


def _check_loss(model: Any, loss: str | None) -> str:
    """The loss for ``model``: "mse" or "softmax" for a recurrent net (default
    "mse"), "softmax" or "sigmoid" otherwise (default "softmax")."""
    if isinstance(model, RecurrentNet):
        return check_choice("mse" if loss is None else loss, "loss", TASK_LOSSES)
    return check_choice("softmax" if loss is None else loss, "loss", LOSSES)


def _check_data(model: nn.Module, X: Any, y: Any, loss: str, x_name: str, y_name: str
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets checked against ``model``: sequences (n, time,
    features) and last-step targets for a recurrent net, rows (n, features)
    and class labels otherwise."""
    if isinstance(model, RecurrentNet):
        X = as_sequences(X, x_name, n_features=model.input_size).detach()
        return X, as_targets(y, loss, X.shape[0], model.output_size, y_name)
    n_features, n_classes = io_sizes(model)
    X = as_features(X, x_name, n_features=n_features)
    return X, as_labels(y, y_name, n_samples=X.shape[0], n_classes=n_classes)


def _outputs(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """One score per output: a recurrent net's readout at the last step."""
    return model.last_output(X) if isinstance(model, RecurrentNet) else model(X)


def _loss_and_accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss: str
                       ) -> tuple[float, float | None]:
    """:func:`evaluate` on checked data (the loop's records)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = _outputs(model, X)
            value = float(loss_value(logits, y, loss))
            acc = None if loss == "mse" else float((logits.argmax(1) == y).float().mean())
    finally:
        model.train(was_training)
    return value, acc


@declare(model=Module(), X=_INPUTS, y=_TARGETS, loss=Optional(Choice(LOSSES + REGRESSION_LOSSES)),
         example=lambda: dict(model=_example_net(), X=torch.rand(6, 4), y=torch.tensor([0, 1, 2] * 2)))
def evaluate(model: nn.Module, X, y, loss: str | None = None) -> tuple[float, float | None]:
    """Mean loss and accuracy of ``model`` on ``(X, y)``.

    ``model`` is a net that maps rows of ``X`` to one score per class (an
    MLP, a CNN that reshapes its rows), or a recurrent net
    (:class:`gradbook.models.rnn.RecurrentNet`) scored at the last step of
    the sequences ``X`` (n, time, features). ``loss`` as in :func:`train`;
    the accuracy is None for "mse".
    """
    check_module(model)
    loss = _check_loss(model, loss)
    X, y = _check_data(model, X, y, loss, "X", "y")
    return _loss_and_accuracy(model, X, y, loss)


def _example_net() -> nn.Module:
    from .models.mlp import mlp

    return mlp([4, 3, 3], seed=0)



def _trainable(model: nn.Module, callback: Any) -> list[torch.Tensor]:
    """The parameters ``train`` updates, after checking ``callback``."""
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable(epoch, model); got {type(callback).__name__}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameter (all have requires_grad=False)")
    return params


def _not_a_pair(diagnostics_data: Any) -> TypeError:
    return TypeError("diagnostics_data must be a pair (X, y) of rows and their labels; "
                     f"got {type(diagnostics_data).__name__}")

def _check_run(step_mode: bool, epochs: Any, steps: Any, n: int, record_every: Any, lr: Any,
               batch_size: Any, momentum: Any, weight_decay: Any, clip: Any, max_loss: Any) -> tuple:
    """The run's settings checked (shared by a single net's run and an
    ensemble's): total epochs or steps, record_every, lr, batch_size,
    momentum, weight_decay, clip and max_loss."""
    if step_mode:
        total = check_positive_int(steps, "steps", minimum=0)
    else:
        total = check_positive_int(DEFAULT_EPOCHS if epochs is None else epochs, "epochs", minimum=0)
    if total > MAX_STEPS:
        raise ValueError(f"{'steps' if step_mode else 'epochs'} must be at most {MAX_STEPS:,}; got {total:,}")
    if record_every is None:
        record_every = None if step_mode else 1
    else:
        record_every = check_positive_int(record_every, "record_every")
    lr = check_positive_float(lr, "lr")
    batch_size = check_positive_int(batch_size, "batch_size")
    if step_mode and batch_size > n:
        raise ValueError(f"batch_size must be at most the number of training samples ({n}) "
                         f"in step mode; got {batch_size}")
    if not step_mode and total * -(-n // batch_size) > MAX_STEPS:
        raise ValueError(f"epochs={total:,} over {n:,} samples in batches of {batch_size} would take "
                         f"{total * -(-n // batch_size):,} updates; at most {MAX_STEPS:,} (fewer epochs "
                         "or a larger batch_size)")
    momentum = check_probability(momentum, "momentum")
    weight_decay = check_positive_float(weight_decay, "weight_decay", allow_zero=True)
    clip = _check_clip(clip)
    if max_loss is None:
        max_loss = STEP_MAX_LOSS if step_mode else math.inf
    elif not (isinstance(max_loss, (int, float)) and not isinstance(max_loss, bool) and max_loss == math.inf):
        max_loss = check_positive_float(max_loss, "max_loss")
    return total, record_every, lr, batch_size, momentum, weight_decay, clip, max_loss


# --------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------


@declare(
    model=Module(), X=_TRAIN_INPUTS, y=_TRAIN_TARGETS,
    epochs=Optional(Int(0, MAX_STEPS)), steps=Optional(Int(0, MAX_STEPS)),
    lr=Positive(), batch_size=Int(1), momentum=Probability(), weight_decay=Float(0.0),
    loss=Optional(Choice(LOSSES + REGRESSION_LOSSES)), seed=Optional(Seed() | SequenceOf(Seed(), 1, MAX_SEEDS)),
    clip=Clip(),
    max_loss=Optional(Positive() | Choice((math.inf,))),
    X_test=Optional(_TRAIN_INPUTS), y_test=Optional(_TRAIN_TARGETS),
    diagnostics_every=Optional(Int(1)),
    diagnostics_data=Optional(_Pair(Array(2), Array(1), "a pair (X, y) of rows and their labels")),
    record_every=Optional(Int(1)), progress=Bool() | Choice(("auto",)),
    callback=Optional(Function()),
    example=lambda: dict(model=_example_net(), X=torch.rand(6, 4), y=torch.tensor([0, 1, 2] * 2),
                         epochs=1, batch_size=3, progress=False),
)
def train(
    model: nn.Module,
    X,
    y,
    *,
    epochs: int | None = None,
    steps: int | None = None,
    lr: float = 0.1,
    batch_size: int = 10,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    loss: str | None = None,
    seed: int | Sequence[int] | None = None,
    clip: tuple[str, float] | None = None,
    max_loss: float | None = None,
    X_test=None,
    y_test=None,
    diagnostics_every: int | None = None,
    diagnostics_data: tuple[Any, Any] | None = None,
    record_every: int | None = None,
    progress: bool | str = "auto",
    callback: Callable[[int, nn.Module], None] | None = None,
) -> History | list[History]:
    r"""Train ``model`` in place with mini-batch SGD and return its history.

    ``model`` may be an :class:`~gradbook.models.ensemble.Ensemble` of N
    nets (one per seed): then every member is trained as if alone, in one
    batched pass, and the result is a list of N histories (see *Ensembles*
    below).

    Two ways to draw the mini-batches (give at most one of ``epochs`` and
    ``steps``; neither means ``epochs=10``):

    - **epoch mode** (``epochs``): each epoch visits the training set once in
      a seeded random order, in mini-batches of ``batch_size``;
    - **step mode** (``steps``): each of ``steps`` updates draws
      ``batch_size`` distinct samples at random (seeded), as recurrent nets
      are usually trained.

    Each update is

    .. math:: v \leftarrow \mu v + \nabla_\theta C_{batch},\qquad
              \theta \leftarrow \theta - \eta v

    (``torch.optim.SGD``), with :math:`\eta` = ``lr`` and :math:`\mu` =
    ``momentum``; with ``clip`` the gradient is first clipped by
    :func:`clip_by_global_norm` (``("norm", t)``) or :func:`clip_by_value`
    (``("value", t)``).

    The run stops early, without raising, when it diverges: a mini-batch loss
    that is NaN, infinite or above ``max_loss``, or (where the gradient norm
    is measured: with ``clip`` or in step mode) a gradient that is not
    finite, stops it before that update; so does a record (below) that is
    not finite. The history then has ``diverged=True``, ``diverged_at`` and
    ``reason``, and holds finite values only.

    **Ensembles.** For an ensemble, ``X`` is either rows (n, features)
    shared by all members or one block per member (N, n, features), with
    labels (n,) or (N, n) (:func:`gradbook.models.ensemble.stack_inputs`);
    likewise ``X_test``/``y_test``. Member k's mini-batches come from its own
    generator seeded with ``seed[k]`` (default ``model.seeds[k]``), its update
    is the SGD rule above on its own gradient (clipped by its own global
    norm), and it stops alone when it diverges. Each history's ``seconds`` is
    the ensemble's wall time divided by N. The loss is "softmax" or
    "sigmoid"; for an ensemble of recurrent nets (chapter 6's), ``X`` is
    sequences (n, time, features) or (N, n, time, features) and the loss
    "mse" (targets (n, outputs) or (N, n, outputs)) or "softmax".

    Parameters
    ----------
    model : the net (changed in place): any ``nn.Module`` that maps rows of
        ``X`` to one score per class (where its first (last) layer with
        parameters is an ``nn.Linear``, ``X``'s width (the labels' range) is
        checked against it), or a :class:`gradbook.models.rnn.RecurrentNet`
        (:class:`~gradbook.models.rnn.VanillaRNN`,
        :class:`~gradbook.models.rnn.LSTMNet`), trained on its output at the
        last time step (``model.last_output``).
    X, y : training inputs and targets: rows (n, n_features) and labels (n,);
        for a recurrent net, sequences (n, time, input_size) and targets
        (n, output_size) for "mse" or labels (n,) for "softmax".
    epochs, steps : how long to train (see above); ``steps`` needs
        ``batch_size <= n``.
    lr, batch_size, momentum, weight_decay : the optimiser's settings.
    loss : "softmax" (categorical cross-entropy, the default) or "sigmoid"
        (Nielsen's) for a feed-forward net; "mse" (squared error summed over
        the outputs, the default) or "softmax" for a recurrent net. See
        :mod:`gradbook.losses`.
    seed : seeds the order of the mini-batches (None: 0). For an ensemble,
        None (each member's own seed, ``model.seeds``) or one seed per member.
    clip : None, ``("norm", t)`` or ``("value", t)`` with t > 0.
    max_loss : a mini-batch loss above this counts as divergence. None:
        :data:`STEP_MAX_LOSS` (1e6) in step mode, no bound in epoch mode.
    X_test, y_test : optional held-out data, evaluated at every record.
    record_every : evaluate (and call ``callback``) at the start, after every
        ``record_every``-th epoch (step) and after the last. None: every
        epoch in epoch mode, only the start and the end in step mode.
    diagnostics_every : if set, record per-layer ``bias_grad`` (Nielsen's
        :math:`\|\delta^l\|`), ``weight_change`` (relative to the start) and
        ``saturated`` at every record whose epoch (step) is a multiple of it,
        and at the start. Feed-forward nets only.
    diagnostics_data : ``(X, y)`` on which the gradient norms are measured;
        by default the first 1,000 training samples (as Nielsen does).
    progress : True, False, or "auto" (see :func:`show_progress`).
    callback : optional ``callback(epoch, model)`` (the record's epoch or
        step), called after each record (and once at the start), e.g. to take
        a measurement that the history does not hold. It must not change the
        model. The model is in training mode when it runs: a forward pass
        there samples dropout masks and moves batch-norm running statistics,
        so call ``model.eval()`` (and ``model.train()`` after) around such a
        measurement.
    """
    if epochs is not None and steps is not None:
        raise ValueError(f"give epochs or steps, not both; got epochs={epochs!r:.40} and steps={steps!r:.40}")
    check_module(model)
    step_mode = steps is not None
    if isinstance(model, Ensemble):
        return _train_ensemble(
            model, X, y, step_mode=step_mode, epochs=epochs, steps=steps, lr=lr, batch_size=batch_size,
            momentum=momentum, weight_decay=weight_decay, loss=loss, seed=seed, clip=clip, max_loss=max_loss,
            X_test=X_test, y_test=y_test, diagnostics_every=diagnostics_every,
            diagnostics_data=diagnostics_data, record_every=record_every, progress=progress, callback=callback)
    recurrent = isinstance(model, RecurrentNet)
    loss = _check_loss(model, loss)
    X, y = _check_data(model, X, y, loss, "X", "y")
    n = X.shape[0]
    if (X_test is None) != (y_test is None):
        raise ValueError("give both X_test and y_test, or neither")
    if X_test is not None:
        if recurrent:
            X_test, y_test = _check_data(model, X_test, y_test, loss, "X_test", "y_test")
        else:
            X_test = as_features(X_test, "X_test", n_features=X.shape[1])
            y_test = as_labels(y_test, "y_test", n_samples=X_test.shape[0], n_classes=io_sizes(model)[1])
    total, record_every, lr, batch_size, momentum, weight_decay, clip, max_loss = _check_run(
        step_mode, epochs, steps, n, record_every, lr, batch_size, momentum, weight_decay, clip, max_loss)
    seed = check_seed(0 if seed is None else seed)
    if diagnostics_data is not None and diagnostics_every is None:
        raise ValueError("diagnostics_data is only used with diagnostics_every; give both or neither")
    if diagnostics_every is not None:
        if recurrent:
            raise ValueError("diagnostics_every measures the layers of a feed-forward net; "
                             "for a recurrent net use gradbook.diagnostics.gradient_through_time")
        diagnostics_every = check_positive_int(diagnostics_every, "diagnostics_every")
        if diagnostics_data is None:
            diag_X, diag_y = X[:1000], y[:1000]
        elif isinstance(diagnostics_data, (tuple, list)) and len(diagnostics_data) == 2:
            diag_X, diag_y = diagnostics_data
        else:
            raise _not_a_pair(diagnostics_data)
        diag_X = as_features(diag_X, "diagnostics_data X", n_features=X.shape[1])
        diag_y = as_labels(diag_y, "diagnostics_data y", n_samples=diag_X.shape[0],
                           n_classes=None if recurrent else io_sizes(model)[1])
    params = _trainable(model, callback)

    # the gradient norm costs about a third of an MLP step, so epoch mode
    # measures it only when it clips
    track_norms = step_mode or clip is not None
    optimiser = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    history = History()
    start = diagnostics.snapshot(model) if diagnostics_every is not None else None
    unit = "step" if step_mode else "epoch"
    # what a divergence's reason names: the settings that let it happen
    settings = f"the run diverged with lr={lr:g}, momentum={momentum:g}, " + (
        f"clip={clip}: try a smaller lr or threshold" if clip is not None
        else "no clipping: try a smaller lr or clip=('norm', threshold)")

    def stop(reason: str) -> bool:
        history.diverged, history.diverged_at, history.reason = True, history.steps, reason
        return False

    def record(count: int) -> bool:
        """Evaluate and append one record; False (and a divergence) if not finite."""
        values: dict[str, Any] = {}
        values["train_loss"], values["train_acc"] = _loss_and_accuracy(model, X, y, loss)
        if X_test is not None:
            values["test_loss"], values["test_acc"] = _loss_and_accuracy(model, X_test, y_test, loss)
        if diagnostics_every is not None and count % diagnostics_every == 0:
            values["bias_grad"] = diagnostics.bias_gradient_norms(model, diag_X, diag_y, loss)
            values["weight_change"] = diagnostics.relative_weight_change(model, start)
            values["saturated"] = diagnostics.activation_stats(model, diag_X)["saturated"]
        for name, value in values.items():
            if value is not None and not all(math.isfinite(v) for v in (value if isinstance(value, list) else [value])):
                return stop(f"{name} is not finite at step {history.steps} "
                            f"(the record after {unit} {count}): {value}; {settings}")
        history.epoch.append(count)
        for name, value in values.items():
            if value is not None:
                getattr(history, name).append(value)
        if "bias_grad" in values:
            history.diag_epoch.append(count)
        if callback is not None:
            callback(count, model)
        return True

    def update(idx: torch.Tensor) -> bool:
        """One SGD step on the mini-batch ``idx``; False (and a divergence) if it must not be taken."""
        step = history.steps
        optimiser.zero_grad(set_to_none=True)
        value = loss_value(_outputs(model, X[idx]), y[idx], loss)
        current = value.item()
        if not math.isfinite(current):
            return stop(f"loss is {current} at step {step}; {settings}")
        if current > max_loss:
            return stop(f"loss {current:.3g} exceeds max_loss={max_loss:.3g} at step {step}; {settings}")
        value.backward()
        if track_norms:
            grads = [p.grad for p in params if p.grad is not None]
            if not all(bool(torch.isfinite(g).all()) for g in grads):
                return stop(f"gradient norm {float(torch.nn.utils.get_total_norm(grads))} at step {step}; "
                            f"{settings}")
            if clip is not None and clip[0] == "norm":
                clipped, norm = clip_by_global_norm(grads, clip[1])
            else:
                norm = global_norm(grads)
                clipped = None if clip is None else clip_by_value(grads, clip[1])
            if clipped is not None:
                for g, c in zip(grads, clipped):
                    g.copy_(c)
            history.grad_norms.append(norm)
        optimiser.step()
        history.step_loss.append(current)
        history.steps += 1
        return True

    t0 = time.perf_counter()
    bar = None
    if record(0):
        if show_progress(progress):
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc="training", leave=False)
        model.train()
        try:
            for count in range(1, total + 1):
                if step_mode:
                    if not update(torch.randperm(n, generator=gen)[:batch_size]):
                        break
                else:
                    order = torch.randperm(n, generator=gen)
                    if not all(update(order[i:i + batch_size]) for i in range(0, n, batch_size)):
                        break
                if bar is not None:
                    bar.update(1)
                    if step_mode:
                        bar.set_postfix(loss=f"{history.step_loss[-1]:.4g}", refresh=False)
                due = record_every is not None and count % record_every == 0
                if (due or count == total) and not record(count):
                    break
        finally:
            if bar is not None:
                bar.close()
    history.seconds = time.perf_counter() - t0
    return history


# --------------------------------------------------------------------------
# clipping
# --------------------------------------------------------------------------


def _check_clip(clip: Any, name: str = "clip") -> tuple[str, float] | None:
    if clip is None:
        return None
    if not isinstance(clip, (tuple, list)) or len(clip) != 2:
        raise ValueError(f"{name} must be None, ('norm', threshold) or ('value', threshold); got {clip!r:.80}")
    kind = check_choice(clip[0], f"{name}[0]", CLIP_KINDS)
    return kind, check_positive_float(clip[1], f"{name} threshold")


@declare(clip=Clip(), example=dict(clip=("norm", 1.0)))
def check_clip(clip: Any) -> tuple[str, float] | None:
    """``clip`` as None or a pair (kind, threshold), kind in :data:`CLIP_KINDS`."""
    return _check_clip(clip)


def _as_grads(grads: Any) -> list[torch.Tensor]:
    if isinstance(grads, torch.Tensor):
        grads = [grads]
    elif isinstance(grads, (str, bytes)) or not hasattr(grads, "__iter__"):
        raise TypeError(f"grads must be a torch.Tensor or a sequence of them; got {type(grads).__name__}")
    grads = list(grads)
    if not grads:
        raise ValueError("grads is empty; give at least one gradient tensor")
    for i, g in enumerate(grads):
        if not isinstance(g, torch.Tensor):
            raise TypeError(f"grads[{i}] must be a torch.Tensor; got {type(g).__name__}")
        if not torch.isfinite(g).all():
            raise ValueError(f"grads[{i}] contains NaN or infinite values; clipping needs finite gradients")
    return grads


@declare(grads=_GRADS, check=False, example=lambda: dict(grads=[torch.ones(2), torch.ones(1, 2)]))
def global_norm(grads: Sequence[torch.Tensor] | torch.Tensor) -> float:
    r"""The norm of all gradients stacked into one vector,
    :math:`\|g\| = \sqrt{\sum_i \|g_i\|^2}`."""
    return math.sqrt(sum(float(g.detach().double().pow(2).sum()) for g in _as_grads(grads)))


@declare(grads=_GRADS, max_norm=Positive(), check=False,
         example=lambda: dict(grads=[torch.ones(2), torch.ones(1, 2)], max_norm=1.0))
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


@declare(grads=_GRADS, clip_value=Positive(), check=False,
         example=lambda: dict(grads=[torch.ones(2), torch.ones(1, 2)], clip_value=0.5))
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
# the same loop for an ensemble: N members as one batched model
# --------------------------------------------------------------------------


def _member_data(model: Ensemble, X: Any, y: Any, x_name: str, y_name: str
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """An ensemble's inputs (N, n, features) and labels (N, n): one training
    set per member, or rows (n, features) and labels (n,) shared by all
    (expanded without a copy)."""
    N = model.size
    n_features, n_classes = io_sizes(model.template)
    if isinstance(X, torch.Tensor) and X.ndim == 3:
        if X.shape[0] != N:
            raise ValueError(f"{x_name} must be (n, features) rows shared by the members or ({N}, n, "
                             f"features), one block per member; got shape {tuple(X.shape)}")
        rows = as_features(X.reshape(-1, X.shape[-1]), x_name, n_features=n_features).view(X.shape)
    else:
        rows = as_features(X, x_name, n_features=n_features).expand(N, -1, -1)
    n = rows.shape[1]
    if isinstance(y, torch.Tensor) and y.ndim == 2:
        if tuple(y.shape) != (N, n):
            raise ValueError(f"{y_name} must be ({n},) labels shared by the members or ({N}, {n}), one "
                             f"row per member; got shape {tuple(y.shape)}")
        labels = as_labels(y.reshape(-1), y_name, n_classes=n_classes).view(N, n)
    else:
        labels = as_labels(y, y_name, n_samples=n, n_classes=n_classes).expand(N, -1)
    return rows, labels


def _member_sequences(model: Ensemble, X: Any, y: Any, loss: str, x_name: str, y_name: str
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """An ensemble of recurrent nets' inputs (N, n, time, features) and
    last-step targets ((N, n, outputs) for "mse", (N, n) labels for
    "softmax"): one training set per member, or one shared by all (expanded
    without a copy)."""
    N, net = model.size, model.template
    if isinstance(X, torch.Tensor) and X.ndim == 4:
        if X.shape[0] != N:
            raise ValueError(f"{x_name} must be (n, time, features) sequences shared by the members or "
                             f"({N}, n, time, features), one block per member; got shape {tuple(X.shape)}")
        seqs = as_sequences(X.reshape(-1, *X.shape[2:]), x_name, n_features=net.input_size).view(X.shape)
    else:
        seqs = as_sequences(X, x_name, n_features=net.input_size).detach()
        seqs = seqs.expand(N, *seqs.shape)
    n = seqs.shape[1]
    per_member = 3 if loss == "mse" else 2
    if isinstance(y, torch.Tensor) and y.ndim == per_member:
        if tuple(y.shape[:2]) != (N, n):
            raise ValueError(f"{y_name} must hold targets shared by the members or one block per member, "
                             f"({N}, {n}, ...); got shape {tuple(y.shape)}")
        flat = as_targets(y.reshape(N * n, *y.shape[2:]), loss, N * n, net.output_size, y_name)
        return seqs, flat.view(N, n, *flat.shape[1:])
    targets = as_targets(y, loss, n, net.output_size, y_name)
    return seqs, targets.expand(N, *targets.shape)


def _member_losses(logits: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Each member's mean loss, (N,), from outputs (N, batch, classes): the
    losses of :func:`gradbook.losses.loss_value`, member by member."""
    if loss == "mse":  # squared error summed over the outputs, as loss_value's "mse"
        return ((logits - y.to(logits.dtype)) ** 2).sum(2).mean(1)
    N, b, c = logits.shape
    flat, labels = logits.reshape(N * b, c), y.reshape(N * b)
    if loss == "softmax":
        return torch.nn.functional.cross_entropy(flat, labels, reduction="none").view(N, b).mean(1)
    target = torch.nn.functional.one_hot(labels, c).to(flat.dtype)
    per = torch.nn.functional.binary_cross_entropy_with_logits(flat, target, reduction="none")
    return per.view(N, b, c).sum(2).mean(1)


def _member_evaluation(model: Ensemble, X: torch.Tensor, y: torch.Tensor, loss: str
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Each member's mean loss and accuracy on its (N, n, ...) data, in evaluation mode."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(X)
            if loss == "mse":  # a recurrent net's regression: no accuracy
                return _member_losses(logits, y, loss), None
            return _member_losses(logits, y, loss), (logits.argmax(2) == y).float().mean(1)
    finally:
        model.train(was_training)


def _train_ensemble(model: Ensemble, X, y, *, step_mode: bool, epochs, steps, lr, batch_size, momentum,
                    weight_decay, loss, seed, clip, max_loss, X_test, y_test, diagnostics_every,
                    diagnostics_data, record_every, progress, callback) -> list[History]:
    """:func:`train` for an :class:`~gradbook.models.ensemble.Ensemble`: the
    same loop, member by member in one batched pass, one History per member.

    Each member k draws its mini-batches from its own generator (seeded with
    ``seed[k]``, by default ``model.seeds[k]``) exactly as a single net
    trained with that seed does, is updated by the same SGD rule (momentum,
    weight decay, clipping by its own global norm) and stops on its own when
    it diverges, while the others go on."""
    recurrent = isinstance(model.template, RecurrentNet)
    N = model.size
    loss = _check_loss(model.template, loss)
    if not recurrent and loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES} for an ensemble of classifiers; got {loss!r}")

    def member_data(X: Any, y: Any, x_name: str, y_name: str) -> tuple[torch.Tensor, torch.Tensor]:
        if recurrent:  # sequences (N, n, time, features), last-step targets
            return _member_sequences(model, X, y, loss, x_name, y_name)
        return _member_data(model, X, y, x_name, y_name)

    X, y = member_data(X, y, "X", "y")
    n = X.shape[1]
    if (X_test is None) != (y_test is None):
        raise ValueError("give both X_test and y_test, or neither")
    if X_test is not None:
        X_test, y_test = member_data(X_test, y_test, "X_test", "y_test")
    total, record_every, lr, batch_size, momentum, weight_decay, clip, max_loss = _check_run(
        step_mode, epochs, steps, n, record_every, lr, batch_size, momentum, weight_decay, clip, max_loss)
    if seed is None:
        seeds = model.seeds
    elif isinstance(seed, (list, tuple)):
        seeds = tuple(check_seed(s, f"seed[{i}]") for i, s in enumerate(seed))
        if len(seeds) != N:
            raise ValueError(f"seed must give one seed per member ({N}); got {len(seeds)}")
    else:
        raise TypeError(f"seed of an ensemble must be None (the members' seeds) or a sequence of {N} "
                        f"seeds; got {type(seed).__name__}")
    if diagnostics_data is not None and diagnostics_every is None:
        raise ValueError("diagnostics_data is only used with diagnostics_every; give both or neither")
    if diagnostics_every is not None:
        if recurrent:
            raise ValueError("diagnostics_every measures the layers of a feed-forward net; "
                             "for a recurrent net use gradbook.diagnostics.gradient_through_time")
        diagnostics_every = check_positive_int(diagnostics_every, "diagnostics_every")
        if diagnostics_data is None:
            diag_X, diag_y = X[:, :1000], y[:, :1000]
        elif isinstance(diagnostics_data, (tuple, list)) and len(diagnostics_data) == 2:
            diag_X, diag_y = member_data(*diagnostics_data, "diagnostics_data X", "diagnostics_data y")
        else:
            raise _not_a_pair(diagnostics_data)
    params = _trainable(model, callback)

    track_norms = step_mode or clip is not None
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    histories = [History() for _ in range(N)]
    alive = torch.ones(N, dtype=torch.bool)
    velocity: list[torch.Tensor | None] = [None] * len(params)
    # plain MLPs are measured all at once; other nets member by member
    batched_diagnostics = model.plain
    starts: Any = None
    if diagnostics_every is not None:
        starts = (model.weights() if batched_diagnostics
                  else [diagnostics.snapshot(model.member(k)) for k in range(N)])
    unit = "step" if step_mode else "epoch"
    members = torch.arange(N)
    settings = f"the run diverged with lr={lr:g}, momentum={momentum:g}, " + (
        f"clip={clip}: try a smaller lr or threshold" if clip is not None
        else "no clipping: try a smaller lr or clip=('norm', threshold)")

    def stop(k: int, reason: str) -> None:
        h = histories[k]
        h.diverged, h.diverged_at, h.reason = True, h.steps, reason
        alive[k] = False

    def record(count: int) -> None:
        values: dict[str, Any] = {}
        values["train_loss"], values["train_acc"] = _member_evaluation(model, X, y, loss)
        if X_test is not None:
            values["test_loss"], values["test_acc"] = _member_evaluation(model, X_test, y_test, loss)
        due = diagnostics_every is not None and count % diagnostics_every == 0
        layered: dict[str, torch.Tensor] = {}
        if due and batched_diagnostics:
            layered = model.layer_diagnostics(diag_X, diag_y, lambda out, t: _member_losses(out, t, loss),
                                              starts)
        for k in range(N):
            if not alive[k]:
                continue
            row = {name: float(v[k]) for name, v in values.items() if v is not None}
            if due and batched_diagnostics:
                row.update({name: [float(x) for x in v[k]] for name, v in layered.items()})
            elif due:
                net = model.member(k)
                row["bias_grad"] = diagnostics.bias_gradient_norms(net, diag_X[k], diag_y[k], loss)
                row["weight_change"] = diagnostics.relative_weight_change(net, starts[k])
                row["saturated"] = diagnostics.activation_stats(net, diag_X[k])["saturated"]
                model.resume_generators(k, net)  # measured in training mode, as a single net is
            bad = [(name, v) for name, v in row.items()
                   if not all(math.isfinite(x) for x in (v if isinstance(v, list) else [v]))]
            if bad:
                stop(k, f"{bad[0][0]} is not finite at step {histories[k].steps} "
                        f"(the record after {unit} {count}): {bad[0][1]}; {settings}")
                continue
            h = histories[k]
            h.epoch.append(count)
            for name, v in row.items():
                getattr(h, name).append(v)
            if due:
                h.diag_epoch.append(count)
        if callback is not None:
            callback(count, model)

    def update(idx: torch.Tensor) -> None:
        """One SGD step of every live member on its mini-batch ``idx[k]``."""
        for p in params:
            p.grad = None
        out = model(X[members[:, None], idx])
        losses = _member_losses(out, y[members[:, None], idx], loss)
        values = losses.detach().double()
        ok = alive.clone()
        for k in torch.nonzero(alive).flatten().tolist():
            v = float(values[k])
            if not math.isfinite(v):
                stop(k, f"loss is {v} at step {histories[k].steps}; {settings}")
            elif v > max_loss:
                stop(k, f"loss {v:.3g} exceeds max_loss={max_loss:.3g} at step {histories[k].steps}; {settings}")
        ok &= alive
        if not bool(ok.any()):
            return
        torch.where(ok, losses, torch.zeros_like(losses)).sum().backward()
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        if track_norms:
            norms = torch.sqrt(sum(g.detach().double().pow(2).flatten(1).sum(1) for g in grads))
            for k in torch.nonzero(ok).flatten().tolist():
                if not math.isfinite(float(norms[k])):
                    stop(k, f"gradient norm {float(norms[k])} at step {histories[k].steps}; {settings}")
            ok &= alive
            if clip is not None and clip[0] == "norm":
                scale = torch.where(norms > clip[1], clip[1] / norms, torch.ones_like(norms)).float()
                grads = [g * scale.view(-1, *([1] * (g.ndim - 1))) for g in grads]
            elif clip is not None:
                grads = [g.clamp(-clip[1], clip[1]) for g in grads]
        live = ok.float()
        with torch.no_grad():
            for i, (p, g) in enumerate(zip(params, grads)):
                mask = live.view(-1, *([1] * (p.ndim - 1)))
                d = g.nan_to_num() if weight_decay == 0 else g.nan_to_num() + weight_decay * p
                if momentum:
                    velocity[i] = d.clone() if velocity[i] is None else velocity[i] * momentum + d
                    d = velocity[i]
                p.sub_(lr * d * mask)
        for k in torch.nonzero(ok).flatten().tolist():
            h = histories[k]
            if track_norms:
                h.grad_norms.append(float(norms[k]))
            h.step_loss.append(float(values[k]))
            h.steps += 1

    t0 = time.perf_counter()
    bar = None
    record(0)
    if show_progress(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"training {N} nets", leave=False)
    model.train()
    try:
        for count in range(1, total + 1):
            if not bool(alive.any()):
                break
            if step_mode:
                update(torch.stack([torch.randperm(n, generator=g)[:batch_size] for g in gens]))
            else:
                order = torch.stack([torch.randperm(n, generator=g) for g in gens])
                for i in range(0, n, batch_size):
                    update(order[:, i:i + batch_size])
                    if not bool(alive.any()):
                        break
            if bar is not None:
                bar.update(1)
            due = record_every is not None and count % record_every == 0
            if due or count == total:
                record(count)
    finally:
        if bar is not None:
            bar.close()
    seconds = (time.perf_counter() - t0) / N
    for h in histories:
        h.seconds = seconds
    return histories
