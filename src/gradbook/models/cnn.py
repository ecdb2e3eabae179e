r"""Chapter 5: convolutional nets and weight sharing, as tested functions.

A convolutional layer applies one small kernel at every position of its
input. For one input channel and a :math:`k \times k` kernel :math:`K`,

.. math::

    z_{ij} = b + \sum_{u=0}^{k-1}\sum_{v=0}^{k-1} K_{uv}\, a_{i+u,\,j+v},

and the same :math:`K` and :math:`b` serve every output position
:math:`(i, j)`: the weights are *shared*. Backpropagation therefore sums the
gradient of a shared weight over the positions that use it,

.. math::

    \frac{\partial C}{\partial K_{uv}} = \sum_{i,j} \delta_{ij}\, a_{i+u,\,j+v},
    \qquad \delta_{ij} = \frac{\partial C}{\partial z_{ij}},

while the error signal :math:`\delta` itself still passes
:math:`\sigma'(z) \le 1/4` at every sigmoid layer on its way down. This module
builds chapter 5's nets (a small CNN for the 8x8 digits, deep plain CNNs
for the gradient measurements, LeNet-5 at 32x32 as LeCun et al. 1998 describe
it); :mod:`gradbook.chapters.ch05_cnn` trains them
and measures what the chapter reports.

Every net here takes the digits as flat rows of 64 pixels, shape (n, 64),
like the MLPs of :func:`gradbook.models.mlp.mlp`, and reshapes them to images of
shape (n, 1, 8, 8) itself; so the same data, the same pixel permutation and
the same training loop serve both kinds of net.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .._validate import (
    MAX_DEPTH,
    MAX_STEPS,
    Array,
    Bool,
    Choice,
    Instance,
    Int,
    Module,
    Optional,
    Seed,
    check_choice,
    check_memory,
    check_positive_int,
    check_seed,
    declare,
)
from .._validate import (
    Sequence as SequenceOf,
)
from ..data import SIDE
from .mlp import (
    ACTIVATION_MODULES,
    ACTIVATIONS,
    INIT,
    WIDTH,
    check_init,
    check_parameter_count,
    count_parameters,
    init_layer,
    mlp,
)

__all__ = [
    "DEFAULT_INIT",
    "conv_output_size",
    "conv_parameter_count",
    "IMAGES",
    "conv2d_loops",
    "shared_kernel_gradient",
    "small_cnn",
    "deep_cnn",
    "deep_mlp",
    "ScaledTanh",
    "Subsampling",
    "PartialConv2d",
    "RBFOutput",
    "LENET5_C3_TABLE",
    "LENET5_PAPER",
    "lenet5",
    "count_connections",
    "lenet5_table",
]

#: The initialisation used with each activation when none is given: Nielsen's
#: N(0, 1/fan_in) weights and N(0, 1) biases for the sigmoid (as in chapter 1),
#: Glorot's for tanh, He's for ReLU.
DEFAULT_INIT = {"sigmoid": "nielsen", "tanh": "xavier", "relu": "he"}




# ------------------------------------------------------------------ counting


@declare(size=Int(1), kernel=Int(1), padding=Int(0), stride=Int(1), example=dict(size=8, kernel=3))
def conv_output_size(size: int, kernel: int, padding: int = 0, stride: int = 1) -> int:
    r"""Side of a convolution's output: :math:`\lfloor (n + 2p - k)/s \rfloor + 1`.

    Parameters
    ----------
    size : side of the (square) input, n.
    kernel : side of the kernel, k.
    padding : zeros added on each border, p.
    stride : step between positions, s.
    """
    size = check_positive_int(size, "size")
    kernel = check_positive_int(kernel, "kernel")
    padding = check_positive_int(padding, "padding", minimum=0)
    stride = check_positive_int(stride, "stride")
    if kernel > size + 2 * padding:
        raise ValueError(
            f"kernel ({kernel}) is larger than the padded input ({size} + 2*{padding})"
        )
    return (size + 2 * padding - kernel) // stride + 1


@declare(in_channels=Int(1), out_channels=Int(1), kernel=Int(1), bias=Bool(),
         example=dict(in_channels=1, out_channels=2, kernel=3))
def conv_parameter_count(in_channels: int, out_channels: int, kernel: int, bias: bool = True) -> int:
    r"""Trainable parameters of a full ``Conv2d``: :math:`c_{out}(c_{in} k^2 + 1)`.

    The count does not depend on the image size: that is weight sharing.
    """
    in_channels = check_positive_int(in_channels, "in_channels")
    out_channels = check_positive_int(out_channels, "out_channels")
    kernel = check_positive_int(kernel, "kernel")
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be True or False; got {bias!r}")
    return out_channels * (in_channels * kernel * kernel + int(bias))


# ------------------------------------------------------------- the maths


def _as_image_batch(x: Any, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(
            f"{name} must have shape (batch, channels, height, width); got shape {tuple(x.shape)}"
        )
    if 0 in x.shape:
        raise ValueError(f"{name} is empty: shape {tuple(x.shape)}")
    if not torch.isfinite(x.detach()).all():
        raise ValueError(f"{name} contains NaN or infinite values; all values must be finite")
    return x


def _output_side(x: torch.Tensor, name: str, kh: int, kw: int, padding: int, out_channels: int
                 ) -> tuple[int, int]:
    """(H', W') of a stride-1 convolution of ``x`` by a kh x kw kernel, or raise
    if the kernel does not fit, or if the loops over the output positions
    would take more than MAX_STEPS steps or the padded input or the result
    more than MAX_BYTES."""
    n, c_in, h, w = x.shape
    out_h, out_w = h + 2 * padding - kh + 1, w + 2 * padding - kw + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"a {kh}x{kw} kernel does not fit a padded {h}x{w} input")
    if out_h * out_w > MAX_STEPS:
        raise ValueError(f"{name} and padding give {out_h * out_w:,} output positions, one loop "
                         f"step each; at most {MAX_STEPS:,}")
    floats = max(n * c_in * (h + 2 * padding) * (w + 2 * padding), n * out_channels * out_h * out_w)
    check_memory(floats * x.element_size(), f"{name} and padding")
    return out_h, out_w


#: An image batch: a 4-D float tensor (batch, channels, height, width).
IMAGES = Array(4)


@declare(x=IMAGES, weight=IMAGES, bias=Optional(Array(1)), padding=Int(0),
         example=lambda: dict(x=torch.ones(1, 1, 4, 4), weight=torch.ones(2, 1, 3, 3), bias=torch.zeros(2)))
def conv2d_loops(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                 padding: int = 0) -> torch.Tensor:
    r"""A 2-D convolution (cross-correlation, as in deep learning) by loops.

    .. math:: z_{n,o,i,j} = b_o + \sum_{c}\sum_{u,v} W_{o,c,u,v}\, x_{n,c,i+u,j+v}

    over the zero-padded input; the same as ``torch.nn.functional.conv2d``
    with stride 1, written for reading, not speed.

    Parameters
    ----------
    x : (batch, in_channels, H, W)
    weight : (out_channels, in_channels, k, k)
    bias : (out_channels,) or None
    padding : zeros added on each border.
    """
    x = _as_image_batch(x, "x")
    weight = _as_image_batch(weight, "weight")
    padding = check_positive_int(padding, "padding", minimum=0)
    n, c_in, h, w = x.shape
    c_out, c_w, kh, kw = weight.shape
    if c_w != c_in:
        raise ValueError(f"weight expects {c_w} input channels; x has {c_in}")
    if bias is not None and (not isinstance(bias, torch.Tensor) or bias.shape != (c_out,)):
        raise ValueError(f"bias must be a tensor of shape ({c_out},); got {getattr(bias, 'shape', bias)}")
    if bias is not None and not torch.isfinite(bias.detach()).all():
        raise ValueError("bias contains NaN or infinite values; all values must be finite")
    out_h, out_w = _output_side(x, "x", kh, kw, padding, c_out)
    xp = F.pad(x, (padding, padding, padding, padding))
    out = torch.zeros(n, c_out, out_h, out_w, dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            patch = xp[:, :, i:i + kh, j:j + kw]                # (n, c_in, kh, kw)
            out[:, :, i, j] = torch.einsum("nchw,ochw->no", patch, weight)
    if bias is not None:
        out += bias.view(1, -1, 1, 1)
    return out


@declare(delta=IMAGES, a=IMAGES, kernel=Int(1), padding=Int(0),
         example=lambda: dict(delta=torch.ones(1, 2, 2, 2), a=torch.ones(1, 1, 4, 4), kernel=3))
def shared_kernel_gradient(delta: torch.Tensor, a: torch.Tensor, kernel: int,
                           padding: int = 0) -> torch.Tensor:
    r"""The gradient of a shared kernel, summed position by position.

    .. math:: \frac{\partial C}{\partial W_{o,c,u,v}}
              = \sum_{n}\sum_{i,j} \delta_{n,o,i,j}\; a_{n,c,i+u,j+v}

    Every output position :math:`(i, j)` contributes the gradient that the
    kernel would get if it were used there alone; weight sharing adds them up.

    Parameters
    ----------
    delta : (batch, out_channels, H', W'), the error signal dC/dz of the layer's output.
    a : (batch, in_channels, H, W), the layer's input.
    kernel : side k of the kernel; padding : as in the forward pass.

    Returns
    -------
    (out_channels, in_channels, k, k)
    """
    delta = _as_image_batch(delta, "delta")
    a = _as_image_batch(a, "a")
    kernel = check_positive_int(kernel, "kernel")
    padding = check_positive_int(padding, "padding", minimum=0)
    if delta.shape[0] != a.shape[0]:
        raise ValueError(f"delta has {delta.shape[0]} samples, a has {a.shape[0]}")
    out_h, out_w = _output_side(a, "a", kernel, kernel, padding, delta.shape[1])
    if tuple(delta.shape[2:]) != (out_h, out_w):
        raise ValueError(
            f"delta must have spatial shape ({out_h}, {out_w}) for a {kernel}x{kernel} kernel "
            f"on this input; got {tuple(delta.shape[2:])}"
        )
    ap = F.pad(a, (padding, padding, padding, padding))
    grad = torch.zeros(delta.shape[1], a.shape[1], kernel, kernel, dtype=a.dtype)
    for i in range(out_h):
        for j in range(out_w):
            patch = ap[:, :, i:i + kernel, j:j + kernel]          # (n, c_in, k, k)
            grad += torch.einsum("no,nchw->ochw", delta[:, :, i, j], patch)
    return grad


# ------------------------------------------------------------------ the nets


def _conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    """A 3x3 ``Conv2d`` with padding 1, its weights left unset (``skip_init``:
    no draw from torch's global generator); :func:`_initialise` fills them."""
    return torch.nn.utils.skip_init(nn.Conv2d, in_channels, out_channels, 3, padding=1)


def _linear(n_in: int, n_out: int) -> nn.Linear:
    """A ``Linear`` layer with its weights left unset, as :func:`_conv3x3`."""
    return torch.nn.utils.skip_init(nn.Linear, n_in, n_out)


def _initialise(net: nn.Module, init: str | float, seed: int) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            init_layer(m, init, gen)
    return net


@declare(channels=WIDTH, activation=Choice(ACTIVATIONS), init=Optional(INIT), seed=Seed(),
         example=dict(channels=2))
def small_cnn(channels: int = 8, activation: str = "relu", init: str | float | None = None,
              seed: int = 0) -> nn.Sequential:
    """The chapter's CNN for the 8x8 digits.

    ``(n, 64) -> 1x8x8 -> conv3x3(channels) -> act -> maxpool2 -> 4x4
    -> conv3x3(2*channels) -> act -> maxpool2 -> 2x2 -> linear(10)``,
    both convolutions with padding 1. With ``channels=8`` it has 1,898
    parameters. Draws nothing from torch's global generator.
    """
    channels = check_positive_int(channels, "channels")
    check_choice(activation, "activation", ACTIVATIONS)
    init = DEFAULT_INIT[activation] if init is None else init
    check_init(init)
    seed = check_seed(seed)
    features = 2 * channels * (SIDE // 4) ** 2
    check_parameter_count(10 * channels + 2 * channels * (9 * channels + 1) + 10 * (features + 1),
                          "channels")
    act = ACTIVATION_MODULES[activation]
    net = nn.Sequential(
        nn.Unflatten(1, (1, SIDE, SIDE)),
        _conv3x3(1, channels), act(), nn.MaxPool2d(2),
        _conv3x3(channels, 2 * channels), act(), nn.MaxPool2d(2),
        nn.Flatten(),
        _linear(features, 10),
    )
    return _initialise(net, init, seed)


@declare(depth=Int(1, MAX_DEPTH), channels=WIDTH, activation=Choice(ACTIVATIONS), init=Optional(INIT),
         seed=Seed(), example=dict(depth=2, channels=2))
def deep_cnn(depth: int, channels: int = 4, activation: str = "sigmoid",
             init: str | float | None = None, seed: int = 0) -> nn.Sequential:
    """A plain deep CNN for the gradient measurements: ``depth`` layers of
    ``channels`` 3x3 kernels with padding 1 (every layer keeps the 8x8 size,
    no pooling), each followed by ``activation``, then a linear read-out to 10
    classes. Takes (n, 64) rows. Draws nothing from torch's global generator."""
    depth = check_positive_int(depth, "depth")
    if depth > MAX_DEPTH:
        raise ValueError(f"depth must be an integer from 1 to {MAX_DEPTH:,}; got {depth}")
    channels = check_positive_int(channels, "channels")
    check_choice(activation, "activation", ACTIVATIONS)
    init = DEFAULT_INIT[activation] if init is None else init
    check_init(init)
    seed = check_seed(seed)
    check_parameter_count(10 * channels + (depth - 1) * channels * (9 * channels + 1)
                          + 10 * (channels * SIDE * SIDE + 1), "depth and channels")
    layers: list[nn.Module] = [nn.Unflatten(1, (1, SIDE, SIDE))]
    for i in range(depth):
        layers += [_conv3x3(1 if i == 0 else channels, channels), ACTIVATION_MODULES[activation]()]
    layers += [nn.Flatten(), _linear(channels * SIDE * SIDE, 10)]
    return _initialise(nn.Sequential(*layers), init, seed)


@declare(depth=Int(1, MAX_DEPTH), width=WIDTH, activation=Choice(ACTIVATIONS), init=Optional(INIT),
         seed=Seed(), example=dict(depth=2, width=3))
def deep_mlp(depth: int, width: int = 64, activation: str = "sigmoid",
             init: str | float | None = None, seed: int = 0) -> nn.Sequential:
    """The MLP twin of :func:`deep_cnn`: ``[64] + [width] * depth + [10]``
    built by :func:`gradbook.models.mlp.mlp`, with the same default initialisation
    per activation."""
    depth = check_positive_int(depth, "depth")
    if depth > MAX_DEPTH:
        raise ValueError(f"depth must be an integer from 1 to {MAX_DEPTH:,}; got {depth}")
    width = check_positive_int(width, "width")
    check_choice(activation, "activation", ACTIVATIONS)
    init = DEFAULT_INIT[activation] if init is None else init
    check_init(init)
    check_parameter_count((SIDE * SIDE + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * 10,
                          "depth and width")
    return mlp([SIDE * SIDE] + [width] * depth + [10], activation=activation, init=init, seed=seed)


# -------------------------------------------------------------- LeNet-5 (1998)


@declare(example=dict())
class ScaledTanh(nn.Module):
    r"""LeNet-5's squashing function :math:`f(a) = A \tanh(S a)`, with
    :math:`A = 1.7159` and :math:`S = 2/3` (LeCun et al. 1998, appendix A)."""

    A = 1.7159
    S = 2.0 / 3.0

    def __init__(self) -> None:
        super().__init__()

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.A * torch.tanh(self.S * a)


@declare(channels=WIDTH, example=dict(channels=2))
class Subsampling(nn.Module):
    """LeNet-5's S2 and S4 layers: each unit adds the four inputs of its 2x2
    block, multiplies the sum by a trainable coefficient and adds a trainable
    bias, one coefficient and one bias per feature map (2 parameters a map)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        channels = check_positive_int(channels, "channels")
        self.coefficient = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        summed = 4.0 * F.avg_pool2d(x, 2)
        return summed * self.coefficient.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


@declare(table=SequenceOf(SequenceOf(Int(0), 1), 1, MAX_DEPTH), in_channels=WIDTH, kernel=WIDTH,
         example=dict(table=[[0], [0, 1]], in_channels=2, kernel=3))
class PartialConv2d(nn.Module):
    """A convolution in which output map ``o`` sees only the input maps
    ``table[o]``: one small ``Conv2d`` per output map, so that the
    parameters that exist are exactly the ones the table allows. Its weights
    start as PyTorch's default initialisation draws them, from torch's global
    generator (:func:`lenet5` seeds it and restores it afterwards)."""

    def __init__(self, table: Sequence[Sequence[int]], in_channels: int, kernel: int) -> None:
        super().__init__()
        in_channels = check_positive_int(in_channels, "in_channels")
        kernel = check_positive_int(kernel, "kernel")
        if not table:
            raise ValueError("table must list the input maps of at least one output map")
        for o, inputs in enumerate(table):
            if not inputs or any(not 0 <= int(c) < in_channels for c in inputs) \
                    or len(set(inputs)) != len(inputs):
                raise ValueError(
                    f"table[{o}] must list distinct input maps in 0..{in_channels - 1}; got {list(inputs)}"
                )
        self.table = [tuple(int(c) for c in inputs) for inputs in table]
        check_parameter_count(sum(len(inputs) * kernel * kernel + 1 for inputs in self.table),
                              "table and kernel")
        self.convs = nn.ModuleList(nn.Conv2d(len(inputs), 1, kernel) for inputs in self.table)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([conv(x[:, list(inputs)]) for conv, inputs in zip(self.convs, self.table)], 1)


@declare(in_features=WIDTH, classes=WIDTH, seed=Seed(), example=dict(in_features=3, classes=2))
class RBFOutput(nn.Module):
    r"""LeNet-5's output layer: unit :math:`i` computes the squared distance
    :math:`\sum_j (x_j - w_{ij})^2` to a fixed code :math:`w_i`. The paper's
    codes are stylised 7x12 bitmaps of the characters, chosen by hand and
    not trained; here they are seeded random +-1 codes, kept as a buffer (not a
    parameter). ``forward`` returns minus the distances, so that the largest
    output is the predicted class."""

    def __init__(self, in_features: int = 84, classes: int = 10, seed: int = 0) -> None:
        super().__init__()
        in_features = check_positive_int(in_features, "in_features")
        classes = check_positive_int(classes, "classes")
        check_parameter_count(in_features * classes, "in_features and classes")
        gen = torch.Generator().manual_seed(check_seed(seed))
        codes = torch.randint(0, 2, (classes, in_features), generator=gen).float() * 2 - 1
        self.register_buffer("codes", codes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -((x.unsqueeze(1) - self.codes.unsqueeze(0)) ** 2).sum(-1)


#: Table I of LeCun et al. (1998): the S2 maps each C3 map takes as input.
#: Six maps see three contiguous S2 maps, six see four contiguous ones, three
#: see four non-contiguous ones, and the last sees all six.
LENET5_C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


#: What LeCun et al. (1998) state about LeNet-5 (section II.B): trainable
#: parameters per layer, the total, and the number of connections.
LENET5_PAPER = {
    "parameters": {"C1": 156, "S2": 12, "C3": 1516, "S4": 32, "C5": 48120, "F6": 10164},
    "total parameters": 60000,
    "connections": 340908,
}


@declare(variant=Choice(("paper", "torch")), seed=Seed(), example=dict(variant="torch"))
def lenet5(variant: str = "paper", seed: int = 0) -> nn.Sequential:
    """LeNet-5 for 32x32 inputs (n, 1, 32, 32), untrained.

    ``variant="paper"`` follows LeCun et al. (1998): C1 six 5x5 maps, S2
    trainable subsampling, C3 sixteen 5x5 maps wired by
    :data:`LENET5_C3_TABLE`, S4, C5 120 maps of 5x5 (on a 5x5 input: one
    position each), F6 84 units, squashing :class:`ScaledTanh`, output
    :class:`RBFOutput` with fixed codes.

    ``variant="torch"`` is the usual modern rewrite: a full ``Conv2d`` for C3
    (every C3 map sees all six S2 maps), average pooling without parameters
    for S2 and S4, and a trained ``Linear(84, 10)`` output.

    The modules carry the paper's layer names (``net.C3`` etc.).
    """
    check_choice(variant, "variant", ("paper", "torch"))
    seed = check_seed(seed)
    torch_gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # nn's default init draws from the global generator
    try:
        paper = variant == "paper"
        modules = [
            ("C1", nn.Conv2d(1, 6, 5)), ("C1_act", ScaledTanh()),
            ("S2", Subsampling(6) if paper else nn.AvgPool2d(2)), ("S2_act", ScaledTanh()),
            ("C3", PartialConv2d(LENET5_C3_TABLE, 6, 5) if paper else nn.Conv2d(6, 16, 5)),
            ("C3_act", ScaledTanh()),
            ("S4", Subsampling(16) if paper else nn.AvgPool2d(2)), ("S4_act", ScaledTanh()),
            ("C5", nn.Conv2d(16, 120, 5)), ("C5_act", ScaledTanh()),
            ("flatten", nn.Flatten()),
            ("F6", nn.Linear(120, 84)), ("F6_act", ScaledTanh()),
            ("output", RBFOutput(84, 10, seed) if paper else nn.Linear(84, 10)),
        ]
        from collections import OrderedDict

        net = nn.Sequential(OrderedDict(modules))
    finally:
        torch.random.set_rng_state(torch_gen_state)
    return net


def _connections(m: nn.Module, out: tuple[int, ...]) -> int:
    """Connections into the units of one layer whose output has shape ``out``
    (without the batch dimension), biases included."""
    units = int(np.prod(out))
    if isinstance(m, nn.Conv2d):
        return units * (m.weight[0].numel() + int(m.bias is not None))
    if isinstance(m, PartialConv2d):
        return out[1] * out[2] * sum(c.weight.numel() + 1 for c in m.convs)
    if isinstance(m, (Subsampling, nn.AvgPool2d)):
        return units * (4 + 1)
    if isinstance(m, nn.Linear):
        return units * (m.in_features + int(m.bias is not None))
    if isinstance(m, RBFOutput):
        return units * m.codes.shape[1]
    return 0


@declare(model=Module(), x=Instance(torch.Tensor, what="a torch.Tensor"),
         example=lambda: dict(model=lenet5("torch"), x=torch.zeros(1, 1, 32, 32)))
def count_connections(model: nn.Module, x: torch.Tensor) -> int:
    """Connections of ``model`` on input ``x`` (one sample is enough): for
    every unit of every weighted layer, its inputs plus one for the bias.

    A net without weight sharing (each connection its own weight: a
    "locally connected" net) with the same wiring would have this many
    parameters; :func:`count_parameters` over this count is what weight
    sharing saves. Pooling layers without parameters count nothing.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
    kinds = (nn.Conv2d, nn.Linear, PartialConv2d, Subsampling, RBFOutput)
    total = [0]

    def hook(mod, inputs, output):
        total[0] += _connections(mod, tuple(output.shape[1:]))

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)
             and not any(isinstance(p, PartialConv2d) and m in p.convs for p in model.modules())]
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"x must hold at least one sample; got shape {tuple(x.shape)}")
    if not torch.isfinite(x.detach()).all():
        raise ValueError("x contains NaN or infinite values; all values must be finite")
    try:
        with torch.no_grad():
            model(x[:1])
    except RuntimeError as exc:
        raise ValueError(f"x of shape {tuple(x.shape)} does not fit the model: {exc}") from None
    finally:
        for h in hooks:
            h.remove()
    return total[0]


