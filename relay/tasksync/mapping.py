"""The field map between a reminder and a Salesforce Task. Pure.

The map is Sales Insight Actions' "Reminder/Task Sync with Salesforce" (docs/design.md
§9):

| reminder | Task | rule |
|---|---|---|
| subject | ``Subject`` | one way, to Salesforce |
| ``open`` / ``complete`` | ``Not Started`` / ``Completed`` | other statuses do not sync |
| ``normal`` / ``high`` | ``Normal`` / ``High`` | ``Low`` does not sync |
| due | ``ActivityDate`` | a date, never converted across time zones |
| details | ``Description`` | Salesforce keeps 32,000 characters, Relay the whole text |
| who / what | ``WhoId`` / ``WhatId`` | |

A value that does not sync (a status such as ``In Progress`` or a custom closed status,
priority ``Low``, an empty ``ActivityDate``, a Subject edited in Salesforce, Salesforce's
cut of a long Description) reads as "unchanged": ``as_seen`` puts the last synced value
in its place, so it is never copied into Relay and never counts as a change, and it is
overwritten only when Relay's own value changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from relay.store.values import COMPLETE, OPEN, Reminder

STATUS_TO_TASK = {OPEN: "Not Started", COMPLETE: "Completed"}
STATUS_FROM_TASK = {value: key for key, value in STATUS_TO_TASK.items()}
PRIORITY_TO_TASK = {"normal": "Normal", "high": "High"}
PRIORITY_FROM_TASK = {value: key for key, value in PRIORITY_TO_TASK.items()}

MAX_DESCRIPTION = 32_000
"""Task.Description (label Comments) holds 32,000 characters (Object Reference, Task)."""
MAX_SUBJECT = 255
"""Task.Subject is a 255-character string (Object Reference, Task)."""

FIELDS = ("subject", "status", "priority", "due", "details", "who_id", "what_id")
"""The mapped fields, in Relay's names."""

TASK_FIELDS = {
    "subject": "Subject",
    "status": "Status",
    "priority": "Priority",
    "due": "ActivityDate",
    "details": "Description",
    "who_id": "WhoId",
    "what_id": "WhatId",
}

SELECT = (
    "Id, OwnerId, Subject, Status, Priority, ActivityDate, Description, WhoId, WhatId, "
    "IsDeleted, IsClosed, CreatedDate, LastModifiedDate, SystemModstamp"
)
"""The Task fields a poll reads (plus the external-id field, engine.py)."""


@dataclass(frozen=True)
class Mapped:
    """A reminder's mapped fields in Relay's terms: what both sides agree on once synced.
    Stored as the last synced copy (``reminders.synced_copy``)."""

    subject: str
    status: str
    priority: str
    due: date
    details: str
    who_id: str | None
    what_id: str | None

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["due"] = self.due.isoformat()
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Mapped:
        return cls(
            subject=str(document.get("subject") or ""),
            status=str(document.get("status") or OPEN),
            priority=str(document.get("priority") or "normal"),
            due=date.fromisoformat(str(document["due"])),
            details=str(document.get("details") or ""),
            who_id=document.get("who_id") or None,
            what_id=document.get("what_id") or None,
        )

    def changed(self, other: Mapped) -> set[str]:
        """The fields whose values differ."""
        return {name for name in FIELDS if getattr(self, name) != getattr(other, name)}


def of_reminder(reminder: Reminder) -> Mapped:
    return Mapped(
        subject=reminder.subject,
        status=reminder.status,
        priority=reminder.priority,
        due=reminder.due,
        details=reminder.details,
        who_id=reminder.who_id,
        what_id=reminder.what_id,
    )


