"""A big `relay import` writes its Tasks through Bulk API 2.0 jobs (docs/design.md §11,
"Big imports"): a real `relay serve` with a small bulk threshold, the local org over
HTTPS counting its ingest jobs, the import and a worker killed with SIGKILL, live mail
over real SMTP. Each Task is checked in the org by its relay key: never two for one
email."""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce.format import format_soql

from relay.importing.dry_run import BULK_JOB_CALLS, RELATION_JOB_CALLS
from relay.store import open_store
from tests.importing.mail_files import message, write_mbox
from tests.importing.test_import_command import (
    CUSTOMER,
    assert_one_task_per_email,
    lines,
    mailbox_of,
    popen_import,
    read_until,
    run_import,
    tasks_of,
)
from tests.support.localorg import RunningOrg, running_org
from tests.support.pipeline import BIG_CUSTOMERS, REP, email, seed_pipeline, wait_for
from tests.support.serve import RelayServe

THRESHOLD = 50
JOB_ROWS = 350
"""Each email to Hank makes two Tasks here (one per open Opportunity of his, with the
seed's default policy), so a job gathers two claimed slices of 100 emails."""
JOBS = "/services/data/v62.0/jobs/ingest"
UPLOADED = {"UploadComplete", "InProgress", "JobComplete"}


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrg]:
    with running_org(tmp_path_factory.mktemp("org"), seed_pipeline) as running:
        running.set_latency(20)
        yield running


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory, org: RunningOrg) -> Iterator[RelayServe]:
    env = org.env() | {
        "RELAY_BULK_THRESHOLD": str(THRESHOLD),
        "RELAY_PIPELINE_IMPORT_BULK_ROWS": str(JOB_ROWS),
        # A killed worker's messages come back within one lease (docs/design.md §2).
        "RELAY_PIPELINE_LEASE_SECONDS": "6",
        "RELAY_WORKERS": "1",
    }
    process = RelayServe(tmp_path_factory.mktemp("relay"), env=env).start()
    try:
        yield process
    finally:
        process.stop()


def jobs(org: RunningOrg) -> dict[str, dict[str, Any]]:
    """Every ingest job the org has, by id (the org's "Get All Jobs")."""
    response = org.admin.get(org.url(JOBS))
    assert response.status_code == 200, response.text
    return {job["id"]: job for job in response.json()["records"]}


