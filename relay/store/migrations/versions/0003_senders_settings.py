"""Senders, the rep snapshot, sync settings and notices.

- ``senders``: a rep's extra acceptable addresses (`relay senders add EMAIL --user U`),
  like Email-to-Salesforce's "My Acceptable Email Addresses".
- ``reps``: a snapshot of the org's active Users, so the SMTP edge can check senders
  without calling Salesforce (docs/design.md §1: the edge makes no Salesforce call).
- ``settings``: sync settings overrides, per org (scope ``org``) or per rep (scope = the
  User id); the org defaults come from the configuration.
- ``notices``: when a rep was last told about a problem (at most one notice per rep per
  problem per day).

The personal-address secret is not here: it is a file, RELAY_HOME/address.key.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "senders",
        sa.Column("alias", sa.String(320), primary_key=True),  # lower-cased address
        sa.Column("user_id", sa.String(18), nullable=False),
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_senders_user_id", "senders", ["user_id"])
    op.create_table(
        "reps",
        sa.Column("user_id", sa.String(18), primary_key=True),
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),  # lower-cased
        sa.Column("name", sa.Text),
        sa.Column("is_active", sa.Boolean, nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reps_email", "reps", ["email"])
    op.create_table(
        "settings",
        sa.Column("scope", sa.String(18), primary_key=True),  # "org" or a User id
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "notices",
        sa.Column("user_id", sa.String(18), primary_key=True),
        sa.Column("problem", sa.String(64), primary_key=True),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=False),
    )
    # One row: when the rep snapshot was last replaced (None: never synced, fail open).
    op.create_table(
        "reps_sync",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reps_sync")
    op.drop_table("notices")
    op.drop_table("settings")
    op.drop_index("ix_reps_email", "reps")
    op.drop_table("reps")
    op.drop_index("ix_senders_user_id", "senders")
    op.drop_table("senders")
