"""Memoised experiment runs that callers cannot corrupt.

A chapter runs each experiment once and shares the result between its
tables, figures and claim tests. With a plain ``functools.lru_cache`` every
caller gets the *same* object, so a reader who normalises a filter image or
edits a returned History in place silently changes every later figure drawn
in that kernel. :func:`memoised` keeps one result per argument tuple and hands
out a deep copy of it on every call.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Callable, TypeVar

__all__ = [
    "F",
    "memoised",
]

F = TypeVar("F", bound=Callable[..., Any])


def memoised(function: F) -> F:
    """``function`` memoised on its (hashable) arguments, returning a fresh
    deep copy of the stored result on every call. The wrapper keeps
    ``cache_clear()`` and ``cache_info()`` of ``functools.lru_cache``."""
    cached = functools.lru_cache(maxsize=None)(function)

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            try:
                hash(value)
            except TypeError:
                raise TypeError(
                    f"{function.__name__} takes hashable arguments (numbers, strings, tuples); "
                    f"got a {type(value).__name__}: {value!r:.80}") from None
        return copy.deepcopy(cached(*args, **kwargs))

    wrapper.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    wrapper.cache_info = cached.cache_info  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
