r"""The book's one decision rule for comparisons over seeds.

A claim such as "pre-training helps a deep sigmoid net" is tested by running
both arms, the *treatment* (pre-trained) and the *baseline* (trained from a
random start), once for each of :math:`n` seeds, and looking at the per-seed
differences

.. math::

    d_i = t_i - b_i, \qquad i = 1, \dots, n,

where :math:`t_i` and :math:`b_i` are the two arms' results (a test accuracy,
say) for seed :math:`i`. The book summarises them by their mean and a
two-sided Student-t interval for the mean difference,

.. math::

    \bar d \pm t_{(1+c)/2,\, n-1} \, \frac{s}{\sqrt n}, \qquad
    \bar d = \frac1n \sum_i d_i, \qquad
    s^2 = \frac{1}{n-1} \sum_i (d_i - \bar d)^2,

with confidence :math:`c = 0.95` (:data:`CONFIDENCE`), and reads the outcome
off the interval with :func:`decide`: *no difference* if the whole interval
lies within :math:`\pm m` of zero, for a margin :math:`m`
(:data:`DEFAULT_MARGIN`, one point of accuracy); *supported* if it lies wholly
on the side of zero the claim predicts; *contradicted* if it lies wholly on
the other side; *inconclusive* otherwise. :func:`verdict` turns the outcomes
of a claim's comparisons into the claim's verdict in the book's ledger;
:data:`RULE` states both in words, and :func:`rule_table` as a table.

**Why paired differences.** The same seed gives both arms the same data
subset, the same mini-batch order and, where the arms share an architecture,
the same initial weights. Much of the spread between seeds (an easy split, a
lucky start) is then common to both arms and cancels in :math:`d_i`: since
:math:`\operatorname{Var}(t - b) = \operatorname{Var} t + \operatorname{Var} b
- 2 \operatorname{Cov}(t, b)`, the paired interval is narrower than one for
two independent samples whenever the arms move together over seeds, as they
do. The pairing is by position: ``treatment[i]`` and ``baseline[i]`` must come
from the same seed.

**Why Student's t and not a bootstrap.** A verdict rests on 20 seeds
(:data:`MIN_SEEDS`). A percentile bootstrap interval of 20 values is too
narrow: it resamples the 20 values as if they were the population, so it
ignores the uncertainty in the spread itself, and its coverage falls short of
the nominal 95 % at this size. It is also unstable: its ends depend on the
resampling draw and on the one or two most extreme seeds. The t interval
accounts for the estimated spread through its :math:`n - 1` degrees of
freedom, is exact for normally distributed differences and close to it for a
mean of 20 moderate-tailed values, and is a deterministic function of the
data, so a glued number does not move between two builds of the book.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats as scipy_stats

from ._validate import (
    Array,
    Choice,
    Float,
    Instance,
    Text,
    check_choice,
    check_finite_float,
    check_positive_int,
    declare,
)
from ._validate import (
    Sequence as SequenceOf,
)

__all__ = [
    "OUTCOMES",
    "VERDICTS",
    "CLAIMED",
    "DEFAULT_MARGIN",
    "CONFIDENCE",
    "MIN_SEEDS",
    "RULE",
    "paired_differences",
    "t_interval",
    "decide",
    "Comparison",
    "compare",
    "verdict",
    "rule_table",
]

__undeclared__ = {"Comparison": "the record compare() returns; users read it, they do not build it"}

#: The outcomes of one comparison (:func:`decide` checks "no difference"
#: first, then "supported", then "contradicted"; "inconclusive" is the rest).
OUTCOMES = ("supported", "contradicted", "no difference", "inconclusive")

#: A claim's verdict in the book's ledger, from the outcomes of its comparisons.
VERDICTS = ("confirmed", "confirmed with caveats", "corrected", "unsettled")

#: What a claim predicts for the difference treatment - baseline.
CLAIMED = ("greater", "less", "equal")

#: The smallest difference the book treats as real: one point of accuracy.
DEFAULT_MARGIN = 0.01

#: The confidence of the interval: a two-sided 95 % interval.
CONFIDENCE = 0.95

#: The book's standard for a verdict: at least this many seeds per comparison
#: (not enforced by :func:`compare`; the chapters and their tests check it).
MIN_SEEDS = 20

#: The rule and the verdict mapping in plain words (the ledger page shows it verbatim).
RULE = (
    "Each comparison runs the treatment and the baseline once per seed, on the same seeds, "
    "and takes the per-seed differences treatment \u2212 baseline (paired: one seed gives both "
    "arms the same data subset and the same initial weights). Over these paired differences it "
    f"computes a two-sided {100 * CONFIDENCE:g} % Student-t interval for the mean difference, "
    f"with at least {MIN_SEEDS} seeds. The margin is the smallest difference the book treats "
    f"as real, {DEFAULT_MARGIN:g} (one point of accuracy) unless a chapter states another. The "
    "outcome is checked in this order: no difference, if the whole interval lies within "
    "\u00b1 the margin; supported, if it lies wholly on the side of zero the claim predicts; "
    "contradicted, if it lies wholly on the other side; inconclusive otherwise. For a claim "
    "that there is no difference, no difference is the outcome that agrees with it, and an "
    "interval wholly beyond the margin on either side (a difference the book treats as real) "
    "contradicts it.\n"
    "\n"
    "A claim's verdict follows from the outcomes of its comparisons: unsettled, if any "
    "comparison is inconclusive; otherwise confirmed, if every comparison agrees with the "
    "claim; confirmed with caveats, if some agree and others do not; corrected, if none "
    "agrees (the difference goes the other way, there is no difference where the article "
    "claims an effect, or a real difference where it claims none)."
)


class _PerSeed(Array):
    """Per-seed values: a 1-D array of at least two finite numbers."""

    def __init__(self) -> None:
        super().__init__(1, min_size=2)

    def describe(self) -> str:
        return "a 1-D array of at least 2 finite numbers (one per seed)"


def _values(x: Any, name: str) -> np.ndarray:
    """``x`` (checked by its declaration) as a 1-D float64 numpy array."""
    try:
        if isinstance(x, torch.Tensor):
            a = x.detach().cpu().to(torch.float64).numpy()
        else:
            a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be {_PerSeed().describe()}; got {type(x).__name__}") from exc
    if a.ndim != 1 or a.size < 2:
        raise ValueError(f"{name} must be {_PerSeed().describe()}; got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values; all must be finite")
    return a


@declare(treatment=_PerSeed(), baseline=_PerSeed(),
         example=dict(treatment=[0.91, 0.93, 0.90], baseline=[0.90, 0.90, 0.91]))
def paired_differences(treatment: Any, baseline: Any) -> np.ndarray:
    r"""The per-seed differences :math:`d_i = t_i - b_i`, as float64.

    Parameters
    ----------
    treatment, baseline : array-like of shape (n_seeds,)
        One value per seed (lists, numpy arrays or torch tensors), paired by
        position: ``treatment[i]`` and ``baseline[i]`` come from the same
        seed. Equal lengths, at least 2, all finite.

    Returns
    -------
    numpy.ndarray of shape (n_seeds,), float64
        ``treatment - baseline``.

    Raises
    ------
    ValueError
        If the lengths differ, fewer than 2 values are given, or a value is
        NaN or infinite (or the difference overflows).
    TypeError
        If an argument is not numeric array-like.
    """
    t = _values(treatment, "treatment")
    b = _values(baseline, "baseline")
    if t.shape != b.shape:
        raise ValueError(f"baseline must hold one value per seed of treatment, paired by "
                         f"position: treatment has {t.size} values, baseline {b.size}")
    with np.errstate(over="ignore", invalid="ignore"):
        d = t - b
    if not np.isfinite(d).all():
        raise ValueError("treatment - baseline overflows float64; treatment and baseline "
                         "must be of ordinary size")
    return d


@declare(values=_PerSeed(), confidence=Float(0.0, 1.0, low_open=True, high_open=True),
         example=dict(values=[0.01, 0.03, -0.01, 0.02]))
def t_interval(values: Any, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    r"""The mean of ``values`` and its two-sided Student-t interval.

    .. math::

        \bar x \pm t_{(1+c)/2,\, n-1} \, \frac{s}{\sqrt n}, \qquad
        s^2 = \frac{1}{n-1} \sum_i (x_i - \bar x)^2,

    with :math:`t_{q, \nu}` the :math:`q`-quantile of Student's t with
    :math:`\nu` degrees of freedom.

    Parameters
    ----------
    values : array-like of shape (n,)
        At least 2 finite numbers (the per-seed differences, say).
    confidence : float in (0, 1), default 0.95
        The interval's coverage :math:`c`.

    Returns
    -------
    (mean, low, high) : tuple of three floats
        If all values are equal the interval has zero width:
        ``low == high == mean`` (not NaN).
    """
    x = _values(values, "values")
    confidence = check_finite_float(confidence, "confidence")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence!r}")
    if np.all(x == x[0]):
        m = float(x[0])
        return m, m, m
    n = x.size
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(np.mean(x))
        sd = float(np.std(x, ddof=1))
    half = float(scipy_stats.t.ppf((1.0 + confidence) / 2.0, n - 1)) * sd / math.sqrt(n)
    if not (math.isfinite(mean) and math.isfinite(half)):
        raise ValueError("values are too large for their mean and spread to be computed in float64")
    return mean, mean - half, mean + half


@declare(low=Float(), high=Float(), margin=Float(0.0), claimed=Choice(CLAIMED),
         example=dict(low=0.004, high=0.03))
def decide(low: float, high: float, margin: float = DEFAULT_MARGIN, claimed: str = "greater") -> str:
    r"""The outcome of one comparison from the interval ``[low, high]``.

    Checked in this order, for a margin :math:`m`:

    1. ``"no difference"`` if :math:`-m \le \text{low}` and
       :math:`\text{high} \le m` (the whole interval lies within the margin);
    2. ``"supported"`` if the interval lies wholly on the claimed side of 0:
       :math:`\text{low} > 0` for ``claimed="greater"``,
       :math:`\text{high} < 0` for ``"less"``;
    3. ``"contradicted"`` if it lies wholly on the other side of 0;
    4. ``"inconclusive"`` otherwise (the interval holds 0, or touches it,
       and reaches beyond the margin).

    So an interval inside the margin is "no difference" even if it excludes
    0: a difference smaller than the margin is not one the book treats as
    real. For ``claimed="equal"`` (the claim predicts no difference), "no
    difference" is the outcome that agrees; an interval wholly beyond the
    margin (:math:`\text{low} > m` or :math:`\text{high} < -m`) is
    "contradicted"; anything else is "inconclusive" (an interval that
    excludes 0 but reaches into the margin does not show a real difference).

    Parameters
    ----------
    low, high : float
        The interval's ends, finite, ``low <= high``.
    margin : float >= 0, default 0.01
        The smallest difference the book treats as real.
    claimed : {"greater", "less", "equal"}
        What the claim predicts for the difference treatment - baseline.

    Returns
    -------
    str
        One of :data:`OUTCOMES`.
    """
    low = check_finite_float(low, "low")
    high = check_finite_float(high, "high")
    margin = check_finite_float(margin, "margin")
    check_choice(claimed, "claimed", CLAIMED)
    if margin < 0:
        raise ValueError(f"margin must be a finite number >= 0; got {margin!r}")
    if low > high:
        raise ValueError(f"low must be <= high (an interval [low, high]); got low={low!r}, high={high!r}")
    if -margin <= low and high <= margin:
        return "no difference"
    above, below = low > 0, high < 0
    if claimed == "equal":
        return "contradicted" if low > margin or high < -margin else "inconclusive"
    on_claimed_side, on_other_side = (above, below) if claimed == "greater" else (below, above)
    if on_claimed_side:
        return "supported"
    if on_other_side:
        return "contradicted"
    return "inconclusive"


def _signed(x: float, digits: int) -> str:
    """``x`` with ``digits`` decimals and its sign, "+" or a true minus
    "\u2212"; a value that rounds to zero is shown without a sign."""
    s = f"{x:+.{digits}f}"
    if float(s) == 0:
        return f"{0.0:.{digits}f}"
    return s.replace("-", "\u2212")


@dataclass(frozen=True)
class Comparison:
    """One comparison of a treatment against a baseline over seeds, as
    :func:`compare` returns it.

    Attributes
    ----------
    name : str
        What is compared, in words (may be empty).
    n : int
        The number of seeds (paired differences).
    mean, sd : float
        Mean and standard deviation (``ddof=1``) of the per-seed differences
        treatment - baseline.
    low, high : float
        The Student-t interval for the mean difference.
    margin : float
        The margin used by :func:`decide`.
    claimed : str
        What the claim predicts: one of :data:`CLAIMED`.
    outcome : str
        One of :data:`OUTCOMES`.
    confidence : float
        The interval's confidence (0.95).
    baseline : str
        What the treatment is compared against, in words (may be empty).
    """

    name: str
    n: int
    mean: float
    sd: float
    low: float
    high: float
    margin: float
    claimed: str
    outcome: str
    confidence: float
    baseline: str = ""

    def __post_init__(self) -> None:
        check_choice(self.claimed, "claimed", CLAIMED)
        check_choice(self.outcome, "outcome", OUTCOMES)

    @property
    def agrees(self) -> bool:
        """True if the outcome agrees with the claim: "supported" for a
        claim of "greater" or "less", "no difference" for "equal"."""
        return self.outcome == ("no difference" if self.claimed == "equal" else "supported")

    def text(self, digits: int = 3) -> str:
        """The comparison in one line, for the prose and the claim checks, e.g.
        ``"+0.025 (95 % CI −0.004 to +0.054, 20 seeds): inconclusive"``.

        Numbers carry their sign ("+", or a true minus sign "−", U+2212) and
        ``digits`` decimals (0 to 12); a value that rounds to zero is shown
        without a sign."""
        digits = check_positive_int(digits, "digits", minimum=0)
        if digits > 12:
            raise ValueError(f"digits must be an integer from 0 to 12; got {digits}")
        return (f"{_signed(self.mean, digits)} ({100 * self.confidence:g} % CI "
                f"{_signed(self.low, digits)} to {_signed(self.high, digits)}, "
                f"{self.n} seeds): {self.outcome}")


@declare(treatment=_PerSeed(), baseline=_PerSeed(), claimed=Choice(CLAIMED), margin=Float(0.0),
         name=Text("a name for the comparison"), baseline_name=Text("a name for the baseline"),
         confidence=Float(0.0, 1.0, low_open=True, high_open=True),
         example=dict(treatment=[0.91, 0.93, 0.90], baseline=[0.90, 0.90, 0.91]))
def compare(treatment: Any, baseline: Any, *, claimed: str = "greater",
            margin: float = DEFAULT_MARGIN, name: str = "", baseline_name: str = "",
            confidence: float = CONFIDENCE) -> Comparison:
    r"""Compare ``treatment`` with ``baseline`` over seeds by the book's rule.

    :func:`paired_differences`, then :func:`t_interval` of the differences,
    then :func:`decide` on the interval.

    Parameters
    ----------
    treatment, baseline : array-like of shape (n_seeds,)
        One value per seed, paired by position (the same seed at the same
        index), at least 2 (the book's verdicts use at least
        :data:`MIN_SEEDS`; this function does not enforce it).
    claimed : {"greater", "less", "equal"}, default "greater"
        What the claim predicts for treatment - baseline.
    margin : float >= 0, default 0.01
        The smallest difference treated as real.
    name, baseline_name : str
        What is compared, and what against, in words (stored, not used).
    confidence : float in (0, 1), default 0.95

    Returns
    -------
    Comparison
    """
    check_choice(claimed, "claimed", CLAIMED)
    d = paired_differences(treatment, baseline)
    mean, low, high = t_interval(d, confidence)
    sd = 0.0 if np.all(d == d[0]) else float(np.std(d, ddof=1))
    outcome = decide(low, high, margin, claimed)
    return Comparison(name=name, n=int(d.size), mean=mean, sd=sd, low=low, high=high,
                      margin=float(margin), claimed=claimed, outcome=outcome,
                      confidence=float(confidence), baseline=baseline_name)


@declare(comparisons=SequenceOf(Instance(Comparison, what="a gradbook.stats.Comparison"), min_len=1),
         example=lambda: dict(comparisons=[compare([0.91, 0.93, 0.92], [0.90, 0.90, 0.91])]))
def verdict(comparisons: Any) -> str:
    """A claim's verdict in the ledger, from the outcomes of its comparisons.

    - ``"unsettled"`` if any comparison is "inconclusive";
    - else ``"confirmed"`` if every comparison agrees with the claim
      (:attr:`Comparison.agrees`);
    - ``"confirmed with caveats"`` if some agree and others do not;
    - ``"corrected"`` if none agrees: the difference goes the other way
      ("contradicted"), there is no difference where the claim predicts an
      effect, or a real difference where it predicts none.

    Parameters
    ----------
    comparisons : non-empty list or tuple of Comparison

    Returns
    -------
    str
        One of :data:`VERDICTS`.
    """
    comparisons = list(comparisons)
    if not comparisons:
        raise ValueError("comparisons must hold at least one Comparison")
    for i, c in enumerate(comparisons):
        if not isinstance(c, Comparison):
            raise TypeError(f"comparisons[{i}] must be a gradbook.stats.Comparison; got {type(c).__name__}")
    if any(c.outcome == "inconclusive" for c in comparisons):
        return "unsettled"
    agreeing = sum(c.agrees for c in comparisons)
    if agreeing == len(comparisons):
        return "confirmed"
    if agreeing:
        return "confirmed with caveats"
    return "corrected"


@declare(example={})
def rule_table() -> pd.DataFrame:
    """The four outcomes and when each is reached, in the order they are checked.

    Returns
    -------
    pandas.DataFrame
        One row per outcome (index ``check``, 1 to 4), with columns
        ``outcome``, ``claim predicts a difference`` (claimed "greater" or
        "less"), ``claim predicts no difference`` (claimed "equal") and
        ``agrees with the claim``.
    """
    rows = [
        ("no difference",
         "the whole interval lies within \u00b1 the margin",
         "the whole interval lies within \u00b1 the margin",
         "when the claim predicts no difference"),
        ("supported",
         "the interval lies wholly on the claimed side of 0",
         "(does not occur)",
         "when the claim predicts a difference"),
        ("contradicted",
         "the interval lies wholly on the other side of 0",
         "the interval lies wholly on one side of 0",
         "never"),
        ("inconclusive",
         "otherwise: the interval holds or touches 0 and reaches beyond the margin",
         "otherwise: the interval holds or touches 0 and reaches beyond the margin",
         "never (the verdict is unsettled)"),
    ]
    table = pd.DataFrame(rows, columns=["outcome", "claim predicts a difference",
                                        "claim predicts no difference", "agrees with the claim"])
    table.index = pd.RangeIndex(1, len(rows) + 1, name="check")
    return table
