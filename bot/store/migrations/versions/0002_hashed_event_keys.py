"""Forget processed-event keys stored before their ids were hashed.

Teams greeting keys held a raw Teams member id (`teams-greet:<conversation>:<member>`). Keys are now
`kind:<salted hash>`; the old ones could never match again and would keep the raw id until the retention purge,
so they are deleted now. At worst a member added before the upgrade is greeted once more.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A hashed key has exactly one colon; every key written before this revision has more.
    op.execute("DELETE FROM processed_events WHERE key LIKE '%:%:%'")


def downgrade() -> None:
    pass  # the deleted keys held raw ids on purpose no longer kept; nothing to restore
