"""The web console: its audit list and the indexes its pages read by.

- ``console_audit``: one row per change a person made on a console page (who, what, on
  which item, when), listed newest first on the admin page (relay/store/audit.py,
  docs/design.md §10). The id is a ULID, so the primary key is also the time order.
- Indexes, so that no page scans the queue (docs/benchmarks.md, "Console"):
  ``messages (state, id)`` for the admin's queue by state, newest first;
  ``messages (mail_from, id)`` for a rep's recent emails;
  ``deliveries (queue_id)`` for the records each email was logged to;
  ``unresolved (owner_id, state, created_at)`` for a rep's unresolved emails.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_audit",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(18), nullable=False),
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.Text),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_messages_state_id", "messages", ["state", "id"])
    op.create_index("ix_messages_mail_from_id", "messages", ["mail_from", "id"])
    op.create_index("ix_deliveries_queue_id", "deliveries", ["queue_id"])
    op.create_index("ix_unresolved_owner", "unresolved", ["owner_id", "state", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_unresolved_owner", "unresolved")
    op.drop_index("ix_deliveries_queue_id", "deliveries")
    op.drop_index("ix_messages_mail_from_id", "messages")
    op.drop_index("ix_messages_state_id", "messages")
    op.drop_table("console_audit")
