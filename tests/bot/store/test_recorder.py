"""The recorder keeps answering when the database goes away, and loses nothing it did not have to drop."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import urllib.parse

from bot.metrics import Metrics
from bot.settings import Settings
from bot.store import Feedback, Interaction, Recorder, Store, database_url_for
from bot.store.recorder import GATHER_SECONDS, MAX_WRITE_DELAY
from tests.fakes.tcp_proxy import TcpProxy


def through_proxy(url: str, proxy: TcpProxy) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))


def interaction(n: int) -> Interaction:
    return Interaction(school="reading", channel="web", status="answered", question=f"question {n}")


async def eventually(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_records_wait_while_the_database_is_cut_and_all_arrive_after_it_returns(postgres_url):
    async def main() -> None:
        target = urllib.parse.urlsplit(postgres_url)
        proxy = await TcpProxy(target.hostname, target.port).start()
        store = Store(database_url_for(Settings(database_url=through_proxy(postgres_url, proxy))))
        await store.upgrade()
        recorder = Recorder(store, Metrics())
        recorder.ready = True
        await recorder.start()
        try:
            for n in range(20):
                recorder.record(interaction(n))
            await eventually(lambda: not recorder.pending)
            proxy.cut()
            started = time.perf_counter()
            for n in range(20, 120):
                recorder.record(interaction(n))
            assert time.perf_counter() - started < 0.1  # recording never waits for the database
            assert await recorder.claim_event("slack:EvDown") is True  # memory fallback while it is down
            assert await recorder.claim_event("slack:EvDown") is False
            await eventually(lambda: recorder.degraded)
            assert recorder.health()["degraded"] and recorder.health()["buffered"] > 0
            proxy.restore()
            await eventually(lambda: not recorder.pending and not recorder.degraded, timeout=30)
            assert await store.count("interactions") == 120
            assert recorder.dropped == 0
        finally:
            await recorder.stop()
            await store.close()
            await proxy.stop()

    asyncio.run(main())


def test_a_full_buffer_drops_the_oldest_records_counts_them_and_says_so(tmp_path, caplog):
    async def main() -> None:
        store = Store(database_url_for(Settings(data_dir=tmp_path)))
        metrics = Metrics()
        recorder = Recorder(store, metrics, capacity=10)  # not ready: as if the database were down
        for n in range(25):
            recorder.record(interaction(n))
        assert [r.question for r in recorder.pending] == [f"question {n}" for n in range(15, 25)]
        assert recorder.dropped == 15 and recorder.health()["dropped"] == 15
        assert metrics.records_dropped._value.get() == 15
        await store.upgrade()
        recorder.ready = True
        await recorder.flush_all()
        assert sorted(i.question for i in await store.interactions()) == sorted(
            f"question {n}" for n in range(15, 25)
        )
        await store.close()

    asyncio.run(main())
    assert any("record buffer full" in r.getMessage() for r in caplog.records)


def test_chosen_schools_are_remembered_in_memory_until_the_database_has_them(tmp_path):
    async def main() -> None:
        store = Store(database_url_for(Settings(data_dir=tmp_path)))
        recorder = Recorder(store, Metrics())
        recorder.set_school("user-1", "rutland")
        assert await recorder.school_of("user-1") == "rutland"
        await store.upgrade()
        recorder.ready = True
        await recorder.flush_all()
        assert await store.get_preference("user-1") == "rutland"
        await store.close()

    asyncio.run(main())


def test_stopping_while_a_batch_is_being_written_loses_nothing(postgres_url):
    async def main() -> None:
        store = Store(database_url_for(Settings(database_url=postgres_url)))
        await store.upgrade()
        recorder = Recorder(store, Metrics())
        recorder.ready = True
        await recorder.start()
        for n in range(2000):
            recorder.record(interaction(n))
        await asyncio.sleep(0.25)  # the writer is now mid-way through its batches
        await recorder.stop()
        assert await store.count("interactions") == 2000
        await store.close()

    asyncio.run(main())


def recorder_on(url: str) -> tuple[Store, Recorder, Metrics]:
    metrics = Metrics()
    store = Store(url)
    recorder = Recorder(store, metrics)
    recorder.ready = True
    return store, recorder, metrics


def test_a_record_the_database_refuses_is_set_aside_and_every_other_record_is_written(store_url, caplog):
    async def main() -> None:
        store, recorder, metrics = recorder_on(store_url)
        await store.upgrade()
        try:
            # A record no cleaning can save (a time that is not a time); it bypasses record() on purpose.
            poison = Interaction(school="reading", channel="web", status="answered", question="secret text")
            poison = dataclasses.replace(poison, created_at="not a time")
            for n in range(30):
                recorder.record(interaction(n))
            recorder.pending.append(poison)
            for n in range(30, 60):
                recorder.record(interaction(n))
            await recorder.flush_all()
            assert await store.count("interactions") == 60
            assert list(recorder.set_aside) == [poison] and recorder.health()["set_aside"] == 1
            assert metrics.records_set_aside.labels("refused")._value.get() == 1
            assert not recorder.degraded and not recorder.pending and recorder.in_flight == 0
            # later records are not held up either
            recorder.record(interaction(60))
            await recorder.flush_all()
            assert await store.count("interactions") == 61
        finally:
            await store.close()

    asyncio.run(main())
    said = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
    assert len(said) == 1 and "interaction" in said[0] and "secret text" not in said[0]


def test_records_from_the_issue_are_cleaned_or_set_aside_before_they_are_buffered(store_url):
    async def main() -> None:
        store, recorder, metrics = recorder_on(store_url)
        await store.upgrade()
        try:
            asked = Interaction(
                school="reading", channel="web", status="answered", question="facebook \ud800"
            )
            recorder.record(asked)
            recorder.record(
                Interaction(school="reading", channel="web", status="answered", question="face\x00book")
            )
            recorder.record(
                Feedback(helpful=False, channel="web", interaction_id=asked.id, comment="\udc00!")
            )
            recorder.record(Feedback(helpful=False, channel="web", interaction_id="i" * 40))
            recorder.record(Feedback(helpful=False, channel="web", school="s" * 100))
            assert len(recorder.pending) == 3  # the two that do not fit never enter the buffer
            assert metrics.records_set_aside.labels("too_long")._value.get() == 2
            await recorder.flush_all()
            assert sorted(i.question for i in await store.interactions()) == ["facebook", "facebook \ufffd"]
            assert [f.comment for f in await store.feedback()] == ["\ufffd!"]
            assert metrics.records_set_aside.labels("refused")._value.get() == 0
        finally:
            await store.close()

    asyncio.run(main())


def test_an_unreachable_database_is_not_blamed_on_the_records(tmp_path):
    async def main() -> None:
        # ready, but no tables: every write fails with an operational error, which is an outage
        store, recorder, metrics = recorder_on(database_url_for(Settings(data_dir=tmp_path)))
        try:
            for n in range(5):
                recorder.record(interaction(n))
            assert await recorder.flush_batch() is False
            assert len(recorder.pending) == 5 and recorder.set_aside_count == 0 and recorder.degraded
            assert "INSERT" not in (recorder.last_error or "")  # no SQL in what /admin and the log show
            await store.upgrade()
            await recorder.flush_all()
            assert await store.count("interactions") == 5
        finally:
            await store.close()

    asyncio.run(main())


# -- what a crash can lose -------------------------------------------------------------------------------------


def vote() -> Feedback:
    return Feedback(
        helpful=False, channel="web", school="reading", clause_id="reading.2.1", interaction_id="i" * 32
    )


async def ready_sqlite(tmp_path) -> tuple[Store, Recorder]:
    store = Store(database_url_for(Settings(data_dir=tmp_path)))
    await store.upgrade()
    recorder = Recorder(store, Metrics())
    recorder.ready = True
    return store, recorder


def test_durable_feedback_is_in_the_database_when_the_call_returns(tmp_path):
    async def main() -> None:
        store, recorder = await ready_sqlite(
            tmp_path
        )  # no writer running: only the durable write can put it there
        try:
            given = vote()
            assert await recorder.record_durably(given) is True
            assert [f.id for f in await store.feedback()] == [given.id]
            assert not recorder.pending
        finally:
            await store.close()

    asyncio.run(main())


def test_with_the_database_down_durable_feedback_is_reported_unwritten_and_kept_for_later(
    tmp_path, monkeypatch
):
    async def main() -> None:
        store, recorder = await ready_sqlite(tmp_path)
        real_write = store.write

        async def refused_connection(*args, **kwargs):
            raise ConnectionRefusedError("database down")

        monkeypatch.setattr(store, "write", refused_connection)
        monkeypatch.setattr(store, "ping", refused_connection)
        try:
            given = vote()
            assert await recorder.record_durably(given) is False
            assert recorder.degraded and list(recorder.pending) == [given]
            monkeypatch.setattr(store, "write", real_write)  # the database is back: the buffered vote goes in
            await recorder.flush_all()
            assert [f.id for f in await store.feedback()] == [given.id]
        finally:
            await store.close()

    asyncio.run(main())


def test_a_durable_record_the_database_refuses_is_set_aside_and_reported_unwritten(tmp_path, monkeypatch):
    async def main() -> None:
        store, recorder = await ready_sqlite(tmp_path)

        async def refuse(*args, **kwargs):
            raise ValueError("value too long for type character varying(32)")

        monkeypatch.setattr(store, "write", refuse)
        try:
            assert await recorder.record_durably(vote()) is False
            assert recorder.set_aside_count == 1 and not recorder.pending and not recorder.degraded
        finally:
            await store.close()

    asyncio.run(main())


def test_a_durable_write_at_start_waits_for_the_schema_rather_than_refusing(tmp_path):
    async def main() -> None:
        store, recorder = await ready_sqlite(tmp_path)
        recorder.ready = False

        async def schema_ready_soon() -> None:
            await asyncio.sleep(0.3)
            recorder.ready = True

        try:
            soon = asyncio.create_task(schema_ready_soon())
            assert await recorder.record_durably(vote()) is True
            await soon
        finally:
            await store.close()

    asyncio.run(main())


def test_without_a_database_nothing_is_durable():
    assert asyncio.run(Recorder(None, Metrics()).record_durably(vote())) is False


def test_a_logged_interaction_reaches_a_healthy_database_within_the_promised_delay(tmp_path):
    async def main() -> None:
        store, recorder = await ready_sqlite(tmp_path)
        await recorder.start()
        try:
            await asyncio.sleep(1.2)  # the writer is idle, waiting for work
            worst = 0.0
            for n in range(5):
                recorded_at = time.perf_counter()
                recorder.record(interaction(n))
                while await store.count("interactions") < n + 1:
                    await asyncio.sleep(0.01)
                worst = max(worst, time.perf_counter() - recorded_at)
            assert worst < MAX_WRITE_DELAY, worst
            assert GATHER_SECONDS <= MAX_WRITE_DELAY / 2
        finally:
            await recorder.stop()
            await store.close()

    asyncio.run(main())
