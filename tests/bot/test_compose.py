"""The composed Answer: quote and citation, the school's variant, other schools' differences, contacts."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from bot import Answer, Assistant, InvalidQuestion, UnknownSchool


def test_answer_quotes_the_clause_with_policy_section_and_heading(assistant):
    answer = assistant.ask("who do i report a breach of the policy to", "wolverhampton")
    assert answer.status == "answered"
    assert answer.clause.citation.startswith("Social Media Policy for school-based employees")
    assert "§" in answer.clause.citation
    assert answer.contacts[0].role == "headteacher"


def test_answer_is_frozen(assistant):
    answer = assistant.ask("can i be friends with pupils", "wolverhampton")
    assert isinstance(answer, Answer)
    with pytest.raises(dataclasses.FrozenInstanceError):
        answer.status = "no_match"


def test_concern_about_the_headteacher_routes_to_the_chair_of_governors(assistant, kb):
    answer = assistant.ask(
        "who do i report a colleague's breach to, and what if it's the head?", "wolverhampton"
    )
    roles = [c.role for c in answer.contacts]
    assert roles[:2] == ["headteacher", "chair_of_governors"] or "chair_of_governors" in roles


def test_crynallt_answer_adds_the_other_applicable_document_on_the_same_topic(assistant):
    answer = assistant.ask("can i accept a friend request from a parent", "crynallt")
    assert answer.clause is not None and answer.school_variant is not None
    assert {answer.clause.policy_id, answer.school_variant.policy_id} == {"npt", "crynallt"}


def test_other_schools_differences_are_noted_and_exclude_the_askers_own(assistant):
    answer = assistant.ask("can i use social media on my lunch break", "reading")
    assert answer.variants
    others = {s for v in answer.variants for s in v.school_ids}
    assert "reading" not in others and others <= {"howitt", "wolverhampton", "crynallt", "rutland"}
    assert all(v.note for v in answer.variants)


def test_no_match_says_so_plainly_and_offers_the_general_contact(assistant):
    answer = assistant.ask("How many days of annual leave do I get?", "reading")
    assert answer.status == "no_match" and answer.clause is None
    assert "does not cover" in answer.message
    assert [c.role for c in answer.contacts] == ["hr_provider"]


def test_at_most_two_alternatives_and_three_contacts(assistant):
    answer = assistant.ask("what happens if i post something offensive about a colleague", "rutland")
    assert len(answer.alternatives) <= 2 and len(answer.contacts) <= 3
    assert answer.clause.id not in {a.id for a in answer.alternatives}


def test_quoting_a_policy_past_its_review_date_carries_a_note(kb):
    assistant = Assistant(kb, today=lambda: dt.date(2026, 11, 23))
    answer = assistant.ask("can i check facebook on my phone at work", "rutland")
    assert (
        answer.review_note
        == "This policy was due for review in January 2020. Check with HR that it is current."
    )
    assert (
        Assistant(kb, today=lambda: dt.date(2019, 6, 1))
        .ask("can i check facebook at work", "rutland")
        .review_note
        is None
    )


@pytest.mark.parametrize("question", ["", "   ", None, 42, "x" * 1001])
def test_empty_non_text_or_over_long_questions_are_typed_errors(assistant, question):
    with pytest.raises(InvalidQuestion) as err:
        assistant.ask(question, "howitt")
    assert err.value.user_message


def test_unknown_school_is_refused_before_any_search(assistant):
    with pytest.raises(UnknownSchool):
        assistant.ask("can i post pics", "hogwarts")
