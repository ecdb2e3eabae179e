"""A rebuild never shows stale numbers: the execution cache is keyed on the
``gradbook`` package as well as on each chapter's code cells.

The hook of ``book/_ext/gradbook_sphinx.py`` is tested on a temporary project
(a fake ``src/gradbook`` and a jupyter-cache holding one executed notebook,
written through jupyter-cache's API, so no kernel runs), then end to end on a
one-page book with a one-cell notebook, built three times by Jupyter Book.
None of these tests needs the built book.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn

from .conftest import JUPYTER_BOOK, REPO

EXT_DIR = REPO / "book" / "_ext"

CELL = "from gradbook.diagnostics import gradient_norm\nprint(gradient_norm())"


def load_extension():
    spec = importlib.util.spec_from_file_location("gradbook_sphinx", EXT_DIR / "gradbook_sphinx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ext = load_extension()


def chapter_notebook(outputs=()) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells.append(nbformat.v4.new_code_cell(CELL, outputs=list(outputs), execution_count=1))
    return nb


def cache_chapter(cache_path: Path, uri: str) -> None:
    """Put an executed chapter in the cache, as myst-nb does after running it."""
    output = nbformat.v4.new_output("stream", name="stdout", text="0.25\n")
    get_cache(cache_path).cache_notebook_bundle(
        CacheBundleIn(chapter_notebook([output]), uri, data={"execution_seconds": 0.1}),
        check_validity=False, overwrite=True)


def is_cached(cache_path: Path) -> bool:
    """Would myst-nb reuse the chapter's outputs? (its own look-up)"""
    try:
        get_cache(cache_path).match_cache_notebook(chapter_notebook())
    except KeyError:
        return False
    return True


@pytest.fixture
def project(tmp_path):
    """A book root with a fake package, a warm Sphinx environment and an
    execution cache stamped for the package as it is."""
    package = tmp_path / "src" / "gradbook"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "diagnostics.py").write_text("def gradient_norm():\n    return 0.25\n")
    (tmp_path / "chapters").mkdir()
    chapter = tmp_path / "chapters" / "01_vanishing_gradients.md"
    chapter.write_text("# Chapter\n")
    build = tmp_path / "_build"
    (build / ".doctrees").mkdir(parents=True)
    cache_path = build / ".jupyter_cache"
    app = SimpleNamespace(
        srcdir=str(tmp_path), outdir=str(build / "html"), doctreedir=str(build / ".doctrees"),
        config=SimpleNamespace(gradbook_cache_depends=["src/gradbook"]),
        env=SimpleNamespace(mystnb_config=SimpleNamespace(execution_cache_path=str(cache_path)),
                            found_docs={"intro", "chapters/01_vanishing_gradients"}),
        fresh_env_used=False,
    )
    ext.refresh_execution_cache(cache_path, ext.package_hash(["src/gradbook"], tmp_path))
    cache_chapter(cache_path, str(chapter))
    assert is_cached(cache_path)
    return SimpleNamespace(root=tmp_path, package=package, cache=cache_path, app=app)


def start_build(app) -> list[str]:
    """The extension's part of a build's start: ``builder-inited``, then the
    pages it adds to Sphinx's outdated ones."""
    ext.key_cache_on_package(app)
    return ext.reread_if_owed(app, app.env, set(), set(), set())


def pending(app) -> bool:
    return (Path(app.doctreedir) / ext.PENDING_NAME).exists()


def test_an_unchanged_package_keeps_the_cache(project):
    assert start_build(project.app) == []
    assert is_cached(project.cache)
    assert not pending(project.app)


def test_a_changed_library_function_drops_the_cache_and_rereads_every_page(project):
    (project.package / "diagnostics.py").write_text("def gradient_norm():\n    return 0.5\n")
    assert start_build(project.app) == sorted(project.app.env.found_docs)
    assert not is_cached(project.cache)
    assert ext.read_stamp(project.cache) == ext.package_hash(["src/gradbook"], project.root)
    # the re-read stays owed until a build finishes without an exception
    ext.settle_reread(project.app, RuntimeError("a cell raised"))
    assert start_build(project.app) == sorted(project.app.env.found_docs)
    ext.settle_reread(project.app, None)
    assert start_build(project.app) == []


@pytest.mark.parametrize("change", ["add", "remove", "rename"])
def test_adding_removing_or_renaming_a_module_changes_the_hash(project, change):
    before = ext.package_hash(["src/gradbook"], project.root)
    diagnostics = project.package / "diagnostics.py"
    if change == "add":
        (project.package / "models").mkdir()
        (project.package / "models" / "mlp.py").write_text("")
    elif change == "remove":
        diagnostics.unlink()
    else:
        diagnostics.rename(project.package / "diagnostic.py")
    assert ext.package_hash(["src/gradbook"], project.root) != before


