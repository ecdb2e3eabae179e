r"""Greedy layer-wise pretraining: deep belief nets and stacked (denoising) autoencoders.

The greedy recipe
-----------------
A stack of :math:`L` hidden layers is trained **one layer at a time**, each
layer on its own, unsupervised objective, with the data it sees being the
codes of the layer below (:func:`greedy_layerwise`):

.. math::

    h^0 = x,\qquad \theta^l = \arg\min_\theta J^l(\theta;\, h^{l-1}),\qquad
    h^l = \sigma\big(W^l h^{l-1} + c^l\big),\qquad l = 1, \dots, L.

Once the stack is trained, its encoders :math:`(W^l, c^l)` become the hidden
layers of a sigmoid net, a fresh output layer is put on top (``to_mlp``), and
the whole net is fine-tuned with labels by backpropagation
(:func:`gradbook.train.train`).

Two kinds of layer objective
----------------------------
:class:`DBN` (a deep belief net, Hinton, Osindero & Teh 2006): each layer is a
:class:`gradbook.models.rbm.BernoulliRBM` trained by contrastive divergence on the
hidden means :math:`P(h^{l-1} = 1 \mid h^{l-2})` of the layer below. Its
objective is the RBM's log-likelihood (monitored by the pseudo-likelihood).
After training the stack is also a generative model: Gibbs sampling in the
top RBM, then one pass down through the lower RBMs' generative weights
(:meth:`DBN.sample`).

:class:`StackedAutoencoder` (Bengio et al. 2007; Vincent et al. 2010; Rifai et
al. 2011): each layer is an autoencoder with sigmoid units, encoder
:math:`h = \sigma(W\tilde x + c)` and decoder :math:`z = \sigma(D^\top h + b)`
(tied weights: :math:`D = W`), trained by mini-batch SGD on the
cross-entropy reconstruction error of the clean input plus an optional
contractive penalty,

.. math::

    J(W, c, D, b) = \frac1B \sum_{n=1}^{B}\Big[-\sum_i \big(x_{ni}\log z_{ni}
        + (1 - x_{ni})\log(1 - z_{ni})\big)
        + \lambda \sum_j \big(h_{nj}(1-h_{nj})\big)^2 \sum_i W_{ji}^2\Big].

With ``corruption`` :math:`= \nu > 0` the encoder sees :math:`\tilde x`, the
input with a random fraction :math:`\nu` of its entries set to zero
(:func:`mask_noise`): a *denoising* autoencoder. The last term, weighted by
``contraction`` :math:`= \lambda`, is the squared Frobenius norm of the
encoder's Jacobian :math:`\partial h / \partial x`: a *contractive*
autoencoder.

Chapter 3's experiments with these stacks live in
:mod:`gradbook.chapters.ch03_pretraining`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._validate import (
    MAX_SEEDS,
    Array,
    Bool,
    Choice,
    Float,
    Function,
    Instance,
    LayerSizes,
    Optional,
    Positive,
    Probability,
    Seed,
    Unchecked,
    as_features,
    check_layer_sizes,
    check_memory,
    check_positive_int,
    check_probability,
    check_seed,
    declare,
    derived_seed,
)
from .._validate import (
    Sequence as SequenceOf,
)
from .mlp import GENERATOR, WIDTH
from .rbm import RBM_PARAMETERS

__all__ = [
    "mask_noise",
    "greedy_layerwise",
    "GreedyStack",
    "DBN_PARAMETERS",
    "DBN",
    "autoencoder_objective",
    "AUTOENCODER_PARAMETERS",
    "StackedAutoencoder",
    "fit_stacks",
]

__undeclared__ = {
    "GreedyStack": "the base class of DBN and StackedAutoencoder, which declare their parameters; "
                   "users build those",
}

#: A tiny data set in [0, 1] for the declared example calls.
_TINY = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]], dtype=np.float32)


def _check_parameters(estimator: Any, rules: dict) -> None:
    """Each parameter of ``estimator`` as ``rules`` declares it (in ``fit``:
    a scikit-learn constructor only stores its parameters)."""
    for name, rule in rules.items():
        rule.check(getattr(estimator, name), name)


def _check_stack_size(sizes: Sequence[int], n_features: int, copies: int) -> None:
    """Refuse a stack whose weights and biases, with ``copies`` float32 numbers
    for each while training (weights, decoder, velocity, buffers), would not
    fit MAX_BYTES, naming hidden_layer_sizes."""
    widths = [n_features, *sizes]
    count = sum((a + 1) * b + a for a, b in zip(widths[:-1], widths[1:]))
    check_memory(count * copies * 4, f"hidden_layer_sizes {list(sizes)!r:.60} on {n_features} features "
                                     f"({count:,} weights and biases, while training)")

# ------------------------------------------------------------------ the algorithm


@declare(X=Array(2), corruption=Probability(), generator=Optional(GENERATOR), check=False,
         example=lambda: dict(X=torch.ones(2, 3), corruption=0.5, generator=torch.Generator().manual_seed(0)))
def mask_noise(X: torch.Tensor, corruption: float, generator: torch.Generator | None = None
               ) -> torch.Tensor:
    r"""Masking noise (Vincent et al. 2008): each entry of ``X`` is set to 0
    with probability ``corruption``, independently; the others are kept as
    they are.

    .. math:: \tilde x_i = m_i x_i,\qquad m_i \sim \text{Bernoulli}(1 - \nu).

    Returns a new tensor; ``X`` is not changed.
    """
    X = as_features(X, "X")
    corruption = check_probability(corruption, "corruption")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None; got {type(generator).__name__}")
    keep = torch.rand(X.shape, generator=generator) >= corruption
    return X * keep


@declare(X=Unchecked("passed as it is to fit_layer, which checks it"), hidden_layer_sizes=LayerSizes(1),
         fit_layer=Function(), encode=Function(),
         example=dict(X=_TINY, hidden_layer_sizes=[2], fit_layer=lambda codes, n, depth: n,
                      encode=lambda layer, codes: codes))
def greedy_layerwise(
    X: Any,
    hidden_layer_sizes: Sequence[int],
    fit_layer: Callable[[Any, int, int], Any],
    encode: Callable[[Any, Any], Any],
) -> list[Any]:
    """Train a stack one layer at a time, each layer on the codes of the one below.

    Parameters
    ----------
    X : the data, (n_samples, n_features).
    hidden_layer_sizes : the width of each layer, bottom first.
    fit_layer : ``fit_layer(codes, n_hidden, depth)`` trains one layer of
        ``n_hidden`` units on ``codes`` (depth 0 is the bottom layer) and
        returns it. It sees nothing but its own input: that is what makes
        the procedure greedy.
    encode : ``encode(layer, codes)`` maps the codes below a trained layer
        to its own codes (the hidden means), which become the next layer's data.

    Returns
    -------
    The list of trained layers, bottom first.
    """
    codes = X
    layers = []
    for depth, n_hidden in enumerate(hidden_layer_sizes):
        layer = fit_layer(codes, n_hidden, depth)  # train this layer alone ...
        layers.append(layer)
        codes = encode(layer, codes)  # ... then freeze it: its codes are the next layer's data
    return layers


# ------------------------------------------------------------------ the stacks


def _layer_seeds(random_state: int | None, n: int) -> list[int]:
    """One integer seed per layer, drawn from ``random_state`` (fresh if None)."""
    seq = np.random.SeedSequence(random_state)
    return [int(s) for s in seq.generate_state(n, dtype=np.uint32)]


class GreedyStack(TransformerMixin, BaseEstimator):
    """What a DBN and a stacked autoencoder share: the encoders' forward pass,
    ``transform`` per layer, and ``to_mlp``."""

    def _encoders(self) -> list[tuple[torch.Tensor, torch.Tensor]]:  # pragma: no cover
        raise NotImplementedError

    def _check_X(self, X: Any, name: str = "X") -> torch.Tensor:
        check_is_fitted(self)
        return as_features(X, name, n_features=self.n_features_in_, unit_interval=True)

    def _layer(self, layer: int | None) -> int:
        n = len(self.hidden_layer_sizes_)
        if layer is None:
            return n
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise TypeError(f"layer must be an int in -{n}..{n} or None; got {layer!r}")
        if not -n <= layer <= n:
            raise ValueError(f"layer must lie in -{n}..{n} (0 is the input); got {layer}")
        return int(layer) % (n + 1) if layer < 0 else int(layer)

    def _up(self, v: torch.Tensor, layer: int) -> torch.Tensor:
        with torch.no_grad():
            for W, c in self._encoders()[:layer]:
                v = torch.addmm(c, v, W.T).sigmoid_()
        return v

    def transform(self, X: Any, layer: int | None = None) -> np.ndarray:
        r"""The hidden means of ``layer``: :math:`h^l = \sigma(W^l h^{l-1} + c^l)`, :math:`h^0 = x`.

        Parameters
        ----------
        X : array-like (n_samples, n_features), values in [0, 1].
        layer : int or None
            1 is the bottom hidden layer, ``n_layers_`` (or None, or -1) the
            top one; 0 returns the input itself.

        Returns
        -------
        ndarray (n_samples, width of that layer), float32.
        """
        v = self._check_X(X)
        return self._up(v, self._layer(layer)).numpy()

    def to_mlp(self, n_classes: int, seed: int = 0, init: str = "xavier") -> nn.Sequential:
        """A sigmoid net initialised from the stack, ready for fine-tuning.

        ``gradbook.models.mlp.mlp([n_features, *hidden_layer_sizes_, n_classes],
        "sigmoid", init, seed)`` with every hidden layer's weights and biases
        replaced by the stack's encoders. Its hidden part computes exactly
        :meth:`transform`; its output layer is the random output layer of
        the net that :func:`gradbook.models.mlp.mlp` builds with the same ``init``
        and ``seed``, so that random-init baseline differs only below it.
        """
        from .mlp import linear_layers, mlp

        check_is_fitted(self)
        n_classes = check_positive_int(n_classes, "n_classes")
        seed = check_seed(seed)
        sizes = [self.n_features_in_, *self.hidden_layer_sizes_, n_classes]
        net = mlp(sizes, activation="sigmoid", init=init, seed=seed)
        with torch.no_grad():
            for linear, (W, c) in zip(linear_layers(net), self._encoders()):
                linear.weight.copy_(W)
                linear.bias.copy_(c)
        return net

    @property
    def n_layers_(self) -> int:
        check_is_fitted(self)
        return len(self.hidden_layer_sizes_)


#: What each parameter of :class:`DBN` accepts, checked by ``fit``.
DBN_PARAMETERS = dict(
    hidden_layer_sizes=LayerSizes(1),
    **{name: RBM_PARAMETERS[name] for name in ("learning_rate", "batch_size", "n_iter", "k", "persistent",
                                               "momentum", "weight_decay", "random_state", "progress")},
)


@declare(check=False, then=lambda dbn: dbn.fit(_TINY),
         example=dict(hidden_layer_sizes=(2,), n_iter=1, random_state=0, progress=False), **DBN_PARAMETERS)
class DBN(GreedyStack):
    r"""A deep belief net: Bernoulli RBMs stacked and trained greedily.

    Layer 1 is a :class:`gradbook.models.rbm.BernoulliRBM` fitted to the data; layer
    :math:`l` is one fitted to the hidden means :math:`P(h^{l-1}=1 \mid h^{l-2})`
    of layer :math:`l-1` (:func:`greedy_layerwise`). Each layer's RBM is
    trained by CD-k (or PCD-k) with the parameters below, and the
    pseudo-likelihood of a fixed subset of its training data is recorded
    before training and after every epoch.

    Parameters
    ----------
    hidden_layer_sizes : sequence of int, default=(100, 100)
        Hidden units per RBM, bottom first.
    learning_rate, batch_size, n_iter, k, persistent, momentum, weight_decay :
        passed to every :class:`~gradbook.models.rbm.BernoulliRBM` (see there).
    random_state : int or None
        Seeds every layer (each gets its own seed drawn from this one).
    progress : bool or "auto"
        Progress bars in live use (see :func:`gradbook.train.show_progress`).

    Attributes
    ----------
    rbms_ : list of BernoulliRBM, bottom first.
    hidden_layer_sizes_ : tuple of int.
    n_features_in_ : int.
    history_ : list (one per layer) of dicts with lists ``"epoch"`` (0 is
        before training), ``"pseudo_likelihood"`` (mean over at most 256 rows
        of the layer's training data, the same rows and flipped units every
        epoch; higher is better) and ``"seconds"`` (cumulative training time).
    layer_seconds_ : list of float, the training wall time of each layer.
    fit_seconds_ : float, the wall time of ``fit`` (with monitoring).
    """

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] = (100, 100),
        *,
        learning_rate: float = 0.06,
        batch_size: int = 10,
        n_iter: int = 20,
        k: int = 1,
        persistent: bool = False,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        random_state: int | None = None,
        progress: bool | str = "auto",
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.k = k
        self.persistent = persistent
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.progress = progress

    def fit(self, X: Any, y: Any = None) -> DBN:
        """Train the RBMs greedily on ``X`` (n_samples, n_features), values in [0, 1]."""
        sizes, X = self._check_fit(X)
        began = time.perf_counter()
        seeds, monitor_rows, histories = self._layer_plan(X.shape[0], len(sizes))

        def fit_layer(codes: np.ndarray, n_hidden: int, depth: int) -> Any:
            rbm = self._layer_rbm(codes, n_hidden, seeds[depth], monitor_rows, histories)
            rbm.fit(codes)
            rbm.callback = None  # the history is recorded; a local function would make the DBN unpicklable
            return rbm

        rbms = greedy_layerwise(X.numpy(), sizes, fit_layer, lambda rbm, codes: rbm.transform(codes))
        self._set_fitted(rbms, histories, sizes, X.shape[1], time.perf_counter() - began)
        return self

    def _check_fit(self, X: Any, copies: int = 1) -> tuple[tuple[int, ...], torch.Tensor]:
        """The layer sizes and ``X`` as a tensor, checked (for ``copies`` DBNs fitted side by side)."""
        sizes = tuple(check_layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes"))
        _check_parameters(self, DBN_PARAMETERS)
        X = as_features(X, "X", unit_interval=True)
        _check_stack_size(sizes, X.shape[1], copies=6 * copies)
        return sizes, X

    def _layer_plan(self, n_rows: int, n_layers: int) -> tuple[list[int], np.ndarray, list[dict]]:
        """Each layer's seed (from ``random_state``), the rows on which the
        history is recorded, and the (empty) list of the layers' histories."""
        seeds = _layer_seeds(self.random_state, n_layers)
        return seeds, np.random.RandomState(seeds[0]).permutation(n_rows)[:256], []

    def _layer_rbm(self, codes: np.ndarray, n_hidden: int, seed: int, monitor_rows: np.ndarray,
                   histories: list[dict]) -> Any:
        """The unfitted RBM of one layer, whose callback records the layer's
        history (appended to ``histories``), with the history's epoch 0 (the
        initial weights, from the same seed) already recorded."""
        from .rbm import BernoulliRBM

        sample = codes[np.sort(monitor_rows)]
        history: dict[str, list[float]] = {"epoch": [], "pseudo_likelihood": [], "seconds": []}

        def record(rbm: BernoulliRBM, epoch: int) -> None:
            history["epoch"].append(epoch)
            history["pseudo_likelihood"].append(float(rbm.score_samples(sample).mean()))
            history["seconds"].append(rbm.history_["seconds"][-1] if epoch else 0.0)

        params = dict(
            learning_rate=self.learning_rate, batch_size=self.batch_size,
            k=self.k, persistent=self.persistent, momentum=self.momentum,
            weight_decay=self.weight_decay, random_state=seed,
            progress=self.progress,
        )
        start = BernoulliRBM(n_hidden, n_iter=0, **params).fit(codes)
        record(start, 0)  # the objective before training: same seed, same initial weights
        histories.append(history)
        return BernoulliRBM(n_hidden, n_iter=self.n_iter, callback=record, **params)

    def _set_fitted(self, rbms: list, histories: list[dict], sizes: tuple[int, ...], n_features: int,
                    seconds: float) -> None:
        self.fit_seconds_ = seconds
        self.rbms_ = rbms
        self.history_ = histories
        self.layer_seconds_ = [h["seconds"][-1] for h in histories]
        self.hidden_layer_sizes_ = sizes
        self.n_features_in_ = n_features

    def _encoders(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(torch.as_tensor(r.components_), torch.as_tensor(r.intercept_hidden_))
                for r in self.rbms_]

    def sample(self, n_samples: int, gibbs_steps: int, *, seed: int = 0,
               probabilities: bool = True) -> np.ndarray:
        r"""Draw ``n_samples`` images from the DBN as a generative model.

        The top two layers form an RBM (an undirected model); the layers
        below are directed, top down, with the generative weights of their
        RBMs, :math:`P(h^{l-1}=1 \mid h^l) = \sigma(W^{l\top} h^l + b^l)`. So:

        1. run ``gibbs_steps`` steps of Gibbs sampling in the top RBM from
           random binary states (:meth:`gradbook.models.rbm.BernoulliRBM.sample`);
        2. pass its visible sample down, sampling each layer below in turn;
        3. at the bottom return :math:`P(x = 1 \mid h^1)` (the usual picture;
           ``probabilities=False`` samples the pixels too).

        Returns ndarray (n_samples, n_features), float32.
        """
        check_is_fitted(self)
        n_samples = check_positive_int(n_samples, "n_samples")
        gibbs_steps = check_positive_int(gibbs_steps, "gibbs_steps")
        seed = check_seed(seed)
        if not isinstance(probabilities, bool):
            raise TypeError(f"probabilities must be True or False; got {probabilities!r}")
        top = self.rbms_[-1]
        if len(self.rbms_) == 1:  # a one-layer DBN is an RBM
            return top.sample(n_samples, gibbs_steps, seed=seed, probabilities=probabilities)
        h = torch.as_tensor(top.sample(n_samples, gibbs_steps, seed=seed))
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for depth in reversed(range(len(self.rbms_) - 1)):
                rbm = self.rbms_[depth]
                W = torch.as_tensor(rbm.components_)
                b = torch.as_tensor(rbm.intercept_visible_)
                p = torch.addmm(b, h, W).sigmoid_()  # P(h^{l-1} = 1 | h^l)
                h = p if depth == 0 and probabilities else (torch.rand(p.shape, generator=gen) < p).float()
        return h.numpy()


