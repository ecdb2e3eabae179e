r"""Bernoulli restricted Boltzmann machine (RBM), trained by contrastive divergence.

The model
---------
An RBM has binary visible units :math:`v \in \{0,1\}^n` (``n = n_features``)
and binary hidden units :math:`h \in \{0,1\}^m` (``m = n_components``), with
weights :math:`W` of shape ``(m, n)`` (``components_``), visible biases
:math:`b` (``intercept_visible_``) and hidden biases :math:`c`
(``intercept_hidden_``). Its energy and distribution are

.. math::

    E(v, h) = -b^\top v - c^\top h - h^\top W v, \qquad
    p(v, h) = \frac{e^{-E(v, h)}}{Z}, \qquad
    Z = \sum_{v, h} e^{-E(v, h)}.

There are no visible-visible or hidden-hidden connections, so each layer is
conditionally independent given the other, with :math:`\sigma(x) = 1/(1+e^{-x})`:

.. math::

    P(h_j = 1 \mid v) = \sigma(c_j + W_{j\cdot} v), \qquad
    P(v_i = 1 \mid h) = \sigma(b_i + W_{\cdot i}^\top h).

Summing out the hidden layer gives the free energy

.. math::

    F(v) = -\log \sum_h e^{-E(v,h)}
         = -b^\top v - \sum_j \operatorname{softplus}(c_j + W_{j\cdot} v),
    \qquad \log p(v) = -F(v) - \log Z.

Learning
--------
The log-likelihood gradient is a difference of two expectations,
:math:`\partial \log p(v) / \partial W = \mathbb{E}[h v^\top \mid v] - \mathbb{E}_{p}[h v^\top]`.
The first (positive phase) is exact: :math:`P(h=1 \mid v)\, v^\top`. The second
(negative phase) needs samples from the model. Contrastive divergence (CD-k,
Hinton 2002) starts a Gibbs chain at the data and stops after ``k`` steps;
persistent CD (PCD-k, Tieleman 2008) keeps ``batch_size`` chains alive from one
update to the next. With a mini-batch of ``B`` rows, ``C`` negative samples and
learning rate :math:`\varepsilon`,

.. math::

    \Delta W = \varepsilon \Big( \tfrac1B \sum_{\text{data}} P(h{=}1 \mid v)\, v^\top
              - \tfrac1C \sum_{\text{chains}} P(h{=}1 \mid \tilde v)\, \tilde v^\top \Big),

and the same for the biases (:math:`v` for :math:`b`, :math:`P(h{=}1 \mid v)`
for :math:`c`), where :math:`\tilde v` is the chains' visible sample after ``k``
Gibbs steps. ``BernoulliRBM(persistent=True, k=1)`` is the algorithm of
``sklearn.neural_network.BernoulliRBM``.

Numerics
--------
Training, ``BernoulliRBM.transform()``, ``BernoulliRBM.gibbs()`` and
``BernoulliRBM.sample()`` run in float32. ``BernoulliRBM.free_energy()``,
``BernoulliRBM.score_samples()``, ``BernoulliRBM.log_partition()`` and
``BernoulliRBM.log_likelihood()`` run in float64: the log-likelihood is a
difference of two large numbers (:math:`-F(v)` and :math:`\log Z`, both of order
``n_features``), and pseudo-likelihood is a difference of two free energies.

Likelihood
----------
``log_partition()`` sums over every state of the smaller layer, so it is
exact up to 20 units there. Beyond, ``ais_log_partition()`` estimates
:math:`\log Z` by annealed importance sampling (Neal 2001; for RBMs,
Salakhutdinov and Murray 2008), with error bounds; pass its ``log_z`` to
``log_likelihood()``.

Speed
-----
An update is five matrix products of ``batch_size x n_features x
n_components`` multiply-adds (three to sample, two to update) plus one
uniform random number per sampled unit. Training keeps every parameter in one
augmented matrix so that biases ride along in the products, works in
preallocated buffers, draws the random numbers for many mini-batches at once
from numpy's SFC64 generator (raw bits turned into floats, about three times
cheaper than ``torch.rand`` on the book's CPU), and runs outside autograd.
When each product is small (under about 10**6 multiply-adds, as for the 8x8
digits at batch size 10), ``fit`` uses one torch thread and then restores
the previous setting: splitting tiny products over threads costs more than
it gains. Otherwise it uses torch's setting (see
``gradbook.train.set_threads()``). ``benchmarks/rbm_vs_sklearn.py`` times
it against scikit-learn, at equal epochs and to equal held-out
pseudo-likelihood; ``benchmarks/rbm_floor.py`` shows what the products cost.

Plain versions
--------------
``cd_update()``, ``free_energy()`` and ``ais_log_partition()`` state the same
computations in a few lines of plain torch each, for reading: one CD-k or
PCD-k update, the free energy, and the annealing loop of AIS. The fast paths
above (``_ContrastiveDivergence.update``, ``_ais_log_partition``) are tested
equal to them, consuming the same random numbers (``tests/unit/test_rbm.py``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validate import (
    MAX_SEEDS,
    MAX_STEPS,
    Array,
    Bool,
    Choice,
    Float,
    Function,
    Instance,
    Int,
    Optional,
    Positive,
    Probability,
    Seed,
    as_features,
    check_choice,
    check_memory,
    check_positive_int,
    check_seed,
    declare,
)
from .._validate import (
    Sequence as SequenceOf,
)
from .mlp import WIDTH

__all__ = [
    "MAX_ENUMERATED_UNITS",
    "uniform_from_bits",
    "free_energy",
    "LogPartitionEstimate",
    "MAX_PLAIN_AIS_STEPS",
    "ais_log_partition",
    "CDUpdate",
    "cd_update",
    "MAX_LEARNING_RATE",
    "RBM_PARAMETERS",
    "BernoulliRBM",
    "fit_rbms",
]

__undeclared__ = {
    "CDUpdate": "the record cd_update returns",
    "LogPartitionEstimate": "the record ais_log_partition and BernoulliRBM.ais_log_partition return",
}

#: The largest layer ``BernoulliRBM.log_partition()`` enumerates (2**20 states).
MAX_ENUMERATED_UNITS = 20


# Random numbers drawn per call while training (1 MB; fresh large blocks are slow to touch).
_NOISE_CHUNK = 1 << 18


# Configurations times units evaluated per chunk by log_partition (16 MB of float64).
_ENUMERATION_CHUNK = 1 << 21


# Below this many multiply-adds per matrix product, train on one thread.
_SMALL_WORK = 1 << 20


# Training rows on which history_ records the pseudo-likelihood after each epoch.
_MONITOR_ROWS = 256


#: A tiny binary data set for the declared example calls.
_TINY = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]], dtype=np.float32)


@declare(bits=Instance(np.random.BitGenerator, what="a numpy.random.BitGenerator"), check=False,
         example=lambda: dict(bits=np.random.SFC64(0)))
def uniform_from_bits(bits: np.random.BitGenerator, *shape: int) -> torch.Tensor:
    """Uniform numbers in [0, 1) of the given shape, float32 with 23 random bits.

    The numbers ``BernoulliRBM`` samples with (training, ``gibbs``, ``sample``).

    Each raw 64-bit word of ``bits`` gives two numbers: the low 23 bits of each
    32-bit half become the mantissa of a float in [1, 2), less 1. On the
    book's CPU this costs about 2.5 ns a number, against 5 to 8 for
    ``torch.rand`` or numpy's ``Generator.random``; an RBM update draws one
    number per sampled unit, so this is a large share of the time.
    Called in the training loop: it checks its arguments itself, cheaply.
    """
    if not isinstance(bits, np.random.BitGenerator):
        raise TypeError(f"bits must be a numpy.random.BitGenerator; got {type(bits).__name__}")
    if any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0 for d in shape):
        raise ValueError(f"shape must be integers >= 0; got {shape!r:.80}")
    count = math.prod(shape)
    check_memory(count * 8, f"shape {shape} ({count:,} numbers, while drawn)")
    words = bits.random_raw((count + 1) // 2).view(np.int32)[:count]
    mantissa = torch.from_numpy(words).bitwise_and_(0x7FFFFF).bitwise_or_(0x3F800000)
    return mantissa.view(torch.float32).sub_(1.0).view(shape)


def _bernoulli(probabilities: torch.Tensor, bits: np.random.BitGenerator) -> torch.Tensor:
    """1.0 where u < p, u uniform in [0, 1), else 0.0 (float32)."""
    return (uniform_from_bits(bits, *probabilities.shape) < probabilities).to(torch.float32)


@contextmanager
def _threads_for(work: int) -> Iterator[None]:
    """Use one torch thread while the matrix products are small.

    At ``batch_size * n_features * n_components`` below about 10**6
    multiply-adds, splitting each product over threads costs more than it
    gains (several times more when another process holds the other core).
    The previous setting is restored afterwards.
    """
    before = torch.get_num_threads()
    if work >= _SMALL_WORK or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _softplus(x: torch.Tensor) -> torch.Tensor:
    """log(1 + exp(x)), exact at both ends (torch's softplus is linear above 20)."""
    return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))


