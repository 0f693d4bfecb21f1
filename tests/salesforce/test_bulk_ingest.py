"""Relay's Bulk API 2.0 writes against the local org over real HTTPS: per-row results in
the REST path's error classes, several jobs when the upload limit is reached, hostile
CSV content, and TaskWriter's bulk path with its ledger across a crash."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from simple_salesforce.format import format_soql

from relay.delivery.write import Job, TaskWriter, _intent, _sobject
from relay.errors import NeedsAttention, RecordChanged, TemporaryError, Unprocessable
from relay.localorg.data import OrgData
from relay.matching import TaskDraft
from relay.salesforce.bulk_ingest import (
    BulkPolicy,
    csv_rows,
    csv_value,
    row_error,
    split_jobs,
    upsert_tasks_bulk,
)
from relay.salesforce.client import SalesforceClient
from relay.salesforce.writes import upsert_tasks
from relay.store import SqlStore
from relay.store.model import INTENT, WRITTEN
from tests.salesforce.sfclient_helpers import admin

FAST = BulkPolicy(poll_initial_seconds=0.02, poll_max_seconds=0.2, timeout_seconds=60)
JOBS = "/services/data/v62.0/jobs/ingest"


def _keys(n: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"bulk-{run}-{i}" for i in range(n)]


def _tasks_by_key(client: SalesforceClient, keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    for chunk in range(0, len(keys), 200):
        soql = format_soql(
            "SELECT Id, Subject, Description, Relay_Key__c FROM Task WHERE Relay_Key__c IN {}",
            keys[chunk : chunk + 200],
        )
        for record in client.query_all(soql):
            found[record["Relay_Key__c"]].append(record)
    return found


def _jobs(org: Any) -> int:
    return len(admin(org, "GET", JOBS)["records"])


def _calls(org: Any) -> int:
    limits = admin(org, "GET", "/services/data/v62.0/limits")["DailyApiRequests"]
    return int(limits["Max"] - limits["Remaining"])


def test_bulk_upsert_creates_then_updates_one_task_per_key(
    org: Any, client: SalesforceClient
) -> None:
    keys = _keys(450)
    records = [{"Subject": f"first {k}", "Relay_Key__c": k} for k in keys]
    before = _calls(org)
    first = upsert_tasks_bulk(client, records, external_id_field="Relay_Key__c", policy=FAST)
    calls = _calls(org) - before - 1  # the limits call that read the count
    assert [r.key for r in first] == keys
    assert all(r.ok and r.created and r.id for r in first)
    # create, upload, close, polls, successful results: a handful, not 3 collection calls.
    assert 4 < calls < 15
    again = [{"Subject": f"again {k}", "Relay_Key__c": k} for k in keys[:5]]
    second = upsert_tasks_bulk(client, again, external_id_field="Relay_Key__c", policy=FAST)
    assert [r.created for r in second] == [False] * 5
    assert [r.id for r in second] == [r.id for r in first[:5]]
    tasks = _tasks_by_key(client, keys)
    assert all(len(found) == 1 for found in tasks.values())
    assert tasks[keys[0]][0]["Subject"] == f"again {keys[0]}"
    assert tasks[keys[5]][0]["Subject"] == f"first {keys[5]}"


def test_failed_rows_map_per_row_to_the_rest_paths_error_classes(
    org: Any, client: SalesforceClient
) -> None:
    """The same bad records through REST collections and through a bulk job: the same
    error class and codes for each row, and the good rows written."""

    def records(keys: list[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [{"Subject": "ok", "Relay_Key__c": k} for k in keys]
        rows[1]["WhoId"] = "003000000000001AAA"  # no such contact
        rows[3]["Subject"] = "x" * 300  # Subject holds 255
        rows[5]["TaskSubtype"] = "NotAValue"  # restricted picklist
        rows[7]["Status"] = "Open"  # not a TaskStatus value
        return rows

    rest = upsert_tasks(client, records(_keys(9)))
    bulk_keys = _keys(9)
    bulk = upsert_tasks_bulk(
        client, records(bulk_keys), external_id_field="Relay_Key__c", policy=FAST
    )
    assert [r.key for r in bulk] == bulk_keys
    assert [type(r.error) for r in bulk] == [type(r.error) for r in rest]
    assert [r.codes for r in bulk] == [r.codes for r in rest]
    assert isinstance(bulk[1].error, RecordChanged)
    assert bulk[1].codes == ("INVALID_CROSS_REFERENCE_KEY",)
    assert isinstance(bulk[3].error, Unprocessable)
    assert bulk[3].codes == ("STRING_TOO_LONG",)
    assert isinstance(bulk[5].error, NeedsAttention)
    assert isinstance(bulk[7].error, NeedsAttention)
    written = _tasks_by_key(client, bulk_keys)
    assert [len(written[k]) for k in bulk_keys] == [1, 0, 1, 0, 1, 0, 1, 0, 1]


def test_hostile_content_round_trips(org: Any, client: SalesforceClient) -> None:
    keys = _keys(6)
    texts = [
        'He said "no", then left',
        "a, b, c; d",
        "line one\nline two\r\nline three\n",
        '"starts and ends with quotes"',
        "=cmd|' /C calc'!A0 ünïcödé ✉ 日本",
        "",
    ]
    records = [
        {"Subject": text[:255] or "empty body", "Description": text or None, "Relay_Key__c": k}
        for text, k in zip(texts, keys, strict=True)
    ]
    results = upsert_tasks_bulk(client, records, external_id_field="Relay_Key__c", policy=FAST)
    assert all(r.ok for r in results), [r.error for r in results]
    tasks = _tasks_by_key(client, keys)
    for text, key in zip(texts, keys, strict=True):
        [task] = tasks[key]
        assert task["Description"] == (text or None)
        assert task["Subject"] == (text[:255] or "empty body")


def test_empty_and_none_clear_a_field_as_rest_does(org: Any, client: SalesforceClient) -> None:
    keys = _keys(3)
    upsert_tasks(client, [{"Subject": "s", "Description": "old", "Relay_Key__c": k} for k in keys])
    records = [
        {"Subject": "s", "Description": "", "Relay_Key__c": keys[0]},
        {"Subject": "s", "Description": None, "Relay_Key__c": keys[1]},
        {"Subject": "s", "Relay_Key__c": keys[2]},  # no Description: left alone
    ]
    results = upsert_tasks_bulk(client, records, external_id_field="Relay_Key__c", policy=FAST)
    assert all(r.ok for r in results)
    tasks = _tasks_by_key(client, keys)
    assert [tasks[k][0]["Description"] for k in keys] == [None, None, "old"]


def test_upload_limit_splits_records_into_several_jobs(org: Any, client: SalesforceClient) -> None:
    keys = _keys(30)
    records = [
        {"Subject": f"split {i} " + "y" * 100, "Relay_Key__c": k} for i, k in enumerate(keys)
    ]
    policy = BulkPolicy(poll_initial_seconds=0.02, poll_max_seconds=0.2, max_upload_bytes=1500)
    before = _jobs(org)
    results = upsert_tasks_bulk(client, records, external_id_field="Relay_Key__c", policy=policy)
    assert _jobs(org) - before == 3  # ~170 bytes a row, ~1,500 a job: 10 rows a job
    assert [r.key for r in results] == keys
    assert all(r.ok for r in results)
    assert all(len(found) == 1 for found in _tasks_by_key(client, keys).values())


def test_a_job_that_fails_as_a_whole_fails_every_row(org: Any, client: SalesforceClient) -> None:
    """A column the org lacks: the job ends Failed, every row holds (NeedsAttention)."""
    keys = _keys(3)
    records = [{"Subject": "s", "Nope__c": "x", "Relay_Key__c": k} for k in keys]
    results = upsert_tasks_bulk(client, records, external_id_field="Relay_Key__c", policy=FAST)
    assert [r.key for r in results] == keys
    assert all(isinstance(r.error, NeedsAttention) for r in results)
    assert "Field name not found : Nope__c" in str(results[0].error)


def test_records_need_unique_keys_and_scalar_fields(client: SalesforceClient) -> None:
    with pytest.raises(ValueError, match="its own external id"):
        upsert_tasks_bulk(
            client,
            [{"Relay_Key__c": "same"}, {"Relay_Key__c": "same"}],
            external_id_field="Relay_Key__c",
        )
    with pytest.raises(ValueError, match="cannot hold list"):
        upsert_tasks_bulk(
            client,
            [{"Relay_Key__c": "k", "TaskWhoIds": ["003", "003"]}],
            external_id_field="Relay_Key__c",
        )


def test_csv_values_and_job_ranges() -> None:
    assert csv_value(None) == "#N/A"
    assert csv_value("") == "#N/A"
    assert csv_value(True) == "true"
    assert csv_value(date(2026, 1, 2)) == "2026-01-02"
    rows = csv_rows(["A", "B"], [{"A": 'x"y', "B": "1\n2"}, {"A": "z"}])
    assert rows == [b'"A","B"\n', b'"x""y","1\n2"\n', b'"z",""\n']
    sizes = [b"h" * 10, b"a" * 40, b"b" * 40, b"c" * 40]
    assert list(split_jobs(sizes, 100)) == [(0, 2), (2, 3)]
    with pytest.raises(ValueError, match="alone exceeds"):
        list(split_jobs([b"h", b"a" * 200], 100))


def test_row_error_parses_code_message_and_fields() -> None:
    error, codes = row_error("STRING_TOO_LONG:Subject: data value too large:Subject --")
    assert codes == ("STRING_TOO_LONG",)
    assert isinstance(error, Unprocessable)
    error, codes = row_error("UNABLE_TO_LOCK_ROW:unable to obtain exclusive access")
    assert isinstance(error, TemporaryError)
    assert codes == ("UNABLE_TO_LOCK_ROW",)


# --- TaskWriter's bulk path ---------------------------------------------------------------


def _contact(data: OrgData) -> tuple[str, str]:
    contact = data.create(
        "Contact",
        {"LastName": "Bulk", "Email": f"bulk-{uuid.uuid4().hex[:6]}@customer.example"},
        user_id=data.admin_user_id,
    )
    return contact, data.admin_user_id


def _drafts(contact: str, owner: str, n: int) -> list[TaskDraft]:
    run = uuid.uuid4().hex[:8]
    return [
        TaskDraft(
            relay_key=f"{run}{i:024d}",
            subject=f'Email: import {i}, "quoted"\nand more',
            description=f"body {i}\r\nsecond line, with commas",
            status="Completed",
            priority="Normal",
            task_subtype="Email",
            activity_date=date(2026, 9, 1),
            owner_id=owner,
            who_id=contact,
            what_id=None,
            task_who_ids=(contact,),
            record_ids=(contact,),
        )
        for i in range(n)
    ]


def test_task_writer_uses_one_bulk_job_at_the_threshold(
    org: Any, local_org: Any, client: SalesforceClient, store: SqlStore
) -> None:
    contact, owner = local_org.call(_contact)
    drafts = _drafts(contact, owner, 12)
    jobs = [Job(f"q{i}", f"m{i}", (d,)) for i, d in enumerate(drafts)]
    before = _jobs(org)
    writer = TaskWriter(store, client, bulk_threshold=12, bulk_policy=FAST)
    results = writer.write(jobs, "Relay_Key__c")
    assert _jobs(org) - before == 1
    ledger = store.deliveries_for_keys([d.relay_key for d in drafts])
    assert all(results[d.relay_key].error is None for d in drafts)
    assert {ledger[d.relay_key].state for d in drafts} == {WRITTEN}
    assert all(ledger[d.relay_key].task_id == results[d.relay_key].task_id for d in drafts)
    tasks = _tasks_by_key(client, [d.relay_key for d in drafts])
    assert tasks[drafts[0].relay_key][0]["Subject"] == drafts[0].subject


def test_task_writer_stays_on_rest_below_the_threshold_or_without_a_key(
    org: Any, local_org: Any, client: SalesforceClient, store: SqlStore
) -> None:
    contact, owner = local_org.call(_contact)
    before = _jobs(org)
    small = _drafts(contact, owner, 11)
    TaskWriter(store, client, bulk_threshold=12, bulk_policy=FAST).write(
        [Job(f"s{i}", f"sm{i}", (d,)) for i, d in enumerate(small)], "Relay_Key__c"
    )
    keyless = _drafts(contact, owner, 12)
    results = TaskWriter(store, client, bulk_threshold=12, bulk_policy=FAST).write(
        [Job(f"k{i}", f"km{i}", (d,)) for i, d in enumerate(keyless)], None
    )
    assert _jobs(org) == before
    assert all(results[d.relay_key].error is None for d in keyless)


def test_rerun_after_a_crash_mid_job_writes_no_duplicate(
    org: Any, local_org: Any, client: SalesforceClient, store: SqlStore
) -> None:
    """The crash window: intents committed, the job ran in Salesforce, Relay died before
    recording it. The next run (same ledger) upserts the same keys again: every key ends
    written, to the Task the first job made, and no Task is doubled."""
    contact, owner = local_org.call(_contact)
    drafts = _drafts(contact, owner, 15)
    jobs = [Job(f"c{i}", f"cm{i}", (d,)) for i, d in enumerate(drafts)]
    writer = TaskWriter(store, client, bulk_threshold=10, bulk_policy=FAST)
    # What write() does up to the crash: intents, then the job itself.
    store.record_intents([_intent(job, job.drafts[0]) for job in jobs])
    first = upsert_tasks_bulk(
        client,
        [_sobject(d, "Relay_Key__c") for d in drafts],
        external_id_field="Relay_Key__c",
        policy=FAST,
    )
    assert all(r.ok for r in first)
    keys = [d.relay_key for d in drafts]
    assert {d.state for d in store.deliveries_for_keys(keys).values()} == {INTENT}
    results = writer.write(jobs, "Relay_Key__c")
    ledger = store.deliveries_for_keys(keys)
    assert all(results[k].error is None for k in keys), [results[k].error for k in keys]
    assert [results[k].task_id for k in keys] == [r.id for r in first]
    assert {ledger[k].state for k in keys} == {WRITTEN}
    assert all(len(found) == 1 for found in _tasks_by_key(client, keys).values())


# --- waiting for a job ---------------------------------------------------------------------


def test_polls_back_off_and_a_job_that_runs_too_long_is_aborted(
    org: Any, client: SalesforceClient
) -> None:
    """Polls wait 0.5, 1, 2 s... (recorded, not slept); past the timeout every row is a
    TemporaryError and the job is aborted, so it does not write on behind Relay's back."""
    waits: list[float] = []
    keys = _keys(6000)
    records = [{"Subject": "slow", "Relay_Key__c": k} for k in keys]
    policy = BulkPolicy(poll_initial_seconds=0.5, poll_max_seconds=2.0, timeout_seconds=2.5)
    results = upsert_tasks_bulk(
        client, records, external_id_field="Relay_Key__c", policy=policy, sleep=waits.append
    )
    assert waits[:3] == [0.5, 1.0, 2.0]
    assert all(isinstance(r.error, TemporaryError) for r in results)
    assert "still InProgress" in str(results[0].error)
    job = admin(org, "GET", JOBS)["records"][-1]  # the newest job: this one
    assert job["state"] == "Aborted"
    assert job["numberRecordsProcessed"] < 6000