def test_bytecode_and_editor_files_do_not_change_the_hash(project):
    before = ext.package_hash(["src/gradbook"], project.root)
    (project.package / "__pycache__").mkdir()
    (project.package / "__pycache__" / "diagnostics.cpython-311.pyc").write_bytes(b"\0")
    (project.package / ".diagnostics.py.swp").write_bytes(b"\0")
    (project.package / "diagnostics.py~").write_text("old")
    assert ext.package_hash(["src/gradbook"], project.root) == before
    assert start_build(project.app) == []
    assert is_cached(project.cache)


def test_the_stamp_is_written_only_after_the_cache_is_dropped(project, monkeypatch):
    old_stamp = ext.read_stamp(project.cache)
    (project.package / "diagnostics.py").write_text("def gradient_norm():\n    return 0.5\n")

    def fail(cache_path):
        raise OSError("disk full")

    monkeypatch.setattr(ext, "drop_cached_executions", fail)
    with pytest.raises(OSError):
        ext.key_cache_on_package(project.app)
    assert ext.read_stamp(project.cache) == old_stamp  # still says "stale"
    assert pending(project.app)
    monkeypatch.undo()
    assert start_build(project.app) == sorted(project.app.env.found_docs)
    assert not is_cached(project.cache)


def test_a_deleted_cache_rereads_every_page(project):
    """``make clean-cache`` then ``make book`` executes every chapter again
    (before, Sphinx re-read no page, so nothing was executed)."""
    get_cache(project.cache).clear_cache()
    assert start_build(project.app) == sorted(project.app.env.found_docs)
    assert ext.read_stamp(project.cache) is not None


def test_an_existing_cache_without_a_stamp_is_dropped(project):
    """A cache from before this hook, of unknown provenance, is not trusted."""
    (project.cache / ext.STAMP_NAME).unlink()
    assert start_build(project.app) == sorted(project.app.env.found_docs)
    assert not is_cached(project.cache)


def test_a_cold_build_only_gets_a_stamp(tmp_path):
    (tmp_path / "src" / "gradbook").mkdir(parents=True)
    (tmp_path / "src" / "gradbook" / "__init__.py").write_text("")
    cache_path = tmp_path / "_build" / ".jupyter_cache"
    app = SimpleNamespace(
        srcdir=str(tmp_path), outdir=str(tmp_path / "_build" / "html"),
        doctreedir=str(tmp_path / "_build" / ".doctrees"),
        config=SimpleNamespace(gradbook_cache_depends=["src/gradbook"]),
        env=SimpleNamespace(mystnb_config=SimpleNamespace(execution_cache_path=str(cache_path)),
                            found_docs={"intro"}),
        fresh_env_used=True,
    )
    ext.key_cache_on_package(app)
    assert sorted(p.name for p in cache_path.iterdir()) == [ext.STAMP_NAME]  # no database
    assert not Path(app.doctreedir).exists()  # no re-read owed: every page is new


# ---------------------------------------------------------------- end to end

PAGE = f"""---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  name: python3
  display_name: Python 3
---
# Page

```{{code-cell}}
import sys
sys.path.insert(0, "src")
{CELL}
```
"""

CONFIG = f"""title: t
only_build_toc_files: true
exclude_patterns: [_build, src]
execute:
  execute_notebooks: cache
  raise_on_error: true
sphinx:
  local_extensions:
    gradbook_sphinx: {EXT_DIR}
"""


def build(root: Path) -> tuple[str, str]:
    """Build the one-page book; returns its log and the printed number."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("MPLBACKEND", None)
    proc = subprocess.run([str(JUPYTER_BOOK), "build", str(root), "-W", "-n", "--keep-going"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    html = (root / "_build" / "html" / "page.html").read_text()
    printed = re.search(r"(0\.\d+)\s*</pre>", html)
    assert printed, "no printed number on the page"
    return log, printed.group(1)


def test_a_rebuild_reexecutes_a_chapter_after_its_library_function_changed(tmp_path):
    """cold build, rebuild (cached: no execution), edit the library, rebuild
    (executed: the new number)."""
    (tmp_path / "_config.yml").write_text(CONFIG)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    (tmp_path / "page.md").write_text(PAGE)
    package = tmp_path / "src" / "gradbook"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "diagnostics.py").write_text("def gradient_norm():\n    return 0.25\n")

    log, number = build(tmp_path)
    assert "Executing notebook" in log and number == "0.25"
    assert "gradbook:" not in log  # a cold build does nothing more
    assert not (tmp_path / "_build" / ".doctrees" / ext.PENDING_NAME).exists()

    log, number = build(tmp_path)
    assert "Executing notebook" not in log and number == "0.25"

    (package / "diagnostics.py").write_text("def gradient_norm():\n    return 0.5\n")
    log, number = build(tmp_path)
    assert "Executing notebook" in log, log[-4000:]
    assert number == "0.5"
    assert not (tmp_path / "_build" / ".doctrees" / ext.PENDING_NAME).exists()
