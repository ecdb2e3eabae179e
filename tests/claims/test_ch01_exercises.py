"""Chapter 1's exercise solutions that state a result: each test runs the
code the solution prints (read from the chapter) and checks what its prose
says of the output. (Solutions 1 and 2 quote glued values of the build.)"""

from __future__ import annotations

import re

import numpy as np

from chapter_solutions import run_solution
from gradbook import stats
from gradbook.chapters import ch01_vanishing_gradients as ch01

CHAPTER = "01_vanishing_gradients.md"


def test_six_layers_follow_the_factor_per_layer():
    (line,), _ = run_solution(CHAPTER, "ex-1-predict")
    measured = float(line[0])
    # "The ratio grows by a roughly constant factor per extra layer, so six
    # layers, five factors, should give about" the prediction from four layers
    ratios = ch01.nielsen_comparison().groupby("hidden layers")["ratio last/first, ours"].first()
    predicted = ratios[4] ** (5 / 3)
    assert 0.5 < measured / predicted < 2
    assert measured > 10 * ratios[4]


def test_random_sigmoid_layers_shrink_the_spread_across_images():
    (line,), _ = run_solution(CHAPTER, "ex-1-frozen")
    # printed: tensor(<pixels>) tensor(<first>, grad_fn=...) tensor(<second>, grad_fn=...)
    pixels, first, second = (float(x) for x in re.findall(r"tensor\(([-0-9.e]+)", " ".join(line)))
    # "Each random layer shrinks the spread across images"
    assert pixels > first > second > 0


def test_relu_with_he_has_no_cliff():
    _, ns = run_solution(CHAPTER, "ex-1-relu")
    sweep = ns["_"]
    depths = sorted(sweep["depth"].unique())
    assert depths == [1, 2, 3, 4, 5]
    # "the gradient ratio stays near 1 at every depth" (measured: 0.58 to 1.6)
    assert sweep["last/first"].between(0.1, 10).all()
    # "every depth trains in the same budget: no cliff" (measured: 0.97 to 0.99)
    acc = {d: sweep.loc[sweep.depth == d, "test accuracy"].to_numpy() for d in depths}
    assert min(a.mean() for a in acc.values()) > 0.95
    # "against one hidden layer, the book's rule finds no difference in test
    # accuracy for two to four layers; with five ... inconclusive"
    outcomes = [stats.compare(acc[d], acc[1], claimed="equal").outcome for d in depths[1:]]
    assert outcomes == ["no difference"] * 3 + ["inconclusive"]
    assert all(len(a) >= stats.MIN_SEEDS for a in acc.values())
    assert np.isfinite(sweep["test accuracy"]).all()
