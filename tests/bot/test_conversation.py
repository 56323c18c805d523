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


def started(assistant, settings: Settings, **kwargs):
    """A conversation over a real SQLite store whose schema is in place and whose writer runs."""
    store = Store(database_url_for(settings))
    recorder = Recorder(store, Metrics())
    return store, recorder, Conversation(assistant, recorder, **kwargs)


async def _ready(store, recorder) -> None:
    await store.upgrade()
    recorder.ready = True
    await recorder.start()


def test_a_thread_is_kept_in_the_database_hashed_so_another_replica_reads_the_follow_up(assistant, tmp_path):
    settings = Settings(data_dir=tmp_path)

    async def main() -> None:
        store_a, recorder_a, replica_a = started(assistant, settings)
        store_b, recorder_b, replica_b = started(assistant, settings)
        replica_b.hasher = replica_a.hasher  # replicas share POLICYBOT_HASH_SALT
        await _ready(store_a, recorder_a)
        await _ready(store_b, recorder_b)
        try:
            await replica_a.answer("can i go on fb at lunch?", "reading", "web", thread="page-1")
            follow = await replica_b.answer("what about on my own phone?", "reading", "web", thread="page-1")
            assert follow.follow_up and "own equipment" in follow.clause.quote
            assert await replica_b.knows_thread("page-1") and not await replica_b.knows_thread("page-2")
            assert await store_a.count("threads") == 1
            [key] = [row async for row in _keys(store_a)]
            assert "page-1" not in key and key.startswith("thread:")
        finally:
            for recorder, store in ((recorder_a, store_a), (recorder_b, store_b)):
                await recorder.stop()
                await store.close()

    asyncio.run(main())


async def _keys(store):
    from sqlalchemy import select

    from bot.store import schema

    async with store.engine.connect() as conn:
        for row in (await conn.execute(select(schema.threads.c.key))).all():
            yield row[0]


def test_an_idle_thread_is_forgotten_after_30_minutes(assistant, tmp_path):
    import datetime as dt

    from bot.records import Thread, Turn

    async def main() -> None:
        store, recorder, conversation = started(assistant, Settings(data_dir=tmp_path))
        await _ready(store, recorder)
        try:
            key = conversation.hasher.event_key("thread:old")
            stale = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)
            await store.save_thread(Thread(key, "reading", (Turn("can i go on fb at lunch?"),), stale))
            follow = await conversation.answer("what about on my own phone?", "reading", "web", thread="old")
            assert not follow.follow_up
            counts = await store.purge(dt.datetime.now(dt.UTC) - dt.timedelta(days=90), idle_before=stale)
            assert "threads" in counts
        finally:
            await recorder.stop()
            await store.close()

    asyncio.run(main())


def test_with_store_questions_off_a_thread_keeps_no_question_text(assistant, tmp_path):
    async def main() -> None:
        store, recorder, conversation = started(assistant, Settings(data_dir=tmp_path), store_questions=False)
        await _ready(store, recorder)
        try:
            await conversation.answer("can i go on fb at lunch?", "reading", "web", thread="p")
            [thread] = [await recorder.thread(conversation.hasher.event_key("thread:p"))]
            assert thread.turns[0].question is None and thread.turns[0].clause_id == "reading.2.1"
        finally:
            await recorder.stop()
            await store.close()

    asyncio.run(main())


def test_without_storage_threads_live_in_memory(assistant):
    async def main() -> None:
        conversation = Conversation(assistant)
        await conversation.answer("can i go on fb at lunch?", "reading", "web", thread="p")
        follow = await conversation.answer("what about on my own phone?", "reading", "web", thread="p")
        assert follow.follow_up

    asyncio.run(main())


