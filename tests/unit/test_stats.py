"""gradbook.stats: the paired t interval, the decision rule and the verdict mapping."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats as scipy_stats

from gradbook.stats import (
    CLAIMED,
    CONFIDENCE,
    DEFAULT_MARGIN,
    MIN_SEEDS,
    OUTCOMES,
    RULE,
    VERDICTS,
    Comparison,
    compare,
    decide,
    paired_differences,
    rule_table,
    t_interval,
    verdict,
)

MINUS = "\u2212"


def _comparison(outcome: str, claimed: str = "greater") -> Comparison:
    return Comparison(name="c", n=20, mean=0.0, sd=0.0, low=0.0, high=0.0, margin=0.01,
                      claimed=claimed, outcome=outcome, confidence=0.95)


# --------------------------------------------------------------------------
# constants
# --------------------------------------------------------------------------

def test_constants():
    assert OUTCOMES == ("supported", "contradicted", "no difference", "inconclusive")
    assert VERDICTS == ("confirmed", "confirmed with caveats", "corrected", "unsettled")
    assert CLAIMED == ("greater", "less", "equal")
    assert DEFAULT_MARGIN == 0.01 and CONFIDENCE == 0.95 and MIN_SEEDS == 20


def test_rule_text_states_the_rule_and_the_mapping():
    paragraphs = RULE.split("\n\n")
    assert len(paragraphs) == 2
    first, second = paragraphs
    for words in ("two-sided 95 % Student-t interval", "paired", "0.01", "in this order"):
        assert words in first
    # the checks are named in the order decide() applies them
    positions = [first.index(o) for o in ("no difference", "supported", "contradicted", "inconclusive")]
    assert positions == sorted(positions)
    for v in VERDICTS:
        assert v in second


def test_rule_table_lists_the_four_outcomes_in_order():
    table = rule_table()
    assert isinstance(table, pd.DataFrame)
    assert list(table["outcome"]) == ["no difference", "supported", "contradicted", "inconclusive"]
    assert sorted(table["outcome"]) == sorted(OUTCOMES)
    assert list(table.index) == [1, 2, 3, 4]
    assert table.notna().all().all()


# --------------------------------------------------------------------------
# paired_differences
# --------------------------------------------------------------------------

def test_paired_differences_subtracts_by_position():
    d = paired_differences([0.9, 0.8, 0.7], [0.5, 0.6, 0.9])
    assert d.dtype == np.float64
    np.testing.assert_allclose(d, [0.4, 0.2, -0.2], rtol=0, atol=1e-15)


def test_paired_differences_accepts_numpy_and_torch():
    t = torch.tensor([0.9, 0.8, 0.7], dtype=torch.float32, requires_grad=True)
    b = np.array([0.5, 0.6, 0.9], dtype=np.float32)
    d = paired_differences(t, b)
    assert isinstance(d, np.ndarray) and d.dtype == np.float64 and d.shape == (3,)
    np.testing.assert_allclose(d, [0.4, 0.2, -0.2], atol=1e-6)
    np.testing.assert_array_equal(paired_differences(np.arange(4), [0, 0, 0, 0]), [0, 1, 2, 3])


@pytest.mark.parametrize("treatment, baseline, param", [
    ([0.1, 0.2, 0.3], [0.1, 0.2], "baseline"),             # unequal lengths
    ([0.1], [0.2], "treatment"),                          # n = 1
    ([0.1, float("nan")], [0.1, 0.2], "treatment"),        # NaN
    ([0.1, 0.2], [0.1, float("inf")], "baseline"),         # inf
    ([[0.1, 0.2], [0.3, 0.4]], [0.1, 0.2], "treatment"),   # 2-D
    ([], [], "treatment"),                                # empty
])
def test_paired_differences_refuses_bad_values(treatment, baseline, param):
    with pytest.raises(ValueError, match=param):
        paired_differences(treatment, baseline)


@pytest.mark.parametrize("bad", ["abc", None, ["a", "b"]])
def test_paired_differences_refuses_non_numbers(bad):
    with pytest.raises(TypeError, match="treatment"):
        paired_differences(bad, [0.1, 0.2])


def test_paired_differences_refuses_an_overflow():
    with pytest.raises(ValueError, match="overflow"):
        paired_differences([1e308, 0.0], [-1e308, 0.0])


# --------------------------------------------------------------------------
# t_interval
# --------------------------------------------------------------------------

def test_t_interval_by_hand():
    # x = 1, 2, 3, 4, 5: mean 3, s^2 = (4 + 1 + 0 + 1 + 4) / 4 = 2.5, n = 5,
    # t_{0.975, 4} = 2.7764451051977987 (tables give 2.776)
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)
    mean, low, high = t_interval(x)
    assert mean == pytest.approx(3.0, abs=1e-15)
    assert low == pytest.approx(3.0 - half, rel=1e-12)
    assert high == pytest.approx(3.0 + half, rel=1e-12)
    assert high - low == pytest.approx(2 * 1.9632, abs=1e-4)  # the 95 % table value


def test_t_interval_other_confidence_by_hand():
    # two values 0 and 2: mean 1, s = sqrt(2), n = 2, t_{0.95, 1} = 6.313751514675043
    mean, low, high = t_interval([0.0, 2.0], confidence=0.9)
    half = 6.313751514675043 * math.sqrt(2) / math.sqrt(2)
    assert (mean, low, high) == pytest.approx((1.0, 1.0 - half, 1.0 + half), rel=1e-12)


@pytest.mark.parametrize("seed, n, confidence", [(0, 20, 0.95), (1, 5, 0.95), (2, 40, 0.9), (3, 2, 0.99)])
def test_t_interval_matches_scipy(seed, n, confidence):
    x = np.random.default_rng(seed).normal(0.02, 0.03, size=n)
    expected = scipy_stats.ttest_1samp(x, 0.0).confidence_interval(confidence_level=confidence)
    mean, low, high = t_interval(x, confidence)
    assert mean == pytest.approx(x.mean(), rel=1e-12)
    assert low == pytest.approx(expected.low, rel=1e-10)
    assert high == pytest.approx(expected.high, rel=1e-10)
    assert low < mean < high


def test_t_interval_of_equal_values_has_zero_width():
    for x in ([0.1] * 20, [0.0, 0.0], [-0.3] * 7):
        mean, low, high = t_interval(x)
        assert not any(math.isnan(v) for v in (mean, low, high))
        assert low == high == mean == x[0]


def test_t_interval_wider_for_higher_confidence():
    x = [0.01, 0.03, -0.01, 0.02, 0.04]
    _, low90, high90 = t_interval(x, 0.9)
    _, low99, high99 = t_interval(x, 0.99)
    assert low99 < low90 and high90 < high99


@pytest.mark.parametrize("kwargs, param, error", [
    (dict(values=[0.1]), "values", ValueError),
    (dict(values=[0.1, float("nan")]), "values", ValueError),
    (dict(values="ab"), "values", TypeError),
    (dict(values=[0.1, 0.2], confidence=1.0), "confidence", ValueError),
    (dict(values=[0.1, 0.2], confidence=0.0), "confidence", ValueError),
    (dict(values=[0.1, 0.2], confidence=95), "confidence", ValueError),
    (dict(values=[0.1, 0.2], confidence="0.95"), "confidence", TypeError),
])
def test_t_interval_refuses_bad_input(kwargs, param, error):
    with pytest.raises(error, match=param):
        t_interval(**kwargs)


# --------------------------------------------------------------------------
# decide
# --------------------------------------------------------------------------

@pytest.mark.parametrize("low, high, expected", [
    (0.02, 0.05, "supported"),
    (1e-9, 0.05, "supported"),          # just above 0
    (0.0, 0.05, "inconclusive"),        # touches 0: not wholly above it
    (-0.05, -0.02, "contradicted"),
    (-0.05, 0.0, "inconclusive"),       # touches 0: not wholly below it
    (-0.05, 0.05, "inconclusive"),
    (-0.005, 0.005, "no difference"),
    (-0.01, 0.01, "no difference"),     # the margin's ends count as inside
    (-0.01, 0.0100001, "inconclusive"), # reaches just beyond the margin, holds 0
    (0.002, 0.008, "no difference"),    # inside the margin AND above 0: the margin is checked first
    (-0.008, -0.002, "no difference"),  # inside the margin AND below 0
    (0.005, 0.02, "supported"),         # above 0 but not inside the margin
    (0.0, 0.0, "no difference"),
])
def test_decide_greater(low, high, expected):
    assert decide(low, high) == expected
    assert decide(low, high, margin=0.01, claimed="greater") == expected


@pytest.mark.parametrize("low, high, expected", [
    (-0.05, -0.02, "supported"),
    (-0.05, -1e-9, "supported"),
    (-0.05, 0.0, "inconclusive"),
    (0.02, 0.05, "contradicted"),
    (-0.05, 0.05, "inconclusive"),
    (-0.008, -0.002, "no difference"),  # order: no difference before supported
    (-0.02, -0.005, "supported"),
])
def test_decide_less(low, high, expected):
    assert decide(low, high, claimed="less") == expected


@pytest.mark.parametrize("low, high, expected", [
    (-0.005, 0.005, "no difference"),
    (0.002, 0.008, "no difference"),
    (-0.01, 0.01, "no difference"),
    (0.02, 0.05, "contradicted"),
    (-0.05, -0.02, "contradicted"),
    (0.005, 0.02, "inconclusive"),      # above 0, but not wholly beyond the margin
    (0.011, 0.02, "contradicted"),      # wholly beyond +margin: a real difference
    (-0.03, -0.0101, "contradicted"),   # wholly beyond -margin
    (-0.05, 0.05, "inconclusive"),
    (0.0, 0.05, "inconclusive"),
])
def test_decide_equal(low, high, expected):
    out = decide(low, high, claimed="equal")
    assert out == expected
    assert out != "supported"


def test_decide_margin_changes_the_outcome():
    assert decide(0.002, 0.008, margin=0.0) == "supported"
    assert decide(0.002, 0.008, margin=0.001) == "supported"
    assert decide(0.002, 0.008, margin=0.008) == "no difference"
    assert decide(0.0, 0.0, margin=0.0) == "no difference"
    assert decide(-0.03, 0.04, margin=0.05) == "no difference"


def test_decide_covers_every_outcome():
    seen = {decide(lo, hi, claimed=c) for lo, hi in [(0.02, 0.05), (-0.05, -0.02), (-0.005, 0.005),
                                                      (-0.05, 0.05)] for c in CLAIMED}
    assert seen == set(OUTCOMES)


@pytest.mark.parametrize("kwargs, param, error", [
    (dict(low=0.03, high=0.01), "low", ValueError),       # low > high
    (dict(low=0.0, high=0.01, margin=-0.01), "margin", ValueError),
    (dict(low=0.0, high=0.01, margin=float("inf")), "margin", ValueError),
    (dict(low=0.0, high=0.01, claimed="bigger"), "claimed", ValueError),
    (dict(low=0.0, high=0.01, claimed=None), "claimed", ValueError),
    (dict(low=float("nan"), high=0.01), "low", ValueError),
    (dict(low=0.0, high=float("inf")), "high", ValueError),
    (dict(low="0", high=0.01), "low", TypeError),
])
def test_decide_refuses_bad_input(kwargs, param, error):
    with pytest.raises(error, match=param):
        decide(**kwargs)


def test_decide_low_above_high_names_both():
    with pytest.raises(ValueError) as info:
        decide(0.03, 0.01)
    assert "low" in str(info.value) and "high" in str(info.value)


# --------------------------------------------------------------------------
# compare and Comparison
# --------------------------------------------------------------------------

def test_compare_on_a_known_pair():
    treatment = [0.92, 0.95, 0.93, 0.96, 0.94]
    baseline = [0.90, 0.91, 0.90, 0.92, 0.91]
    # differences 0.02, 0.04, 0.03, 0.04, 0.03: mean 0.032, s^2 = 0.00007 (ddof=1)
    c = compare(treatment, baseline, name="pre-training", baseline_name="random start")
    assert isinstance(c, Comparison)
    assert c.n == 5
    assert c.mean == pytest.approx(0.032, abs=1e-12)
    assert c.sd == pytest.approx(math.sqrt(0.00007), rel=1e-9)
    half = 2.7764451051977987 * math.sqrt(0.00007) / math.sqrt(5)
    assert c.low == pytest.approx(0.032 - half, rel=1e-9)
    assert c.high == pytest.approx(0.032 + half, rel=1e-9)
    assert c.low > DEFAULT_MARGIN  # so the outcome is "supported"
    assert c.outcome == "supported" and c.agrees
    assert (c.name, c.baseline, c.claimed, c.margin, c.confidence) == (
        "pre-training", "random start", "greater", 0.01, 0.95)


def test_compare_agrees_with_its_parts():
    rng = np.random.default_rng(7)
    b = rng.normal(0.9, 0.02, size=20)
    t = b + rng.normal(0.005, 0.01, size=20)
    for claimed in CLAIMED:
        for margin in (0.0, 0.01, 0.05):
            c = compare(t, b, claimed=claimed, margin=margin, confidence=0.9)
            mean, low, high = t_interval(paired_differences(t, b), 0.9)
            assert (c.mean, c.low, c.high) == (mean, low, high)
            assert c.outcome == decide(low, high, margin, claimed)
            assert c.sd == pytest.approx(np.std(t - b, ddof=1), rel=1e-12)


def test_compare_outcomes():
    b = np.linspace(0.80, 0.90, 20)
    wobble = np.tile([0.004, -0.004], 10)
    assert compare(b + 0.05 + wobble, b).outcome == "supported"
    assert compare(b - 0.05 + wobble, b).outcome == "contradicted"
    assert compare(b - 0.05 + wobble, b, claimed="less").outcome == "supported"
    assert compare(b + wobble / 4, b).outcome == "no difference"
    assert compare(b + wobble / 4, b, claimed="equal").agrees
    assert compare(b + 0.05 + wobble, b, claimed="equal").outcome == "contradicted"
    assert compare(b + 10 * wobble, b).outcome == "inconclusive"


def test_compare_of_identical_arms_is_no_difference():
    c = compare([0.9] * 20, [0.9] * 20, claimed="equal")
    assert (c.mean, c.sd, c.low, c.high) == (0.0, 0.0, 0.0, 0.0)
    assert c.outcome == "no difference" and c.agrees


@pytest.mark.parametrize("kwargs, param, error", [
    (dict(treatment=[0.9, 0.8, 0.7], baseline=[0.9, 0.8]), "baseline", ValueError),
    (dict(treatment=[0.9], baseline=[0.8]), "treatment", ValueError),
    (dict(treatment=[0.9, float("nan")], baseline=[0.8, 0.7]), "treatment", ValueError),
    (dict(treatment=[0.9, 0.8], baseline=[0.8, 0.7], margin=-0.01), "margin", ValueError),
    (dict(treatment=[0.9, 0.8], baseline=[0.8, 0.7], claimed="more"), "claimed", ValueError),
    (dict(treatment=[0.9, 0.8], baseline=[0.8, 0.7], confidence=1.5), "confidence", ValueError),
    (dict(treatment=[0.9, 0.8], baseline=[0.8, 0.7], name=3), "name", TypeError),
    (dict(treatment=[0.9, 0.8], baseline=[0.8, 0.7], baseline_name=None), "baseline_name", TypeError),
])
def test_compare_refuses_bad_input(kwargs, param, error):
    with pytest.raises(error, match=param):
        compare(**kwargs)


def test_compare_takes_options_by_keyword_only():
    with pytest.raises(TypeError):
        compare([0.9, 0.8], [0.8, 0.7], "greater")


@pytest.mark.parametrize("outcome, claimed, agrees", [
    ("supported", "greater", True), ("supported", "less", True),
    ("contradicted", "greater", False), ("no difference", "greater", False),
    ("inconclusive", "less", False),
    ("no difference", "equal", True), ("contradicted", "equal", False),
    ("inconclusive", "equal", False),
])
def test_agrees(outcome, claimed, agrees):
    assert _comparison(outcome, claimed).agrees is agrees


def test_comparison_is_frozen_and_checks_its_labels():
    c = _comparison("supported")
    with pytest.raises(AttributeError):
        c.outcome = "contradicted"  # type: ignore[misc]
    with pytest.raises(ValueError, match="outcome"):
        _comparison("maybe")
    with pytest.raises(ValueError, match="claimed"):
        _comparison("supported", claimed="bigger")


def test_text_formatting():
    c = Comparison(name="x", n=20, mean=0.025, sd=0.06, low=-0.004, high=0.054, margin=0.01,
                   claimed="greater", outcome="inconclusive", confidence=0.95)
    assert c.text() == f"+0.025 (95 % CI {MINUS}0.004 to +0.054, 20 seeds): inconclusive"
    assert "-" not in c.text()  # a true minus sign, not a hyphen
    # a value that rounds to zero carries no sign
    assert c.text(digits=1) == "0.0 (95 % CI 0.0 to +0.1, 20 seeds): inconclusive"
    negative = Comparison(name="", n=25, mean=-0.0312, sd=0.01, low=-0.0356, high=-0.0268,
                          margin=0.01, claimed="greater", outcome="contradicted", confidence=0.9)
    assert negative.text(2) == (f"{MINUS}0.03 (90 % CI {MINUS}0.04 to {MINUS}0.03, 25 seeds): "
                                "contradicted")


def test_text_of_a_real_comparison():
    c = compare([0.92, 0.95, 0.93, 0.96, 0.94], [0.90, 0.91, 0.90, 0.92, 0.91])
    assert c.text() == f"+0.032 (95 % CI +{c.low:.3f} to +{c.high:.3f}, 5 seeds): supported"


@pytest.mark.parametrize("digits, error", [(-1, ValueError), (2.5, TypeError), (None, TypeError),
                                           (13, ValueError)])
def test_text_refuses_bad_digits(digits, error):
    with pytest.raises(error, match="digits"):
        _comparison("supported").text(digits)


# --------------------------------------------------------------------------
# verdict
# --------------------------------------------------------------------------

@pytest.mark.parametrize("outcomes, expected", [
    ([("supported", "greater")], "confirmed"),
    ([("supported", "greater"), ("supported", "less"), ("no difference", "equal")], "confirmed"),
    ([("supported", "greater"), ("contradicted", "greater")], "confirmed with caveats"),
    ([("supported", "greater"), ("no difference", "greater")], "confirmed with caveats"),
    ([("no difference", "equal"), ("contradicted", "equal")], "confirmed with caveats"),
    ([("contradicted", "greater")], "corrected"),
    ([("no difference", "greater")], "corrected"),          # no difference where an effect is claimed
    ([("contradicted", "equal")], "corrected"),             # a real difference where none is claimed
    ([("contradicted", "less"), ("no difference", "greater")], "corrected"),
    ([("inconclusive", "greater")], "unsettled"),
    ([("supported", "greater"), ("inconclusive", "greater")], "unsettled"),
    ([("contradicted", "greater"), ("inconclusive", "equal")], "unsettled"),
])
def test_verdict_mapping(outcomes, expected):
    comparisons = [_comparison(o, c) for o, c in outcomes]
    assert verdict(comparisons) == expected
    assert verdict(tuple(comparisons)) == expected
    assert expected in VERDICTS


def test_verdict_from_real_comparisons():
    b = np.linspace(0.80, 0.90, 20)
    wobble = np.tile([0.004, -0.004], 10)
    up, flat = compare(b + 0.05 + wobble, b), compare(b + wobble / 4, b)
    assert verdict([up]) == "confirmed"
    assert verdict([up, flat]) == "confirmed with caveats"
    assert verdict([flat]) == "corrected"
    assert verdict([up, compare(b + 10 * wobble, b)]) == "unsettled"


@pytest.mark.parametrize("bad, error", [([], ValueError), (None, TypeError), ("ab", TypeError),
                                        ([("supported", "greater")], TypeError), ([3], TypeError)])
def test_verdict_refuses_bad_input(bad, error):
    with pytest.raises(error, match="comparisons"):
        verdict(bad)
