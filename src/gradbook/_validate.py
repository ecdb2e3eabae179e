"""Input checks shared by every public function of :mod:`gradbook`.

Each check either returns the input as a tensor of the expected kind or raises
``ValueError`` / ``TypeError`` with a message that names what was expected and
what was received. Nothing is clipped, reshaped or cast silently: a float64
array becomes float32 (a dtype change, not a change of values that matters for
this book), but a value outside the allowed range is an error, never clipped.
"""

from __future__ import annotations

import math
import os
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
    "SEED_LIMIT",
    "check_seed",
    "derived_seed",
    "check_seeds",
    "check_choice",
    "check_module",
    "check_layer_sizes",
    "as_matrix",
    "as_square_matrix",
    "as_sequences",
    "check_finite_float",
    "MAX_DEPTH",
    "MAX_SEEDS",
    "MAX_BYTES",
    "MAX_STEPS",
    "or_default",
    "check_memory",
    "check_budget",
    "Constraint",
    "AnyOf",
    "NoneValue",
    "Optional",
    "Int",
    "Seed",
    "Float",
    "Positive",
    "Probability",
    "Bool",
    "Choice",
    "Instance",
    "Text",
    "Module",
    "Function",
    "Sequence",
    "Array",
    "LayerSizes",
    "Unchecked",
    "declare",
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


# --------------------------------------------------------------------------
# declared checks: one declaration per public callable
# --------------------------------------------------------------------------
#
# A public function or class of gradbook says, once, what each parameter
# accepts, and gives one small valid call:
#
#     @declare(depth=Int(1, MAX_DEPTH), activation=Choice(ACTIVATIONS), seed=Seed(),
#              example=dict(depth=2))
#     def deep_cnn(depth, channels=4, activation="sigmoid", init=None, seed=0): ...
#
# The wrapper checks every argument the caller passed (defaults are trusted)
# before the body runs, so a wrong type, a NaN or a size beyond the bounds
# below is refused at once, with a message that names the parameter. The
# declaration also drives tests/unit/test_bad_input.py, which derives bad
# calls from it (each constraint knows values it must refuse) and fails for a
# public callable that declares nothing.

#: The deepest net any function builds (chapter 7 sweeps depth to 30 and more).
MAX_DEPTH = 1000
#: The most members of an ensemble of seeds, or seeds in one experiment.
MAX_SEEDS = 1000
#: The largest memory a single call may ask for, by a simple estimate (a Binder
#: reader has 1-2 GB).
MAX_BYTES = 2 * 1024**3
#: The longest run in steps or epochs, or sequence length, any function accepts.
MAX_STEPS = 10**7


def or_default(value: Any, default: Any) -> Any:
    """``value``, or ``default`` where it is None (a setting the caller left out)."""
    return default if value is None else value


def check_memory(n_bytes: int, what: str) -> None:
    """Raise a ``ValueError`` naming ``what`` (the settings that ask for it)
    if ``n_bytes``, an estimate of the memory a call needs, exceeds
    :data:`MAX_BYTES`. Called before anything is allocated."""
    if n_bytes > MAX_BYTES:
        raise ValueError(f"{what} would need about {n_bytes / 1024**3:.1f} GiB; at most "
                         f"{MAX_BYTES / 1024**3:g} GiB")


def check_budget(amount: int, limit: int, what: str, unit: str) -> None:
    """Raise a ``ValueError`` naming ``what`` if ``amount`` (an estimate of the
    work or memory a call needs, in ``unit``) exceeds ``limit``."""
    if amount > limit:
        raise ValueError(f"{what} would need about {amount:,} {unit}; at most {limit:,} (make it smaller)")


