"""Chapter 6's exercise solutions that state a result: each test runs the
code the solution prints (read from the chapter) and checks what its prose
says of the output."""

from __future__ import annotations

import torch

from chapter_solutions import run_solution
from gradbook.chapters import ch06_exploding_gradients as ch06

CHAPTER = "06_exploding_gradients.md"


def test_a_non_normal_matrix_with_radius_below_one_first_amplifies():
    _, ns = run_solution(CHAPTER, "ex-6-nonnormal")
    norms = ns["norms"]  # entry k: the norm at lag k
    # "The norm first grows, to about 19 at a lag of 9"
    assert int(norms.argmax()) == 9
    assert 18.5 < float(norms.max()) < 19.5
    # "only then decays, by a factor per step that approaches 0.9 from above
    # (still about 0.92 at lags 40 to 60)"
    tail = norms[40:] / norms[39:-1]
    assert (tail > 0.9).all() and (tail[1:] < tail[:-1]).all()
    assert 0.915 < float(tail.min()) and float(tail.max()) < 0.925
    # "at a lag of 60 it is still about 0.6"
    assert 0.55 < float(norms[60]) < 0.65
    # "the largest singular value (here about 5.2)"
    assert 5.15 < float(torch.linalg.svdvals(ns["W"])[0]) < 5.25
    assert float(torch.linalg.eigvals(ns["W"]).abs().max()) == 0.8999999761581421  # radius 0.9 (float32)


def test_clipping_by_value_turns_the_step_and_by_norm_does_not():
    lines, _ = run_solution(CHAPTER, "ex-6-direction")
    assert lines[0][:2] == ["tensor([0.9999,", "0.0100])"]
    assert lines[1][:2] == ["tensor([1.,", "1.])"]


def test_other_seeds_keep_the_chapters_conclusions():
    lines, _ = run_solution(CHAPTER, "ex-6-seeds")
    runs = {(int(w[0]), " ".join(w[1:-2])): (w[-2], w[-1]) for w in lines}
    seeds = sorted({seed for seed, _ in runs})
    assert seeds == [1, 2]
    mse = {key: None if value == "None" else float(value) for key, (_, value) in runs.items()}
    for seed in seeds:
        # "plain SGD diverges" (these seeds too)
        assert runs[seed, "plain"][0] != "None" and mse[seed, "plain"] is None
        # "a norm threshold of 10 does not save the run (its test error ends far above 1/6)"
        assert mse[seed, "norm 10"] is None or mse[seed, "norm 10"] > 10 * ch06.ADDING_BASELINE
        # "thresholds of 0.1 by norm and 0.01 by value learn the task for every seed"
        assert mse[seed, "norm 0.1"] < ch06.ADDING_ONE_VALUE
        assert mse[seed, "value 0.01"] < ch06.ADDING_ONE_VALUE
    # "The ranking between a small norm threshold and a small value threshold
    # changes from seed to seed"
    better = [mse[seed, "norm 0.1"] < mse[seed, "value 0.01"] for seed in seeds]
    assert len(set(better)) == 2
    # and the glued count of the twenty-seed section: most seeds diverge
    assert ch06.adding_runs("rnn", 10, lr=0.1).n_diverged > len(ch06.SEEDS) // 2
