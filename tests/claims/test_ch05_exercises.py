"""Chapter 5's exercise solutions state results; each test here runs the
solution's own code, as printed in the chapter, and checks what its prose
says. A solution whose code or claim drifts fails here."""

from __future__ import annotations

import chapter_solutions


def run_solution(label: str) -> list[list[str]]:
    """Run the solution's code as printed; its printed lines, split into words."""
    return chapter_solutions.run_solution("05_cnn.md", label)[0]


def test_the_conv_layer_count_and_its_dense_equivalent():
    (line,) = run_solution("ex-5-count")
    params, side, dense, factor = (int(w) for w in line)
    # the solution: 4,640 parameters, output 32 x 10 x 10, fully connected
    # 5,123,200, over a thousand times more
    assert params == 32 * (16 * 9 + 1) == 4640
    assert side == 10
    assert dense == 5_123_200
    assert factor > 1000


def test_a_kernel_as_large_as_the_image_is_blind_to_the_shuffle():
    (line,) = run_solution("ex-5-shuffle-cnn")
    height, width, gap = int(line[0]), int(line[1]), float(line[2])
    assert (height, width) == (1, 1)  # the solution: one position
    assert gap < 1e-5  # a relabelling of its weights, up to float32 rounding


def test_more_positions_mean_more_terms_per_weight():
    lenet, small = run_solution("ex-5-pooling")
    assert [int(w) for w in lenet[-2:]] == [784, 100]  # the exercise: C1 784 positions per map, C3 100
    first, second = (int(w) for w in small[-2:])
    assert (first, second) == (100 * 64, 100 * 16)  # pooling: the second layer sees a quarter
    assert first > second


def test_tanh_profiles_are_nearly_flat_and_sigmoid_falls_by_about_five_per_layer():
    found = {(a, net): (float(ratio), float(per_layer)) for a, net, ratio, per_layer in run_solution("ex-5-tanh")}
    for net in ("CNN", "MLP"):
        ratio, per_layer = found["tanh", net]
        assert 1 < ratio < 3  # the solution: a factor of about two in all over eight layers
        assert per_layer < 1.2  # about 1.1 per layer
        assert 4 < found["sigmoid", net][1] < 6  # the sigmoid's: about five per layer