class Constraint:
    """What one parameter accepts. ``check(value, name)`` raises a
    ``TypeError``/``ValueError`` naming ``name`` if ``value`` is not
    accepted; ``bad_values()`` lists values it must refuse (used by the
    automatic bad-input tests); ``describe()`` says in words what it wants."""

    def check(self, value: Any, name: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def bad_values(self) -> list[Any]:
        return []

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def __or__(self, other: "Constraint") -> "AnyOf":
        return AnyOf(self, other)


class AnyOf(Constraint):
    """Accepted if one of the constraints accepts it."""

    def __init__(self, *options: Constraint) -> None:
        self.options = options

    def check(self, value: Any, name: str) -> None:
        errors = []
        for option in self.options:
            try:
                option.check(value, name)
                return
            except (TypeError, ValueError) as exc:
                errors.append(exc)
        kind = TypeError if all(isinstance(e, TypeError) for e in errors) else ValueError
        raise kind(f"{name} must be {self.describe()}; got {value!r:.80}")

    def bad_values(self) -> list[Any]:
        out = []
        for option in self.options:
            for v in option.bad_values():
                if not any(_accepts(o, v) for o in self.options):
                    out.append(v)
        return out

    def describe(self) -> str:
        return " or ".join(o.describe() for o in self.options)


def _accepts(constraint: Constraint, value: Any) -> bool:
    try:
        constraint.check(value, "value")
        return True
    except (TypeError, ValueError):
        return False


class NoneValue(Constraint):
    """``None`` (for "use the default")."""

    def check(self, value: Any, name: str) -> None:
        if value is not None:
            raise TypeError(f"{name} must be None; got {value!r:.80}")

    def describe(self) -> str:
        return "None"


def Optional(constraint: Constraint) -> AnyOf:  # noqa: N802 - reads like a type
    """``constraint``, or None."""
    return AnyOf(constraint, NoneValue())


class Int(Constraint):
    """An integer (not a bool) in [low, high]."""

    def __init__(self, low: int | None = None, high: int | None = None) -> None:
        self.low, self.high = low, high

    def check(self, value: Any, name: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be {self.describe()}; got {value!r:.80}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(f"{name} must be {self.describe()}; got {value}")

    def bad_values(self) -> list[Any]:
        out: list[Any] = ["3", 2.5, None, True]
        if self.low is not None:
            out += [self.low - 1, -10**6]
        if self.high is not None:
            out += [self.high + 1, 10**12]
        return out

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"an integer from {self.low} to {self.high:,}"
        if self.low is not None:
            return f"an integer >= {self.low}"
        if self.high is not None:
            return f"an integer <= {self.high:,}"
        return "an integer"


def Seed() -> Int:  # noqa: N802
    """A seed: an integer in [0, 2**32)."""
    return Int(0, SEED_LIMIT - 1)


class Float(Constraint):
    """A finite real number (int or float, not a bool) in a range;
    ``low_open``/``high_open`` exclude the ends."""

    def __init__(self, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False) -> None:
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def check(self, value: Any, name: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be {self.describe()}; got {value!r:.80}")
        v = float(value)
        bad = not math.isfinite(v)
        if self.low is not None:
            bad |= v < self.low or (self.low_open and v == self.low)
        if self.high is not None:
            bad |= v > self.high or (self.high_open and v == self.high)
        if bad:
            raise ValueError(f"{name} must be {self.describe()}; got {value!r}")

    def bad_values(self) -> list[Any]:
        out: list[Any] = ["0.5", None, True, float("nan"), float("inf"), -float("inf")]
        if self.low is not None:
            out.append(self.low - 1.0 if not math.isinf(self.low) else -1e300)
            if self.low_open:
                out.append(self.low)
        if self.high is not None:
            out.append(self.high + 1.0)
            if self.high_open:
                out.append(self.high)
        return out

    def describe(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return "a finite number" + (" " + " and ".join(parts) if parts else "")


def Positive(high: float | None = None) -> Float:  # noqa: N802
    """A finite number > 0 (and <= ``high``)."""
    return Float(0.0, high, low_open=True)


def Probability(*, allow_one: bool = False) -> Float:  # noqa: N802
    """A number in [0, 1) (or [0, 1])."""
    return Float(0.0, 1.0, high_open=not allow_one)


class Bool(Constraint):
    """True or False."""

    def check(self, value: Any, name: str) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False; got {value!r:.80}")

    def bad_values(self) -> list[Any]:
        return [0, 1, "yes", None]

    def describe(self) -> str:
        return "True or False"


class Choice(Constraint):
    """One of a few values (usually strings)."""

    def __init__(self, choices: Any) -> None:
        self.choices = tuple(choices)

    def check(self, value: Any, name: str) -> None:
        try:
            ok = value in self.choices
        except TypeError:
            ok = False
        if not ok or isinstance(value, bool) and not any(isinstance(c, bool) for c in self.choices):
            raise ValueError(f"{name} must be {self.describe()}; got {value!r:.80}")

    def bad_values(self) -> list[Any]:
        return ["no-such-choice", None, 3.5]

    def describe(self) -> str:
        return "one of " + ", ".join(map(repr, self.choices))


class Instance(Constraint):
    """An instance of a class (or of one of several)."""

    def __init__(self, *classes: type, what: str | None = None) -> None:
        self.classes, self.what = classes, what

    def check(self, value: Any, name: str) -> None:
        if not isinstance(value, self.classes):
            raise TypeError(f"{name} must be {self.describe()}; got {type(value).__name__}")

    def bad_values(self) -> list[Any]:
        # only values it refuses: Instance(str) must not list a string
        return [v for v in (None, "not an object of the right kind", 3, b"bytes")
                if not isinstance(v, self.classes)]

    def describe(self) -> str:
        return self.what or " or ".join(f"a {c.__module__}.{c.__qualname__}" for c in self.classes)


class Text(Instance):
    """A ``str`` (non-empty if ``non_empty``); ``what`` says what it is for."""

    def __init__(self, what: str = "a string", *, non_empty: bool = False) -> None:
        super().__init__(str, what=what)
        self.non_empty = non_empty

    def check(self, value: Any, name: str) -> None:
        super().check(value, name)
        if self.non_empty and not value:
            raise ValueError(f"{name} must be {self.describe()}; got an empty string")

    def bad_values(self) -> list[Any]:
        return super().bad_values() + ([""] if self.non_empty else [["text"]])


def Module() -> Instance:  # noqa: N802
    """A ``torch.nn.Module``."""
    return Instance(torch.nn.Module, what="a torch.nn.Module")


class Function(Constraint):
    """A callable."""

    def check(self, value: Any, name: str) -> None:
        if not callable(value):
            raise TypeError(f"{name} must be callable; got {type(value).__name__}")

    def bad_values(self) -> list[Any]:
        return [None, 3, "f"]

    def describe(self) -> str:
        return "a callable"


class Sequence(Constraint):
    """A list or tuple (not a string) of ``min_len`` to ``max_len`` items,
    each accepted by ``item``."""

    def __init__(self, item: Constraint, min_len: int = 1, max_len: int | None = None) -> None:
        self.item, self.min_len, self.max_len = item, min_len, max_len

    def check(self, value: Any, name: str) -> None:
        if isinstance(value, (str, bytes, dict, set)) or not hasattr(value, "__len__") \
                or not hasattr(value, "__iter__") or isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim != 1:
            raise TypeError(f"{name} must be {self.describe()}; got {value!r:.80}")
        n = len(value)
        if n < self.min_len or (self.max_len is not None and n > self.max_len):
            raise ValueError(f"{name} must be {self.describe()}; got {n} item(s)")
        for i, v in enumerate(value):
            self.item.check(v, f"{name}[{i}]")

    def bad_values(self) -> list[Any]:
        out: list[Any] = ["ab", None, {1: 2}]
        if self.min_len > 0:
            out.append([])
        if self.max_len is not None:
            out.append([self._a_good_item()] * (self.max_len + 1))
        out += [[v] * max(1, self.min_len) for v in self.item.bad_values()[:3] if v is not None]
        return out

    def _a_good_item(self) -> Any:
        for v in (1, 0, 1.0, "a"):
            if _accepts(self.item, v):
                return v
        return 1

    def describe(self) -> str:
        size = f"{self.min_len} to {self.max_len}" if self.max_len is not None else f"at least {self.min_len}"
        return f"a list or tuple of {size} item(s), each {self.item.describe()}"


class Array(Constraint):
    """Array-like numbers (numpy, torch, nested lists) with ``ndim``
    dimensions (one of them, if a tuple), at least ``min_size`` entries, all
    finite, in [low, high] if given, at most ``MAX_BYTES`` as float64."""

    def __init__(self, ndim: int | tuple[int, ...] | None = None, *, min_size: int = 1,
                 low: float | None = None, high: float | None = None, integer: bool = False) -> None:
        self.ndim = (ndim,) if isinstance(ndim, int) else ndim
        self.min_size, self.low, self.high, self.integer = min_size, low, high, integer

    def check(self, value: Any, name: str) -> None:
        if isinstance(value, (str, bytes)) or value is None or type(value).__module__.startswith("scipy.sparse"):
            raise TypeError(f"{name} must be {self.describe()}; got {type(value).__name__}")
        try:
            a = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be {self.describe()}; got a ragged or non-numeric "
                            f"{type(value).__name__}") from exc
        if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) \
                or np.issubdtype(a.dtype, np.complexfloating):
            raise TypeError(f"{name} must be {self.describe()}; got dtype {a.dtype}")
        if self.ndim is not None and a.ndim not in self.ndim:
            raise ValueError(f"{name} must be {self.describe()}; got shape {a.shape}")
        if a.size < self.min_size:
            raise ValueError(f"{name} must be {self.describe()}; got {a.size} entries")
        if a.size * 8 > MAX_BYTES:
            raise ValueError(f"{name} is too large ({a.size:,} entries); at most {MAX_BYTES // 8:,}")
        if a.size and np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or infinite values; all must be finite")
        if self.integer and a.size and np.issubdtype(a.dtype, np.floating) and not np.all(a == np.round(a)):
            raise ValueError(f"{name} must hold whole numbers; got fractional values")
        if a.size and self.low is not None and a.min() < self.low:
            raise ValueError(f"{name} must be {self.describe()}; got a value {a.min():.4g}")
        if a.size and self.high is not None and a.max() > self.high:
            raise ValueError(f"{name} must be {self.describe()}; got a value {a.max():.4g}")

    def bad_values(self) -> list[Any]:
        nd = (self.ndim or (2,))[0]
        shape = (2,) * nd if nd else ()
        nan = np.full(shape, 0.5, dtype=np.float64)
        if nan.ndim:
            nan.flat[0] = np.nan
        else:
            nan = np.float64("nan")
        out: list[Any] = ["text", None, nan]
        wrong = [d for d in (1, 2, 3, 4) if self.ndim is not None and d not in self.ndim]
        if wrong:
            out.append(np.zeros((2,) * wrong[0]))
        if self.min_size > 0 and nd:
            out.append(np.zeros((0,) * nd))
        if self.low is not None:
            out.append(np.full(shape, self.low - 1.0))
        if self.high is not None:
            out.append(np.full(shape, self.high + 1.0))
        return out

    def describe(self) -> str:
        dims = ("an array" if self.ndim is None else
                f"a {' or '.join(f'{d}-D' for d in self.ndim)} array")
        rng = ""
        if self.low is not None or self.high is not None:
            rng = f" with values in [{self.low if self.low is not None else '-inf'}, " \
                  f"{self.high if self.high is not None else 'inf'}]"
        return f"{dims} of finite numbers{rng}"


class LayerSizes(Constraint):
    """A list or tuple of layer widths (integers >= 1), at least ``min_len``
    of them, at most ``MAX_DEPTH + 2``, and weights that fit ``MAX_BYTES`` as
    float32 (by the product of neighbouring widths)."""

    def __init__(self, min_len: int = 1) -> None:
        self.min_len = min_len

    def check(self, value: Any, name: str) -> None:
        Sequence(Int(1), self.min_len, MAX_DEPTH + 2).check(value, name)
        weights = sum(int(a) * int(b) for a, b in zip(value[:-1], value[1:])) + sum(int(v) for v in value)
        check_memory(weights * 4 * 3, f"{name} {list(value)!r:.80}")  # weights, gradients, momentum

    def bad_values(self) -> list[Any]:
        return (Sequence(Int(1), self.min_len, MAX_DEPTH + 2).bad_values()
                + [[64, 10**9, 10][: max(self.min_len, 3)]] + [[4] * (MAX_DEPTH + 3)])

    def describe(self) -> str:
        return f"a list of at least {self.min_len} layer widths (integers >= 1)"


class Unchecked(Constraint):
    """No check here: the function checks this argument itself, or any value
    is meaningful. Give the reason (it is shown by the bad-input suite)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def check(self, value: Any, name: str) -> None:
        return None

    def describe(self) -> str:
        return f"anything ({self.reason})"


def declare(*, example: Any, check: bool = True, then: Any = None, **constraints: Constraint):
    """Declare what each parameter of a public function (or class) accepts.

    ``example`` is a dict (or a callable returning one) of keyword arguments
    for one small valid call; ``constraints`` maps parameter names to
    :class:`Constraint` objects. With ``check=True`` (default) every argument
    the caller passes is checked before the body runs; ``check=False`` only
    records the declaration (for a function on a hot path that checks its
    arguments itself, or a scikit-learn estimator, whose ``__init__`` must
    only store its parameters). Applied to a class, it wraps ``__init__``.
    ``then``, if given, is what the bad-input tests do with the result of the
    call (for an estimator: ``lambda est: est.fit(X)``, where the parameters
    are checked). Setting the environment variable
    ``GRADBOOK_SKIP_DECLARED_CHECKS=1`` before import turns the checks off:
    only to measure how the function bodies fare on their own.
    """
    import functools
    import inspect

    for key, value in constraints.items():
        if not isinstance(value, Constraint):
            raise TypeError(f"declare: {key} must be a Constraint; got {type(value).__name__}")

    def decorate(target):
        function = target.__init__ if isinstance(target, type) else target
        signature = inspect.signature(function)
        unknown = set(constraints) - set(signature.parameters)
        if unknown:
            raise TypeError(f"declare: {target.__qualname__} has no parameter(s) {sorted(unknown)}")
        if check and os.environ.get("GRADBOOK_SKIP_DECLARED_CHECKS", "") != "1":
            @functools.wraps(function)
            def checked(*args: Any, **kwargs: Any) -> Any:
                try:
                    bound = signature.bind(*args, **kwargs)
                except TypeError as exc:
                    raise TypeError(f"{target.__qualname__}: {exc}") from None
                for name, value in bound.arguments.items():
                    rule = constraints.get(name)
                    if rule is not None:
                        rule.check(value, name)
                return function(*args, **kwargs)
        else:
            checked = function
        if isinstance(target, type):
            target.__init__ = checked
            owner = target
        else:
            owner = checked
        owner.__gradbook_declared__ = {"constraints": dict(constraints), "example": example,
                                       "then": then}
        return owner

    return decorate
