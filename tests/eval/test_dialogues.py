"""The dialogue set is sound: well-formed conversations whose every expected quote is real text of that school's policy.

tests/eval/dialogues*.yaml hold multi-turn conversations, each sent as one thread (shared/eval/README.md,
"Dialogue format"). A turn either expects 1-3 quotes from the asker's own school's policy or expects no policy
answer at all (`expect: no_match`), and only a turn with a quote can be marked sensitive. Quotes are checked
against the seed texts in shared/seeds after the scoring normalisation, each within one line of its seed, so a
quote never spans a list break the clauses are split on.
"""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from bot.evaluation import normalise_for_scoring
from tests.conftest import REPO
from tests.eval.conftest import KNOWN_ROLES, SEED_FILES

DIALOGUE_SETS = {
    name: yaml.safe_load((REPO / "tests" / "eval" / name).read_text(encoding="utf-8"))["dialogues"]
    for name in (
        "dialogues.yaml",
        "dialogues2.yaml",
        "dialogues3.yaml",
        "dialogues4.yaml",
        "dialogues5.yaml",
        "dialogues6.yaml",
        "dialogues7.yaml",
        "dialogues8.yaml",
        "dialogues9.yaml",
        "dialogues10.yaml",
        "dialogues11.yaml",
        "dialogues12.yaml",
    )
}
DIALOGUES = [d for dialogues in DIALOGUE_SETS.values() for d in dialogues]
TURN_KEYS = {"question", "quote_any", "contact_any", "expect", "sensitive"}


def test_dialogue_ids_are_unique_across_the_sets():
    assert not [i for i, n in Counter(d["id"] for d in DIALOGUES).items() if n > 1]


@pytest.mark.parametrize("dialogue", DIALOGUES, ids=lambda d: d["id"])
def test_a_dialogue_is_at_a_known_school_and_every_turn_asks_something(dialogue):
    assert dialogue["school"] in SEED_FILES
    assert dialogue["turns"], "a dialogue has at least one turn"
    for turn in dialogue["turns"]:
        assert set(turn) <= TURN_KEYS, turn
        assert isinstance(turn["question"], str) and turn["question"].strip(), turn


@pytest.mark.parametrize("dialogue", DIALOGUES, ids=lambda d: d["id"])
def test_a_turn_expects_either_quotes_or_no_match_and_only_known_contacts(dialogue):
    for turn in dialogue["turns"]:
        question = turn["question"]
        assert set(turn.get("contact_any") or ()) <= KNOWN_ROLES, question
        if turn.get("expect") == "no_match":
            assert not turn.get("quote_any") and not turn.get("contact_any"), question
            assert not turn.get("sensitive"), "only a turn with a quote can be sensitive: " + question
            continue
        assert "expect" not in turn, question
        assert 1 <= len(turn["quote_any"]) <= 3, question
        assert turn.get("sensitive", False) in (True, False), question


@pytest.mark.parametrize("dialogue", DIALOGUES, ids=lambda d: d["id"])
def test_every_quote_is_within_one_line_of_that_schools_seed_policy(dialogue, seed_lines):
    lines = seed_lines[dialogue["school"]]
    for turn in dialogue["turns"]:
        for quote in turn.get("quote_any") or ():
            wanted = normalise_for_scoring(quote)
            assert any(wanted in line for line in lines), (dialogue["id"], quote)


@pytest.mark.parametrize("name", sorted(DIALOGUE_SETS))
def test_each_set_has_follow_ups_drift_and_sensitive_first_turns_at_every_school(name):
    dialogues = DIALOGUE_SETS[name]
    per_school = Counter(d["school"] for d in dialogues)
    assert set(per_school) == set(SEED_FILES)
    assert sum(len(d["turns"]) > 1 for d in dialogues) == len(dialogues), "every dialogue has a follow-up"
    follow_ups = [t for d in dialogues for t in d["turns"][1:]]
    assert (
        sum(t.get("expect") == "no_match" for t in follow_ups) >= 2
    )  # dialogues7 has two; the others four or more
    assert sum(bool(d["turns"][0].get("sensitive")) for d in dialogues) >= 3
