"""Importing past email: the imports and the queue's lanes.

- ``imports``: one row per import (relay/store/imports.py, docs/design.md §11):
  the source's identity and the rep whose mail it is (together they name the import, so
  running the same command again finds it), its filters, the cursor of the last message
  stored (the source's own, opaque), the counts of what was read, skipped and failed
  before the queue, its state (``running``, ``stopped``, ``done``, ``failed``) and times.
- ``messages.lane``: ``0`` live mail, ``1`` imported mail; a claim takes imported mail
  only when no live mail is due (relay/store/claims.py). Existing rows are live.
- ``messages.import_id``: the import a message came from (NULL for live mail), so the
  import's outcomes are counted from the queue itself.

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.String(26), primary_key=True),  # ULID
        sa.Column("source", sa.Text, nullable=False),  # the source's identity
        sa.Column("rep", sa.String(320), nullable=False),  # --user, lower-cased
        sa.Column("filters", sa.JSON, nullable=False),  # since, until, only_matched
        sa.Column("cursor", sa.Text),  # after the last message stored; NULL: none yet
        sa.Column("counts", sa.JSON, nullable=False),  # read, skipped, failed, queued...
        sa.Column("state", sa.String(16), nullable=False),  # running|stopped|done|failed
        sa.Column("error", sa.Text),  # why it failed (one line)
        sa.Column("owner", sa.Text),  # host:pid of the `relay import` running it
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ux_imports_source_rep", "imports", ["source", "rep"], unique=True)
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("lane", sa.SmallInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("import_id", sa.String(26)))
    # Partial: live mail has no import and costs this index nothing (tables.py).
    op.create_index(
        "ix_messages_import",
        "messages",
        ["import_id", "state"],
        sqlite_where=sa.text("import_id IS NOT NULL"),
        postgresql_where=sa.text("import_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_import", "messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("import_id")
        batch.drop_column("lane")
    op.drop_index("ux_imports_source_rep", "imports")
    op.drop_table("imports")
