"""Keeps the database off the answer's critical path, and answers going when the database is not.

Records wait in a bounded in-memory buffer and a background task writes them in batches. When the database is
down or slow the buffer holds them and the task retries with backoff; past `capacity` the oldest are dropped,
counted and logged. Event deduplication and users' chosen schools fall back to this process's memory while the
database is unreachable, and `health()` says so.

One record must never hold up the others. Each is cleaned and length-checked before it is buffered
(`bot.store.fit`); one that does not fit is set aside. If a reachable database still refuses a batch, the batch
is written one record at a time: whatever the database refuses on its own is set aside, and the rest goes in.
Set-aside records are logged (kind, id and reason, never their content) and counted in
`policybot_records_set_aside_total`.

What a crash (kill -9, power loss) can lose, which the README promises: an interaction record is written within
MAX_WRITE_DELAY of its answer while the database is healthy, so a crash loses at most the last second or so of
the log (`bench/bench_crash.py` measures it). Feedback is different: the person was told it was recorded, so
`record_durably` writes it before anyone says so, and says when it could not.

The recorder also keeps the database in shape while the server runs (`start_upkeep`): it applies migrations,
retrying while the database is unreachable (answers flow meanwhile), and purges records older than the
retention period at start and then daily.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

from bot.dedup import EventDeduplicator
from bot.metrics import Metrics
from bot.records import Escalation, Feedback, Interaction, Preference, Thread
from bot.store.fit import RecordDoesNotFit, fit
from bot.store.store import Store

log = logging.getLogger("policybot.store")

Record = Interaction | Feedback | Preference | Escalation
BATCH = 200  # small enough that preparing one batch never holds the event loop for long
# How long the writer lets a burst gather before writing it: fewer, larger transactions cost the answering loop
# less than many small ones. It bounds what a crash loses (with the write itself, a few ms on a healthy
# database), so it must stay well under MAX_WRITE_DELAY.
GATHER_SECONDS = 0.2
MAX_WRITE_DELAY = 1.0  # the promise: a healthy database has every record within this of its answer
DURABLE_TIMEOUT = 3.0  # seconds a person waits for their feedback to be written before being told it was not
QUICK_TIMEOUT = 1.0  # seconds a question may wait on the database for dedup or a chosen school
THREAD_LOCK_WAIT = 2.0  # seconds a thread's message waits for another replica to finish the one before it
# Threads held at once against other replicas, each on a connection of its own: well under the pool's 15 (5 and
# 10 overflow), so the reads and writes the holders make while they hold always find a connection in the end.
THREAD_LOCKS = 8
WRITE_TIMEOUT = 10.0
THREAD_IDLE = dt.timedelta(
    minutes=30
)  # a thread not used for this long is forgotten: a new message starts afresh
LOCAL_THREADS = 10_000  # threads kept in this process's memory (all of them without a database)
KEEP_SET_ASIDE = 100  # the most recent set-aside records, kept in memory for a look from a debugger or test


def describe(exc: BaseException) -> str:
    """An error's class and first line, without the SQL statement SQLAlchemy appends, for logs and /admin."""
    orig = getattr(exc, "orig", None)
    inner = orig if isinstance(orig, BaseException) else exc
    first = next(iter(str(inner).splitlines()), "")
    return f"{type(inner).__name__}: {first}"[:200]


def _kind(exc: BaseException) -> str:
    """The error's class, and the driver's underneath: a refusal's message may quote the record's content."""
    orig = getattr(exc, "orig", None)
    return (
        f"{type(exc).__name__}/{type(orig).__name__}"
        if isinstance(orig, BaseException)
        else type(exc).__name__
    )


