"""Bulk API 2.0 ingest jobs on the local org, over real HTTPS with raw requests."""

from __future__ import annotations

import csv
import io
import itertools
import time
import uuid
from typing import Any

import pytest
import requests

from relay.localorg import bulk_ingest
from tests.support.localorg import API_VERSION, RunningOrg

JOBS = f"/services/data/v{API_VERSION}/jobs/ingest"
NO_SUCH_CONTACT = "003000000000001AAA"


def _create(org: RunningOrg, **overrides: Any) -> dict[str, Any]:
    body = {
        "object": "Task",
        "operation": "upsert",
        "externalIdFieldName": "Relay_Key__c",
        "contentType": "CSV",
        "lineEnding": "LF",
        **overrides,
    }
    response = org.admin.post(org.url(JOBS), json=body)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def _upload(
    org: RunningOrg, job_id: str, text: str, content_type: str = "text/csv"
) -> requests.Response:
    return org.admin.put(
        org.url(f"{JOBS}/{job_id}/batches"),
        data=text.encode("utf-8"),
        headers={"Content-Type": content_type},
    )


def _set_state(org: RunningOrg, job_id: str, state: str) -> requests.Response:
    return org.admin.patch(org.url(f"{JOBS}/{job_id}"), json={"state": state})


def _wait(org: RunningOrg, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info: dict[str, Any] = org.admin.get(org.url(f"{JOBS}/{job_id}")).json()
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            return info
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish")


def _results(org: RunningOrg, job_id: str, name: str) -> list[dict[str, str]]:
    response = org.admin.get(org.url(f"{JOBS}/{job_id}/{name}/"))
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text, newline="")))


