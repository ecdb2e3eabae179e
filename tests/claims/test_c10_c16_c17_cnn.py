"""Claims C10 (the CNN half), C16 and C17: what chapter 5 reports.

- C10: CNNs reduce the number of parameters. LeNet-5 as LeCun et al. (1998)
  describe it has 60,000 trainable parameters; weight sharing is what keeps
  it there. On the 8x8 digits the saving against an MLP does not show.
- C16: CNNs train from scratch by backprop, and their prior is 2-D: a fixed
  pixel shuffle costs the CNN accuracy and leaves the MLP unchanged (for the
  MLP the shuffle is a relabelling of its first-layer weights, exactly).
- C17: weight sharing does not cure the vanishing gradient: a deep sigmoid
  CNN's error signal shrinks towards the input as fast as an MLP's; sharing
  makes each weight's gradient larger, at every layer alike.

The experiments are the chapter's own (same settings, memoised within the
session).
"""

from __future__ import annotations

import pytest

from gradbook.chapters import ch05_cnn as ch05
from gradbook.models import cnn


def _ratio(prof, net, column):
    part = prof[prof.net == net][column].to_numpy()
    return part[-1] / part[0]


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


def test_c10_on_8x8_digits_the_cnn_saves_no_parameters():
    cap = ch05.capacity_comparison()
    acc = cap.groupby(["net", "size"])["test accuracy"].mean()
    params = cap.groupby(["net", "size"])["parameters"].first()
    # the smallest MLP (610 parameters) is within 3 points of the CNN (1,898)
    assert params["MLP", 8] < params["CNN", 8] / 3
    assert acc["CNN", 8] - acc["MLP", 8] < 0.03  # measured 0.011 (0.978 vs 0.967)
    # and an MLP with fewer parameters than the CNN does at least as well
    assert params["MLP", 16] < params["CNN", 8]
    assert acc["MLP", 16] >= acc["CNN", 8] - 0.005  # measured 0.986 vs 0.978


# ------------------------------------------------------------------- C16


def test_c16_cnn_trains_from_scratch_by_backprop():
    sweep = ch05.label_sweep()
    mean = sweep.groupby(["net", "pixels", "labels"])["test accuracy"].mean()
    assert mean["CNN", "original", 1438] > 0.96  # measured 0.978, no pretraining
    assert mean["CNN", "original", 50] > 0.75  # measured 0.852 with 50 labels


def test_c16_pixel_shuffle_costs_the_cnn_not_the_mlp():
    sweep = ch05.label_sweep()
    mean = sweep.groupby(["net", "pixels"])["test accuracy"].mean()
    cnn_drop = mean["CNN", "original"] - mean["CNN", "shuffled"]
    mlp_drop = mean["MLP", "original"] - mean["MLP", "shuffled"]
    assert cnn_drop > 0.015  # measured 0.035 (mean over 3 label counts x 2 seeds)
    assert abs(mlp_drop) < 0.015  # measured -0.003: fresh inits, same distribution
    assert cnn_drop > mlp_drop + 0.02


def test_c16_for_the_mlp_the_shuffle_is_a_relabelling():
    check = ch05.permutation_check()
    assert check["max_loss_gap"] < 1e-5  # measured 2.4e-7 (float32 summation order)
    assert check["mlp_twin"].test_acc == check["mlp"].test_acc


# ------------------------------------------------------------------- C17


def test_c17_weight_sharing_does_not_stop_the_sigmoid_gradient_vanishing():
    prof = ch05.sharing_profile(6, "sigmoid")
    cnn_delta, mlp_delta = _ratio(prof, "CNN", "delta rms"), _ratio(prof, "MLP", "delta rms")
    assert cnn_delta > 300 and mlp_delta > 300  # measured 3607 and 3302
    assert cnn_delta > mlp_delta / 3  # the CNN is no better than the MLP
    # the per-weight gradient falls as much as the error signal does
    assert _ratio(prof, "CNN", "weight grad rms") > 300  # measured 7539


def test_c17_sharing_sums_over_positions_so_each_weight_gets_more():
    prof = ch05.sharing_profile(6, "sigmoid").set_index(["net", "layer"])
    for layer in range(2, 7):  # layer 1 of the CNN reads the 1-channel image
        assert prof.loc[("CNN", layer), "terms per weight"] == 64 * prof.loc[("MLP", layer), "terms per weight"]
        gain = prof.loc[("CNN", layer), "weight grad rms"] / prof.loc[("MLP", layer), "weight grad rms"]
        assert gain > 2  # measured 4.1 to 4.9


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
