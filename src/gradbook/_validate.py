"""Input checks shared by every public function of :mod:`gradbook`.

Each check either returns the input as a tensor of the expected kind or raises
``ValueError`` / ``TypeError`` with a message that names what was expected and
what was received. Nothing is clipped, reshaped or cast silently: a float64
array becomes float32 (a dtype change, not a change of values that matters for
this book), but a value outside the allowed range is an error, never clipped.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch

__all__ = [
    "as_features",
    "as_labels",
    "check_positive_int",
    "check_positive_float",
    "check_probability",
    "check_seed",
    "SEED_LIMIT",
    "derived_seed",
    "check_seeds",
    "check_choice",
    "check_module",
    "check_layer_sizes",
    "as_matrix",
    "as_square_matrix",
    "as_sequences",
    "check_finite_float",
]


def _describe(x: Any) -> str:
    if isinstance(x, (torch.Tensor, np.ndarray)):
        return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}"
    return type(x).__name__


def as_features(
    X: Any,
    name: str = "X",
    *,
    n_features: int | None = None,
    unit_interval: bool = False,
    allow_empty: bool = False,
) -> torch.Tensor:
    """Return ``X`` as a 2-D float32 tensor, or raise a clear error.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    name : the argument's name, used in messages.
    n_features : if given, the number of columns ``X`` must have.
    unit_interval : if True, every value must lie in [0, 1].
    allow_empty : if False (default), zero rows is an error.
    """
    if isinstance(X, torch.Tensor):
        t = X.detach()
    else:
        if type(X).__module__.startswith("scipy.sparse"):
            raise TypeError(f"{name} is a scipy sparse {type(X).__name__}; sparse input is not "
                            f"supported. Pass a dense array ({name}.toarray()).")
        try:
            arr = np.asarray(X)
        except Exception as exc:  # pragma: no cover - numpy's own message is kept
            raise TypeError(f"{name} must be array-like of numbers; got {_describe(X)}") from exc
        if arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.number) or arr.dtype == bool
        ):
            raise TypeError(
                f"{name} must be a numeric array of shape (n_samples, n_features); "
                f"got {_describe(X)}"
            )
        with warnings.catch_warnings():
            # A read-only array (a memmap, say) is only read here; torch warns anyway.
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_complex():
        raise TypeError(f"{name} must be real-valued; got {_describe(X)}")
    if t.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D, of shape (n_samples, n_features); got {_describe(X)}"
        )
    if t.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (0 samples); at least one sample is needed")
    if t.shape[1] == 0:
        raise ValueError(f"{name} has 0 features; got {_describe(X)}")
    if t.is_floating_point() and not torch.isfinite(t).all():
        bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); all values must be finite")
    t32 = t.to(torch.float32)
    if not torch.isfinite(t32).all():
        raise ValueError(f"{name} holds values beyond float32's range (about 3.4e38)")
    t = t32
    if n_features is not None and t.shape[1] != n_features:
        raise ValueError(
            f"{name} must have {n_features} features (columns); got {t.shape[1]}"
        )
    if unit_interval and t.numel() and (t.min() < 0 or t.max() > 1):
        raise ValueError(
            f"{name} must lie in [0, 1]; got values from {float(t.min()):.4g} "
            f"to {float(t.max()):.4g}"
        )
    return t


def as_labels(
    y: Any, name: str = "y", *, n_samples: int | None = None, n_classes: int | None = None
) -> torch.Tensor:
    """Return ``y`` as a 1-D int64 tensor of class indices, or raise."""
    if isinstance(y, torch.Tensor):
        t = y.detach()
    else:
        arr = np.asarray(y)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"{name} must be integer class labels; got {_describe(y)}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.ndim != 1:
        raise ValueError(f"{name} must be 1-D, of shape (n_samples,); got {_describe(y)}")
    if t.is_floating_point():
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or infinite values; labels must be integers")
        if not torch.equal(t, t.round()):
            raise ValueError(f"{name} must hold whole-number class labels; got fractional values")
    t = t.to(torch.int64)
    if t.numel() == 0:
        raise ValueError(f"{name} is empty (0 labels); at least one label is needed")
    if n_samples is not None and t.shape[0] != n_samples:
        raise ValueError(f"{name} has {t.shape[0]} labels but X has {n_samples} samples")
    if t.min() < 0:
        raise ValueError(f"{name} must hold labels >= 0; got {int(t.min())}")
    if n_classes is not None and t.max() >= n_classes:
        raise ValueError(
            f"{name} holds label {int(t.max())}, but the model has only {n_classes} outputs"
        )
    return t


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an int >= ``minimum``; raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def check_positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float if it is finite and > 0 (or >= 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number; got {value!r}")
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}")
    return v


def check_probability(value: Any, name: str, *, allow_one: bool = False) -> float:
    """Return ``value`` if 0 <= value < 1 (or <= 1 when ``allow_one``)."""
    v = check_positive_float(value, name, allow_zero=True)
    if v > 1 or (v == 1 and not allow_one):
        bound = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(f"{name} must lie in {bound}; got {value!r}")
    return v


#: Seeds lie in [0, SEED_LIMIT): what numpy's RandomState accepts (torch accepts more).
SEED_LIMIT = 2**32


def check_seed(seed: Any, name: str = "seed") -> int:
    """Return ``seed`` if it is an int with 0 <= seed < 2**32."""
    seed = check_positive_int(seed, name, minimum=0)
    if seed >= SEED_LIMIT:
        raise ValueError(f"{name} must be an integer in [0, 2**32); got {seed}")
    return seed


def derived_seed(value: int) -> int:
    """A seed derived from another (``seed + 1``, ``seed * 1000 + i``), folded
    into [0, 2**32) so that it never overflows at the top of the seed range.
    For the small seeds the book uses, it is ``value`` itself."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"a derived seed must be a non-negative integer; got {value!r}")
    return int(value) % SEED_LIMIT


