"""The tables, in SQLAlchemy Core, shared by SQLite and PostgreSQL. Changes go through a new migration."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Float, Index, MetaData, String, Table, Text

metadata = MetaData()

interactions = Table(
    "interactions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("school", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("user_hash", String(64)),
    Column("question", Text),
    Column("status", String(16), nullable=False),
    Column("clause_id", String(128)),
    Column("topic", String(64)),
    Column("score", Float),
    Column("latency_ms", Float),
    Index("ix_interactions_created_at", "created_at"),
    Index("ix_interactions_school_created_at", "school", "created_at"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("interaction_id", String(32)),
    Column("school", String(64)),
    Column("clause_id", String(128)),
    Column("channel", String(16), nullable=False),
    Column("user_hash", String(64)),
    Column("helpful", Boolean, nullable=False),
    Column("comment", Text),
    Index("ix_feedback_created_at", "created_at"),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_processed_events_created_at", "created_at"),
)

user_preferences = Table(
    "user_preferences",
    metadata,
    Column("user_hash", String(64), primary_key=True),
    Column("school", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

threads = Table(
    "threads",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("school", String(64), nullable=False),
    Column("turns", Text, nullable=False),  # JSON: the last few turns' question, topic, clause and status
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_threads_updated_at", "updated_at"),
)

escalations = Table(
    "escalations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("school", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("role", String(64), nullable=False),
    Column("user_hash", String(64)),
    Column("question", Text),
    Column("clause_id", String(128)),
    Column("interaction_id", String(32)),
    Index("ix_escalations_created_at", "created_at"),
)
