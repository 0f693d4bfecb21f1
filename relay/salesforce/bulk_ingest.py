"""Upserting many Tasks in Bulk API 2.0 ingest jobs, with a result per row.

For a big write (an import of past mail) the sObject Collections upsert costs a call per
200 Tasks; one ingest job costs about five calls whatever its size: create, upload,
``UploadComplete``, a poll or two (``JobPace``), and the results (Bulk API 2.0 and Bulk
API Developer Guide, "Bulk API 2.0 Ingest"; the Limits Quick Reference puts the
crossover at about 2,000 records). The outcome is the same as ``upsert_tasks``'s: one
``WriteResult`` per record, in order, failed rows classified by the same table
(``classify.py``), so the caller cannot tell which path wrote.

The calls go through ``SalesforceClient.send`` (its session, retries, re-authentication
and classification), not simple-salesforce's ``bulk2``: that helper parses the result
CSV with ``splitlines()``, which cuts a row whose Description holds a line break; it
waits with its own fixed sleeps and raises unclassified ``SalesforceOperationError``s;
and it aborts the job on any error in one call, where here each call is retried alone.

Rules this module keeps:

- **CSV** ("Prepare CSV Files"): UTF-8, the header is the field API names, every field
  quoted (RFC 4180: quotes doubled, so commas, quotes and line breaks in a subject or a
  description survive), LF line endings. None and "" are ``#N/A`` (sets the field to
  null, as a JSON null does); a field a record lacks is empty (left unchanged, as an
  absent JSON key is), so a text that is exactly ``#N/A`` arrives as null. Dates are
  ``YYYY-MM-DD``, datetimes ISO 8601 in UTC with ``Z``. A list (``TaskWhoIds``, a
  JunctionIdList) cannot be carried: such a record is refused (ValueError). The caller
  writes the Task with its first person (``WhoId``) and the others as ``TaskRelation``
  rows in a second job (``insert_task_relations_bulk``), once the first has the Tasks'
  ids.
- **Size**: an upload may hold 150 MB of base64, so about 100 MB of CSV ("Upload Job
  Data"); records are split into several jobs below that. UTF-8 takes at least one byte
  per character, so a job under 100 MB is also under 100,000,000 characters.
- **Keys**: results come back in no particular order ("Get Job Successful Record
  Results": "The order of records in the response is not guaranteed"), so rows are
  matched to records by their external id, which must be unique within a call.
- **A job that fails as a whole** (its create, upload or close call fails after the
  client's retries, or it ends ``Failed``/``Aborted``) fails its rows with one error,
  as a failed collection call does; a row without any result is a TemporaryError. The
  upsert on the external id makes writing them again safe.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import structlog

from relay.errors import RelayError, TemporaryError
from relay.salesforce.classify import (
    SalesforceFault,
    classify_fault,
    classify_record_errors,
    parse_faults,
)
from relay.salesforce.client import SalesforceClient
from relay.salesforce.writes import TASK, WriteResult

TASK_RELATION = "TaskRelation"

log = structlog.get_logger(__name__)

# "Upload Job Data": at most 150 MB of base64, "upload data that does not exceed 100 MB".
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
# "Prepare CSV Files": "#N/A" sets a field to null.
NULL_VALUE = "#N/A"
JOB_COMPLETE = "JobComplete"
TERMINAL_STATES = frozenset({JOB_COMPLETE, "Failed", "Aborted"})
# sf__Error is "Error code and message" ("Get Job Failed Record Results"), laid out as
# STATUS_CODE:message, optionally followed by :fields --
_ERROR = re.compile(r"^([A-Z][A-Z0-9_]*):(.*?)(?::([A-Za-z0-9_,]*) --)?$", re.DOTALL)
_FIELD_NOT_FOUND = "Field name not found"


@dataclass(frozen=True)
class BulkPolicy:
    """How one job is waited for: polls back off from ``poll_initial_seconds``, doubling
    up to ``poll_max_seconds``, for at most ``timeout_seconds``."""

    poll_initial_seconds: float = 0.5
    poll_max_seconds: float = 10.0
    timeout_seconds: float = 600.0
    max_upload_bytes: int = MAX_UPLOAD_BYTES


# --- pure: CSV in, jobs, results out -----------------------------------------------------


def csv_value(value: Any) -> str:
    """One field as the Bulk API takes it. None and "" are ``#N/A``: a JSON null or an
    empty string clears a field through REST (Salesforce keeps no empty text), while an
    empty CSV field would leave the old value."""
    if value is None or value == "":
        return NULL_VALUE
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ValueError(f"a Bulk API CSV field cannot hold {type(value).__name__}: {value!r}")


def columns_of(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every field any record has, in first-seen order."""
    return list(dict.fromkeys(name for record in records for name in record))


