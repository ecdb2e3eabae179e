"""Running the code that an exercise solution prints, as the chapter prints it.

The exercise tests (``test_ch0N_exercises.py``) read a ``{solution} label``
block's python code from the chapter's Markdown, so the code tested and the
code shown cannot part, execute it, and check what the solution's prose says
of what it printed or computed.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

CHAPTERS = Path(__file__).resolve().parents[2] / "chapters"


def solution_code(chapter: str, label: str) -> str:
    """The python code block of the ``{solution} label`` block of
    ``chapters/<chapter>``."""
    path = CHAPTERS / chapter
    text = path.read_text(encoding="utf-8")
    block = re.search(rf"^:::\{{solution\}} {re.escape(label)}$(.*?)^:::$", text, re.S | re.M)
    assert block, f"{path.name} has no solution {label}"
    code = re.search(r"^```python$(.*?)^```$", block.group(1), re.S | re.M)
    assert code, f"solution {label} of {path.name} shows no python code"
    return code.group(1)


def run_solution(chapter: str, label: str) -> tuple[list[list[str]], dict]:
    """Execute the solution's code. Returns what it printed (one list of
    words per non-empty line) and its namespace; the value of a last line
    that is a bare expression (a notebook's displayed result) is kept as
    ``namespace["_"]``."""
    import ast

    source = solution_code(chapter, label)
    tree = ast.parse(source)
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body[-1]
        tree.body[-1] = ast.Assign(targets=[ast.Name("_", ast.Store())], value=last.value)
        ast.copy_location(tree.body[-1], last)
        ast.fix_missing_locations(tree)
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(tree, f"<{chapter}: solution {label}>", "exec"), namespace)
    return [line.split() for line in out.getvalue().splitlines() if line.strip()], namespace
