"""The delivery ledger (idempotency of Task writes) and unresolved items.

``deliveries`` has one row per Task Relay writes, keyed by the Task's ``Relay_Key__c``
(``relay.matching.relay_key(message_key, record_id)``). A row is written as an *intent*
before the Salesforce call and marked *written* (with the Task id) after it: the ledger
is what dedups copies of one email (BCC + journal, client retries, two reps on a thread)
and what a restart reconciles after a crash (docs/delivery-guarantees.md).

``unresolved`` holds email that matched no record: the Task is written to the rep with no
Who/What, and the item waits for ``relay unresolved assign|discard``.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("relay_key", sa.String(80), primary_key=True),
        sa.Column("message_key", sa.Text, nullable=False),
        sa.Column("record_id", sa.String(18)),  # the primary record (None: unresolved Task)
        sa.Column("records", sa.JSON, nullable=False),  # every Who/What id on the Task
        sa.Column("queue_id", sa.String(26), nullable=False),
        sa.Column("owner_id", sa.String(18)),
        sa.Column("task_id", sa.String(18)),
        sa.Column("state", sa.String(16), nullable=False),  # intent | written
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_deliveries_message_key", "deliveries", ["message_key"])
    op.create_index("ix_deliveries_state", "deliveries", ["state"])
    op.create_table(
        "unresolved",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("queue_id", sa.String(26), nullable=False),
        sa.Column("task_id", sa.String(18)),
        sa.Column("relay_key", sa.String(80)),
        sa.Column("owner_id", sa.String(18)),
        sa.Column("message_key", sa.Text, nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("mail_from", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("state", sa.String(16), nullable=False),  # open | assigned | discarded
        sa.Column("assigned_record", sa.String(18)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_unresolved_state", "unresolved", ["state", "created_at"])
    op.create_index("ix_unresolved_message_key", "unresolved", ["message_key"])
    # One item per unresolved Task: a second copy of the email must not add a second.
    op.create_index("ix_unresolved_relay_key", "unresolved", ["relay_key"], unique=True)


def downgrade() -> None:
    op.drop_table("unresolved")
    op.drop_table("deliveries")
