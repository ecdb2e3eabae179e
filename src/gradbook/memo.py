"""Memoised experiment runs that callers cannot corrupt, computed once for
the book build, the claim tests and a reader's kernel.

A chapter runs each experiment once and shares the result between its
tables, figures and claim tests. With a plain ``functools.lru_cache`` every
caller gets the *same* object, so a reader who normalises a filter image or
edits a returned History in place silently changes every later figure drawn
in that kernel. :func:`memoised` keeps one result per call and hands out a
deep copy of it on every call.

Two layers keep the results. In front, memory: a second call in the same
process is served from it and never touches the disk. Behind it, a folder of
pickles (:func:`cache_dir`) shared by every process, so that the book build
(one kernel per chapter page), the claim tests and a reader's kernel run each
experiment once between them. An entry's key is a SHA-256 over

- the function's module and qualified name;
- its arguments, bound to its signature with the defaults filled in (so
  ``f(1)``, ``f(x=1)`` and, if 1 is the default, ``f()`` share an entry);
- the ``repr`` of the defining module's ``SETTINGS`` at call time (a reader
  who ``dataclasses.replace``-s them gets new runs, on both layers);
- :func:`_code_hash`: the source of the whole ``gradbook`` package and the
  versions of Python and of the numerical libraries, so that no result is
  served after a change of code.

Entries are written atomically (a temporary file in the same folder, then
``os.replace``); a missing, truncated or unreadable entry is recomputed. A
result that cannot be pickled, or a call whose arguments have no stable
``repr`` (anything but numbers, strings, bytes, None and tuples or
frozensets of them), stays in memory only. A result read from disk equals
the one computed: the process that computes a result also keeps its
unpickled copy, so what does not survive pickling (a tensor's ``.grad``)
is gone in every process alike. Entries are pickles, loaded as they are:
keep the folder writable by you alone.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.metadata
import inspect
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from ._validate import declare

__all__ = [
    "F",
    "memoised",
    "cache_dir",
    "clear_disk_cache",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The installed package: the folder of this module.
_PACKAGE = Path(__file__).resolve().parent

#: The libraries whose version is part of every key (their numbers are the book's).
_LIBRARIES = ("torch", "numpy", "scipy", "pandas", "scikit-learn")

#: How entries and their temporary files are named (clear_disk_cache removes
#: only these: the folder may hold other files, e.g. MNIST downloads).
_PREFIX, _SUFFIX = "memo-", ".pickle"


@functools.cache
def _code_hash() -> str:
    """SHA-256 over every ``.py`` file of the package (relative path and
    bytes, sorted by path) and the versions of Python and :data:`_LIBRARIES`.
    Computed once per process, when this module is imported: a kernel that
    imported the package before its files were edited still runs (and stores
    under the hash of) the code it imported."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py"), key=lambda p: p.relative_to(_PACKAGE).as_posix()):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for name in _LIBRARIES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{name}=={version}\0".encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()


_code_hash()


@declare(example=dict())
def cache_dir() -> Path | None:
    """The folder of the disk layer, or None if it is off. Read at every call:

    1. ``$GRADBOOK_CACHE_DIR`` if set (the value ``off`` turns the disk
       layer off);
    2. ``<repo>/_build/.gradbook_cache`` if the package runs from a source
       checkout (``<repo>`` holds ``_config.yml`` and ``src/gradbook``);
    3. ``~/.cache/gradbook`` otherwise.
    """
    setting = os.environ.get("GRADBOOK_CACHE_DIR", "")
    if setting == "off":
        return None
    if setting:
        return Path(setting).expanduser()
    repo = _PACKAGE.parents[1]
    if (repo / "_config.yml").is_file() and (repo / "src" / "gradbook").is_dir():
        return repo / "_build" / ".gradbook_cache"
    return Path.home() / ".cache" / "gradbook"


