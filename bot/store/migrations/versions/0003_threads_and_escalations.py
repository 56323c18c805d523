"""Threads (follow-up context shared by replicas) and escalations (questions handed on to a person).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "threads",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("turns", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_threads_updated_at", "threads", ["updated_at"])
    op.create_table(
        "escalations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("school", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("user_hash", sa.String(64)),
        sa.Column("question", sa.Text),
        sa.Column("clause_id", sa.String(128)),
        sa.Column("interaction_id", sa.String(32)),
    )
    op.create_index("ix_escalations_created_at", "escalations", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_escalations_created_at", "escalations")
    op.drop_table("escalations")
    op.drop_index("ix_threads_updated_at", "threads")
    op.drop_table("threads")
