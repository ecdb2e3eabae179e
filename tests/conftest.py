"""Shared test setup for the whole suite.

- one torch thread: the book's nets are tiny, and on the 2-core CI machine one
  thread is about three times faster per step than two;
- ``GRADBOOK_BUILD=1``: progress bars stay quiet, as during the book build
  (tests that check the progress-bar logic set the variable themselves with
  ``monkeypatch``);
- matplotlib's non-interactive Agg backend, and every figure closed after
  each test so that none leaks into the next;
- ``GRADBOOK_CACHE_DIR`` (unless already set): a fresh folder for the disk
  layer of the memoised experiment runs (:mod:`gradbook.memo`), so that one
  session computes each experiment once, shared by the cold book build (its
  kernels inherit the variable) and the claim tests that run after it, and
  never reads a developer's old results (removed at exit). The unit tests
  turn the disk layer off (tests/unit/conftest.py).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

os.environ["GRADBOOK_BUILD"] = "1"
if not os.environ.get("GRADBOOK_CACHE_DIR"):
    os.environ["GRADBOOK_CACHE_DIR"] = tempfile.mkdtemp(prefix="gradbook-cache-")
    atexit.register(shutil.rmtree, os.environ["GRADBOOK_CACHE_DIR"], ignore_errors=True)

import matplotlib  # noqa: E402

matplotlib.use("Agg", force=True)

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

try:
    from hypothesis import settings

    # no per-example deadline (torch's first calls are slow on a loaded CI
    # machine); derandomised, so that CI runs the same examples every time and
    # needs no example database
    settings.register_profile("gradbook", deadline=None, derandomize=True, database=None)
    settings.load_profile("gradbook")
except ImportError:  # pragma: no cover - hypothesis is a dev dependency
    pass


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every matplotlib figure a test leaves open."""
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def digits():
    """The bundled 8x8 digits ``(X, y)``, loaded once per session.

    Tests must not modify these tensors in place (clone first).
    """
    from gradbook.data import load_digits

    return load_digits()


@pytest.fixture(scope="session")
def digits_split():
    """The chapters' split of the digits: ``X_train, X_test, y_train, y_test``."""
    from gradbook.data import digits_split as split

    return split()