def test_two_messages_of_one_thread_at_once_are_answered_one_after_the_other(assistant, tmp_path):
    async def main() -> None:
        store, recorder, conversation = started(assistant, Settings(data_dir=tmp_path))
        await _ready(store, recorder)
        try:
            first, follow = await asyncio.gather(
                conversation.answer("can i go on fb at lunch?", "reading", "web", thread="tab"),
                conversation.answer("what about on my own phone?", "reading", "web", thread="tab"),
            )
            assert not first.follow_up
            assert follow.follow_up and "own equipment" in follow.clause.quote  # it saw the first turn
            assert len(conversation._threads) == 0
        finally:
            await recorder.stop()
            await store.close()

    asyncio.run(main())


def test_an_escalation_is_recorded_with_the_hashed_asker_and_the_schools_contact(assistant, tmp_path):
    async def main() -> None:
        store, recorder, conversation = started(assistant, Settings(data_dir=tmp_path))
        await _ready(store, recorder)
        try:
            receipt = await conversation.escalate(
                "slack:T1:U1",
                "slack",
                "wolverhampton",
                "headteacher",
                "can i post sports day pics?",
                "w.1",
                "i1",
            )
            [row] = await store.escalations()
            assert receipt.recorded and row.role == "headteacher" and row.school == "wolverhampton"
            assert row.question == "can i post sports day pics?" and row.user_hash != "slack:T1:U1"
            assert receipt.contact_title
            unknown_role = await conversation.escalate("slack:T1:U1", "slack", "reading", {"x": 1})
            assert unknown_role.escalation.role == assistant.kb.schools["reading"].general_contact
        finally:
            await recorder.stop()
            await store.close()

    asyncio.run(main())


def test_an_escalation_for_an_unknown_school_is_refused(assistant):
    import pytest

    from bot.errors import UnknownSchool

    with pytest.raises(UnknownSchool):
        asyncio.run(Conversation(assistant).escalate("web:anonymous", "web", "hogwarts", "headteacher"))


def test_school_followed_by_a_question_is_a_question_not_a_command(assistant):
    conversation = Conversation(assistant, default_school="reading")
    reply = asyncio.run(conversation.reply("school trip pics on fb ok?", "web:a"))
    assert type(reply).__name__ == "Answer"
    chosen = asyncio.run(conversation.reply("school howitt", "web:a"))
    assert type(chosen).__name__ == "SchoolChosen" and chosen.school.id == "howitt"


def test_thanks_and_hello_are_small_talk(assistant):
    conversation = Conversation(assistant, default_school="reading")
    thanks = asyncio.run(conversation.reply("thanks!", "web:a"))
    hello = asyncio.run(conversation.reply("hi", "web:a"))
    assert type(thanks).__name__ == "Notice" and "welcome" in thanks.message
    assert type(hello).__name__ == "Help" and len(hello.examples) == 3


def test_a_second_click_on_the_same_hand_off_is_not_recorded_or_posted_again(assistant, tmp_path):
    async def main() -> None:
        store, recorder, conversation = started(assistant, Settings(data_dir=tmp_path))
        await _ready(store, recorder)
        try:
            args = ("teams:t:u", "teams", "reading", "headteacher", "can i post pics?", "reading.2.1", "i-7")
            first = await conversation.escalate(*args)
            again = await conversation.escalate(*args)
            other = await conversation.escalate("teams:t:someone-else", *args[1:])
            assert not first.duplicate and again.duplicate and again.escalation is None
            assert not other.duplicate
            assert len(await store.escalations()) == 2
        finally:
            await recorder.stop()
            await store.close()

    asyncio.run(main())


def test_what_was_seen_before_the_database_was_ready_still_counts_once_it_is(assistant, tmp_path):
    async def main() -> None:
        store, recorder, conversation = started(assistant, Settings(data_dir=tmp_path))
        try:
            assert await conversation.claim("slack:Ev-early")  # schema not in place yet: memory only
            await conversation.answer("can i go on fb at lunch?", "reading", "web", thread="early")
            await _ready(store, recorder)
            assert not await conversation.claim("slack:Ev-early")
            follow = await conversation.answer(
                "what about on my own phone?", "reading", "web", thread="early"
            )
            assert follow.follow_up
        finally:
            await recorder.stop()
            await store.close()

    asyncio.run(main())


