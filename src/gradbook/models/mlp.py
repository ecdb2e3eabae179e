r"""Fully connected nets: the plain MLP and its remedies.

- :func:`mlp`, the net every chapter starts from, and :func:`init_layer`, the
  one place where weights are drawn (Nielsen's, Glorot's, He's or a fixed
  standard deviation), used by every architecture of :mod:`gradbook.models`;
- :data:`ACTIVATION_MODULES`, the one table from an activation's name to its
  ``torch.nn`` module;
- the remedies of chapter 4 as nets: :func:`inverted_dropout` and its layer
  :class:`InvertedDropout`, :func:`dropout_mlp`, :func:`batchnorm_mlp` and
  :class:`ResidualMLP`;
- small helpers that read a net: :func:`linear_layers`, :func:`hidden_layers`,
  :func:`weighted_layers`, :func:`activation_of`, :func:`count_parameters`,
  and :func:`permute_first_layer` (a pixel shuffle as a relabelling).
"""

from __future__ import annotations

import copy
import math
from typing import Sequence

import torch
from torch import nn

from .._validate import (
    MAX_BYTES,
    MAX_DEPTH,
    Array,
    Choice,
    Instance,
    Int,
    LayerSizes,
    Module,
    Optional,
    Positive,
    Probability,
    Seed,
    Unchecked,
    check_choice,
    check_layer_sizes,
    check_memory,
    check_module,
    check_positive_float,
    check_positive_int,
    check_probability,
    check_seed,
    declare,
    derived_seed,
)
from ..data import check_permutation

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "ACTIVATION_MODULES",
    "INIT",
    "BYTES_PER_PARAMETER",
    "WIDTH",
    "GENERATOR",
    "check_init",
    "check_parameter_count",
    "init_layer",
    "mlp",
    "linear_layers",
    "hidden_layers",
    "weighted_layers",
    "io_sizes",
    "activation_of",
    "inverted_dropout",
    "InvertedDropout",
    "dropout_mlp",
    "batchnorm_mlp",
    "ResidualMLP",
    "count_parameters",
    "permute_first_layer",
]

ACTIVATIONS = ("sigmoid", "tanh", "relu")


INITS = ("nielsen", "standard", "xavier", "he")


#: The one table from an activation's name to its module.
ACTIVATION_MODULES = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


#: What an ``init`` argument accepts: a rule's name or a weight standard deviation.
INIT = Choice(INITS) | Positive(1e6)

#: Bytes per trainable number of a net: float32 weights, their gradients and
#: a momentum buffer.
BYTES_PER_PARAMETER = 12