@declare(example=dict())
def clear_disk_cache() -> None:
    """Remove every entry (and left-over temporary file) of :func:`cache_dir`,
    so that the next call of each memoised run in a new process computes it.
    Other files in the folder are left alone. The memory layer is untouched:
    a function's ``cache_clear()`` clears that."""
    folder = cache_dir()
    if folder is None or not folder.is_dir():
        return
    for pattern in (f"{_PREFIX}*{_SUFFIX}", f".{_PREFIX}*.tmp"):
        for path in folder.glob(pattern):
            path.unlink(missing_ok=True)


class _Unstable(Exception):
    """A value without a ``repr`` that is the same in every process."""


def _stable_repr(value: Any) -> str:
    """``repr`` of a number, string, bytes, None, or a tuple or frozenset of
    them; raises :class:`_Unstable` for anything else (an object's default
    ``repr`` holds its address; a large tensor's leaves out values)."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic)):
        return repr(value)
    if isinstance(value, tuple):
        return "(" + "".join(_stable_repr(v) + ", " for v in value) + ")"
    if isinstance(value, frozenset):
        return "frozenset({" + ", ".join(sorted(_stable_repr(v) for v in value)) + "})"
    raise _Unstable(type(value).__name__)


def _settings_repr(function: Callable[..., Any]) -> str | None:
    """``repr`` of the ``SETTINGS`` global of ``function``'s module as it is now
    ("" if it has none; None if its ``repr`` holds an object's address)."""
    settings = inspect.unwrap(function).__globals__.get("SETTINGS")
    text = "" if settings is None else repr(settings)
    return None if " at 0x" in text else text


def _entry(function: Callable[..., Any], arguments: tuple, settings: str | None) -> Path | None:
    """The disk entry of one call, or None if the call stays in memory."""
    folder = cache_dir()
    if folder is None or settings is None:
        return None
    try:
        args = ", ".join(f"{name}={_stable_repr(value)}" for name, value in arguments)
    except _Unstable:
        return None
    text = "\n".join((function.__module__, function.__qualname__, args, settings, _code_hash()))
    return folder / f"{_PREFIX}{hashlib.sha256(text.encode()).hexdigest()}{_SUFFIX}"


def _load(path: Path) -> tuple[bool, Any]:
    """``(True, result)`` from the entry at ``path``, or ``(False, None)`` if it
    is missing, truncated or unreadable."""
    try:
        return True, pickle.loads(path.read_bytes())
    except Exception:  # any damage (EOFError, UnpicklingError, ...) is a miss
        return False, None


def _store(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically; a folder that cannot be written
    leaves the result in memory only."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)


def memoised(function: F) -> F:
    """``function`` memoised on its (hashable) arguments, in memory and on disk
    (see the module docstring), returning a fresh deep copy of the stored
    result on every call.

    The wrapper keeps ``cache_info()`` and ``cache_clear()`` of
    ``functools.lru_cache``; ``cache_clear()`` forgets the memory layer only,
    so the next call reads the disk entry if there is one
    (:func:`clear_disk_cache` clears the disk)."""
    signature = inspect.signature(function)
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        raise TypeError(f"memoised: {function.__qualname__} takes **kwargs; name its parameters")

    @functools.lru_cache(maxsize=None)
    def cached(arguments: tuple, settings: str | None) -> Any:
        def run() -> Any:
            bound = inspect.BoundArguments(signature, dict(arguments))
            return function(*bound.args, **bound.kwargs)

        path = _entry(function, arguments, settings)
        if path is None:
            return run()
        found, result = _load(path)
        if found:
            return result
        result = run()
        try:
            data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
            result = pickle.loads(data)  # what every other process will read
        except Exception:  # e.g. a local function inside the result: memory only
            return result
        _store(path, data)
        return result

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            try:
                hash(value)
            except TypeError:
                raise TypeError(
                    f"{function.__name__} takes hashable arguments (numbers, strings, tuples); "
                    f"got a {type(value).__name__}: {value!r:.80}") from None
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return copy.deepcopy(cached(tuple(bound.arguments.items()), _settings_repr(function)))

    wrapper.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    wrapper.cache_info = cached.cache_info  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
