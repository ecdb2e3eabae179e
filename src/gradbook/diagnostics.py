r"""Per-layer measurements of how a network learns.

The central quantity of chapter 1 is Nielsen's :math:`\|\delta^l\|`: the
gradient of the cost with respect to the biases of layer :math:`l`,

.. math::

    \delta^l_j = \frac{\partial C}{\partial b^l_j},\qquad
    \delta^l = \big(W^{l+1\,\top}\delta^{l+1}\big)\odot \sigma'(z^l),

so every layer the error passes on its way back multiplies it by a weight
matrix and by the derivative of the activation (at most 1/4 for the
sigmoid). Its norm says how fast the layer's biases learn; the weight
gradients are :math:`\delta^l a^{l-1\,\top}` and follow it.

Every function here leaves the model as it found it: parameters, their
``requires_grad`` flags and their ``.grad`` fields are untouched.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import pandas as pd
import torch
from torch import nn

from ._validate import (
    Array,
    Bool,
    Choice,
    Constraint,
    Float,
    Instance,
    Int,
    Module,
    Seed,
    Sequence,
    as_features,
    as_labels,
    as_matrix,
    as_sequences,
    as_square_matrix,
    check_choice,
    check_positive_float,
    check_positive_int,
    check_seed,
    declare,
)
from .losses import LOSSES, loss_value
from .models.mlp import hidden_layers, io_sizes, linear_layers, mlp, weighted_layers
from .models.rnn import (
    NONLINEARITIES,
    TASK_LOSSES,
    RecurrentNet,
    as_targets,
    check_recurrent_net,
    last_step_loss,
)

__all__ = [
    "MAX_POWER_ITERATIONS",
    "MAX_JACOBIAN_STEPS",
    "layer_gradients",
    "bias_gradient_norms",
    "weight_gradient_norms",
    "snapshot",
    "relative_weight_change",
    "activation_stats",
    "hessian_extremes",
    "weight_gradient_norms_training",
    "layer_gradient_table",
    "hidden_state_gradients",
    "gradient_through_time",
    "jacobian_product_norms",
]


#: The most power iterations :func:`hessian_extremes` runs (each is a
#: Hessian-vector product over the whole of ``X``).
MAX_POWER_ITERATIONS = 100_000

#: The longest product :func:`jacobian_product_norms` forms (T matrix products).
MAX_JACOBIAN_STEPS = 100_000


def _example_mlp() -> dict[str, Any]:
    """A 4-3-3 net and six rows, for the declared examples."""
    gen = torch.Generator().manual_seed(0)
    return dict(model=mlp([4, 3, 3], seed=0), X=torch.rand(6, 4, generator=gen),
                y=torch.tensor([0, 1, 2] * 2))


def _example_rnn() -> dict[str, Any]:
    from .models.rnn import VanillaRNN

    gen = torch.Generator().manual_seed(0)
    return dict(model=VanillaRNN(2, 3, 1), x=torch.rand(2, 4, 2, generator=gen), y=torch.rand(2, 1, generator=gen))


def _example_reference() -> dict[str, Any]:
    net = mlp([4, 3, 3], seed=0)
    return dict(model=net, reference=snapshot(net))


class _Checked(Constraint):
    """Accepted when a check of :mod:`gradbook._validate` accepts it (the
    same check, and message, as the body's)."""

    def __init__(self, check: Any, bad: list[Any], what: str) -> None:
        self.run, self.bad, self.what = check, bad, what

    def check(self, value: Any, name: str) -> None:
        self.run(value, name)

    def bad_values(self) -> list[Any]:
        return list(self.bad)

    def describe(self) -> str:
        return self.what


#: A recurrent matrix.
_SQUARE = _Checked(as_square_matrix, ["text", None, np.zeros(3), np.zeros((3, 4)), np.zeros((0, 0)),
                                      np.array([[1.0, np.nan], [0.0, 1.0]])],
                   "a square matrix (n, n) of finite numbers")
#: Sequences (batch, time, features).
_SEQUENCES = _Checked(as_sequences, ["text", None, np.zeros((5, 2)), np.zeros((0, 5, 2)),
                                     np.full((2, 5, 2), np.nan)],
                      "a (batch, time, features) array of finite numbers")

#: The constraints of a measurement on a feed-forward net and data.
_NET_DATA = dict(model=Module(), X=Array(2), y=Array(1), loss=Choice(LOSSES))
#: ... on a recurrent net.
_RNN_DATA = dict(model=Instance(RecurrentNet, what="a VanillaRNN or LSTMNet (a gradbook.models.rnn.RecurrentNet)"),
                 x=_SEQUENCES, y=Array((1, 2)), loss=Choice(TASK_LOSSES))


def _inputs(model: nn.Module, X, y=None):
    layers = linear_layers(model)
    X = as_features(X, "X", n_features=layers[0].in_features)
    if y is None:
        return layers, X, None
    y = as_labels(y, "y", n_samples=X.shape[0], n_classes=layers[-1].out_features)
    return layers, X, y


@contextmanager
def _all_trainable(params: list[torch.Tensor]) -> Iterator[None]:
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(True)
        yield
    finally:
        for p, f in zip(params, flags):
            p.requires_grad_(f)


@declare(**_NET_DATA, example=_example_mlp)
def layer_gradients(
    model: nn.Module, X, y, loss: str = "softmax"
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Gradients of the mean loss over ``(X, y)`` for every linear layer.

    Returns a list of ``(dC/dW, dC/db)`` pairs, input side first, output layer
    last. Frozen layers (``requires_grad=False``) are measured too.
    """
    layers, X, y = _inputs(model, X, y)
    params = [p for layer in layers for p in (layer.weight, layer.bias)]
    with _all_trainable(params), torch.enable_grad():
        value = loss_value(model(X), y, loss)
        grads = torch.autograd.grad(value, params)
    return [(grads[2 * i].detach(), grads[2 * i + 1].detach()) for i in range(len(layers))]


@declare(**_NET_DATA, example=_example_mlp)
def bias_gradient_norms(model: nn.Module, X, y, loss: str = "softmax") -> list[float]:
    r"""Nielsen's :math:`\|\delta^l\|` for each hidden layer, first layer first.

    The Euclidean norm of the gradient of the mean loss over ``(X, y)`` with
    respect to the layer's bias vector.

    Parameters
    ----------
    model : a net from :func:`gradbook.models.mlp.mlp` (or any module whose
        ``nn.Linear`` layers, in order, form the net).
    X : (n, n_features) inputs; y : (n,) integer labels.
    loss : "softmax" or "sigmoid" (see :mod:`gradbook.losses`).
    """
    hidden = len(hidden_layers(model))
    grads = layer_gradients(model, X, y, loss)
    return [float(gb.norm()) for _, gb in grads[:hidden]]


@declare(**_NET_DATA, include_output=Bool(), example=_example_mlp)
def weight_gradient_norms(
    model: nn.Module, X, y, loss: str = "softmax", include_output: bool = False
) -> list[float]:
    """Frobenius norm of dC/dW per hidden layer (and the output layer if asked)."""
    if not isinstance(include_output, (bool, np.bool_)):
        raise TypeError(f"include_output must be True or False; got {include_output!r:.80}")
    hidden = len(hidden_layers(model))
    grads = layer_gradients(model, X, y, loss)
    keep = grads if include_output else grads[:hidden]
    return [float(gw.norm()) for gw, _ in keep]


@declare(model=Module(), example=lambda: dict(model=mlp([4, 3, 3])))
def snapshot(model: nn.Module) -> list[torch.Tensor]:
    """Copies of every linear layer's weight matrix, to measure change against."""
    return [layer.weight.detach().clone() for layer in linear_layers(model)]


@declare(model=Module(), reference=Sequence(Instance(torch.Tensor, what="a weight matrix from snapshot(model)")),
         example=_example_reference)
def relative_weight_change(model: nn.Module, reference: list[torch.Tensor]) -> list[float]:
    r"""``||W_now - W_ref|| / ||W_ref||`` for every linear layer, output last."""
    layers = linear_layers(model)
    if not isinstance(reference, (list, tuple)) or len(reference) != len(layers):
        raise ValueError(
            f"reference must be the list from snapshot(model) with {len(layers)} "
            f"matrices; got {type(reference).__name__} of length "
            f"{len(reference) if hasattr(reference, '__len__') else '?'}"
        )
    out = []
    for i, (layer, ref) in enumerate(zip(layers, reference)):
        if not isinstance(ref, torch.Tensor) or ref.shape != layer.weight.shape:
            raise ValueError(
                f"reference[{i}] must have shape {tuple(layer.weight.shape)}; "
                f"got {getattr(ref, 'shape', type(ref).__name__)}"
            )
        denom = float(ref.norm())
        diff = float((layer.weight.detach() - ref).norm())
        out.append(diff / denom if denom > 0 else float("inf") if diff > 0 else 0.0)
    return out


@declare(model=Module(), X=Array(2), threshold=Float(0.0, 1.0, low_open=True),
         example=lambda: {k: v for k, v in _example_mlp().items() if k != "y"})
def activation_stats(model: nn.Module, X, threshold: float = 0.1) -> dict[str, list[float]]:
    r"""How the hidden units of each layer sit on their nonlinearity.

    For each hidden layer, with :math:`f'` the activation's derivative and
    :math:`f'_{max}` its largest value (1/4 for the sigmoid, 1 for tanh and
    ReLU):

    - ``saturated``: the fraction of (sample, unit) pairs with
      :math:`f'(z) < \text{threshold}\cdot f'_{max}`: the unit passes less than
      that share of the gradient (for ReLU: the unit is off, :math:`z \le 0`);
    - ``dead``: the fraction of units that are saturated for *every* sample in
      ``X``: no gradient reaches their incoming weights;
    - ``mean``: the mean activation value.
    """
    threshold = check_positive_float(threshold, "threshold")
    if threshold > 1:
        raise ValueError(f"threshold must lie in (0, 1]; got {threshold}")
    layers, X, _ = _inputs(model, X)
    hidden = hidden_layers(model)
    pre: list[torch.Tensor] = []
    hooks = [layer.register_forward_hook(lambda m, i, o: pre.append(o.detach())) for layer in hidden]
    try:
        with torch.no_grad():
            model(X)
    finally:
        for h in hooks:
            h.remove()
    acts = [m for m in model.modules() if isinstance(m, (nn.Sigmoid, nn.Tanh, nn.ReLU))]
    stats: dict[str, list[float]] = {"saturated": [], "dead": [], "mean": []}
    for z, act in zip(pre, acts):
        if isinstance(act, nn.Sigmoid):
            s = torch.sigmoid(z)
            slope, top, a = s * (1 - s), 0.25, s
        elif isinstance(act, nn.Tanh):
            t = torch.tanh(z)
            slope, top, a = 1 - t * t, 1.0, t
        else:
            slope, top, a = (z > 0).float(), 1.0, torch.relu(z)
        low = slope < threshold * top
        stats["saturated"].append(float(low.float().mean()))
        stats["dead"].append(float(low.all(dim=0).float().mean()))
        stats["mean"].append(float(a.mean()))
    return stats


@declare(**_NET_DATA, iters=Int(1, MAX_POWER_ITERATIONS), seed=Seed(),
         example=lambda: dict(_example_mlp(), iters=3))
def hessian_extremes(
    model: nn.Module, X, y, loss: str = "softmax", iters: int = 100, seed: int = 0
) -> tuple[float, float]:
    r"""The largest and the smallest eigenvalue of the Hessian of the loss.

    The Hessian :math:`H = \nabla^2_\theta C` over all weights and biases of
    the linear layers is never formed: power iteration on Hessian-vector
    products (double backpropagation) finds the eigenvalue of largest
    magnitude :math:`\lambda_a`; a second power iteration on
    :math:`H - \lambda_a I` then finds the eigenvalue at the other end of the
    spectrum. A negative smallest eigenvalue at a point where the gradient is
    nearly zero means a saddle (or a plateau leading off it), not a minimum.

    Returns ``(lambda_max, lambda_min)``. Power iteration converges slowly
    when the top eigenvalues are close; ``iters`` bounds the work.
    """
    iters = check_positive_int(iters, "iters")
    if iters > MAX_POWER_ITERATIONS:
        raise ValueError(f"iters must be at most {MAX_POWER_ITERATIONS:,}; got {iters:,}")
    seed = check_seed(seed)
    layers, X, y = _inputs(model, X, y)
    params = [p for layer in layers for p in (layer.weight, layer.bias)]
    gen = torch.Generator().manual_seed(seed)
    with _all_trainable(params), torch.enable_grad():
        value = loss_value(model(X), y, loss)
        grads = torch.autograd.grad(value, params, create_graph=True)
        flat_grad = torch.cat([g.reshape(-1) for g in grads])

        def hvp(v: torch.Tensor) -> torch.Tensor:
            parts = torch.autograd.grad(flat_grad @ v, params, retain_graph=True)
            return torch.cat([p.reshape(-1) for p in parts]).detach()

        def power(shift: float) -> float:
            v = torch.randn(flat_grad.numel(), generator=gen)
            v /= v.norm()
            eig = 0.0
            for _ in range(iters):
                w = hvp(v) - shift * v
                eig = float(v @ w)
                norm = w.norm()
                if norm == 0:
                    break
                v = w / norm
            return eig + shift

        first = power(0.0)
        second = power(first)
    return (first, second) if first >= second else (second, first)


@contextmanager
def _frozen_batch_statistics(model: nn.Module) -> Iterator[None]:
    """Let a measurement run the model in training mode (batch statistics)
    without moving the batch-norm layers' running averages."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    try:
        for m in norms:
            m.momentum = 0.0
        yield
    finally:
        for m, value in zip(norms, saved):
            m.momentum = value


@declare(model=Module(), X=Array(2), y=Array(1), example=_example_mlp)
def weight_gradient_norms_training(model: nn.Module, X, y) -> list[float]:
    r""":math:`\|\partial C / \partial W^l\|` for every hidden layer, input side first.

    The Frobenius norm of the gradient of the mean softmax cross-entropy over
    ``(X, y)`` with respect to each hidden linear layer's weight matrix
    (:func:`gradbook.diagnostics.weight_gradient_norms`). Batch-norm layers
    normalise with the statistics of ``X`` (training mode), as during
    training, and their running averages are left untouched; the model's
    parameters and gradients are unchanged.
    """

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    was_training = model.training
    model.train()
    try:
        with _frozen_batch_statistics(model):
            return weight_gradient_norms(model, X, y)
    finally:
        model.train(was_training)


# ------------------------------------------------------ gradients layer by layer


@declare(**_NET_DATA, example=_example_mlp)
def layer_gradient_table(model: nn.Module, X, y, loss: str = "softmax") -> pd.DataFrame:
    r"""Error signal and weight gradient of every hidden layer, input side first.

    For hidden layer :math:`l` (every ``Conv2d`` or ``Linear`` but the
    read-out) with pre-activation output :math:`z^l`, on the mean loss over
    ``(X, y)``:

    - ``delta rms``: the root mean square of :math:`\delta^l = \partial C /
      \partial z^l` over its entries (samples, channels, positions): the
      error signal, caught with a forward hook on the layer's output;
    - ``weight grad rms``: the root mean square of :math:`\partial C /
      \partial W^l` over the layer's weights: how fast one weight moves;
    - ``delta norm``, ``weight grad norm``: the plain Euclidean norms;
    - ``terms per weight``: how many (sample, position) products each
      weight's gradient sums (samples times output positions for a conv,
      samples for a linear layer).

    The model is left as it was (no ``.grad`` is written).
    """
    n_features, n_classes = io_sizes(model)
    X = as_features(X, "X", n_features=n_features)
    y = as_labels(y, "y", n_samples=X.shape[0], n_classes=n_classes)
    check_choice(loss, "loss", LOSSES)
    layers = weighted_layers(model)[:-1]
    if not layers:
        raise ValueError("model has no hidden layer (only a read-out)")
    outputs: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda mod, i, o: outputs.append(o)) for m in layers]
    try:
        with torch.enable_grad():
            value = loss_value(model(X), y, loss)
            weights = [m.weight for m in layers]
            grads = torch.autograd.grad(value, outputs + weights)
    finally:
        for h in hooks:
            h.remove()
    rows = []
    n = X.shape[0]
    for k, m in enumerate(layers):
        d, g = grads[k], grads[len(layers) + k]
        positions = int(np.prod(d.shape[2:])) if d.ndim == 4 else 1
        rows.append({
            "layer": k + 1,
            "kind": "conv" if isinstance(m, nn.Conv2d) else "linear",
            "delta rms": float(d.pow(2).mean().sqrt()),
            "weight grad rms": float(g.pow(2).mean().sqrt()),
            "delta norm": float(d.norm()),
            "weight grad norm": float(g.norm()),
            "terms per weight": n * positions,
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# gradients through time
# --------------------------------------------------------------------------


@declare(**_RNN_DATA, example=_example_rnn)
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
    model = check_recurrent_net(model)
    x = as_sequences(x, "x", n_features=model.input_size)
    y = as_targets(y, loss, x.shape[0], model.output_size)
    twin = copy.deepcopy(model).double()
    with torch.enable_grad():
        state0 = twin.initial_state(x.shape[0]).requires_grad_(True)
        outputs, states = twin(x.detach().double(), state0)
        value = last_step_loss(outputs[:, -1], y, loss)
        grads = torch.autograd.grad(value, states)
    return torch.stack(grads).detach()


@declare(**_RNN_DATA, example=_example_rnn)
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


@declare(W=_SQUARE, hidden=Array(2) | Int(1, MAX_JACOBIAN_STEPS), nonlinearity=Choice(NONLINEARITIES),
         example=lambda: dict(W=torch.eye(3) * 0.5, hidden=4, nonlinearity="linear"))
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
    W = as_square_matrix(W)
    check_choice(nonlinearity, "nonlinearity", NONLINEARITIES)
    n = W.shape[0]
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        if nonlinearity != "linear":
            raise ValueError("an int length is only enough for nonlinearity='linear'; give the hidden states")
        T = check_positive_int(hidden, "hidden (the length T)")
        if T > MAX_JACOBIAN_STEPS:
            raise ValueError(f"hidden (the length T) must be at most {MAX_JACOBIAN_STEPS:,}; got {T:,}")
        slopes = torch.ones(T + 1, n, dtype=torch.float64)
    else:
        h = as_matrix(hidden, "hidden")
        if h.shape[1] != n:
            raise ValueError(f"hidden must have {n} columns, one per hidden unit of W; got {h.shape[1]}")
        if h.shape[0] < 2:
            raise ValueError(f"hidden must hold h_0 ... h_T with T >= 1, so at least 2 rows; got {h.shape[0]}")
        if nonlinearity == "tanh" and h.abs().max() > 1:
            raise ValueError("hidden states of a tanh network lie in [-1, 1]; got values outside")
        T = h.shape[0] - 1
        if T > MAX_JACOBIAN_STEPS:
            raise ValueError(f"hidden must hold at most {MAX_JACOBIAN_STEPS + 1:,} states h_0 ... h_T; got {T + 1:,}")
        slopes = 1 - h**2 if nonlinearity == "tanh" else torch.ones_like(h)
    norms = torch.empty(T + 1, dtype=torch.float64)
    J = torch.eye(n, dtype=torch.float64)
    norms[T] = 1.0
    for k in range(T, 0, -1):
        J = J @ (slopes[k, :, None] * W)
        norms[k - 1] = torch.linalg.matrix_norm(J, ord=2)
    return norms
