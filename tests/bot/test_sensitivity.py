"""Personal and safeguarding questions are marked sensitive, by their topic, their route or their own wording."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sensitivity import SensitivityCheck
from tests.bot.test_knowledge import _errors, _line_of


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


SUMMONS = "my head wants to see me tomorrow about a facebook comment"


def test_a_summons_put_in_few_words_is_sensitive_by_its_signs_where_meaning_misses_it(assistant, kb):
    by_meaning = SensitivityCheck(
        assistant._snapshot.sensitivity.examples, kb.routine_examples, assistant.embedder
    )
    assert not by_meaning(SUMMONS)  # it reads like an everyday question about posting
    assert assistant._snapshot.sensitivity(SUMMONS)
    answer = assistant.ask(SUMMONS, "crynallt")
    assert answer.sensitive and answer.privacy_note


@pytest.mark.parametrize(
    "question",
    [
        "ive been called into a meeting with hr tomorrow",
        "I'm being investigated over a post, what happens now?",
        "i got a written warning for a facebook comment",
        "a parent has complained about me to the head over my insta",
        "my deputy wants a word about something i put on tiktok",  # "a word", with me understood
    ],
)
def test_the_askers_own_disciplinary_matter_is_sensitive_by_its_signs_without_the_model(kb, question):
    assert SensitivityCheck((), (), None, signs=kb.sensitive_signs)(question)


@pytest.mark.parametrize(
    "question",
    [
        "staff can be suspended for what they post, says the policy",  # nobody in the first person
        "can i post a photo of the football team on the school page?",  # the first person, no sign
        "im investing in a new phone, can i put work email on it",  # "investigat*" is not "invest"
    ],
)
def test_signs_need_the_first_person_and_a_whole_sign(kb, question):
    assert not SensitivityCheck((), (), None, signs=kb.sensitive_signs).shows_signs(question)


def test_no_routine_look_alike_shows_a_sign(kb):
    check = SensitivityCheck((), (), None, signs=kb.sensitive_signs)
    assert [q for q in kb.routine_examples if check.shows_signs(q)] == []


def test_signs_for_an_unknown_kind_or_without_both_lists_are_reported_with_their_line(kb_copy: Path):
    path = kb_copy / "sensitive.yaml"
    text = path.read_text()
    start, end = text.index("signs:\n"), text.index("not_sensitive:")
    path.write_text(
        text[:start]
        + "signs:\n  own_disciplinary:\n    any: [suspended]\n  own_holidays:\n    about: [i]\n    any: [leave]\n"
        + text[end:]
    )
    signs = _line_of(path, "signs:")
    errors = _errors(kb_copy)
    assert (
        f"knowledge/sensitive.yaml:{signs + 1}: signs for `own_disciplinary` must have `about`"
        in "\n".join(errors)
    )
    assert f"knowledge/sensitive.yaml:{signs + 3}: signs for `own_holidays`: no such kind" in "\n".join(
        errors
    )