@dataclass
class _Autoencoder:
    """One trained autoencoder layer: encoder W (m, n), c (m); decoder D (m, n), b (n)."""

    W: torch.Tensor
    c: torch.Tensor
    D: torch.Tensor
    b: torch.Tensor
    history: dict[str, list[float]]

    def encode(self, X: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.c, X, self.W.T).sigmoid_()

    def decode(self, H: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.b, H, self.D).sigmoid_()


@declare(X=Array(2), X_in=Array(2), W=Array(2), c=Array(1), D=Array(2), b=Array(1), contraction=Float(0.0),
         example=lambda: dict(X=torch.as_tensor(_TINY), X_in=torch.as_tensor(_TINY), W=torch.zeros(2, 3),
                              c=torch.zeros(2), D=torch.zeros(2, 3), b=torch.zeros(3), contraction=0.5))
def autoencoder_objective(
    X: torch.Tensor, X_in: torch.Tensor, W: torch.Tensor, c: torch.Tensor,
    D: torch.Tensor, b: torch.Tensor, contraction: float = 0.0,
) -> torch.Tensor:
    r"""The autoencoder layer's objective :math:`J` (module docstring), a scalar tensor.

    ``X`` is the clean input (the target), ``X_in`` what the encoder sees
    (``X`` itself, or a corrupted copy); ``W``, ``D`` (m, n), ``c`` (m,),
    ``b`` (n,). Differentiable: the tests check the hand-written gradients
    of training against autograd on it.
    """
    H = torch.sigmoid(X_in @ W.T + c)
    logits = H @ D + b
    rec = nn.functional.binary_cross_entropy_with_logits(logits, X, reduction="sum")
    value = rec / X.shape[0]
    if contraction:
        slope2 = (H * (1 - H)) ** 2
        value = value + contraction * (slope2 @ (W ** 2).sum(1)).mean()
    return value


