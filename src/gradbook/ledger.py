"""The claims ledger: every claim of the article, where the book tests it, and
the verdict, read from the chapters' code (never typed).

Each chapter module that has claim checks exposes

- ``claim_verdicts()``: claim id (``"C1"`` to ``"C18"``) -> one of
  :data:`gradbook.stats.VERDICTS`, for every claim it checks;
- ``claim_comparisons()``: claim id -> the :class:`gradbook.stats.Comparison`
  objects behind the verdict, for the claims settled by the book's rule;
- ``ARGUED``: claim id -> why the verdict rests on an argument or an exact
  check rather than on a comparison of means over seeds (the structure of an
  RBM, a definition, a history).

:data:`CLAIMS` lists the article's eighteen claims in the book's words, with
the chapter (or chapters) testing each and the claim test asserting it.
:func:`chapter_verdicts` collects what the chapters find, and
:func:`ledger_table` lays it out as the ledger page shows it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import stats
from ._validate import Instance, declare

__all__ = [
    "CLAIMS",
    "CHAPTERS",
    "Claim",
    "Part",
    "chapter_verdicts",
    "ledger_table",
    "ledger_markdown",
]

__undeclared__ = {
    "Claim": "a record of CLAIMS, the book's own table; readers never build one",
    "Part": "a record of CLAIMS, the book's own table; readers never build one",
    "chapter_verdicts": "takes no arguments; it runs (or reads from the disk cache) every chapter's "
                        "claim comparisons, which the claim tests and the book build exercise",
}


@dataclass(frozen=True)
class Part:
    """Where one claim (or one half of it) is tested: the chapter's number, its
    module in :mod:`gradbook.chapters`, the label of its claim-check box, what
    part of the claim it tests (``""``: all of it) and the claim test file."""

    chapter: int
    module: str
    label: str
    aspect: str
    test: str


@dataclass(frozen=True)
class Claim:
    """One claim of the article: its id, the claim in brief (the book's
    words) and where it is tested."""

    id: str
    brief: str
    parts: tuple[Part, ...]


#: The chapter modules, by chapter number.
CHAPTERS = {
    1: "ch01_vanishing_gradients",
    2: "ch02_rbm",
    3: "ch03_pretraining",
    4: "ch04_relu_dropout",
    5: "ch05_cnn",
    6: "ch06_exploding_gradients",
}


def _part(chapter: int, label: str, test: str, aspect: str = "") -> Part:
    return Part(chapter, CHAPTERS[chapter], label, aspect, f"test_{test}.py")


_T1, _T2 = "c1_c11_vanishing", "c2_deep_vs_shallow"
_T3, _T4 = "c3_c4_c6_rbm", "c4_c5_c10_c14_pretraining"
_T5, _T6, _T7 = "c8_c12_c13_c14_remedies", "c10_c16_c17_cnn", "c18_exploding"

#: The article's claims, in the book's words, and where each is tested.
CLAIMS: tuple[Claim, ...] = (
    Claim("C1", "Backpropagated gradients shrink sharply towards the first layers of a deep, randomly "
                "initialised net, so those layers learn slowly.", (_part(1, "claim-check-c1", _T1),)),
    Claim("C2", "When the last layers are big enough, a deep random-init net ends up no better than the "
                "shallow net made of its last layers.", (_part(1, "claim-check-c2", _T2),)),
    Claim("C3", "An RBM is a two-layer stochastic net with symmetric weights, connections only between "
                "the layers (a bipartite graph).", (_part(2, "claim-check-c3", _T3),)),
    Claim("C4", "RBM features are effective, and RBM initialisation clearly improves generalisation.",
          (_part(2, "claim-check-c4", _T3, "features"),
           _part(3, "claim-check-c4-pretraining", _T4, "initialisation"))),
    Claim("C5", "A DBN, a stack of RBMs, extracts better, more abstract features for classification.",
          (_part(3, "claim-check-c5", _T4),)),
    Claim("C6", "The RBM procedure compares reconstruction and input, once with KL divergence, now with "
                "a faster \"CD divergence\".", (_part(2, "claim-check-c6", _T3),)),
    Claim("C7", "DBM, DBN, CAE, DAE and SAE all train greedily, one layer at a time.",
          (_part(3, "claim-check-c7", _T4),)),
    Claim("C8", "Deep nets overfit because labelled data are few and parameters many.",
          (_part(4, "claim-check-c8", _T5),)),
    Claim("C9", "With more layers the optimisation is non-convex and gets trapped in local minima.",
          (_part(1, "claim-check-c9", _T1),)),
    Claim("C10", "Remedies: unsupervised layer-wise pretraining; fewer parameters with CNNs.",
          (_part(3, "claim-check-c10", _T4, "pretraining"), _part(5, "claim-check-c10-cnn", _T6, "CNNs"))),
    Claim("C11", "Shallow nets hardly feel the vanishing gradient; past some depth it becomes a severe "
                 "limit.", (_part(1, "claim-check-c11", _T1),)),
    Claim("C12", "Only Hinton's RBM-style design really addresses the vanishing gradient.",
          (_part(4, "claim-check-c12", _T5),)),
    Claim("C13", "A plain ReLU net trained by backprop eases the vanishing gradient; dropout eases "
                 "overfitting.", (_part(4, "claim-check-c13", _T5),)),
    Claim("C14", "Greedy pretraining helps but is slow; with much data a ReLU net does as well.",
          (_part(3, "claim-check-c14", _T4, "pretraining's gain"),
           _part(4, "claim-check-c14-relu", _T5, "the ReLU net"))),
    Claim("C15", "A DBN can be seen as a generative model.", (_part(3, "claim-check-c15", _T4),)),
    Claim("C16", "CNNs need no pretraining and suit 2-D data; other deep nets treat the data as 1-D.",
          (_part(5, "claim-check-c16", _T6),)),
    Claim("C17", "CNNs solve the vanishing gradient through weight sharing.",
          (_part(5, "claim-check-c17", _T6),)),
    Claim("C18", "In RNNs gradients can instead grow exponentially through time (exploding gradients).",
          (_part(6, "claim-check-c18", _T7),)),
)


def _chapter(module: str) -> Any:
    return importlib.import_module(f"gradbook.chapters.{module}")


def chapter_verdicts() -> dict[tuple[str, int], dict[str, Any]]:
    """What each chapter finds for each claim it checks: ``(claim id,
    chapter)`` -> ``{"verdict", "basis", "comparisons", "seeds"}``, where
    ``basis`` is ``"rule"`` (the verdict follows from ``comparisons``, the
    claim's :class:`~gradbook.stats.Comparison` list, by
    :func:`gradbook.stats.verdict`; ``seeds`` is the fewest seeds of any of
    them) or ``"argued"`` (``comparisons`` is empty, ``seeds`` 0, and
    ``"reason"`` says why). Raises a ValueError if a chapter's verdict for a
    claim settled by the rule is not the rule's."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for claim in CLAIMS:
        for part in claim.parts:
            module = _chapter(part.module)
            verdicts = module.claim_verdicts()
            if claim.id not in verdicts:
                raise ValueError(f"chapter {part.chapter} ({part.module}) gives no verdict for {claim.id}")
            found = verdicts[claim.id]
            if found not in stats.VERDICTS:
                raise ValueError(f"chapter {part.chapter} gives {claim.id} the verdict {found!r}; "
                                 f"expected one of {stats.VERDICTS}")
            argued = getattr(module, "ARGUED", {})
            if claim.id in argued:
                out[(claim.id, part.chapter)] = {"verdict": found, "basis": "argued",
                                                 "reason": argued[claim.id], "comparisons": [], "seeds": 0}
                continue
            comparisons = list(module.claim_comparisons()[claim.id])
            ruled = stats.verdict(comparisons)
            if ruled != found:
                raise ValueError(f"chapter {part.chapter} gives {claim.id} the verdict {found!r}, but its "
                                 f"comparisons give {ruled!r} by the book's rule")
            out[(claim.id, part.chapter)] = {"verdict": found, "basis": "rule", "reason": "",
                                             "comparisons": comparisons,
                                             "seeds": min(c.n for c in comparisons)}
    return out


