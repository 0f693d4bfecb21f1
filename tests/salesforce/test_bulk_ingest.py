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

from relay.delivery.write import Job, TaskWriter, _first_person_only, _intent, _sobject
from relay.errors import NeedsAttention, RecordChanged, TemporaryError, Unprocessable
from relay.localorg.data import OrgData
from relay.matching import TaskDraft
from relay.salesforce.bulk_ingest import (
    BulkPolicy,
    JobPace,
    csv_rows,
    csv_value,
    insert_task_relations_bulk,
    next_wait,
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


def test_polls_start_at_a_guessed_pace_stay_bounded_and_a_job_too_long_is_aborted(
    org: Any, client: SalesforceClient
) -> None:
    """Without a pace the first poll waits a guessed 0.2 ms a row; later waits follow
    the job's progress within the policy's bounds (recorded, not slept); past the timeout
    every row is a TemporaryError and the job is aborted, so it does not write on behind
    Relay's back."""
    waits: list[float] = []
    keys = _keys(6000)
    records = [{"Subject": "slow", "Relay_Key__c": k} for k in keys]
    policy = BulkPolicy(poll_initial_seconds=0.5, poll_max_seconds=2.0, timeout_seconds=2.5)
    results = upsert_tasks_bulk(
        client, records, external_id_field="Relay_Key__c", policy=policy, sleep=waits.append
    )
    assert waits[0] == pytest.approx(6000 * JobPace.UNPACED_SECONDS_PER_ROW)
    assert all(wait >= 0.5 for wait in waits)
    assert sum(waits) <= 2.5
    assert all(isinstance(r.error, TemporaryError) for r in results)
    assert "still InProgress" in str(results[0].error)
    job = admin(org, "GET", JOBS)["records"][-1]  # the newest job: this one
    assert job["state"] == "Aborted"
    assert job["numberRecordsProcessed"] < 6000


def test_the_pace_of_the_last_job_sets_the_first_poll_of_the_next() -> None:
    """A job found done at a later poll sets the pace it took; one found done at its
    first poll keeps the pace it was polled at, a little lower. TaskRelation borrows
    Task's pace until it has its own. Between polls, the job's own progress says how
    long is left."""
    policy = BulkPolicy(poll_initial_seconds=0.5, poll_max_seconds=10.0, timeout_seconds=600)
    pace = JobPace()
    assert pace.first_wait("Task", 1_000, policy) == 0.5
    assert pace.first_wait("Task", 10_000, policy) == pytest.approx(2.0)
    pace.record("Task", 10_000, 8.0, polls=3)
    assert pace.first_wait("Task", 10_000, policy) == pytest.approx(8.0 * JobPace.MARGIN)
    assert pace.first_wait("Task", 5_000, policy) == pytest.approx(4.0 * JobPace.MARGIN)
    assert pace.first_wait("TaskRelation", 5_000, policy) == pytest.approx(4.0 * JobPace.MARGIN)
    pace.record("TaskRelation", 5_000, 3.0, polls=2)
    assert pace.first_wait("TaskRelation", 5_000, policy) == pytest.approx(3.0 * JobPace.MARGIN)
    waited = pace.first_wait("Task", 10_000, policy)
    pace.record("Task", 10_000, waited, polls=1)
    assert pace.first_wait("Task", 10_000, policy) == pytest.approx(waited * JobPace.DECAY)
    assert pace.first_wait("Task", 10, policy) == 0.5  # never below the initial wait
    assert pace.first_wait("Task", 10**7, policy) == 300  # at most half the timeout
    # A quarter done after 2 s: 6 s left, a tenth more; beyond poll_max_seconds.
    assert next_wait(2.0, 2_500, 10_000, 2.0, policy) == pytest.approx(6.6)
    assert next_wait(2.0, 100, 10_000, 2.0, policy) == pytest.approx(217.8)
    assert next_wait(2.0, 0, 10_000, 2.0, policy) == 4.0  # no progress yet: doubled
    assert next_wait(2.0, 0, 10_000, 8.0, policy) == 10.0  # bounded


def test_relations_insert_in_one_job_and_read_only_failures(
    org: Any, local_org: Any, client: SalesforceClient
) -> None:
    """A TaskRelation job's successes need no read: a completed job that processed every
    row succeeded on all but its failed results. Its calls: create, upload, close, the
    polls, and no result read when nothing failed."""
    contact, owner = local_org.call(_contact)
    others = [local_org.call(_contact)[0] for _ in range(3)]
    keys = _keys(2)
    tasks = upsert_tasks_bulk(
        client,
        [
            {"Subject": "people", "WhoId": contact, "OwnerId": owner, "Relay_Key__c": k}
            for k in keys
        ],
        external_id_field="Relay_Key__c",
        policy=FAST,
    )
    pairs = [(str(t.id), who) for t in tasks for who in others]
    before = _calls(org)
    results = insert_task_relations_bulk(client, pairs, policy=FAST)
    calls = _calls(org) - before
    assert [r.ok for r in results] == [True] * 6
    job = admin(org, "GET", JOBS)["records"][-1]
    assert (job["object"], job["operation"], job["numberRecordsProcessed"]) == (
        "TaskRelation",
        "insert",
        6,
    )
    assert 4 <= calls <= 3 + 4  # create, upload, close and the polls; no result read
    assert _people(client, [str(t.id) for t in tasks]) == {
        str(t.id): {contact, *others} for t in tasks
    }


def _people(client: SalesforceClient, task_ids: list[str]) -> dict[str, set[str]]:
    """Each Task's who relations (Contacts and Leads), live ones only."""
    found: dict[str, set[str]] = {task_id: set() for task_id in task_ids}
    soql = format_soql(
        "SELECT TaskId, RelationId FROM TaskRelation WHERE TaskId IN {} AND IsWhat = false",
        task_ids,
    )
    for record in client.query_all(soql):
        found[record["TaskId"]].add(record["RelationId"])
    return found


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


def _with_people(drafts: list[TaskDraft], indexes: tuple[int, ...], whos: tuple[str, ...]) -> None:
    for index in indexes:
        drafts[index] = replace(drafts[index], task_who_ids=whos, record_ids=whos)


def test_task_writer_writes_several_contacts_as_task_relations_in_a_second_job(
    org: Any, local_org: Any, client: SalesforceClient, store: SqlStore
) -> None:
    """Tasks with several Contacts go in the Task job with the first as WhoId, then one
    TaskRelation job adds the others: two jobs, no REST write, every key written, and
    each Task has exactly its Contacts."""
    contact, owner = local_org.call(_contact)
    others = tuple(local_org.call(_contact)[0] for _ in range(2))
    drafts = _drafts(contact, owner, 12)
    _with_people(drafts, (3, 8), (contact, *others))
    before = admin(org, "GET", JOBS)["records"]
    results = TaskWriter(store, client, bulk_threshold=12, bulk_policy=FAST).write(
        [Job(f"w{i}", f"wm{i}", (d,)) for i, d in enumerate(drafts)], "Relay_Key__c"
    )
    made = admin(org, "GET", JOBS)["records"][len(before) :]
    assert [(j["object"], j["numberRecordsProcessed"]) for j in made] == [
        ("Task", 12),
        ("TaskRelation", 4),
    ]
    assert all(results[d.relay_key].error is None for d in drafts)
    ledger = store.deliveries_for_keys([d.relay_key for d in drafts])
    assert {ledger[d.relay_key].state for d in drafts} == {WRITTEN}
    task_ids = [str(results[d.relay_key].task_id) for d in drafts]
    people = _people(client, task_ids)
    assert [len(people[t]) for t in task_ids] == [1, 1, 1, 3, 1, 1, 1, 1, 3, 1, 1, 1]
    assert people[task_ids[3]] == {contact, *others}
    rows = client.query_all(
        format_soql("SELECT Id, WhoId, WhoCount FROM Task WHERE Id IN {}", task_ids)
    )
    assert {r["Id"]: r["WhoId"] for r in rows} == dict.fromkeys(task_ids, contact)


def test_a_crash_between_the_two_jobs_is_completed_by_the_next_write(
    org: Any, local_org: Any, client: SalesforceClient, store: SqlStore
) -> None:
    """The crash window of the second job: intents committed, the Task job ran, Relay
    died before the TaskRelation job. The next write meets the Tasks (exists), sets
    their TaskWhoIds through REST and records them: each Task once, with all its
    Contacts once each."""
    contact, owner = local_org.call(_contact)
    others = tuple(local_org.call(_contact)[0] for _ in range(2))
    drafts = _drafts(contact, owner, 12)
    _with_people(drafts, (0, 5, 11), (contact, *others))
    jobs = [Job(f"x{i}", f"xm{i}", (d,)) for i, d in enumerate(drafts)]
    store.record_intents([_intent(job, job.drafts[0]) for job in jobs])
    first = upsert_tasks_bulk(
        client,
        [_first_person_only(_sobject(d, "Relay_Key__c")) for d in drafts],
        external_id_field="Relay_Key__c",
        policy=FAST,
    )
    assert all(r.ok for r in first)
    results = TaskWriter(store, client, bulk_threshold=12, bulk_policy=FAST).write(
        jobs, "Relay_Key__c"
    )
    keys = [d.relay_key for d in drafts]
    assert all(results[k].error is None for k in keys), [results[k].error for k in keys]
    assert [results[k].task_id for k in keys] == [r.id for r in first]
    assert {d.state for d in store.deliveries_for_keys(keys).values()} == {WRITTEN}
    assert all(len(found) == 1 for found in _tasks_by_key(client, keys).values())
    people = _people(client, [str(r.id) for r in first])
    assert [len(people[str(r.id)]) for r in first] == [3, 1, 1, 1, 1, 3, 1, 1, 1, 1, 1, 3]
    relations = client.query_all(
        format_soql("SELECT Id FROM TaskRelation WHERE TaskId = {} AND IsWhat = false", first[0].id)
    )
    assert len(relations) == 3


def test_a_relation_that_fails_keeps_its_task_an_intent(
    org: Any, local_org: Any, client: SalesforceClient, store: SqlStore
) -> None:
    """A Contact deleted between the match and the write: the TaskRelation row fails, so
    that Task's key is not recorded as written (its error decides the message, as the
    REST path's would); the other keys are written."""
    contact, owner = local_org.call(_contact)
    gone, _ = local_org.call(_contact)
    drafts = _drafts(contact, owner, 12)
    _with_people(drafts, (4,), (contact, gone))
    local_org.call(lambda data: data.delete("Contact", gone, user_id=data.admin_user_id))
    results = TaskWriter(store, client, bulk_threshold=12, bulk_policy=FAST).write(
        [Job(f"f{i}", f"fm{i}", (d,)) for i, d in enumerate(drafts)], "Relay_Key__c"
    )
    failed = results[drafts[4].relay_key]
    assert failed.error is not None
    assert failed.task_id is None
    ledger = store.deliveries_for_keys([d.relay_key for d in drafts])
    assert ledger[drafts[4].relay_key].state == INTENT
    others = [d for i, d in enumerate(drafts) if i != 4]
    assert all(results[d.relay_key].error is None for d in others)
    assert {ledger[d.relay_key].state for d in others} == {WRITTEN}


def test_a_relation_job_that_fails_as_a_whole_is_completed_through_rest(
    org: Any, local_org: Any, client: SalesforceClient, store: SqlStore
) -> None:
    """The org answers 503 to every call from just before the TaskRelation job until
    the write's next step (as an org whose Bulk API refused TaskRelation would fail the
    job as a whole): the write sets those Tasks' TaskWhoIds through REST at once, so
    every key is written with all its Contacts, not left for a retry."""
    contact, owner = local_org.call(_contact)
    others = tuple(local_org.call(_contact)[0] for _ in range(2))
    drafts = _drafts(contact, owner, 12)
    _with_people(drafts, (2, 7), (contact, *others))
    writer = TaskWriter(store, client, bulk_threshold=12, bulk_policy=FAST)
    steps: list[int] = []

    def between() -> None:
        steps.append(len(steps) + 1)
        # The third step is the one before the TaskRelation job (after the intents and
        # the Task job); the fourth, before the REST call that completes the people.
        if len(steps) == 3:
            admin(org, "PUT", "/_localorg/faults", {"503": 1.0})
        elif len(steps) == 4:
            admin(org, "PUT", "/_localorg/faults", {})

    writer.between = between
    before = admin(org, "GET", JOBS)["records"]
    results = writer.write(
        [Job(f"h{i}", f"hm{i}", (d,)) for i, d in enumerate(drafts)], "Relay_Key__c"
    )
    assert len(steps) >= 4
    made = admin(org, "GET", JOBS)["records"][len(before) :]
    assert [j["object"] for j in made] == ["Task"]  # the relation job was never created
    assert all(results[d.relay_key].error is None for d in drafts)
    ledger = store.deliveries_for_keys([d.relay_key for d in drafts])
    assert {ledger[d.relay_key].state for d in drafts} == {WRITTEN}
    people = _people(client, [str(results[d.relay_key].task_id) for d in drafts])
    assert people[str(results[drafts[2].relay_key].task_id)] == {contact, *others}
    assert people[str(results[drafts[7].relay_key].task_id)] == {contact, *others}