def test_a_sensitive_answer_does_not_carry_its_thread_on(assistant):
    async def main() -> None:
        conversation = Conversation(assistant)
        answer = await conversation.answer(
            "a pupil told me her stepdad hits her, what do i do?", "reading", "slack", thread="C1:1700.1"
        )
        assert answer.sensitive and not await conversation.knows_thread("C1:1700.1")

    asyncio.run(main())


ABUSE = "a parent has been posting horrible things about me on facebook, what do i do?"


def test_in_a_private_conversation_a_sensitive_answer_carries_its_thread_on(assistant):
    async def main() -> None:
        conversation = Conversation(assistant)
        first = await conversation.answer(ABUSE, "reading", "slack", thread="D1", private=True)
        assert first.sensitive and await conversation.knows_thread("D1")
        # "should I reply to her?" alone sits near the child-safety examples; in its thread it is about the parent
        follow = await conversation.answer(
            "should i reply to her?", "reading", "slack", thread="D1", private=True
        )
        assert follow.follow_up and follow.status == "answered"
        assert follow.contacts[0].role != "safeguarding_lead", follow.contacts
        assert "arguing with customers, colleagues, parents" in follow.clause.text

    asyncio.run(main())


def test_a_hand_off_receipt_names_the_school_and_cites_the_clause(assistant):
    receipt = asyncio.run(
        Conversation(assistant).escalate("web:a", "web", "reading", "headteacher", "q", "reading.2.1", "i-1")
    )
    assert receipt.school_name == assistant.kb.schools["reading"].name
    assert receipt.citation and "2.1" in receipt.citation
    stray = asyncio.run(
        Conversation(assistant).escalate("web:a", "web", "reading", "headteacher", "q", "howitt.5.p3")
    )
    assert stray.citation is None


def test_one_vote_per_person_per_answer_is_kept_however_often_it_is_sent(assistant, tmp_path):
    async def main() -> None:
        store, recorder, conversation = started(assistant, Settings(data_dir=tmp_path))
        await _ready(store, recorder)
        try:
            vote = ("web", "reading", "reading.2.1", False, "i" * 32)
            receipts = [await conversation.feedback("web:anonymous", *vote) for _ in range(5)]
            other = await conversation.feedback(
                "slack:T1:U2", "slack", "reading", "reading.2.1", True, "i" * 32
            )
            assert all(r.recorded for r in receipts) and other.recorded
            assert "already recorded" in receipts[-1].message
            assert sorted(f.helpful for f in await store.feedback()) == [False, True]  # one each
        finally:
            await recorder.stop()
            await store.close()

    asyncio.run(main())


class _Unwritable(Recorder):
    """A recorder whose database refuses every write, until `healed`."""

    healed = False

    async def record_durably(self, record) -> bool:
        return await super().record_durably(record) if self.healed else False


def test_a_vote_or_hand_off_that_could_not_be_recorded_is_recorded_when_sent_again(assistant, tmp_path):
    async def main() -> None:
        store = Store(database_url_for(Settings(data_dir=tmp_path)))
        recorder = _Unwritable(store, Metrics())
        conversation = Conversation(assistant, recorder)
        await _ready(store, recorder)
        try:
            vote = ("web:anonymous", "web", "reading", "reading.2.1", True, "j" * 32)
            hand_off = ("slack:T1:U1", "slack", "reading", "headteacher", "can i post?", None, "j" * 32)
            assert not (await conversation.feedback(*vote)).recorded
            assert not (await conversation.escalate(*hand_off)).recorded
            recorder.healed = True
            again = await conversation.feedback(*vote)
            assert again.recorded and "already" not in again.message  # recorded now, not called a repeat
            handed = await conversation.escalate(*hand_off)
            assert handed.recorded and not handed.duplicate
            assert len(await store.feedback()) == 1 and len(await store.escalations()) == 1
        finally:
            await recorder.stop()
            await store.close()

    asyncio.run(main())
