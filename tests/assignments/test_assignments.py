"""The course assignments: every otter-grader master notebook in ``assignments/``.

For each master notebook (a new ``assignments/*.ipynb`` is picked up
automatically):

- ``otter assign`` succeeds. It writes the student and autograder versions and
  then grades the autograder version (the solutions) against every test,
  public and hidden, failing unless they earn full marks; so a pass here means
  the solutions pass their tests.
- The blank student copy fails. Graded as handed out (every answer still
  ``...``) with ``otter run`` and the autograder zip, it must score zero on
  every autograded question: a test that a blank answer passes checks nothing.

Both run otter's command line with this interpreter, so the notebooks run on
this environment's ``python3`` kernel (with ``gradbook`` importable). The
second test relies on the first for that: if the kernel could not import
``gradbook``, the blank copy would fail for the wrong reason, but the
solutions would fail too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MASTERS = sorted((ROOT / "assignments").glob("*.ipynb"))
TIMEOUT = 600  # seconds per otter command; one normally takes well under a minute

pytestmark = pytest.mark.assignments


def otter(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``python -m otter ARGS`` with this interpreter.

    Jupyter replaces a kernelspec's ``python`` with the interpreter that starts
    the kernel, and ``JUPYTER_PATH`` puts this environment's kernelspecs first,
    so otter's notebooks execute on this environment. One thread per kernel, as
    in ``tests/conftest.py``: the nets are tiny.
    """
    env = os.environ.copy()
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    jupyter_data = str(Path(sys.prefix) / "share" / "jupyter")
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (jupyter_data, env.get("JUPYTER_PATH")) if p)
    env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.run(
        [sys.executable, "-m", "otter", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )


def tail(proc: subprocess.CompletedProcess, lines: int = 60) -> str:
    out = (proc.stdout + "\n" + proc.stderr).strip().splitlines()
    return "\n".join(out[-lines:])


@pytest.fixture(scope="module", params=MASTERS, ids=[p.stem for p in MASTERS])
def assigned(request, tmp_path_factory):
    """``otter assign`` run once per master notebook: (master, output dir, process)."""
    master: Path = request.param
    out = tmp_path_factory.mktemp(master.stem) / "dist"
    proc = otter("assign", "-v", str(master), str(out), cwd=master.parent)
    return master, out, proc


def test_otter_assign_passes_the_solutions(assigned):
    master, out, proc = assigned
    assert proc.returncode == 0, f"otter assign {master.name} failed:\n{tail(proc)}"
    log = proc.stdout + proc.stderr
    assert "All autograder tests passed" in log, (
        f"otter assign did not run the tests against the solutions (run_tests: false?):\n{tail(proc)}"
    )
    student, autograder = out / "student" / master.name, out / "autograder" / master.name
    assert student.is_file() and autograder.is_file()
    assert len(list((out / "autograder").glob("*-autograder_*.zip"))) == 1
    handed_out = student.read_text(encoding="utf-8")
    for leak in ("BEGIN SOLUTION", "# SOLUTION", "hidden=True"):
        assert leak not in handed_out, f"the student copy of {master.name} contains {leak!r}"


def test_blank_student_copy_scores_zero(assigned, tmp_path):
    master, out, proc = assigned
    if proc.returncode != 0:
        pytest.fail(f"otter assign {master.name} failed, so there is no student copy to grade")
    student = out / "student" / master.name
    (autograder_zip,) = (out / "autograder").glob("*-autograder_*.zip")
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    run = otter("run", "--no-logo", "-a", str(autograder_zip), "-o", str(results_dir), str(student),
                cwd=tmp_path)
    assert run.returncode == 0, f"otter run failed on the blank copy of {master.name}:\n{tail(run)}"
    results = json.loads((results_dir / "results.json").read_text(encoding="utf-8"))
    scores = {t["name"]: (t["score"], t["max_score"]) for t in results["tests"] if "score" in t}
    assert scores, f"otter run graded no question of {master.name}:\n{tail(run)}"
    earned = sum(score for score, _ in scores.values())
    possible = sum(top for _, top in scores.values())
    assert earned < possible, f"the blank copy of {master.name} earns full marks"
    passing = {name: score for name, (score, _) in scores.items() if score > 0}
    assert not passing, (
        f"blank answers earn points in {master.name}: {passing}; some test passes without "
        f"the student's code:\n{tail(run)}"
    )
