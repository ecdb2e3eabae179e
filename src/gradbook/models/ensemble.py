r"""Ensembles: N nets of one architecture, one per seed, run as one batched model.

A verdict over seeds needs twenty runs or more. For the book's tiny nets the
cost of a run is the per-operation overhead of PyTorch, not arithmetic, so
twenty nets stacked into one model cost little more than one: member
:math:`k`'s weights are slice ``[k]`` of every stacked tensor, and one
batched matrix product computes all members' layers at once,

.. math:: Z^{(k)} = X^{(k)} W^{(k)\top} + b^{(k)} \quad (k = 1, \dots, N)
          \qquad\text{as one } \texttt{torch.baddbmm}.

Members never mix: the loss of the ensemble is the sum of the members' mean
losses, so the gradient with respect to member :math:`k`'s weights is the
gradient of its own loss, and :func:`gradbook.train.train` updates each
member exactly as if it were trained alone (tested: same initial weights,
same mini-batches, same dropout masks, parameters equal to float tolerance).

What is stacked by hand (the layers the claim checks compare):
``nn.Linear``, the activations of :data:`gradbook.models.mlp.ACTIVATION_MODULES`,
:class:`~gradbook.models.mlp.InvertedDropout` (each member draws its masks from its
own generator), ``nn.BatchNorm1d`` (each member's own batch statistics and
running averages), :class:`~gradbook.models.mlp.ResidualMLP`, and
``nn.Sequential`` of these; and chapter 6's recurrent nets,
:class:`~gradbook.models.rnn.VanillaRNN` and :class:`~gradbook.models.rnn.LSTMNet`
(:mod:`gradbook.models.ensemble_rnn`: inputs (N, batch, time, features), the
last step's readout out). Hand-batched layers run about twice as fast as
``torch.func.vmap`` over ``functional_call`` for these nets
(``benchmarks/ensemble.py``).
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

import torch
from torch import nn

from .._validate import (
    MAX_SEEDS,
    Function,
    Instance,
    Module,
    Seed,
    check_module,
    check_positive_int,
    check_seed,
    declare,
)
from .._validate import (
    Sequence as SequenceOf,
)
from .mlp import ACTIVATION_MODULES, InvertedDropout, ResidualMLP, mlp
from .rnn import RecurrentNet

__all__ = [
    "Ensemble",
    "ensemble",
    "stack_inputs",
]

_ELEMENTWISE = tuple(ACTIVATION_MODULES.values()) + (nn.Identity,)


class _BatchedLinear(nn.Module):
    """N ``nn.Linear`` layers: weight (N, out, in), bias (N, out)."""

    def __init__(self, layers: Sequence[nn.Linear]) -> None:
        super().__init__()
        if any(layer.bias is None for layer in layers):
            raise ValueError("ensemble members' Linear layers must have biases")
        grad = layers[0].weight.requires_grad
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]), requires_grad=grad)
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]),
                                 requires_grad=layers[0].bias.requires_grad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))

    def write(self, k: int, layer: nn.Linear) -> None:
        with torch.no_grad():
            layer.weight.copy_(self.weight[k])
            layer.bias.copy_(self.bias[k])
        layer.weight.requires_grad_(self.weight.requires_grad)
        layer.bias.requires_grad_(self.bias.requires_grad)


class _BatchedDropout(nn.Module):
    """N :class:`InvertedDropout` layers, each drawing from its own generator."""

    def __init__(self, layers: Sequence[InvertedDropout]) -> None:
        super().__init__()
        if len({layer.p for layer in layers}) != 1:
            raise ValueError("ensemble members must share their dropout probability p")
        self.p = layers[0].p
        self.generators = []
        for layer in layers:
            g = torch.Generator()
            g.set_state(layer.generator.get_state())
            self.generators.append(g)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return h
        keep = torch.stack([torch.rand(h.shape[1:], generator=g) for g in self.generators]) >= self.p
        return h * keep / (1.0 - self.p)

    def write(self, k: int, layer: InvertedDropout) -> None:
        layer.generator.set_state(self.generators[k].get_state())

    def read(self, k: int, layer: InvertedDropout) -> None:
        self.generators[k].set_state(layer.generator.get_state())

    def extra_repr(self) -> str:
        return f"p={self.p}, members={len(self.generators)}"


class _BatchedBatchNorm1d(nn.Module):
    """N ``nn.BatchNorm1d`` layers on (N, batch, features): each member's own
    batch mean and variance in training, its running averages in evaluation,
    updated as torch does (momentum, unbiased running variance)."""

    def __init__(self, layers: Sequence[nn.BatchNorm1d]) -> None:
        super().__init__()
        first = layers[0]
        if first.momentum is None or not first.affine or not first.track_running_stats:
            raise ValueError("ensemble members' BatchNorm1d layers must be affine, track running "
                             "statistics and have a numeric momentum (the defaults)")
        if len({(layer.eps, layer.momentum) for layer in layers}) != 1:
            raise ValueError("ensemble members must share their batch-norm eps and momentum")
        self.eps, self.momentum = first.eps, first.momentum
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]))
        self.register_buffer("running_mean", torch.stack([layer.running_mean for layer in layers]).clone())
        self.register_buffer("running_var", torch.stack([layer.running_var for layer in layers]).clone())
        self.register_buffer("num_batches_tracked",
                             torch.stack([layer.num_batches_tracked for layer in layers]).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            m = x.shape[1]
            if m < 2:
                raise ValueError("batch normalisation in training needs at least 2 samples per "
                                 f"mini-batch; got {m}")
            mean = x.mean(1)
            var = x.var(1, unbiased=False)
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * (m / (m - 1)))
                self.num_batches_tracked.add_(1)
        else:
            mean, var = self.running_mean, self.running_var
        x_hat = (x - mean.unsqueeze(1)) / torch.sqrt(var.unsqueeze(1) + self.eps)
        return x_hat * self.weight.unsqueeze(1) + self.bias.unsqueeze(1)

    def write(self, k: int, layer: nn.BatchNorm1d) -> None:
        with torch.no_grad():
            layer.weight.copy_(self.weight[k])
            layer.bias.copy_(self.bias[k])
            layer.running_mean.copy_(self.running_mean[k])
            layer.running_var.copy_(self.running_var[k])
            layer.num_batches_tracked.copy_(self.num_batches_tracked[k])


class _Elementwise(nn.Module):
    """A parameter-free elementwise layer (an activation), shared by all members."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = copy.deepcopy(layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    def write(self, k: int, layer: nn.Module) -> None:
        pass


