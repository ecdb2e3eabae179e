"""The book's one training loop: mini-batch SGD (with momentum) on a
cross-entropy loss, with a history of losses, accuracies and, when asked, the
per-layer diagnostics of :mod:`gradbook.diagnostics`.

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
    as_features,
    as_labels,
    check_choice,
    check_positive_float,
    check_positive_int,
    check_probability,
    check_seed,
)
from .losses import LOSSES, loss_value
from .models.mlp import io_sizes
from .models.rnn import RecurrentNet, as_sequences, as_targets, check_recurrent_net, last_step_loss

__all__ = ["History", "train", "evaluate", "show_progress", "set_threads"]


def show_progress(progress: bool | str = "auto") -> bool:
    """Whether to draw a progress bar.

    ``"auto"`` draws one in live use and none while the book is built (the
    build sets ``GRADBOOK_BUILD=1``), so no progress-bar widgets end up on the
    static pages.
    """
    if progress == "auto":
        return os.environ.get("GRADBOOK_BUILD", "") in ("", "0")
    if not isinstance(progress, bool):
        raise ValueError(f"progress must be True, False or 'auto'; got {progress!r}")
    return progress


def set_threads(n: int = 1) -> None:
    """Use ``n`` CPU threads in torch. The book's nets are tiny: on a 2-core
    machine one thread is about three times faster per step than two."""
    torch.set_num_threads(check_positive_int(n, "n"))


@dataclass
class History:
    """What :func:`train` recorded, one entry per recorded epoch.

    ``epoch[0] == 0`` is the state before training. ``bias_grad``,
    ``weight_change`` and ``saturated`` hold one list (one value per layer)
    for each epoch in ``diag_epoch`` when diagnostics were asked for, else
    stay empty.
    ``step_loss`` is the loss of every mini-batch, in order.
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
    seconds: float = 0.0

    def to_frame(self):
        """The per-epoch records as a pandas DataFrame (one column per layer
        for the diagnostics: ``bias_grad_1``, ``weight_change_1``, ...)."""
        import pandas as pd

        data: dict[str, Any] = {"epoch": self.epoch, "train_loss": self.train_loss,
                                "train_acc": self.train_acc}
        if self.test_loss:
            data["test_loss"] = self.test_loss
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