#: What a count of units, channels or features accepts: an integer >= 1, at
#: most the largest whose weights could fit ``MAX_BYTES`` with a single input
#: (the builders then check the whole net's parameters).
WIDTH = Int(1, MAX_BYTES // BYTES_PER_PARAMETER)

#: A generator argument: a ``torch.Generator``.
GENERATOR = Instance(torch.Generator, what="a torch.Generator")


@declare(init=INIT, name=Unchecked("the argument's name, used in messages"), example=dict(init="he"))
def check_init(init: str | float, name: str = "init") -> str | float:
    """Return ``init`` if it is one of :data:`INITS` or a finite number > 0
    (a weight standard deviation); raise otherwise."""
    if isinstance(init, str):
        return check_choice(init, name, INITS)
    if isinstance(init, bool) or not isinstance(init, (int, float)):
        raise TypeError(f"{name} must be one of {INITS} or a weight standard deviation (a float); "
                        f"got {init!r}")
    check_positive_float(init, f"{name} (a weight standard deviation)")
    return init


@declare(count=Int(0), what=Unchecked("words naming the settings that give the count, for the message"),
         example=dict(count=10, what="sizes"))
def check_parameter_count(count: int, what: str) -> int:
    """Return ``count`` if a net of ``count`` trainable numbers fits
    ``MAX_BYTES`` (with their gradients and a momentum buffer, float32);
    raise a ``ValueError`` naming ``what`` (the settings that gave the count)
    otherwise. The builders call it before they allocate anything."""
    check_memory(count * BYTES_PER_PARAMETER, f"{what}, giving {count:,} parameters with their "
                                              "gradients and momentum,")
    return count


@declare(layer=Instance(nn.Linear, nn.Conv2d, what="a torch.nn.Linear or torch.nn.Conv2d"),
         init=INIT, gen=GENERATOR,
         example=lambda: dict(layer=nn.Linear(3, 2), init="he", gen=torch.Generator().manual_seed(0)))
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
    check_init(init)
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


@declare(sizes=LayerSizes(2), activation=Choice(ACTIVATIONS), init=INIT, seed=Seed(),
         example=dict(sizes=[4, 3, 2]))
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
    sizes = check_layer_sizes(sizes, "sizes", minimum_length=2)
    check_choice(activation, "activation", ACTIVATIONS)
    check_init(init)
    seed = check_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        # skip_init: no draw from torch's global generator; init_layer fills it.
        lin = torch.nn.utils.skip_init(nn.Linear, n_in, n_out)
        init_layer(lin, init, gen)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(ACTIVATION_MODULES[activation]())
    return nn.Sequential(*layers)


@declare(model=Module(), example=lambda: dict(model=mlp([3, 2])))
def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """All ``nn.Linear`` layers of ``model``, input side first."""
    check_module(model)
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError("model has no nn.Linear layer")
    return layers


@declare(model=Module(), example=lambda: dict(model=mlp([3, 2, 2])))
def hidden_layers(model: nn.Module) -> list[nn.Linear]:
    """The linear layers that feed hidden units: all but the output layer."""
    layers = linear_layers(model)
    if len(layers) < 2:
        raise ValueError("model has no hidden layer (a single nn.Linear)")
    return layers[:-1]


@declare(model=Module(), example=lambda: dict(model=mlp([3, 2])))
def weighted_layers(model: nn.Module) -> list[nn.Linear | nn.Conv2d]:
    """All ``nn.Conv2d`` and ``nn.Linear`` layers of ``model``, input side first."""
    check_module(model)
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if not layers:
        raise ValueError("model has no nn.Conv2d or nn.Linear layer")
    return layers


@declare(model=Module(), example=lambda: dict(model=mlp([3, 2])))
def io_sizes(model: nn.Module) -> tuple[int | None, int | None]:
    """(inputs, outputs) of ``model``: the input width where the net starts
    with an ``nn.Unflatten`` of each row (a CNN fed flat rows) or where its
    first layer with parameters is an ``nn.Linear``, the number of classes
    where its last is; None where the net does not say."""
    check_module(model)
    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    weighted = [m for m in leaves if next(m.parameters(False), None) is not None]
    if not weighted:
        raise ValueError("model has no layer with parameters")
    first, last = weighted[0], weighted[-1]
    n_in = first.in_features if isinstance(first, nn.Linear) else None
    if isinstance(leaves[0], nn.Unflatten) and leaves[0].dim == 1:
        n_in = math.prod(leaves[0].unflattened_size)
    return n_in, last.out_features if isinstance(last, nn.Linear) else None


@declare(model=Module(), example=lambda: dict(model=mlp([3, 2, 2])))
def activation_of(model: nn.Module) -> str:
    """The name of the hidden activation of a net built by :func:`mlp`."""
    check_module(model)
    for m in model.modules():
        for name, cls in ACTIVATION_MODULES.items():
            if isinstance(m, cls):
                return name
    raise ValueError("model has no sigmoid, tanh or relu module")


# ------------------------------------------------------------------ dropout


@declare(h=Instance(torch.Tensor, what="a torch.Tensor"), p=Probability(), generator=Optional(GENERATOR),
         check=False, example=lambda: dict(h=torch.ones(2, 3), p=0.5, generator=torch.Generator().manual_seed(0)))
def inverted_dropout(h: torch.Tensor, p: float, generator: torch.Generator | None = None
                     ) -> torch.Tensor:
    r"""Inverted dropout: drop each unit with probability ``p``, scale the survivors.

    .. math:: \tilde h = \frac{m \odot h}{1 - p},\qquad m_j \sim \text{Bernoulli}(1 - p),

    so that :math:`E[\tilde h] = h`: at test time the net is used as it is,
    with no rescaling (Srivastava et al. 2014 scale the weights at test time
    instead; the two are equivalent in expectation).

    Parameters
    ----------
    h : tensor of activations (any shape).
    p : float in [0, 1), the probability of dropping a unit.
    generator : torch.Generator, optional; seeds the masks.
    """
    if not isinstance(h, torch.Tensor):
        raise TypeError(f"h must be a torch.Tensor; got {type(h).__name__}")
    if not torch.isfinite(h.detach()).all():
        raise ValueError("h contains NaN or infinite values; all activations must be finite")
    p = check_probability(p, "p")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None; got {type(generator).__name__}")
    if p == 0.0:
        return h
    keep = torch.rand(h.shape, generator=generator) >= p
    return h * keep / (1.0 - p)


@declare(p=Probability(), seed=Seed(), example=dict(p=0.5))
class InvertedDropout(nn.Module):
    """:func:`inverted_dropout` as a layer, active in training mode only, with
    its own seeded generator (so that runs are reproducible without touching
    torch's global random state).

    The forward pass draws the same mask and scales by the same factor as
    :func:`inverted_dropout`, without its check of the activations: in a net
    whose training diverges they become NaN, and the training loop, not this
    layer, reports the divergence (naming the learning rate)."""

    def __init__(self, p: float, seed: int = 0) -> None:
        super().__init__()
        self.p = check_probability(p, "p")
        self.generator = torch.Generator().manual_seed(check_seed(seed))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return h
        keep = torch.rand(h.shape, generator=self.generator) >= self.p
        return h * keep / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


@declare(sizes=LayerSizes(3), p=Probability(), activation=Choice(ACTIVATIONS), init=INIT, seed=Seed(),
         example=dict(sizes=[4, 3, 2], p=0.5))
def dropout_mlp(sizes: Sequence[int], p: float, *, activation: str = "relu",
                init: str | float = "he", seed: int = 0) -> nn.Sequential:
    """:func:`mlp` with an :class:`InvertedDropout` layer after
    every hidden activation (``p = 0`` gives the plain net, the same weights).

    Returns ``Linear, act, Dropout, ..., Linear``.
    """
    sizes = check_layer_sizes(sizes, "sizes", minimum_length=3)
    p = check_probability(p, "p")
    seed = check_seed(seed)
    base = mlp(sizes, activation, init, seed=seed)
    layers: list[nn.Module] = []
    for i, module in enumerate(base):
        layers.append(module)
        if isinstance(module, tuple(ACTIVATION_MODULES.values())):
            layers.append(InvertedDropout(p, seed=derived_seed(seed * 1000 + i)))
    return nn.Sequential(*layers)


# --------------------------------------------------------- the deep variants


@declare(sizes=LayerSizes(3), activation=Choice(ACTIVATIONS), init=INIT, seed=Seed(),
         example=dict(sizes=[4, 3, 2]))
def batchnorm_mlp(sizes: Sequence[int], activation: str = "sigmoid",
                  init: str | float = 0.1, seed: int = 0) -> nn.Sequential:
    r""":func:`mlp` with batch normalisation (Ioffe & Szegedy
    2015) between every hidden linear layer and its activation:

    .. math:: a^l = f\Big(\gamma^l \odot \frac{z^l - \mu_B(z^l)}
              {\sqrt{\operatorname{var}_B(z^l) + \epsilon}} + \beta^l\Big),
              \qquad z^l = W^l a^{l-1} + b^l,

    with the mean and variance over the mini-batch in training and running
    averages at test time. (The linear layers' biases :math:`b^l` then get no
    gradient: the normalisation removes them; measure the weights' gradients.)
    """
    sizes = check_layer_sizes(sizes, "sizes", minimum_length=3)
    base = mlp(sizes, activation, init, seed=check_seed(seed))
    layers: list[nn.Module] = []
    for module in base:
        if isinstance(module, tuple(ACTIVATION_MODULES.values())):
            layers.append(nn.BatchNorm1d(layers[-1].out_features))
        layers.append(module)
    return nn.Sequential(*layers)


@declare(n_in=WIDTH, width=WIDTH, depth=Int(1, MAX_DEPTH), n_out=WIDTH, activation=Choice(ACTIVATIONS),
         init=INIT, seed=Seed(), example=dict(n_in=4, width=3, depth=2, n_out=2))
class ResidualMLP(nn.Module):
    r"""A fully connected net with identity skips (He et al. 2016):

    .. math:: h^1 = f(W^1 x + b^1),\qquad
              h^l = h^{l-1} + f(W^l h^{l-1} + b^l)\ (l = 2, \dots, L),\qquad
              \text{logits} = W^{L+1} h^L + b^{L+1}.

    Backpropagation through a block adds the identity to the layer's
    Jacobian, :math:`\partial h^l / \partial h^{l-1} = I + \operatorname{diag}
    f'(z^l)\,W^l`, so the error signal reaches the first layer undiminished
    even when every :math:`f'(z^l) W^l` is small.

    Parameters
    ----------
    n_in, width, depth, n_out : input width, hidden width, number of hidden
        layers (at least 1), number of classes.
    activation : "sigmoid", "tanh" or "relu".
    init : as in :func:`mlp` (a float is the weights' std).
    seed : seeds the initial weights.
    """

    def __init__(self, n_in: int, width: int, depth: int, n_out: int, *,
                 activation: str = "sigmoid", init: str | float = 0.1,
                 seed: int = 0) -> None:
        super().__init__()
        n_in = check_positive_int(n_in, "n_in")
        width = check_positive_int(width, "width")
        depth = check_positive_int(depth, "depth")
        n_out = check_positive_int(n_out, "n_out")
        if depth > MAX_DEPTH:
            raise ValueError(f"depth must be an integer from 1 to {MAX_DEPTH:,}; got {depth}")
        check_parameter_count(n_in * width + (depth - 1) * width * width + width * n_out
                              + depth * width + n_out, "n_in, width, depth and n_out")
        check_choice(activation, "activation", ACTIVATIONS)
        check_init(init)
        gen = torch.Generator().manual_seed(check_seed(seed))
        self.linears = nn.ModuleList()
        self.activations = nn.ModuleList()
        for n in [n_in] + [width] * depth:
            out = n_out if len(self.linears) == depth else width
            layer = torch.nn.utils.skip_init(nn.Linear, n, out)
            init_layer(layer, init, gen)
            self.linears.append(layer)
            if len(self.linears) <= depth:
                self.activations.append(ACTIVATION_MODULES[activation]())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *hidden, output = self.linears
        h = self.activations[0](hidden[0](x))
        for layer, act in zip(hidden[1:], self.activations[1:]):
            h = h + act(layer(h))
        return output(h)


@declare(model=Module(), example=lambda: dict(model=mlp([3, 2])))
def count_parameters(model: nn.Module) -> int:
    """The number of trainable numbers (entries of the tensors with
    ``requires_grad``: weights, biases, batch-norm scales). Buffers, such as
    batch norm's running statistics or the fixed output codes of LeNet-5's
    RBF layer, are not parameters and are not counted."""
    check_module(model)
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


@declare(model=Module(), perm=Array(1, integer=True, low=0),
         example=lambda: dict(model=mlp([3, 2]), perm=torch.tensor([2, 0, 1])))
def permute_first_layer(model: nn.Sequential, perm: torch.Tensor) -> nn.Sequential:
    r"""A copy of an MLP whose first layer reads shuffled pixels as the
    original read the originals: :math:`W' = W[:, \pi]`.

    Since :math:`W'_{:,j} x_{\pi(j)}` summed over :math:`j` is :math:`W x`,
    the copy computes on ``permute_pixels(X, perm)`` exactly what ``model``
    computes on ``X``, and its gradients are the original's, permuted: for a
    fully connected net, a pixel shuffle is only a relabelling of the first
    layer's weights.
    """
    first = weighted_layers(model)[0].weight
    if first.ndim != 2:
        raise TypeError("model must be an MLP whose first weighted layer is nn.Linear")
    perm = check_permutation(perm, first.shape[1])
    twin = copy.deepcopy(model)
    with torch.no_grad():
        weighted_layers(twin)[0].weight.copy_(first[:, perm])
    return twin