def _is_outage(exc: BaseException) -> bool:
    """Errors that say the database is unreachable or slow, as opposed to refusing a record's content."""
    if isinstance(exc, TimeoutError | OSError | OperationalError | InterfaceError | DisconnectionError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class Recorder:
    def __init__(self, store: Store | None, metrics: Metrics | None = None, capacity: int = 10_000):
        self.store = store
        self.metrics = metrics or Metrics()
        self.capacity = capacity
        self.pending: deque[Record] = deque()
        self.dropped = 0
        self.set_aside: deque[Record] = deque(maxlen=KEEP_SET_ASIDE)
        self.set_aside_count = 0
        self.degraded = False
        self.last_error: str | None = None
        self.local_events = EventDeduplicator()
        self.local_schools: dict[str, str] = {}
        self.local_threads: OrderedDict[str, Thread] = OrderedDict()
        self._thread_locks = asyncio.Semaphore(THREAD_LOCKS)
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.in_flight = 0  # records taken from the buffer whose write has not finished
        self._writing: list[Record] = []  # those records, oldest first; they go back to the buffer on failure
        # False until the schema is known to be in place: records wait, lookups use memory.
        self.ready = store is None
        self._upkeep: list[asyncio.Task] = []

    # -- lifecycle ------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._flush_forever())

    def start_upkeep(self, retention_days: int) -> None:
        """Bring the schema up to date in the background, then purge past `retention_days` (0: never) daily."""
        if self.store is None:
            return
        log.info("storage: %s", self.store.kind)
        self._upkeep = [asyncio.create_task(self._prepare_schema())]
        if retention_days > 0:
            self._upkeep.append(asyncio.create_task(self._purge_daily(retention_days)))

    async def _prepare_schema(self) -> None:
        delay = 1.0
        assert self.store is not None
        while True:
            try:
                revision = await asyncio.wait_for(self.store.upgrade(), 30)
            except Exception as exc:  # noqa: BLE001 - down at start: keep answering, buffer, retry
                self._mark_down(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            self.ready = True
            self._mark_up()
            log.info("storage ready: %s schema at revision %s", self.store.kind, revision)
            return

    async def _purge_daily(self, retention_days: int) -> None:
        assert self.store is not None
        while True:
            if not self.ready:
                await asyncio.sleep(5)
                continue
            cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=retention_days)
            try:
                counts = await self.store.purge(cutoff, idle_before=dt.datetime.now(dt.UTC) - THREAD_IDLE)
                log.info("retention purge (older than %d days): %s", retention_days, counts)
            except Exception as exc:  # noqa: BLE001
                log.error("retention purge failed: %s", describe(exc))
            await asyncio.sleep(24 * 3600)

    async def _stop_upkeep(self) -> None:
        if not self._upkeep:
            return
        # A migration in progress is allowed to finish: cancelling it mid-statement strands the driver's thread.
        schema, *others = self._upkeep
        try:
            await asyncio.wait_for(asyncio.shield(schema), 5)
        except (TimeoutError, Exception):  # noqa: BLE001 - shutting down either way
            schema.cancel()
        for task in others:
            task.cancel()
        await asyncio.gather(*self._upkeep, return_exceptions=True)
        self._upkeep = []

    async def stop(self, timeout: float = 5.0) -> None:
        """Let the batch being written finish (cancelling it mid-write would lose it), then write the rest."""
        await self._stop_upkeep()
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
        try:
            record = fit(record)
        except RecordDoesNotFit as exc:
            self._set_aside(record, "too_long", exc.message)
            return
        self._buffer(record)

    async def record_durably(self, record: Record) -> bool:
        """Write `record` now and return True once the database has it; False if it could not be written.

        For what a person is told was recorded (feedback): they are thanked only after the write. If the database
        is unreachable the record is still buffered like any other, so it goes in if the database comes back
        before this process stops, but the caller must not claim it is safe. A record the database refuses, or
        that does not fit, is set aside as in `record` and is False too.
        """
        if self.store is None:
            return False
        try:
            record = fit(record)
        except RecordDoesNotFit as exc:
            self._set_aside(record, "too_long", exc.message)
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DURABLE_TIMEOUT
        while not self.ready and loop.time() < deadline:  # the schema is usually moments away at start
            await asyncio.sleep(0.05)
        if self.ready:  # tried even while marked down: the database may be back before the writer has noticed
            try:
                await asyncio.wait_for(self._write([record]), max(deadline - loop.time(), 0.5))
            except Exception as exc:  # noqa: BLE001 - sorted into outage and refusal
                if not _is_outage(exc) and await self._database_answers():
                    self._set_aside(record, "refused", f"the database refused it ({_kind(exc)})")
                    return False
                self._mark_down(exc)
            else:
                self._mark_up()
                return True
        self._buffer(record)  # down, or not ready yet: kept for the writer, without a promise
        return False

    def _buffer(self, record: Record) -> None:
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
        self._writing = [self.pending.popleft() for _ in range(min(BATCH, len(self.pending)))]
        self.in_flight = len(self._writing)
        try:
            try:
                await asyncio.wait_for(self._write(self._writing), WRITE_TIMEOUT)
                self._writing = []
            except Exception as exc:  # noqa: BLE001 - sorted below into outage and refusal
                if _is_outage(exc) or not await self._database_answers():
                    raise
                # The database answers, yet refused the batch: some record in it can never be written. One at
                # a time, that record is set aside and every other one still goes in.
                await self._write_one_by_one()
        except BaseException as exc:  # cancelled included: the batch goes back, it is never silently lost  # noqa: BLE001 - any database failure means: keep the records, retry later
            batch, self._writing = self._writing, []
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

    async def _write_one_by_one(self) -> None:
        """Write `_writing` record by record, setting aside each one a reachable database refuses.

        Raises (leaving the unwritten records in `_writing`) as soon as the database itself looks unavailable.
        Writes are idempotent, so records of the failed batch that did go in are harmlessly written again.
        """
        while self._writing:
            record = self._writing[0]
            try:
                await asyncio.wait_for(self._write([record]), WRITE_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - sorted into outage and refusal
                if _is_outage(exc) or not await self._database_answers():
                    raise
                self._set_aside(record, "refused", f"the database refused it ({_kind(exc)})")
            self._writing.pop(0)
            self.in_flight = len(self._writing)

    async def _database_answers(self) -> bool:
        assert self.store is not None
        try:
            await asyncio.wait_for(self.store.ping(), QUICK_TIMEOUT)
        except Exception:  # noqa: BLE001 - any failure means: not reachable now
            return False
        return True

    def _set_aside(self, record: Record, reason: str, why: str) -> None:
        """Keep `record` out of the buffer for good: count it and say so, without its content."""
        self.set_aside.append(record)
        self.set_aside_count += 1
        self.metrics.records_set_aside.labels(reason).inc()
        ident = getattr(record, "id", None)
        log.error(
            "log record set aside (%s): %s%s: %s",
            reason,
            type(record).__name__.lower(),
            f" {ident}" if ident else "",
            why,
        )

    async def _write(self, batch: list[Record]) -> None:
        assert self.store is not None
        interactions = [r for r in batch if isinstance(r, Interaction)]
        feedback = [r for r in batch if isinstance(r, Feedback)]
        escalations = [r for r in batch if isinstance(r, Escalation)]
        await self.store.write(interactions, feedback, escalations)
        for pref in (r for r in batch if isinstance(r, Preference)):
            await self.store.set_preference(pref.user_hash, pref.school)

    # -- reads that a question waits for, briefly ----------------------------------------------------------------
    async def claim_event(self, key: str) -> bool:
        """First delivery of an event anywhere → True. Falls back to this process's memory if the database is
        unreachable, so a retried event may then be answered by two replicas rather than by none.

        Callers pass the key already hashed (`UserHasher.event_key`): no raw user, conversation or event id is
        stored.
        """
        first_here = self.local_events.first_time(key)
        if self.store is None or not self.ready:
            return first_here
        try:
            claimed = await asyncio.wait_for(self.store.claim_event(key), QUICK_TIMEOUT)
        except Exception as exc:  # noqa: BLE001
            self._mark_down(exc)
            return first_here
        self._mark_up()
        # Seen here already (while the database was down or not ready yet) counts as seen, whatever it says.
        return claimed and first_here

    async def release_event(self, key: str) -> None:
        """Undo `claim_event`: what the key claimed failed, and a retry should be done, not dropped. Best effort:
        with the database down, only this process forgets (the claim was only this process's then too)."""
        self.local_events.forget(key)
        if self.store is None or not self.ready:
            return
        try:
            await asyncio.wait_for(self.store.release_event(key), QUICK_TIMEOUT)
        except Exception as exc:  # noqa: BLE001
            self._mark_down(exc)

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

    @asynccontextmanager
    async def thread_lock(self, key: str) -> AsyncIterator[None]:
        """Hold the thread `key` (already hashed) against other replicas for the block, so that two messages of
        one thread that reach two replicas at once are read and answered one after the other. Best effort: with
        no database, the database down, or the lock not got within THREAD_LOCK_WAIT, the block runs anyway
        (this process's own per-thread lock still orders what reaches it)."""
        if self.store is None or not self.ready or not self.store.shared_by_replicas:
            yield
            return
        async with self._thread_locks, AsyncExitStack() as stack:
            locked = self.store.thread_lock(key, THREAD_LOCK_WAIT)
            try:
                got = await asyncio.wait_for(
                    stack.enter_async_context(locked), THREAD_LOCK_WAIT + QUICK_TIMEOUT
                )
            except Exception as exc:  # noqa: BLE001 - the database failed: answer on this replica's lock alone
                self._mark_down(exc)
            else:
                if not got:
                    log.warning(
                        "thread busy on another replica for %.0f s; answering anyway", THREAD_LOCK_WAIT
                    )
            yield

    async def thread(self, key: str) -> Thread | None:
        """The thread under `key` (already hashed) unless idle for THREAD_IDLE: from the database, so every
        replica reads the same conversation, or from this process's memory while the database is unreachable."""
        active_since = dt.datetime.now(dt.UTC) - THREAD_IDLE
        if self.store is not None and self.ready:
            try:
                found = await asyncio.wait_for(self.store.get_thread(key, active_since), QUICK_TIMEOUT)
            except Exception as exc:  # noqa: BLE001
                self._mark_down(exc)
            else:
                self._mark_up()
                if found is not None:
                    return found
        # Memory holds what was saved while the database was down or not ready yet.
        local = self.local_threads.get(key)
        return local if local is not None and local.updated_at >= active_since else None

    async def save_thread(self, thread: Thread) -> None:
        """Keep `thread` for the next turn, here at once and in the database before the reply goes out, so a
        follow-up that reaches another replica a moment later still finds it."""
        self.local_threads[thread.key] = thread
        self.local_threads.move_to_end(thread.key)
        while len(self.local_threads) > LOCAL_THREADS:
            self.local_threads.popitem(last=False)
        if self.store is None or not self.ready:
            return
        try:
            await asyncio.wait_for(self.store.save_thread(thread), QUICK_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - the memory copy serves this replica meanwhile
            self._mark_down(exc)
        else:
            self._mark_up()

    def set_school(self, user_hash: str, school: str) -> None:
        self.local_schools[user_hash] = school
        self.record(Preference(user_hash, school))

    # -- health ---------------------------------------------------------------------------------------------------
    def _mark_down(self, exc: BaseException) -> None:
        message = describe(exc)
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
            "set_aside": self.set_aside_count,
            "last_error": self.last_error if self.degraded else None,
        }