def evaluate(model: nn.Module, X, y, loss: str = "softmax") -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``(X, y)``: any net that maps
    rows of ``X`` to one score per class (an MLP, a CNN that reshapes its rows)."""
    n_features, n_classes = io_sizes(model)
    X = as_features(X, "X", n_features=n_features)
    y = as_labels(y, "y", n_samples=X.shape[0], n_classes=n_classes)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(X)
            value = float(loss_value(logits, y, loss))
            acc = float((logits.argmax(1) == y).float().mean())
    finally:
        model.train(was_training)
    return value, acc


def train(
    model: nn.Module,
    X,
    y,
    *,
    epochs: int = 10,
    lr: float = 0.1,
    batch_size: int = 10,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    loss: str = "softmax",
    seed: int = 0,
    X_test=None,
    y_test=None,
    diagnostics_every: int | None = None,
    diagnostics_data: tuple[Any, Any] | None = None,
    record_every: int = 1,
    progress: bool | str = "auto",
    callback: Callable[[int, nn.Module], None] | None = None,
) -> History:
    r"""Train ``model`` in place with mini-batch SGD and return its history.

    Each epoch visits the training set once in a seeded random order, in
    mini-batches of ``batch_size``; each step is

    .. math:: v \leftarrow \mu v + \nabla_\theta C_{batch},\qquad
              \theta \leftarrow \theta - \eta v

    (``torch.optim.SGD``), with :math:`\eta` = ``lr`` and :math:`\mu` =
    ``momentum``.

    Parameters
    ----------
    model : the net (changed in place): any ``nn.Module`` that maps rows of
        ``X`` to one score per class. Where its first (last) layer with
        parameters is an ``nn.Linear``, ``X``'s width (the labels' range) is
        checked against it.
    X, y : training inputs (n, n_features) and labels (n,).
    epochs, lr, batch_size, momentum, weight_decay : the optimiser's settings.
    loss : "softmax" (categorical cross-entropy) or "sigmoid" (Nielsen's).
    seed : seeds the order of the mini-batches.
    X_test, y_test : optional held-out data, evaluated after every epoch.
    record_every : evaluate (and call ``callback``) at epoch 0, after every
        ``record_every``-th epoch and after the last; 1 records every epoch.
    diagnostics_every : if set, record per-layer ``bias_grad`` (Nielsen's
        :math:`\|\delta^l\|`), ``weight_change`` (relative to the start) and
        ``saturated`` every that many epochs, and at epoch 0.
    diagnostics_data : ``(X, y)`` on which the gradient norms are measured;
        by default the first 1,000 training samples (as Nielsen does).
    progress : True, False, or "auto" (see :func:`show_progress`).
    callback : optional ``callback(epoch, model)``, called after each
        record (and once at epoch 0), e.g. to take a measurement that the
        history does not hold. It must not change the model. The model is in
        training mode when it runs: a forward pass there samples dropout masks
        and moves batch-norm running statistics, so call ``model.eval()`` (and
        ``model.train()`` after) around such a measurement.
    """
    n_features, n_classes = io_sizes(model)
    X = as_features(X, "X", n_features=n_features)
    y = as_labels(y, "y", n_samples=X.shape[0], n_classes=n_classes)
    if (X_test is None) != (y_test is None):
        raise ValueError("give both X_test and y_test, or neither")
    if X_test is not None:
        X_test = as_features(X_test, "X_test", n_features=X.shape[1])
        y_test = as_labels(y_test, "y_test", n_samples=X_test.shape[0], n_classes=n_classes)
    epochs = check_positive_int(epochs, "epochs", minimum=0)
    record_every = check_positive_int(record_every, "record_every")
    lr = check_positive_float(lr, "lr")
    batch_size = check_positive_int(batch_size, "batch_size")
    momentum = check_probability(momentum, "momentum")
    weight_decay = check_positive_float(weight_decay, "weight_decay", allow_zero=True)
    check_choice(loss, "loss", LOSSES)
    seed = check_seed(seed)
    if diagnostics_every is not None:
        diagnostics_every = check_positive_int(diagnostics_every, "diagnostics_every")
        if diagnostics_data is None:
            diag_X, diag_y = X[:1000], y[:1000]
        else:
            diag_X, diag_y = diagnostics_data
        diag_X = as_features(diag_X, "diagnostics_data X", n_features=X.shape[1])
        diag_y = as_labels(diag_y, "diagnostics_data y", n_samples=diag_X.shape[0])
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable(epoch, model); got {type(callback).__name__}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameter (all have requires_grad=False)")

    optimiser = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    history = History()
    start = diagnostics.snapshot(model)

    def record(epoch: int) -> None:
        history.epoch.append(epoch)
        tl, ta = evaluate(model, X, y, loss)
        history.train_loss.append(tl)
        history.train_acc.append(ta)
        if X_test is not None:
            vl, va = evaluate(model, X_test, y_test, loss)
            history.test_loss.append(vl)
            history.test_acc.append(va)
        if diagnostics_every is not None and epoch % diagnostics_every == 0:
            history.diag_epoch.append(epoch)
            history.bias_grad.append(diagnostics.bias_gradient_norms(model, diag_X, diag_y, loss))
            history.weight_change.append(diagnostics.relative_weight_change(model, start))
            history.saturated.append(diagnostics.activation_stats(model, diag_X)["saturated"])
        if callback is not None:
            callback(epoch, model)

    t0 = time.perf_counter()
    record(0)
    epoch_iter = range(1, epochs + 1)
    if show_progress(progress):
        from tqdm.auto import tqdm

        epoch_iter = tqdm(epoch_iter, desc="training", leave=False)
    n = X.shape[0]
    model.train()
    for epoch in epoch_iter:
        order = torch.randperm(n, generator=gen)
        for start_i in range(0, n, batch_size):
            idx = order[start_i:start_i + batch_size]
            optimiser.zero_grad(set_to_none=True)
            value = loss_value(model(X[idx]), y[idx], loss)
            value.backward()
            optimiser.step()
            history.step_loss.append(value.item())
        if epoch % record_every == 0 or epoch == epochs:
            record(epoch)
    history.seconds = time.perf_counter() - t0
    return history


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


def check_clip(clip: Any) -> tuple[str, float] | None:
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
    model = check_recurrent_net(model)
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"data must be a pair (x, y); got {type(data).__name__}")
    x = as_sequences(data[0], "x", n_features=model.input_size).detach().to(torch.float32)
    y = as_targets(data[1], loss, x.shape[0], model.output_size)
    steps = check_positive_int(steps, "steps", minimum=0)
    lr = check_positive_float(lr, "lr")
    batch_size = check_positive_int(batch_size, "batch_size")
    if batch_size > x.shape[0]:
        raise ValueError(f"batch_size must be at most the number of sequences, {x.shape[0]}; got {batch_size}")
    clip = check_clip(clip)
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
            value = last_step_loss(model.last_output(x[idx]), y[idx], loss)
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
