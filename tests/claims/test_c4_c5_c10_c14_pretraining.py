"""Claims C4, C5, C7, C10, C14 and C15 of chapter 3 (greedy layer-wise pretraining).

The chapter's experiments (``gradbook.chapters.ch03_pretraining`` with its ``SETTINGS``: a
64-100-100-10 net, stacks pretrained once per seed on the 1,438 training
digits, fine-tuned with 50, 300 and 1,438 labels, 20 seeds paired by seed,
every arm's learning rate tuned on a validation split) are judged by the
book's rule (gradbook.stats: 95 % t interval of the paired differences,
margin 0.01). The tests assert each comparison's outcome, so a verdict cannot
change without a test failing:

- C4 (unsettled): DBN initialisation beats the 2006-style small Gaussian start
  at every budget and Glorot's with 50 and 300 labels; against Glorot with all
  labels the interval reaches below zero (inconclusive).
- C5 (corrected): the linear probe on the DBN's top layer is worse than on
  the pixels and than on its own first layer.
- C7 (confirmed with caveats, argued): the one greedy loop trains DBN, SAE,
  DAE and CAE stacks, each stage improving its own objective.
- C10 (confirmed): SAE and DAE beat both baselines with 50 labels, and the
  SAE beats its own untrained start.
- C14 (confirmed): the DAE beats Glorot with 50 labels; with all labels the
  ReLU net from scratch shows no difference from the DAE.
- C15 (confirmed, argued): DBN samples lie as close to the training images as
  test digits do and cover most classes.

Measured values (torch CPU, one thread) are noted beside each assertion.
"""

from __future__ import annotations

import pytest

from gradbook import stats
from gradbook.chapters import ch03_pretraining as ch03
from gradbook.diagnostics import bias_gradient_norms


@pytest.fixture(scope="module")
def comparisons():
    return ch03.claim_comparisons()


def outcomes(found):
    return {f"{c.name} vs {c.baseline}": c.outcome for c in found}


def test_every_comparison_rests_on_enough_seeds(comparisons):
    assert set(comparisons) == {"C4", "C5", "C10", "C14"}
    for found in comparisons.values():
        for c in found:
            assert c.n >= stats.MIN_SEEDS, c.name


def test_the_verdicts_follow_the_rule_and_cover_every_claim_check():
    verdicts = ch03.claim_verdicts()
    assert verdicts == {"C4": "unsettled", "C5": "corrected", "C7": "confirmed with caveats",
                        "C10": "confirmed", "C14": "confirmed", "C15": "confirmed"}
    assert set(ch03.ARGUED) == {"C7", "C15"}


def test_every_arm_is_tuned_from_the_same_grid_on_its_own_seeds():
    assert not set(ch03._tuning_seeds()) & set(ch03.SETTINGS.seeds)
    for n in ch03.SETTINGS.budgets:
        for arm in ch03.ARMS:
            lr, table = ch03.tuned_lr(arm, n)
            assert list(table["lr"]) == list(ch03.SETTINGS.lr_grid)
            assert lr == table.loc[table["validation accuracy"].idxmax(), "lr"]
            assert {r.lr for r in ch03.finetune_runs(arm, n)} == {lr}


# --------------------------------------------------------------------- C4


def test_c4_dbn_helps_against_the_old_baseline_and_with_few_labels_against_glorot(comparisons):
    # measured (20 seeds): vs small Gaussian +0.034 (50), +0.073 (300), +0.010 (CI 0.000 to
    # +0.020, 1438); vs Glorot +0.021 (CI +0.008 to +0.035, 50), +0.044 (300), +0.007 (CI -0.002
    # to +0.015, 1438). With three seeds the chapter once called the 50-label gain noise.
    assert outcomes(comparisons["C4"]) == {
        "DBN, 50 labels vs small Gaussian, 50 labels": "supported",
        "DBN, 300 labels vs small Gaussian, 300 labels": "supported",
        "DBN, 1438 labels vs small Gaussian, 1438 labels": "supported",
        "DBN, 50 labels vs Glorot, 50 labels": "supported",
        "DBN, 300 labels vs Glorot, 300 labels": "supported",
        "DBN, 1438 labels vs Glorot, 1438 labels": "inconclusive",
    }
    assert stats.verdict(comparisons["C4"]) == "unsettled"


# --------------------------------------------------------------------- C5


def test_c5_the_dbn_top_layer_is_less_linearly_separable(comparisons):
    # measured: top layer - pixels -0.104 (50 labels), -0.094 (all);
    # top layer - first layer -0.086, -0.020
    assert set(outcomes(comparisons["C5"]).values()) == {"contradicted"}
    assert len(comparisons["C5"]) == 4
    assert stats.verdict(comparisons["C5"]) == "corrected"


def test_c5_the_sae_keeps_what_the_pixels_offer():
    probes = ch03.layer_probes(seeds=(0,))
    acc = probes.pivot_table(index=["representation", "layer"], columns="labels",
                             values="probe accuracy")
    # measured 0.981 against 0.983 with all labels
    assert acc.loc[("SAE", 2), 1438] > acc.loc[("pixels", 0), 1438] - 0.01


# --------------------------------------------------------------------- C10


