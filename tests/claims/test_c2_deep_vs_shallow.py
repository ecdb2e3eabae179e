"""Claim C2 of chapter 1: a deep sigmoid net trained from random initialisation
ends up no better than the shallow net of its last layers.

The chapter's experiment (``gradbook.chapters.ch01_vanishing_gradients.freeze_comparison`` with three
hidden layers of 30, three seeds, 30 epochs, lr 1.0, batch 32) compares:

- deep: every layer trained;
- frozen: the same net with its first two layers frozen at their random values;
- shallow: one hidden layer on the pixels.

It reports: the deep net is no better than the shallow one and slower to get
going; early on its first layer moves far less than its output layer; but the
first layers do learn in the end, since freezing them at random init ruins the
net ("like the shallow net" describes the result, not the mechanism).

Measured values (torch 2.13 CPU) are noted beside each assertion.
"""

from __future__ import annotations

import pytest

from gradbook.chapters import ch01_vanishing_gradients as ch01

SEEDS = (0, 1, 2)
EPOCHS = 30


@pytest.fixture(scope="module")
def comparison():
    results, changes = ch01.freeze_comparison(depth=3, seeds=SEEDS, epochs=EPOCHS)
    summary = results.groupby("variant")[["test accuracy", "epoch to 50%"]].mean()
    return results, changes, summary


def test_c2_every_run_is_there(comparison):
    results, _, _ = comparison
    assert len(results) == 3 * len(SEEDS)
    assert sorted(results["variant"].unique()) == ["deep", "frozen", "shallow"]


def test_c2_shallow_net_is_at_least_as_good_as_the_deep_net(comparison):
    _, _, summary = comparison
    deep = summary.loc["deep", "test accuracy"]
    shallow = summary.loc["shallow", "test accuracy"]
    # measured: shallow 0.985, deep 0.967; both learn
    assert shallow >= deep
    assert deep > 0.9


def test_c2_deep_net_is_slower_to_get_going(comparison):
    _, _, summary = comparison
    # epochs to 50 % test accuracy; measured: deep 12.3, shallow 1.0
    assert summary.loc["shallow", "epoch to 50%"] <= 2
    assert summary.loc["deep", "epoch to 50%"] >= summary.loc["shallow", "epoch to 50%"] + 3


def test_c2_freezing_the_first_layers_at_random_init_ruins_the_net(comparison):
    results, _, summary = comparison
    frozen = summary.loc["frozen", "test accuracy"]
    # measured: frozen 0.099 (chance is 0.1), against 0.967 and 0.985
    assert frozen <= min(summary.loc["deep", "test accuracy"],
                         summary.loc["shallow", "test accuracy"]) - 0.5
    # per seed too: no frozen run comes near a deep or shallow run
    best_frozen = results.loc[results["variant"] == "frozen", "test accuracy"].max()
    worst_other = results.loc[results["variant"] != "frozen", "test accuracy"].min()
    assert best_frozen < worst_other - 0.5


def test_c2_frozen_layers_really_stayed_at_their_initial_values(comparison):
    _, changes, _ = comparison
    frozen = changes[changes["variant"] == "frozen"]
    assert (frozen.loc[frozen["layer"] <= 2, "relative change"] == 0.0).all()
    assert (frozen.loc[(frozen["layer"] > 2) & (frozen["epoch"] > 0), "relative change"] > 0).all()


def test_c2_deep_net_first_layer_moves_little_early_but_learns_in_the_end(comparison):
    _, changes, _ = comparison
    deep = (changes[changes["variant"] == "deep"]
            .groupby(["epoch", "layer"])["relative change"].mean().unstack())
    first, output = deep.columns[0], deep.columns[-1]
    # after one epoch; measured: first layer 0.032, output layer 0.50
    assert deep.loc[1, first] < deep.loc[1, output] / 5
    # after 30 epochs; measured: first layer 3.3 times its initial size
    assert deep.loc[EPOCHS, first] > 1.0