def csv_rows(columns: Sequence[str], records: Sequence[Mapping[str, Any]]) -> list[bytes]:
    """Each record as one encoded CSV row (the header first), every field quoted."""
    lines = [_line(columns)]
    for record in records:
        lines.append(_line([csv_value(record[c]) if c in record else "" for c in columns]))
    return lines


def _line(fields: Sequence[str]) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(fields)
    return buffer.getvalue().encode("utf-8")


def split_jobs(rows: Sequence[bytes], max_bytes: int) -> Iterator[tuple[int, int]]:
    """(start, end) record ranges whose upload (header + rows) fits in ``max_bytes``.

    ``rows[0]`` is the header; ranges index the records (rows[1:])."""
    header = len(rows[0])
    start, used = 0, header
    for index, row in enumerate(rows[1:]):
        if header + len(row) > max_bytes:
            raise ValueError(f"record {index} alone exceeds the {max_bytes}-byte upload limit")
        if used + len(row) > max_bytes and index > start:
            yield start, index
            start, used = index, header
        used += len(row)
    if len(rows) > 1:
        yield start, len(rows) - 1


def parse_results(text: str | None) -> list[dict[str, str]]:
    """A result CSV (every field may be quoted, values may hold line breaks)."""
    if not text:
        return []
    return list(csv.DictReader(io.StringIO(text, newline="")))


def row_error(text: str) -> tuple[RelayError, tuple[str, ...]]:
    """A failed row's ``sf__Error`` as the REST path's error class and codes."""
    match = _ERROR.match(text.strip())
    if match is None:
        errors = [{"statusCode": "UNKNOWN_EXCEPTION", "message": text, "fields": []}]
    else:
        fields = [f for f in (match.group(3) or "").split(",") if f]
        errors = [{"statusCode": match.group(1), "message": match.group(2), "fields": fields}]
    return classify_record_errors(errors), tuple(f.code for f in parse_faults(errors))


def job_error(info: Mapping[str, Any]) -> RelayError:
    """The error for rows a ``Failed`` or ``Aborted`` job left without a result."""
    message = str(info.get("errorMessage") or f"the Bulk API job ended {info.get('state')}")
    if _FIELD_NOT_FOUND in message:
        # "InvalidBatch : Field name not found : X" (a column the org does not have): the
        # REST path's INVALID_FIELD, which holds for a person to deploy the field.
        return classify_fault(SalesforceFault("INVALID_FIELD", message))
    return TemporaryError(
        f"the Bulk API job ended {info.get('state')} ({message}); Relay writes these Tasks "
        "again later (the upsert on the Relay key keeps it exactly once)"
    )


def map_results(
    keys: Sequence[str],
    key_field: str,
    successful: Sequence[Mapping[str, str]],
    failed: Sequence[Mapping[str, str]],
    missing: RelayError,
) -> list[WriteResult]:
    """One WriteResult per key, in ``keys`` order, from a job's result rows."""
    by_key: dict[str, WriteResult] = {}
    for row in successful:
        key = row.get(key_field, "")
        by_key[key] = WriteResult(key, row.get("sf__Id") or None, row.get("sf__Created") == "true")
    for row in failed:
        key = row.get(key_field, "")
        error, codes = row_error(row.get("sf__Error", ""))
        by_key[key] = WriteResult(key, row.get("sf__Id") or None, False, error, codes)
    return [by_key.get(key) or WriteResult(key, None, False, missing) for key in keys]


# --- pacing: when to ask whether a job is done -------------------------------------------


