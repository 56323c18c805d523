"""The same question asked again is answered from memory: the same answer, without a search, until something
it depends on (the knowledge base, the date, a thread) changes."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot import Assistant
from bot.answer_memory import AnswerMemory
from bot.conversation import Conversation
from bot.records import Turn

QUESTION = "can i accept a friend request from a parent?"


class CountingAssistant(Assistant):
    """The shipped knowledge base, counting the searches its answers needed."""

    def __init__(self, kb, embedding_cache, today=dt.date.today, **options):
        super().__init__(kb, embedding_cache=embedding_cache, today=today, **options)
        self.searches = 0
        search = self._snapshot.retriever.search

        def counted(*args, **kwargs):
            self.searches += 1
            return search(*args, **kwargs)

        self._snapshot.retriever.search = counted


@pytest.fixture
def counting(kb, embedding_cache):
    return CountingAssistant(kb, embedding_cache)


def test_a_question_asked_again_gets_the_same_answer_without_a_second_search(counting):
    first = counting.ask(QUESTION, "howitt")
    searches = counting.searches
    assert searches >= 1
    again = counting.ask(f"  {QUESTION} ", "howitt")  # the same question once cleaned
    assert again is first
    assert counting.searches == searches
    assert counting.remembered(QUESTION, "howitt") is first


def test_with_no_answer_memory_every_question_is_searched(kb, embedding_cache):
    # POLICYBOT_ANSWER_MEMORY=0: what bench/bench_scale.py runs with, to time the search rather than the memory
    counting = CountingAssistant(kb, embedding_cache, answer_memory=0)
    counting.ask(QUESTION, "howitt")
    searches = counting.searches
    counting.ask(QUESTION, "howitt")
    assert counting.searches == 2 * searches
    assert counting.remembered(QUESTION, "howitt") is None
    counting.swap(kb)  # and a reload keeps the setting
    assert counting._snapshot.answers.size == 0


def test_another_school_or_another_question_is_searched_afresh(counting):
    howitt = counting.ask(QUESTION, "howitt")
    searches = counting.searches
    reading = counting.ask(QUESTION, "reading")
    assert counting.searches > searches and reading.school_id == "reading" != howitt.school_id
    assert counting.remembered("can i post photos of pupils?", "howitt") is None


def test_a_follow_up_is_never_served_from_memory_nor_kept_there(counting):
    counting.ask(QUESTION, "howitt")
    first = counting.ask("and what if it's the head?", "howitt")
    turn = Turn(question=QUESTION)
    searches = counting.searches
    follow_up = counting.ask("and what if it's the head?", "howitt", (turn,))
    assert counting.searches > searches
    assert counting.remembered("and what if it's the head?", "howitt") is first is not follow_up


def test_the_next_day_the_question_is_answered_afresh(kb, embedding_cache):
    today = [dt.date(2026, 11, 26)]
    assistant = CountingAssistant(kb, embedding_cache, today=lambda: today[0])
    assistant.ask(QUESTION, "howitt")
    searches = assistant.searches
    today[0] = dt.date(2026, 11, 27)
    assert assistant.remembered(QUESTION, "howitt") is None
    assistant.ask(QUESTION, "howitt")
    assert assistant.searches > searches


def test_a_reloaded_knowledge_base_starts_with_an_empty_memory(counting, kb):
    counting.ask(QUESTION, "howitt")
    counting.swap(kb)
    assert counting.remembered(QUESTION, "howitt") is None


def test_forgetting_the_answers_makes_the_next_question_search_again(counting):
    counting.ask(QUESTION, "howitt")
    searches = counting.searches
    counting.forget_answers()
    assert counting.remembered(QUESTION, "howitt") is None
    counting.ask(QUESTION, "howitt")
    assert counting.searches > searches


def test_invalid_questions_are_not_remembered_but_left_to_ask_to_refuse(counting):
    for question in ("", "   ", None, 42, "x\x00y", "x" * 5000):
        assert counting.remembered(question, "howitt") is None


def test_the_memory_keeps_only_the_most_recently_used_answers():
    memory = AnswerMemory(size=2)
    day = dt.date(2026, 11, 26)
    memory.put(("a", "q1", day), "one")  # type: ignore[arg-type]
    memory.put(("a", "q2", day), "two")  # type: ignore[arg-type]
    assert memory.get(("a", "q1", day)) == "one"  # now the most recent
    memory.put(("a", "q3", day), "three")  # type: ignore[arg-type]
    assert memory.get(("a", "q2", day)) is None
    assert memory.get(("a", "q1", day)) == "one" and len(memory) == 2
    off = AnswerMemory(size=0)
    off.put(("a", "q1", day), "one")  # type: ignore[arg-type]
    assert off.get(("a", "q1", day)) is None


def test_a_remembered_answer_is_still_logged_once_per_question_with_its_own_id(counting):
    conversation = Conversation(counting)

    async def twice():
        first = await conversation.answer(QUESTION, "howitt", "web")
        second = await conversation.answer(QUESTION, "howitt", "web")
        return first, second

    first, second = asyncio.run(twice())
    assert first.interaction_id and second.interaction_id and first.interaction_id != second.interaction_id
    assert first.clause == second.clause and first.contacts == second.contacts
    assert counting.searches == 1
    assert conversation.metrics.registry.get_sample_value("policybot_answers_remembered_total") == 1
