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
builds the chapter's nets (a small CNN for the 8x8 digits, deep plain CNNs
for the gradient measurements, LeNet-5 at 32x32 as LeCun et al. 1998 describe
it), trains them, and measures what the chapter reports.

Every net here takes the digits as flat rows of 64 pixels, shape (n, 64),
like the MLPs of :func:`gradbook.nets.mlp`, and reshapes them to images of
shape (n, 1, 8, 8) itself; so the same data, the same pixel permutation and
the same training loop serve both kinds of net.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ._validate import (
    as_features,
    as_labels,
    check_choice,
    check_positive_float,
    check_positive_int,
    check_seed,
    check_seeds,
)
from .data import digits_split, label_subset
from .losses import LOSSES, loss_value
from .nets import ACTIVATIONS, INITS, init_layer, mlp
from .train import evaluate, train

__all__ = [
    "SIDE",
    "DEFAULT_INIT",
    "NET_COLOURS",
    "STEPS",
    "LR",
    "BATCH",
    "LABELS",
    "conv_output_size",
    "conv_parameter_count",
    "count_parameters",
    "count_connections",
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
    "lenet5_table",
    "digits_split",
    "pixel_permutation",
    "permute_pixels",
    "permute_first_layer",
    "capacity_comparison",
    "label_sweep",
    "permutation_check",
    "layer_gradients",
    "gradient_profile",
    "training_profiles",
    "first_last_ratio",
    "ratios_by_epoch",
    "profile_figure",
    "labels_figure",
    "feature_maps",
    "feature_maps_figure",
]

SIDE = 8  # the digits are 8x8 images

#: The initialisation used with each activation when none is given: Nielsen's
#: N(0, 1/fan_in) weights and N(0, 1) biases for the sigmoid (as in chapter 1),
#: Glorot's for tanh, He's for ReLU.
DEFAULT_INIT = {"sigmoid": "nielsen", "tanh": "xavier", "relu": "he"}

_ACT = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}

# The chapter's training settings for the digit classifiers: SGD with
# momentum 0.9, about STEPS mini-batches of BATCH whatever the number of labels.
STEPS, LR, BATCH = 400, 0.05, 32
LABELS = (50, 200, 1438)


# ------------------------------------------------------------------ counting


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


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (entries of tensors with ``requires_grad``).

    Buffers, such as the fixed output codes of :class:`RBFOutput`, are not
    parameters and are not counted.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


# ------------------------------------------------------------- the maths


