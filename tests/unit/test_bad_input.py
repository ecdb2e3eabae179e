"""Every public callable of gradbook refuses bad input with a clear error.

Each public function and class (every callable in a public module's
``__all__``) declares, with ``gradbook._validate.declare``, what each of its
parameters accepts and one small valid call. From the declarations this suite

- checks that every public callable has one (a function added later without
  a declaration fails here), unless its module lists it in
  ``__undeclared__ = {name: reason}`` (a result record the package builds,
  say) or it stands in ``ALLOWED`` here, with a reason;
- runs the valid example call;
- derives bad calls, one parameter at a time with the others valid: wrong
  type, NaN, inf, negative, zero, huge, wrong shape, empty (each constraint
  knows what it must refuse), and asserts a ``ValueError`` or ``TypeError``
  whose message names the parameter.

A per-test timeout guards against hangs: a huge size must be refused by the
argument check itself, not after a long loop.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import gradbook

#: Public callables that declare nothing, each with its reason.
ALLOWED: dict[str, str] = {
    "gradbook.memo.memoised": "a decorator for the package's own runners; its one argument is a function",
}


def _public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(gradbook.__path__, prefix="gradbook."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        names.append(info.name)
    return sorted(names)


def _public_callables() -> list[tuple[str, object]]:
    out = []
    for module_name in _public_modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if not callable(obj):
                continue
            home = getattr(obj, "__module__", module_name)
            if home != module_name:  # re-exported: checked where it is defined
                continue
            out.append((f"{module_name}.{name}", obj))
            reason = getattr(module, "__undeclared__", {}).get(name)
            if reason:
                ALLOWED[f"{module_name}.{name}"] = reason
    return out


CALLABLES = _public_callables()


def _declaration(obj):
    return getattr(obj, "__gradbook_declared__", None)


def _example(obj) -> dict:
    example = _declaration(obj)["example"]
    return dict(example() if callable(example) else example)


def _bad_cases():
    cases = []
    for qualname, obj in CALLABLES:
        declared = _declaration(obj)
        if declared is None:
            continue
        for param, rule in declared["constraints"].items():
            for i, bad in enumerate(rule.bad_values()):
                cases.append(pytest.param(obj, param, bad, id=f"{qualname}:{param}:{i}:{bad!r:.30}"))
    return cases


def test_the_walk_finds_the_package():
    names = {q for q, _ in CALLABLES}
    assert "gradbook.models.mlp.mlp" in names and "gradbook.train.train" in names
    assert any(q.startswith("gradbook.chapters.") for q in names)


@pytest.mark.parametrize("qualname, obj", CALLABLES, ids=[q for q, _ in CALLABLES])
def test_every_public_callable_declares_its_parameters(qualname, obj):
    if qualname in ALLOWED:
        assert _declaration(obj) is None, f"{qualname} declares now: take it off ALLOWED"
        return
    assert _declaration(obj) is not None, (
        f"{qualname} declares no parameter constraints: decorate it with "
        "gradbook._validate.declare(..., example=...) or put it in ALLOWED with a reason")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("qualname, obj", [c for c in CALLABLES if _declaration(c[1])],
                         ids=[q for q, o in CALLABLES if _declaration(o)])
def test_the_declared_example_call_works(qualname, obj):
    declared = _declaration(obj)
    signature = inspect.signature(obj)
    missing = set(declared["constraints"]) - set(signature.parameters)
    assert not missing
    _call(obj, _example(obj))


def _call(obj, kwargs):
    result = obj(**kwargs)
    then = _declaration(obj).get("then")
    return then(result) if then is not None else result


@pytest.mark.timeout(60)
@pytest.mark.parametrize("obj, param, bad", _bad_cases())
def test_a_bad_argument_gets_a_clear_error(obj, param, bad):
    kwargs = _example(obj)
    kwargs[param] = bad
    with pytest.raises((TypeError, ValueError)) as info:
        _call(obj, kwargs)
    assert param in str(info.value), f"the error does not name {param!r}: {info.value}"
