"""Claims C1, C11 and C9 of chapter 1, as the chapter reports them.

C1 (confirmed): the gradient vanishes toward the input in a deep sigmoid
    net. Per seed, log10 of the last hidden layer's ||delta|| exceeds the
    first's by more than log10(2) at initialisation with 2, 3 and 4 hidden
    layers and after Nielsen's training with 4, and the gap grows with depth.
    With ReLU and He's initialisation the profile stays flat; Nielsen's
    published norms and ratios lie within the range of our seeds.
C11 (confirmed): two hidden layers against one, no difference in test
    accuracy or in the first layer's early learning; five against one, a
    collapse of both.
C9 (corrected): the deep sigmoid nets stall on a plateau with negative
    curvature (a saddle region) that plain SGD leaves by itself; not in a
    local minimum.

The verdicts follow from gradbook.stats (paired over 20 seeds, 95 % t
interval); the tests assert each comparison's outcome, so a verdict cannot
change without a test failing. Measured values (torch 2.13 CPU, one thread)
are noted beside the assertions.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradbook import stats
from gradbook.chapters import ch01_vanishing_gradients as ch01


@pytest.fixture(scope="module")
def comparisons():
    return ch01.claim_comparisons()


def _outcomes(found):
    return [c.outcome for c in found]


def test_every_comparison_rests_on_enough_seeds(comparisons):
    assert set(comparisons) == {"C1", "C2", "C9", "C11"}
    for claim, found in comparisons.items():
        for c in found:
            assert c.n >= stats.MIN_SEEDS, (claim, c.name)


def test_the_verdicts(comparisons):
    assert ch01.claim_verdicts() == {"C1": "confirmed", "C2": "confirmed with caveats",
                                     "C9": "corrected", "C11": "confirmed"}
    assert ch01.ARGUED == {}


# --------------------------------------------------------------------------- C1


def test_c1_last_layer_gets_more_gradient_than_the_first(comparisons):
    found = comparisons["C1"]
    # init with 2, 3, 4 layers; 4 layers after training; 4 against 2
    # measured (log10): +0.71, +1.40, +2.08; +2.03; +1.37
    assert _outcomes(found) == ["supported"] * 5
    assert all(c.claimed == "greater" and c.margin == pytest.approx(math.log10(2)) for c in found)
    init = [c.mean for c in found[:3]]
    assert init[0] < init[1] < init[2]
    assert found[2].low > 1.5  # a factor of more than 30 with four layers (measured 121)


def test_c1_nielsens_values_lie_within_our_seeds():
    table = ch01.nielsen_comparison()
    # measured: all 9 norms and all 3 ratios inside our 20 seeds' range
    assert table["Nielsen within our range"].all()
    assert table["Nielsen's ratio within our range"].all()


def test_c1_relu_with_he_init_stays_flat():
    profile = ch01.initial_delta_norms(4, "relu", "he")
    mean = profile.mean(axis=0)
    # measured: about 2 (the sigmoid net's is 115)
    assert 1 / 10 <= mean[-1] / mean[0] <= 10


# -------------------------------------------------------------------------- C11


def test_c11_shallow_nets_hardly_feel_it_and_deep_ones_collapse(comparisons):
    acc_two, speed_two, acc_most, speed_most = comparisons["C11"]
    # measured: +0.001 [-0.002, +0.004]; log10 -0.136 [-0.141, -0.130]
    assert acc_two.claimed == "equal" and acc_two.outcome == "no difference"
    assert speed_two.claimed == "equal" and speed_two.outcome == "no difference"
    # measured: -0.887 [-0.889, -0.886]; log10 -2.54 [-2.59, -2.48]
    assert acc_most.claimed == "less" and acc_most.outcome == "supported"
    assert speed_most.claimed == "less" and speed_most.outcome == "supported"


def test_c11_the_cliff_moves_with_the_budget():
    sweep = ch01.depth_sweep().groupby("depth").mean(numeric_only=True)
    # four layers: 0.239 after 30 epochs, 0.949 after 90; five: chance at both
    assert sweep.loc[4, "short-budget test accuracy"] < 0.5 < sweep.loc[4, "test accuracy"]
    assert sweep.loc[5, "test accuracy"] < 0.2
    assert sweep.loc[1, "test accuracy"] > 0.95
    # the first layer's early change falls at every step of depth
    change = sweep["first-layer change (early)"].to_numpy()
    assert np.all(np.diff(change) < 0)


# --------------------------------------------------------------------------- C9


def test_c9_not_trapped(comparisons):
    loss, curvature = comparisons["C9"]
    # final training loss against log 10: measured -2.18 [-2.25, -2.12]
    assert loss.claimed == "equal" and loss.outcome == "contradicted"
    # smallest Hessian eigenvalue against 0: measured -0.019 [-0.027, -0.011]
    assert curvature.claimed == "greater" and curvature.outcome == "contradicted"


def test_c9_every_net_sits_on_a_saddle_plateau_and_leaves_it():
    histories, curvature = ch01.plateau_run()
    at = curvature[curvature.epoch == ch01.SETTINGS.plateau.hessian_epochs[0]]
    assert len(at) == len(histories) == 20
    # a negative Rayleigh quotient proves a direction of negative curvature
    assert at["on plateau"].all() and (at["lambda_min"] < 0).all() and (at["lambda_max"] > 0).all()
    assert (at["grad_norm"] < 0.2).all()  # measured: at most 0.096
    escape = np.array([ch01.escape_epoch(h) for h in histories])
    # measured: every net leaves, between epochs 12 and 56
    assert np.isfinite(escape).all() and (escape > at["epoch"].iloc[0]).all()
