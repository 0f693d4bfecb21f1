"""Reminder digests: one row per rep per day, claimed before the digest is sent.

- ``reminder_digests``: the morning digest of a rep's reminders (relay/runners/digest.py,
  docs/design.md §9). The primary key ``(user_id, day)`` (``day`` the rep's own date)
  is what makes it one digest per rep per day across restarts and nodes: a runner sends
  only after its INSERT of the row committed; a failed send deletes the row, so a later
  pass tries again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reminder_digests",
        sa.Column("user_id", sa.String(18), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reminder_digests")
