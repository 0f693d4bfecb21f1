"""What the SMTP edge proved about each message's sender (``messages.auth``).

Values are relay/smtp/sender_checks.py's: ``dmarc:DOMAIN``, ``personal_address``,
``trusted:envelope``, ``source:NAME``, ``none``. Rows accepted before this revision
proved nothing that was recorded: they get ``unverified``, which the runners attribute
like ``none`` (never as an inbound copy).

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(
            sa.Column("auth", sa.Text, nullable=False, server_default="unverified"),
        )


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("auth")
