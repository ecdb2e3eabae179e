"""Claim C18: in RNNs gradients can also grow exponentially through time
(exploding gradients); clipping the gradient norm tames them.

Pascanu, Mikolov & Bengio (2013): for a linear recurrence, a spectral radius
below 1 is enough for the gradient to vanish with the lag, and a radius above
1 is needed for it to explode.
"""

from __future__ import annotations

import math

import pytest
import torch

from gradbook.chapters import ch06_exploding_gradients as ch06
from gradbook.models import rnn
from gradbook.data import adding_problem
from gradbook.diagnostics import gradient_through_time
from gradbook.train import train


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_gradient_vanishes_below_radius_one_and_explodes_above(seed):
    T = 50
    x, y = adding_problem(16, T, seed=seed)
    by_lag = {}
    for radius in (0.5, 1.5):
        model = rnn.VanillaRNN(2, 32, 1, "linear", init="gaussian", radius=radius, seed=seed)
        norms = gradient_through_time(model, x, y)
        by_lag[radius] = (norms / norms[-1]).flip(0)  # entry k: lag k, relative to lag 0
    falls, grows = torch.diff(by_lag[0.5]), torch.diff(by_lag[1.5])
    assert torch.all(falls < 0) and by_lag[0.5][T] < 1e-10
    assert torch.all(grows > 0) and by_lag[1.5][T] > 1e6


def test_clipping_keeps_training_finite_where_plain_sgd_diverges():
    # a tanh RNN with spectral radius 2 on the adding problem (T = 50): the
    # gradient through time reaches thousands, and one plain SGD step with
    # lr = 0.3 throws the weights so far that the loss explodes
    x, y = adding_problem(256, 50, seed=1)

    def run(clip):
        model = rnn.VanillaRNN(2, 16, 1, "tanh", radius=2.0, seed=0)
        return train(model, x, y, steps=40, lr=0.3, batch_size=32, clip=clip, seed=0)

    plain, clipped = run(None), run(("norm", 1.0))
    assert plain.diverged and plain.diverged_at < 40
    assert max(plain.grad_norms) > 1e3
    assert not clipped.diverged and clipped.steps == 40
    assert max(clipped.grad_norms) > 1e2  # the gradients still explode, the steps do not
    assert all(math.isfinite(v) for v in clipped.step_loss) and max(clipped.step_loss) < 10


def test_tanh_slopes_take_back_the_growth():
    # chapter 6, experiment 1: at radius 1.5 the linear net's gradient grows by
    # 1.5 per step, the tanh net's still shrinks; tanh grows only at larger radii
    linear = ch06.growth_rate(ch06.lag_profile(1.5, "linear", 100))
    assert linear == pytest.approx(1.5, rel=0.01)
    assert ch06.growth_rate(ch06.lag_profile(1.5, "tanh", 100)) < 1.0
    assert ch06.growth_rate(ch06.lag_profile(3.0, "tanh", 100)) > 1.1
    assert ch06.growth_rate(ch06.lag_profile(0.5, "tanh", 100)) < 0.5  # below the linear rate


def test_descent_is_thrown_off_the_cliff_unless_clipped():
    # chapter 6's static cliff figure: lr 0.1 from the chapter's start
    cliff = ch06.SETTINGS.cliff
    free = ch06.cliff_trajectory(*cliff.start, lr=0.1, steps=100, length=cliff.length)
    clipped = ch06.cliff_trajectory(*cliff.start, lr=0.1, steps=100, length=cliff.length, clip=1.0)
    assert free.grad_norms.max() > 100 and abs(free.params).max() > 12
    assert abs(clipped.params).max() < 10
    assert clipped.losses[-1] < free.losses[-1] - 0.3


def test_clipping_lets_a_large_learning_rate_bridge_longer_lags():
    # chapter 6, experiments 2 and 3 (seed 0, 400 steps, 32 units)
    plain = ch06.adding_run("rnn", 10, lr=0.1, steps=400)
    assert plain.history.diverged and plain.test_mse is None
    assert max(plain.history.grad_norms) > 1e3
    for length in (10, 20):
        assert ch06.adding_run("rnn", length, lr=0.1, steps=400, clip=("norm", 0.1)).learned
    small = {length: ch06.adding_run("rnn", length, lr=0.01, steps=400) for length in (10, 20)}
    assert small[10].learned and not small[20].learned  # a small step is enough only for short lags


def test_c18_comparisons_over_seeds_have_the_chapters_outcomes():
    # the verdict's comparisons (20 seeds, trained as ensembles, gradbook.stats):
    # the linear net's gradient grows, the tanh net's shrinks at radius 1.5 and
    # grows at 3; clipping beats plain SGD at lr 0.1 and a smaller lr at T = 20
    from gradbook.stats import MIN_SEEDS, verdict

    found = ch06.claim_comparisons()["C18"]
    assert all(c.n >= MIN_SEEDS for c in found)
    assert [c.outcome for c in found] == ["supported", "contradicted", "supported", "supported", "supported"]
    assert verdict(found) == ch06.claim_verdicts()["C18"] == "confirmed with caveats"
    plain = ch06.adding_runs("rnn", 10, lr=0.1)
    assert plain.n_diverged > len(ch06.SEEDS) // 2  # most seeds diverge without clipping
    assert ch06.adding_runs("rnn", 10, lr=0.1, clip=("norm", 0.1)).n_diverged == 0
