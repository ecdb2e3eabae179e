"""Claims C1, C11 (and C9) of chapter 1, as the chapter reports them.

C1: the gradient vanishes toward the input in a deep sigmoid net: the first
    hidden layer's ||delta|| is far smaller than the last's, more so the deeper
    the net; with ReLU and He's initialisation the profile stays flat.
C11: with depth, a sigmoid net trained the same way learns less: the first
    layer barely moves and the accuracy collapses.
C9: a deep sigmoid net stalls on a plateau with negative curvature (a saddle
    region), which plain SGD leaves by itself; not in a local minimum.

Each test can fail: the thresholds sit between what the chapter measured and
what the opposite claim would give. Measured values (torch 2.13 CPU) are noted
beside each assertion.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradbook.chapters import ch01_vanishing_gradients as ch01

# --------------------------------------------------------------------------- C1


@pytest.fixture(scope="module")
def sigmoid_profiles():
    """||delta^l|| at initialisation, 5 seeds, 2 to 4 sigmoid hidden layers of 30
    (Nielsen's initialisation and cost, 1,000 training digits)."""
    return {depth: ch01.initial_delta_norms(depth, "sigmoid", "nielsen") for depth in (2, 3, 4)}


def _ratio(profile: np.ndarray) -> float:
    """last/first of the mean over seeds."""
    mean = profile.mean(axis=0)
    return float(mean[-1] / mean[0])


def test_c1_first_layer_gradient_ten_times_smaller_with_four_sigmoid_layers(sigmoid_profiles):
    profile = sigmoid_profiles[4]
    assert profile.shape == (5, 4)
    # measured: mean norms 0.0022, 0.010, 0.054, 0.26; last/first = 120
    assert _ratio(profile) >= 10
    mean = profile.mean(axis=0)
    assert all(a < b for a, b in zip(mean, mean[1:])), "the norm should grow layer by layer"


def test_c1_ratio_grows_with_depth(sigmoid_profiles):
    ratios = [_ratio(sigmoid_profiles[d]) for d in (2, 3, 4)]
    # measured: 5.1 < 25 < 120
    assert ratios[0] < ratios[1] < ratios[2], ratios
    assert ratios[0] > 1


def test_c1_relu_with_he_init_stays_flat():
    profile = ch01.initial_delta_norms(4, "relu", "he")
    ratio = _ratio(profile)
    # measured: 2.0 (the sigmoid net's is 120)
    assert 1 / 10 <= ratio <= 10, ratio


# -------------------------------------------------------------------------- C11


@pytest.fixture(scope="module")
def sweep():
    """1 and 4 hidden sigmoid layers, 2 seeds, 15 epochs at lr 1.0, batch 32."""
    table = ch01.depth_sweep(depths=(1, 4), seeds=(0, 1), epochs=15, lr=1.0)
    return table.groupby("depth").mean(numeric_only=True)


def test_c11_one_hidden_layer_learns(sweep):
    # measured: 0.976
    assert sweep.loc[1, "test accuracy"] > 0.9


def test_c11_four_sigmoid_layers_stay_far_below(sweep):
    # measured: 0.100 (chance) against 0.976
    assert sweep.loc[4, "test accuracy"] <= sweep.loc[1, "test accuracy"] - 0.3


def test_c11_first_layer_barely_moves_in_the_deep_net(sweep):
    # relative weight change of the first layer after 5 epochs;
    # measured: 2.1 (1 layer) against 0.032 (4 layers)
    shallow = sweep.loc[1, "first-layer change (early)"]
    deep = sweep.loc[4, "first-layer change (early)"]
    assert deep < shallow
    assert deep < shallow / 10


def test_c11_gradient_ratio_at_init_tracks_depth(sweep):
    # the same nets' last/first gradient ratio at initialisation
    # (softmax cost here); measured: 1 and 112
    assert sweep.loc[1, "last/first"] == 1.0
    assert sweep.loc[4, "last/first"] >= 10


# --------------------------------------------------------------------------- C9


@pytest.fixture(scope="module")
def plateau():
    """The chapter's four-layer run (60 epochs), with the Hessian measured on
    the plateau only (epochs 10 and 20) to keep the test light; the curvature
    measurement does not change the training."""
    history, curvature = ch01.plateau_run(depth=4, epochs=60, hessian_epochs=(10, 20))
    return history, curvature


def test_c9_training_sits_on_a_plateau_then_leaves_it(plateau):
    history, _ = plateau
    loss = np.array(history.train_loss)
    log10 = math.log(10)
    # epochs 3 to 20: flat at the loss of predicting the class frequencies
    # (measured: 2.304 to 2.328)
    assert np.all(np.abs(loss[3:21] - log10) < 0.05), loss[3:21]
    # SGD leaves it by itself (measured: epoch 27), and goes well below
    below = np.nonzero(loss < log10 - 0.1)[0]
    assert len(below) and 20 < below[0] < 60
    assert loss[-1] < log10 - 1.0  # measured: 0.85
    assert history.test_acc[-1] > 0.4  # measured: 0.59 (chance: 0.1)


def test_c9_plateau_has_negative_curvature(plateau):
    _, curvature = plateau
    assert curvature["epoch"].tolist() == [10, 20]
    # the smallest value is a Rayleigh quotient v^T H v, so a negative one
    # proves a direction of negative curvature: a saddle region, not a minimum
    # (measured: -0.070 and -0.0061, beside largest 0.29 and 0.15)
    assert (curvature["lambda_min"] < 0).all(), curvature
    assert (curvature["lambda_max"] > 0).all()
    # and the gradient there is small (measured: 0.096 and 0.031, 1.4 at epoch 0)
    assert (curvature["grad_norm"] < 0.2).all()
