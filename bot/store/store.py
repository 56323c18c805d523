"""The database, through SQLAlchemy Core on async drivers: SQLite (aiosqlite) by default, PostgreSQL (asyncpg).

Every write is idempotent (inserts keyed by the record's id, upserts for preferences), so a flush that failed
half-way can simply be retried. `claim_event` is the cross-replica deduplication: whichever process inserts an
event key first gets True.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import delete, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.records import Escalation, Feedback, Interaction, Thread, Turn
from bot.settings import Settings
from bot.store import schema

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 7_341_002  # pg_advisory_xact_lock key: replicas starting together migrate one at a time


def database_url_for(settings: Settings) -> str:
    """The SQLAlchemy async URL: POLICYBOT_DATABASE_URL (postgresql://… is given the asyncpg driver), else the
    SQLite file in the data directory."""
    url = settings.database_url
    if url:
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        return url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{settings.data_dir / 'policybot.db'}"


def _engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 5})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(conn, _record) -> None:  # WAL lets the report read while the server writes
            cursor = conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            # With WAL, NORMAL loses at most the last moments on power failure, not consistency; it saves an
            # fsync per transaction, which every event's dedup claim is.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # Short timeouts: a database that is down or slow must fail fast, so the recorder can buffer instead.
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"timeout": 3, "command_timeout": 5},
    )


class Store:
    def __init__(self, url: str):
        self.url = url
        self.engine = _engine(url)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self.is_postgres else sqlite.insert

    @property
    def kind(self) -> str:
        return "postgresql" if self.is_postgres else "sqlite"

    async def close(self) -> None:
        await self.engine.dispose()

    # -- schema ---------------------------------------------------------------------------------------------------
    async def upgrade(self, target: str = "head") -> str:
        """Apply every pending migration (up to `target`); return the schema revision now in place."""

        def run(sync_conn) -> None:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = sync_conn
            command.upgrade(config, target)

        async with self.engine.begin() as conn:
            if self.is_postgres:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            await conn.run_sync(run)
        return await self.revision()

    async def revision(self) -> str | None:
        async with self.engine.connect() as conn:
            try:
                return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            except Exception:  # noqa: BLE001 - no version table yet means no schema yet
                return None

    # -- writes -------------------------------------------------------------------------------------------------
    async def write(
        self,
        interactions: Sequence[Interaction] = (),
        feedback: Sequence[Feedback] = (),
        escalations: Sequence[Escalation] = (),
    ) -> None:
        """Insert records; ones already present (a retried flush) are left as they are."""
        async with self.engine.begin() as conn:
            if escalations:
                stmt = self._insert(schema.escalations).on_conflict_do_nothing(index_elements=["id"])
                await conn.execute(stmt, [_row(e) for e in escalations])
            # executemany with one compiled statement: a multi-row VALUES insert was measured slower, because
            # compiling thousands of bind parameters runs on the event loop that answers questions.
            if interactions:
                stmt = self._insert(schema.interactions).on_conflict_do_nothing(index_elements=["id"])
                await conn.execute(stmt, [_row(i) for i in interactions])
            if feedback:
                stmt = self._insert(schema.feedback).on_conflict_do_nothing(index_elements=["id"])
                await conn.execute(stmt, [_row(f) for f in feedback])

    async def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def claim_event(self, key: str) -> bool:
        """True for the first caller with this key, on any replica; False for every later one."""
        stmt = (
            self._insert(schema.processed_events)
            .values(key=key[:255], created_at=dt.datetime.now(dt.UTC))
            .on_conflict_do_nothing(index_elements=["key"])
        )
        async with self.engine.begin() as conn:
            return (await conn.execute(stmt)).rowcount == 1

    async def release_event(self, key: str) -> None:
        """Forget a claimed key: what it claimed could not be done, so a retry must be able to claim it again."""
        stmt = schema.processed_events.delete().where(schema.processed_events.c.key == key[:255])
        async with self.engine.begin() as conn:
            await conn.execute(stmt)

    async def set_preference(self, user_hash: str, school: str) -> None:
        values = {"user_hash": user_hash, "school": school, "updated_at": dt.datetime.now(dt.UTC)}
        stmt = self._insert(schema.user_preferences).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_hash"],
            set_={"school": values["school"], "updated_at": values["updated_at"]},
        )
        async with self.engine.begin() as conn:
            await conn.execute(stmt)

    async def get_preference(self, user_hash: str) -> str | None:
        query = select(schema.user_preferences.c.school).where(
            schema.user_preferences.c.user_hash == user_hash
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).scalar()

    async def save_thread(self, thread: Thread) -> None:
        values = {
            "key": thread.key,
            "school": thread.school,
            "turns": json.dumps([dataclasses.asdict(t) for t in thread.turns], ensure_ascii=False),
            "updated_at": thread.updated_at,
        }
        stmt = self._insert(schema.threads).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={k: values[k] for k in ("school", "turns", "updated_at")},
        )
        async with self.engine.begin() as conn:
            await conn.execute(stmt)

    @property
    def shared_by_replicas(self) -> bool:
        """PostgreSQL: replicas on several hosts share it. A SQLite file serves one host's one process."""
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def thread_lock(self, key: str, wait: float) -> AsyncIterator[bool]:
        """Hold the thread `key` against every replica for the block; yields whether it was got within `wait`
        seconds. PostgreSQL only (a transaction-scoped advisory lock on a connection of its own, so the lock goes
        with the transaction whatever happens); on SQLite, one host's one process, it yields True at once.

        The lock is tried, not waited on: a cancelled wait could be granted just as it is cancelled and stay held
        by a pooled connection."""
        if not self.shared_by_replicas:
            yield True
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        lock = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))")
        async with self.engine.connect() as conn, conn.begin():
            while not (got := bool((await conn.execute(lock, {"key": key})).scalar())):
                if loop.time() >= deadline:
                    break
                await asyncio.sleep(0.01)
            yield got

    async def get_thread(self, key: str, active_since: dt.datetime) -> Thread | None:
        """The thread under `key` if it was used at or after `active_since`; an idle one is as good as gone."""
        table = schema.threads
        query = select(table).where(table.c.key == key, table.c.updated_at >= active_since)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            return None
        # Only the fields this version knows: a replica one release ahead may have saved more.
        turns = tuple(
            Turn(**{k: v for k, v in t.items() if k in _TURN_FIELDS}) for t in json.loads(row["turns"])
        )
        return Thread(row["key"], row["school"], turns, _utc(row["updated_at"]))

    async def purge(self, before: dt.datetime, idle_before: dt.datetime | None = None) -> dict[str, int]:
        """Delete records created before `before`, and threads not used since `idle_before` (default: `before`);
        return counts by table."""
        counts = {}
        async with self.engine.begin() as conn:
            for table in (schema.interactions, schema.feedback, schema.processed_events, schema.escalations):
                result = await conn.execute(delete(table).where(table.c.created_at < before))
                counts[table.name] = result.rowcount
            idle = max(before, idle_before) if idle_before else before
            result = await conn.execute(delete(schema.threads).where(schema.threads.c.updated_at < idle))
            counts["threads"] = result.rowcount
        return counts

    # -- reads --------------------------------------------------------------------------------------------------
    async def interactions(
        self, since: dt.datetime | None = None, school: str | None = None
    ) -> list[Interaction]:
        return [Interaction(**row) for row in await self._rows(schema.interactions, since, school)]

    async def escalations(
        self, since: dt.datetime | None = None, school: str | None = None
    ) -> list[Escalation]:
        return [Escalation(**row) for row in await self._rows(schema.escalations, since, school)]

    async def _rows(self, table, since: dt.datetime | None, school: str | None) -> list[dict[str, Any]]:
        """A log table's rows created since `since` (all without), for one school or all, oldest first."""
        query = select(table).order_by(table.c.created_at)
        if since is not None:
            query = query.where(table.c.created_at >= since)
        if school is not None:
            query = query.where(table.c.school == school)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_aware(dict(r)) for r in rows]

    async def feedback(self, since: dt.datetime | None = None) -> list[Feedback]:
        return [Feedback(**row) for row in await self._rows(schema.feedback, since, None)]

    async def count(self, table_name: str) -> int:
        table = schema.metadata.tables[table_name]
        async with self.engine.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


_TURN_FIELDS = frozenset(f.name for f in dataclasses.fields(Turn))


def _row(record: Interaction | Feedback | Escalation) -> dict[str, Any]:
    """A record's fields as a row; a shallow copy (dataclasses.asdict deep-copies, 20 µs a record)."""
    return dict(record.__dict__)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite hands back naive datetimes; every time here is UTC."""
    created = row.get("created_at")
    if isinstance(created, dt.datetime) and created.tzinfo is None:
        row["created_at"] = created.replace(tzinfo=dt.UTC)
    return row


async def open_store(settings: Settings, upgrade: bool = True) -> Store:
    store = Store(database_url_for(settings))
    if upgrade:
        await store.upgrade()
    return store


def run(coro) -> Any:
    """Run one coroutine from synchronous code (the CLI)."""
    return asyncio.run(coro)
