"""The store's values: message states, stored messages, ledger rows, reps and aliases.

Plain frozen dataclasses and enums, no I/O; every other store module and every caller
reads and builds these. ``relay.store.model`` re-exports them beside the ``Store``
interface, so callers import both from one place.

States (docs/design.md §3)::

    queued ──claim──> processing ──finish──> logged | unresolved | held | quarantined | rejected
       ^                  │
       └──── deferred <───┘ (defer: not before a time)      recover(): processing -> queued

``held`` waits for a person; ``release`` puts it back to ``queued``. Every change is
recorded as a Transition with its reason and logged as one event with the queue id
(relay/store/history.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from ulid import ULID

from relay.envelope import Envelope


class State(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    DEFERRED = "deferred"
    LOGGED = "logged"
    UNRESOLVED = "unresolved"
    HELD = "held"
    QUARANTINED = "quarantined"
    REJECTED = "rejected"


FINAL_STATES = frozenset({State.LOGGED, State.UNRESOLVED, State.QUARANTINED, State.REJECTED})
"""States a message leaves only by an explicit admin command (retry, delete)."""


@dataclass(frozen=True)
class StoredMessage:
    """One accepted message as the queue sees it (without its raw bytes)."""

    id: str
    state: State
    received_at: datetime
    envelope: Envelope
    message_id: str | None
    subject: str | None
    size: int
    attempts: int
    reason: str | None
    not_before: datetime | None
    updated_at: datetime
    import_id: str | None = None
    """The import that read it from a mailbox (docs/design.md §11); None: live mail."""


@dataclass(frozen=True)
class Transition:
    """One recorded state change of a message."""

    at: datetime
    from_state: State | None
    to_state: State
    reason: str | None


# --- the delivery ledger and unresolved items (migration 0002) ----------------------

INTENT = "intent"
WRITTEN = "written"


@dataclass(frozen=True)
class Delivery:
    """One Task Relay writes (or wrote): its key, the email and every record it shows on."""

    relay_key: str
    message_key: str
    record_id: str | None
    records: tuple[str, ...]
    queue_id: str
    owner_id: str | None = None
    task_id: str | None = None
    state: str = INTENT
    created_at: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    """How processing one claimed message ended: a finish state, or ``deferred`` with
    ``not_before``. ``reason`` is for a person and is recorded with the transition."""

    queue_id: str
    state: State
    reason: str | None = None
    not_before: datetime | None = None


@dataclass(frozen=True)
class UnresolvedItem:
    """An email that matched nothing, logged as an open Task on its rep."""

    id: str
    queue_id: str
    message_key: str
    relay_key: str | None
    task_id: str | None
    owner_id: str | None
    subject: str | None
    mail_from: str | None
    reason: str | None
    state: str  # open | assigned | discarded
    created_at: datetime
    assigned_record: str | None = None
    resolved_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "queue_id": self.queue_id,
            "task_id": self.task_id,
            "subject": self.subject,
            "mail_from": self.mail_from,
            "owner": self.owner_id,
            "created_at": self.created_at.isoformat(),
            "state": self.state,
            "reason": self.reason,
            "assigned_record": self.assigned_record,
        }


def new_unresolved(
    *,
    queue_id: str,
    message_key: str,
    relay_key: str,
    task_id: str | None,
    owner_id: str | None,
    subject: str | None,
    mail_from: str | None,
    reason: str,
) -> UnresolvedItem:
    return UnresolvedItem(
        id=str(ULID()),
        queue_id=queue_id,
        message_key=message_key,
        relay_key=relay_key,
        task_id=task_id,
        owner_id=owner_id,
        subject=subject,
        mail_from=mail_from,
        reason=reason,
        state="open",
        created_at=datetime.now(UTC),
    )


# --- senders, the rep snapshot, settings and notices (migration 0003) ----------------


@dataclass(frozen=True)
class Rep:
    """An active Salesforce User as last synced (relay.reps.directory.sync_reps)."""

    user_id: str
    username: str
    email: str
    name: str | None = None
    is_active: bool = True
    time_zone: str | None = None
    """``User.TimeZoneSidKey`` (an IANA name); None if not synced since revision 0006.
    Reminder dates fall back to the org's time zone, then UTC (relay/reps/reminders.py)."""


@dataclass(frozen=True)
class SenderAlias:
    """An extra acceptable sender address of a rep (`relay senders add`)."""

    alias: str
    user_id: str
    username: str
    added_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "user_id": self.user_id,
            "username": self.username,
            "added_at": self.added_at.isoformat(),
        }


ORG_SCOPE = "org"
"""The settings scope of org-wide overrides; a rep's scope is their User id."""


# --- change versions (migration 0005) ------------------------------------------------


@dataclass(frozen=True)
class ChangeVersions:
    """How many changes each topic has seen (relay/store/changes.py): ``reps`` (aliases,
    the reps sync, settings) and ``queue`` (retry, hold, release, delete). Compare two
    for inequality: a changed number means "read again", nothing more."""

    reps: int = 0
    queue: int = 0
    tasks: int = 0
    """Reminders (relay/store/reminders.py): created, edited, completed, deleted."""


# --- reminders (migration 0006) ------------------------------------------------------

OPEN = "open"
COMPLETE = "complete"
REMINDER_STATUSES = (OPEN, COMPLETE)
PRIORITIES = ("normal", "high")
"""Sales Insight Actions' reminder values; Salesforce's Task maps them to ``Not
Started``/``Completed`` and ``Normal``/``High`` (its other values do not sync)."""
SOURCES = ("email", "manual", "salesforce")


@dataclass(frozen=True)
class Reminder:
    """A rep's follow-up (relay/store/reminders.py). ``due`` is a date in the rep's own
    calendar, never converted across time zones. ``source_key`` (``email`` reminders) is
    a hash of the email's message key: with ``owner_id`` it is unique, so one email gives
    a rep one reminder. ``sf_task_id``, ``synced_hash``, ``synced_at`` and
    ``synced_copy`` belong to the Task sync (relay/tasksync/, None until it pairs the
    reminder with a Task)."""

    id: str
    owner_id: str
    subject: str
    due: date
    details: str = ""
    priority: str = "normal"
    status: str = OPEN
    who_id: str | None = None
    what_id: str | None = None
    records: tuple[str, ...] = ()
    source: str = "manual"
    source_key: str | None = None
    queue_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    deleted_at: datetime | None = None
    sf_task_id: str | None = None
    synced_hash: str | None = None
    synced_at: datetime | None = None
    synced_copy: dict[str, Any] | None = None
    """The mapped fields as last synced (relay/tasksync/mapping.py ``Mapped.to_json``)."""
    sync_eligible: bool = False
    """Created while its rep's ``task_sync`` was on: it goes to Salesforce."""


def new_reminder(owner_id: str, subject: str, due: date, **fields: Any) -> Reminder:
    """A reminder not yet stored: a new id, created and updated now."""
    now = datetime.now(UTC)
    return Reminder(
        id=str(ULID()),
        owner_id=owner_id,
        subject=subject,
        due=due,
        created_at=now,
        updated_at=now,
        **fields,
    )