def _csv(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _run(
    org: RunningOrg, rows: list[dict[str, str]], **job_overrides: Any
) -> tuple[str, dict[str, Any]]:
    job = _create(org, **job_overrides)
    assert _upload(org, job["id"], _csv(rows)).status_code == 201
    closed = _set_state(org, job["id"], "UploadComplete")
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "UploadComplete"
    return job["id"], _wait(org, job["id"])


def test_create_answers_the_open_job(local_org: RunningOrg) -> None:
    job = _create(local_org)
    assert job["state"] == "Open"
    assert job["id"].startswith("750")
    assert len(job["id"]) == 18
    assert job["object"] == "Task"
    assert job["operation"] == "upsert"
    assert job["externalIdFieldName"] == "Relay_Key__c"
    assert job["contentType"] == "CSV"
    assert job["lineEnding"] == "LF"
    assert job["columnDelimiter"] == "COMMA"
    assert job["concurrencyMode"] == "Parallel"
    assert job["contentUrl"] == f"services/data/v{API_VERSION}/jobs/ingest/{job['id']}/batches"


def test_upsert_job_creates_then_updates_by_external_id(local_org: RunningOrg) -> None:
    tag = uuid.uuid4().hex[:8]
    rows = [{"Subject": f"bulk {tag} {i}", "Relay_Key__c": f"{tag}-{i}"} for i in range(450)]
    job_id, info = _run(local_org, rows)
    assert info["state"] == "JobComplete"
    assert info["numberRecordsProcessed"] == 450
    assert info["numberRecordsFailed"] == 0
    # "Get Job Info": the milliseconds taken to process the job (here, its chunks).
    assert info["totalProcessingTime"] > 0
    assert info["apiActiveProcessingTime"] == info["totalProcessingTime"]
    done = _results(local_org, job_id, "successfulResults")
    assert len(done) == 450
    assert {r["sf__Created"] for r in done} == {"true"}
    assert {r["Relay_Key__c"] for r in done} == {f"{tag}-{i}" for i in range(450)}
    assert len(local_org.tasks(f"Subject LIKE 'bulk {tag} %'")) == 450

    # The same keys again update the same Tasks (sf__Created false, no new Task).
    again = [{"Subject": f"bulk {tag} {i} v2", "Relay_Key__c": f"{tag}-{i}"} for i in range(3)]
    job_id, info = _run(local_org, again)
    redone = _results(local_org, job_id, "successfulResults")
    assert {r["sf__Created"] for r in redone} == {"false"}
    first_ids = {r["Relay_Key__c"]: r["sf__Id"] for r in done}
    assert all(first_ids[r["Relay_Key__c"]] == r["sf__Id"] for r in redone)
    assert len(local_org.tasks(f"Subject LIKE 'bulk {tag} %'")) == 450


def test_partial_failure_reports_each_failed_row(local_org: RunningOrg) -> None:
    tag = uuid.uuid4().hex[:8]
    rows = [
        {"Subject": f"ok {tag}", "WhoId": "", "Relay_Key__c": f"{tag}-ok"},
        {"Subject": f"who {tag}", "WhoId": NO_SUCH_CONTACT, "Relay_Key__c": f"{tag}-who"},
        {"Subject": "x" * 256, "WhoId": "", "Relay_Key__c": f"{tag}-long"},
    ]
    job_id, info = _run(local_org, rows)
    assert info["state"] == "JobComplete"
    assert info["numberRecordsProcessed"] == 3
    assert info["numberRecordsFailed"] == 2
    [ok] = _results(local_org, job_id, "successfulResults")
    assert ok["Relay_Key__c"] == f"{tag}-ok"
    assert ok["sf__Id"].startswith("00T")
    failed = {r["Relay_Key__c"]: r for r in _results(local_org, job_id, "failedResults")}
    assert set(failed) == {f"{tag}-who", f"{tag}-long"}
    assert failed[f"{tag}-who"]["sf__Error"].startswith("INVALID_CROSS_REFERENCE_KEY:")
    assert failed[f"{tag}-long"]["sf__Error"].startswith("STRING_TOO_LONG:")
    assert failed[f"{tag}-long"]["Subject"] == "x" * 256  # the uploaded columns come back
    assert _results(local_org, job_id, "unprocessedrecords") == []
    assert len(local_org.tasks(f"Relay_Key__c LIKE '{tag}-%'")) == 1


def test_task_relation_insert_job_refuses_a_duplicate(local_org: RunningOrg) -> None:
    """The import's second job: TaskRelation rows (TaskId, RelationId) for a Task's other
    contacts; a row repeating a relation the Task has fails with DUPLICATE_VALUE."""
    sf = local_org.sf()
    tag = uuid.uuid4().hex[:8]
    first, second, third = (
        sf.Contact.create({"LastName": f"rel {tag} {i}"})["id"] for i in range(3)
    )
    task = sf.Task.create({"Subject": f"relations {tag}", "WhoId": first})["id"]
    rows = [
        {"TaskId": task, "RelationId": second},
        {"TaskId": task, "RelationId": first},  # the WhoId's relation is already there
        {"TaskId": task, "RelationId": third},
    ]
    job_id, info = _run(
        local_org, rows, object="TaskRelation", operation="insert", externalIdFieldName=None
    )
    assert info["state"] == "JobComplete"
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (3, 1)
    assert info["totalProcessingTime"] > 0
    done = _results(local_org, job_id, "successfulResults")
    assert {r["RelationId"] for r in done} == {second, third}
    assert all(r["sf__Id"].startswith("0RT") and r["sf__Created"] == "true" for r in done)
    [failed] = _results(local_org, job_id, "failedResults")
    assert failed["RelationId"] == first
    assert failed["sf__Error"].startswith("DUPLICATE_VALUE:")
    counted = sf.Task.get(task, params={"fields": "WhoId,WhoCount"})
    assert (counted["WhoId"], counted["WhoCount"]) == (first, 3)
    sf.session.close()


def test_hostile_csv_round_trips(local_org: RunningOrg) -> None:
    tag = uuid.uuid4().hex[:8]
    subject = f'He said "hi", then; left {tag}'
    description = 'line one\nline "two", with, commas\r\nline three\n'
    rows = [{"Subject": subject, "Description": description, "Relay_Key__c": f"{tag}-h"}]
    job_id, info = _run(local_org, rows)
    assert info["numberRecordsFailed"] == 0, _results(local_org, job_id, "failedResults")
    [task] = local_org.sf().query(
        f"SELECT Subject, Description FROM Task WHERE Relay_Key__c = '{tag}-h'"
    )["records"]
    assert task["Subject"] == subject
    assert task["Description"] == description


def test_null_marker_clears_a_field_and_empty_leaves_it(local_org: RunningOrg) -> None:
    tag = uuid.uuid4().hex[:8]
    key = f"{tag}-n"
    _run(local_org, [{"Subject": "s", "Description": "keep me", "Relay_Key__c": key}])
    _run(local_org, [{"Subject": "s2", "Description": "", "Relay_Key__c": key}])
    [task] = local_org.sf().query(f"SELECT Description FROM Task WHERE Relay_Key__c = '{key}'")[
        "records"
    ]
    assert task["Description"] == "keep me"
    _run(local_org, [{"Subject": "s3", "Description": "#N/A", "Relay_Key__c": key}])
    [task] = local_org.sf().query(f"SELECT Description FROM Task WHERE Relay_Key__c = '{key}'")[
        "records"
    ]
    assert task["Description"] is None


def test_unknown_column_fails_the_job_and_leaves_rows_unprocessed(local_org: RunningOrg) -> None:
    job = _create(local_org)
    assert _upload(local_org, job["id"], "Subject,Nope__c,Relay_Key__c\na,b,c\n").status_code == 201
    assert _set_state(local_org, job["id"], "UploadComplete").status_code == 200
    info = _wait(local_org, job["id"])
    assert info["state"] == "Failed"
    assert info["errorMessage"] == "InvalidBatch : Field name not found : Nope__c"
    [row] = _results(local_org, job["id"], "unprocessedrecords")
    assert row == {"Subject": "a", "Nope__c": "b", "Relay_Key__c": "c"}


def test_bad_state_transitions_answer_409(local_org: RunningOrg) -> None:
    job = _create(local_org)
    # Results before the outcome, delete while open, an unknown target state.
    assert (
        local_org.admin.get(local_org.url(f"{JOBS}/{job['id']}/successfulResults/")).status_code
        == 409
    )
    deleted = local_org.admin.delete(local_org.url(f"{JOBS}/{job['id']}"))
    assert deleted.status_code == 409
    assert deleted.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    wrong = _set_state(local_org, job["id"], "JobComplete")
    assert wrong.status_code == 400
    assert wrong.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    # Abort an open job; then it can neither take data, close, nor abort again.
    aborted = _set_state(local_org, job["id"], "Aborted")
    assert aborted.status_code == 200
    assert aborted.json()["state"] == "Aborted"
    late = _upload(local_org, job["id"], "Subject,Relay_Key__c\na,b\n")
    assert late.status_code == 409
    assert late.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert _set_state(local_org, job["id"], "UploadComplete").status_code == 409
    assert _set_state(local_org, job["id"], "Aborted").status_code == 409
    # A terminal job can be deleted, and then it is gone.
    assert local_org.admin.delete(local_org.url(f"{JOBS}/{job['id']}")).status_code == 204
    assert local_org.admin.get(local_org.url(f"{JOBS}/{job['id']}")).status_code == 404


def test_second_upload_fails_the_job(local_org: RunningOrg) -> None:
    job = _create(local_org)
    assert _upload(local_org, job["id"], "Subject,Relay_Key__c\na,k1\n").status_code == 201
    assert _upload(local_org, job["id"], "Subject,Relay_Key__c\nb,k2\n").status_code == 201
    closed = _set_state(local_org, job["id"], "UploadComplete")
    assert closed.json()["state"] == "Failed"
    assert closed.json()["errorMessage"].startswith("Found multiple contents for job")


def test_upload_needs_text_csv(local_org: RunningOrg) -> None:
    job = _create(local_org)
    response = _upload(local_org, job["id"], '{"Subject": "a"}', "application/json")
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALIDCONTENTTYPE"
    assert local_org.admin.get(local_org.url(f"{JOBS}/{job['id']}")).json()["state"] == "Open"


def test_job_not_found(local_org: RunningOrg) -> None:
    missing = "750000000000999AAA"
    for method, suffix in (
        ("GET", ""),
        ("PATCH", ""),
        ("PUT", "/batches"),
        ("GET", "/failedResults/"),
    ):
        response = local_org.admin.request(
            method, local_org.url(f"{JOBS}/{missing}{suffix}"), json={"state": "Aborted"}
        )
        assert response.status_code == 404, (method, suffix)
        assert response.json() == [
            {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
        ]


def test_create_refuses_bad_jobs(local_org: RunningOrg) -> None:
    cases = [
        ({"object": "Nope"}, "INVALIDJOB"),
        ({"externalIdFieldName": None}, "INVALIDJOB"),
        ({"externalIdFieldName": "Subject"}, "INVALIDJOB"),
        ({"contentType": "JSON"}, "INVALIDJOB"),
        ({"lineEnding": "CR"}, "JSON_PARSER_ERROR"),
        ({"operation": "merge"}, "JSON_PARSER_ERROR"),
    ]
    for override, code in cases:
        body = {"object": "Task", "operation": "upsert", "externalIdFieldName": "Relay_Key__c"}
        body.update(override)
        response = local_org.admin.post(local_org.url(JOBS), json=body)
        assert response.status_code == 400, override
        assert response.json()[0]["errorCode"] == code, override


def test_each_job_request_is_one_api_call(fresh_org: RunningOrg) -> None:
    def used() -> int:
        response = fresh_org.admin.get(fresh_org.url(f"/services/data/v{API_VERSION}/limits"))
        limits: dict[str, Any] = response.json()
        return limits["DailyApiRequests"]["Max"] - limits["DailyApiRequests"]["Remaining"]

    before = used()
    rows = [{"Subject": f"c {i}", "Relay_Key__c": f"calls-{i}"} for i in range(500)]
    job = _create(fresh_org)
    _upload(fresh_org, job["id"], _csv(rows))
    _set_state(fresh_org, job["id"], "UploadComplete")
    polls = 0
    while (
        fresh_org.admin.get(fresh_org.url(f"{JOBS}/{job['id']}")).json()["state"] != "JobComplete"
    ):
        polls += 1
        time.sleep(0.02)
    _results(fresh_org, job["id"], "successfulResults")
    # create, upload, close, (polls + the last get), results, and the limits call itself.
    assert used() - before == 3 + polls + 1 + 1 + 1


def test_abort_while_in_progress_leaves_the_rest_unprocessed(fresh_org: RunningOrg) -> None:
    rows = [{"Subject": f"a {i}", "Relay_Key__c": f"abort-{i}"} for i in range(3000)]
    job = _create(fresh_org)
    _upload(fresh_org, job["id"], _csv(rows))
    _set_state(fresh_org, job["id"], "UploadComplete")
    aborted = _set_state(fresh_org, job["id"], "Aborted")
    assert aborted.status_code == 200, aborted.text
    info = _wait(fresh_org, job["id"])
    assert info["state"] == "Aborted"
    done = len(_results(fresh_org, job["id"], "successfulResults"))
    left = len(_results(fresh_org, job["id"], "unprocessedrecords"))
    assert done + left == 3000
    assert left > 0


def test_upload_size_limit_and_empty_upload(
    local_org: RunningOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the base64 limit (150 MB in Salesforce, made small here) and an empty body are
    400 INVALIDBATCH, and the job stays open for a proper upload."""
    monkeypatch.setattr(bulk_ingest, "MAX_UPLOAD_BASE64_BYTES", 100)
    job = _create(local_org)
    big = _upload(local_org, job["id"], "Subject,Relay_Key__c\n" + "a,b\n" * 20)
    assert big.status_code == 400
    assert big.json()[0]["errorCode"] == "INVALIDBATCH"
    empty = _upload(local_org, job["id"], "")
    assert empty.status_code == 400
    assert empty.json()[0]["errorCode"] == "INVALIDBATCH"
    assert _upload(local_org, job["id"], "Subject,Relay_Key__c\na,b\n").status_code == 201


def test_crlf_and_semicolon_jobs(local_org: RunningOrg) -> None:
    """A CRLF, semicolon-delimited job ("Sample CSV Files"): read with its delimiter,
    answered in it too."""
    tag = uuid.uuid4().hex[:8]
    job = _create(local_org, lineEnding="CRLF", columnDelimiter="SEMICOLON")
    text = f'Subject;Description;Relay_Key__c\r\n"a; b";"one\r\ntwo";{tag}-c\r\n'
    assert _upload(local_org, job["id"], text).status_code == 201
    assert _set_state(local_org, job["id"], "UploadComplete").status_code == 200
    assert _wait(local_org, job["id"])["state"] == "JobComplete"
    answer = local_org.admin.get(local_org.url(f"{JOBS}/{job['id']}/successfulResults/")).text
    assert answer.startswith('"sf__Id";"sf__Created";"Subject";"Description";"Relay_Key__c"\r\n')
    [task] = local_org.sf().query(
        f"SELECT Subject, Description FROM Task WHERE Relay_Key__c = '{tag}-c'"
    )["records"]
    assert task["Subject"] == "a; b"
    assert task["Description"] == "one\r\ntwo"


def test_calls_are_answered_between_a_running_jobs_chunks(fresh_org: RunningOrg) -> None:
    """A job is processed in the background ("How Requests Are Processed"): the org
    pauses after each chunk of 200 rows as long as the chunk took, so a call made while
    the job runs is answered within about one chunk, not after one chunk per turn of the
    org's event loop that the call needs (TLS, headers, body, answer)."""
    rows = [{"Subject": f"p {i}", "Relay_Key__c": f"pause-{i}"} for i in range(6000)]
    job = _create(fresh_org)
    _upload(fresh_org, job["id"], _csv(rows))
    _set_state(fresh_org, job["id"], "UploadComplete")
    seen: list[int] = []
    while True:
        info = fresh_org.admin.get(fresh_org.url(f"{JOBS}/{job['id']}")).json()
        seen.append(int(info["numberRecordsProcessed"]))
        if info["state"] != "InProgress" and info["state"] != "UploadComplete":
            break
    assert info["state"] == "JobComplete"
    steps = [b - a for a, b in itertools.pairwise(seen) if b < len(rows)]
    # Chunks processed while one call was answered; the first few calls may meet the
    # parse of the whole upload.
    assert steps, seen
    assert sorted(steps)[len(steps) // 2] <= 2 * bulk_ingest.CHUNK_ROWS, seen
