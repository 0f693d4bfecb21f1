"""Change versions: one counter per topic, bumped by every write that changes it.

- ``change_versions``: ``reps`` (sender aliases, the reps sync, settings overrides) and
  ``queue`` (retry, hold, release, delete), each bumped in the transaction of the change
  (relay/store/changes.py), so every process of every node can tell within a second that
  it must re-read (docs/design.md §3).

Revision ID: 0005
Revises: 0004
Create Date: 2025-01-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "change_versions",
        sa.Column("topic", sa.String(16), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    # The rows exist from the start, so a bump is one UPDATE and never races an INSERT.
    op.bulk_insert(table, [{"topic": "reps", "version": 0}, {"topic": "queue", "version": 0}])


def downgrade() -> None:
    op.drop_table("change_versions")
