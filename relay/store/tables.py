"""SQLAlchemy Core descriptions of the queue's tables (``messages``, ``message_bodies``,
``transitions``), for building queries, and ``message_from_row`` to read one back.
The ledger's tables are in ledger.py, the rep records' in reps.py.

These objects never create anything: the schema comes only from the Alembic migrations
in ``relay/store/migrations`` (docs/design.md §1: migrated, never edited by hand). Keep
the two in step; ``tests/store`` runs every query against the migrated schema on both backends.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.engine import Row
from sqlalchemy.types import DateTime, TypeDecorator

from relay.envelope import Envelope
from relay.store.model import State, StoredMessage


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends.

    PostgreSQL stores ``timestamptz``. SQLite has no time zones: values are stored as naive
    UTC in SQLAlchemy's fixed-width ISO format, so comparisons in SQL stay correct.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

messages = Table(
    "messages",
    metadata,
    Column("id", String(26), primary_key=True),  # ULID: sorts by receive time
    Column("state", String(16), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("mail_from", Text, nullable=False),
    Column("rcpt_tos", JSON, nullable=False),
    Column("peer", Text, nullable=False),
    Column("helo", Text, nullable=False),
    Column("message_id", Text),  # the Message-ID header as received
    Column("subject", Text),
    Column("size", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("reason", Text),
    Column("not_before", UTCDateTime()),
    Column("lease_owner", Text),
    Column("lease_expires_at", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("auth", Text, nullable=False),  # what the SMTP edge proved (revision 0004)
    # LIVE or IMPORTED (revision 0010): claims take imported mail only when no live
    # mail is due (claims.py)
    Column("lane", SmallInteger, nullable=False),
    Column("import_id", String(26)),  # the import it came from (imports.py); NULL: live
    Index("ix_messages_state_not_before", "state", "not_before"),
    # Migration 0009: the console's pages (the queue by state, a rep's recent emails).
    Index("ix_messages_state_id", "state", "id"),
    Index("ix_messages_mail_from_id", "mail_from", "id"),
    # An import's counts (imports.py). Partial: live mail (import_id NULL) is most of
    # the queue, and an entry per live message would cost every SMTP commit an index
    # write for nothing (SQLite "Partial Indexes" §2: ``import_id = ?`` implies the
    # condition, so the counts still use it; PostgreSQL likewise).
    Index(
        "ix_messages_import",
        "import_id",
        "state",
        sqlite_where=text("import_id IS NOT NULL"),
        postgresql_where=text("import_id IS NOT NULL"),
    ),
)

LIVE = 0
"""``messages.lane`` of mail received over SMTP."""
IMPORTED = 1
"""``messages.lane`` of mail read by `relay import` (docs/design.md §11)."""

NO_LEASE: Mapping[str, None] = {"lease_owner": None, "lease_expires_at": None}
"""The ``messages`` lease columns of a message no worker holds, as ``recover``
(claims.py) and every one-message state change (state_changes.py) write them."""

message_bodies = Table(
    "message_bodies",
    metadata,
    Column("queue_id", String(26), ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    Column("raw", LargeBinary, nullable=False),
)

transitions = Table(
    "transitions",
    metadata,
    # BIGINT identity on PostgreSQL; SQLite needs INTEGER PRIMARY KEY for its rowid.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("queue_id", String(26), ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("reason", Text),
    Index("ix_transitions_queue_id", "queue_id", "id"),
)


def message_from_row(row: Row[Any]) -> StoredMessage:
    """A ``messages`` row (or a query selecting its columns) as a StoredMessage."""
    return StoredMessage(
        id=row.id,
        state=State(row.state),
        received_at=row.received_at,
        envelope=Envelope(
            mail_from=row.mail_from,
            rcpt_tos=tuple(row.rcpt_tos),
            peer=row.peer,
            helo=row.helo,
            auth=row.auth,
        ),
        message_id=row.message_id,
        subject=row.subject,
        size=row.size,
        attempts=row.attempts,
        reason=row.reason,
        not_before=row.not_before,
        updated_at=row.updated_at,
        import_id=row.import_id,
    )
