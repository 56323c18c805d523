"""The recorder keeps answering when the database goes away, and loses nothing it did not have to drop."""

from __future__ import annotations

import asyncio
import time
import urllib.parse

from bot.metrics import Metrics
from bot.settings import Settings
from bot.store import Interaction, Recorder, Store, database_url_for
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
