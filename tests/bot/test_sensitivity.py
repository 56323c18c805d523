"""Personal and safeguarding questions are marked sensitive, by their topic, their route or their own wording."""

from __future__ import annotations

import pytest

from bot.sensitivity import SensitivityCheck


@pytest.mark.parametrize(
    ("school", "question"),
    [
        ("reading", "a pupil told me her stepdad hits her, what do i do?"),  # the child-safety route
        ("howitt", "someone keeps posting abuse about me on facebook"),  # a sensitive topic
        ("wolverhampton", "ive been called into a meeting with HR about something i put on insta last week"),
        ("rutland", "one of the TAs keeps snapchatting year 9 girls late at night and it feels wrong"),
    ],
)
def test_a_personal_or_safeguarding_question_is_sensitive_and_leads_with_its_contact(
    assistant, school, question
):
    answer = assistant.ask(question, school)
    assert answer.sensitive and answer.privacy_note
    assert answer.message and answer.contacts


@pytest.mark.parametrize(
    ("school", "question"),
    [
        ("reading", "can i go on tiktok at lunch?"),
        ("howitt", "can i be friends with colleagues on facebook?"),
        ("wolverhampton", "who can post on the school's facebook page?"),
    ],
)
def test_a_routine_question_is_not_sensitive(assistant, school, question):
    assert not assistant.ask(question, school).sensitive


def test_few_routine_look_alikes_are_flagged_when_each_is_left_out_of_the_routine_list(assistant, kb):
    flagged = []
    for question in kb.routine_examples:
        others = [q for q in kb.routine_examples if q != question]
        check = SensitivityCheck(assistant._snapshot.sensitivity.examples, others, assistant.embedder)
        flagged += [question] if check(question) else []
    assert len(flagged) <= len(kb.routine_examples) * 0.2, flagged


def test_without_the_model_only_topic_and_route_decide():
    assert (
        SensitivityCheck(("someone is threatening me online",), (), None)("someone is threatening me")
        is False
    )