class _BatchedSequential(nn.Module):
    def __init__(self, members: Sequence[nn.Sequential]) -> None:
        super().__init__()
        self.layers = nn.ModuleList([_batched([m[i] for m in members]) for i in range(len(members[0]))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def write(self, k: int, member: nn.Sequential) -> None:
        for layer, target in zip(self.layers, member):
            layer.write(k, target)


class _BatchedResidual(nn.Module):
    """N :class:`ResidualMLP` nets: :math:`h^l = h^{l-1} + f(W^l h^{l-1} + b^l)`."""

    def __init__(self, members: Sequence[ResidualMLP]) -> None:
        super().__init__()
        self.linears = nn.ModuleList([_BatchedLinear([m.linears[i] for m in members])
                                      for i in range(len(members[0].linears))])
        self.activations = nn.ModuleList([_Elementwise(a) for a in members[0].activations])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *hidden, output = self.linears
        h = self.activations[0](hidden[0](x))
        for layer, act in zip(hidden[1:], self.activations[1:]):
            h = h + act(layer(h))
        return output(h)

    def write(self, k: int, member: ResidualMLP) -> None:
        for layer, target in zip(self.linears, member.linears):
            layer.write(k, target)


def _batched(members: Sequence[nn.Module]) -> nn.Module:
    """The batched version of one layer (or net), from its N copies."""
    first = members[0]
    kind = type(first)
    if any(type(m) is not kind for m in members):
        raise ValueError("ensemble members must have the same architecture; found layers of types "
                         f"{sorted({type(m).__name__ for m in members})} at the same place")
    shapes = {tuple((name, tuple(t.shape)) for name, t in m.state_dict().items()) for m in members}
    if len(shapes) != 1:
        raise ValueError(f"ensemble members must have the same architecture; their {kind.__name__} "
                         "layers hold tensors of different shapes")
    if kind is nn.Linear:
        return _BatchedLinear(members)
    if kind is InvertedDropout:
        return _BatchedDropout(members)
    if kind is nn.BatchNorm1d:
        return _BatchedBatchNorm1d(members)
    if kind is ResidualMLP:
        return _BatchedResidual(members)
    if kind is nn.Sequential:
        if len({len(m) for m in members}) != 1:
            raise ValueError("ensemble members must have the same architecture; their nn.Sequential "
                             "nets have different lengths")
        return _BatchedSequential(members)
    if isinstance(first, _ELEMENTWISE):
        return _Elementwise(first)
    if kind in (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.Unflatten, nn.Flatten):
        from .ensemble_cnn import batched_cnn_layer  # chapter 5's CNNs

        return batched_cnn_layer(members)
    if isinstance(first, RecurrentNet):
        from .ensemble_rnn import batched_recurrent

        return batched_recurrent(members)
    raise TypeError(
        f"an ensemble cannot stack a {kind.__name__} yet: it stacks nn.Sequential nets of nn.Linear, "
        "nn.BatchNorm1d, InvertedDropout and the activations (sigmoid, tanh, relu), and ResidualMLP; "
        "chapter 5's CNNs (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.Unflatten, nn.Flatten)")


_MEMBERS = SequenceOf(Module(), 1, MAX_SEEDS)
_SEEDS = SequenceOf(Seed(), 1, MAX_SEEDS)


def _example_members() -> list[nn.Module]:
    return [mlp([4, 3, 2], seed=s) for s in (0, 1)]


@declare(members=_MEMBERS, seeds=_SEEDS,
         example=lambda: dict(members=_example_members(), seeds=(0, 1)))
class Ensemble(nn.Module):
    r"""N nets of one architecture trained together as one batched model.

    Parameters
    ----------
    members : the N nets (built with seeds ``seeds``, say ``mlp(sizes, seed=k)``),
        all of one architecture. Their weights are copied in; the nets
        themselves are not changed.
    seeds : one seed per member: the seed it was built with, and the seed of
        its mini-batch order when :func:`gradbook.train.train` trains the
        ensemble (so member k sees the mini-batches a single net trained with
        ``seed=seeds[k]`` sees).

    ``ensemble(x)`` maps inputs of shape (N, batch, features) to outputs
    (N, batch, classes): member k's rows are ``x[k]``. :meth:`member` gives
    member k back as a standalone net (a copy), to measure or to plot.
    """

    def __init__(self, members: Sequence[nn.Module], seeds: Sequence[int]) -> None:
        super().__init__()
        if isinstance(members, nn.Module) or not isinstance(members, (list, tuple)):
            raise TypeError(f"members must be a list of torch.nn.Module nets; got {type(members).__name__}")
        if not members:
            raise ValueError("members is empty; give at least one net")
        for i, m in enumerate(members):
            check_module(m, f"members[{i}]")
        if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__"):
            raise TypeError(f"seeds must be a sequence of ints, one per member; got {type(seeds).__name__}")
        seeds = tuple(check_seed(s, f"seeds[{i}]") for i, s in enumerate(seeds))
        if len(seeds) != len(members):
            raise ValueError(f"seeds must give one seed per member: {len(members)} members, {len(seeds)} seeds")
        self.seeds = seeds
        self.size = len(members)
        self.body = _batched(list(members))
        # the architecture, for checks and for member(); not a submodule (its
        # parameters are not the ensemble's)
        self.__dict__["template"] = copy.deepcopy(members[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ndim = getattr(self.body, "input_ndim", 3)  # recurrent members: (N, batch, time, features)
        if not isinstance(x, torch.Tensor) or x.ndim != ndim or x.shape[0] != self.size:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            what = getattr(self.body, "input_shape", "(N, batch, features)").replace("N", str(self.size), 1)
            raise ValueError(f"x must be a tensor of shape {what}: one block "
                             f"of rows per member; got {shape}")
        return self.body(x)

    def member(self, k: int) -> nn.Module:
        """Member ``k`` (0-based) as a standalone net: a copy with its current
        weights (and its dropout generators' state and batch-norm statistics),
        in the ensemble's training mode."""
        k = check_positive_int(k, "k", minimum=0)
        if k >= self.size:
            raise ValueError(f"k must be from 0 to {self.size - 1}; got {k}")
        net = copy.deepcopy(self.template)
        self.body.write(k, net)
        return net.train(self.training)

    def members(self) -> list[nn.Module]:
        """Every member as a standalone net (see :meth:`member`)."""
        return [self.member(k) for k in range(self.size)]

    def resume_generators(self, k: int, net: nn.Module) -> None:
        """Take member ``k``'s dropout generators' state from ``net`` (a copy
        from :meth:`member` that has drawn masks since, as a measurement in
        training mode does), so that member k goes on drawing the masks a
        single net that made the same measurement would draw."""
        ours = [m for m in self.body.modules() if isinstance(m, _BatchedDropout)]
        theirs = [m for m in net.modules() if isinstance(m, InvertedDropout)]
        if len(ours) != len(theirs):
            raise ValueError(f"net must be a copy of member {k} (from member(k)); it has {len(theirs)} "
                             f"dropout layers, the members {len(ours)}")
        for layer, target in zip(ours, theirs):
            layer.read(k, target)

    @property
    def plain(self) -> bool:
        """Whether the members are plain MLPs (``nn.Sequential`` of ``nn.Linear``
        and sigmoid, tanh, ReLU or identity units): those whose per-layer
        diagnostics :meth:`layer_diagnostics` measures for all members at once."""
        body = self.body
        return isinstance(body, _BatchedSequential) and all(
            isinstance(layer, _BatchedLinear) or (isinstance(layer, _Elementwise) and isinstance(
                layer.layer, (nn.Sigmoid, nn.Tanh, nn.ReLU, nn.Identity))) for layer in body.layers)

    def weights(self) -> list[torch.Tensor]:
        """Copies of every stacked weight (N, out, in), input side first: the
        reference of :meth:`layer_diagnostics`'s weight change."""
        return [layer.weight.detach().clone() for layer in self.body.modules()
                if isinstance(layer, _BatchedLinear)]

    def layer_diagnostics(self, X: torch.Tensor, y: torch.Tensor,
                          member_losses: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                          reference: Sequence[torch.Tensor], threshold: float = 0.1
                          ) -> dict[str, torch.Tensor]:
        """Per member, what :func:`gradbook.diagnostics.bias_gradient_norms`,
        :func:`~gradbook.diagnostics.relative_weight_change` (against
        ``reference``, from :meth:`weights`) and the ``saturated`` share of
        :func:`~gradbook.diagnostics.activation_stats` measure on each
        member's net, for all members in one pass (:attr:`plain` nets only).

        ``X`` (N, n, features) and ``y`` (N, n) are each member's rows;
        ``member_losses(outputs, y)`` gives each member's mean loss, (N,).
        Returns tensors of shape (N, layers): ``"bias_grad"`` and
        ``"saturated"`` per hidden layer, ``"weight_change"`` per linear layer."""
        if not self.plain:
            raise TypeError("layer_diagnostics measures ensembles of plain MLPs only; use member(k) "
                            "and gradbook.diagnostics for the others")
        layers = list(self.body.layers)
        linears = [layer for layer in layers if isinstance(layer, _BatchedLinear)]
        if len(reference) != len(linears):
            raise ValueError(f"reference must hold {len(linears)} stacked weights (from weights()); "
                             f"got {len(reference)}")
        biases = [layer.bias for layer in linears]
        flags = [b.requires_grad for b in biases]
        pre: list[torch.Tensor] = []
        saturated = []
        try:
            for b in biases:
                b.requires_grad_(True)
            with torch.enable_grad():
                h = X
                for i, layer in enumerate(layers):
                    h = layer(h)
                    if isinstance(layer, _BatchedLinear) and layer is not linears[-1]:
                        pre.append((h.detach(), layers[i + 1].layer if i + 1 < len(layers) else None))
                grads = torch.autograd.grad(member_losses(h, y).sum(), biases)
        finally:
            for b, flag in zip(biases, flags):
                b.requires_grad_(flag)
        for z, act in pre:
            if isinstance(act, nn.Sigmoid):
                a = torch.sigmoid(z)
                slope, top = a * (1 - a), 0.25
            elif isinstance(act, nn.Tanh):
                t = torch.tanh(z)
                slope, top = 1 - t * t, 1.0
            elif isinstance(act, nn.ReLU):
                slope, top = (z > 0).float(), 1.0
            else:
                slope, top = torch.ones_like(z), 1.0
            saturated.append((slope < threshold * top).float().flatten(1).mean(1))
        change = []
        with torch.no_grad():
            for layer, ref in zip(linears, reference):
                denom = ref.flatten(1).norm(dim=1)
                diff = (layer.weight - ref).flatten(1).norm(dim=1)
                change.append(torch.where(denom > 0, diff / denom.clamp_min(1e-38),
                                          torch.where(diff > 0, torch.inf, 0.0)))
        return {"bias_grad": torch.stack([g.norm(dim=1) for g in grads[:-1]], 1),
                "weight_change": torch.stack(change, 1),
                "saturated": torch.stack(saturated, 1)}

    def extra_repr(self) -> str:
        return f"members={self.size}, seeds={self.seeds}"


@declare(builder=Function(), seeds=_SEEDS, example=lambda: dict(builder=mlp, seeds=(0, 1), sizes=[4, 3, 2]))
def ensemble(builder: Callable[..., nn.Module], seeds: Sequence[int], **settings: Any) -> Ensemble:
    """``Ensemble([builder(**settings, seed=s) for s in seeds], seeds)``: one
    member per seed, e.g. ``ensemble(mlp, range(20), sizes=[64, 30, 10])``."""
    if not callable(builder):
        raise TypeError(f"builder must be a function that builds a net from settings and a seed; "
                        f"got {type(builder).__name__}")
    if isinstance(seeds, range):
        seeds = tuple(seeds)
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__"):
        raise TypeError(f"seeds must be a sequence of ints; got {type(seeds).__name__}")
    seeds = tuple(check_seed(s, f"seeds[{i}]") for i, s in enumerate(seeds))
    if not seeds:
        raise ValueError("seeds is empty; give at least one seed")
    if "seed" in settings:
        raise ValueError("give the seeds in seeds, not a seed setting")
    return Ensemble([builder(**settings, seed=s) for s in seeds], seeds)


@declare(blocks=SequenceOf(Instance(torch.Tensor, what="a torch.Tensor"), 1, MAX_SEEDS),
         example=lambda: dict(blocks=[torch.zeros(3, 2), torch.ones(3, 2)]))
def stack_inputs(blocks: Sequence[torch.Tensor]) -> torch.Tensor:
    """One block per member, stacked to (N, n, ...): the per-member training
    sets (a label subset per seed, say) that :func:`gradbook.train.train`
    takes for an ensemble. The blocks must have one shape."""
    if isinstance(blocks, torch.Tensor) or not isinstance(blocks, (list, tuple)):
        raise TypeError(f"blocks must be a list of tensors, one per member; got {type(blocks).__name__}")
    if not blocks:
        raise ValueError("blocks is empty; give one tensor per member")
    for i, b in enumerate(blocks):
        if not isinstance(b, torch.Tensor):
            raise TypeError(f"blocks[{i}] must be a torch.Tensor; got {type(b).__name__}")
    shapes = {tuple(b.shape) for b in blocks}
    if len(shapes) != 1:
        raise ValueError(f"blocks must all have one shape (the same number of samples per member); "
                         f"got shapes {sorted(shapes)}")
    return torch.stack(list(blocks))