def _autoencoder_gradients(
    X: torch.Tensor, X_in: torch.Tensor, W: torch.Tensor, c: torch.Tensor,
    D: torch.Tensor, b: torch.Tensor, contraction: float, tied: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
    r"""Gradients of :func:`autoencoder_objective`, by hand (three times faster
    than autograd for these small layers).

    With :math:`a = W\tilde x + c`, :math:`h = \sigma(a)`, :math:`z = \sigma(D^\top h + b)`:
    :math:`\partial J/\partial(D^\top h + b) = (z - x)/B`, sent back to
    :math:`h` through :math:`D` and to :math:`a` through :math:`h(1-h)`; the
    contractive term adds :math:`2\lambda s^2(1-2h)S/B` to
    :math:`\partial J/\partial a` (with :math:`s = h(1-h)`,
    :math:`S_j = \sum_i W_{ji}^2`) and :math:`2\lambda (\sum_n s_{nj}^2/B) W_{ji}`
    to :math:`\partial J/\partial W`. Returns ``(gW, gc, gD, gb)``; with tied
    weights the decoder's share is added to ``gW`` and ``gD`` is None. With a
    leading member dimension on every argument (N, ...), the gradients of N
    layers at once.
    """
    B = X.shape[-2]
    H = _affine(c, X_in, W.mT).sigmoid_()
    d_out = _affine(b, H, D).sigmoid_().sub_(X).div_(B)  # dJ/d(decoder pre-activation)
    slope = H * (1 - H)
    d_pre = (d_out @ D.mT).mul_(slope)  # dJ/da
    gD = H.mT @ d_out
    if contraction:
        S = (W * W).sum(-1)
        d_pre.addcmul_(slope * slope * (1 - 2 * H), S.unsqueeze(-2).expand_as(H), value=2 * contraction / B)
    gW = d_pre.mT @ X_in
    if contraction:
        gW.add_(W * (slope * slope).sum(-2, keepdim=True).mT, alpha=2 * contraction / B)
    if tied:
        gW.add_(gD)
        gD = None
    return gW, d_pre.sum(-2), gD, d_out.sum(-2)


def _affine(bias: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``x @ weight + bias``: ``torch.addmm`` for one layer, ``torch.baddbmm``
    with a leading member dimension (bit for bit the members' own addmm)."""
    return torch.addmm(bias, x, weight) if x.dim() == 2 else torch.baddbmm(bias.unsqueeze(-2), x, weight)


def _fit_autoencoder(
    X: torch.Tensor, n_hidden: int, *, corruption: float, contraction: float, tied: bool,
    learning_rate: float, batch_size: int, n_iter: int, momentum: float, seed: int | list[int],
    progress: bool,
) -> _Autoencoder | list[_Autoencoder]:
    """Train one autoencoder layer by mini-batch SGD with momentum (see the module docstring).

    Given a list of N seeds and ``X`` (N, rows, n), train N layers side by
    side (:func:`fit_stacks`): every tensor gains a leading member dimension,
    each product is one ``torch.bmm``, and member i draws its initial weights,
    its mini-batch order and its masks from its own generator, in the order a
    fit of its own draws them. Returns the list of the N layers.
    """
    members = list(seed) if isinstance(seed, list) else None
    seeds = members or [seed]
    n_rows, n_in = X.shape[-2:]
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    bound = 4 * math.sqrt(6.0 / (n_in + n_hidden))  # Glorot's range, times 4 for sigmoid units

    def stacked(tensors: list[torch.Tensor]) -> torch.Tensor:
        return tensors[0] if members is None else torch.stack(tensors)

    def uniform(*shape: int) -> torch.Tensor:  # one draw of shape from each member's generator
        return stacked([torch.rand(*shape, generator=g) for g in gens])

    W = (uniform(n_hidden, n_in) * 2 - 1) * bound
    D = W.clone() if tied else (uniform(n_hidden, n_in) * 2 - 1) * bound
    lead = W.shape[:-2]
    c, b = torch.zeros(*lead, n_hidden), torch.zeros(*lead, n_in)
    params = [W, c, b] if tied else [W, c, D, b]
    velocity = [torch.zeros_like(p) for p in params]
    data = [X] if members is None else list(X.unbind(0))
    # A fixed corruption of the data on which the objective is recorded every epoch.
    monitor_in = [mask_noise(x, corruption, torch.Generator().manual_seed(derived_seed(s + 1)))
                  for x, s in zip(data, seeds)]
    histories: list[dict[str, list[float]]] = [{"epoch": [], "loss": [], "seconds": []} for _ in seeds]

    def member(t: torch.Tensor, i: int) -> torch.Tensor:
        return t if members is None else t[i]

    def record(epoch: int, seconds: float) -> None:
        decoder = W if tied else D
        for i, (x, history) in enumerate(zip(data, histories)):
            with torch.no_grad():
                value = autoencoder_objective(x, monitor_in[i], member(W, i), member(c, i),
                                              member(decoder, i), member(b, i), contraction)
            history["epoch"].append(epoch)
            history["loss"].append(float(value))
            history["seconds"].append(seconds)
            if not math.isfinite(history["loss"][-1]):
                raise diverged(epoch, i)

    def diverged(epoch: int, i: int) -> ValueError:
        """The error for an objective or weights that overflowed, naming the settings."""
        who = "" if members is None else f" (seed {seeds[i]})"
        if epoch == 0:  # the initial weights are small: only the penalty's weight can overflow
            return ValueError(f"the contractive penalty of the autoencoder {n_in} -> {n_hidden}{who} "
                              f"overflows at the initial weights; lower contraction (now {contraction:g})")
        return ValueError(
            f"training the autoencoder {n_in} -> {n_hidden}{who} diverged in epoch {epoch}: its weights or "
            f"its objective overflowed to inf or NaN; lower learning_rate (now {learning_rate:g})"
            + (f" or contraction (now {contraction:g})" if contraction else "")
            + (f" or momentum (now {momentum:g})" if momentum else ""))

    record(0, 0.0)
    seconds = 0.0
    epochs = range(1, n_iter + 1)
    if progress:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc=f"autoencoder {n_in}->{n_hidden}" + (f" ({len(seeds)} seeds)" if members
                                                                            else ""), leave=False)
    starts = range(0, n_rows, batch_size)
    rows = torch.arange(len(seeds)).unsqueeze(1)  # (N, 1): member i's row of the batched data
    for epoch in epochs:
        began = time.perf_counter()
        with torch.no_grad():
            if members is None:
                order = torch.randperm(n_rows, generator=gens[0])
            else:  # each member's order, then its masks, as a fit of its own draws them
                orders, masks = [], []
                for g in gens:
                    orders.append(torch.randperm(n_rows, generator=g))
                    masks.append([torch.rand(min(batch_size, n_rows - start), n_in, generator=g)
                                  for start in starts] if corruption else None)
                order = torch.stack(orders)
            for j, start in enumerate(starts):
                if members is None:
                    x = X[order[start:start + batch_size]]
                    x_in = mask_noise(x, corruption, gens[0]) if corruption else x
                else:
                    x = X[rows, order[:, start:start + batch_size]]
                    x_in = x * (torch.stack([m[j] for m in masks]) >= corruption) if corruption else x
                gW, gc, gD, gb = _autoencoder_gradients(
                    x, x_in, W, c, W if tied else D, b, contraction, tied)
                grads = [gW, gc, gb] if tied else [gW, gc, gD, gb]
                for p, v, g in zip(params, velocity, grads):
                    v.mul_(momentum).add_(g)
                    p.sub_(v, alpha=learning_rate)
        seconds += (time.perf_counter() - began) / len(seeds)
        for i in range(len(seeds)):
            if not all(bool(torch.isfinite(member(p, i)).all()) for p in params):
                raise diverged(epoch, i)
        record(epoch, seconds)
    layers = [_Autoencoder(member(W, i).clone(), member(c, i).clone(),
                           member(W if tied else D, i).clone(), member(b, i).clone(), history)
              for i, history in enumerate(histories)]
    return layers if members is not None else layers[0]


#: What each parameter of :class:`StackedAutoencoder` accepts, checked by ``fit``.
AUTOENCODER_PARAMETERS = dict(
    hidden_layer_sizes=LayerSizes(1), corruption=Probability(), contraction=Float(0.0), tied=Bool(),
    learning_rate=Positive(), batch_size=WIDTH, n_iter=RBM_PARAMETERS["n_iter"], momentum=Probability(),
    random_state=Optional(Seed()), progress=Bool() | Choice(("auto",)),
)


@declare(check=False, then=lambda sae: sae.fit(_TINY),
         example=dict(hidden_layer_sizes=(2,), n_iter=1, random_state=0, progress=False),
         **AUTOENCODER_PARAMETERS)
class StackedAutoencoder(GreedyStack):
    r"""Greedy layer-wise autoencoders with sigmoid units: plain, denoising or contractive.

    Layer 1 is an autoencoder trained on the data, layer :math:`l` one
    trained on the codes of layer :math:`l-1` (:func:`greedy_layerwise`).
    Each minimises the cross-entropy reconstruction error (plus the
    contractive penalty, if asked) by mini-batch SGD with momentum; see the
    module docstring for the objective and :func:`mask_noise` for the
    corruption.

    Parameters
    ----------
    hidden_layer_sizes : sequence of int, default=(100, 100)
    corruption : float in [0, 1), default=0.0
        Fraction of inputs zeroed by masking noise; > 0 gives a stacked
        *denoising* autoencoder (SdA). Every layer gets the same level.
    contraction : float >= 0, default=0.0
        Weight :math:`\lambda` of the contractive penalty (CAE).
    tied : bool, default=True
        Decoder weights are the encoder's, transposed (:math:`D = W`).
    learning_rate : float, default=0.1
    batch_size : int, default=20
    n_iter : int, default=10
        Epochs per layer.
    momentum : float in [0, 1), default=0.9
    random_state : int or None
        Seeds the initial weights, the order of the mini-batches and the noise.
    progress : bool or "auto"

    Attributes
    ----------
    coefs_ : list of ndarray (n_hidden, n_inputs), the encoders' weights W.
    intercepts_ : list of ndarray (n_hidden,), the encoders' biases c.
    decoder_coefs_ : list of ndarray (n_hidden, n_inputs), the decoders'
        weights D (equal to ``coefs_`` when tied).
    intercepts_visible_ : list of ndarray (n_inputs,), the decoders' biases b.
    hidden_layer_sizes_, n_features_in_ :
    history_ : list (one per layer) of dicts with lists ``"epoch"`` (0 is
        before training), ``"loss"`` (the layer's objective on all of its
        training data, with one fixed draw of the corruption; lower is
        better) and ``"seconds"`` (cumulative training time).
    layer_seconds_ : list of float; fit_seconds_ : float.
    """

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] = (100, 100),
        *,
        corruption: float = 0.0,
        contraction: float = 0.0,
        tied: bool = True,
        learning_rate: float = 0.1,
        batch_size: int = 20,
        n_iter: int = 10,
        momentum: float = 0.9,
        random_state: int | None = None,
        progress: bool | str = "auto",
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.corruption = corruption
        self.contraction = contraction
        self.tied = tied
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.momentum = momentum
        self.random_state = random_state
        self.progress = progress

    def fit(self, X: Any, y: Any = None) -> StackedAutoencoder:
        """Train the autoencoders greedily on ``X`` (n_samples, n_features), values in [0, 1]."""
        sizes, X = self._check_fit(X)
        seeds = _layer_seeds(self.random_state, len(sizes))
        began = time.perf_counter()
        with torch.no_grad():
            layers = greedy_layerwise(X, sizes, lambda codes, n, depth: self._fit_layer(codes, n, seeds[depth]),
                                      lambda ae, codes: ae.encode(codes))
        self._set_fitted(layers, sizes, X.shape[1], time.perf_counter() - began)
        return self

    def _check_fit(self, X: Any, copies: int = 1) -> tuple[tuple[int, ...], torch.Tensor]:
        """The layer sizes and ``X`` as a tensor, checked (for ``copies`` stacks fitted side by side)."""
        sizes = tuple(check_layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes"))
        _check_parameters(self, AUTOENCODER_PARAMETERS)
        X = as_features(X, "X", unit_interval=True)
        _check_stack_size(sizes, X.shape[1], copies=(3 if self.tied else 5) * copies)
        return sizes, X

    def _fit_layer(self, codes: torch.Tensor, n_hidden: int, seed: int | list[int]) -> Any:
        """One layer (or, given a list of seeds and codes (N, rows, n), one per seed)."""
        from ..train import show_progress

        return _fit_autoencoder(
            codes, n_hidden, corruption=float(self.corruption), contraction=float(self.contraction),
            tied=bool(self.tied), learning_rate=float(self.learning_rate), batch_size=int(self.batch_size),
            n_iter=int(self.n_iter), momentum=float(self.momentum), seed=seed,
            progress=show_progress(self.progress))

    def _set_fitted(self, layers: list[_Autoencoder], sizes: tuple[int, ...], n_features: int,
                    seconds: float) -> None:
        self.fit_seconds_ = seconds
        for name, values in (("coefs_", [a.W for a in layers]), ("intercepts_", [a.c for a in layers]),
                             ("decoder_coefs_", [a.D for a in layers]),
                             ("intercepts_visible_", [a.b for a in layers])):
            setattr(self, name, [v.numpy().copy() for v in values])
        self.history_ = [a.history for a in layers]
        self.layer_seconds_ = [a.history["seconds"][-1] for a in layers]
        self.hidden_layer_sizes_ = sizes
        self.n_features_in_ = n_features

    def _encoders(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(torch.as_tensor(W), torch.as_tensor(c))
                for W, c in zip(self.coefs_, self.intercepts_)]

    def reconstruct(self, X: Any, layer: int | None = None) -> np.ndarray:
        """Encode ``X`` up to ``layer`` (default: the top), then decode it back
        down through the decoders to the input space: (n_samples, n_features)."""
        v = self._check_X(X)
        depth = self._layer(layer)
        with torch.no_grad():
            h = self._up(v, depth)
            for D, b in reversed(list(zip(self.decoder_coefs_[:depth],
                                          self.intercepts_visible_[:depth]))):
                h = torch.addmm(torch.as_tensor(b), h, torch.as_tensor(D)).sigmoid_()
        return h.numpy()


# ------------------------------------------------------------------ many seeds at once


@declare(stack=Instance(DBN, StackedAutoencoder, what="a DBN or a StackedAutoencoder"),
         X=Array(2, low=0.0, high=1.0), seeds=SequenceOf(Seed(), 1, MAX_SEEDS),
         example=lambda: dict(stack=StackedAutoencoder((2,), corruption=0.3, n_iter=1, progress=False),
                              X=_TINY, seeds=(0, 1)))
def fit_stacks(stack: DBN | StackedAutoencoder, X: Any, seeds: Sequence[int]) -> list[GreedyStack]:
    r"""Fit the stack ``stack`` describes once per seed, all seeds as one batched model.

    Returns one fitted stack per seed, of the type of ``stack``, each equal to
    ``sklearn.base.clone(stack).set_params(random_state=seed).fit(X)``: the
    same initial weights, the same mini-batches, the same random draws
    (Gibbs sampling of the RBMs, masking noise of a denoising stack), all
    taken from its own seed. ``stack`` itself is left unfitted.

    Layer :math:`l` of the N stacks is trained as one model whose weights are
    (N, n_hidden, n_inputs): each matrix product of an update is one
    ``torch.bmm`` (or ``baddbmm``) over the members instead of N small ones,
    and member :math:`k` sees its own data (the codes of its own layer below),
    its own mini-batch order and its own random numbers. So the members never
    mix. A DBN member comes out bit for bit its own fit on the book's CPU (see
    :func:`gradbook.models.rbm.fit_rbms`: bit for bit matters there, as one
    flipped Gibbs sample would send it on another path); an autoencoder
    member agrees with its own fit to float rounding (about 1e-6 after a few
    epochs: the batched products sum in another order), its random draws
    being the same (``tests/unit/test_ensemble_stacks.py``). A DBN's layers are fitted by
    :func:`gradbook.models.rbm.fit_rbms`; an autoencoder layer's loop is the
    one of :class:`StackedAutoencoder` with a leading member dimension.

    Each member's ``fit_seconds_``, ``layer_seconds_`` and history
    ``"seconds"`` are the batched wall times divided by the number of seeds
    (its share of the cost).

    Parameters
    ----------
    stack : DBN or StackedAutoencoder
        The settings (its ``random_state`` is replaced by each seed).
    X : array-like (n_samples, n_features), values in [0, 1]
    seeds : sequence of int, 1 to ``MAX_SEEDS``

    Returns
    -------
    list of fitted stacks, in the order of ``seeds``.
    """
    from sklearn.base import clone

    members = [clone(stack).set_params(random_state=int(s)) for s in seeds]
    sizes, X_t = members[0]._check_fit(X, copies=len(members))
    N = len(members)
    began = time.perf_counter()
    if isinstance(stack, DBN):
        from .rbm import fit_rbms

        plans = [m._layer_plan(X_t.shape[0], len(sizes)) for m in members]

        def fit_layer(codes: list[np.ndarray], n_hidden: int, depth: int) -> list:
            rbms = [m._layer_rbm(x, n_hidden, seeds_[depth], rows, histories)
                    for m, x, (seeds_, rows, histories) in zip(members, codes, plans)]
            fit_rbms(rbms, np.stack(codes))
            for rbm in rbms:
                rbm.callback = None  # as DBN.fit: the history is recorded
            return rbms

        layers = greedy_layerwise([X_t.numpy()] * N, sizes, fit_layer,
                                  lambda rbms, codes: [r.transform(x) for r, x in zip(rbms, codes)])
        seconds = (time.perf_counter() - began) / N
        for k, (m, (_, _, histories)) in enumerate(zip(members, plans)):
            m._set_fitted([layer[k] for layer in layers], histories, sizes, X_t.shape[1], seconds)
    else:
        layer_seeds = [_layer_seeds(m.random_state, len(sizes)) for m in members]
        with torch.no_grad():
            layers = greedy_layerwise(
                X_t.unsqueeze(0).expand(N, -1, -1), sizes,
                lambda codes, n, depth: members[0]._fit_layer(codes, n, [s[depth] for s in layer_seeds]),
                lambda aes, codes: torch.stack([ae.encode(x) for ae, x in zip(aes, codes.unbind(0))]))
        seconds = (time.perf_counter() - began) / N
        for k, m in enumerate(members):
            m._set_fitted([layer[k] for layer in layers], sizes, X_t.shape[1], seconds)
    return members