def check_seeds(seeds: Any, default: Any = None, name: str = "seeds") -> list[int]:
    """``seeds`` (or ``default`` when it is None) as a non-empty list of seeds."""
    if seeds is None:
        seeds = default
    try:
        seeds = list(seeds)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of integer seeds; got {seeds!r}") from None
    if not seeds:
        raise ValueError(f"{name} must hold at least one seed")
    return [check_seed(s, f"{name}[i]") for s in seeds]


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_module(model: Any, name: str = "model") -> Any:
    """Return ``model`` if it is a ``torch.nn.Module``; raise TypeError otherwise."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module; got {type(model).__name__}")
    return model


def check_layer_sizes(sizes: Any, name: str = "sizes", *, minimum_length: int = 1) -> list[int]:
    """``sizes`` as a list of at least ``minimum_length`` layer widths (ints >= 1)."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or isinstance(sizes, dict):
        raise TypeError(f"{name} must be a sequence of layer widths; got {sizes!r}")
    if len(sizes) < minimum_length:
        what = {1: "at least one width", 2: "at least an input and an output width",
                3: "an input, at least one hidden and an output width"}.get(
                    minimum_length, f"at least {minimum_length} widths")
        raise ValueError(f"{name} needs {what}; got {list(sizes)}")
    return [check_positive_int(s, f"{name}[{i}]") for i, s in enumerate(sizes)]


def as_matrix(W: Any, name: str) -> torch.Tensor:
    """``W`` as a detached, non-empty, finite float64 matrix (no float32 round trip)."""
    try:
        t = W.detach() if isinstance(W, torch.Tensor) else torch.from_numpy(np.asarray(W, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real numeric matrix; got {type(W).__name__}") from exc
    if t.is_complex():
        raise TypeError(f"{name} must be real-valued; got dtype {t.dtype}")
    if t.ndim != 2 or 0 in t.shape:
        raise ValueError(f"{name} must be a non-empty 2-D matrix; got shape {tuple(t.shape)}")
    t = t.to(torch.float64)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values; all entries must be finite")
    return t


def as_square_matrix(W: Any, name: str = "W") -> torch.Tensor:
    """``W`` as a detached float64 square matrix with finite entries."""
    shape = tuple(np.shape(W))
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"{name} must be a square matrix (n, n); got shape {shape}")
    return as_matrix(W, name)


def as_sequences(x: Any, name: str = "x", *, n_features: int | None = None) -> torch.Tensor:
    """``x`` as a float tensor of shape (batch, time, features), finite.

    A float tensor keeps its dtype and its autograd graph; anything else goes
    through :func:`as_features` (one row per time step)
    and becomes float32.
    """
    try:
        shape = tuple(np.shape(x))
    except ValueError as exc:
        raise ValueError(f"{name} must be a (batch, time, features) array; got a ragged {type(x).__name__}") from exc
    if len(shape) != 3:
        raise ValueError(f"{name} must be 3-D, of shape (batch, time, features); got shape {shape}")
    if 0 in shape:
        raise ValueError(f"{name} is empty: shape {shape}; batch, time and features must be >= 1")
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        if not torch.isfinite(x.detach()).all():
            bad = int((~torch.isfinite(x.detach())).sum())
            raise ValueError(f"{name} contains {bad} NaN or infinite value(s); all values must be finite")
        t = x
    else:
        flat = x.reshape(-1, shape[2]) if isinstance(x, torch.Tensor) else np.asarray(x).reshape(-1, shape[2])
        t = as_features(flat, name).reshape(shape)
    if n_features is not None and shape[2] != n_features:
        raise ValueError(f"{name} must have {n_features} features (last axis); got {shape[2]}")
    return t


def check_finite_float(v: Any, name: str) -> float:
    """``v`` as a float if it is a finite real number."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number; got {v!r}")
    return float(v)