class JobPace:
    """How long the org took per row in its last job of each object, so the next job's
    first poll comes when it is likely done rather than after a fixed backoff.

    Each poll is an API call ("Each HTTP request counts as one call"), and a job of
    10,000 rows polled from 0.5 s doubling took three or four of them: as many as the
    job's other calls. Salesforce gives no estimate, and its job info's timestamps are
    to the second, so the pace is what Relay saw: the time from the close to the poll
    that found the job done, per row.

    - The first poll comes at the pace times the rows, with a quarter more (``MARGIN``):
      the second of two 10,000-row jobs in bench/import.py took 12-23% longer than the
      first (docs/benchmarks.md, "Tasks with several Contacts"), and a poll too early
      costs a call, one too late only time. Without a pace: ``UNPACED_SECONDS_PER_ROW``.
    - A job found done only at a later poll sets the pace it took (that poll came as its
      progress said, so the figure is tight). One found done at its first poll keeps the
      pace it was polled at, a little lower (``DECAY``), so a pace measured on a busy
      org does not hold for good.
    - An object without a pace yet borrows Task's: a TaskRelation row costs Salesforce
      less than a Task row, as with Shared Activities it "doesn't support triggers,
      workflow, or data validation rules" (Object Reference, TaskRelation), so the
      borrowed figure errs on the late side, which costs time, not a call.

    Mutable and not thread-safe: one per writer."""

    MARGIN = 1.25
    DECAY = 0.98
    UNPACED_SECONDS_PER_ROW = 0.0002
    """A job without a pace to go by is first polled at this per row (2 s for 10,000): a
    guess at a rate faster than any job's, so the poll is early enough, yet late enough
    for the job to have made progress, which the next poll then goes by (a poll at
    0.5 s found a 10,000-row job not yet started and cost a third poll)."""

    def __init__(self) -> None:
        self._seconds_per_row: dict[str, float] = {}

    def first_wait(self, sobject: str, rows: int, policy: BulkPolicy) -> float:
        pace = self._seconds_per_row.get(sobject, self._seconds_per_row.get(TASK))
        wait = rows * self.UNPACED_SECONDS_PER_ROW if pace is None else pace * rows * self.MARGIN
        return min(max(wait, policy.poll_initial_seconds), policy.timeout_seconds / 2)

    def record(self, sobject: str, rows: int, seconds: float, polls: int) -> None:
        if rows <= 0 or seconds <= 0:
            return
        pace = seconds / rows
        self._seconds_per_row[sobject] = pace / self.MARGIN * self.DECAY if polls == 1 else pace


def next_wait(
    elapsed: float, processed: int, rows: int, previous: float, policy: BulkPolicy
) -> float:
    """The wait before the next poll of a job still running ``elapsed`` s after its
    close: the time its own progress says is left, with a tenth more so the poll finds
    it done (measured, so not held to ``poll_max_seconds``); else, without progress to go
    by, the previous wait doubled up to ``poll_max_seconds``."""
    if 0 < processed < rows:
        left = elapsed * (rows - processed) / processed * 1.1
        return min(max(left, policy.poll_initial_seconds), policy.timeout_seconds)
    return min(previous * 2, policy.poll_max_seconds)


# --- I/O: one job per range --------------------------------------------------------------


@dataclass(frozen=True)
class _JobRun:
    """A job that reached an outcome: its last info and what it cost."""

    job_id: str
    info: Mapping[str, Any]
    polls: int
    seconds: float


def upsert_tasks_bulk(
    client: SalesforceClient,
    records: Sequence[Mapping[str, Any]],
    *,
    external_id_field: str,
    policy: BulkPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    pace: JobPace | None = None,
) -> list[WriteResult]:
    """Upsert Tasks on ``external_id_field`` through Bulk API 2.0; one result per record,
    in order (as ``writes.upsert_tasks``). Blocking: run it in a thread."""
    policy = policy or BulkPolicy()
    pace = pace or JobPace()
    keys = [_key_of(record, external_id_field) for record in records]
    if len(set(keys)) != len(keys):
        raise ValueError("each record needs its own external id in one bulk write")
    columns = columns_of(records)
    rows = csv_rows(columns, records)
    job = {"object": TASK, "operation": "upsert", "externalIdFieldName": external_id_field}
    results: list[WriteResult] = []
    for start, end in split_jobs(rows, policy.max_upload_bytes):
        body = rows[0] + b"".join(rows[1 + start : 1 + end])
        part = keys[start:end]
        run = _run_job(client, job, body, len(part), policy, sleep, pace)
        if isinstance(run, RelayError):
            results.extend(WriteResult(key, None, False, run) for key in part)
            continue
        results.extend(_upsert_results(client, run, part, external_id_field))
    return results