def _check_shapes(W: Any, b: Any, c: Any, **rows: Any) -> None:
    """Raise a ValueError naming the argument whose shape does not fit W (m, n):
    b (n,), c (m,), each of ``rows`` (r, n)."""
    shape = tuple(np.shape(W))
    if len(shape) != 2:
        raise ValueError(f"W must be a 2-D matrix (m, n); got shape {shape}")
    m, n = shape
    for name, value, want in (("b", b, (n,)), ("c", c, (m,))):
        if tuple(np.shape(value)) != want:
            raise ValueError(f"{name} must have shape {want} for W of shape {shape}; "
                             f"got {tuple(np.shape(value))}")
    for name, value in rows.items():
        got = tuple(np.shape(value))
        if len(got) != 2 or got[1] != n:
            raise ValueError(f"{name} must have shape (rows, {n}) for W of shape {shape}; got {got}")


@declare(v=Array(2), W=Array(2), b=Array(1), c=Array(1),
         example=dict(v=_TINY, W=np.zeros((2, 3)), b=np.zeros(3), c=np.zeros(2)))
def free_energy(v: Any, W: Any, b: Any, c: Any) -> torch.Tensor:
    """F(v) = -b'v - sum_j softplus(c_j + W_j v), one value per row of ``v``.

    ``v`` (rows, n), ``W`` (m, n), ``b`` (n,), ``c`` (m,): arrays or tensors,
    computed in float64 (softplus(x) = log(1 + e^x), exact for any x).
    """
    _check_shapes(W, b, c, v=v)
    v, W, b, c = (torch.as_tensor(t, dtype=torch.float64) for t in (v, W, b, c))
    return -(v @ b) - _softplus(torch.addmm(c, v, W.T)).sum(dim=1)


def _pseudo_likelihood(
    v: torch.Tensor, flip: torch.Tensor, W: torch.Tensor, b: torch.Tensor, c: torch.Tensor
) -> torch.Tensor:
    """scikit-learn's pseudo-likelihood: n_features * log P(v_i | v_-i) for one
    unit i = flip[row] per row, log P(v_i | v_-i) = log sigmoid(F(v_flipped) - F(v))."""
    rows = torch.arange(v.shape[0])
    flipped = v.clone()
    flipped[rows, flip] = 1 - flipped[rows, flip]
    gap = free_energy(flipped, W, b, c) - free_energy(v, W, b, c)
    return -v.shape[1] * _softplus(-gap)


