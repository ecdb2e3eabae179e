"""The package's layout rules, checked on its source.

- The library (everything but ``gradbook.chapters``) never imports a chapter
  module; chapter modules import the library (and, where a chapter reuses
  another chapter's runs, that chapter).
- No private name (leading underscore) is imported from one module of the
  package into another: what others need is public.
- Every module declares ``__all__``, and every name in it exists.
- One chapter module per chapter page, named after it:
  ``chapters/NN_slug.md`` <-> ``src/gradbook/chapters/chNN_slug.py``.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "gradbook"
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def gradbook_imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(absolute module, imported names, line) for every import of a gradbook
    module in ``path``, at any depth (imports inside functions count)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "gradbook" or target.startswith("gradbook."):
                names = [a.name for a in node.names]
                # ``from . import diagnostics`` imports a module, not a name
                modules = [n for n in names if (PACKAGE.parent / (target + "." + n).replace(".", "/")).with_suffix(".py").exists()
                           or (PACKAGE.parent / (target + "." + n).replace(".", "/") / "__init__.py").exists()]
                for m in modules:
                    found.append((target + "." + m, [], node.lineno))
                rest = [n for n in names if n not in modules]
                if rest or not modules:
                    found.append((target, rest, node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "gradbook" or a.name.startswith("gradbook."):
                    found.append((a.name, [], node.lineno))
    return found


@pytest.mark.parametrize("path", [p for p in MODULES if "chapters" not in p.parts],
                         ids=lambda p: module_name(p))
def test_the_library_never_imports_a_chapter(path):
    bad = [(m, line) for m, _, line in gradbook_imports(path) if m.startswith("gradbook.chapters")]
    assert not bad, f"{module_name(path)} imports chapter modules: {bad}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_private_name_crosses_modules(path):
    bad = [(m, n, line) for m, names, line in gradbook_imports(path)
           for n in names if n.startswith("_")]
    assert not bad, f"{module_name(path)} imports private names: {bad}"


def test_the_import_walk_sees_relative_and_nested_imports(tmp_path):
    """The rule checks above must be able to fail: a relative import of a
    chapter module and a nested private import are both found."""
    fake = PACKAGE / "models" / "mlp.py"
    found = gradbook_imports(fake)
    assert any(m == "gradbook._validate" for m, _, _ in found)
    probe = PACKAGE / "models" / "_probe_layout_test.py"
    probe.write_text("def f():\n    from ..chapters import ch01_vanishing_gradients\n"
                     "    from .rbm import _bernoulli\n", encoding="utf-8")
    try:
        found = gradbook_imports(probe)
    finally:
        probe.unlink()
    assert ("gradbook.chapters.ch01_vanishing_gradients", [], 2) in found
    assert ("gradbook.models.rbm", ["_bernoulli"], 3) in found


@pytest.mark.parametrize("path", [p for p in MODULES if p.name != "__init__.py"],
                         ids=lambda p: module_name(p))
def test_every_module_declares_all(path):
    module = importlib.import_module(module_name(path))
    assert hasattr(module, "__all__"), f"{module_name(path)} has no __all__"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{module_name(path)}.__all__ names what it lacks: {missing}"


def test_one_chapter_module_per_chapter_page():
    pages = {p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]_*.md")}
    modules = {p.stem[2:] for p in (PACKAGE / "chapters").glob("ch[0-9][0-9]_*.py")}
    assert pages and pages == modules