def insert_task_relations_bulk(
    client: SalesforceClient,
    pairs: Sequence[tuple[str, str]],
    *,
    policy: BulkPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    pace: JobPace | None = None,
) -> list[WriteResult]:
    """Insert ``(TaskId, RelationId)`` TaskRelation rows through Bulk API 2.0 (Object
    Reference, TaskRelation: create(); Shared Activities only); one result per pair, in
    order, with no id (Relay needs none). Blocking: run it in a thread.

    The successful results are read only when the job's counts do not account for every
    row: a completed job that processed them all, with ``numberRecordsFailed`` failures
    listed in its failed results, succeeded on the others. That saves a call a job."""
    policy = policy or BulkPolicy()
    pace = pace or JobPace()
    if len(set(pairs)) != len(pairs):
        raise ValueError("each TaskRelation may be inserted once in one bulk write")
    records = [{"TaskId": task, "RelationId": relation} for task, relation in pairs]
    rows = csv_rows(["TaskId", "RelationId"], records)
    job = {"object": TASK_RELATION, "operation": "insert"}
    results: list[WriteResult] = []
    for start, end in split_jobs(rows, policy.max_upload_bytes):
        body = rows[0] + b"".join(rows[1 + start : 1 + end])
        part = [f"{task}:{relation}" for task, relation in pairs[start:end]]
        run = _run_job(client, job, body, len(part), policy, sleep, pace)
        if isinstance(run, RelayError):
            results.extend(WriteResult(key, None, False, run) for key in part)
            continue
        results.extend(_insert_results(client, run, part))
    return [replace(result, key=None) for result in results]


def _run_job(
    client: SalesforceClient,
    job: Mapping[str, str],
    body: bytes,
    rows: int,
    policy: BulkPolicy,
    sleep: Callable[[float], None],
    pace: JobPace,
) -> _JobRun | RelayError:
    """Create, upload, close and wait for one job: its outcome, or the error that ended
    it (the job aborted when it got as far as an id)."""
    job_id: str | None = None
    try:
        # "Create a Job". Retried like any call: a lost answer leaves at most an empty
        # Open job behind, which Salesforce removes with the other stale jobs.
        _, created = client.send(
            "bulk_create",
            "POST",
            "jobs/ingest",
            json_body={**job, "contentType": "CSV", "lineEnding": "LF", "columnDelimiter": "COMMA"},
        )
        job_id = str(created["id"])
        # One upload per job ("Upload Job Data"): a second one fails the job, so an
        # upload whose outcome is unknown is not sent again (idempotent=False).
        client.send(
            "bulk_upload", "PUT", f"jobs/ingest/{job_id}/batches", csv_body=body, idempotent=False
        )
        client.send(
            "bulk_close",
            "PATCH",
            f"jobs/ingest/{job_id}",
            json_body={"state": "UploadComplete"},
            idempotent=False,
        )
        closed = time.monotonic()
        info, polls = _wait(client, job_id, str(job["object"]), rows, policy, sleep, pace)
    except RelayError as error:
        log.warning(
            "bulk_job_failed",
            job_id=job_id,
            object=job["object"],
            records=rows,
            reason=error.reason,
        )
        if job_id is not None:
            _abort_quietly(client, job_id)
        return error
    return _JobRun(job_id, info, polls, time.monotonic() - closed)


def _upsert_results(
    client: SalesforceClient, run: _JobRun, keys: Sequence[str], key_field: str
) -> list[WriteResult]:
    try:
        successful = _results(client, run.job_id, "successfulResults")
        failed = _failed(client, run)
    except RelayError as error:
        return [WriteResult(key, None, False, error) for key in keys]
    _log_done(run, TASK, reads=2 if failed else 1)
    return map_results(keys, key_field, successful, failed, _missing(run, "Task"))


