"""The claims ledger (gradbook.ledger): its table of claims points at boxes
and tests that exist, and its verdicts are the chapters' own, checked against
the book's rule. The real chapters' verdicts are asserted by
tests/claims/test_ledger.py; here the chapters are stand-ins."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from gradbook import ledger, stats

REPO = Path(__file__).resolve().parents[2]


def test_every_claim_is_listed_once_in_order():
    assert [c.id for c in ledger.CLAIMS] == [f"C{i}" for i in range(1, 19)]


@pytest.mark.parametrize("claim", ledger.CLAIMS, ids=lambda c: c.id)
def test_each_part_points_at_a_claim_check_box_and_a_claim_test_that_exist(claim):
    for part in claim.parts:
        chapter = next((REPO / "chapters").glob(f"0{part.chapter}_*.md"))
        assert re.search(rf"^:name: {re.escape(part.label)}$", chapter.read_text(encoding="utf-8"), re.M), \
            f"{chapter.name} has no claim-check box named {part.label}"
        assert (REPO / "tests" / "claims" / part.test).is_file()
        assert part.module == ledger.CHAPTERS[part.chapter]
    assert claim.brief and "|" not in claim.brief
    if len(claim.parts) > 1:
        assert all(part.aspect for part in claim.parts)


def _fake_chapter(verdicts, comparisons=None, argued=None):
    return types.SimpleNamespace(claim_verdicts=lambda: verdicts,
                                 claim_comparisons=lambda: comparisons or {},
                                 ARGUED=argued or {})


def _patch(monkeypatch, chapters):
    monkeypatch.setattr(ledger, "_chapter", lambda module: chapters[module])


def _all_argued():
    chapters = {}
    for claim in ledger.CLAIMS:
        for part in claim.parts:
            fake = chapters.setdefault(part.module, _fake_chapter({}, argued={}))
            fake.claim_verdicts()[claim.id] = "confirmed"
            fake.ARGUED[claim.id] = "a reason"
    return chapters


SUPPORTED = stats.compare([0.9, 0.92, 0.91, 0.93], [0.8, 0.81, 0.8, 0.82])
NONE = stats.compare([0.9, 0.9, 0.9, 0.9], [0.9, 0.9, 0.9, 0.9])


def test_a_verdict_by_the_rule_comes_with_its_comparisons(monkeypatch):
    chapters = _all_argued()
    module = ledger.CHAPTERS[1]
    del chapters[module].ARGUED["C1"]
    chapters[module].claim_verdicts()["C1"] = "confirmed with caveats"
    chapters[module].claim_comparisons = lambda: {"C1": [SUPPORTED, NONE]}
    _patch(monkeypatch, chapters)
    found = ledger.chapter_verdicts()
    assert found[("C1", 1)]["basis"] == "rule"
    assert found[("C1", 1)]["seeds"] == 4
    assert found[("C2", 1)]["basis"] == "argued"
    table = ledger.ledger_table(found)
    row = table.set_index("claim").loc["C1"]
    assert row["verdict"] == "confirmed with caveats"
    assert "2 comparisons" in row["how"] and "1 supported" in row["how"] and "1 no difference" in row["how"]
    assert len(table) == sum(len(c.parts) for c in ledger.CLAIMS)


def test_a_chapter_verdict_that_is_not_the_rules_is_refused(monkeypatch):
    chapters = _all_argued()
    module = ledger.CHAPTERS[4]
    del chapters[module].ARGUED["C8"]
    chapters[module].claim_verdicts()["C8"] = "confirmed"  # the rule says: with caveats
    chapters[module].claim_comparisons = lambda: {"C8": [SUPPORTED, NONE]}
    _patch(monkeypatch, chapters)
    with pytest.raises(ValueError, match="C8.*confirmed with caveats"):
        ledger.chapter_verdicts()


@pytest.mark.parametrize("bad", ["maybe", None])
def test_a_verdict_outside_the_four_is_refused(monkeypatch, bad):
    chapters = _all_argued()
    chapters[ledger.CHAPTERS[6]].claim_verdicts()["C18"] = bad
    _patch(monkeypatch, chapters)
    with pytest.raises(ValueError, match="C18"):
        ledger.chapter_verdicts()


def test_a_missing_verdict_is_refused(monkeypatch):
    chapters = _all_argued()
    del chapters[ledger.CHAPTERS[5]].claim_verdicts()["C17"]
    _patch(monkeypatch, chapters)
    with pytest.raises(ValueError, match="C17"):
        ledger.chapter_verdicts()


def test_the_markdown_has_one_row_per_claim_with_links_to_every_box(monkeypatch):
    _patch(monkeypatch, _all_argued())
    text = ledger.ledger_markdown(ledger.ledger_table(ledger.chapter_verdicts()))
    rows = [line for line in text.splitlines() if line.startswith("| C")]
    assert [r.split("|")[1].strip() for r in rows] == [c.id for c in ledger.CLAIMS]
    for claim, row in zip(ledger.CLAIMS, rows):
        assert row.count("|") == 7, row
        for part in claim.parts:
            assert f"{{ref}}`{part.chapter} <{part.label}>`" in row
            assert f"`{part.test}`" in row
        if len(claim.parts) > 1:
            assert all(f"{p.aspect} (chapter {p.chapter}): confirmed" in row for p in claim.parts)


def test_a_table_missing_a_claim_is_refused(monkeypatch):
    _patch(monkeypatch, _all_argued())
    found = ledger.chapter_verdicts()
    del found[("C9", 1)]
    with pytest.raises(ValueError, match="C9"):
        ledger.ledger_table(found)
