"""The store's tests run on both databases: a SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

import pytest

from bot.settings import Settings
from bot.store import database_url_for


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return database_url_for(Settings(data_dir=tmp_path))
    return database_url_for(Settings(database_url=request.getfixturevalue("postgres_url")))
