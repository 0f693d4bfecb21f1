"""Imports: a heartbeat, so a killed `relay import` is not listed as running.

- ``imports.heartbeat_at``: refreshed every few seconds by the `relay import` that runs
  the import (relay/store/imports.py ``beat_import``). A ``running`` import whose
  heartbeat is older than ``imports.STALE_AFTER`` is shown ``stopped``: its process
  was killed (SIGKILL, a reboot, a lost host) before it could record an end, on this
  host or another (docs/design.md §11). NULL on rows from before this revision: their
  ``updated_at`` stands in.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("imports") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("imports") as batch:
        batch.drop_column("heartbeat_at")