def _example_verdicts() -> dict[str, Any]:
    found = {}
    for claim in CLAIMS:
        for part in claim.parts:
            found[(claim.id, part.chapter)] = {"verdict": "confirmed", "basis": "argued", "reason": "a reason",
                                               "comparisons": [], "seeds": 0}
    return {"verdicts": found}


def _how(found: dict[str, Any]) -> str:
    if found["basis"] == "argued":
        return found["reason"]
    outcomes = pd.Series([c.outcome for c in found["comparisons"]]).value_counts()
    counts = ", ".join(f"{n} {outcome}" for outcome, n in outcomes.items())
    n = len(found["comparisons"])
    return f"by the rule: {n} comparison{'s' if n != 1 else ''} ({counts}), {found['seeds']} seeds or more"


@declare(verdicts=Instance(dict, what="a dict from chapter_verdicts()"), example=_example_verdicts)
def ledger_table(verdicts: dict[tuple[str, int], dict[str, Any]]) -> pd.DataFrame:
    """The ledger as a table: one row per claim and chapter testing it
    (columns ``claim``, ``in brief``, ``chapter``, ``aspect``, ``label``,
    ``verdict``, ``how``, ``test``), from :func:`chapter_verdicts`."""
    if not isinstance(verdicts, dict):
        raise TypeError(f"verdicts must be the dict chapter_verdicts() returns; got {type(verdicts).__name__}")
    rows = []
    for claim in CLAIMS:
        for part in claim.parts:
            key = (claim.id, part.chapter)
            if key not in verdicts:
                raise ValueError(f"verdicts has no entry for {claim.id} in chapter {part.chapter}; "
                                 f"give the dict chapter_verdicts() returns")
            found = verdicts[key]
            if not isinstance(found, dict) or found.get("verdict") not in stats.VERDICTS:
                raise ValueError(f"verdicts[{key!r}] must hold a verdict, one of {stats.VERDICTS}; "
                                 f"got {found!r}")
            rows.append({"claim": claim.id, "in brief": claim.brief, "chapter": part.chapter,
                         "aspect": part.aspect, "label": part.label, "verdict": found["verdict"],
                         "how": _how(found), "test": part.test})
    return pd.DataFrame(rows)


