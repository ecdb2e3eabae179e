"""Claims C10 (the CNN half), C16 and C17: what chapter 5 reports.

- C10: CNNs reduce the number of parameters. LeNet-5 as LeCun et al. (1998)
  describe it has 60,000 trainable parameters; weight sharing is what keeps
  it there (an exact count). On the 8x8 digits the saving against an MLP
  does not show: the CNN is not shown more accurate than an MLP with fewer
  parameters, and 20 seeds leave it open (unsettled).
- C16: CNNs train from scratch by backprop, and their prior is 2-D: a fixed
  pixel shuffle costs the CNN accuracy and leaves the MLP unchanged (for the
  MLP the shuffle is a relabelling of its first-layer weights, exactly); but
  with few labels the CNN is not better than the MLP (confirmed with caveats).
- C17: weight sharing does not cure the vanishing gradient: a deep sigmoid
  CNN's error signal shrinks towards the input as fast as an MLP's (no
  difference on the log ratio, margin a factor of 2); sharing makes each
  weight's gradient larger, at every layer alike (corrected).

The experiments are the chapter's own (same settings, 20 seeds, memoised on
disk and within the session).
"""

from __future__ import annotations

import math

import pytest

from gradbook import stats
from gradbook.chapters import ch05_cnn as ch05
from gradbook.models import cnn


def _ratio(prof, net, column):
    part = prof[prof.net == net][column].to_numpy()
    return part[-1] / part[0]


@pytest.fixture(scope="module")
def comparisons():
    return ch05.claim_comparisons()


def test_every_comparison_rests_on_the_books_seeds(comparisons):
    assert set(comparisons) == {"C10", "C16", "C17"}
    for found in comparisons.values():
        assert all(c.n == len(ch05.SETTINGS.seeds) >= stats.MIN_SEEDS for c in found)


def test_the_verdicts_are_the_rules(comparisons):
    verdicts = ch05.claim_verdicts()
    assert verdicts == {claim: stats.verdict(found) for claim, found in comparisons.items()}
    assert verdicts == {"C10": "unsettled", "C16": "confirmed with caveats", "C17": "corrected"}
    assert ch05.ARGUED == {}


# ------------------------------------------------------------------- C10


def test_c10_lenet5_has_the_papers_60000_parameters_and_sharing_saves_most():
    paper = cnn.lenet5_table("paper").set_index("layer")
    assert paper.loc["total", "parameters"] == 60000  # the paper: 60,000
    assert paper.loc["total", "connections"] == 340908  # the paper: 340,908
    # without sharing, each trainable connection would be its own weight
    unshared = paper.loc["total", "connections"] - paper.loc["output", "connections"]
    assert unshared / paper.loc["total", "parameters"] > 5  # measured 5.67
    # a plain torch rewrite (full C3, parameter-free pooling, linear output)
    plain = cnn.lenet5_table("torch").set_index("layer")
    assert plain.loc["total", "parameters"] == 61706
    assert plain.loc["C3", "parameters"] - paper.loc["C3", "parameters"] == 900


def test_c10_on_8x8_digits_the_cnn_is_not_shown_better_than_a_smaller_mlp(comparisons):
    cap = ch05.capacity_comparison()
    params = cap.groupby(["net", "size"])["parameters"].first()
    S = ch05.SETTINGS
    # the MLP of fewer_width units is the widest of the grid with fewer parameters than the CNN
    assert params["MLP", S.fewer_width] < params["CNN", S.cnn_channels] == 1898
    assert all(params["MLP", w] > params["CNN", S.cnn_channels] for w in S.mlp_widths if w > S.fewer_width)
    few, every = comparisons["C10"]
    assert (few.claimed, every.claimed) == ("greater", "greater")
    # measured: +0.002 (-0.015 to +0.019) with 50 labels, +0.008 (-0.002 to +0.018) with all
    assert few.outcome == every.outcome == "inconclusive"
    assert abs(few.mean) < 0.02 and abs(every.mean) < 0.02


# ------------------------------------------------------------------- C16


def test_c16_cnn_trains_from_scratch_by_backprop(comparisons):
    sweep = ch05.label_sweep()
    mean = sweep.groupby(["net", "pixels", "labels"])["test accuracy"].mean()
    assert mean["CNN", "original", 1438] > 0.96  # measured 0.980, no pretraining
    assert mean["CNN", "original", 50] > 0.75  # measured 0.83 with 50 labels
    reference = comparisons["C16"][0]
    # against the 5.0 % error of LeCun et al. 1989: measured +0.030 (+0.025 to +0.035)
    assert reference.claimed == "greater" and reference.outcome == "supported"