def new_jobs(org: RunningOrg, before: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [job for job_id, job in jobs(org).items() if job_id not in before]


def test_a_big_import_writes_its_tasks_through_bulk_jobs_exactly_once(
    serve: RelayServe, org: RunningOrg, tmp_path: Path
) -> None:
    n = 400
    before = jobs(org)
    path = mailbox_of(tmp_path, "bulk", n)
    status, output, stderr = run_import(serve, str(path))
    assert status == 0, stderr
    final = output[-1]
    assert (final["state"], final["read"], final["logged"], final["pending"]) == ("done", n, n, 0)
    assert_one_task_per_email(org, "bulk", n)
    made = new_jobs(org, before)
    # Gathered up to JOB_ROWS drafts a write: a job per two slices of 100 emails, every
    # Task through a job, none through REST.
    assert len(made) == 2, made
    assert all(job["state"] == "JobComplete" for job in made)
    assert sum(job["numberRecordsProcessed"] for job in made) == len(tasks_of(org, "bulk"))
    assert min(job["numberRecordsProcessed"] for job in made) >= JOB_ROWS
    # The same command again: nothing more is read, no job is made.
    again = jobs(org)
    status, output, _ = run_import(serve, str(path))
    assert (status, output[-1]["logged"]) == (0, n)
    assert new_jobs(org, again) == []


def test_emails_to_several_contacts_get_all_of_them_through_a_task_relation_job(
    serve: RelayServe, org: RunningOrg, tmp_path: Path
) -> None:
    """Each email is to three BigCo buyers: one Task each (the Account is its What) with
    three Contacts. The dry run counts a TaskRelation job; the import writes each Task
    in a Task job with its first Contact and adds the other two in a TaskRelation job,
    so every Task ends with exactly its three Contacts and nothing goes through REST."""
    n = 100  # one claimed slice: one gathered write
    buyers = BIG_CUSTOMERS[:3]
    raws = [message(i, sender=REP, to=", ".join(buyers), tag="trio") for i in range(n)]
    path = write_mbox(tmp_path / "trio.mbox", raws)
    dry = serve.cli("import", str(path), "--user", REP, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    report = lines(dry.stdout)[-1]
    assert report["tasks"] == n
    assert report["write_calls"] == BULK_JOB_CALLS + RELATION_JOB_CALLS
    before = jobs(org)
    status, output, stderr = run_import(serve, str(path))
    assert status == 0, stderr
    assert (output[-1]["state"], output[-1]["logged"]) == ("done", n)
    assert_one_task_per_email(org, "trio", n)
    made = new_jobs(org, before)
    assert sorted((j["object"], j["operation"], j["numberRecordsProcessed"]) for j in made) == [
        ("Task", "upsert", n),
        ("TaskRelation", "insert", 2 * n),
    ]
    task_ids = [str(task["Id"]) for task in tasks_of(org, "trio")]
    people: dict[str, set[str]] = {task_id: set() for task_id in task_ids}
    soql = "SELECT TaskId, RelationId FROM TaskRelation WHERE IsWhat = false AND TaskId IN {}"
    for relation in org.sf().query_all(format_soql(soql, task_ids))["records"]:
        people[relation["TaskId"]].add(relation["RelationId"])
    found = org.sf().query_all(format_soql("SELECT Id FROM Contact WHERE Email IN {}", buyers))
    contacts = {str(record["Id"]) for record in found["records"]}
    assert len(contacts) == 3
    assert all(whos == contacts for whos in people.values())


def test_sigkill_of_the_import_then_the_same_command_goes_on_through_bulk(
    serve: RelayServe, org: RunningOrg, tmp_path: Path
) -> None:
    n = 500
    before = jobs(org)
    path = mailbox_of(tmp_path, "bulkkilled", n)
    with popen_import(serve, path, "--window", "200") as process:
        try:
            seen = read_until(process, 150)
        finally:
            process.kill()
            process.communicate(timeout=30)
    assert seen["read"] < n
    status, output, stderr = run_import(serve, str(path))
    assert status == 0, stderr
    assert "resuming import" in stderr
    final = output[-1]
    assert (final["state"], final["read"], final["pending"], final["logged"]) == ("done", n, 0, n)
    assert_one_task_per_email(org, "bulkkilled", n)
    made = new_jobs(org, before)
    assert sum(job["numberRecordsProcessed"] for job in made) == len(tasks_of(org, "bulkkilled"))
    # Gathered: fewer jobs than claimed slices, and bigger than one slice's 200 Tasks.
    assert 2 <= len(made) < n // 100
    assert max(job["numberRecordsProcessed"] for job in made) >= JOB_ROWS


def test_a_worker_killed_mid_job_leaves_no_duplicate(
    serve: RelayServe, org: RunningOrg, tmp_path: Path
) -> None:
    """SIGKILL the worker while its ingest job runs (the intents committed, the job
    created, its results not yet recorded): the supervisor starts a new worker, the
    messages come back when the lease expires, and the new job upserts the same keys,
    which updates the Tasks the killed job made instead of adding any."""
    n = 300
    before = jobs(org)
    path = mailbox_of(tmp_path, "bulkworker", n)
    (worker,) = serve.pids("worker")
    with popen_import(serve, path) as process:
        try:
            killed_job = None
            deadline = time.monotonic() + 120
            while killed_job is None and time.monotonic() < deadline:
                # Uploaded and closed: the org writes its rows whatever the worker does.
                uploaded = [job for job in new_jobs(org, before) if job["state"] in UPLOADED]
                if uploaded:
                    os.kill(worker, signal.SIGKILL)
                    killed_job = uploaded[0]["id"]
                time.sleep(0.01)
            assert killed_job is not None, "no ingest job was seen running"
            stdout, stderr = process.communicate(timeout=240)
        finally:
            process.kill()
    assert process.returncode == 0, stderr
    final = lines(stdout)[-1]
    # Each email once: logged, or "already logged" when the killed worker had recorded
    # its Task in the ledger but not yet the message's outcome.
    assert (final["state"], final["logged"] + final["duplicate"], final["failed"]) == ("done", n, 0)
    assert_one_task_per_email(org, "bulkworker", n)
    wait_for(lambda: serve.pids("worker") != [worker], 30, "a new worker")
    made = {job["id"]: job for job in new_jobs(org, before)}
    assert len(made) >= 3  # the killed one, the rest's, and the killed one's again
    killed_rows = made[killed_job]["numberRecordsProcessed"]
    assert killed_rows >= JOB_ROWS
    # The killed job's rows were upserted again: updated, not added.
    processed = sum(job["numberRecordsProcessed"] for job in made.values())
    assert processed == len(tasks_of(org, "bulkworker")) + killed_rows


def test_live_mail_is_claimed_first_during_a_bulk_import(
    serve: RelayServe, org: RunningOrg, tmp_path: Path
) -> None:
    n = 600
    path = mailbox_of(tmp_path, "bulklane", n)
    with popen_import(serve, path, "--window", str(n)) as process:
        try:
            read_until(process, n)  # all of them queued, most not yet delivered
            live = email([CUSTOMER], "Imported bulklane live", message_id="<bl-live@x.example>")
            live_id = serve.send_queued(live)
            stdout, stderr = process.communicate(timeout=300)
        finally:
            process.kill()
    assert process.returncode == 0, stderr
    assert lines(stdout)[-1]["logged"] == n
    store = open_store(serve.store_url)
    try:

        def at(queue_id: str, state: str) -> Any:
            return next(t.at for t in store.transitions(queue_id) if t.to_state.value == state)

        (record,) = [r for r in store.list_imports() if r.source == str(path.resolve())]
        imported = [m.id for m in store.list() if m.import_id == record.id]
        assert len(imported) == n
        live_claimed, live_logged = at(live_id, "processing"), at(live_id, "logged")
        after = [queue_id for queue_id in imported if at(queue_id, "processing") > live_claimed]
        logged_after = [queue_id for queue_id in imported if at(queue_id, "logged") > live_logged]
    finally:
        store.close()
    # Queued last, claimed before a good part of the import already waiting, and logged
    # without waiting for the import's gathered write.
    assert len(after) >= n // 4
    assert len(logged_after) >= n // 4


def test_dry_run_estimates_bulk_jobs_for_a_big_import(
    serve: RelayServe, org: RunningOrg, tmp_path: Path
) -> None:
    n = 400
    path = mailbox_of(tmp_path, "bulkdry", n)
    before = jobs(org)
    done = serve.cli("import", str(path), "--user", REP, "--dry-run", "--json")
    assert done.returncode == 0, done.stderr
    report = lines(done.stdout)[-1]
    assert report["tasks"] == 2 * n
    # A job per JOB_ROWS Tasks, not one composite call per 200 Tasks; each Task has one
    # Contact, so no TaskRelation job.
    assert report["write_calls"] == math.ceil(2 * n / JOB_ROWS) * BULK_JOB_CALLS
    assert new_jobs(org, before) == []
