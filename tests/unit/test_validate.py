"""gradbook._validate: every bad input gets a ValueError/TypeError whose message
names what was expected; good input comes back unchanged in value."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradbook._validate import (
    as_features,
    as_labels,
    check_choice,
    check_positive_float,
    check_positive_int,
    check_probability,
    check_seed,
)

# ------------------------------------------------------------------ as_features


def test_as_features_returns_float32_tensor_with_same_values():
    X = np.arange(12, dtype=np.float64).reshape(3, 4) / 11
    t = as_features(X)
    assert isinstance(t, torch.Tensor)
    assert t.dtype == torch.float32
    assert t.shape == (3, 4)
    np.testing.assert_allclose(t.numpy(), X, rtol=1e-6)


@pytest.mark.parametrize(
    "X",
    [
        [[0, 1], [1, 0]],
        np.array([[0, 1], [1, 0]], dtype=np.uint8),
        np.array([[True, False]]),
        torch.tensor([[0.5, 0.25]], dtype=torch.float64, requires_grad=True),
        torch.tensor([[1, 2]], dtype=torch.int64),
    ],
)
def test_as_features_accepts_array_likes(X):
    t = as_features(X)
    assert t.dtype == torch.float32 and t.ndim == 2
    assert not t.requires_grad


@pytest.mark.parametrize(
    "X",
    [np.zeros(5), np.zeros((2, 3, 4)), np.float32(1.0), torch.zeros(3)],
    ids=["1-D", "3-D", "scalar", "1-D tensor"],
)
def test_as_features_rejects_wrong_number_of_dimensions(X):
    with pytest.raises(ValueError, match=r"2-D.*\(n_samples, n_features\)"):
        as_features(X, "X")


def test_as_features_names_the_argument_in_messages():
    with pytest.raises(ValueError, match="^X_test must be 2-D"):
        as_features(np.zeros(3), "X_test")


def test_as_features_rejects_empty_unless_allowed():
    with pytest.raises(ValueError, match="empty"):
        as_features(np.zeros((0, 3)))
    t = as_features(np.zeros((0, 3)), allow_empty=True)
    assert t.shape == (0, 3)


def test_as_features_rejects_zero_features():
    with pytest.raises(ValueError, match="0 features"):
        as_features(np.zeros((3, 0)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_as_features_rejects_non_finite(bad):
    X = np.zeros((4, 3))
    X[2, 1] = bad
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        as_features(X)


def test_as_features_checks_feature_count():
    with pytest.raises(ValueError, match="must have 64 features.*got 63"):
        as_features(np.zeros((2, 63)), n_features=64)
    assert as_features(np.zeros((2, 64)), n_features=64).shape == (2, 64)


@pytest.mark.parametrize("bad", [-0.01, 1.01, 255.0])
def test_as_features_unit_interval_is_checked_not_clipped(bad):
    X = np.full((2, 2), 0.5)
    X[0, 0] = bad
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        as_features(X, unit_interval=True)
    # without the flag the same values pass, unchanged
    assert float(as_features(X)[0, 0]) == pytest.approx(bad)


def test_as_features_unit_interval_accepts_bounds():
    X = np.array([[0.0, 1.0], [0.5, 0.25]])
    assert torch.equal(as_features(X, unit_interval=True), torch.tensor(X, dtype=torch.float32))


@pytest.mark.parametrize(
    "X",
    [[["a", "b"]], np.array([[object(), 1]], dtype=object), "text", None],
    ids=["strings", "objects", "str", "None"],
)
def test_as_features_rejects_non_numeric(X):
    with pytest.raises(TypeError, match="numeric array"):
        as_features(X)


def test_as_features_rejects_complex():
    with pytest.raises(TypeError, match="real-valued"):
        as_features(np.ones((2, 2), dtype=complex))


@settings(max_examples=40)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
        elements=st.floats(0, 1),
    )
)
def test_as_features_property_unit_interval_values_pass_unchanged(X):
    t = as_features(X, unit_interval=True, n_features=X.shape[1])
    np.testing.assert_array_equal(t.numpy(), X.astype(np.float32))


@settings(max_examples=40)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
        elements=st.floats(allow_nan=True, allow_infinity=True),
    )
)
def test_as_features_property_rejects_any_non_finite(X):
    # NaN/inf are named as such; finite values beyond float32's range are
    # named as out of range (they would become infinite in the float32 cast)
    with np.errstate(over="ignore"):
        finite32 = np.isfinite(X.astype(np.float32)).all()
    if finite32:
        as_features(X)
    elif not np.isfinite(X).all():
        with pytest.raises(ValueError, match="NaN or infinite"):
            as_features(X)
    else:
        with pytest.raises(ValueError, match="beyond float32's range"):
            as_features(X)


# -------------------------------------------------------------------- as_labels


def test_as_labels_returns_int64():
    t = as_labels(np.array([0, 3, 2], dtype=np.uint8))
    assert t.dtype == torch.int64
    assert t.tolist() == [0, 3, 2]


def test_as_labels_accepts_whole_floats():
    assert as_labels([1.0, 2.0]).tolist() == [1, 2]


def test_as_labels_rejects_fractional_and_nan():
    with pytest.raises(ValueError, match="whole-number"):
        as_labels([1.0, 2.5])
    with pytest.raises(ValueError, match="NaN"):
        as_labels([1.0, float("nan")])


def test_as_labels_rejects_wrong_shape_and_empty():
    with pytest.raises(ValueError, match=r"1-D.*\(n_samples,\)"):
        as_labels(np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match="empty"):
        as_labels(np.array([], dtype=int))


def test_as_labels_rejects_non_numeric():
    with pytest.raises(TypeError, match="integer class labels"):
        as_labels(["cat", "dog"])


def test_as_labels_checks_sample_count_and_range():
    with pytest.raises(ValueError, match="3 labels but X has 4 samples"):
        as_labels([0, 1, 2], n_samples=4)
    with pytest.raises(ValueError, match=">= 0"):
        as_labels([0, -1])
    with pytest.raises(ValueError, match="label 10.*only 10 outputs"):
        as_labels([0, 10], n_classes=10)
    assert as_labels([0, 9], n_samples=2, n_classes=10).tolist() == [0, 9]


# --------------------------------------------------------------- check_* helpers


def test_check_positive_int():
    assert check_positive_int(3, "n") == 3
    assert check_positive_int(np.int64(3), "n") == 3
    assert isinstance(check_positive_int(np.int64(3), "n"), int)
    assert check_positive_int(0, "n", minimum=0) == 0
    with pytest.raises(ValueError, match="n must be an integer >= 1; got 0"):
        check_positive_int(0, "n")
    for bad in (3.0, "3", None, True):
        with pytest.raises(TypeError, match="n must be an integer"):
            check_positive_int(bad, "n")


def test_check_positive_float():
    assert check_positive_float(2, "lr") == 2.0
    assert check_positive_float(0, "wd", allow_zero=True) == 0.0
    for bad in (0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="lr must be a finite number > 0"):
            check_positive_float(bad, "lr")
    with pytest.raises(ValueError, match=">= 0"):
        check_positive_float(-1e-9, "wd", allow_zero=True)
    for bad in ("0.1", None, True, [0.1]):
        with pytest.raises(TypeError, match="lr must be a number"):
            check_positive_float(bad, "lr")


def test_check_probability():
    assert check_probability(0, "p") == 0.0
    assert check_probability(0.999, "p") == 0.999
    assert check_probability(1, "p", allow_one=True) == 1.0
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\)"):
        check_probability(1, "p")
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\]"):
        check_probability(1.5, "p", allow_one=True)
    with pytest.raises(ValueError, match="p must be"):
        check_probability(-0.1, "p")


def test_check_seed():
    assert check_seed(0) == 0
    assert check_seed(np.int32(7)) == 7
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        check_seed(-1)
    with pytest.raises(TypeError, match="seed"):
        check_seed(1.0)


def test_check_choice():
    assert check_choice("b", "mode", ("a", "b")) == "b"
    with pytest.raises(ValueError, match="mode must be one of 'a', 'b'; got 'c'"):
        check_choice("c", "mode", ("a", "b"))


def test_check_seeds():
    from gradbook._validate import check_seeds

    assert check_seeds((0, 3)) == [0, 3]
    assert check_seeds(None, default=range(2)) == [0, 1]
    with pytest.raises(ValueError, match="seeds must hold at least one seed"):
        check_seeds([])
    with pytest.raises(ValueError, match=r"seeds\[i\] must be an integer >= 0; got -1"):
        check_seeds([1, -1])
    with pytest.raises(TypeError, match="seeds must be a sequence of integer seeds; got 3"):
        check_seeds(3)


def test_seeds_lie_below_two_to_the_32():
    from gradbook._validate import SEED_LIMIT, check_seed, derived_seed

    assert check_seed(SEED_LIMIT - 1) == SEED_LIMIT - 1
    for bad in (SEED_LIMIT, 2**64):
        with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32\)"):
            check_seed(bad)
    assert derived_seed(12) == 12 and derived_seed(SEED_LIMIT - 1 + 12345) == 12344
    with pytest.raises(ValueError, match="derived seed"):
        derived_seed(-1)


def test_a_seed_at_the_top_of_the_range_builds_every_derived_generator():
    from gradbook.models.mlp import dropout_mlp, mlp
    from gradbook.models.rnn import VanillaRNN

    top = 2**32 - 1
    assert len(dropout_mlp([4, 3, 2], 0.5, seed=top)) == 4
    mlp([4, 3, 2], seed=top)
    VanillaRNN(2, 3, 1, seed=top)
    with pytest.raises(ValueError, match="seed"):
        mlp([4, 3, 2], seed=2**64)
