"""A message in a thread is read by its form: a follow-up leans on the question before, anything else stands alone."""

from __future__ import annotations

import dataclasses

import pytest

import bot.followup as followup
from bot.followup import (
    CLEAR_AT,
    CLEAR_FROM,
    LEANING,
    NEW,
    PLAIN,
    ThreadMemory,
    form_of,
    search_in_thread,
    thread_share,
    thread_subject,
    with_turn,
)
from bot.knowledge import Clause
from bot.records import Turn
from bot.retrieval import Hit, SearchResult


@pytest.mark.parametrize(
    "message",
    [
        "and on my own phone?",
        "what about at weekends?",
        "what if it's the head?",
        "who do i tell about that?",
        "could i get sacked for it?",
        "and whatsapp groups?",
        "ok. and the school's fb page?",
        "does that go for TAs as well",
        "if we do, when should it happen?",
        "if so, who do i ask?",
        "if she doesnt, what then",
        "who could explain the process to me?",  # who can, could, will... asks for the thread's contacts
    ],
)
def test_a_message_that_leans_on_the_one_before_is_a_follow_up(message):
    assert form_of(message) == LEANING


@pytest.mark.parametrize(
    "message",
    [
        "ok thanks, how do i book the minibus?",
        "cheers. where's the form for annual leave",
        "new question - can i look up candidates before an interview?",
        "unrelated, but is linkedin covered by the policy",
        "different thing - can i campaign online for a candidate in the local elections?",
        "another thing, are we allowed to use our own phones to take photos on trips",
        "on a different note, does the policy say anything about linkedin",
        "separate topic: who checks the school twitter over the holidays?",
        "ta. also the laminator in the staffroom is jammed again, who sorts that",  # its "that" is the laminator
        "ok thanks, also does the policy cover linkedin?",
    ],
)
def test_thanks_then_a_fresh_question_or_a_stated_change_of_subject_is_new(message):
    assert form_of(message) == NEW


def test_also_without_a_thanks_before_it_still_leans_when_it_refers_back():
    assert form_of("also does that apply at weekends?") == LEANING


def test_a_complete_question_with_no_back_reference_is_plain():
    assert form_of("can i put where i work on my instagram profile?") == PLAIN
    assert (
        form_of("if a parent adds me on facebook can i accept?") == PLAIN
    )  # "if" alone opens a whole question


def test_a_leaning_follow_up_that_stays_on_the_threads_topic_is_answered_though_its_words_are_few(assistant):
    threads = ThreadMemory(assistant)
    first = threads.ask(
        "can we check the candidates' facebook pages before the interviews for the TA post?", "rutland", "t"
    )
    assert first.status == "answered" and first.topic_id == "recruitment"
    follow = threads.ask("if we do, when should it happen and who can advise us?", "rutland", "t")
    assert follow.status == "answered" and follow.follow_up
    assert follow.topic_id == "recruitment" and follow.contacts[0].role == "hr_provider"


def test_asking_who_could_explain_the_process_after_a_disciplinary_question_is_answered_not_declined(
    assistant,
):
    # Few words and none of a rule's: alone it reads as a change of subject, but "who could..." asks for the
    # contacts of the matter in hand.
    threads = ThreadMemory(assistant)
    question = (
        "i shared an offensive meme in a whatsapp group and the head has found out, could i lose my job?"
    )
    assert threads.ask(question, "howitt", "t").status == "answered"
    follow = threads.ask("who could explain the process to me?", "howitt", "t")
    assert follow.status == "answered" and follow.follow_up


def test_the_last_answered_turn_with_words_is_what_a_follow_up_leans_on():
    turns = (
        Turn("can i go on fb at lunch?", "personal_use_at_work", "reading.2.1"),
        Turn("how do i book the minibus", None, None, "no_match"),
        Turn(None, "privacy_settings", "reading.5.1"),  # text not kept
    )
    assert thread_subject(turns) == "can i go on fb at lunch?"