def test_c10_autoencoder_pretraining_beats_both_baselines_and_its_own_start(comparisons):
    # measured with 50 labels: SAE +0.053 / +0.040, DAE +0.053 / +0.041 (small Gaussian /
    # Glorot); SAE - untrained AE +0.015 (CI +0.008 to +0.022)
    assert set(outcomes(comparisons["C10"]).values()) == {"supported"}
    assert len(comparisons["C10"]) == 5
    assert stats.verdict(comparisons["C10"]) == "confirmed"


@pytest.fixture(scope="module")
def start():
    table = ch03.start_gradients()
    ratio = table.pivot_table(index="method", columns="layer", values="gradient norm")
    saturated = table[table.layer == 1].groupby("method")["saturated"].mean()
    return ratio[2] / ratio[1], saturated


def test_c10_pretraining_does_not_fix_the_gradient_profile(start):
    ratio, saturated = start
    # layer 2 / layer 1 at the start of fine-tuning (20 seeds); measured: random 4.3,
    # DBN 6.0, SAE 1.36, untrained control 1.39, ReLU 0.94
    assert ratio["DBN"] > ratio["random"]
    assert abs(ratio["SAE"] - ratio["untrained AE"]) < 0.3
    assert ratio["ReLU"] < 1.2
    # measured: 78 % of the DBN's first-layer units saturated, none at random init
    assert saturated["DBN"] > 0.5 and saturated["random"] < 0.01


# --------------------------------------------------------------------- C14


def test_c14_denoising_helps_with_few_labels_and_relu_matches_it_with_all(comparisons):
    # measured: DAE - Glorot +0.041 (50 labels); ReLU - DAE +0.003 (CI -0.001 to +0.007, 1438)
    assert outcomes(comparisons["C14"]) == {
        "DAE, 50 labels vs Glorot, 50 labels": "supported",
        "ReLU, 1438 labels vs DAE, 1438 labels": "no difference",
    }
    assert stats.verdict(comparisons["C14"]) == "confirmed"


def test_c14_pretraining_has_a_cost_before_any_label_is_used():
    grid = ch03.budget_grid(budgets=(50,))
    pretrained = grid[grid.method.isin(ch03.PRETRAINED)]
    assert (pretrained["pretrain seconds"] > 0).all()
    assert (grid[~grid.method.isin(ch03.PRETRAINED)]["pretrain seconds"] == 0).all()


def test_c14_heavy_corruption_hurts():
    sweep = ch03.corruption_sweep()
    by_level = {level: part.sort_values("seed")["test accuracy"] for level, part in sweep.groupby("corruption")}
    # measured with 50 labels: 30 % - none +0.001 (no difference), 60 % - none -0.021
    assert stats.compare(by_level[0.3], by_level[0.0]).outcome == "no difference"
    assert stats.compare(by_level[0.6], by_level[0.0]).outcome == "contradicted"


# --------------------------------------------------------------------- C7


@pytest.mark.parametrize("method", ["DBN", "SAE", "DAE", "CAE"])
def test_c7_every_greedy_stage_improves_its_own_objective(method):
    stack = ch03.pretrained(method, 0)
    assert stack.n_layers_ == 2
    for history in stack.history_:
        if method == "DBN":  # pseudo-likelihood, higher is better; measured -44 to -17
            assert history["pseudo_likelihood"][-1] > history["pseudo_likelihood"][0] + 10
        else:  # reconstruction objective, lower is better; measured 81 to 19 (DAE)
            assert history["loss"][-1] < 0.5 * history["loss"][0]


# --------------------------------------------------------------------- C15


def test_c15_dbn_samples_look_like_digits():
    quality = ch03.sample_quality(ch03.pretrained("DBN", 0))
    near = quality["nearest training image"]
    # measured: 1.10 after 1,000 steps, 1.07 for test digits, 1.52 for the
    # independent-pixel model
    assert near["DBN, 1000 Gibbs steps"] < 1.15 * near["test images"]
    assert near["DBN, 1000 Gibbs steps"] < 0.8 * near["independent pixels"]
    assert near["DBN, 1 Gibbs steps"] > near["DBN, 1000 Gibbs steps"]
    assert quality.loc["DBN, 1000 Gibbs steps", "classes"] >= 8  # measured 10


# --------------------------------------------------------------------- exercises


def test_exercise_deeper_solution():
    # the solution of ex-3-deeper, run as written; measured last/first with four layers:
    # random 76, small Gaussian 75, DBN 11, SAE 2.1, DAE 2.9, untrained AE 3.6, ReLU 1.3
    norms = ch03.start_gradients(seeds=(0,), hidden=(100,) * 4)
    table = norms.pivot_table(index="method", columns="layer", values="gradient norm")
    ratio = table[4] / table[1]
    assert ratio["random"] > 10
    assert ratio["DBN"] < ratio["random"] / 2
    for stack in ("SAE", "DAE"):
        assert ratio[stack] < ratio["random"] / 5
        assert 0.5 < ratio["untrained AE"] / ratio[stack] < 2
    assert 0.5 < ratio["ReLU"] < 2


def test_exercise_control_solution():
    # ex-3-control: an untrained DBN's first layer gets about a tenth of Glorot's gradient
    # (measured 0.0016 against 0.018)
    from gradbook.data import digits_split
    from gradbook.models.stacks import DBN

    X, _, y, _ = digits_split()
    untrained = DBN(n_iter=0, random_state=0, progress=False).fit(X)
    first = bias_gradient_norms(untrained.to_mlp(10, seed=0), X, y)[0]
    glorot = bias_gradient_norms(ch03.initial_net("random", 0), X, y)[0]
    assert first < 0.2 * glorot