@declare(variant=Choice(("paper", "torch")), example=dict(variant="torch"))
def lenet5_table(variant: str = "paper") -> pd.DataFrame:
    """Trainable parameters and connections of each LeNet-5 layer, computed
    from the torch module on a 32x32 input.

    A *connection* is one input feeding one unit, biases included (the
    paper's way of counting): for a unit of a convolution that is its kernel
    entries plus one; for the RBF output, its 84 inputs.

    Returns one row per layer (C1, S2, C3, S4, C5, F6, output) and a last
    row ``total``, with columns ``layer``, ``output shape``, ``parameters``,
    ``connections`` and, for ``variant="paper"``, ``paper says`` (the
    published parameter count, where the paper gives one).
    """
    net = lenet5(variant)
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, name=name: shapes.__setitem__(name, tuple(o.shape[1:])))
             for name, m in net.named_children()]
    try:
        with torch.no_grad():
            net(torch.zeros(1, 1, 32, 32))
    finally:
        for h in hooks:
            h.remove()
    rows = []
    for name in ("C1", "S2", "C3", "S4", "C5", "F6", "output"):
        m = getattr(net, name)
        out = shapes[name]
        params = count_parameters(m)
        conn = _connections(m, out)
        row = {"layer": name, "output shape": "x".join(map(str, out)), "parameters": params,
               "connections": conn}
        if variant == "paper":
            row["paper says"] = LENET5_PAPER["parameters"].get(name, np.nan)
        rows.append(row)
    total = {"layer": "total", "output shape": "", "parameters": sum(r["parameters"] for r in rows),
             "connections": sum(r["connections"] for r in rows)}
    if variant == "paper":
        total["paper says"] = LENET5_PAPER["total parameters"]
    rows.append(total)
    return pd.DataFrame(rows)
