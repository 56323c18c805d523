"""Initial schema: interactions, feedback, processed events, user preferences.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interactions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("user_hash", sa.String(64)),
        sa.Column("question", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("clause_id", sa.String(128)),
        sa.Column("topic", sa.String(64)),
        sa.Column("score", sa.Float),
        sa.Column("latency_ms", sa.Float),
    )
    op.create_index("ix_interactions_created_at", "interactions", ["created_at"])
    op.create_index("ix_interactions_school_created_at", "interactions", ["school", "created_at"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("interaction_id", sa.String(32)),
        sa.Column("school", sa.String(64)),
        sa.Column("clause_id", sa.String(128)),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("user_hash", sa.String(64)),
        sa.Column("helpful", sa.Boolean, nullable=False),
        sa.Column("comment", sa.Text),
    )
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])
    op.create_table(
        "processed_events",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_processed_events_created_at", "processed_events", ["created_at"])
    op.create_table(
        "user_preferences",
        sa.Column("user_hash", sa.String(64), primary_key=True),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("user_preferences", "processed_events", "feedback", "interactions"):
        op.drop_table(table)
