"""Reminders in the store (relay/store/reminders.py), on SQLite and PostgreSQL: dates stay
dates, one reminder per email and rep, soft deletes, the ``tasks`` change version, and
reminders recorded with the outcomes of ``finish_many`` (or not at all)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from relay.store import SqlStore
from relay.store.errors import LeaseLost
from relay.store.model import Outcome, Rep, State
from relay.store.reminders import UnknownReminder
from relay.store.values import ChangeVersions, new_reminder

OWNER = "005000000000001AAA"
OTHER = "005000000000002AAA"


def from_email(owner: str, key: str = "k" * 64, queue_id: str | None = None, **fields: object):  # type: ignore[no-untyped-def]
    return new_reminder(
        owner,
        "Follow up: Pricing",
        date(2026, 12, 24),
        source="email",
        source_key=key,
        queue_id=queue_id,
        **fields,
    )


def test_a_reminder_round_trips_with_its_date_unchanged(store: SqlStore) -> None:
    reminder = new_reminder(
        OWNER,
        "Call Hank",
        date(2026, 12, 31),
        details="about the rollout",
        priority="high",
        who_id="003000000000001AAA",
        what_id="006000000000001AAA",
        records=("003000000000001AAA", "006000000000001AAA"),
    )
    assert store.add_reminders([reminder]) == 1
    read = store.get_reminder(reminder.id)
    assert read is not None
    assert read.due == date(2026, 12, 31)
    assert type(read.due) is date
    assert read.records == ("003000000000001AAA", "006000000000001AAA")
    assert (read.subject, read.details, read.priority, read.status, read.source) == (
        "Call Hank",
        "about the rollout",
        "high",
        "open",
        "manual",
    )
    assert (read.who_id, read.what_id) == ("003000000000001AAA", "006000000000001AAA")
    assert (read.sf_task_id, read.synced_hash, read.synced_at, read.deleted_at) == (None,) * 4


def test_one_reminder_per_email_and_rep(store: SqlStore) -> None:
    assert store.add_reminders([from_email(OWNER)]) == 1
    assert store.add_reminders([from_email(OWNER)]) == 0  # a second copy, a retry
    assert store.add_reminders([from_email(OTHER)]) == 1  # another rep on the thread
    manual = [new_reminder(OWNER, "x", date(2027, 1, 1)) for _ in range(2)]
    assert store.add_reminders(manual) == 2  # no source key: never a duplicate
    assert len(store.list_reminders()) == 4


def test_list_filters_and_order(store: SqlStore) -> None:
    store.add_reminders(
        [
            new_reminder(OWNER, "b", date(2026, 12, 3)),
            new_reminder(OWNER, "a", date(2026, 12, 1)),
            new_reminder(OTHER, "c", date(2026, 12, 2)),
        ]
    )
    assert [r.subject for r in store.list_reminders()] == ["a", "c", "b"]
    assert [r.subject for r in store.list_reminders([OWNER])] == ["a", "b"]
    window = store.list_reminders(due_from=date(2026, 12, 2), due_to=date(2026, 12, 3))
    assert [r.subject for r in window] == ["c", "b"]
    [first] = store.list_reminders(due_to=date(2026, 12, 1))
    store.edit_reminder(first.id, status="complete")
    assert [r.subject for r in store.list_reminders(status="open")] == ["c", "b"]
    assert [r.subject for r in store.list_reminders(status="complete")] == ["a"]


def test_edit_complete_reopen_and_soft_delete(store: SqlStore) -> None:
    reminder = new_reminder(OWNER, "Quote", date(2026, 12, 1))
    store.add_reminders([reminder])
    edited = store.edit_reminder(
        reminder.id, subject="Quote v2", due=date(2026, 12, 5), priority="high", details="d"
    )
    assert (edited.subject, edited.due, edited.priority, edited.details) == (
        "Quote v2",
        date(2026, 12, 5),
        "high",
        "d",
    )
    done = store.edit_reminder(reminder.id, status="complete")
    assert done.status == "complete"
    assert done.completed_at is not None
    reopened = store.edit_reminder(reminder.id, status="open")
    assert reopened.completed_at is None
    with pytest.raises(ValueError, match="cannot edit"):
        store.edit_reminder(reminder.id, owner_id=OTHER)
    store.delete_reminder(reminder.id)
    assert store.get_reminder(reminder.id) is None
    kept = store.get_reminder(reminder.id, deleted=True)
    assert kept is not None
    assert kept.deleted_at is not None
    assert store.list_reminders() == []
    with pytest.raises(UnknownReminder):
        store.delete_reminder(reminder.id)
    with pytest.raises(UnknownReminder):
        store.edit_reminder(reminder.id, subject="again")


def test_every_reminder_write_bumps_the_tasks_version(store: SqlStore) -> None:
    def tasks() -> int:
        return store.change_versions().tasks

    start = store.change_versions()
    assert start == ChangeVersions(reps=start.reps, queue=start.queue, tasks=0)
    reminder = from_email(OWNER)
    store.add_reminders([reminder])
    assert tasks() == 1
    store.add_reminders([from_email(OWNER)])  # nothing new: no bump
    assert tasks() == 1
    store.edit_reminder(reminder.id, status="complete")
    assert tasks() == 2
    store.delete_reminder(reminder.id)
    assert tasks() == 3
    assert store.change_versions().reps == start.reps
    assert store.change_versions().queue == start.queue


def test_finish_many_records_reminders_with_the_outcomes(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    queue_id = enqueue()
    [claimed] = store.claim(1, "worker-1", 60)
    assert claimed.id == queue_id
    reminder = from_email(OWNER, queue_id=queue_id)
    store.finish_many(
        [Outcome(queue_id, State.LOGGED, "logged")], worker="worker-1", reminders=[reminder]
    )
    assert [r.id for r in store.list_reminders()] == [reminder.id]
    assert store.change_versions().tasks == 1


def test_no_reminder_when_the_outcome_is_not_recorded(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """A stale worker's finish is refused as a whole: its reminder is not stored either,
    so the new owner's finish adds the one reminder."""
    queue_id = enqueue()
    store.claim(1, "worker-1", 60)
    with pytest.raises(LeaseLost):
        store.finish_many(
            [Outcome(queue_id, State.LOGGED, "logged")],
            worker="worker-2",
            reminders=[from_email(OWNER, queue_id=queue_id)],
        )
    assert store.list_reminders() == []
    assert store.change_versions().tasks == 0


def test_the_reps_time_zone_is_kept(store: SqlStore) -> None:
    store.replace_reps(
        [
            Rep(OWNER, "a@example.com", "a@example.com", "A", True, "Pacific/Kiritimati"),
            Rep(OTHER, "b@example.com", "b@example.com", "B", True),
        ],
        datetime.now(UTC),
    )
    zones = {rep.user_id: rep.time_zone for rep in store.list_reps()}
    assert zones == {OWNER: "Pacific/Kiritimati", OTHER: None}
