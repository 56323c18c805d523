"""The project's own question sets are sound: every expected quote is real policy text of that school."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.evaluation import normalise_for_scoring
from tests.conftest import REPO
from tests.eval.conftest import KNOWN_ROLES, SEED_FILES

SETS = sorted(
    [*(REPO / "tests" / "eval").glob("chat*.yaml"), *(REPO / "tests" / "eval").glob("situations*.yaml")]
)


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_cases_are_well_formed_and_quote_their_own_schools_policy(path: Path, seed_lines):
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
    assert not [i for i, n in Counter(c["id"] for c in cases).items() if n > 1]
    for case in cases:
        assert case["school"] in SEED_FILES and case["question"].strip(), case["id"]
        assert set(case.get("contact_any") or ()) <= KNOWN_ROLES, case["id"]
        if case.get("expect") == "no_match":
            assert not case.get("quote_any"), case["id"]
            continue
        assert 1 <= len(case["quote_any"]) <= 3, case["id"]
        for quote in case["quote_any"]:
            wanted = normalise_for_scoring(quote)
            # within one line of the source, so a quote never spans a list break the clauses split on
            assert any(wanted in line for line in seed_lines[case["school"]]), (case["id"], quote)
