"""The book's own small Sphinx extension.

Two jobs.

**A rebuild never shows stale numbers.** myst-nb's execution cache
(jupyter-cache, ``execute_notebooks: cache``) keys a chapter on its code cells
only, and Sphinx re-reads a page only when its source changed: after an edit
to ``src/gradbook`` neither notices, and a rebuild serves the old outputs
(deleting the cache alone does not help either: no page is re-read, so none
is executed). Here both are keyed on one hash of the package, every file under
the paths of ``gradbook_cache_depends`` (default ``["src/gradbook"]``), taken
at ``builder-inited``, once myst-nb has resolved its cache folder
(``nb_execution_cache_path``, default ``_build/.jupyter_cache``) and before
any page is read:

- the cache carries a stamp, ``gradbook-package.sha256``: the hash its
  executions were made with. When the current hash differs, or the cache is
  missing or has no stamp, a full re-read is marked as owed (the file
  ``gradbook-reread-pending`` in the doctree folder), every cached execution
  is dropped, and only then the new stamp is written: whatever the cache holds
  from then on was executed with the package as hashed;
- while a re-read is owed, ``env-get-outdated`` makes Sphinx re-read every
  page, so each chapter misses the emptied cache and is executed again. The
  mark is removed when a build finishes without an exception; a build that
  fails or is interrupted halfway keeps it, and the next build re-reads again.

A cold build (no environment: CI) reads and executes every page anyway: it
only gets the stamp written, and its outputs are unchanged.

One hash of the whole package, not each chapter's imports: every chapter goes
through ``gradbook.chapters.chNN``, which imports the shared modules (train,
plots, data, diagnostics, models), so most edits concern every chapter anyway,
and a traced import graph could miss a dependency (a dynamic import, a
re-export, a data file, a ``literalinclude``), which would bring back exactly
the stale numbers this prevents.

**sphinx-thebe's repeated inline script.** sphinx-thebe 0.3.1 registers its
inline configuration script once per ``env-before-read-docs`` event, and
Jupyter Book's build emits that event more than once, so every page declared
``const THEBE_JS_URL`` twice and the browser logged "Identifier
'THEBE_JS_URL' has already been declared". Sphinx already drops a repeated
script *file*; this drops a repeated inline script from each page's list of
scripts (the two copies differ only in a filename of None against "").
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

#: The file, inside the execution cache folder, that names the package hash the
#: cached executions were made with.
STAMP_NAME = "gradbook-package.sha256"

_SKIPPED_DIRS = {"__pycache__"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo", "~")


# ------------------------------------------------------------ package hash

def _package_files(root: Path) -> list[Path]:
    """Every file under ``root`` that can change what a chapter computes:
    sources and data, not bytecode, hidden files (editor swap files) or
    backups."""
    if root.is_file():
        return [root]
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or name.endswith(_SKIPPED_SUFFIXES):
                continue
            files.append(Path(dirpath, name))
    return files


def package_hash(paths, base: Path) -> str:
    """A SHA-256 over the relative path and the bytes of every file under
    ``paths`` (relative to ``base``), so that an edit, an added, removed or
    renamed file all change it. A missing path counts as empty."""
    base = Path(base)
    digest = hashlib.sha256()
    for entry in paths:
        root = base / entry
        if not root.exists():
            digest.update(f"missing {entry}\0".encode())
            continue
        for file in _package_files(root):
            digest.update(file.relative_to(base).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


# ------------------------------------------------------------ execution cache

def read_stamp(cache_path) -> str | None:
    try:
        return (Path(cache_path) / STAMP_NAME).read_text().strip() or None
    except FileNotFoundError:
        return None


def _write_stamp(cache_path: Path, digest: str) -> None:
    cache_path.mkdir(parents=True, exist_ok=True)
    stamp = cache_path / STAMP_NAME
    tmp = stamp.with_name(stamp.name + ".tmp")
    tmp.write_text(digest + "\n")
    os.replace(tmp, stamp)  # atomic: never half a stamp


def drop_cached_executions(cache_path) -> int:
    """Remove every executed notebook from the jupyter-cache at
    ``cache_path`` (its notebook list and settings stay); returns how many."""
    from jupyter_cache import get_cache
    from jupyter_cache.cache.db import DB_NAME, NbCacheRecord

    if not (Path(cache_path) / DB_NAME).is_file():
        return 0  # nothing was ever cached here (and do not create a database)
    cache = get_cache(cache_path)
    records = cache.list_cache_records()
    for record in records:
        try:
            cache.remove_cache(record.pk)
        except KeyError:  # its notebook file is already gone: drop the record
            NbCacheRecord.remove_records([record.pk], cache.db)
    left = cache.list_cache_records()
    if left:  # never stamp a cache that still holds old outputs
        raise RuntimeError(f"could not drop cached executions {[r.pk for r in left]} in {cache_path}")
    return len(records)


def refresh_execution_cache(cache_path, digest: str) -> int | None:
    """Make the execution cache at ``cache_path`` match package hash ``digest``.

    Same stamp: nothing to do (returns None). No cache folder (a cold build):
    only the stamp is written (returns 0). Otherwise (another stamp, or none on
    an existing cache) every cached execution is dropped first, and the stamp
    written after; returns how many were dropped. If dropping fails, the old
    stamp stays and the next build tries again.
    """
    cache_path = Path(cache_path)
    if cache_path.is_dir():
        if read_stamp(cache_path) == digest:
            return None
        dropped = drop_cached_executions(cache_path)
    else:
        dropped = 0
    _write_stamp(cache_path, digest)
    return dropped


# ------------------------------------------------------------ Sphinx hooks

#: The file, in the doctree folder, that says every page must be re-read.
PENDING_NAME = "gradbook-reread-pending"


def _pending(app) -> Path:
    return Path(app.doctreedir) / PENDING_NAME


def key_cache_on_package(app) -> None:
    """``builder-inited``: drop cached executions made with another package."""
    nb_config = getattr(app.env, "mystnb_config", None)
    cache_path = Path(getattr(nb_config, "execution_cache_path", "")
                      or Path(app.outdir).parent / ".jupyter_cache")
    digest = package_hash(app.config.gradbook_cache_depends, Path(app.srcdir))
    stamp = read_stamp(cache_path)
    if stamp == digest:
        return
    # Owe the re-read first: if anything below fails, the next build still
    # re-reads. A fresh environment (cold build) reads every page anyway.
    if not app.fresh_env_used:
        _pending(app).parent.mkdir(parents=True, exist_ok=True)
        _pending(app).touch()
    dropped = refresh_execution_cache(cache_path, digest)
    if dropped or not app.fresh_env_used:
        depends = ", ".join(app.config.gradbook_cache_depends)
        why = (f"{depends} changed since the cached executions" if stamp
               else f"the execution cache has no stamp of {depends}")
        logger.info(f"gradbook: {why}: dropped {dropped} cached notebook(s) "
                    f"from {cache_path}; every page is read again")


def reread_if_owed(app, env, added, changed, removed) -> list[str]:
    """``env-get-outdated``: every page, while a re-read is owed."""
    if _pending(app).exists():
        return sorted(env.found_docs)
    return []


def settle_reread(app, exception) -> None:
    """``build-finished``: every page was re-read; the re-read is paid."""
    if exception is None:
        _pending(app).unlink(missing_ok=True)


# ------------------------------------------------------------ thebe script

def _script_key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    # An inline script is registered with filename None or "" depending on the
    # route it took; both mean "no file".
    return (getattr(script, "filename", None) or "", tuple(sorted(attributes.items())))


def unique_scripts(scripts: list) -> list:
    """``scripts`` without repeats (same file or same inline body), in order."""
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    return unique


def drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts:
        context["script_files"] = unique_scripts(list(scripts))


def setup(app):
    # Paths, relative to the book's root, whose content the chapters' outputs
    # depend on beyond their own code cells (their hash keys the cache, so no
    # rebuild category of Sphinx's own is needed: "").
    app.add_config_value("gradbook_cache_depends", ["src/gradbook"], "", [list, tuple])
    # Late (priority 900), after myst-nb's own builder-inited handler has
    # resolved its cache folder.
    app.connect("builder-inited", key_cache_on_package, priority=900)
    app.connect("env-get-outdated", reread_if_owed)
    app.connect("build-finished", settle_reread)
    # Late (priority 999), after every extension has added its scripts.
    app.connect("html-page-context", drop_repeated_scripts, priority=999)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