def test_a_follow_up_after_a_follow_up_leans_on_the_question_that_one_leaned_on():
    lunch = Turn("can i go on insta on the school computer at lunch?", "personal_use_at_work", "reading.2.1")
    phone = Turn("and on my own phone during lessons?", "personal_use_at_work", "reading.2.2")
    retention = Turn("how long do they keep the info for", "monitoring", "reading.4.2")
    assert thread_subject((lunch, phone)) == f"{lunch.question} {phone.question}"
    assert thread_subject((lunch, retention)) == retention.question  # a question of its own stands alone
    assert thread_subject((Turn("how do i book the minibus", None, None, "no_match"),)) is None


def test_a_turn_that_was_itself_read_in_its_thread_carries_the_thread_on_whatever_its_form():
    shortlisting = Turn(
        "im shortlisting for a TA post, can we look the candidates up on facebook?", "recruitment"
    )
    # a complete question by its form, but it was answered as a follow-up of the shortlisting question
    phone = Turn(
        "can i just have a quick look myself on my phone, unofficially?", "recruitment", follow_up=True
    )
    assert thread_subject((shortlisting, phone)) == f"{shortlisting.question} {phone.question}"
    alone = Turn("can i just have a quick look myself on my phone, unofficially?", "personal_use_at_work")
    assert thread_subject((shortlisting, alone)) == alone.question


def test_a_third_turn_is_read_in_the_light_of_the_whole_conversation_it_follows(assistant):
    from bot.followup import ThreadMemory

    threads = ThreadMemory(assistant)
    first = threads.ask(
        "we're hiring a new TA, can we check out the applicants' social media?", "rutland", "t"
    )
    second = threads.ask("can i just have a quick look myself on my phone, unofficially?", "rutland", "t")
    third = threads.ask("and if something worrying comes up about one of them?", "rutland", "t")
    assert first.topic_id == "recruitment" and second.follow_up and third.follow_up
    assert third.status == "answered" and third.topic_id == "recruitment", third.clause


def test_a_thread_keeps_its_last_few_turns_only(assistant):
    answer = assistant.ask("can i go on fb at lunch?", "reading")
    turns = ()
    for _ in range(6):
        turns = with_turn(turns, answer)
    assert len(turns) == 4 and turns[-1].clause_id == answer.clause.id
    assert with_turn((), answer, keep_text=False)[0].question is None


def test_a_follow_up_in_a_thread_is_answered_in_context_and_outside_it_is_not(assistant):
    threads = ThreadMemory(assistant)
    first = threads.ask("can i go on fb at lunch?", "reading", "t1")
    follow = threads.ask("what about on my own phone?", "reading", "t1")
    alone = threads.ask("what about on my own phone?", "reading", "t2")
    assert not first.follow_up and follow.follow_up and not alone.follow_up
    assert follow.status == "answered" and "own equipment" in follow.clause.quote


def test_a_drift_out_of_scope_in_a_thread_still_gets_no_match(assistant):
    threads = ThreadMemory(assistant)
    threads.ask("can i accept a friend request from a parent?", "howitt", "t")
    drift = threads.ask("ok thanks, how do i book the minibus for the trip?", "howitt", "t")
    assert drift.status == "no_match" and not drift.follow_up


def test_a_thread_belongs_to_one_school(assistant):
    threads = ThreadMemory(assistant)
    threads.ask("can i go on fb at lunch?", "reading", "t")
    other = threads.ask("what about on my own phone?", "howitt", "t")
    assert not other.follow_up


def test_a_worry_about_a_child_in_a_thread_is_read_on_its_own(assistant):
    threads = ThreadMemory(assistant)
    threads.ask("can i go on fb at lunch?", "reading", "t")
    threads.ask("what about on my own phone?", "reading", "t")
    worry = threads.ask("a pupil told me her mum's boyfriend hurts her, who do i tell", "reading", "t")
    assert worry.status == "answered" and not worry.follow_up
    assert [c.role for c in worry.contacts] == ["safeguarding_lead"]  # not the lunchtime rule's line manager


def test_the_clearer_a_message_reads_on_its_own_the_less_the_thread_counts():
    assert thread_share(None) == 1.0  # without the model there is no measure of clarity
    assert thread_share(CLEAR_FROM - 0.1) == thread_share(CLEAR_FROM) == 1.0
    assert thread_share((CLEAR_FROM + CLEAR_AT) / 2) == pytest.approx(0.5)
    assert thread_share(CLEAR_AT) == thread_share(CLEAR_AT + 0.1) == 0.0


