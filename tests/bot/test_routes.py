"""routes.yaml is HR's file like any other: every mistake in it is a `file:line` error, and none loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.test_knowledge import _errors, _line_of


def test_the_shipped_child_safety_route_leads_to_the_dsl(kb):
    (route,) = kb.routes
    assert (route.id, route.topic, route.lead) == ("child_safety", "safeguarding", "safeguarding_lead")
    assert len(route.examples) >= 40 and "Designated Safeguarding Lead" in route.message


def test_an_unknown_topic_or_role_is_reported_with_its_line(kb_copy: Path):
    path = kb_copy / "routes.yaml"
    text = path.read_text().replace("topic: safeguarding", "topic: safegarding")
    path.write_text(text.replace("lead: safeguarding_lead", "lead: dsl"))
    errors = _errors(kb_copy)
    assert (
        f"knowledge/routes.yaml:{_line_of(path, 'topic: safegarding')}: route `child_safety`: unknown topic `safegarding`"
        in errors
    )
    assert (
        f"knowledge/routes.yaml:{_line_of(path, 'lead: dsl')}: route `child_safety`: unknown contact role `dsl`"
        in errors
    )


def test_examples_that_are_not_a_list_of_questions_are_refused(kb_copy: Path):
    path = kb_copy / "routes.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("    examples:")] + "    examples: worried about a child\n")
    errors = _errors(kb_copy)
    line = _line_of(path, "examples: worried")
    assert (
        f"knowledge/routes.yaml:{line}: route `child_safety`: `examples` must be a list of questions"
        in errors
    )


def test_a_school_without_the_lead_role_is_reported(kb_copy: Path):
    school = kb_copy / "schools" / "reading.yaml"
    lines = [
        line for line in school.read_text().splitlines() if not line.strip().startswith("safeguarding_lead:")
    ]
    school.write_text("\n".join(lines) + "\n")
    assert any("safeguarding_lead" in e and "reading" in e for e in _errors(kb_copy))


def _route_block_replaced(kb_copy: Path, key: str, replacement: str) -> int:
    """routes.yaml with the child-safety route's block from `key:` up to its examples replaced; the line of the
    replacement's first line."""
    path = kb_copy / "routes.yaml"
    text = path.read_text()
    start, end = text.index(f"    {key}:"), text.index("    examples:")
    path.write_text(text[:start] + replacement + text[end:])
    return _line_of(path, replacement.splitlines()[0])


def test_signs_without_both_lists_are_reported_with_their_line(kb_copy: Path):
    line = _route_block_replaced(kb_copy, "signs", "    signs:\n      any: [bruise]\n")
    assert any(
        e.startswith(f"knowledge/routes.yaml:{line}: route `child_safety`: `signs` must have `about`")
        for e in _errors(kb_copy)
    )


def test_the_shipped_route_names_children_and_unmistakable_signs_of_harm(kb):
    (route,) = kb.routes
    assert {"pupil", "child", "kid"} <= set(route.about)
    assert {"bruise", "self harm", "groom", "nude"} <= set(route.signs)
    # words with an everyday meaning would send ordinary questions to the DSL
    assert not {"cut", "belt", "kill", "hit", "black eye"} & set(route.signs)


@pytest.mark.parametrize("semantic", [True, False], ids=["with the model", "keywords alone"])
def test_a_child_with_a_sign_of_harm_takes_the_route_however_the_question_is_worded(semantic, kb, assistant):
    from bot import Assistant

    asker = assistant if semantic else Assistant(kb, embedder=None)
    # Its words sit near the rules on posting photos; without the signs, three of five schools quoted those.
    question = "a pupil has been posting photos of bruises with the caption 'home sweet home'"
    for school in ("howitt", "wolverhampton", "crynallt", "rutland", "reading"):
        answer = asker.ask(question, school)
        assert answer.status == "answered" and answer.contacts[0].role == "safeguarding_lead", school
        assert answer.sensitive, school


