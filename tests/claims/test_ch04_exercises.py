"""Chapter 4's exercise solutions state results; each test here runs the
solution's own code, as printed in the chapter, and checks what its prose
says. A solution whose code or claim drifts fails here."""

from __future__ import annotations

import re

import numpy as np
import pytest

import chapter_solutions
from gradbook.chapters import ch04_relu_dropout as ch04


def run_solution(label: str) -> list[list[str]]:
    """Run the solution's code as printed; its printed lines, split into words."""
    return chapter_solutions.run_solution("04_relu_dropout.md", label)[0]


def test_he_initialisation_keeps_the_scale_and_half_of_it_decays():
    rows = {(float(s), int(layer)): float(std) for s, layer, std in run_solution("ex-4-he")}
    # the solution: with 2/n the standard deviation keeps its order through 20
    # layers; with 1/n the variance halves per layer, about 2^-10 in sd after 20
    he = [rows[(2.0, layer)] for layer in (5, 10, 15, 20)]
    assert max(he) / min(he) < 3
    decay = rows[(1.0, 20)] / rows[(2.0, 20)]
    assert 2 ** -10 / 3 < decay < 2 ** -10 * 3


def test_batch_norm_hidden_biases_get_no_gradient():
    (line,) = run_solution("ex-4-bnbias")
    norms = [float(x) for x in re.findall(r"[-+0-9.e]+", " ".join(line)) if re.search(r"\d", x)]
    assert norms and max(norms) < 1e-6  # the solution: all below 1e-6 (measured 5e-8 to 2e-7)


@pytest.fixture(scope="module")
def slow():
    return {(int(u), float(p)): (float(train), float(test)) for u, p, train, test in run_solution("ex-4-slow")}


def test_dropout_is_still_fitting_at_400_updates_and_the_difference_shrinks(slow):
    # the exercise: in the dropout figure (400 updates), dropout costs accuracy with all labels
    grid = ch04.dropout_grid(labels=(1438,)).groupby("dropout")["test accuracy"].mean()
    assert grid[0.5] < grid[0.0]
    # the solution: with dropout the training accuracy still rises after 400 updates ...
    assert slow[(1600, 0.5)][0] > slow[(400, 0.5)][0]
    # ... and with more updates the difference in test accuracy shrinks
    assert abs(slow[(1600, 0.5)][1] - slow[(1600, 0.0)][1]) < abs(slow[(400, 0.5)][1] - slow[(400, 0.0)][1])


def test_random_labels_take_longer_to_fit_by_a_small_factor():
    updates = {words[0]: int(words[1]) for words in run_solution("ex-4-random")}
    true, random = updates["False"], updates["True"]
    # the solution: true labels within about a hundred updates, random ones within several hundred
    assert 0 < true < 200
    assert 200 <= random < 1000
    assert np.isfinite(random / true)
