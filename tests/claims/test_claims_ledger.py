"""The claims ledger, from the real chapters: every verdict the chapters give
for a measured claim is the one its comparisons give by the book's rule, and
every such comparison rests on at least stats.MIN_SEEDS seeds. (Runs after the
claim tests, so the chapters' results come from the session's disk cache.)"""

from __future__ import annotations

import pytest

from gradbook import ledger, stats


@pytest.fixture(scope="module")
def found():
    return ledger.chapter_verdicts()  # raises if a measured verdict is not the rule's


def test_every_claim_of_every_chapter_has_a_verdict(found):
    expected = {(c.id, p.chapter) for c in ledger.CLAIMS for p in c.parts}
    assert set(found) == expected
    assert all(f["verdict"] in stats.VERDICTS for f in found.values())


def test_every_measured_verdict_rests_on_enough_seeds(found):
    thin = {key: f["seeds"] for key, f in found.items() if f["basis"] == "rule" and f["seeds"] < stats.MIN_SEEDS}
    assert not thin, f"comparisons on fewer than {stats.MIN_SEEDS} seeds: {thin}"


def test_argued_verdicts_say_why(found):
    for key, f in found.items():
        if f["basis"] == "argued":
            assert len(f["reason"]) > 20, key


def test_the_ledger_table_has_one_row_per_claim(found):
    text = ledger.ledger_markdown(ledger.ledger_table(found))
    assert sum(line.startswith("| C") for line in text.splitlines()) == len(ledger.CLAIMS)
