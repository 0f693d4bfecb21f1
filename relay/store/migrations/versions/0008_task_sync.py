"""The two-way sync of reminders with Salesforce Tasks.

- ``reminders.synced_copy``: the mapped fields as last synced (JSON, relay/tasksync/
  mapping.py), the base of the three-way merge; ``synced_hash`` (0006) is its hash, or
  ``deleted`` once a deletion reached both sides. ``reminders.sync_eligible``: the
  reminder was created while its rep's sync was on, so it goes to Salesforce (a reminder
  that existed before enabling never does).
- ``task_sync_reps``: per rep, when this spell of ``task_sync = on`` began (Relay's
  clock: reminders created since are pushed), whether the first import ran, and the
  poll's mark when the rep was last polled (Salesforce's clock: after a pause the
  catch-up reads from there).
- ``task_sync_state``: the one poll's cursor ``(SystemModstamp, Id)`` and what `relay
  doctor` shows: the last cycle, its calls, the last error and its kind, a pause.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("synced_copy", sa.JSON))
        batch.add_column(
            sa.Column("sync_eligible", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_table(
        "task_sync_reps",
        sa.Column("user_id", sa.String(18), primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True)),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("imported_at", sa.DateTime(timezone=True)),
        sa.Column("polled_mark", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "task_sync_state",
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("cursor_modstamp", sa.DateTime(timezone=True)),
        sa.Column("cursor_id", sa.String(18)),
        sa.Column("last_cycle_at", sa.DateTime(timezone=True)),
        sa.Column("last_calls", sa.Integer),
        sa.Column("last_changes", sa.Integer),
        sa.Column("error_kind", sa.String(32)),
        sa.Column("error", sa.Text),
        sa.Column("paused_until", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("task_sync_state")
    op.drop_table("task_sync_reps")
    with op.batch_alter_table("reminders") as batch:
        batch.drop_column("sync_eligible")
        batch.drop_column("synced_copy")
