"""The store behaves the same on SQLite and PostgreSQL: idempotent writes, one claim per event, exact purges."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.store import Feedback, Interaction, Store


def run(url: str, scenario) -> None:
    async def main() -> None:
        store = Store(url)
        try:
            assert await store.upgrade() == "0003"
            await scenario(store)
        finally:
            await store.close()

    asyncio.run(main())


def test_upgrade_is_repeatable(store_url):
    async def scenario(store: Store):
        assert await store.upgrade() == "0003"

    run(store_url, scenario)


def test_an_event_is_claimed_exactly_once_even_when_claims_race(store_url):
    async def scenario(store: Store):
        results = await asyncio.gather(*(store.claim_event("slack:Ev1") for _ in range(10)))
        assert sorted(results) == [False] * 9 + [True]
        assert await store.claim_event("slack:Ev2") is True

    run(store_url, scenario)


def test_writes_are_idempotent_so_a_retried_flush_cannot_duplicate(store_url):
    async def scenario(store: Store):
        interaction = Interaction(
            school="reading", channel="web", status="answered", question="q?", clause_id="reading.2.1"
        )
        vote = Feedback(helpful=False, channel="web", interaction_id=interaction.id, school="reading")
        await store.write([interaction], [vote])
        await store.write([interaction], [vote])
        assert [i.id for i in await store.interactions()] == [interaction.id]
        assert [f.id for f in await store.feedback()] == [vote.id]
        stored = (await store.interactions())[0]
        assert stored.question == "q?" and stored.created_at.tzinfo is not None

    run(store_url, scenario)


def test_a_chosen_school_is_replaced_not_duplicated(store_url):
    async def scenario(store: Store):
        await store.set_preference("user-hash", "reading")
        await store.set_preference("user-hash", "howitt")
        assert await store.get_preference("user-hash") == "howitt"
        assert await store.get_preference("someone-else") is None
        assert await store.count("user_preferences") == 1

    run(store_url, scenario)


def test_purge_removes_exactly_the_rows_older_than_the_cutoff(store_url):
    cutoff = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    second = dt.timedelta(seconds=1)

    async def scenario(store: Store):
        old = [
            Interaction(school="howitt", channel="web", status="answered", created_at=cutoff - second * n)
            for n in (1, 3600)
        ]
        new = [
            Interaction(school="howitt", channel="web", status="answered", created_at=cutoff + second * n)
            for n in (0, 1)
        ]
        votes = [
            Feedback(helpful=True, channel="web", created_at=cutoff - second),
            Feedback(helpful=True, channel="web", created_at=cutoff),
        ]
        await store.write(old + new, votes)
        counts = await store.purge(cutoff)
        assert counts["interactions"] == 2 and counts["feedback"] == 1
        assert sorted(i.id for i in await store.interactions()) == sorted(i.id for i in new)
        assert [f.id for f in await store.feedback()] == [votes[1].id]

    run(store_url, scenario)


def test_upgrading_forgets_event_keys_stored_with_raw_ids_and_keeps_hashed_ones(store_url):
    async def main() -> None:
        store = Store(store_url)
        try:
            assert await store.upgrade("0001") == "0001"
            raw = "teams-greet:a:conv-1:29:raw-member-id"
            hashed = "teams-greet:" + "0" * 32
            for key in (raw, hashed, "slack:Ev1"):
                assert await store.claim_event(key) is True
            assert await store.upgrade("0002") == "0002"
            assert await store.claim_event(hashed) is False  # still there
            assert await store.count("processed_events") == 2
            assert await store.claim_event(raw) is True  # gone, so it could be claimed again
        finally:
            await store.close()

    asyncio.run(main())


def test_a_thread_keeps_whether_each_turn_was_a_follow_up_and_reads_fields_a_newer_release_added(store_url):
    import json

    from sqlalchemy import update

    from bot.records import Thread, Turn
    from bot.store import schema

    async def scenario(store: Store):
        turns = (
            Turn("can we look candidates up on fb?", "recruitment"),
            Turn("on my phone?", follow_up=True),
        )
        await store.save_thread(Thread("k1", "rutland", turns))
        since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
        assert (await store.get_thread("k1", since)).turns == turns
        # a replica one release ahead saved a field this one does not know: the turn still loads
        newer = json.dumps([{"question": "q?", "status": "answered", "mood": "worried"}])
        async with store.engine.begin() as conn:
            await conn.execute(update(schema.threads).where(schema.threads.c.key == "k1").values(turns=newer))
        assert (await store.get_thread("k1", since)).turns == (Turn("q?"),)

    run(store_url, scenario)
