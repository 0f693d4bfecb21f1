"""The pure core of the Task sync: the field map, the no-echo hash and the conflict rule
(relay/tasksync/mapping.py, merge.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from relay.tasksync.mapping import (
    MAX_DESCRIPTION,
    Mapped,
    as_seen,
    fingerprint,
    imported,
    parse_task,
    task_fields,
)
from relay.tasksync.merge import Action, Pair, decide

BASE = Mapped("Call Hank", "open", "normal", date(2026, 12, 10), "details", "003A", None)
T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def task(**fields: object) -> dict[str, object]:
    record: dict[str, object] = {
        "Id": "00T000000000001AAA", "OwnerId": "005000000000001AAA", "Subject": "Call Hank",
        "Status": "Not Started", "Priority": "Normal", "ActivityDate": "2026-12-10",
        "Description": "details", "WhoId": "003A", "WhatId": None, "IsDeleted": False,
        "IsClosed": False, "CreatedDate": "2026-12-06T10:00:00.000+0000",
        "LastModifiedDate": "2026-12-06T10:00:00.000+0000",
        "SystemModstamp": "2026-12-06T10:00:00.000+0000",
    }  # fmt: skip
    record.update(fields)
    return record


def test_the_field_map_both_ways() -> None:
    fields = task_fields(replace(BASE, status="complete", priority="high"))
    assert fields == {
        "Subject": "Call Hank", "Status": "Completed", "Priority": "High",
        "ActivityDate": "2026-12-10", "Description": "details", "WhoId": "003A", "WhatId": None,
    }  # fmt: skip
    seen = parse_task(task(Status="Completed", Priority="High"))
    assert (seen.status, seen.priority, seen.due) == ("complete", "high", date(2026, 12, 10))
    assert seen.last_modified == T0
    assert task_fields(BASE, {"due"}) == {"ActivityDate": "2026-12-10"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"Status": "In Progress"}, BASE),  # other statuses do not sync
        ({"Status": "Cancelled", "IsClosed": True}, BASE),  # nor custom closed ones
        ({"Priority": "Low"}, BASE),  # Low does not sync
        ({"Subject": "Renamed in Salesforce"}, BASE),  # Subject is one way
        ({"ActivityDate": None}, BASE),  # an emptied due date is no change
        ({"Status": "Completed"}, replace(BASE, status="complete")),
        ({"ActivityDate": "2027-01-01"}, replace(BASE, due=date(2027, 1, 1))),
        ({"WhatId": "006B"}, replace(BASE, what_id="006B")),
    ],
)
def test_what_a_task_says_in_the_terms_of_the_last_copy(
    fields: dict[str, object], expected: Mapped
) -> None:
    assert as_seen(parse_task(task(**fields)), BASE) == expected


def test_the_hash_tells_an_echo_from_a_change() -> None:
    assert fingerprint(as_seen(parse_task(task()), BASE)) == fingerprint(BASE)
    assert fingerprint(as_seen(parse_task(task(Description="x")), BASE)) != fingerprint(BASE)
    # Salesforce keeps 32,000 characters of a longer text: its cut is no change.
    long = replace(BASE, details="a" * (MAX_DESCRIPTION + 10))
    pushed = task_fields(long)["Description"]
    assert len(pushed) == MAX_DESCRIPTION
    assert as_seen(parse_task(task(Description=pushed)), long) == long
    assert Mapped.from_json(long.to_json()) == long


def test_an_imported_task_keeps_what_does_not_map_as_its_nearest_value() -> None:
    today = date(2026, 12, 6)
    closed = imported(parse_task(task(Status="Cancelled", IsClosed=True, Priority="Low")), today)
    assert (closed.status, closed.priority) == ("complete", "normal")
    undated = imported(parse_task(task(ActivityDate=None, Status="In Progress")), today)
    assert (undated.status, undated.due) == ("open", today)


def pair(relay: Mapped | None, salesforce: Mapped | None, **others: object) -> Pair:
    values: dict[str, object] = {"relay_at": T0, "salesforce_at": T0 + timedelta(minutes=1)}
    values.update(others)
    return Pair(BASE, relay, salesforce=salesforce, **values)  # type: ignore[arg-type]


def test_a_change_on_one_side_wins() -> None:
    relay_only = decide(pair(replace(BASE, details="relay"), BASE))
    assert relay_only.action is Action.UPDATE
    assert (relay_only.to_salesforce, relay_only.to_relay) == ({"details": "relay"}, {})
    salesforce_only = decide(pair(BASE, replace(BASE, status="complete")))
    assert (salesforce_only.to_salesforce, salesforce_only.to_relay) == ({}, {"status": "complete"})
    both = decide(pair(replace(BASE, details="relay"), replace(BASE, status="complete")))
    assert both.to_salesforce == {"details": "relay"}
    assert both.to_relay == {"status": "complete"}
    assert both.merged == replace(BASE, details="relay", status="complete")
    assert both.conflicts == ()
    assert decide(pair(BASE, BASE)).action is Action.NOTHING
    assert decide(pair(BASE, None)).action is Action.NOTHING


def test_the_same_field_changed_on_both_sides_goes_to_the_later_change() -> None:
    relay, salesforce = replace(BASE, due=date(2026, 12, 11)), replace(BASE, due=date(2026, 12, 12))
    later_salesforce = decide(pair(relay, salesforce))
    assert later_salesforce.to_relay == {"due": date(2026, 12, 12)}
    assert [c.winner for c in later_salesforce.conflicts] == ["salesforce"]
    later_relay = decide(pair(relay, salesforce, relay_at=T0 + timedelta(minutes=2)))
    assert later_relay.to_salesforce == {"due": date(2026, 12, 11)}
    assert [c.winner for c in later_relay.conflicts] == ["relay"]
    same = decide(pair(relay, relay))
    assert (same.to_relay, same.to_salesforce, same.conflicts) == ({}, {}, ())


def test_delete_beats_edit_and_a_restore_brings_the_reminder_back() -> None:
    edited = replace(BASE, details="edited")
    assert decide(pair(None, edited)).action is Action.DELETE_TASK
    assert decide(pair(edited, edited, salesforce_deleted=True)).action is Action.DELETE_REMINDER
    assert decide(pair(None, BASE, salesforce_deleted=True)).action is Action.FORGET
    restored = decide(pair(None, edited, relay_deletion_synced=True))
    assert restored.action is Action.RESTORE_REMINDER
    assert restored.merged == edited
    gone = pair(None, None, relay_deletion_synced=True)
    assert decide(gone).action is Action.NOTHING
