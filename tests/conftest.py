"""Shared fixtures: the shipped knowledge base, loaded once, and copies of it that a test may break."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import pytest

from bot import Assistant, load_knowledge

REPO = Path(__file__).resolve().parent.parent
KNOWLEDGE = REPO / "knowledge"
SHARED = REPO.parent / "shared"
# The contact roles every school must have (shared/eval/README.md); more may exist.
CORE_ROLES = frozenset(
    {"headteacher", "line_manager", "hr_provider", "comms_adviser", "chair_of_governors", "safeguarding_lead"}
)


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory) -> Path:
    """One embedding cache for the whole run: the knowledge base is embedded once, not once per test."""
    return tmp_path_factory.mktemp("embeddings") / "embeddings.sqlite3"


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path_factory, monkeypatch, embedding_cache) -> Path:
    """Every test gets its own data directory, so nothing writes to the developer's real one."""
    data = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("POLICYBOT_EMBEDDING_CACHE", str(embedding_cache))
    monkeypatch.delenv("POLICYBOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("POLICYBOT_DATA_DIR", raising=False)
    return data


@pytest.fixture(scope="session")
def kb():
    return load_knowledge(KNOWLEDGE)


@pytest.fixture(scope="session")
def assistant(kb, embedding_cache):
    # The session's cache file, named here: a session fixture is built before the autouse fixture that points
    # POLICYBOT_EMBEDDING_CACHE at it, and servers started as subprocesses read it warm.
    return Assistant(kb, embedding_cache=embedding_cache)


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped knowledge directory."""
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target


POSTGRES_ADMIN = os.environ.get("POLICYBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def postgres_url() -> str:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards.

    Skips where no server listens (a developer's laptop), but fails under CI, which must run these tests.
    """
    import asyncpg

    name = f"policybot_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"CI must run the PostgreSQL tests, but {POSTGRES_ADMIN} is not usable: {exc}")
        pytest.skip(
            f"no PostgreSQL at {POSTGRES_ADMIN} ({exc}); set POLICYBOT_TEST_POSTGRES to run these tests"
        )
    base = POSTGRES_ADMIN.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
