"""What a two-way reminder/Task sync needs from the local org, over real HTTPS through
simple-salesforce: the movable clock, second-precision stamps, the Recycle Bin
(queryAll, undelete, purge), sObject Get Updated/Deleted with Salesforce's window
rules, TaskStatus/TaskPriority, recurring series masters and the Task fields."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from relay.localorg.data import OrgData
from tests.support.localorg import RunningOrg

DAY = 86_400
# Salesforce's own wording, backwards as it is.
TOO_SHORT = "startDate must be at least one minute greater than endDate"


def _clock(org: RunningOrg, offset: float | None = None) -> dt.datetime:
    """The org's now (moving it first when ``offset`` is given)."""
    if offset is None:
        response = org.admin.get(org.url("/_localorg/clock"))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
    else:
        body = org.admin("/_localorg/clock", {"offset_seconds": offset})
    return dt.datetime.fromisoformat(body["now"])


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _error(caught: pytest.ExceptionInfo[SalesforceMalformedRequest]) -> dict[str, Any]:
    [error] = caught.value.content
    assert isinstance(error, dict)
    return error


def _audit(sf: Salesforce, task: str) -> tuple[str, str, str]:
    row = sf.Task.get(task)
    return row["CreatedDate"], row["LastModifiedDate"], row["SystemModstamp"]


def _admin_post(org: RunningOrg, path: str, body: dict[str, Any]) -> Any:
    response = org.admin.post(org.url(path), json=body)
    assert response.status_code == 200, response.text
    return response.json()


# The clock ------------------------------------------------------------------------------


def test_clock_moves_the_stamps_of_new_and_changed_records(fresh_org: RunningOrg) -> None:
    """PUT /_localorg/clock shifts the org's now; creates and updates made meanwhile carry
    it in CreatedDate/LastModifiedDate/SystemModstamp; offset 0 goes back to real time."""
    sf = fresh_org.sf()
    real = dt.datetime.now(dt.UTC)
    now = _clock(fresh_org)
    assert abs((now - real).total_seconds()) < 5
    moved = _clock(fresh_org, 3 * DAY)
    assert abs((moved - real - dt.timedelta(days=3)).total_seconds()) < 5
    assert _clock(fresh_org) >= moved
    task = sf.Task.create({"Subject": "in the future"})["id"]
    created, modified, modstamp = _audit(sf, task)
    assert created == modified == modstamp
    stamped = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%f%z")
    assert abs((stamped - moved).total_seconds()) < 5
    later = _clock(fresh_org, 4 * DAY)
    sf.Task.update(task, {"Subject": "a day later"})
    _, modified, modstamp = _audit(sf, task)
    assert modified == modstamp
    assert modified[:13] == _stamp(later)[:13]
    assert _audit(sf, task)[0] == created
    back = _clock(fresh_org, 0)
    assert abs((back - dt.datetime.now(dt.UTC)).total_seconds()) < 5


