"""Fixtures for the book tests: one cold build per test session, served on
localhost for the browser test."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """Build the executed book cold (an empty execution cache) once.

    The kernels inherit ``GRADBOOK_CACHE_DIR``: tests/conftest.py makes it a
    fresh folder per session (unless it is set already), so each experiment
    is computed once in the session (here, unless an earlier test ran it)
    and the claim tests that run later read it.

    Set GRADBOOK_BUILT_BOOK to an existing ``_build/html`` folder to test that
    build instead (handy while developing; CI always builds cold).
    """
    existing = os.environ.get("GRADBOOK_BUILT_BOOK")
    if existing:
        html = Path(existing)
        assert (html / "index.html").is_file(), f"no built book in {html}"
        return {"html": html, "log": "", "seconds": float("nan"), "cache": None}
    out = tmp_path_factory.mktemp("book")
    env = dict(os.environ, GRADBOOK_BUILD="1", PYTHONHASHSEED="0")
    # The kernels must use Jupyter's inline backend, as in `make book`: a
    # MPLBACKEND inherited from the test process (e.g. Agg) would silently
    # drop every static figure from the pages.
    env.pop("MPLBACKEND", None)
    # A fresh font cache, so that no kernel prints "Matplotlib is building the
    # font cache" into a cell's stderr (which fails the build).
    subprocess.run([sys.executable, "-c", "from matplotlib import font_manager as f; "
                    "f._load_fontmanager(try_read_cache=False)"], env=env, check=True)
    start = time.perf_counter()
    proc = subprocess.run(
        [str(JUPYTER_BOOK), "build", str(REPO), "--path-output", str(out), "-W", "-n", "--keep-going"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1800,
    )
    seconds = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    (out / "build.log").write_text(log)
    assert proc.returncode == 0, f"the book build failed (exit {proc.returncode}):\n{log[-6000:]}"
    return {"html": out / "_build" / "html", "log": log, "seconds": seconds,
            "cache": out / "_build" / ".jupyter_cache"}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="session")
def book_server(built_book):
    """Serve the built HTML on a free localhost port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(built_book["html"]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None
