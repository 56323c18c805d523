"""Keeps the database off the answer's critical path, and answers going when the database is not.

Records wait in a bounded in-memory buffer and a background task writes them in batches. When the database is
down or slow the buffer holds them and the task retries with backoff; past `capacity` the oldest are dropped,
counted and logged. Event deduplication and users' chosen schools fall back to this process's memory while the
database is unreachable, and `health()` says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from bot.dedup import EventDeduplicator
from bot.metrics import Metrics
from bot.store.records import Feedback, Interaction, Preference
from bot.store.store import Store

log = logging.getLogger("policybot.store")

Record = Interaction | Feedback | Preference
BATCH = 200  # small enough that preparing one batch never holds the event loop for long
GATHER_SECONDS = 0.2
QUICK_TIMEOUT = 1.0  # seconds a question may wait on the database for dedup or a chosen school
WRITE_TIMEOUT = 10.0


class Recorder:
    def __init__(self, store: Store | None, metrics: Metrics | None = None, capacity: int = 10_000):
        self.store = store
        self.metrics = metrics or Metrics()
        self.capacity = capacity
        self.pending: deque[Record] = deque()
        self.dropped = 0
        self.degraded = False
        self.last_error: str | None = None
        self.local_events = EventDeduplicator()
        self.local_schools: dict[str, str] = {}
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.in_flight = 0  # records taken from the buffer whose write has not finished
        # False until the schema is known to be in place: records wait, lookups use memory.
        self.ready = store is None

    # -- lifecycle ------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._flush_forever())

    async def stop(self, timeout: float = 5.0) -> None:
        """Let the batch being written finish (cancelling it mid-write would lose it), then write the rest."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        if self._task:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        try:
            await asyncio.wait_for(self.flush_all(), timeout)
        except (TimeoutError, Exception) as exc:  # noqa: BLE001 - shutting down: say what is lost, then go
            log.error("stopping with %d records unwritten: %s", len(self.pending) + self.in_flight, exc)

    # -- recording (never blocks, never raises) -------------------------------------------------------------------
    def record(self, record: Record) -> None:
        if self.store is None:
            return
        if len(self.pending) >= self.capacity:
            self.pending.popleft()
            self.dropped += 1
            self.metrics.records_dropped.inc()
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error(
                    "record buffer full (%d): dropped the oldest record, %d so far",
                    self.capacity,
                    self.dropped,
                )
        self.pending.append(record)
        self.metrics.records_buffered.set(len(self.pending))
        if self._wake is not None:
            self._wake.set()

    # -- writing --------------------------------------------------------------------------------------------------
    async def _flush_forever(self) -> None:
        backoff = 0.25
        assert self._wake is not None
        while not self._stopping:
            if not self.pending:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)
                except TimeoutError:
                    continue
                if self._stopping:
                    return
                # Let a burst gather: fewer, larger transactions cost the answering loop less than many small ones.
                await asyncio.sleep(GATHER_SECONDS)
            if await self.flush_batch():
                backoff = 0.25
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def flush_all(self) -> None:
        while self.pending:
            if not await self.flush_batch():
                raise RuntimeError(self.last_error or "database unavailable")

    async def flush_batch(self) -> bool:
        """Write up to BATCH records; on failure put them back (oldest first) and report False."""
        if self.store is None or not self.pending:
            return True
        if not self.ready:
            return False
        batch = [self.pending.popleft() for _ in range(min(BATCH, len(self.pending)))]
        self.in_flight = len(batch)
        try:
            await asyncio.wait_for(self._write(batch), WRITE_TIMEOUT)
        except BaseException as exc:  # cancelled included: the batch goes back, it is never silently lost  # noqa: BLE001 - any database failure means: keep the records, retry later
            room = self.capacity - len(self.pending)
            keep = batch[-room:] if room > 0 else []
            lost = len(batch) - len(keep)
            if lost:
                self.dropped += lost
                self.metrics.records_dropped.inc(lost)
                log.error("record buffer full: dropped %d oldest records", lost)
            self.pending.extendleft(reversed(keep))
            self.in_flight = 0
            if not isinstance(exc, Exception):
                raise
            self._mark_down(exc)
            return False
        self.in_flight = 0
        self.metrics.records_buffered.set(len(self.pending))
        self._mark_up()
        return True

    async def _write(self, batch: list[Record]) -> None:
        assert self.store is not None
        interactions = [r for r in batch if isinstance(r, Interaction)]
        feedback = [r for r in batch if isinstance(r, Feedback)]
        await self.store.write(interactions, feedback)
        for pref in (r for r in batch if isinstance(r, Preference)):
            await self.store.set_preference(pref.user_hash, pref.school)

    # -- reads that a question waits for, briefly ----------------------------------------------------------------
    async def claim_event(self, key: str) -> bool:
        """First delivery of an event anywhere → True. Falls back to this process's memory if the database is
        unreachable, so a retried event may then be answered by two replicas rather than by none."""
        first_here = self.local_events.first_time(key)
        if self.store is None or not self.ready:
            return first_here
        try:
            claimed = await asyncio.wait_for(self.store.claim_event(key), QUICK_TIMEOUT)
        except Exception as exc:  # noqa: BLE001
            self._mark_down(exc)
            return first_here
        self._mark_up()
        return claimed

    async def school_of(self, user_hash: str) -> str | None:
        if self.store is not None and self.ready:
            try:
                chosen = await asyncio.wait_for(self.store.get_preference(user_hash), QUICK_TIMEOUT)
            except Exception as exc:  # noqa: BLE001
                self._mark_down(exc)
            else:
                self._mark_up()
                if chosen is not None:
                    self.local_schools[user_hash] = chosen
                    return chosen
        return self.local_schools.get(user_hash)

    def set_school(self, user_hash: str, school: str) -> None:
        self.local_schools[user_hash] = school
        self.record(Preference(user_hash, school))

    # -- health ---------------------------------------------------------------------------------------------------
    def _mark_down(self, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"[:200]
        if not self.degraded:
            log.error("database unavailable, buffering records and deduplicating in memory: %s", message)
        self.degraded, self.last_error = True, message
        self.metrics.storage_degraded.set(1)

    def _mark_up(self) -> None:
        if self.degraded:
            log.warning("database back; %d buffered records to write", len(self.pending))
        self.degraded = False
        self.metrics.storage_degraded.set(0)

    def health(self) -> dict:
        return {
            "storage": self.store.kind if self.store else "none",
            "ready": self.ready,
            "degraded": self.degraded,
            "buffered": len(self.pending) + self.in_flight,
            "dropped": self.dropped,
            "last_error": self.last_error if self.degraded else None,
        }
