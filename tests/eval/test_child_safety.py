"""A worry about a child is never declined, at any school, and always leads with the Designated Safeguarding Lead.

Every school in England and Wales has a DSL by statute, whether or not its social media policy names one; the
rule lives in knowledge/routes.yaml, not in code. The questions in child_safety.yaml are worded apart from that
file's examples, three per school, some with no social media word at all.
"""

from __future__ import annotations

import pytest

from bot.contract import answer_dict
from bot.evaluation import load_cases
from tests.conftest import REPO

CASES = load_cases(REPO / "tests" / "eval" / "child_safety.yaml")


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.school}-{c.id}")
def test_a_child_safety_worry_is_answered_with_the_dsl_first(assistant, case):
    answer = answer_dict(assistant.ask(case.question, case.school))
    assert answer["status"] == "answered", answer
    assert answer["contacts"][0]["role"] == "safeguarding_lead", answer["contacts"]
    assert "Designated Safeguarding Lead" in answer["message"]


def test_every_school_is_covered_three_times():
    per_school = {}
    for case in CASES:
        per_school[case.school] = per_school.get(case.school, 0) + 1
    assert per_school == {"howitt": 3, "wolverhampton": 3, "crynallt": 3, "rutland": 3, "reading": 3}


def test_a_question_about_parents_messaging_is_not_taken_for_a_child_safety_worry(assistant):
    answer = answer_dict(assistant.ask("can i accept a friend request from a parent on facebook?", "howitt"))
    assert answer["status"] == "answered"
    assert not answer["message"], "the child-safety route fired on a question about a parent"


def test_every_channel_shows_the_dsl_route_before_the_quote(assistant):
    from adapters.slack_blocks import answer_blocks
    from adapters.teams_cards import answer_card
    from adapters.terminal import render_text

    answer = assistant.ask("a pupil told me her mum's boyfriend hurts her, who do i tell", "howitt")
    assert answer.message.startswith("A worry about a child")
    text = " ".join(render_text(answer).split())
    assert text.index("Designated Safeguarding Lead") < text.index("“")
    assert any("Designated Safeguarding Lead" in str(block) for block in answer_blocks(answer))
    assert "Designated Safeguarding Lead" in str(answer_card(answer)["body"])


@pytest.mark.parametrize("school", ["wolverhampton", "howitt"])
def test_a_worry_about_a_child_that_concerns_the_head_names_the_chair_after_the_dsl(assistant, school):
    # The DSL still leads; a concern about the head goes on to the chair of governors where the school's policy
    # names the chair (topics.yaml head_conduct, `leads_contacts`).
    from bot.followup import ThreadMemory

    threads = ThreadMemory(assistant)
    threads.ask("one of the TAs keeps snapchatting a yr 9 girl late at night, it feels wrong", school, "t")
    answer = threads.ask("what if it was the head doing it?", school, "t")
    assert answer.status == "answered"
    assert [c.role for c in answer.contacts][:2] == ["safeguarding_lead", "chair_of_governors"]
