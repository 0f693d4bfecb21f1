"""Messages, their raw bodies and their state transitions.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mail_from", sa.Text, nullable=False),
        sa.Column("rcpt_tos", sa.JSON, nullable=False),
        sa.Column("peer", sa.Text, nullable=False),
        sa.Column("helo", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text),
        sa.Column("subject", sa.Text),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reason", sa.Text),
        sa.Column("not_before", sa.DateTime(timezone=True)),
        sa.Column("lease_owner", sa.Text),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # claim: "state = queued" or "state = deferred and not_before <= now", oldest first.
    op.create_index("ix_messages_state_not_before", "messages", ["state", "not_before"])
    op.create_table(
        "message_bodies",
        sa.Column(
            "queue_id",
            sa.String(26),
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("raw", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "transitions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column(
            "queue_id",
            sa.String(26),
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.create_index("ix_transitions_queue_id", "transitions", ["queue_id", "id"])


def downgrade() -> None:
    op.drop_table("transitions")
    op.drop_table("message_bodies")
    op.drop_table("messages")