class _ScriptedRetriever:
    """Scores each search by which text it was given: the message alone, the thread's question alone, or both."""

    def __init__(
        self, alone: SearchResult, subject: SearchResult, message: str = "what if a parent adds me?"
    ):
        self.alone, self.subject, self.message = alone, subject, message

    def search(self, school_id: str, question: str, limit: int) -> SearchResult:
        return self.alone if question == self.message else self.subject


def _clause(cid: str) -> Clause:
    return Clause(id=cid, policy_id="p", section="1", heading="", text=cid)


def _found(scores: dict[str, float], semantic: float) -> SearchResult:
    hits = tuple(Hit(_clause(c), s) for c, s in scores.items())
    return SearchResult(hits, True, 1.0, ("term",), semantic=semantic)


@pytest.mark.parametrize(("semantic", "expected"), [(0.80, "friends"), (0.40, "lunch")])
def test_a_follow_up_that_names_its_own_rule_is_not_outvoted_by_the_thread(semantic, expected):
    # The thread was about lunchtime use; the message, on its own, points at the rule on parents' friend requests.
    thread = (Turn("can i go on fb at lunch?", "breaks", "lunch", "answered"),)
    retriever = _ScriptedRetriever(
        alone=_found({"friends": 2.0, "lunch": 1.6}, semantic), subject=_found({"lunch": 3.0}, 0.8)
    )
    found = search_in_thread(retriever, "s", "what if a parent adds me?", thread, 3)
    assert followup.form_of("what if a parent adds me?") == LEANING and found.follow_up
    assert found.result.hits[0].clause.id == expected


def test_a_follow_up_leans_towards_clauses_on_the_topic_of_the_threads_last_answer(monkeypatch):
    # "could i lose my job over it?" after a post about the school: of two clauses the message alone finds about
    # as near, the one on the thread's topic is the answer; without the topic prior the other one edges it.
    thread = (Turn("can i moan about slt on fb?", "criticising_employer", "criticism", "answered"),)
    on_topic = Clause(
        id="sanctions", policy_id="p", section="1", heading="", text="", topics=("criticising_employer",)
    )
    alone = SearchResult(
        (Hit(_clause("misconduct"), 2.0), Hit(on_topic, 1.9)), True, 1.0, ("term",), semantic=0.40
    )
    message = "could i lose my job over it?"
    retriever = _ScriptedRetriever(alone=alone, subject=_found({}, 0.8), message=message)

    def first() -> str:
        return search_in_thread(retriever, "s", message, thread, 3).result.hits[0].clause.id

    assert first() == "sanctions"
    monkeypatch.setattr(followup, "TOPIC_PRIOR", 0.0)
    assert first() == "misconduct"


@pytest.mark.parametrize(
    ("message", "read_in_thread"),
    [
        ("so lunch is fine?", True),  # a fragment
        ("and can we do a push on there about the parking rules at pick up?", True),  # "on there": the page
        ("so when is pay day this month then?", False),  # leans by its opening only
        ("and how do i book the minibus for the trip?", False),
    ],
)
def test_a_message_that_refers_back_is_judged_with_its_thread_one_that_only_opens_like_a_follow_up_is_not(
    message, read_in_thread
):
    # Alone, "so lunch is fine?" can sit nearer scope.yaml's "what's for school dinner today" than any clause;
    # with the thread's question it is plainly about using facebook at work.
    thread = (
        Turn(
            "can i check fb on my phone while the class are reading?",
            "personal_use_at_work",
            "use",
            "answered",
        ),
    )
    alone = dataclasses.replace(_found({"dinner": 1.0}, 0.45), confident=False, off_topic=True)
    retriever = _ScriptedRetriever(alone=alone, subject=_found({"use": 3.0}, 0.8), message=message)
    found = search_in_thread(retriever, "s", message, thread, 3)
    assert followup.form_of(message) == LEANING
    assert found.follow_up is read_in_thread
    assert found.result.off_topic is not read_in_thread


def test_a_whole_question_out_of_scope_in_a_thread_is_still_declined_even_when_it_leans(assistant):
    memory = ThreadMemory(assistant)
    memory.ask("can i check fb on my own phone while the class are doing quiet reading?", "rutland", "t")
    assert memory.ask("so when is pay day this month, is it the 28th?", "rutland", "t").status == "no_match"