def fingerprint(mapped: Mapped) -> str:
    """The hash of the mapped fields (``reminders.synced_hash``): equal fingerprints, no
    change, so Relay's own writes coming back from Salesforce are not changes."""
    text = json.dumps(mapped.to_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class TaskView:
    """A Task as a poll read it, its values in Relay's terms; None where the Task's value
    does not sync (status and priority outside the map, an empty ActivityDate)."""

    id: str
    owner_id: str
    subject: str
    status: str | None
    priority: str | None
    due: date | None
    details: str
    who_id: str | None
    what_id: str | None
    is_closed: bool
    deleted: bool
    created: datetime
    last_modified: datetime
    modstamp: datetime
    relay_key: str | None = None


def parse_task(record: Mapping[str, Any], key_field: str = "") -> TaskView:
    """A Task record from a query (REST JSON)."""
    raw_due = record.get("ActivityDate")
    key = record.get(key_field) if key_field else None
    return TaskView(
        id=str(record["Id"]),
        owner_id=str(record.get("OwnerId") or ""),
        subject=str(record.get("Subject") or ""),
        status=STATUS_FROM_TASK.get(str(record.get("Status") or "")),
        priority=PRIORITY_FROM_TASK.get(str(record.get("Priority") or "")),
        # ActivityDate is a date ("2026-12-07"): read as such, never through a datetime,
        # so no time zone can move it a day.
        due=date.fromisoformat(str(raw_due)[:10]) if raw_due else None,
        details=str(record.get("Description") or ""),
        who_id=record.get("WhoId") or None,
        what_id=record.get("WhatId") or None,
        is_closed=bool(record.get("IsClosed")),
        deleted=bool(record.get("IsDeleted")),
        created=parse_stamp(record.get("CreatedDate")),
        last_modified=parse_stamp(record.get("LastModifiedDate")),
        modstamp=parse_stamp(record.get("SystemModstamp")),
        relay_key=str(key) if key else None,
    )


def parse_stamp(value: Any) -> datetime:
    """A Salesforce dateTime (``2026-12-06T10:00:00.000+0000``), aware in UTC."""
    if not value:
        return datetime.min.replace(tzinfo=UTC)
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    return datetime.fromisoformat(text).astimezone(UTC)


def as_seen(task: TaskView, base: Mapped) -> Mapped:
    """What the Task says, in the terms of the last synced copy: every value that does not
    sync (see the module's docstring) reads as the copy's, so it is no change."""
    details = task.details
    if details == base.details[:MAX_DESCRIPTION]:
        details = base.details  # Salesforce's cut of Relay's longer text
    return Mapped(
        subject=base.subject,  # one way: a Subject edited in Salesforce does not come back
        status=task.status if task.status is not None else base.status,
        priority=task.priority if task.priority is not None else base.priority,
        due=task.due if task.due is not None else base.due,
        details=details,
        who_id=task.who_id,
        what_id=task.what_id,
    )


def imported(task: TaskView, today: date) -> Mapped:
    """A new reminder's fields from a Task it is imported from. A status outside the map
    becomes ``complete`` if Salesforce counts it closed (``IsClosed``), else ``open``;
    ``Low`` becomes ``normal``; no ActivityDate, the rep's ``today``."""
    status = task.status or (COMPLETE if task.is_closed else OPEN)
    return Mapped(
        subject=task.subject or "(no subject)",
        status=status,
        priority=task.priority or "normal",
        due=task.due or today,
        details=task.details,
        who_id=task.who_id,
        what_id=task.what_id,
    )


def task_fields(mapped: Mapped, only: Collection[str] | None = None) -> dict[str, Any]:
    """The Task fields for ``mapped`` (all, or the fields named in ``only``)."""
    names = FIELDS if only is None else [name for name in FIELDS if name in only]
    fields: dict[str, Any] = {}
    for name in names:
        value: Any = getattr(mapped, name)
        if name == "status":
            value = STATUS_TO_TASK[value]
        elif name == "priority":
            value = PRIORITY_TO_TASK.get(value, "Normal")
        elif name == "due":
            value = value.isoformat()  # a plain date, as ActivityDate takes it
        elif name == "details":
            value = value[:MAX_DESCRIPTION]
        elif name == "subject":
            value = value[:MAX_SUBJECT]
        fields[TASK_FIELDS[name]] = value
    return fields


def with_fields(mapped: Mapped, values: Mapping[str, Any]) -> Mapped:
    return replace(mapped, **dict(values))