def _as_image_batch(x: Any, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(
            f"{name} must have shape (batch, channels, height, width); got shape {tuple(x.shape)}"
        )
    return x


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
    xp = F.pad(x, (padding, padding, padding, padding))
    out_h, out_w = h + 2 * padding - kh + 1, w + 2 * padding - kw + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"a {kh}x{kw} kernel does not fit a padded {h}x{w} input")
    out = torch.zeros(n, c_out, out_h, out_w, dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            patch = xp[:, :, i:i + kh, j:j + kw]                # (n, c_in, kh, kw)
            out[:, :, i, j] = torch.einsum("nchw,ochw->no", patch, weight)
    if bias is not None:
        out += bias.view(1, -1, 1, 1)
    return out


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
    ap = F.pad(a, (padding, padding, padding, padding))
    out_h, out_w = ap.shape[2] - kernel + 1, ap.shape[3] - kernel + 1
    if tuple(delta.shape[2:]) != (out_h, out_w):
        raise ValueError(
            f"delta must have spatial shape ({out_h}, {out_w}) for a {kernel}x{kernel} kernel "
            f"on this input; got {tuple(delta.shape[2:])}"
        )
    grad = torch.zeros(delta.shape[1], a.shape[1], kernel, kernel, dtype=a.dtype)
    for i in range(out_h):
        for j in range(out_w):
            patch = ap[:, :, i:i + kernel, j:j + kernel]          # (n, c_in, k, k)
            grad += torch.einsum("no,nchw->ochw", delta[:, :, i, j], patch)
    return grad


# ------------------------------------------------------------------ the nets


def _check_init(init: str | float) -> None:
    if isinstance(init, str):
        check_choice(init, "init", INITS)
    else:
        check_positive_float(init, "init (a weight standard deviation)")


def _initialise(net: nn.Module, init: str | float, seed: int) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            init_layer(m, init, gen)
    return net


def small_cnn(channels: int = 8, activation: str = "relu", init: str | float | None = None,
              seed: int = 0) -> nn.Sequential:
    """The chapter's CNN for the 8x8 digits.

    ``(n, 64) -> 1x8x8 -> conv3x3(channels) -> act -> maxpool2 -> 4x4
    -> conv3x3(2*channels) -> act -> maxpool2 -> 2x2 -> linear(10)``,
    both convolutions with padding 1. With ``channels=8`` it has 1,898
    parameters.
    """
    channels = check_positive_int(channels, "channels")
    check_choice(activation, "activation", ACTIVATIONS)
    init = DEFAULT_INIT[activation] if init is None else init
    _check_init(init)
    seed = check_seed(seed)
    act = _ACT[activation]
    net = nn.Sequential(
        nn.Unflatten(1, (1, SIDE, SIDE)),
        nn.Conv2d(1, channels, 3, padding=1), act(), nn.MaxPool2d(2),
        nn.Conv2d(channels, 2 * channels, 3, padding=1), act(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * channels * (SIDE // 4) ** 2, 10),
    )
    return _initialise(net, init, seed)


def deep_cnn(depth: int, channels: int = 4, activation: str = "sigmoid",
             init: str | float | None = None, seed: int = 0) -> nn.Sequential:
    """A plain deep CNN for the gradient measurements: ``depth`` layers of
    ``channels`` 3x3 kernels with padding 1 (every layer keeps the 8x8 size,
    no pooling), each followed by ``activation``, then a linear read-out to 10
    classes. Takes (n, 64) rows."""
    depth = check_positive_int(depth, "depth")
    channels = check_positive_int(channels, "channels")
    check_choice(activation, "activation", ACTIVATIONS)
    init = DEFAULT_INIT[activation] if init is None else init
    _check_init(init)
    seed = check_seed(seed)
    layers: list[nn.Module] = [nn.Unflatten(1, (1, SIDE, SIDE))]
    for i in range(depth):
        layers += [nn.Conv2d(1 if i == 0 else channels, channels, 3, padding=1), _ACT[activation]()]
    layers += [nn.Flatten(), nn.Linear(channels * SIDE * SIDE, 10)]
    return _initialise(nn.Sequential(*layers), init, seed)


def deep_mlp(depth: int, width: int = 64, activation: str = "sigmoid",
             init: str | float | None = None, seed: int = 0) -> nn.Sequential:
    """The MLP twin of :func:`deep_cnn`: ``[64] + [width] * depth + [10]``
    built by :func:`gradbook.nets.mlp`, with the same default initialisation
    per activation."""
    depth = check_positive_int(depth, "depth")
    check_choice(activation, "activation", ACTIVATIONS)
    init = DEFAULT_INIT[activation] if init is None else init
    return mlp([SIDE * SIDE] + [width] * depth + [10], activation=activation, init=init, seed=seed)


# -------------------------------------------------------------- LeNet-5 (1998)


class ScaledTanh(nn.Module):
    r"""LeNet-5's squashing function :math:`f(a) = A \tanh(S a)`, with
    :math:`A = 1.7159` and :math:`S = 2/3` (LeCun et al. 1998, appendix A)."""

    A = 1.7159
    S = 2.0 / 3.0

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.A * torch.tanh(self.S * a)


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


class PartialConv2d(nn.Module):
    """A convolution in which output map ``o`` sees only the input maps
    ``table[o]``: one small ``Conv2d`` per output map, so that the
    parameters that exist are exactly the ones the table allows."""

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
        self.convs = nn.ModuleList(nn.Conv2d(len(inputs), 1, kernel) for inputs in self.table)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([conv(x[:, list(inputs)]) for conv, inputs in zip(self.convs, self.table)], 1)


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
    try:
        with torch.no_grad():
            model(x[:1])
    finally:
        for h in hooks:
            h.remove()
    return total[0]


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


# ----------------------------------------------------------------- training


def _first_weight(model: nn.Module) -> torch.Tensor:
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            return m.weight
    raise ValueError("model has no nn.Conv2d or nn.Linear layer")


def _check_net(model: Any) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    _first_weight(model)
    return model


# ---------------------------------------------------------- data, permutation


def pixel_permutation(seed: int = 0, n_pixels: int = SIDE * SIDE) -> torch.Tensor:
    """One fixed random permutation of the pixel positions, from ``seed``."""
    seed = check_seed(seed)
    n_pixels = check_positive_int(n_pixels, "n_pixels")
    return torch.randperm(n_pixels, generator=torch.Generator().manual_seed(seed))


def _check_perm(perm: Any, n: int) -> torch.Tensor:
    if not isinstance(perm, torch.Tensor) or perm.ndim != 1:
        raise TypeError(f"perm must be a 1-D torch tensor of indices; got {type(perm).__name__}")
    if perm.numel() != n or not torch.equal(torch.sort(perm.long()).values, torch.arange(n)):
        raise ValueError(f"perm must be a permutation of 0..{n - 1}; got {perm.numel()} entries "
                         "that are not")
    return perm.long()


def permute_pixels(X, perm: torch.Tensor) -> torch.Tensor:
    """``X[:, perm]``: the same pixel shuffle applied to every image."""
    X = as_features(X, "X")
    perm = _check_perm(perm, X.shape[1])
    return X[:, perm]


def permute_first_layer(model: nn.Sequential, perm: torch.Tensor) -> nn.Sequential:
    r"""A copy of an MLP whose first layer reads shuffled pixels as the
    original read the originals: :math:`W' = W[:, \pi]`.

    Since :math:`W'_{:,j} x_{\pi(j)}` summed over :math:`j` is :math:`W x`,
    the copy computes on ``permute_pixels(X, perm)`` exactly what ``model``
    computes on ``X``, and its gradients are the original's, permuted: for a
    fully connected net, a pixel shuffle is only a relabelling of the first
    layer's weights.
    """
    import copy

    first = _first_weight(model)
    if not isinstance(model, nn.Module) or first.ndim != 2:
        raise TypeError("model must be an MLP whose first weighted layer is nn.Linear")
    perm = _check_perm(perm, first.shape[1])
    twin = copy.deepcopy(model)
    with torch.no_grad():
        w = _first_weight(twin)
        w.copy_(first[:, perm])
    return twin


# ---------------------------------------------------------------- experiments


@functools.lru_cache(maxsize=None)
def _run(arch: str, size: int, n_labels: int, shuffled: bool, seed: int, steps: int,
         lr: float, batch_size: int):
    """One memoised training run on the digits split: the capacity table, the
    label sweep and the figures share their runs (read the History; do not
    modify it). ``arch`` is "cnn" (``size`` = channels of :func:`small_cnn`) or
    "mlp" (``size`` = hidden units of one ReLU layer). The training set is the
    first ``n_labels`` of a seeded, class-stratified order; training lasts
    about ``steps`` mini-batches whatever the number of labels."""
    X_train, X_test, y_train, y_test = digits_split()
    if shuffled:
        perm = pixel_permutation(0)
        X_train, X_test = permute_pixels(X_train, perm), permute_pixels(X_test, perm)
    idx = label_subset(y_train, n_labels, seed)
    if arch == "cnn":
        net = small_cnn(size, "relu", seed=seed)
    else:
        net = mlp([SIDE * SIDE, size, 10], activation="relu", init="he", seed=seed)
        if arch == "mlp-twin":  # the same initial net, relabelled for shuffled pixels
            net = permute_first_layer(net, pixel_permutation(0))
    epochs = max(1, math.ceil(steps * batch_size / n_labels))
    history = train(net, X_train[idx], y_train[idx], epochs=epochs, lr=lr,
                    batch_size=batch_size, momentum=0.9, seed=seed, X_test=X_test,
                    y_test=y_test, record_every=max(1, epochs // 10))
    return history, net


def capacity_comparison(
    cnn_channels: Sequence[int] = (8,),
    mlp_widths: Sequence[int] = (8, 16, 32, 64),
    *,
    seeds: Sequence[int] = (0, 1),
    steps: int = STEPS,
    lr: float = LR,
    batch_size: int = BATCH,
) -> pd.DataFrame:
    """Claim C10 (CNN half): parameters against test accuracy for a family of
    small CNNs (:func:`small_cnn` with each number of channels) and of
    one-hidden-layer ReLU MLPs (each width), all trained on every training
    digit with the same SGD (momentum 0.9).

    One row per (net, size, seed): ``net``, ``size``, ``seed``,
    ``parameters``, ``test accuracy``, ``seconds``.
    """
    steps = check_positive_int(steps, "steps")
    rows = []
    for arch, sizes in (("cnn", cnn_channels), ("mlp", mlp_widths)):
        for size in sizes:
            size = check_positive_int(size, f"{arch} size")
            for s in check_seeds(seeds):
                history, net = _run(arch, size, 1438, False, s, steps, float(lr), batch_size)
                rows.append({"net": arch.upper(), "size": size, "seed": s,
                             "parameters": count_parameters(net),
                             "test accuracy": history.test_acc[-1], "seconds": history.seconds})
    return pd.DataFrame(rows)


def label_sweep(
    n_labels: Sequence[int] = LABELS,
    *,
    seeds: Sequence[int] = (0, 1),
    cnn_channels: int = 8,
    mlp_width: int = 32,
    steps: int = STEPS,
    lr: float = LR,
    batch_size: int = BATCH,
) -> pd.DataFrame:
    """Claim C16: test accuracy against the number of labels, for the CNN and
    the MLP trained from scratch by backprop, on the images as they are and
    with one fixed random permutation of the 64 pixels (the same for train and
    test, :func:`pixel_permutation` with seed 0).

    One row per (net, pixels, labels, seed) with ``test accuracy`` and
    ``train accuracy``.
    """
    steps = check_positive_int(steps, "steps")
    rows = []
    for n in n_labels:
        n = check_positive_int(n, "n_labels[i]", minimum=10)
        if n > 1438:
            raise ValueError(f"n_labels can be at most 1438 (the training set); got {n}")
        for arch, size in (("cnn", cnn_channels), ("mlp", mlp_width)):
            for shuffled in (False, True):
                for s in check_seeds(seeds):
                    history, _ = _run(arch, size, n, shuffled, s, steps, float(lr), batch_size)
                    rows.append({"net": arch.upper(), "pixels": "shuffled" if shuffled else "original",
                                 "labels": n, "seed": s, "test accuracy": history.test_acc[-1],
                                 "train accuracy": history.train_acc[-1]})
    return pd.DataFrame(rows)


def permutation_check(*, cnn_channels: int = 8, mlp_width: int = 32, n_labels: int = 1438,
                      seed: int = 0, steps: int = STEPS, lr: float = LR,
                      batch_size: int = BATCH) -> dict[str, Any]:
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
    """
    n_labels = check_positive_int(n_labels, "n_labels", minimum=10)
    seed = check_seed(seed)
    args = (n_labels, seed, check_positive_int(steps, "steps"), float(lr),
            check_positive_int(batch_size, "batch_size"))
    out: dict[str, Any] = {
        "cnn": _run("cnn", cnn_channels, n_labels, False, seed, *args[2:])[0],
        "cnn_shuffled": _run("cnn", cnn_channels, n_labels, True, seed, *args[2:])[0],
        "mlp": _run("mlp", mlp_width, n_labels, False, seed, *args[2:])[0],
        "mlp_shuffled": _run("mlp", mlp_width, n_labels, True, seed, *args[2:])[0],
        "mlp_twin": _run("mlp-twin", mlp_width, n_labels, True, seed, *args[2:])[0],
    }
    out["max_loss_gap"] = float(np.max(np.abs(np.subtract(out["mlp"].step_loss,
                                                          out["mlp_twin"].step_loss))))
    return out


# ------------------------------------------------------ gradients layer by layer


def _weighted_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def layer_gradients(model: nn.Module, X, y, loss: str = "softmax") -> pd.DataFrame:
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
    _check_net(model)
    X = as_features(X, "X", n_features=SIDE * SIDE)
    y = as_labels(y, "y", n_samples=X.shape[0], n_classes=10)
    check_choice(loss, "loss", LOSSES)
    layers = _weighted_layers(model)[:-1]
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


@functools.lru_cache(maxsize=None)
def _profile(arch: str, depth: int, activation: str, seed: int, n_samples: int,
             channels: int, width: int) -> pd.DataFrame:
    X_train, _, y_train, _ = digits_split()
    if arch == "cnn":
        net = deep_cnn(depth, channels, activation, seed=seed)
    else:
        net = deep_mlp(depth, width, activation, seed=seed)
    return layer_gradients(net, X_train[:n_samples], y_train[:n_samples])


def gradient_profile(depth: int, activation: str = "sigmoid", *, seeds: Sequence[int] = (0, 1, 2),
                     n_samples: int = 250, channels: int = 4, width: int = 64) -> pd.DataFrame:
    """Claim C17 at initialisation: :func:`layer_gradients` of the deep CNN
    (:func:`deep_cnn`, ``channels`` per layer) and of the equally deep MLP
    (:func:`deep_mlp`, ``width`` per layer), averaged over ``seeds``, on the
    first ``n_samples`` training digits.

    One row per (net, layer) with the mean ``delta rms`` and ``weight grad
    rms`` and ``terms per weight``; memoised per seed.
    """
    depth = check_positive_int(depth, "depth")
    check_choice(activation, "activation", ACTIVATIONS)
    n_samples = check_positive_int(n_samples, "n_samples")
    channels = check_positive_int(channels, "channels")
    width = check_positive_int(width, "width")
    frames = []
    for arch in ("cnn", "mlp"):
        for s in check_seeds(seeds):
            f = _profile(arch, depth, activation, s, n_samples, channels, width).copy()
            f["net"], f["seed"] = arch.upper(), s
            frames.append(f)
    allf = pd.concat(frames, ignore_index=True)
    return (allf.groupby(["net", "layer"], as_index=False)
            [["delta rms", "weight grad rms", "terms per weight"]].mean())


def training_profiles(depth: int = 6, activation: str = "sigmoid", *, epochs: int = 5,
                      lr: float = 0.05, batch_size: int = 32, seed: int = 0,
                      n_samples: int = 250, channels: int = 4, width: int = 64) -> pd.DataFrame:
    """Claim C17 early in training: train the deep CNN and the deep MLP of
    :func:`gradient_profile` for ``epochs`` epochs (SGD, momentum 0.9) and
    measure :func:`layer_gradients` after every epoch.

    One row per (net, epoch, layer) with ``delta rms``, ``weight grad rms``
    and the net's ``test accuracy`` at that epoch.
    """
    return _training_profiles(check_positive_int(depth, "depth"),
                              check_choice(activation, "activation", ACTIVATIONS),
                              check_positive_int(epochs, "epochs"),
                              check_positive_float(lr, "lr"),
                              check_positive_int(batch_size, "batch_size"),
                              check_seed(seed), check_positive_int(n_samples, "n_samples"),
                              check_positive_int(channels, "channels"),
                              check_positive_int(width, "width")).copy()


@functools.lru_cache(maxsize=None)
def _training_profiles(depth, activation, epochs, lr, batch_size, seed, n_samples, channels, width):
    X_train, X_test, y_train, y_test = digits_split()
    Xd, yd = X_train[:n_samples], y_train[:n_samples]
    rows = []
    for arch in ("cnn", "mlp"):
        net = (deep_cnn(depth, channels, activation, seed=seed) if arch == "cnn"
               else deep_mlp(depth, width, activation, seed=seed))
        for epoch in range(epochs + 1):
            if epoch > 0:
                train(net, X_train, y_train, epochs=1, lr=lr, batch_size=batch_size,
                      momentum=0.9, seed=seed * 1000 + epoch)
            acc = evaluate(net, X_test, y_test)[1]
            f = layer_gradients(net, Xd, yd)
            f["net"], f["epoch"], f["test accuracy"] = arch.upper(), epoch, acc
            rows.append(f)
    return pd.concat(rows, ignore_index=True)


def first_last_ratio(profile: pd.DataFrame, net: str, column: str = "delta rms") -> float:
    """Last hidden layer's value over the first's, for one net of a
    :func:`gradient_profile` (or one epoch of :func:`training_profiles`):
    how many times less the first layer gets."""
    if not isinstance(profile, pd.DataFrame) or not {"net", "layer", column} <= set(profile.columns):
        raise ValueError(f"profile must be a DataFrame with columns net, layer and {column!r}")
    part = profile[profile.net == net].sort_values("layer")[column].to_numpy()
    if len(part) == 0:
        raise ValueError(f"profile has no rows for net {net!r}; nets: {sorted(set(profile.net))}")
    return float(part[-1] / part[0])


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


def profile_figure(depth: int, activation: str):
    """Interactive figure: per-layer error signal (left) and per-weight
    gradient (right) at initialisation, CNN and MLP of the same depth, on a
    log axis, with the first/last ratio of each in the legend."""
    import matplotlib.pyplot as plt

    from .plots import layer_log_axis

    prof = gradient_profile(depth, activation)
    fig, axes = plt.subplots(1, 2, figsize=(9.2, 3.5), sharex=True)
    for ax, column, title in zip(axes, ("delta rms", "weight grad rms"),
                                 (r"error signal $\delta^l$ (rms per unit)",
                                  r"weight gradient $\partial C/\partial W^l$ (rms per weight)")):
        for net, group in prof.groupby("net"):
            values = group[column].to_numpy()
            ratio = values[-1] / values[0]
            ax.plot(group["layer"], values, "o-", color=NET_COLOURS[net], lw=2,
                    label=f"{net}: last/first = {ratio:.3g}")
        layer_log_axis(ax, 8, range(-9, 2, 2), (1e-9, 1e1))
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"{activation}, {depth} hidden layers, at initialisation", fontsize=11,
                 fontweight="bold")
    fig.subplots_adjust(left=0.08, right=0.99, bottom=0.15, top=0.83, wspace=0.22)
    return fig


def labels_figure(labels: int, pixels: str, *, n_labels: Sequence[int] = LABELS,
                  seeds: Sequence[int] = (0, 1), steps: int = STEPS):
    """Interactive figure: test accuracy during training for the CNN and the
    MLP trained on ``labels`` digits, ``pixels`` "original" or "shuffled"
    (left), and the final accuracy against the number of labels with the
    current choice marked (right). Replots the memoised runs of
    :func:`label_sweep` (called with ``n_labels``, ``seeds`` and ``steps``)."""
    import matplotlib.pyplot as plt

    check_choice(pixels, "pixels", ("original", "shuffled"))
    if labels not in n_labels:
        raise ValueError(f"labels must be one of n_labels {tuple(n_labels)}; got {labels!r}")
    seeds = check_seeds(seeds)
    sweep = label_sweep(n_labels, seeds=seeds, steps=steps)
    fig, (ax_c, ax_s) = plt.subplots(1, 2, figsize=(9.2, 3.5))
    for arch, size in (("cnn", 8), ("mlp", 32)):
        colour = NET_COLOURS[arch.upper()]
        for s in seeds:
            h, _ = _run(arch, size, labels, pixels == "shuffled", s, steps, LR, BATCH)
            done = np.array(h.epoch) * math.ceil(labels / BATCH)
            ax_c.plot(done, h.test_acc, "-", color=colour, lw=2, alpha=0.9 if s == seeds[0] else 0.5,
                      label=arch.upper() if s == seeds[0] else None)
        for shuffle, style in (("original", "o-"), ("shuffled", "s--")):
            part = sweep[(sweep.net == arch.upper()) & (sweep.pixels == shuffle)]
            mean = part.groupby("labels")["test accuracy"].mean()
            ax_s.plot(mean.index, mean.values, style, color=colour, lw=1.8,
                      alpha=1.0 if shuffle == pixels else 0.35,
                      label=f"{arch.upper()}, {shuffle}")
    chosen = sweep[(sweep.labels == labels) & (sweep.pixels == pixels)]
    for net, group in chosen.groupby("net"):
        ax_s.plot([labels], [group["test accuracy"].mean()], "o", ms=12, mfc="none",
                  mec=NET_COLOURS[net], mew=2)
    ax_c.set(xlabel="SGD steps", ylabel="test accuracy", ylim=(0, 1.02),
             title=f"{labels} labels, {pixels} pixels")
    ax_c.legend(fontsize=8, loc="lower right")
    ax_s.set_xscale("log")
    ax_s.set_xticks(list(n_labels))
    ax_s.set_xticklabels([str(n) for n in n_labels])
    ax_s.minorticks_off()
    ax_s.set(xlabel="labelled training digits", ylabel="final test accuracy", ylim=(0.7, 1.0),
             title=f"all runs (mean of {len(seeds)} seeds)")
    ax_s.legend(fontsize=7, loc="lower right", ncol=2)
    fig.subplots_adjust(left=0.08, right=0.99, bottom=0.15, top=0.9, wspace=0.25)
    return fig


def feature_maps(index: int, pixels: str = "original", *, steps: int = STEPS) -> dict[str, Any]:
    """The trained :func:`small_cnn` (8 channels, all labels, seed 0) applied
    to test digit ``index``: its input image (as the net sees it), the first
    layer's 8 filters and feature maps (after ReLU), the second layer's 16
    feature maps, and the predicted class."""
    index = check_positive_int(index, "index", minimum=0)
    check_choice(pixels, "pixels", ("original", "shuffled"))
    _, X_test, _, y_test = digits_split()
    if index >= len(X_test):
        raise ValueError(f"index must be below {len(X_test)} (test digits); got {index}")
    _, net = _run("cnn", 8, 1438, pixels == "shuffled", 0, check_positive_int(steps, "steps"), LR, BATCH)
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


def feature_maps_figure(digit: int, pixels: str, *, steps: int = STEPS):
    """Interactive figure: the first test image of ``digit`` as the CNN sees
    it, the first layer's eight 3x3 filters, and the feature maps of both
    layers (each filter and map scaled to its own range)."""
    import matplotlib.pyplot as plt

    from .plots import tile_images

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
