r"""Ensembles of chapter 5's CNNs: the convolutional layers of N members as one layer.

Inputs stay flat rows, (N, batch, 64), as for the MLP ensembles (the nets of
:mod:`gradbook.models.cnn` reshape rows to images themselves); inside the
ensemble an image batch is (N, batch, channels, height, width).

A stack of N ``nn.Conv2d`` layers is one *grouped* convolution: the members'
channels are laid side by side, ``(batch, N * channels, H, W)``, and
``groups=N`` makes output group :math:`k` see input group :math:`k` only, so
members never mix. Pooling and the elementwise activations act on each
member's maps as they are.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__: list[str] = []


class _BatchedConv2d(nn.Module):
    """N ``nn.Conv2d`` layers as one grouped convolution: weight (N, out, in, k, k), bias (N, out)."""

    def __init__(self, layers: Sequence[nn.Conv2d]) -> None:
        super().__init__()
        first = layers[0]
        if any(layer.bias is None for layer in layers):
            raise ValueError("ensemble members' Conv2d layers must have biases")
        if first.groups != 1 or any((l.stride, l.padding, l.dilation, l.padding_mode)
                                    != (first.stride, first.padding, first.dilation, first.padding_mode)
                                    for l in layers):
            raise ValueError("ensemble members' Conv2d layers must share stride, padding and dilation "
                             "and be ungrouped")
        if first.padding_mode != "zeros":
            raise ValueError("ensemble members' Conv2d layers must pad with zeros")
        self.stride, self.padding, self.dilation = first.stride, first.padding, first.dilation
        self.weight = nn.Parameter(torch.stack([l.weight.detach() for l in layers]),
                                   requires_grad=first.weight.requires_grad)
        self.bias = nn.Parameter(torch.stack([l.bias.detach() for l in layers]),
                                 requires_grad=first.bias.requires_grad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, b, c, h, w = x.shape
        grouped = x.transpose(0, 1).reshape(b, n * c, h, w)
        out = F.conv2d(grouped, self.weight.flatten(0, 1), self.bias.flatten(), self.stride,
                       self.padding, self.dilation, groups=n)
        return out.view(b, n, -1, *out.shape[2:]).transpose(0, 1)

    def write(self, k: int, layer: nn.Conv2d) -> None:
        with torch.no_grad():
            layer.weight.copy_(self.weight[k])
            layer.bias.copy_(self.bias[k])
        layer.weight.requires_grad_(self.weight.requires_grad)
        layer.bias.requires_grad_(self.bias.requires_grad)


class _PerImage(nn.Module):
    """A parameter-free image layer (``nn.MaxPool2d``, ``nn.AvgPool2d``) applied
    to every member's maps: (N, batch, C, H, W) -> (N * batch, C, H, W) and back."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layer(x.flatten(0, 1))
        return out.view(*x.shape[:2], *out.shape[1:])

    def write(self, k: int, layer: nn.Module) -> None:
        pass


class _Reshape(nn.Module):
    """``nn.Unflatten`` / ``nn.Flatten`` of a member's (batch, ...) tensor, moved
    one dimension on for the leading member dimension."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        if isinstance(layer, nn.Unflatten):
            if layer.dim != 1:
                raise ValueError("an ensemble stacks nn.Unflatten(1, shape) only")
            self.layer = nn.Unflatten(2, layer.unflattened_size)
        else:
            if (layer.start_dim, layer.end_dim) != (1, -1):
                raise ValueError("an ensemble stacks nn.Flatten() (start_dim=1, end_dim=-1) only")
            self.layer = nn.Flatten(2, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    def write(self, k: int, layer: nn.Module) -> None:
        pass


#: The layer types this module stacks.
CNN_LAYERS = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.Unflatten, nn.Flatten)


def batched_cnn_layer(members: Sequence[nn.Module]) -> nn.Module:
    """The batched version of one CNN layer (one of :data:`CNN_LAYERS`) from its N copies."""
    first = members[0]
    if type(first) is nn.Conv2d:
        return _BatchedConv2d(members)
    if any(repr(m) != repr(first) for m in members):
        raise ValueError(f"ensemble members' {type(first).__name__} layers must have the same settings")
    if isinstance(first, (nn.MaxPool2d, nn.AvgPool2d)):
        return _PerImage(first)
    if isinstance(first, (nn.Unflatten, nn.Flatten)):
        return _Reshape(first)
    raise TypeError(f"batched_cnn_layer stacks {', '.join(t.__name__ for t in CNN_LAYERS)}; "
                    f"got {type(first).__name__}")
