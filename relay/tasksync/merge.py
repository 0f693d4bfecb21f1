"""The conflict rule: what one sync cycle does with one reminder and its Task. Pure.

The rule (docs/design.md §9, "Conflicts"), per mapped field, against the last synced
copy (the base):

- changed on one side only: that side's value wins;
- changed on both sides to the same value: nothing to do;
- changed on both sides to different values: the later change wins, Salesforce's
  ``LastModifiedDate`` against the reminder's ``updated_at`` (a tie goes to Relay, whose
  clock wrote the reminder); each such field is reported as a conflict, to be logged;
- a delete beats an edit on the other side: a reminder deleted in Relay deletes its
  Task however the Task was edited, and a Task deleted in Salesforce deletes its
  reminder however the reminder was edited;
- a Task restored from the Recycle Bin after its pair was deleted brings the reminder
  back, with the Task's values (a restore is the newest change there is).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from relay.tasksync.mapping import FIELDS, Mapped


class Action(enum.Enum):
    NOTHING = "nothing"
    UPDATE = "update"  # write ``to_relay`` and/or ``to_salesforce``
    DELETE_TASK = "delete_task"  # the reminder was deleted in Relay
    DELETE_REMINDER = "delete_reminder"  # the Task was deleted in Salesforce
    FORGET = "forget"  # both are gone: record the deletion as synced
    RESTORE_REMINDER = "restore_reminder"  # the Task came back from the Recycle Bin


@dataclass(frozen=True)
class Conflict:
    field: str
    relay: Any
    salesforce: Any
    winner: str  # "relay" or "salesforce"


@dataclass(frozen=True)
class Decision:
    action: Action
    merged: Mapped | None = None
    """The new last synced copy (None when nothing is left to sync)."""
    to_relay: dict[str, Any] = field(default_factory=dict)
    to_salesforce: dict[str, Any] = field(default_factory=dict)
    conflicts: tuple[Conflict, ...] = ()


@dataclass(frozen=True)
class Pair:
    """One reminder and its Task as this cycle sees them.

    ``relay`` is None when the reminder is deleted (``relay_deletion_synced``: and that
    deletion was already synced). ``salesforce`` is the Task's values through
    ``mapping.as_seen`` when this cycle read the Task, else None;
    ``salesforce_deleted`` says the read found it deleted (``IsDeleted``).
    """

    base: Mapped
    relay: Mapped | None
    relay_at: datetime
    salesforce: Mapped | None
    salesforce_at: datetime | None = None
    salesforce_deleted: bool = False
    relay_deletion_synced: bool = False


def decide(pair: Pair) -> Decision:
    """What to do with one pair (see the module's docstring)."""
    if pair.relay is None:
        if pair.relay_deletion_synced:
            if pair.salesforce is not None and not pair.salesforce_deleted:
                return Decision(
                    Action.RESTORE_REMINDER,
                    pair.salesforce,
                    to_relay=_values(pair.salesforce, FIELDS),
                )
            return Decision(Action.NOTHING)
        if pair.salesforce_deleted:
            return Decision(Action.FORGET)
        return Decision(Action.DELETE_TASK)
    if pair.salesforce_deleted:
        return Decision(Action.DELETE_REMINDER)
    return merge_fields(pair.base, pair.relay, pair.relay_at, pair.salesforce, pair.salesforce_at)


def merge_fields(
    base: Mapped,
    relay: Mapped,
    relay_at: datetime,
    salesforce: Mapped | None,
    salesforce_at: datetime | None,
) -> Decision:
    """The field-by-field three-way merge of two live sides. ``salesforce`` None: the Task
    did not change since the last poll, so it still holds the base."""
    theirs = base if salesforce is None else salesforce
    relay_changed = relay.changed(base)
    salesforce_changed = theirs.changed(base)
    merged: dict[str, Any] = {}
    to_relay: dict[str, Any] = {}
    to_salesforce: dict[str, Any] = {}
    conflicts: list[Conflict] = []
    for name in FIELDS:
        mine, other = getattr(relay, name), getattr(theirs, name)
        if name in relay_changed and name in salesforce_changed and mine != other:
            later_salesforce = salesforce_at is not None and salesforce_at > relay_at
            winner = "salesforce" if later_salesforce else "relay"
            conflicts.append(Conflict(name, mine, other, winner))
            if later_salesforce:
                merged[name] = to_relay[name] = other
            else:
                merged[name] = to_salesforce[name] = mine
        elif name in relay_changed:
            merged[name] = mine
            if mine != other:
                to_salesforce[name] = mine
        elif name in salesforce_changed:
            merged[name] = to_relay[name] = other
        else:
            merged[name] = mine
    result = Mapped(**merged)
    if not to_relay and not to_salesforce and result == base:
        return Decision(Action.NOTHING, base)
    return Decision(Action.UPDATE, result, to_relay, to_salesforce, tuple(conflicts))


def _values(mapped: Mapped, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(mapped, name) for name in names}