def test_clock_needs_the_token_and_a_number(fresh_org: RunningOrg) -> None:
    """The clock is an admin endpoint: Bearer token required; offset_seconds a number."""
    anonymous = fresh_org.admin.get(
        fresh_org.url("/_localorg/clock"), headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401
    assert anonymous.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    for body in ({"offset_seconds": "3 days"}, {"offset_seconds": True}, {}):
        refused = fresh_org.admin.put(fresh_org.url("/_localorg/clock"), json=body)
        assert refused.status_code == 400, body


def test_clock_offset_survives_a_restart(tmp_path: Any) -> None:
    """The offset is the org's, kept with its data: a restart does not jump time back."""
    first = OrgData(tmp_path / "org.db")
    first.set_clock_offset(10 * DAY)
    first.close()
    second = OrgData(tmp_path / "org.db")
    try:
        assert second.clock_offset() == 10 * DAY
        assert second.now() > dt.datetime.now(dt.UTC) + dt.timedelta(days=9)
    finally:
        second.close()


def test_stamps_are_whole_seconds(sf: Salesforce) -> None:
    """CreatedDate, LastModifiedDate and SystemModstamp carry no milliseconds, in GET and
    in SOQL alike, as Salesforce stores them."""
    task = sf.Task.create({"Subject": "whole seconds", "Status": "Completed"})["id"]
    record = sf.Task.get(task)
    for field in ("CreatedDate", "LastModifiedDate", "SystemModstamp", "CompletedDateTime"):
        assert record[field].endswith(".000+0000"), (field, record[field])
    soql = format_soql("SELECT SystemModstamp FROM Task WHERE Id = {}", task)
    assert sf.query(soql)["records"][0]["SystemModstamp"] == record["SystemModstamp"]


# The Recycle Bin --------------------------------------------------------------------------


def test_deleted_task_is_in_the_recycle_bin(fresh_org: RunningOrg) -> None:
    """Delete sets IsDeleted: query() hides the row, queryAll() returns it with IsDeleted
    selectable and filterable, and Get Deleted lists it with its deletion time."""
    sf = fresh_org.sf()
    start = _clock(fresh_org) - dt.timedelta(minutes=5)
    kept = sf.Task.create({"Subject": "kept"})["id"]
    gone = sf.Task.create({"Subject": "gone"})["id"]
    sf.Task.delete(gone)
    live = sf.query("SELECT Id FROM Task")["records"]
    assert [r["Id"] for r in live] == [kept]
    every = sf.query_all("SELECT Id, IsDeleted FROM Task ORDER BY Subject", include_deleted=True)
    assert [(r["Id"], r["IsDeleted"]) for r in every["records"]] == [(gone, True), (kept, False)]
    binned = sf.query_all("SELECT Id FROM Task WHERE IsDeleted = true", include_deleted=True)
    assert [r["Id"] for r in binned["records"]] == [gone]
    deleted = sf.Task.deleted(start, _clock(fresh_org) + dt.timedelta(minutes=2))
    assert [d["id"] for d in deleted["deletedRecords"]] == [gone]
    modstamp = sf.query_all(
        format_soql("SELECT SystemModstamp FROM Task WHERE Id = {}", gone), include_deleted=True
    )["records"][0]["SystemModstamp"]
    assert deleted["deletedRecords"][0]["deletedDate"] == modstamp


def test_recycle_bin_is_purged_after_15_days(fresh_org: RunningOrg) -> None:
    """After 15 days in the bin a record is gone for good: not in queryAll, not in Get
    Deleted, and earliestDateAvailable says how far back Get Deleted can answer."""
    sf = fresh_org.sf()
    task = sf.Task.create({"Subject": "old news"})["id"]
    sf.Task.delete(task)
    soql = "SELECT Id FROM Task"
    _clock(fresh_org, 15 * DAY - 300)
    assert sf.query_all(soql, include_deleted=True)["totalSize"] == 1
    now = _clock(fresh_org, 15 * DAY + 120)
    assert sf.query_all(soql, include_deleted=True)["totalSize"] == 0
    deleted = sf.Task.deleted(now - dt.timedelta(days=14), now)
    assert deleted["deletedRecords"] == []
    floor = now.replace(second=0, microsecond=0) - dt.timedelta(days=15)
    assert deleted["earliestDateAvailable"] == _stamp(floor)


def test_undelete_restores_the_task_and_its_relations(fresh_org: RunningOrg) -> None:
    """POST /_localorg/undelete (SOAP undelete(); REST has none) takes a task out of the
    bin with the TaskRelation rows its delete cascaded to, as a fresh modification that
    Get Updated reports; an id not in the bin fails with UNDELETE_FAILED."""
    sf = fresh_org.sf()
    contact = sf.Contact.create({"LastName": "Whom"})["id"]
    task = sf.Task.create({"Subject": "come back", "WhoId": contact})["id"]
    relations = format_soql("SELECT Id FROM TaskRelation WHERE TaskId = {}", task)
    assert sf.query(relations)["totalSize"] == 1
    sf.Task.delete(task)
    assert sf.query(relations)["totalSize"] == 0
    deleted_at = _audit_all(sf, task)
    later = _clock(fresh_org, 3600)
    results = _admin_post(fresh_org, "/_localorg/undelete", {"ids": [task, contact]})
    assert results == [
        {"id": task, "success": True, "errors": []},
        {
            "id": contact,
            "success": False,
            "errors": [
                {
                    "statusCode": "UNDELETE_FAILED",
                    "message": "Entity is not in the recycle bin",
                    "fields": [],
                }
            ],
        },
    ]
    assert sf.Task.get(task)["IsDeleted"] is False
    assert sf.query(relations)["totalSize"] == 1
    assert _audit(sf, task)[2] > deleted_at
    updated = sf.Task.updated(later - dt.timedelta(minutes=1), later + dt.timedelta(minutes=2))
    assert task in updated["ids"]


def _audit_all(sf: Salesforce, task: str) -> str:
    soql = format_soql("SELECT SystemModstamp FROM Task WHERE Id = {}", task)
    return str(sf.query_all(soql, include_deleted=True)["records"][0]["SystemModstamp"])


def test_undelete_refuses_a_taken_external_id(fresh_org: RunningOrg) -> None:
    """Undelete re-checks uniqueness: a live task that took the key blocks the restore."""
    sf = fresh_org.sf()
    first = sf.Task.create({"Subject": "a", "Relay_Key__c": "k1"})["id"]
    sf.Task.delete(first)
    sf.Task.create({"Subject": "b", "Relay_Key__c": "k1"})
    [result] = _admin_post(fresh_org, "/_localorg/undelete", {"ids": [first]})
    assert result["success"] is False
    assert result["errors"][0]["statusCode"] == "DUPLICATE_VALUE"


def test_emptying_the_recycle_bin(fresh_org: RunningOrg) -> None:
    """POST /_localorg/recycleBin/empty (SOAP emptyRecycleBin()) purges the given ids, or
    the whole bin; Get Deleted then cannot answer from before the newest purged deletion
    (INVALID_REPLICATION_DATE) and earliestDateAvailable moves past it."""
    sf = fresh_org.sf()
    start = _clock(fresh_org) - dt.timedelta(minutes=10)
    first = sf.Task.create({"Subject": "first"})["id"]
    second = sf.Task.create({"Subject": "second"})["id"]
    sf.Task.delete(first)
    now = _clock(fresh_org, 180)
    sf.Task.delete(second)
    purged = _admin_post(fresh_org, "/_localorg/recycleBin/empty", {"ids": [first]})
    assert purged == [{"id": first, "success": True, "errors": []}]
    every = sf.query_all("SELECT Id FROM Task", include_deleted=True)["records"]
    assert [r["Id"] for r in every] == [second]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.deleted(start, now + dt.timedelta(minutes=5))
    assert _error(caught)["errorCode"] == "INVALID_REPLICATION_DATE"
    deleted = sf.Task.deleted(now - dt.timedelta(minutes=1), now + dt.timedelta(minutes=5))
    assert [d["id"] for d in deleted["deletedRecords"]] == [second]
    assert deleted["earliestDateAvailable"] < _stamp(now)
    whole = _admin_post(fresh_org, "/_localorg/recycleBin/empty", {})
    assert [r["id"] for r in whole] == [second]
    assert sf.query_all("SELECT Id FROM Task", include_deleted=True)["totalSize"] == 0


# sObject Get Updated / Get Deleted ----------------------------------------------------------


def test_updated_lists_changes_by_system_modstamp(fresh_org: RunningOrg) -> None:
    """Get Updated returns ids whose SystemModstamp is in [start, end), seconds of both
    dropped, and latestDateCovered no later than the org's current minute."""
    sf = fresh_org.sf()
    base = _clock(fresh_org, 0).replace(second=0, microsecond=0)
    _clock(fresh_org, (base + dt.timedelta(minutes=10, seconds=30) - _now()).total_seconds())
    early = sf.Task.create({"Subject": "early"})["id"]
    _clock(fresh_org, (base + dt.timedelta(minutes=20, seconds=5) - _now()).total_seconds())
    late = sf.Task.create({"Subject": "late"})["id"]
    window = sf.Task.updated(
        base + dt.timedelta(minutes=10, seconds=59), base + dt.timedelta(minutes=20, seconds=59)
    )
    assert window == {
        "ids": [early],
        "latestDateCovered": _stamp(base + dt.timedelta(minutes=20)),
    }
    ahead = sf.Task.updated(base, base + dt.timedelta(hours=2))
    assert ahead["ids"] == [early, late]
    assert ahead["latestDateCovered"] == _stamp(base + dt.timedelta(minutes=20))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.mark.parametrize("resource", ["updated", "deleted"])
def test_replication_window_errors(fresh_org: RunningOrg, resource: str) -> None:
    """INVALID_REPLICATION_DATE for an end not a whole minute after the start and for a
    start beyond the 30 days (updated) or 15 days (deleted) the org keeps."""
    sf = fresh_org.sf()
    now = _clock(fresh_org)
    call = getattr(sf.Task, resource)
    too_far = {"updated": 31, "deleted": 16}[resource]
    cases = [
        (now, now - dt.timedelta(hours=1), TOO_SHORT),
        (now.replace(second=5), now.replace(second=55), TOO_SHORT),
        (now - dt.timedelta(days=too_far), now, None),
    ]
    for start, end, message in cases:
        with pytest.raises(SalesforceMalformedRequest) as caught:
            call(start, end)
        error = _error(caught)
        assert error["errorCode"] == "INVALID_REPLICATION_DATE", error
        if message is not None:
            assert error["message"] == message
    if resource == "updated":
        assert call(now - dt.timedelta(days=29), now)["ids"] == []
        with pytest.raises(SalesforceMalformedRequest) as caught:
            call(now - dt.timedelta(days=31), now)
        assert _error(caught)["message"] == "startDate cannot be more than 30 days ago"


def test_replication_dates_need_a_zone(fresh_org: RunningOrg) -> None:
    """start/end are ISO 8601 dateTimes with a zone, e.g. 2026-12-06T10:00:00+00:00 (an
    unencoded '+' arrives as a space and still counts); no zone or no date is refused."""
    now = _clock(fresh_org).replace(second=0)
    base = fresh_org.url("/services/data/v62.0/sobjects/Task/updated/")
    start = (now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    end = now.strftime("%Y-%m-%dT%H:%M:%S")
    plain = fresh_org.admin.get(f"{base}?start={start}+00:00&end={end}+00:00")
    assert plain.status_code == 200, plain.text
    assert plain.json()["latestDateCovered"] == _stamp(now)
    zulu = fresh_org.admin.get(base, params={"start": f"{start}Z", "end": f"{end}.000Z"})
    assert zulu.status_code == 200, zulu.text
    for bad in (f"{start}", "yesterday", f"{start[:10]}"):
        refused = fresh_org.admin.get(base, params={"start": bad, "end": f"{end}Z"})
        assert refused.status_code == 400, bad
        assert refused.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    naive = dt.datetime.now()  # simple-salesforce sends a naive one without a zone
    with pytest.raises(SalesforceMalformedRequest):
        fresh_org.sf().Task.updated(naive - dt.timedelta(hours=1), naive)


# TaskStatus and TaskPriority ----------------------------------------------------------------


def test_task_status_and_priority_values(sf: Salesforce) -> None:
    """The standard values are queryable, with IsClosed/IsDefault and IsHighPriority."""
    statuses = sf.query(
        "SELECT MasterLabel, IsClosed, IsDefault FROM TaskStatus ORDER BY SortOrder"
    )["records"]
    assert [(r["MasterLabel"], r["IsClosed"], r["IsDefault"]) for r in statuses] == [
        ("Not Started", False, True),
        ("In Progress", False, False),
        ("Completed", True, False),
        ("Waiting on someone else", False, False),
        ("Deferred", False, False),
    ]
    priorities = sf.query(
        "SELECT MasterLabel, IsHighPriority, IsDefault FROM TaskPriority ORDER BY SortOrder"
    )["records"]
    assert [(r["MasterLabel"], r["IsHighPriority"], r["IsDefault"]) for r in priorities] == [
        ("High", True, False),
        ("Normal", False, True),
        ("Low", False, False),
    ]
    closed = sf.query("SELECT MasterLabel FROM TaskStatus WHERE IsClosed = true")["records"]
    assert [r["MasterLabel"] for r in closed] == ["Completed"]


def test_task_status_values_are_read_only(sf: Salesforce) -> None:
    """TaskStatus supports describe, query and retrieve only."""
    row = sf.query("SELECT Id FROM TaskStatus WHERE MasterLabel = 'Deferred'")["records"][0]
    assert sf.TaskStatus.get(row["Id"])["ApiName"] == "Deferred"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.TaskStatus.create({"MasterLabel": "Parked"})
    assert _error(caught)["errorCode"] == "INVALID_TYPE_FOR_OPERATION"


def test_task_flags_follow_status_and_priority(sf: Salesforce) -> None:
    """IsClosed and IsHighPriority come from the TaskStatus/TaskPriority values; the
    defaults are the IsDefault ones."""
    task = sf.Task.create({"Subject": "flags"})["id"]
    row = sf.Task.get(task)
    assert (row["Status"], row["Priority"], row["IsClosed"], row["IsHighPriority"]) == (
        "Not Started", "Normal", False, False,
    )  # fmt: skip
    sf.Task.update(task, {"Status": "Completed", "Priority": "High"})
    row = sf.Task.get(task)
    assert (row["IsClosed"], row["IsHighPriority"]) == (True, True)
    sf.Task.update(task, {"Status": "Deferred", "Priority": "Low"})
    row = sf.Task.get(task)
    assert (row["IsClosed"], row["IsHighPriority"]) == (False, False)


def test_added_status_values_drive_validation_flags_and_defaults(fresh_org: RunningOrg) -> None:
    """POST /_localorg/picklistValues/TaskStatus adds a value as Setup does: several
    statuses can be closed, Task.Status accepts and describes the new one, and a new
    default becomes the default of new tasks."""
    sf = fresh_org.sf()
    with pytest.raises(SalesforceMalformedRequest):
        sf.Task.create({"Subject": "x", "Status": "Cancelled"})
    added = _admin_post(
        fresh_org,
        "/_localorg/picklistValues/TaskStatus",
        {"MasterLabel": "Cancelled", "IsClosed": True},
    )
    assert (added["MasterLabel"], added["IsClosed"], added["SortOrder"]) == ("Cancelled", True, 6)
    closed = sf.query("SELECT MasterLabel FROM TaskStatus WHERE IsClosed = true ORDER BY SortOrder")
    assert [r["MasterLabel"] for r in closed["records"]] == ["Completed", "Cancelled"]
    task = sf.Task.create({"Subject": "x", "Status": "Cancelled"})["id"]
    assert sf.Task.get(task)["IsClosed"] is True
    status = next(f for f in sf.Task.describe()["fields"] if f["name"] == "Status")
    assert status["picklistValues"][-1]["value"] == "Cancelled"
    _admin_post(
        fresh_org, "/_localorg/picklistValues/TaskPriority",
        {"MasterLabel": "Urgent", "IsHighPriority": True, "IsDefault": True},
    )  # fmt: skip
    fresh = sf.Task.get(sf.Task.create({"Subject": "y"})["id"])
    assert (fresh["Priority"], fresh["IsHighPriority"]) == ("Urgent", True)
    defaults = sf.query("SELECT MasterLabel FROM TaskPriority WHERE IsDefault = true")
    assert [r["MasterLabel"] for r in defaults["records"]] == ["Urgent"]
    for path, body in [
        ("/_localorg/picklistValues/TaskStatus", {"MasterLabel": "cancelled"}),
        ("/_localorg/picklistValues/LeadStatus", {"MasterLabel": "Nurture"}),
        ("/_localorg/picklistValues/TaskStatus", {"MasterLabel": "Odd", "IsHighPriority": True}),
    ]:
        refused = fresh_org.admin.post(fresh_org.url(path), json=body)
        assert refused.status_code == 400, (path, body)


@pytest.mark.parametrize(("field", "value"), [("Status", "Open"), ("Priority", "Urgent")])
def test_unknown_status_or_priority_is_refused(sf: Salesforce, field: str, value: str) -> None:
    """A value that is not a TaskStatus/TaskPriority is a restricted-picklist error."""
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.create({"Subject": "bad", field: value})
    assert _error(caught) == {
        "message": f"{field}: bad value for restricted picklist field: {value}",
        "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "fields": [field],
    }


# Recurring series masters -------------------------------------------------------------------

SERIES = {
    "Subject": "weekly check-in",
    "IsRecurrence": True,
    "RecurrenceStartDateOnly": "2026-12-07",
    "RecurrenceEndDateOnly": "2027-03-01",
    "RecurrenceType": "RecursWeekly",
    "RecurrenceInterval": 1,
    "RecurrenceDayOfWeekMask": 2,
}


def test_recurring_master_rejects_a_due_date(sf: Salesforce) -> None:
    """A series master (IsRecurrence) can't have ActivityDate set, on create or update;
    its other fields update as usual, and IsRecurrence itself is create-only."""
    master = sf.Task.create(SERIES)["id"]
    row = sf.Task.get(master)
    assert (row["IsRecurrence"], row["ActivityDate"]) == (True, None)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.update(master, {"ActivityDate": "2026-12-10"})
    error = _error(caught)
    assert (error["errorCode"], error["fields"]) == ("FIELD_INTEGRITY_EXCEPTION", ["ActivityDate"])
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.create({**SERIES, "ActivityDate": "2026-12-10"})
    assert _error(caught)["fields"] == ["ActivityDate"]
    assert sf.Task.update(master, {"Subject": "renamed", "Status": "Completed"}) == 204
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.update(master, {"IsRecurrence": False})
    assert _error(caught)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    plain = sf.Task.create({"Subject": "one-off", "ActivityDate": "2026-12-10"})["id"]
    assert sf.Task.get(plain)["IsRecurrence"] is False


def test_recurring_master_needs_its_pattern(sf: Salesforce) -> None:
    """A master without start, end and type is refused, naming the missing fields."""
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.create({"Subject": "no pattern", "IsRecurrence": True})
    assert _error(caught)["fields"] == [
        "RecurrenceStartDateOnly", "RecurrenceEndDateOnly", "RecurrenceType",
    ]  # fmt: skip


# Task fields ------------------------------------------------------------------------------------


def test_task_fields_the_sync_uses(sf: Salesforce) -> None:
    """Describe has the fields with Salesforce's writability: TaskSubtype create-only,
    IsArchived read-only, ActivityDate a date, Description 32,000 characters."""
    fields = {f["name"]: f for f in sf.Task.describe()["fields"]}
    for name in ("WhoId", "WhatId", "OwnerId", "ActivityDate", "Description", "IsArchived"):
        assert name in fields
    assert (fields["TaskSubtype"]["createable"], fields["TaskSubtype"]["updateable"]) == (
        True,
        False,
    )
    assert (fields["IsArchived"]["createable"], fields["IsArchived"]["updateable"]) == (
        False,
        False,
    )
    assert fields["ActivityDate"]["type"] == "date"
    assert fields["Description"]["length"] == 32_000
    values = [v["value"] for v in fields["TaskSubtype"]["picklistValues"]]
    assert {"Task", "Email", "Call"} <= set(values)


def test_task_round_trips_what_the_sync_writes(sf: Salesforce) -> None:
    """Who, What, owner, due date (a plain date, no time zone shift), long details."""
    account = sf.Account.create({"Name": "Sync Co"})["id"]
    contact = sf.Contact.create({"LastName": "Sync", "AccountId": account})["id"]
    owner = sf.query("SELECT Id FROM User LIMIT 1")["records"][0]["Id"]
    details = "x" * 32_000
    task = sf.Task.create(
        {
            "Subject": "follow up",
            "TaskSubtype": "Task",
            "WhoId": contact,
            "WhatId": account,
            "OwnerId": owner,
            "ActivityDate": "2026-12-31",
            "Description": details,
        }
    )["id"]
    row = sf.Task.get(task)
    assert (row["WhoId"], row["WhatId"], row["OwnerId"]) == (contact, account, owner)
    assert (row["ActivityDate"], row["TaskSubtype"], row["IsArchived"]) == (
        "2026-12-31",
        "Task",
        False,
    )
    assert row["Description"] == details
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.update(task, {"TaskSubtype": "Call"})
    assert _error(caught)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_description_over_32000_characters_is_too_long(sf: Salesforce) -> None:
    """Description holds at most 32,000 characters: one more is STRING_TOO_LONG."""
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.create({"Subject": "long", "Description": "y" * 32_001})
    error = _error(caught)
    assert (error["errorCode"], error["fields"]) == ("STRING_TOO_LONG", ["Description"])
    assert error["message"].startswith("Comments: data value too large: ")
    assert error["message"].endswith("(max length=32000)")


def test_archival_hides_old_closed_tasks_from_query(fresh_org: RunningOrg) -> None:
    """The archival job (POST /_localorg/archiveActivities) archives closed tasks due 365
    days ago or more, and closed undated ones created that long ago; open tasks stay.
    Archived tasks are hidden from query() and returned by queryAll()."""
    sf = fresh_org.sf()
    today = _clock(fresh_org).date()
    old_due = (today - dt.timedelta(days=365)).isoformat()
    recent_due = (today - dt.timedelta(days=364)).isoformat()
    done_old = sf.Task.create({"Subject": "a", "Status": "Completed", "ActivityDate": old_due})
    done_recent = sf.Task.create(
        {"Subject": "b", "Status": "Completed", "ActivityDate": recent_due}
    )["id"]
    sf.Task.create({"Subject": "c", "Status": "Not Started", "ActivityDate": old_due})
    undated = sf.Task.create({"Subject": "d", "Status": "Completed"})["id"]
    assert _admin_post(fresh_org, "/_localorg/archiveActivities", {}) == {
        "archived": [done_old["id"]]
    }
    _clock(fresh_org, 366 * DAY)
    archived = _admin_post(fresh_org, "/_localorg/archiveActivities", {})["archived"]
    assert archived == sorted([undated, done_recent])
    live = sf.query("SELECT Subject FROM Task ORDER BY Subject")["records"]
    assert [r["Subject"] for r in live] == ["c"]
    every = sf.query_all(
        "SELECT Subject, IsArchived FROM Task ORDER BY Subject", include_deleted=True
    )["records"]
    assert [(r["Subject"], r["IsArchived"]) for r in every] == [
        ("a", True), ("b", True), ("c", False), ("d", True),
    ]  # fmt: skip


def test_archived_tasks_only_in_query_all(fresh_org: RunningOrg) -> None:
    """Archived activities are hidden from query() and returned by queryAll()."""
    sf = fresh_org.sf()
    task = sf.Task.create({"Subject": "last year", "Status": "Completed"})["id"]

    def archive(data: OrgData) -> None:
        row = data.row("Task", task)
        assert row is not None
        data.set_derived("Task", row, {"IsArchived": True})

    fresh_org.call(archive)
    assert sf.query("SELECT Id FROM Task")["totalSize"] == 0
    rows = sf.query_all("SELECT Id, IsArchived FROM Task", include_deleted=True)["records"]
    assert [(r["Id"], r["IsArchived"]) for r in rows] == [(task, True)]