@declare(table=Instance(pd.DataFrame, what="a ledger_table DataFrame"),
         example=lambda: dict(table=ledger_table(**_example_verdicts())))
def ledger_markdown(table: pd.DataFrame) -> str:
    """The ledger table as MyST markdown (one row per claim; a claim tested in
    two chapters lists both), with ``{ref}`` links to the claim-check boxes:
    render it with ``markdown_format: myst``."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a ledger_table DataFrame; got {type(table).__name__}")
    missing = {"claim", "in brief", "chapter", "aspect", "label", "verdict", "how", "test"} - set(table.columns)
    if missing:
        raise ValueError(f"table must have the columns of ledger_table(); missing {sorted(missing)}")
    lines = ["| ID | The claim, in brief | Chapter | Verdict | How it was decided | Test |",
             "|---|---|---|---|---|---|"]
    for claim, rows in table.groupby("claim", sort=False):
        def each(column: str, rows=rows) -> str:
            parts = []
            for _, row in rows.iterrows():
                value = row[column]
                if column == "chapter":
                    value = f"{{ref}}`{row['chapter']} <{row['label']}>`"
                prefix = f"{row['aspect']} (chapter {row['chapter']}): " if len(rows) > 1 and column != "chapter" \
                    else ""
                parts.append(f"{prefix}{value}")
            return " and ".join(parts) if column == "chapter" else "; ".join(parts)

        tests = " ".join(sorted({f"`{t}`" for t in rows["test"]}))
        brief = rows["in brief"].iloc[0].replace("|", "\\|")
        lines.append(f"| {claim} | {brief} | {each('chapter')} | {each('verdict')} | "
                     f"{each('how').replace('|', '/')} | {tests} |")
    return "\n".join(lines)
