"""Time a cold build of the whole book and the execution of each chapter.

Builds into a fresh temporary folder (empty execution cache, and an empty
disk cache of experiment results: ``GRADBOOK_CACHE_DIR`` points into that
folder, so every experiment is computed once; a chapter that reuses another
chapter's runs reads them from it, as in any cold build), then reads each
chapter's execution time from the jupyter-cache record. Prints a table.

Budgets (issue 11, with every comparison on 20 seeds): at most 120 s per
chapter, 10 minutes for the whole book, cold, after the install. The ledger
page (``ledger/claims.md``) is read after the chapters and takes every
verdict from the disk cache they filled.

    .venv/bin/python benchmarks/book_build.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHAPTER_BUDGET = 120.0
BOOK_BUDGET = 600.0


def main() -> int:
    from jupyter_cache import get_cache

    with tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, GRADBOOK_BUILD="1", PYTHONHASHSEED="0",
                   GRADBOOK_CACHE_DIR=str(Path(out) / "gradbook_cache"))
        env.pop("MPLBACKEND", None)  # the kernels use Jupyter's inline backend
        subprocess.run([sys.executable, "-c", "from matplotlib import font_manager as f; "
                        "f._load_fontmanager(try_read_cache=False)"], env=env, check=True)
        start = time.perf_counter()
        proc = subprocess.run(
            [str(Path(sys.executable).with_name("jupyter-book")), "build", str(REPO),
             "--path-output", out, "-W", "-n", "--keep-going"],
            cwd=REPO, env=env, capture_output=True, text=True,
        )
        total = time.perf_counter() - start
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:])
            print(f"build failed (exit {proc.returncode})")
            return 1
        records = get_cache(Path(out) / "_build" / ".jupyter_cache").list_cache_records()
        rows = sorted((Path(r.uri).relative_to(REPO).as_posix(), r.data["execution_seconds"])
                      for r in records)
    print(f"{'page':45} {'execution (s)':>14} {'budget (s)':>11}  verdict")
    for name, seconds in rows:
        verdict = "ok" if seconds <= CHAPTER_BUDGET else "OVER"
        print(f"{name:45} {seconds:14.1f} {CHAPTER_BUDGET:11.0f}  {verdict}")
    verdict = "ok" if total <= BOOK_BUDGET else "OVER"
    print(f"{'whole book, cold build':45} {total:14.1f} {BOOK_BUDGET:11.0f}  {verdict}")
    print(f"(machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
