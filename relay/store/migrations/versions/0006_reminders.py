"""Reminders, and each rep's time zone.

- ``reminders``: a rep's follow-ups (relay/store/reminders.py, docs/design.md §9): from a
  reminder address (``source`` ``email``, keyed by ``source_key`` + ``owner_id`` so one
  email gives a rep one reminder however often it is delivered), from `relay tasks add`
  (``manual``), and later from Salesforce Tasks (``salesforce``). ``due_date`` is a DATE,
  never converted across time zones (Task.ActivityDate is a date too). ``deleted_at``
  marks a soft delete. ``sf_task_id``, ``synced_hash`` and ``synced_at`` are for the
  two-way sync with Salesforce Tasks: the Task it is paired with, a hash of the fields as
  last synced (to tell which side changed) and when; NULL until that sync exists.
- ``reps.time_zone``: ``User.TimeZoneSidKey``, in which due dates are counted; NULL until
  the next rep sync reads it.
- a ``tasks`` change version (changes.py), bumped by every reminder write.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("reps", sa.Column("time_zone", sa.String(40)))
    op.create_table(
        "reminders",
        sa.Column("id", sa.String(26), primary_key=True),  # ULID
        sa.Column("owner_id", sa.String(18), nullable=False),  # the rep's User Id
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),  # normal | high
        sa.Column("status", sa.String(8), nullable=False),  # open | complete
        sa.Column("who_id", sa.String(18)),  # a Contact or Lead
        sa.Column("what_id", sa.String(18)),  # an Opportunity, Account or other record
        sa.Column("records", sa.JSON, nullable=False),  # every related record id
        sa.Column("source", sa.String(16), nullable=False),  # email | manual | salesforce
        sa.Column("source_key", sa.String(64)),  # sha256 of the email's message key
        sa.Column("queue_id", sa.String(26)),  # the email's queue id
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.Column("sf_task_id", sa.String(18)),
        sa.Column("synced_hash", sa.String(64)),
        sa.Column("synced_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_reminders_owner_due", "reminders", ["owner_id", "status", "due_date"])
    # NULL source keys (manual reminders) never collide: NULLs are distinct in a unique
    # index on both backends.
    op.create_index("ux_reminders_source", "reminders", ["source_key", "owner_id"], unique=True)
    op.create_index("ux_reminders_sf_task", "reminders", ["sf_task_id"], unique=True)
    change_versions = sa.table("change_versions", sa.column("topic"), sa.column("version"))
    op.bulk_insert(change_versions, [{"topic": "tasks", "version": 0}])


def downgrade() -> None:
    op.execute("DELETE FROM change_versions WHERE topic = 'tasks'")
    op.drop_index("ux_reminders_sf_task", "reminders")
    op.drop_index("ux_reminders_source", "reminders")
    op.drop_index("ix_reminders_owner_due", "reminders")
    op.drop_table("reminders")
    with op.batch_alter_table("reps") as batch:  # SQLite cannot drop a column in place
        batch.drop_column("time_zone")
