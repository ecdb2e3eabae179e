"""Fully connected networks with the activations and initialisations the book
compares.

``mlp([64, 30, 30, 10])`` is a net with two hidden layers of 30 units: a
``torch.nn.Sequential`` of ``Linear, activation, Linear, activation, Linear``.
The last layer is linear; the loss (see :mod:`gradbook.train`) turns its
outputs into probabilities.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from ._validate import check_choice, check_positive_float, check_positive_int, check_seed

__all__ = ["ACTIVATIONS", "INITS", "init_layer", "mlp", "linear_layers", "hidden_layers", "activation_of"]

ACTIVATIONS = ("sigmoid", "tanh", "relu")
INITS = ("nielsen", "standard", "xavier", "he")

_MODULES = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


def init_layer(layer: nn.Linear | nn.Conv2d, init: str | float, gen: torch.Generator) -> None:
    """Fill one layer's weights and biases in place, from ``gen``.

    The rule ``mlp`` uses for every layer; exported so that other
    architectures (residual nets, CNNs) draw their weights the same way.
    For a ``Linear`` layer ``n_in``/``n_out`` are its input and output sizes;
    for a ``Conv2d`` they are the fans ``in_channels * k * k`` and
    ``out_channels * k * k``.

    - ``"nielsen"``: weights N(0, 1/n_in), biases N(0, 1), as in Nielsen's
      *Neural Networks and Deep Learning* (network2's default initialiser).
    - ``"standard"``: weights and biases N(0, 1).
    - ``"xavier"``: weights N(0, 2/(n_in+n_out)) (Glorot & Bengio 2010), biases 0.
    - ``"he"``: weights N(0, 2/n_in) (He et al. 2015), biases 0.
    - a float s: weights N(0, s^2), biases 0.
    """
    if not isinstance(layer, (nn.Linear, nn.Conv2d)):
        raise TypeError(f"layer must be a torch.nn.Linear or torch.nn.Conv2d; "
                        f"got {type(layer).__name__}")
    if layer.bias is None:
        raise ValueError("layer must have a bias (bias=True)")
    if not isinstance(gen, torch.Generator):
        raise TypeError(f"gen must be a torch.Generator; got {type(gen).__name__}")
    if isinstance(init, str):
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS} or a positive float; got {init!r}")
    elif isinstance(init, bool) or not isinstance(init, (int, float)) or not init > 0 \
            or not math.isfinite(init):
        raise ValueError(f"init must be one of {INITS} or a positive float; got {init!r}")
    shape = layer.weight.shape
    n_in = layer.weight[0].numel()
    n_out = shape[0] * layer.weight[0, 0].numel()
    with torch.no_grad():
        w = torch.randn(shape, generator=gen)
        b = torch.randn(shape[0], generator=gen)
        if init == "nielsen":
            w /= math.sqrt(n_in)
        elif init == "standard":
            pass
        elif init == "xavier":
            w *= math.sqrt(2.0 / (n_in + n_out))
            b.zero_()
        elif init == "he":
            w *= math.sqrt(2.0 / n_in)
            b.zero_()
        else:
            w *= float(init)
            b.zero_()
        layer.weight.copy_(w)
        layer.bias.copy_(b)


def mlp(
    sizes: Sequence[int],
    activation: str = "sigmoid",
    init: str | float = "nielsen",
    seed: int = 0,
) -> nn.Sequential:
    """Build a fully connected net.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first, output last: ``[64, 30, 30, 10]`` has two
        hidden layers of 30 units. At least two entries (no hidden layer is a
        linear model).
    activation : {"sigmoid", "tanh", "relu"}
        The hidden units' nonlinearity.
    init : {"nielsen", "standard", "xavier", "he"} or float
        How weights and biases are drawn (see ``init_layer``); a float is the
        weights' standard deviation, with zero biases.
    seed : int
        Seeds the initial weights: the same seed gives the same net.

    Returns
    -------
    torch.nn.Sequential
        ``Linear, act, Linear, act, ..., Linear``.
    """
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"sizes must be a sequence of layer widths; got {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output width; got {list(sizes)}")
    sizes = [check_positive_int(s, f"sizes[{i}]") for i, s in enumerate(sizes)]
    check_choice(activation, "activation", ACTIVATIONS)
    if isinstance(init, str):
        check_choice(init, "init", INITS)
    else:
        check_positive_float(init, "init (a weight standard deviation)")
    seed = check_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        # skip_init: no draw from torch's global generator; init_layer fills it.
        lin = torch.nn.utils.skip_init(nn.Linear, n_in, n_out)
        init_layer(lin, init, gen)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(_MODULES[activation]())
    return nn.Sequential(*layers)


def _check_model(model: nn.Module) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """All ``nn.Linear`` layers of ``model``, input side first."""
    _check_model(model)
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError("model has no nn.Linear layer")
    return layers


def hidden_layers(model: nn.Module) -> list[nn.Linear]:
    """The linear layers that feed hidden units: all but the output layer."""
    layers = linear_layers(model)
    if len(layers) < 2:
        raise ValueError("model has no hidden layer (a single nn.Linear)")
    return layers[:-1]


def activation_of(model: nn.Module) -> str:
    """The name of the hidden activation of a net built by :func:`mlp`."""
    _check_model(model)
    for m in model.modules():
        for name, cls in _MODULES.items():
            if isinstance(m, cls):
                return name
    raise ValueError("model has no sigmoid, tanh or relu module")
