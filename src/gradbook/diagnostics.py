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

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from ._validate import as_features, as_labels, check_positive_float
from .losses import loss_value
from .nets import hidden_layers, linear_layers

__all__ = [
    "layer_gradients",
    "bias_gradient_norms",
    "weight_gradient_norms",
    "snapshot",
    "relative_weight_change",
    "activation_stats",
    "hessian_extremes",
]


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


def bias_gradient_norms(model: nn.Module, X, y, loss: str = "softmax") -> list[float]:
    r"""Nielsen's :math:`\|\delta^l\|` for each hidden layer, first layer first.

    The Euclidean norm of the gradient of the mean loss over ``(X, y)`` with
    respect to the layer's bias vector.

    Parameters
    ----------
    model : a net from :func:`gradbook.nets.mlp` (or any module whose
        ``nn.Linear`` layers, in order, form the net).
    X : (n, n_features) inputs; y : (n,) integer labels.
    loss : "softmax" or "sigmoid" (see :mod:`gradbook.losses`).
    """
    hidden = len(hidden_layers(model))
    grads = layer_gradients(model, X, y, loss)
    return [float(gb.norm()) for _, gb in grads[:hidden]]


def weight_gradient_norms(
    model: nn.Module, X, y, loss: str = "softmax", include_output: bool = False
) -> list[float]:
    """Frobenius norm of dC/dW per hidden layer (and the output layer if asked)."""
    hidden = len(hidden_layers(model))
    grads = layer_gradients(model, X, y, loss)
    keep = grads if include_output else grads[:hidden]
    return [float(gw.norm()) for gw, _ in keep]


def snapshot(model: nn.Module) -> list[torch.Tensor]:
    """Copies of every linear layer's weight matrix, to measure change against."""
    return [layer.weight.detach().clone() for layer in linear_layers(model)]


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
    from ._validate import check_positive_int, check_seed

    iters = check_positive_int(iters, "iters")
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