def test_lock_failures_in_a_job_are_temporary_per_row(org: Any, client: SalesforceClient) -> None:
    """UNABLE_TO_LOCK_ROW on some rows: those rows are TemporaryError with the code, as
    in a collection result; the others are written."""
    admin(org, "PUT", "/_localorg/faults", {"UNABLE_TO_LOCK_ROW": 0.3})
    keys = _keys(200)
    records = [{"Subject": "locks", "Relay_Key__c": k} for k in keys]
    results = upsert_tasks_bulk(client, records, external_id_field="Relay_Key__c", policy=FAST)
    locked = [r for r in results if not r.ok]
    assert 20 < len(locked) < 120
    assert all(isinstance(r.error, TemporaryError) for r in locked)
    assert {r.codes for r in locked} == {("UNABLE_TO_LOCK_ROW",)}
    written = _tasks_by_key(client, keys)
    assert all(len(written[r.key or ""]) == (1 if r.ok else 0) for r in results)


def test_task_writer_sends_drafts_with_several_whos_through_rest(
    org: Any, local_org: Any, client: SalesforceClient, store: SqlStore
) -> None:
    """TaskWhoIds is a JSON list the CSV cannot carry: those drafts go through REST in
    the same write, the others through one job, and every key is written in order."""
    contact, owner = local_org.call(_contact)
    other, _ = local_org.call(_contact)
    drafts = _drafts(contact, owner, 12)
    for index in (3, 8):
        drafts[index] = replace(drafts[index], task_who_ids=(contact, other))
    before = _jobs(org)
    results = TaskWriter(store, client, bulk_threshold=12, bulk_policy=FAST).write(
        [Job(f"w{i}", f"wm{i}", (d,)) for i, d in enumerate(drafts)], "Relay_Key__c"
    )
    assert _jobs(org) - before == 1
    assert all(results[d.relay_key].error is None for d in drafts)
    ledger = store.deliveries_for_keys([d.relay_key for d in drafts])
    assert {ledger[d.relay_key].state for d in drafts} == {WRITTEN}
    job = admin(org, "GET", JOBS)["records"][-1]
    assert job["numberRecordsProcessed"] == 10
