"""Alembic environment: always run by `bot.store.store.Store.upgrade`, which hands over an open connection."""

from __future__ import annotations

from alembic import context

from bot.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `Store.upgrade` runs migrations
    raise RuntimeError("run migrations through `policybot db upgrade`, which supplies the connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
