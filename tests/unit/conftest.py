"""Unit-test setup: the disk layer of :mod:`gradbook.memo` is off.

Unit tests check what one call computes (several clear a runner's memory
with ``cache_clear()`` and then count or record what it trains), so none may
be served a result another test or process left on disk; and the declared
example call of ``clear_disk_cache`` must not empty the session's shared
cache. tests/unit/test_memo.py turns the layer on, in ``tmp_path``, where it
tests it.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch):
    monkeypatch.setenv("GRADBOOK_CACHE_DIR", "off")
