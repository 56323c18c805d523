"""scope.yaml's `off_topic` questions: what staff ask at work that no social media policy answers is declined,
by meaning, on a first question and in a thread alike; a worry about a child never is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.followup import ThreadMemory
from bot.retrieval import OffTopicIndex
from tests.bot.test_knowledge import _errors, _line_of


def test_the_shipped_scope_lists_off_topic_questions_that_name_no_social_media(kb):
    assert len(kb.off_topic_examples) >= 40
    words = [w for w in kb.social_media_words if " " not in w and w not in ("post", "friend", "profile")]
    assert not [q for q in kb.off_topic_examples if any(w in q.split() for w in words)]


def test_off_topic_that_is_not_a_list_of_questions_is_refused_with_its_line(kb_copy: Path):
    path = kb_copy / "scope.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("off_topic:")] + "off_topic: when is pay day\n")
    line = _line_of(path, "off_topic: when")
    assert f"knowledge/scope.yaml:{line}: `off_topic` must be a list of questions" in _errors(kb_copy)


def test_a_question_about_work_but_not_the_policy_is_declined_though_it_shares_a_word(assistant):
    found = assistant.retriever.search("reading", "who is on lunch duty on thursday?")
    assert found.off_topic and not found.confident  # "lunch" is in the rules on breaks
    assert assistant.ask("who is on lunch duty on thursday?", "reading").status == "no_match"
    assert assistant.ask("how do i book a meeting room at county hall", "rutland").status == "no_match"


def test_policy_questions_near_work_matters_are_still_answered(assistant):
    for school, question in [
        ("reading", "can i go on insta at lunch?"),
        ("howitt", "can i use the school laptop at home to check my facebook"),
        ("wolverhampton", "can i put photos from the school trip on my own instagram"),
        ("crynallt", "can i post about pay cuts on twitter"),
    ]:
        assert not assistant.retriever.search(school, question).off_topic, question
        assert assistant.ask(question, school).status == "answered", question


def test_a_drift_that_leans_on_the_thread_in_form_is_declined(assistant):
    threads = ThreadMemory(assistant)
    threads.ask("can i go on fb at lunch?", "reading", "t")
    drift = threads.ask("and where do i hand in my timesheet?", "reading", "t")
    assert drift.status == "no_match" and not drift.follow_up
    follow = threads.ask("and on my own phone?", "reading", "t")  # the thread is still there for a real one
    assert follow.status == "answered" and follow.follow_up


def test_a_worry_about_a_child_takes_its_route_whatever_else_it_is_near(assistant):
    answer = assistant.ask("a boy in my class told me his stepdad hits him, who do i tell?", "howitt")
    assert answer.status == "answered" and answer.contacts[0].role == "safeguarding_lead"


def test_without_the_embedding_model_nothing_is_taken_for_off_topic():
    index = OffTopicIndex(("when is pay day",), None)
    assert not index.nearer(np.ones(384, dtype=np.float32), 0.0)
    assert not index.nearer(None, 0.0)


def test_a_lie_about_the_asker_on_a_community_page_is_answered_not_declined(assistant):
    # "the community page" is what staff call a local Facebook group: a wordy worry that names no platform
    # otherwise shares too few words with the rule to pass the gate on them.
    question = "a parent wrote on the village community page that i lost a child on the school trip, it never happened. what can i do"
    answer = assistant.ask(question, "crynallt")
    assert answer.status == "answered"
    assert answer.clause is not None and answer.clause.id == "npt.8.1"


@pytest.mark.parametrize(
    "question",
    [
        "would forwarding a meme that makes fun of the inspectors get me into bother",
        "is making a meme about my deputy head ok if its just a joke",
    ],
)
def test_a_question_about_sharing_a_meme_is_answered_not_declined(assistant, question):
    # A meme is social media content whatever platform it is on; without "meme" among scope.yaml's words,
    # these name no platform and share too few words with the rules on offensive posts to pass the gate.
    answer = assistant.ask(question, "howitt")
    assert answer.status == "answered"
    assert answer.clause is not None and answer.clause.id.startswith("howitt.")


def test_off_topic_questions_hr_adds_near_a_worry_about_a_child_do_not_make_it_declined(
    kb_copy, embedding_cache
):
    # Declining a worry about a child is the most harmful answer there is, so scope.yaml's off-topic questions
    # turn a worry away only when clearly nearer them than the route's own examples, as they must be to turn a
    # clause's question away. Two questions about parents confronting staff in person once declined this one.
    from bot.assistant import Assistant
    from bot.knowledge import load_knowledge

    path = kb_copy / "scope.yaml"
    text = path.read_text()
    extra = (
        '  - "a dad shouted at me in the playground at pick up, how should i deal with it"\n'
        '  - "a parent was rude to me face to face at the school gate this morning, what do i do"\n'
    )
    path.write_text(text.replace("off_topic:\n", "off_topic:\n" + extra, 1))
    edited = Assistant(load_knowledge(kb_copy), embedding_cache=embedding_cache)
    assert "a dad shouted at me in the playground at pick up, how should i deal with it" in (
        edited.kb.off_topic_examples
    )
    answer = edited.ask("a boy in my class came in with a black eye and says his stepdad did it", "howitt")
    assert answer.status == "answered" and answer.contacts[0].role == "safeguarding_lead"


@pytest.mark.parametrize(
    "question",
    [
        "the council laptop i was given keeps crashing, who do i contact",
        "who can i contact about my laptop not working",
    ],
)
def test_a_broken_work_laptop_is_declined_though_a_rule_names_council_laptops(assistant, question):
    # Rutland's rule on using council equipment shares "laptop" and "contact" with these; scope.yaml's question
    # about a laptop that keeps freezing is what turns them away.
    assert assistant.ask(question, "rutland").status == "no_match"


def test_a_question_about_a_podcast_is_answered_not_declined(assistant):
    # Wolverhampton's policy names podcasts among social media; without the word in scope.yaml, a question naming
    # no other platform shared too few words with the rules to pass the gate.
    assert (
        assistant.ask("i do a weekly podcast about teaching, does that count", "howitt").status == "answered"
    )


@pytest.mark.parametrize(
    ("question", "school"),
    [
        ("is a quick scroll on my phone ok while the class is in assembly", "reading"),
        ("can i tell the mums group im in about the new headteacher before its announced", "crynallt"),
    ],
)
def test_a_scroll_or_a_mums_group_is_social_media_though_no_platform_is_named(assistant, question, school):
    # Staff say "a quick scroll" for reading a feed and "the mums group" for a parents' Facebook or WhatsApp
    # group; without them among scope.yaml's words these shared too few words with the rules to pass the gate.
    assert assistant.ask(question, school).status == "answered"


def test_how_to_appeal_a_pay_decision_is_a_drift_even_after_a_question_about_posting_about_pay(assistant):
    threads = ThreadMemory(assistant)
    threads.ask("can i tweet about my pay rise being refused if i dont name the school", "wolverhampton", "t")
    assert threads.ask(
        "ok so how do i appeal against the pay decision then", "wolverhampton", "t"
    ).status == ("no_match")


@pytest.mark.parametrize(
    ("question", "school"),
    [
        (
            "i want to moan about the new timetable online, is that allowed if i dont name anyone?",
            "wolverhampton",
        ),
        ("is discord allowed on council laptops", "rutland"),
    ],
)
def test_venting_online_or_a_platform_no_rule_names_is_social_media(assistant, question, school):
    # "vent about it online" is how staff put posting a complaint, and three writers used it apart; Discord,
    # Pinterest, Reddit and the like are platforms no policy lists. Without them among scope.yaml's words these
    # shared too few words with the rules to pass the gate.
    assert assistant.ask(question, school).status == "answered"


def test_how_parents_use_the_online_complaints_form_is_declined(assistant):
    # Complaining online counts as social media above; a parent's complaint through the school's own web form is
    # the complaints procedure, which scope.yaml's off-topic questions turn away.
    question = "how do parents complain online about a teacher, is there a form on the school website?"
    assert assistant.ask(question, "reading").status == "no_match"