def test_a_sign_word_without_a_child_or_a_child_without_a_sign_takes_no_route(assistant):
    for question in (
        "is it ok to share a news article about suicide prevention week on the school page",
        "can i post a photo of my son's karate grading on my facebook",
    ):
        answer = assistant.ask(question, "reading")
        assert answer.status == "answered" and answer.contacts[0].role != "safeguarding_lead", question


def test_an_unmistakable_worry_quotes_the_schools_safeguarding_clause_not_a_clause_its_words_match(assistant):
    # Its words ("messaging", "snapchat") match Wolverhampton's rules on messaging colleagues; its meaning is a
    # child being groomed, and Wolverhampton's policy has a clause for exactly that.
    question = "a girl in year 4 says a teenage boy keeps messaging her on snapchat asking for photos, she is frightened"
    answer = assistant.ask(question, "wolverhampton")
    assert answer.contacts[0].role == "safeguarding_lead"
    assert answer.clause is not None and answer.clause.id == "wolverhampton.11.1"


def test_a_borderline_route_keeps_the_clause_the_search_is_sure_of(assistant):
    from bot.retrieval import ROUTE_CLEAR

    question = (
        "a dad keeps messaging me on facebook about his daughter's spelling homework, what should i do?"
    )
    found = assistant.retriever.search("wolverhampton", question)
    if found.route is not None:  # near the route's examples, but not clearly nearer them than the clauses'
        assert not found.route_clear
    answer = assistant.ask(question, "wolverhampton")
    assert answer.clause is not None and answer.clause.id != "wolverhampton.11.1"
    assert ROUTE_CLEAR > 0


def test_a_question_nearer_the_questions_no_policy_answers_than_the_worries_is_not_routed(assistant):
    question = (
        "a mum wants to pay for her son's school trip by card over the phone, how do i take the payment"
    )
    found = assistant.retriever.search("crynallt", question)
    assert found.route is None
    assert assistant.ask(question, "crynallt").message.startswith("A worry about a child") is False


def test_unless_words_that_are_not_a_list_are_reported_with_their_line(kb_copy: Path):
    line = _route_block_replaced(kb_copy, "unless", "    unless: calling me\n")
    assert (
        f"knowledge/routes.yaml:{line}: route `child_safety`: `unless` must be a list of words or short phrases"
        in _errors(kb_copy)
    )


@pytest.mark.parametrize("semantic", [True, False], ids=["with the model", "keywords alone"])
def test_a_pupil_abusing_the_asker_is_not_routed_to_the_dsl(semantic, kb, assistant):
    from bot import Assistant

    asker = assistant if semantic else Assistant(kb, embedder=None)
    # Near the route's examples of pupils messaging staff; the routed answer led with the DSL and the message
    # about a child's safety at Howitt, Crynallt and Rutland.
    question = "a yr 11 lad sent me a message on insta calling me a slag and saying hell get me after school"
    for school in ("howitt", "wolverhampton", "crynallt", "rutland", "reading"):
        found = asker.retriever.search(school, question)
        answer = asker.ask(question, school)
        assert found.route is None, school
        assert answer.sensitive, school  # abuse of staff is answered privately in a shared channel
        # Rutland's and Reading's policies have no clause on staff abused online: their nearest rule may be one on
        # pupils (Rutland's on friendship with pupils, whose contact is the DSL), so only the three that have one
        # are held to leading with someone else.
        if school in ("howitt", "wolverhampton", "crynallt"):
            assert answer.contacts and answer.contacts[0].role != "safeguarding_lead", school


def test_a_sign_of_harm_takes_the_route_even_beside_unless_words(assistant):
    question = (
        "a yr 9 girl who has been self harming keeps messaging me and calling me names when i dont reply"
    )
    for school in ("howitt", "rutland"):
        answer = assistant.ask(question, school)
        assert answer.contacts[0].role == "safeguarding_lead", school