def test_c16_pixel_shuffle_costs_the_cnn_not_the_mlp(comparisons):
    k = len(ch05.SETTINGS.label_budgets)
    cnn_cost, mlp_cost = comparisons["C16"][1:1 + k], comparisons["C16"][1 + k:1 + 2 * k]
    # measured -0.046, -0.037, -0.020 (50, 200, all labels): every interval below zero
    assert [c.outcome for c in cnn_cost] == ["supported"] * k
    assert all(c.claimed == "less" and c.high < 0 for c in cnn_cost)
    # measured +0.004, -0.001, 0.000: every interval inside +-0.01
    assert [c.outcome for c in mlp_cost] == ["no difference"] * k
    assert all(c.claimed == "equal" and -c.margin <= c.low and c.high <= c.margin for c in mlp_cost)


def test_c16_with_few_labels_the_cnn_is_not_better_than_the_mlp(comparisons):
    few = comparisons["C16"][-1]
    assert few.claimed == "greater"
    assert few.outcome == "contradicted"  # measured -0.025 (-0.039 to -0.010): the MLP is better


def test_c16_for_the_mlp_the_shuffle_is_a_relabelling():
    check = ch05.permutation_check()
    assert check["max_loss_gap"] < 1e-5  # measured 2.4e-7 (float32 summation order)
    assert check["mlp_twin"].test_acc == check["mlp"].test_acc


# ------------------------------------------------------------------- C17


def test_c17_weight_sharing_does_not_stop_the_sigmoid_gradient_vanishing(comparisons):
    prof = ch05.sharing_profile(ch05.SETTINGS.depth, "sigmoid")
    cnn_delta, mlp_delta = _ratio(prof, "CNN", "delta rms"), _ratio(prof, "MLP", "delta rms")
    assert cnn_delta > 300 and mlp_delta > 300  # the mean of 20 seeds' profiles: thousands
    # the per-weight gradient falls as much as the error signal does
    assert _ratio(prof, "CNN", "weight grad rms") > 300
    delta, wgrad = comparisons["C17"]
    assert delta.margin == wgrad.margin == pytest.approx(math.log10(2))
    assert (delta.claimed, wgrad.claimed) == ("less", "less")
    # measured: log10 ratio CNN - MLP +0.142 (+0.055 to +0.230) and +0.105 (-0.024 to +0.234)
    assert delta.outcome == wgrad.outcome == "no difference"
    assert delta.mean > 0  # if anything the CNN's ratio is the larger


def test_c17_sharing_sums_over_positions_so_each_weight_gets_more():
    prof = ch05.sharing_profile(ch05.SETTINGS.depth, "sigmoid").set_index(["net", "layer"])
    gains = []
    for layer in range(1, ch05.SETTINGS.depth + 1):  # every hidden layer, as the chapter reports
        assert prof.loc[("CNN", layer), "terms per weight"] == 64 * prof.loc[("MLP", layer), "terms per weight"]
        gains.append(prof.loc[("CNN", layer), "weight grad rms"] / prof.loc[("MLP", layer), "weight grad rms"])
    assert min(gains) > 2  # measured 2.4 to 3.4 (20 seeds)
    assert max(gains) / min(gains) < 2  # a similar factor at every layer: the slope is left alone


def test_c17_relu_keeps_both_profiles_flat():
    prof = ch05.sharing_profile(6, "relu")
    for net in ("CNN", "MLP"):
        assert 0.3 < _ratio(prof, net, "delta rms") < 3  # measured 1.25 and 1.07


def test_c17_the_gap_survives_early_training():
    tp = ch05.training_profiles(6, "sigmoid", epochs=5)
    last = tp[tp.epoch == 5]
    for net in ("CNN", "MLP"):
        part = last[last.net == net]["delta rms"].to_numpy()
        assert part[-1] / part[0] > 300  # measured 3409 (CNN) and 3006 (MLP)
        assert last[last.net == net]["test accuracy"].iloc[0] < 0.2  # both stuck near chance
    relu = ch05.training_profiles(6, "relu", epochs=5)
    assert relu[(relu.epoch == 5)].groupby("net")["test accuracy"].first().min() > 0.6


@pytest.mark.parametrize("depth", [4, 8])
def test_c17_cnn_and_mlp_vanish_at_the_same_rate(depth):
    prof = ch05.sharing_profile(depth, "sigmoid")
    ratio = _ratio(prof, "CNN", "delta rms") / _ratio(prof, "MLP", "delta rms")
    assert 1 / 3 < ratio < 3  # measured 1.18 (depth 4) and 1.36 (depth 8)