def _log_partition(W: torch.Tensor, b: torch.Tensor, c: torch.Tensor, layer: str) -> float:
    r"""log Z by enumerating every state of ``layer`` ('visible' or 'hidden').

    Over the hidden layer, :math:`\log Z = \operatorname{logsumexp}_h \big[c^\top h
    + \sum_i \operatorname{softplus}(b_i + W_{\cdot i}^\top h)\big]`; over the
    visible layer, :math:`\log Z = \operatorname{logsumexp}_v [-F(v)]`. The other
    layer is summed analytically. Float64, in chunks of configurations.
    """
    if layer == "hidden":
        own_bias, weights, other_bias = c, W, b  # states h (2**m, m) @ W (m, n)
    else:
        own_bias, weights, other_bias = b, W.T, c  # states v (2**n, n) @ W.T (n, m)
    n_units, n_other = weights.shape
    n_states = 2**n_units
    chunk = max(1, min(n_states, _ENUMERATION_CHUNK // max(n_units, n_other)))
    shifts = torch.arange(n_units - 1, -1, -1)
    partial = []
    for start in range(0, n_states, chunk):
        index = torch.arange(start, min(start + chunk, n_states))
        states = ((index[:, None] >> shifts) & 1).to(torch.float64)
        terms = states @ own_bias + _softplus(torch.addmm(other_bias, states, weights)).sum(dim=1)
        partial.append(torch.logsumexp(terms, dim=0))
    return float(torch.logsumexp(torch.stack(partial), dim=0))


class LogPartitionEstimate(NamedTuple):
    r"""An annealed-importance-sampling estimate of :math:`\log Z`.

    ``log_z`` is :math:`\log Z_A + \log \overline{w}`; ``low`` and ``high`` are
    :math:`\log Z_A + \log(\overline{w} \mp 3\,\mathrm{se}(\overline{w}))`, the
    bounds Salakhutdinov and Murray (2008) report (``low`` is ``-inf`` when the
    weights vary so much that :math:`\overline{w} - 3\,\mathrm{se} \le 0`: then
    the estimate is not to be trusted). AIS tends to *under*-estimate
    :math:`\log Z` when it has too few intermediate distributions, which makes
    a log-likelihood computed from it too optimistic.
    """

    log_z: float
    low: float
    high: float

    @classmethod
    def from_log_weights(cls, log_w: torch.Tensor, log_z_base: float) -> LogPartitionEstimate:
        """The estimate from the runs' log importance weights (float64) and the base's log Z."""
        n_runs = len(log_w)
        shift = float(log_w.max())
        w = torch.exp(log_w - shift)
        mean, se = float(w.mean()), float(w.std() / math.sqrt(n_runs)) if n_runs > 1 else 0.0
        low = log_z_base + shift + math.log(mean - 3 * se) if mean > 3 * se else -math.inf
        return cls(log_z_base + shift + math.log(mean), low,
                   log_z_base + shift + math.log(mean + 3 * se))


def _ais_schedule(n_betas: int) -> torch.Tensor:
    """Inverse temperatures 0 = beta_0 < ... < beta_K = 1, denser near 1.

    The proportions of Salakhutdinov and Murray (2008): 500 steps on
    [0, 0.5], 4,000 on [0.5, 0.9] and 10,000 on [0.9, 1] of their 14,500.
    """
    first = max(1, round(n_betas * 500 / 14_500))
    second = max(1, round(n_betas * 4_000 / 14_500))
    third = max(1, n_betas - first - second)
    return torch.cat([
        torch.linspace(0.0, 0.5, first + 1, dtype=torch.float64)[:-1],
        torch.linspace(0.5, 0.9, second + 1, dtype=torch.float64)[:-1],
        torch.linspace(0.9, 1.0, third + 1, dtype=torch.float64),
    ])


def _ais_log_partition(
    W: torch.Tensor, b: torch.Tensor, c: torch.Tensor, base_bias: torch.Tensor,
    n_runs: int, n_betas: int, gen: torch.Generator,
) -> LogPartitionEstimate:
    r"""Annealed importance sampling from a base-rate RBM to (W, b, c).

    The intermediate models have unnormalised visible marginals
    :math:`p^*_\beta(v) = e^{(1-\beta) b_A^\top v + \beta b^\top v}
    \prod_j \big(1 + e^{\beta (W_j v + c_j)}\big)`; at :math:`\beta = 0` this
    is the base model (no weights, visible biases :math:`b_A`), whose
    :math:`\log Z_A = m \log 2 + \sum_i \operatorname{softplus}(b_{A,i})` is
    exact, and at :math:`\beta = 1` it is :math:`e^{-F(v)}`. Each run starts
    with an exact sample of the base model, adds
    :math:`\log p^*_{\beta_k}(v) - \log p^*_{\beta_{k-1}}(v)` to its log
    weight, then takes one Gibbs step that leaves :math:`p_{\beta_k}`
    invariant. Sampling runs in float32, the weights accumulate in float64.
    """
    betas = _ais_schedule(n_betas).tolist()
    W32, b32, c32, base32 = (t.float() for t in (W, b, c, base_bias))
    bias_gap = (b - base_bias).float()
    n_hidden, n_visible = W.shape
    v = (torch.rand(n_runs, n_visible, generator=gen) < torch.sigmoid(base32)).float()
    log_w = torch.zeros(n_runs, dtype=torch.float64)
    chunk = max(1, _NOISE_CHUNK // (n_runs * (n_hidden + n_visible)))
    for first in range(1, len(betas), chunk):
        steps = betas[first:first + chunk]
        noise = torch.rand(len(steps), n_runs, n_hidden + n_visible, generator=gen)
        for beta, previous, u in zip(steps, betas[first - 1:], noise):
            x = torch.addmm(c32, v, W32.T).double()
            # log p*_beta(v) - log p*_previous(v), in float64 (softplus exact to 1e-20 up to 50)
            log_w += (beta - previous) * (v @ bias_gap).double()
            log_w += (F.softplus(beta * x, threshold=50.0)
                      - F.softplus(previous * x, threshold=50.0)).sum(dim=1)
            h = (u[:, :n_hidden] < torch.sigmoid(beta * x).float()).float()
            v_input = torch.addmm(b32, h, W32).mul_(beta).add_(base32, alpha=1.0 - beta)
            v = (u[:, n_hidden:] < v_input.sigmoid_()).float()
    m = W.shape[0]
    log_z_base = m * math.log(2.0) + float(_softplus(base_bias.double()).sum())
    return LogPartitionEstimate.from_log_weights(log_w, log_z_base)


#: The most annealing steps of the plain ais_log_partition: a step is a few
#: small float64 products and a Python loop turn, some 30 microseconds.
MAX_PLAIN_AIS_STEPS = 10**6


@declare(W=Array(2), b=Array(1), c=Array(1), base_bias=Optional(Array(1)), runs=Int(1, MAX_STEPS),
         steps=Int(1, MAX_PLAIN_AIS_STEPS), seed=Seed(),
         example=dict(W=np.zeros((2, 3)), b=np.zeros(3), c=np.zeros(2), runs=2, steps=3))
def ais_log_partition(
    W: Any, b: Any, c: Any, base_bias: Any = None, *, runs: int = 100, steps: int = 10_000,
    seed: int = 0,
) -> LogPartitionEstimate:
    r"""Annealed importance sampling of :math:`\log Z`, written plainly (float64).

    The reference for ``_ais_log_partition``, which ``BernoulliRBM.ais_log_partition``
    runs: the same walk from the base model (no weights, visible biases
    ``base_bias``; None: zeros) to (W, b, c) through ``steps`` intermediate
    models, with ``runs`` runs, and the same random numbers for the same
    ``seed`` (``torch.rand`` from one generator, in the same order). The fast
    path draws them in blocks and samples in float32; the tests check that the
    two give the same estimate.
    """
    _check_shapes(W, b, c, **({} if base_bias is None else {"base_bias": [base_bias]}))
    _check_runs(runs, *np.shape(W), steps=steps)
    W, b, c = (torch.as_tensor(t, dtype=torch.float64) for t in (W, b, c))
    b_base = torch.zeros_like(b) if base_bias is None else torch.as_tensor(base_bias).double()
    m, n = W.shape

    def log_p_star(v, beta):  # log of the model's unnormalised p(v) at inverse temperature beta
        return v @ ((1 - beta) * b_base + beta * b) + _softplus(beta * (v @ W.T + c)).sum(dim=1)

    gen = torch.Generator().manual_seed(seed)
    betas = _ais_schedule(steps).tolist()  # 0 = beta_0 < ... < beta_K = 1
    v = (torch.rand(runs, n, generator=gen) < torch.sigmoid(b_base)).double()  # the base model's
    log_w = torch.zeros(runs, dtype=torch.float64)
    for previous, beta in zip(betas, betas[1:]):
        log_w += log_p_star(v, beta) - log_p_star(v, previous)
        u = torch.rand(runs, m + n, generator=gen)  # one Gibbs step v -> h -> v at beta
        h = (u[:, :m] < torch.sigmoid(beta * (v @ W.T + c))).double()
        v = (u[:, m:] < torch.sigmoid(beta * (h @ W + b) + (1 - beta) * b_base)).double()
    log_z_base = m * math.log(2.0) + float(_softplus(b_base).sum())  # exact: no weights
    return LogPartitionEstimate.from_log_weights(log_w, log_z_base)


#: Multiply-adds allowed to the plain ais_log_partition (float64): about a minute.
_PLAIN_AIS_WORK = 10**11


def _check_runs(runs: int, m: int, n: int, steps: int | None = None) -> None:
    """Annealing ``runs`` chains of an RBM with m hidden and n visible units
    holds a few (runs, m + n) arrays: refuse more than MAX_BYTES; and, given
    ``steps`` (the plain loop), more than _PLAIN_AIS_WORK multiply-adds."""
    check_memory(runs * (m + n) * 8 * 8, f"{runs:,} annealing runs of {m} + {n} units")
    if steps is not None and 4 * runs * steps * m * n > _PLAIN_AIS_WORK:
        raise ValueError(f"runs={runs:,} and steps={steps:,} on {m} x {n} weights are "
                         f"{4 * runs * steps * m * n:.1e} multiply-adds, minutes of float64 work; "
                         f"at most {_PLAIN_AIS_WORK:.0e}")


class CDUpdate(NamedTuple):
    """What ``cd_update()`` returns: new tensors, the arguments are left unchanged."""

    W: torch.Tensor  # (m, n)
    b: torch.Tensor  # (n,)
    c: torch.Tensor  # (m,)
    chains: torch.Tensor | None  # PCD: the chains' hidden states (C, m); CD: None
    velocity: tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # of (W, b, c)


#: Uniform numbers for k Gibbs steps: a (k, C, units) array or k arrays (C, units).
_NOISE = Array(3) | SequenceOf(Array(2))


@declare(v=Array(2), W=Array(2), b=Array(1), c=Array(1), u_hid=_NOISE, u_vis=_NOISE, lr=Positive(),
         chains=Optional(Array(2)), momentum=Probability(), weight_decay=Float(0.0),
         velocity=Optional(SequenceOf(Array((1, 2)), 3, 3)),
         example=lambda: dict(v=torch.ones(2, 3), W=torch.zeros(2, 3), b=torch.zeros(3), c=torch.zeros(2),
                              u_hid=[torch.full((2, 2), 0.5)], u_vis=[torch.full((2, 3), 0.5)], lr=0.1))
def cd_update(
    v: torch.Tensor, W: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
    u_hid: Sequence[torch.Tensor], u_vis: Sequence[torch.Tensor], *, lr: float,
    chains: torch.Tensor | None = None, momentum: float = 0.0, weight_decay: float = 0.0,
    velocity: Sequence[torch.Tensor] | None = None,
) -> CDUpdate:
    r"""One CD-k update from the mini-batch ``v`` (B, n), or PCD-k given ``chains``, plainly.

    The same update as ``BernoulliRBM``'s training (``_ContrastiveDivergence.update``,
    which works in one augmented matrix and preallocated buffers), and tested
    equal to it. It takes the uniform random numbers as arguments, so that it
    can consume exactly the ones the fast path drew: ``u_hid`` and ``u_vis``
    hold k arrays each, (C, m) and (C, n) for C chains (C = B for CD), and a
    unit is on where ``u < p``. Each hidden sample takes the next array of
    ``u_hid``: CD samples h from the data and after each Gibbs step but the
    last, PCD after each step. ``W`` (m, n), ``b`` (n,), ``c`` (m,), float32 as
    the fast path. The step is ``lr`` times the mean gradient over rows (lr / B
    times the sum), plus momentum and weight decay (on W only) as in
    ``BernoulliRBM``; ``velocity`` is the previous update's (None: zeros).
    """
    _check_shapes(W, b, c, v=v)
    # Positive phase: P(h = 1 | v) for the data.
    h_data = torch.sigmoid(v @ W.T + c)
    # Negative phase: k Gibbs steps h -> v -> h, from the data (CD) or the chains (PCD).
    u_next = iter(u_hid)
    h = (next(u_next) < h_data).float() if chains is None else chains
    for step, u in enumerate(u_vis):
        v_model = (u < torch.sigmoid(h @ W + b)).float()
        h_model = torch.sigmoid(v_model @ W.T + c)
        if chains is not None or step + 1 < len(u_vis):
            h = (next(u_next) < h_model).float()
    # Gradient of (W, b, c): the data's statistics minus the chains', each a mean over its rows.
    gradient = (h_data.T @ v / len(v) - h_model.T @ v_model / len(v_model) - weight_decay * W,
                v.mean(dim=0) - v_model.mean(dim=0),
                h_data.mean(dim=0) - h_model.mean(dim=0))
    # Step: velocity = momentum * velocity + lr * gradient (at momentum 0, lr * gradient).
    if velocity is None:
        velocity = [torch.zeros_like(g) for g in gradient]
    velocity = tuple(momentum * old + lr * g for old, g in zip(velocity, gradient))
    return CDUpdate(W + velocity[0], b + velocity[1], c + velocity[2],
                    None if chains is None else h, velocity)


class _Batch(NamedTuple):
    """Views for one mini-batch, made once per fit so that training allocates nothing.

    Buffers named ``[x, 1]`` end with a constant column of ones (see
    ``_ContrastiveDivergence``); ``B`` is the batch's rows, ``C`` its chains.
    """

    v: torch.Tensor  # (B, n+1) data rows [v, 1]
    pre_pos: torch.Tensor  # (B, m) W v + c
    h_pos: torch.Tensor  # (B, m) P(h = 1 | v), a view of [h_pos, 1]
    h_pos_T: torch.Tensor  # (m+1, B) [h_pos, 1] transposed
    chain: torch.Tensor  # (C, m+1) hidden states [h, 1] of the chains
    chain_h: torch.Tensor  # (C, m) a view of the states
    v_neg: torch.Tensor  # (C, n+1) [v~, 1], the chains' visible sample
    v_neg_v: torch.Tensor  # (C, n) a view of v~
    h_neg: torch.Tensor  # (C, m) P(h = 1 | v~), a view of [h_neg, 1]
    h_neg_T: torch.Tensor  # (m+1, C) [h_neg, 1] transposed
    pre_vis: torch.Tensor  # (C, n) W'h + b, then P(v = 1 | h)
    pre_hid: torch.Tensor  # (C, m) W v~ + c
    step: float  # learning_rate / B
    chain_weight: float  # -B / C: the chains' sum, weighted to a mean over B rows
    short: int | None  # C, when fewer chains than rows of noise (a short last CD batch)


def _member_buffer(lead: tuple[int, ...], *shape: int) -> torch.Tensor:
    """An uninitialised float32 buffer of ``shape``, or with a leading member
    dimension ``lead = (N,)`` one whose members each start on a 64-byte
    boundary, as a buffer of one RBM does: the BLAS kernels' rounding can
    depend on where a matrix starts, and each member must round as alone."""
    if not lead:
        return torch.empty(*shape)
    count = math.prod(shape)
    stride = -(-count // 16) * 16  # 16 float32 numbers are 64 bytes
    return torch.empty(*lead, stride)[..., :count].view(*lead, *shape)


class _ContrastiveDivergence:
    r"""The state of one ``fit`` or ``partial_fit``: parameters, buffers, chains, random stream.

    All parameters live in one augmented matrix
    :math:`A = \begin{pmatrix} W & c \\ b^\top & 0 \end{pmatrix}` of shape
    (m+1, n+1), and every layer carries a constant unit 1 at its end, so that
    ``[v, 1] @ A[:m].T = W v + c``, ``[h, 1] @ A[:, :n] = W'h + b``, and one
    outer product ``[h, 1]' [v, 1]`` updates W, c and b together. The uniform
    numbers of many mini-batches are drawn in one call. So a CD-1 update is
    ten torch calls into preallocated buffers: at batch size 10 the time per
    call, not the arithmetic, is what costs.

    Given a list of N RBMs (:func:`fit_rbms`) and data (N, rows, n), every
    tensor gains a leading member dimension: A is (N, m+1, n+1), the products
    are ``torch.bmm``, and each member draws its uniform numbers from its own
    stream, in the same blocks as a fit of its own. Every member of every
    buffer starts on a 64-byte boundary (``_member_buffer``), as one RBM's
    buffers do: then on this CPU ``bmm`` gives each member the bits of its own
    ``torch.mm`` (misaligned, the small-matrix kernels round differently, and
    one flipped Gibbs sample sends a member on another path). The ten calls of an update then serve
    N members.
    """

    def __init__(self, rbm: BernoulliRBM | Sequence[BernoulliRBM], X: torch.Tensor,
                 batch_size: int) -> None:
        self.members = list(rbm) if isinstance(rbm, (list, tuple)) else None
        rbms = self.members or [rbm]
        rbm = rbms[0]
        lead = () if self.members is None else (len(rbms),)
        self.mm = torch.mm if self.members is None else torch.bmm
        self.addmm_ = torch.Tensor.addmm_ if self.members is None else torch.Tensor.baddbmm_
        m, n, n_rows = rbm.n_components, X.shape[-1], X.shape[-2]
        self.k, self.persistent = rbm.k, bool(rbm.persistent)
        self.momentum = float(rbm.momentum)
        self.lr = lr = float(rbm.learning_rate)
        self.weight_decay = float(rbm.weight_decay)
        self.decay = 1.0 - lr * self.weight_decay

        def stacked(name: str) -> torch.Tensor:
            values = [torch.as_tensor(getattr(r, name)) for r in rbms]
            return values[0] if self.members is None else torch.stack(values)

        def empty(*shape: int) -> torch.Tensor:
            return _member_buffer(lead, *shape)

        self.A = A = empty(m + 1, n + 1).zero_()
        A[..., :m, :n] = stacked("components_")
        A[..., :m, n] = stacked("intercept_hidden_")
        A[..., m, :n] = stacked("intercept_visible_")
        # (n+1, m), (m+1, n), (m, n), each with the leading member dimension if any
        self.A_hid, self.A_vis, self.W = A[..., :m, :].transpose(-1, -2), A[..., :n], A[..., :m, :n]
        self.gradient = empty(m + 1, n + 1)
        self.velocity = None
        if self.momentum > 0:
            self.velocity = empty(m + 1, n + 1).zero_()
            for i, r in enumerate(rbms):
                if r._velocity is not None and r._velocity.shape == tuple(A.shape[-2:]):
                    (self.velocity if self.members is None else self.velocity[i]).copy_(
                        torch.as_tensor(r._velocity))
        self.bits = [r._bits() for r in rbms]

        def with_one(rows: int, cols: int) -> torch.Tensor:
            buffer = empty(rows, cols + 1)
            buffer[..., cols] = 1.0
            return buffer

        data = with_one(n_rows, n)
        data[..., :n] = X
        rows_max = min(batch_size, n_rows)
        self.n_chains = c_max = rbm.h_samples_.shape[0] if self.persistent else rows_max
        pre_pos, h_pos = empty(rows_max, m), with_one(rows_max, m)
        self.chain = chain = with_one(c_max, m)
        v_neg, h_neg = with_one(c_max, n), with_one(c_max, m)
        pre_vis, pre_hid = empty(c_max, n), empty(c_max, m)
        if self.persistent:
            chain[..., :m] = stacked("h_samples_")
        self.batches = []
        for start in range(0, n_rows, batch_size):
            rows = min(batch_size, n_rows - start)
            c = c_max if self.persistent else rows
            self.batches.append(_Batch(
                data[..., start:start + rows, :], pre_pos[..., :rows, :], h_pos[..., :rows, :m],
                h_pos[..., :rows, :].transpose(-1, -2), chain[..., :c, :], chain[..., :c, :m],
                v_neg[..., :c, :], v_neg[..., :c, :n], h_neg[..., :c, :m],
                h_neg[..., :c, :].transpose(-1, -2), pre_vis[..., :c, :], pre_hid[..., :c, :],
                lr / rows, -rows / c, c if c < c_max else None,
            ))
        self.n_visible, self.n_hidden = n, m
        self.chunk = max(1, min(len(self.batches), _NOISE_CHUNK // (self.k * c_max * (n + m))))

    def _noise(self, count: int) -> torch.Tensor:
        """Uniform numbers for ``count`` Gibbs steps: (count, C, n+m), or
        (count, N, C, n+m) with each member's drawn from its own stream."""
        shape = (count, self.n_chains, self.n_visible + self.n_hidden)
        if self.members is None:
            return uniform_from_bits(self.bits[0], *shape)
        return torch.stack([uniform_from_bits(bits, *shape) for bits in self.bits], dim=1)

    def epoch(self) -> None:
        """One pass over the mini-batches, in order."""
        k, n = self.k, self.n_visible
        for first in range(0, len(self.batches), self.chunk):
            group = self.batches[first:first + self.chunk]
            noise = self._noise(len(group) * k)
            noise_vis, noise_hid = noise[..., :n].unbind(0), noise[..., n:].unbind(0)
            for i, batch in enumerate(group):
                u_vis, u_hid = noise_vis[i * k:(i + 1) * k], noise_hid[i * k:(i + 1) * k]
                if batch.short:
                    u_vis = [u[..., :batch.short, :] for u in u_vis]
                    u_hid = [u[..., :batch.short, :] for u in u_hid]
                self.update(batch, u_vis, u_hid)

    def update(self, batch: _Batch, u_vis: Sequence[torch.Tensor],
               u_hid: Sequence[torch.Tensor]) -> None:
        """One CD-k or PCD-k update of A from one mini-batch.

        ``u_vis`` and ``u_hid`` hold ``k`` arrays of uniform numbers each: a
        unit is sampled on, with probability p, where ``u < p``.
        """
        A, mm, addmm_ = self.A, self.mm, self.addmm_
        # Positive phase: P(h = 1 | v) for the data.
        mm(batch.v, self.A_hid, out=batch.pre_pos)
        torch.sigmoid(batch.pre_pos, out=batch.h_pos)
        if not self.persistent:  # CD: the chains start at h ~ P(h | data)
            torch.lt(u_hid[0], batch.h_pos, out=batch.chain_h)
        # Negative phase: k Gibbs steps h -> v -> h.
        for step in range(self.k):
            mm(batch.chain, self.A_vis, out=batch.pre_vis)
            torch.lt(u_vis[step], batch.pre_vis.sigmoid_(), out=batch.v_neg_v)  # v ~ P(v | h)
            mm(batch.v_neg, self.A_hid, out=batch.pre_hid)
            torch.sigmoid(batch.pre_hid, out=batch.h_neg)  # P(h = 1 | v)
            if self.persistent:
                torch.lt(u_hid[step], batch.h_neg, out=batch.chain_h)  # h ~ P(h | v)
            elif step + 1 < self.k:
                torch.lt(u_hid[step + 1], batch.h_neg, out=batch.chain_h)
        # Update: A += lr * (mean of [h, 1]'[v, 1] over the data - over the chains).
        # The difference of the two sums is formed in its own buffer and scaled
        # once: added straight into A with alpha = lr / rows, the product loses
        # precision as rows grow (float32 rounding at every block of rows).
        mm(batch.h_pos_T, batch.v, out=self.gradient)
        addmm_(self.gradient, batch.h_neg_T, batch.v_neg, alpha=batch.chain_weight)
        if self.velocity is None:
            if self.decay != 1.0:
                self.W.mul_(self.decay)
            A.add_(self.gradient, alpha=batch.step)
        else:
            velocity = self.velocity
            velocity.mul_(self.momentum).add_(self.gradient, alpha=batch.step)
            if self.decay != 1.0:
                velocity[..., :self.n_hidden, :self.n_visible].add_(self.W, alpha=self.decay - 1.0)
            A.add_(velocity)

    def _member(self, tensor: torch.Tensor, i: int | None) -> torch.Tensor:
        return tensor if self.members is None else tensor[i]

    def check_finite(self, epoch: int, i: int | None = None) -> None:
        """Raise if the parameters (of member ``i``) overflowed (inf or NaN)
        during ``epoch``: the step was too large for this data."""
        if not torch.isfinite(self._member(self.A, i)).all():
            who = "" if self.members is None else f" for rbms[{i}] (random_state={self.members[i].random_state})"
            raise ValueError(
                f"training diverged in epoch {epoch}{who}: the weights overflowed to inf or NaN; "
                f"lower learning_rate (now {self.lr:g})"
                + (f" or weight_decay (now {self.weight_decay:g})" if self.weight_decay else "")
                + (f" or momentum (now {self.momentum:g})" if self.momentum else ""))

    def store(self, rbm: BernoulliRBM, i: int | None = None) -> None:
        """Copy the state (of member ``i``) back into ``rbm``'s fitted attributes."""
        m, n = self.n_hidden, self.n_visible
        A = self._member(self.A, i)
        rbm.components_ = A[:m, :n].numpy().copy()
        rbm.intercept_hidden_ = A[:m, n].numpy().copy()
        rbm.intercept_visible_ = A[m, :n].numpy().copy()
        if self.persistent:
            rbm.h_samples_ = self._member(self.chain, i)[:, :m].numpy().copy()
        rbm._velocity = None if self.velocity is None else self._member(self.velocity, i).numpy().copy()
        rbm._rng_state = self.bits[0 if i is None else i].state


def _run_epochs(trainer: _ContrastiveDivergence, rbms: Sequence[BernoulliRBM],
                data: Sequence[torch.Tensor], n_epochs: int, record: bool) -> None:
    """Run ``n_epochs`` epochs of ``trainer`` (one RBM, or the members of
    :func:`fit_rbms`), storing the state into each RBM after every epoch and,
    with ``record``, its ``history_`` and callback. A member's ``seconds``
    are the epochs' wall time divided by the number of members."""
    monitors = [rbm._monitor(X) if record and n_epochs else None for rbm, X in zip(rbms, data)]
    epochs = range(1, n_epochs + 1)
    if record and n_epochs and rbms[0]._show_progress():
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc="RBM epochs" if len(rbms) == 1 else f"RBM epochs ({len(rbms)} seeds)",
                      leave=False)
    seconds = [rbm.history_["seconds"][-1] if rbm.history_["seconds"] else 0.0 for rbm in rbms]
    members = [None] if trainer.members is None else list(range(len(rbms)))
    for epoch in epochs:
        began = time.perf_counter()
        with torch.inference_mode():
            trainer.epoch()
        elapsed = (time.perf_counter() - began) / len(rbms)
        for j, (i, rbm) in enumerate(zip(members, rbms)):
            seconds[j] += elapsed
            trainer.check_finite(epoch, i)
            trainer.store(rbm, i)
            if record:
                rbm._record(epoch, seconds[j], monitors[j])
    for i, rbm in zip(members, rbms):
        trainer.store(rbm, i)


#: The largest learning rate. An update moves each parameter by at most the
#: learning rate (the statistics are probabilities) times 1 / (1 - momentum),
#: so below this bound, and without weight decay, no run of ``MAX_STEPS``
#: epochs can overflow float32; a run that does overflow (a large
#: ``learning_rate * weight_decay`` scales the weights by more than 1 in size
#: at every update) raises, naming the settings.
MAX_LEARNING_RATE = 1e6

#: What each parameter of :class:`BernoulliRBM` accepts, checked by ``fit``
#: and ``partial_fit`` (the constructor only stores them, as scikit-learn asks).
RBM_PARAMETERS = dict(
    n_components=WIDTH, learning_rate=Positive(MAX_LEARNING_RATE), batch_size=WIDTH, n_iter=Int(0, MAX_STEPS),
    verbose=Int(0), random_state=Optional(Seed()), k=Int(1, MAX_STEPS), persistent=Bool(),
    momentum=Probability(), weight_decay=Float(0.0), callback=Optional(Function()),
    progress=Bool() | Choice(("auto",)),
)


@declare(check=False, then=lambda rbm: rbm.fit(_TINY),
         example=dict(n_components=2, n_iter=1, random_state=0, progress=False), **RBM_PARAMETERS)
class BernoulliRBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""Bernoulli restricted Boltzmann machine trained by CD-k or persistent CD-k.

    A drop-in for ``sklearn.neural_network.BernoulliRBM`` (same parameter
    names, defaults, fitted attributes and pseudo-likelihood), computed in
    PyTorch, with CD-k, momentum, weight decay, exact log-likelihood for small
    models, and a training history. See the module docstring for the maths.

    Parameters
    ----------
    n_components : int, default=256
        Number of hidden units :math:`m`.
    learning_rate : float, default=0.1
        Step size :math:`\varepsilon` (> 0). The update is the *mean* gradient
        over the mini-batch, as scikit-learn's ``lr / batch_size * (pos - neg)``.
    batch_size : int, default=10
        Rows per mini-batch, and the number of persistent chains when
        ``persistent=True``. Batches are taken in the order of the rows, not
        shuffled (as scikit-learn); the last one may be smaller.
    n_iter : int, default=10
        Epochs (passes over the training data). 0 only initialises.
    verbose : int, default=0
        If > 0, print the monitored pseudo-likelihood and time after each epoch,
        in scikit-learn's format.
    random_state : int or None, default=None
        Seed of everything random: the initial weights (normal(0, 0.01), the
        same numbers as scikit-learn's for the same int), the Gibbs sampling
        during ``fit`` and ``gibbs``, and the unit flipped by ``score_samples``
        (the same unit as scikit-learn's). ``None`` draws a fresh seed from the
        operating system on each ``fit``: results then differ from run to run.
    k : int, default=1
        Gibbs steps per update in the negative phase (CD-k / PCD-k).
    persistent : bool, default=False
        ``False``: CD-k, the chains start at the mini-batch's data.
        ``True``: PCD-k, ``batch_size`` chains persist across updates (kept in
        ``h_samples_``, started at all-zero hidden states, as scikit-learn).
    momentum : float in [0, 1), default=0.0
        Velocity :math:`u \leftarrow \mu u + \varepsilon g`, then
        :math:`\theta \leftarrow \theta + u`, where :math:`g` is the gradient.
    weight_decay : float >= 0, default=0.0
        L2 penalty :math:`\lambda`: :math:`g_W` gets :math:`-\lambda W` (biases
        are not decayed).
    callback : callable or None, default=None
        ``callback(rbm, epoch)`` after every epoch (epoch counts from 1), with
        the fitted attributes up to date, e.g. to record
        ``log_likelihood()``. Its time is not counted in ``history_``.
    progress : bool or "auto", default="auto"
        Show a tqdm progress bar over the epochs. ``"auto"``: in live use, not
        while the book is being built (see ``gradbook.train.show_progress()``).

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features), float32
        Weights :math:`W`.
    intercept_hidden_ : ndarray of shape (n_components,), float32
        Hidden biases :math:`c`.
    intercept_visible_ : ndarray of shape (n_features,), float32
        Visible biases :math:`b`.
    h_samples_ : ndarray of shape (batch_size, n_components), float32
        Hidden states of the persistent chains (only when ``persistent=True``).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` got a DataFrame with string column names.
    history_ : dict of lists
        One entry per epoch: ``"epoch"``; ``"seconds"``, cumulative training
        wall time (without monitoring and callback); ``"pseudo_likelihood"``,
        the mean ``score_samples()`` on a fixed subset of at most 256
        training rows with fixed flipped units (so the curve is not jittered
        by the choice of unit).

    Notes
    -----
    Differences from scikit-learn's estimator: the default is CD-1, not PCD-1
    (``persistent=True`` gives PCD-1); with PCD, the negative statistics are
    averaged over the chains and the positive ones over the batch rows
    (scikit-learn divides both by the batch's row count, which differs only on
    a smaller last batch); ``transform``, ``gibbs`` and ``sample`` return
    float32 (``gibbs`` returns 0/1 floats where scikit-learn returns booleans);
    sparse input is not accepted.
    """

    def __init__(
        self,
        n_components: int = 256,
        *,
        learning_rate: float = 0.1,
        batch_size: int = 10,
        n_iter: int = 10,
        verbose: int = 0,
        random_state: int | None = None,
        k: int = 1,
        persistent: bool = False,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        callback: Callable[[BernoulliRBM, int], Any] | None = None,
        progress: bool | str = "auto",
    ) -> None:
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.k = k
        self.persistent = persistent
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.callback = callback
        self.progress = progress

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        """Each parameter as :data:`RBM_PARAMETERS` declares it."""
        for name, rule in RBM_PARAMETERS.items():
            rule.check(getattr(self, name), name)

    def _check_memory(self, n_rows: int, n_features: int, batch_size: int, copies: int = 1) -> None:
        """Refuse a fit (of ``copies`` RBMs side by side) whose parameters,
        buffers and random numbers would need more than MAX_BYTES (an
        estimate, in float32 numbers)."""
        m, n, k = int(self.n_components), int(n_features), int(self.k)
        rows = min(batch_size, n_rows)
        chains = batch_size if self.persistent else rows
        numbers = (6 * (m + 1) * (n + 1) + n_rows * (n + 1) + 2 * rows * (m + 1)
                   + chains * (4 * m + 2 * n + 4) + 2 * k * chains * (n + m))
        check_memory(numbers * 4 * copies, f"n_components={m} on {n} features, with batch_size={batch_size} "
                                           f"and k={k}" + (f", {copies} RBMs," if copies > 1 else ","))

    def _check_input(self, X: Any, name: str = "X") -> torch.Tensor:
        """X of a fitted model: 2-D, finite, in [0, 1], n_features_in_ columns."""
        check_is_fitted(self)
        t = as_features(X, name, unit_interval=True)
        validate_data(self, X, reset=False, skip_check_array=True)  # count and names
        return t

    def _weights(self, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, ...]:
        """(W, b, c) as tensors of ``dtype``."""
        return tuple(
            torch.as_tensor(np.asarray(a), dtype=dtype)
            for a in (self.components_, self.intercept_visible_, self.intercept_hidden_)
        )

    # --------------------------------------------------------------- training
    def fit(self, X: Any, y: Any = None) -> BernoulliRBM:
        """Fit the model to ``X`` of shape (n_samples, n_features), values in [0, 1].

        Initialises ``components_`` from normal(0, 0.01) (the numbers
        scikit-learn draws for the same ``random_state``), biases at zero, then
        runs ``n_iter`` epochs of mini-batch CD-k or PCD-k. Returns ``self``.
        """
        self._check_params()
        with _threads_for(self._work(X, self.batch_size)):
            X_t = as_features(X, "X", unit_interval=True)
            self._check_memory(X_t.shape[0], X_t.shape[1], self.batch_size)
            validate_data(self, X, reset=True, skip_check_array=True)
            self._initialise(X_t.shape[1])
            self._train(X_t, self.batch_size, self.n_iter)
        return self

    def partial_fit(self, X: Any, y: Any = None) -> BernoulliRBM:
        """One CD-k (or PCD-k) update with all rows of ``X`` as the mini-batch.

        As scikit-learn's ``partial_fit``: the first call initialises the model
        (from ``random_state``); later calls continue it, including the
        persistent chains, the momentum and the random stream. Returns ``self``.
        """
        self._check_params()
        with _threads_for(self._work(X, None)):
            if not hasattr(self, "components_"):
                X_t = as_features(X, "X", unit_interval=True)
                self._check_memory(X_t.shape[0], X_t.shape[1], X_t.shape[0])
                validate_data(self, X, reset=True, skip_check_array=True)
                self._initialise(X_t.shape[1])
            else:
                X_t = self._check_input(X)
                if self.components_.shape[0] != self.n_components:
                    raise ValueError(
                        f"n_components is {self.n_components} but the fitted model has "
                        f"{self.components_.shape[0]} hidden units; call fit to start again"
                    )
                self._check_memory(X_t.shape[0], X_t.shape[1], X_t.shape[0])
            self._train(X_t, X_t.shape[0], 1, record=False)
        return self

    def _work(self, X: Any, batch_size: int | None) -> int:
        """Multiply-adds in one mini-batch matrix product (0 if X has no 2-D shape)."""
        shape = getattr(X, "shape", ())
        if len(shape) != 2:
            return 0
        rows = shape[0] if batch_size is None else min(batch_size, shape[0])
        return int(rows) * int(shape[1]) * int(self.n_components)

    def _initialise(self, n_features: int) -> None:
        rng = np.random.RandomState(self.random_state)
        self.components_ = rng.normal(0, 0.01, (self.n_components, n_features)).astype(np.float32)
        self.intercept_hidden_ = np.zeros(self.n_components, dtype=np.float32)
        self.intercept_visible_ = np.zeros(n_features, dtype=np.float32)
        self._n_features_out = self.n_components
        if self.persistent:
            self.h_samples_ = np.zeros((self.batch_size, self.n_components), dtype=np.float32)
        elif hasattr(self, "h_samples_"):
            del self.h_samples_
        self._velocity = None
        self._rng_state = np.random.SFC64(rng.randint(0, 2**63 - 1, dtype=np.int64)).state
        self.history_ = {"epoch": [], "seconds": [], "pseudo_likelihood": []}

    def _bits(self) -> np.random.SFC64:
        """The model's random stream (continued by fit, partial_fit and gibbs)."""
        bits = np.random.SFC64()
        bits.state = self._rng_state
        return bits

    def _train(self, X: torch.Tensor, batch_size: int, n_epochs: int, record: bool = True) -> None:
        """Run ``n_epochs`` epochs over ``X`` (float32, validated), then store the state.

        Training runs in ``torch.inference_mode`` (no autograd bookkeeping);
        the monitor and the callback run outside it.
        """
        with torch.inference_mode():
            trainer = _ContrastiveDivergence(self, X, batch_size)
        _run_epochs(trainer, [self], [X], n_epochs, record)

    def _monitor(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The rows of ``X`` and the flipped units on which ``history_`` records
        the pseudo-likelihood (fixed by ``random_state``)."""
        pick = np.random.RandomState(0 if self.random_state is None else self.random_state)
        rows = np.sort(pick.permutation(X.shape[0])[:_MONITOR_ROWS])
        return X[rows].double(), torch.as_tensor(pick.randint(0, X.shape[1], len(rows)))

    def _record(self, epoch: int, seconds: float, monitor) -> None:
        W, b, c = self._weights(torch.float64)
        pl = float(_pseudo_likelihood(monitor[0], monitor[1], W, b, c).mean())
        self.history_["epoch"].append(epoch)
        self.history_["seconds"].append(seconds)
        self.history_["pseudo_likelihood"].append(pl)
        if self.verbose:
            print(
                f"[{type(self).__name__}] Iteration {epoch}, pseudo-likelihood = {pl:.2f},"
                f" time = {seconds:.2f}s"
            )
        if self.callback is not None:
            self.callback(self, epoch)

    def _show_progress(self) -> bool:
        from ..train import show_progress

        return show_progress(self.progress)

    # -------------------------------------------------------------- inference
    def transform(self, X: Any) -> np.ndarray:
        """P(h = 1 | v) for each row of ``X``: ndarray (n_samples, n_components), float32."""
        v = self._check_input(X)
        W, b, c = self._weights()
        return torch.addmm(c, v, W.T).sigmoid_().numpy()

    def gibbs(self, v: Any) -> np.ndarray:
        """One Gibbs step v -> h -> v from each row of ``v``.

        Draws :math:`h \\sim P(h \\mid v)`, then :math:`v' \\sim P(v \\mid h)`, and
        returns :math:`v'` as float32 0/1, shape (n_samples, n_features). The
        random stream continues the one of ``fit`` (so repeated calls differ,
        and the same ``random_state`` repeats the same sequence).
        """
        v_t = self._check_input(v, "v")
        W, b, c = self._weights()
        bits = self._bits()
        h = _bernoulli(torch.addmm(c, v_t, W.T).sigmoid_(), bits)
        new_v = _bernoulli(torch.addmm(b, h, W).sigmoid_(), bits)
        self._rng_state = bits.state
        return new_v.numpy()

    def sample(
        self, n_samples: int, n_steps: int, *, seed: int = 0, probabilities: bool = False
    ) -> np.ndarray:
        """Draw ``n_samples`` visible vectors from independent Gibbs chains.

        Each chain starts at uniformly random binary visibles and runs
        ``n_steps`` Gibbs steps v -> h -> v. The chains approach the model's
        distribution p(v) as ``n_steps`` grows (slowly, for a well-trained
        model with separated modes).

        Parameters
        ----------
        n_samples : int >= 1
        n_steps : int >= 0
        seed : int
            Seed of these chains (independent of ``random_state``).
        probabilities : bool
            If True (and ``n_steps >= 1``), return P(v = 1 | h) of the last
            step instead of the binary sample: smoother pictures.

        Returns
        -------
        ndarray of shape (n_samples, n_features), float32
        """
        check_is_fitted(self)
        n_samples = check_positive_int(n_samples, "n_samples")
        n_steps = check_positive_int(n_steps, "n_steps", minimum=0)
        if n_steps > MAX_STEPS:
            raise ValueError(f"n_steps must be an integer from 0 to {MAX_STEPS:,}; got {n_steps}")
        units = sum(self.components_.shape)
        check_memory(n_samples * units * 4 * 6, f"n_samples={n_samples:,} chains of {units} units")
        bits = np.random.SFC64(check_seed(seed))
        W, b, c = self._weights()
        v = _bernoulli(torch.full((n_samples, W.shape[1]), 0.5), bits)
        for step in range(n_steps):
            h = _bernoulli(torch.addmm(c, v, W.T).sigmoid_(), bits)
            p_v = torch.addmm(b, h, W).sigmoid_()
            if probabilities and step + 1 == n_steps:
                return p_v.numpy()
            v = _bernoulli(p_v, bits)
        return v.numpy()

    def free_energy(self, v: Any) -> np.ndarray:
        r"""Free energy of each row of ``v``.

        :math:`F(v) = -b^\top v - \sum_j \operatorname{softplus}(c_j + W_{j\cdot} v)`.

        Returns ndarray of shape (n_samples,), float64. :math:`\log p(v) = -F(v) - \log Z`.
        """
        v_t = self._check_input(v, "v").double()
        return free_energy(v_t, *self._weights(torch.float64)).numpy()

    def score_samples(self, X: Any) -> np.ndarray:
        r"""Pseudo-likelihood of each row of ``X``, scikit-learn's definition.

        For each row, one unit :math:`i` is drawn at random and the row scores
        :math:`n \log P(v_i \mid v_{-i}) = n \log \sigma(F(\bar v) - F(v))`, where
        :math:`\bar v` is :math:`v` with unit :math:`i` flipped and :math:`n` is
        the number of features. The units are drawn exactly as scikit-learn
        draws them, from ``np.random.RandomState(random_state)``, so for the
        same parameters and ``random_state`` the two give the same numbers
        (fresh units on every call if ``random_state`` is None).

        Returns ndarray of shape (n_samples,), float64.
        """
        v_t = self._check_input(X).double()
        rng = np.random.RandomState(self.random_state)
        flip = torch.as_tensor(rng.randint(0, v_t.shape[1], v_t.shape[0]))
        return _pseudo_likelihood(v_t, flip, *self._weights(torch.float64)).numpy()

    def log_partition(self, *, layer: str = "auto") -> float:
        r"""Exact :math:`\log Z`, summing over every state of one layer (float64).

        The other layer is summed analytically (see ``_log_partition()``), so
        the cost is :math:`2^{u}` states times ``n_features * n_components``,
        with :math:`u` the enumerated layer's size, at most
        ``MAX_ENUMERATED_UNITS`` (20).

        Parameters
        ----------
        layer : {"auto", "visible", "hidden"}
            Which layer to enumerate; "auto" takes the smaller one.
        """
        check_is_fitted(self)
        check_choice(layer, "layer", ("auto", "visible", "hidden"))
        m, n = self.components_.shape
        if layer == "auto":
            layer = "hidden" if m <= n else "visible"
        size = m if layer == "hidden" else n
        if size > MAX_ENUMERATED_UNITS:
            raise ValueError(
                f"log_partition enumerates the {layer} layer, {size} units here "
                f"(2**{size} states); exact enumeration is limited to "
                f"{MAX_ENUMERATED_UNITS} units. Use a smaller model, or estimate "
                "it with ais_log_partition()."
            )
        return _log_partition(*self._weights(torch.float64), layer)

    def ais_log_partition(
        self, X_base: Any = None, *, n_runs: int = 100, n_betas: int = 10_000,
        random_state: int | None = 0,
    ) -> LogPartitionEstimate:
        r"""Estimate :math:`\log Z` by annealed importance sampling (AIS), for any size.

        Salakhutdinov and Murray's method (2008): ``n_runs`` independent runs
        anneal from a base model with no weights to this RBM through
        ``n_betas`` intermediate models (the module-level function
        ``ais_log_partition()`` spells out the loop). Pass
        the result's ``log_z`` to ``log_likelihood(X, log_z=...)``. Cost:
        about ``2 * n_runs * n_betas * n_features * n_components``
        multiply-adds (a few seconds for 784 x 256 at the defaults).

        Parameters
        ----------
        X_base : array-like of shape (n_samples, n_features), values in [0, 1], optional
            Data for the base model's visible biases, ``logit`` of each
            column's mean (smoothed as (sum + 1) / (n + 2)); a base model close
            to the data makes the estimate far more accurate. ``None``: zero
            biases (the uniform distribution).
        n_runs : int, default=100
            Independent annealing runs (>= 2).
        n_betas : int, default=10_000
            Intermediate inverse temperatures (>= 3); more is more accurate.
        random_state : int or None, default=0
            Seed of the runs' random numbers.

        Returns
        -------
        LogPartitionEstimate
            ``(log_z, low, high)``: the estimate and its +-3 standard-error bounds.
        """
        check_is_fitted(self)
        n_runs = check_positive_int(n_runs, "n_runs", minimum=2)
        n_betas = check_positive_int(n_betas, "n_betas", minimum=3)
        if n_betas > MAX_STEPS:
            raise ValueError(f"n_betas must be an integer from 3 to {MAX_STEPS:,}; got {n_betas}")
        _check_runs(n_runs, *self.components_.shape)
        gen = torch.Generator()
        if random_state is None:
            gen.seed()
        else:
            gen.manual_seed(check_seed(random_state, "random_state"))
        W, b, c = self._weights(torch.float64)
        if X_base is None:
            base_bias = torch.zeros_like(b)
        else:
            data = self._check_input(X_base, "X_base").double()
            mean = (data.sum(dim=0) + 1.0) / (data.shape[0] + 2.0)
            base_bias = torch.log(mean) - torch.log1p(-mean)
        with torch.inference_mode():
            return _ais_log_partition(W, b, c, base_bias, n_runs, n_betas, gen)

    def log_likelihood(self, X: Any, *, log_z: float | None = None) -> np.ndarray:
        r"""Exact :math:`\log p(v) = -F(v) - \log Z` of each row of ``X`` (float64).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), values in [0, 1]
        log_z : float, optional
            A ``log_partition()`` computed before, to save recomputing it.

        Returns
        -------
        ndarray of shape (n_samples,): one log-probability per row (take the
        mean for the average log-likelihood of a data set).
        """
        free = self.free_energy(X)
        if log_z is None:
            log_z = self.log_partition()
        return -free - float(log_z)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


#: The parameters that RBMs fitted together by :func:`fit_rbms` must share.
_SHARED = ("n_components", "learning_rate", "batch_size", "n_iter", "k", "persistent", "momentum",
           "weight_decay")


@declare(rbms=SequenceOf(Instance(BernoulliRBM, what="a gradbook.models.rbm.BernoulliRBM"), 1, MAX_SEEDS),
         X=Array((2, 3), low=0.0, high=1.0),
         example=lambda: dict(rbms=[BernoulliRBM(2, n_iter=1, random_state=s, progress=False)
                                    for s in (0, 1)], X=_TINY))
def fit_rbms(rbms: Sequence[BernoulliRBM], X: Any) -> list[BernoulliRBM]:
    r"""Fit N RBMs that differ only in ``random_state`` as one batched model.

    Each ``rbms[i].fit(X_i)`` would initialise its weights from its
    ``random_state``, take the mini-batches in the order of the rows and
    sample with its own random stream. Here the N fits run side by side: the
    parameters are one tensor (N, m+1, n+1) (see ``_ContrastiveDivergence``),
    each matrix product is one ``torch.bmm`` over the members, and member
    :math:`i` draws its uniform numbers from its own stream in the same blocks
    as alone. So member :math:`i` ends exactly as ``rbms[i].fit(X_i)`` would
    (the same initial weights, mini-batches and random numbers; on the
    book's CPU ``bmm`` gives each member the bits of its own ``mm``), with the
    same fitted attributes, ``history_`` and callback calls; only its
    ``history_["seconds"]`` is the batched wall time divided by N. At batch
    size 10 an update costs about as much for N members as for one, so N fits
    take a fraction of N times the time of one (``benchmarks/ensemble_stacks.py``).

    Parameters
    ----------
    rbms : sequence of BernoulliRBM (distinct objects)
        Each with its own ``random_state`` (and, if wanted, ``callback``,
        ``verbose``); every other parameter (``n_components``,
        ``learning_rate``, ``batch_size``, ``n_iter``, ``k``, ``persistent``,
        ``momentum``, ``weight_decay``) the same for all.
    X : array-like (n_samples, n_features) or (N, n_samples, n_features), values in [0, 1]
        The data of every member, or one data set per member (the codes of
        the layer below, in a stack).

    Returns
    -------
    list of BernoulliRBM: ``rbms``, fitted in place.
    """
    rbms = list(rbms)
    if len({id(r) for r in rbms}) < len(rbms):
        raise ValueError("rbms must be distinct BernoulliRBM objects; the same object appears twice")
    for i, rbm in enumerate(rbms):
        for name, rule in RBM_PARAMETERS.items():
            rule.check(getattr(rbm, name), f"rbms[{i}].{name}")
        for name in _SHARED:
            if getattr(rbm, name) != getattr(rbms[0], name):
                raise ValueError(f"rbms fitted together must share {', '.join(_SHARED)}; rbms[{i}].{name} is "
                                 f"{getattr(rbm, name)!r} but rbms[0].{name} is {getattr(rbms[0], name)!r}")
    shape = tuple(np.shape(X))
    if len(shape) == 3 and shape[0] != len(rbms):
        raise ValueError(f"X must have one data set per RBM, shape ({len(rbms)}, n_samples, n_features), "
                         f"or be 2-D; got shape {shape}")
    data = [X] * len(rbms) if len(shape) == 2 else [X[i] for i in range(len(rbms))]
    first = rbms[0]
    with _threads_for(first._work(data[0], first.batch_size)):
        tensors = [as_features(x, "X" if len(shape) == 2 else f"X[{i}]", unit_interval=True)
                   for i, x in enumerate(data)]
        first._check_memory(*tensors[0].shape, first.batch_size, copies=len(rbms))
        for rbm, x, t in zip(rbms, data, tensors):
            validate_data(rbm, x, reset=True, skip_check_array=True)
            rbm._initialise(t.shape[1])
        with torch.inference_mode():
            trainer = _ContrastiveDivergence(rbms, torch.stack(tensors), first.batch_size)
        _run_epochs(trainer, rbms, tensors, int(first.n_iter), True)
    return rbms