def _insert_results(
    client: SalesforceClient, run: _JobRun, keys: Sequence[str]
) -> list[WriteResult]:
    """Results of a TaskRelation insert, matched by the uploaded ``TaskId:RelationId``."""
    info = run.info
    complete = info.get("state") == JOB_COMPLETE and info.get("numberRecordsProcessed") == len(keys)
    try:
        failed = _failed(client, run)
        successful = [] if complete else _results(client, run.job_id, "successfulResults")
    except RelayError as error:
        return [WriteResult(key, None, False, error) for key in keys]
    _log_done(run, TASK_RELATION, reads=(1 if failed else 0) + (0 if complete else 1))
    by_key: dict[str, WriteResult] = {}
    for row in successful:
        key = f"{row.get('TaskId', '')}:{row.get('RelationId', '')}"
        by_key[key] = WriteResult(key, row.get("sf__Id") or None, True)
    for row in failed:
        key = f"{row.get('TaskId', '')}:{row.get('RelationId', '')}"
        fault, codes = row_error(row.get("sf__Error", ""))
        by_key[key] = WriteResult(key, None, False, fault, codes)
    missing = _missing(run, "TaskRelation")
    default = WriteResult(None, None, True) if complete else None
    return [by_key.get(key) or default or WriteResult(key, None, False, missing) for key in keys]


def _failed(client: SalesforceClient, run: _JobRun) -> list[dict[str, str]]:
    if not run.info.get("numberRecordsFailed"):
        return []
    return _results(client, run.job_id, "failedResults")


def _missing(run: _JobRun, what: str) -> RelayError:
    """The error of a row the job's results do not mention."""
    if run.info.get("state") == JOB_COMPLETE:
        return TemporaryError(
            f"Bulk API job {run.job_id} completed without a result for this {what}; Relay "
            "writes it again later"
        )
    return job_error(run.info)


def _log_done(run: _JobRun, sobject: str, *, reads: int) -> None:
    log.info(
        "bulk_job_done",
        job_id=run.job_id,
        object=sobject,
        state=run.info.get("state"),
        processed=run.info.get("numberRecordsProcessed"),
        failed=run.info.get("numberRecordsFailed"),
        polls=run.polls,
        seconds=round(run.seconds, 3),
        # create, upload, close, the polls and the result reads: what the job cost
        calls=3 + run.polls + reads,
    )


def _wait(
    client: SalesforceClient,
    job_id: str,
    sobject: str,
    rows: int,
    policy: BulkPolicy,
    sleep: Callable[[float], None],
    pace: JobPace,
) -> tuple[Mapping[str, Any], int]:
    """Poll "Get Job Info" until the job reaches an outcome: first when the pace of the
    last job says it should be done, then as its own progress says (``next_wait``);
    the job's last info and the polls it took."""
    delay = pace.first_wait(sobject, rows, policy)
    started = time.monotonic()
    waited = 0.0
    polls = 0
    while True:
        sleep(delay)
        waited += delay
        _, info = client.send("bulk_poll", "GET", f"jobs/ingest/{job_id}")
        polls += 1
        # The sleeps alone when ``sleep`` only records them (tests), the clock otherwise.
        elapsed = max(time.monotonic() - started, waited)
        if info.get("state") in TERMINAL_STATES:
            pace.record(sobject, rows, elapsed, polls)
            return dict(info), polls
        processed = int(info.get("numberRecordsProcessed") or 0)
        delay = next_wait(elapsed, processed, rows, delay, policy)
        if elapsed + delay > policy.timeout_seconds:
            raise TemporaryError(
                f"Bulk API job {job_id} was still {info.get('state')} after "
                f"{policy.timeout_seconds:.0f} s; Relay writes these rows again later (the "
                "upsert on the Relay key keeps a Task exactly once)"
            )


def _results(client: SalesforceClient, job_id: str, name: str) -> list[dict[str, str]]:
    _, text = client.send(f"bulk_{name}", "GET", f"jobs/ingest/{job_id}/{name}/", accept_csv=True)
    return parse_results(text)


def _abort_quietly(client: SalesforceClient, job_id: str) -> None:
    """Abort a job Relay gives up on ("Close or Abort a Job"), so it does not run on."""
    try:
        client.send("bulk_abort", "PATCH", f"jobs/ingest/{job_id}", json_body={"state": "Aborted"})
    except RelayError as error:
        log.info("bulk_abort_failed", job_id=job_id, reason=error.reason)


def _key_of(record: Mapping[str, Any], external_id_field: str) -> str:
    key = record.get(external_id_field)
    if not key:
        raise ValueError(f"every record needs a {external_id_field} to upsert on")
    return str(key)
