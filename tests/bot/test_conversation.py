"""What a conversation hands the recorder: feedback keeps no free text when questions are not to be kept."""

from __future__ import annotations

import asyncio

from bot.conversation import Conversation
from bot.metrics import Metrics
from bot.settings import Settings
from bot.store import Recorder, Store, database_url_for


def pending_feedback(assistant, tmp_path, store_questions: bool, **vote) -> list:
    store = Store(database_url_for(Settings(data_dir=tmp_path)))
    recorder = Recorder(store, Metrics())  # not started: records stay in the buffer for the test to read
    conversation = Conversation(assistant, recorder, store_questions=store_questions)
    asyncio.run(
        conversation.feedback("web:anonymous", "web", "reading", "reading.2.1", False, "i" * 32, **vote)
    )
    asyncio.run(store.close())
    return list(recorder.pending)


def test_with_store_questions_off_a_feedback_comment_is_not_kept(assistant, tmp_path):
    [vote] = pending_feedback(assistant, tmp_path, False, comment="my head said I could post it")
    assert vote.comment is None and vote.helpful is False and vote.interaction_id == "i" * 32


def test_with_store_questions_on_the_comment_is_kept(assistant, tmp_path):
    [vote] = pending_feedback(assistant, tmp_path, True, comment="wrong clause")
    assert vote.comment == "wrong clause"


def test_ids_from_a_client_that_are_not_text_are_dropped(assistant, tmp_path):
    store = Store(database_url_for(Settings(data_dir=tmp_path)))
    recorder = Recorder(store, Metrics())
    conversation = Conversation(assistant, recorder)
    asyncio.run(conversation.feedback("teams:t:u", "teams", {"x": 1}, 7, 1, ["i"], comment=42))  # type: ignore[arg-type]
    asyncio.run(store.close())
    [vote] = recorder.pending
    assert (vote.school, vote.clause_id, vote.interaction_id, vote.comment, vote.helpful) == (
        None,
        None,
        None,
        None,
        True,
    )
