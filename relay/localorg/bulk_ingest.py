"""Bulk API 2.0 ingest jobs: ``/services/data/vXX.X/jobs/ingest``.

The resources (Bulk API 2.0 and Bulk API Developer Guide, "Create a Job", "Upload Job
Data", "Upload Complete" / "Close or Abort a Job", "Get Job Info", "Get All Jobs", "Get
Job Successful Record Results", "Get Job Failed Record Results", "Get Job Unprocessed
Record Results", "Delete a Job"):

========================================  =========================================
``POST   jobs/ingest``                    create: JSON in, the job's info out (state
                                          ``Open``)
``GET    jobs/ingest``                    every job (``{"done", "records",
                                          "nextRecordsUrl"}``)
``PUT    jobs/ingest/{id}/batches``       the CSV (``text/csv``), once; 201, no body
``PATCH  jobs/ingest/{id}``               ``{"state": "UploadComplete"}`` or
                                          ``{"state": "Aborted"}``; the job's info
``GET    jobs/ingest/{id}``               the job's info with its counts
``GET    .../successfulResults/``         CSV: ``sf__Id``, ``sf__Created``, then the
                                          uploaded columns
``GET    .../failedResults/``             CSV: ``sf__Id``, ``sf__Error``, then the
                                          uploaded columns
``GET    .../unprocessedrecords/``        CSV: the uploaded columns
``DELETE jobs/ingest/{id}``               204
========================================  =========================================

States ("Job States"): ``Open`` -> ``UploadComplete`` -> ``InProgress`` ->
``JobComplete`` | ``Failed``; ``Aborted`` from any state before the outcome. Processing
runs after ``UploadComplete`` as a background step on the org's loop, in chunks of 200
rows ("How Requests Are Processed": records are processed in chunks of 200), each
followed by a pause as long as it took so that API calls are answered meanwhile, and each
row goes through the same ``OrgData.upsert``/``create`` as the REST API, so field rules,
references, triggers and the external-id match are the REST path's. Each HTTP request
is one API call ("Each HTTP request counts as one call"); processing itself costs none.

CSV rules ("Prepare CSV Files"): UTF-8, a header of field API names, the job's column
delimiter and line ending, RFC 4180 quoting; an empty field leaves the value alone and
``#N/A`` sets it to null.

Not modelled: the ``update``, ``delete`` and ``hardDelete`` operations, multipart
create, assignment rules, relationship columns (``Owner.Email``), the 7-day result
lifespan, the daily record allocation, and the job's ``lineEnding`` as a rule (the CSV
reader takes LF and CRLF rows alike). Jobs live in memory: a restarted org has none.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import csv
import io
import math
import time
from dataclasses import dataclass, field
from typing import Any

from relay.localorg.data import MultipleChoices
from relay.localorg.errors import SalesforceApiError, data_error, not_found
from relay.localorg.ids import normalize_id
from relay.localorg.rest import (
    RestCall,
    RestResult,
    method_not_allowed,
    parse_json,
    write_lock_fault,
)
from relay.localorg.state import OrgState
from relay.localorg.values import format_datetime

OPEN = "Open"
UPLOAD_COMPLETE = "UploadComplete"
IN_PROGRESS = "InProgress"
JOB_COMPLETE = "JobComplete"
FAILED = "Failed"
ABORTED = "Aborted"
TERMINAL = frozenset({JOB_COMPLETE, FAILED, ABORTED})

# "Upload Job Data": "A request can provide CSV data that does not in total exceed 150 MB
# of base64 encoded content"; the org measures the upload's base64 length.
MAX_UPLOAD_BASE64_BYTES = 150 * 1024 * 1024
# "How Requests Are Processed": chunks of 200 records.
CHUNK_ROWS = 200
MAX_CHUNK_PAUSE_SECONDS = 0.25
"""After each chunk the job waits as long as the chunk took (at most this): Salesforce
processes a job in the background, on its own servers, and answers other API calls
meanwhile ("Use Bulk API 2.0", API Basics on Trailhead: "Salesforce processes the
request in the background"; "How Requests Are Processed"). Here a chunk runs on the
org's one event loop, and a call needs several turns of it (TLS, headers, body, the
latency sleep): with only ``sleep(0)`` between chunks each of those turns waited a whole
chunk, so a live email's call took a second or more while a 10,000-row job ran
(docs/benchmarks.md, "Import through Bulk API 2.0"). Pausing as long as the chunk took
gives the job at most half of the loop; it still ends in about twice its CPU time."""
# "Prepare CSV Files": "#N/A" sets a field to null; an empty field is left unchanged.
NULL_VALUE = "#N/A"

DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
SUPPORTED_OPERATIONS = frozenset({"insert", "upsert"})
ALL_OPERATIONS = frozenset({"insert", "update", "upsert", "delete", "hardDelete"})
# Bulk API job ids start with 750, as the job ids in the guide's examples do.
JOB_KEY_PREFIX = "750"


@dataclass
class IngestJob:
    id: str
    object: str
    operation: str
    external_id_field: str | None
    column_delimiter: str
    line_ending: str
    api_version: str
    created_by: str
    created_date: str
    state: str = OPEN
    system_modstamp: str = ""
    uploads: list[bytes] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    successful: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    # The parsed rows still to process (processing takes them a chunk at a time).
    pending: list[list[str]] = field(default_factory=list)
    error_message: str | None = None
    # Seconds spent processing the rows: the chunks' time, not the pauses between them.
    processing_seconds: float = 0.0

    def info(self) -> dict[str, Any]:
        """The job's info ("Get Job Info"): the create answer plus the counts."""
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": self.created_by,
            "createdDate": self.created_date,
            "systemModstamp": self.system_modstamp or self.created_date,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "jobType": "V2Ingest",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
            "numberRecordsProcessed": len(self.successful) + len(self.failed),
            "numberRecordsFailed": len(self.failed),
            "retries": 0,
            # "Get Job Info": totalProcessingTime "The number of milliseconds taken to
            # process the job"; apiActiveProcessingTime "The number of milliseconds taken
            # to actively process the job and includes apexProcessingTime". The local org
            # runs no Apex, and its processing is all active: both are the chunks' time
            # (rounded up, so a job that processed rows never shows 0).
            "totalProcessingTime": self.processing_ms(),
            "apiActiveProcessingTime": self.processing_ms(),
            "apexProcessingTime": 0,
        }
        if self.external_id_field:
            body["externalIdFieldName"] = self.external_id_field
        if self.state == OPEN:
            body["contentUrl"] = f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches"
        if self.error_message:
            body["errorMessage"] = self.error_message
        return body

    def processing_ms(self) -> int:
        return math.ceil(self.processing_seconds * 1000)


@dataclass
class IngestJobs:
    """The org's ingest jobs and their background processing tasks."""

    jobs: dict[str, IngestJob] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    sequence: int = 0

    def new_id(self) -> str:
        self.sequence += 1
        raw = f"{JOB_KEY_PREFIX}{self.sequence:012d}"
        return normalize_id(raw) or raw

    async def stop(self) -> None:
        """Cancel processing that is still running (the org is shutting down)."""
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


# --- errors ------------------------------------------------------------------------------
# "Errors" (Bulk API 2.0): InvalidJob, InvalidJobState, InvalidBatch, ClientInputError.
# Over REST they come in the REST error shape ``[{"errorCode", "message"}]``; the
# upper-case spelling of the codes and the wording of the messages are guesses.


def _invalid_job(message: str) -> SalesforceApiError:
    return SalesforceApiError(400, "INVALIDJOB", message)


def _invalid_state(job: IngestJob, action: str) -> SalesforceApiError:
    # 409 Conflict: "the request couldn't be completed due to a conflict with the current
    # state of the resource" (REST API Developer Guide, "Status Codes and Error Responses").
    return SalesforceApiError(
        409, "INVALIDJOBSTATE", f"Job {job.id} is in state {job.state}: cannot {action}"
    )


# --- dispatch ----------------------------------------------------------------------------


def ingest_dispatch(state: OrgState, call: RestCall, parts: list[str]) -> RestResult:
    """``parts`` follow ``jobs/ingest``."""
    jobs = state.ingest
    if not parts:
        if call.method == "POST":
            return RestResult(200, _create(state, call).info())
        if call.method == "GET":
            records = [job.info() for job in jobs.jobs.values()]
            return RestResult(200, {"done": True, "records": records, "nextRecordsUrl": None})
        raise method_not_allowed(call.method, "GET,POST")
    job = jobs.jobs.get(parts[0])
    if job is None:
        # Guess at the shape: the REST API's 404 for a resource that does not exist.
        raise not_found()
    if len(parts) == 1:
        if call.method == "GET":
            return RestResult(200, job.info())
        if call.method == "PATCH":
            return RestResult(200, _change_state(state, call, job).info())
        if call.method == "DELETE":
            # "Delete a Job": "The job must have a state of UploadComplete, JobComplete,
            # Aborted, or Failed."
            if job.state in (OPEN, IN_PROGRESS):
                raise _invalid_state(job, "delete it")
            del jobs.jobs[job.id]
            return RestResult(204, None)
        raise method_not_allowed(call.method, "GET,PATCH,DELETE")
    if len(parts) == 2:
        name = parts[1]
        if name == "batches":
            if call.method != "PUT":
                raise method_not_allowed(call.method, "PUT")
            _upload(call, job)
            return RestResult(201, None)
        if name in ("successfulResults", "failedResults", "unprocessedrecords"):
            if call.method != "GET":
                raise method_not_allowed(call.method, "GET")
            return _results(job, name)
    raise not_found()


def _create(state: OrgState, call: RestCall) -> IngestJob:
    body = parse_json(call.body)
    if not isinstance(body, dict):
        raise data_error("JSON_PARSER_ERROR", "The request body must be a JSON object")
    operation = str(body.get("operation") or "")
    if operation not in ALL_OPERATIONS:
        # An unknown enum value fails JSON binding (a guess at the wording).
        raise data_error(
            "JSON_PARSER_ERROR", f"Cannot deserialize value of type Operation: {operation!r}"
        )
    if operation not in SUPPORTED_OPERATIONS:
        raise _invalid_job(f"The local org does not implement the {operation} operation")
    content_type = str(body.get("contentType") or "CSV")
    if content_type != "CSV":
        # "Create a Job": "The only valid value (and the default) is CSV."
        raise _invalid_job(f"Unsupported content type: {content_type}")
    delimiter = str(body.get("columnDelimiter") or "COMMA")
    line_ending = str(body.get("lineEnding") or "LF")
    if delimiter not in DELIMITERS:
        raise data_error(
            "JSON_PARSER_ERROR",
            f"Cannot deserialize value of type ColumnDelimiterEnum: {delimiter!r}",
        )
    if line_ending not in LINE_ENDINGS:
        raise data_error(
            "JSON_PARSER_ERROR", f"Cannot deserialize value of type LineEndingEnum: {line_ending!r}"
        )
    sobject = state.data.object_name(str(body.get("object") or ""))
    if sobject is None:
        # "InvalidJob : Unable to find object: Foo" is the wording clients report.
        raise _invalid_job(f"Unable to find object: {body.get('object')}")
    external = body.get("externalIdFieldName")
    ext_name: str | None = None
    if operation == "upsert":
        # "Create a Job": externalIdFieldName is "Required for upsert operations".
        if not external:
            raise _invalid_job(
                f"External ID was blank for {sobject}. An External ID must be specified for upsert."
            )
        fd = state.data.object_def(sobject).field(str(external))
        if fd is None or not (fd.external_id or fd.id_lookup):
            raise _invalid_job(f"The field {external} is not an External ID field on {sobject}")
        ext_name = fd.name
    now = format_datetime(state.data.now())
    job = IngestJob(
        id=state.ingest.new_id(),
        object=sobject,
        operation=operation,
        external_id_field=ext_name,
        column_delimiter=delimiter,
        line_ending=line_ending,
        api_version=call.version,
        created_by=call.user_id,
        created_date=now,
    )
    state.ingest.jobs[job.id] = job
    return job


def _upload(call: RestCall, job: IngestJob) -> None:
    media_type = (call.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if media_type != "text/csv":
        # "Upload Job Data": Formats text/csv. The code and wording are guesses.
        raise SalesforceApiError(
            400, "INVALIDCONTENTTYPE", f"Content-Type must be text/csv, not {media_type or 'none'}"
        )
    if job.state != OPEN:
        raise _invalid_state(job, "upload data")
    if not call.body:
        raise SalesforceApiError(400, "INVALIDBATCH", "Empty upload: the CSV has no content")
    if len(base64.b64encode(call.body)) > MAX_UPLOAD_BASE64_BYTES:
        raise SalesforceApiError(
            400,
            "INVALIDBATCH",
            "The upload exceeds 150 MB of base64 encoded content; split it into several jobs",
        )
    # A second upload is taken, and the job fails when it is closed (see _change_state).
    job.uploads.append(call.body)


def _change_state(state: OrgState, call: RestCall, job: IngestJob) -> IngestJob:
    body = parse_json(call.body)
    wanted = body.get("state") if isinstance(body, dict) else None
    if wanted == UPLOAD_COMPLETE:
        if job.state != OPEN:
            raise _invalid_state(job, "close it")
        job.state = UPLOAD_COMPLETE
        job.system_modstamp = format_datetime(state.data.now())
        if len(job.uploads) > 1:
            # "Upload Job Data": one upload per job. The job's error is the message
            # users report for a second upload.
            _fail(
                state,
                job,
                f"Found multiple contents for job: <{job.id}>, please 'Close' / 'Abort' / "
                "'Delete' the current Job then create a new Job and make sure the content "
                "is uploaded only once",
            )
            return job
        if not job.uploads:
            _fail(state, job, "InvalidBatch : No data was uploaded for this job")  # a guess
            return job
        task = asyncio.get_running_loop().create_task(_process(state, job))
        state.ingest.tasks.add(task)
        task.add_done_callback(state.ingest.tasks.discard)
        return job
    if wanted == ABORTED:
        if job.state in TERMINAL:
            raise _invalid_state(job, "abort it")
        # Processing stops at the next chunk; what it has not reached is unprocessed
        # ("Get Job Unprocessed Record Results": records not processed because the job
        # was aborted).
        job.unprocessed.extend(job.pending)
        job.pending = []
        job.state = ABORTED
        job.system_modstamp = format_datetime(state.data.now())
        return job
    raise SalesforceApiError(
        400, "INVALIDJOBSTATE", f"Invalid state for a job update: {wanted!r}"
    )  # wording is a guess; only UploadComplete and Aborted may be set


def _fail(state: OrgState, job: IngestJob, message: str) -> None:
    job.state = FAILED
    job.error_message = message
    job.system_modstamp = format_datetime(state.data.now())


# --- processing --------------------------------------------------------------------------


async def _process(state: OrgState, job: IngestJob) -> None:
    await asyncio.sleep(0)  # the close answers first; processing starts after it
    if job.state != UPLOAD_COMPLETE:
        return
    job.state = IN_PROGRESS
    job.system_modstamp = format_datetime(state.data.now())
    try:
        header, rows = _parse(job)
    except (csv.Error, UnicodeDecodeError) as exc:
        _fail(state, job, f"ClientInputError : the CSV could not be read: {exc}")
        return
    job.header = header
    problem = _check_header(state, job, header)
    if problem is not None:
        job.unprocessed = rows
        _fail(state, job, problem)
        return
    job.pending = rows
    while job.pending:
        if job.state != IN_PROGRESS:  # aborted meanwhile (the abort took the rest)
            return
        chunk, job.pending = job.pending[:CHUNK_ROWS], job.pending[CHUNK_ROWS:]
        started = time.monotonic()
        # One transaction a chunk, each row in a savepoint of its own: a row that fails
        # rolls back alone and the others commit together ("How Requests Are
        # Processed": chunks of 200; a row's failure is that row's result, not the
        # chunk's). One commit a row was a quarter of the org's time in a job.
        with state.data.transaction():
            for row in chunk:
                _process_row(state, job, header, row)
        took = time.monotonic() - started
        job.processing_seconds += took
        # Let the org answer calls between chunks, for at least as long as the chunk took.
        await asyncio.sleep(min(took, MAX_CHUNK_PAUSE_SECONDS))
    if job.state != IN_PROGRESS:
        return
    job.state = JOB_COMPLETE
    job.system_modstamp = format_datetime(state.data.now())


def _parse(job: IngestJob) -> tuple[list[str], list[list[str]]]:
    text = job.uploads[0].decode("utf-8-sig")
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=DELIMITERS[job.column_delimiter],
        strict=True,
    )
    records = [row for row in reader if row]
    if not records:
        raise csv.Error("no header row")
    return records[0], records[1:]


def _check_header(state: OrgState, job: IngestJob, header: list[str]) -> str | None:
    obj = state.data.object_def(job.object)
    for name in header:
        if obj.field(name.strip()) is None:
            # The job's errorMessage clients report for an unknown column.
            return f"InvalidBatch : Field name not found : {name}"
    if job.external_id_field and not any(
        h.strip().lower() == job.external_id_field.lower() for h in header
    ):
        # "Create a Job": the external id's "Field values must also exist in CSV job data".
        return f"InvalidBatch : Field name not found : {job.external_id_field}"  # a guess
    return None


def _process_row(state: OrgState, job: IngestJob, header: list[str], row: list[str]) -> None:
    if len(row) != len(header):
        error = SalesforceApiError(
            400, "INVALID_FIELD", f"Row has {len(row)} columns, the header has {len(header)}"
        )  # a guess at the code
        job.failed.append(["", _error_text(error), *row])
        return
    fields = _fields(header, row)
    try:
        write_lock_fault(state, None)
        if job.operation == "upsert":
            assert job.external_id_field is not None
            value = next(
                (v for k, v in fields.items() if k.lower() == job.external_id_field.lower()), None
            )
            if not value:
                raise data_error(
                    "MISSING_ARGUMENT",
                    f"{job.external_id_field} not specified",
                    [job.external_id_field],
                )
            record_id, created = state.data.upsert(
                job.object, job.external_id_field, str(value), fields, user_id=job.created_by
            )
        else:
            record_id = state.data.create(job.object, fields, user_id=job.created_by)
            created = True
    except MultipleChoices as error:
        duplicate = data_error(
            "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {error.message}"
        )
        job.failed.append(["", _error_text(duplicate), *row])
        return
    except SalesforceApiError as error:
        job.failed.append(["", _error_text(error), *row])
        return
    job.successful.append([record_id, "true" if created else "false", *row])


def _fields(header: list[str], row: list[str]) -> dict[str, Any]:
    """The row as a record: empty fields are left out, ``#N/A`` is null."""
    fields: dict[str, Any] = {}
    for name, value in zip(header, row, strict=True):
        if value == "":
            continue
        fields[name.strip()] = None if value == NULL_VALUE else value
    return fields


def _error_text(error: SalesforceApiError) -> str:
    """``sf__Error``: "Error code and message" ("Get Job Failed Record Results"), as
    ``CODE:message``, with the fields after a colon and `` --`` (the Bulk API's
    ``STATUS_CODE:message:fields --`` layout as clients show it; a guess in detail)."""
    text = f"{error.error_code}:{error.message}"
    if error.fields:
        text += f":{','.join(error.fields)} --"
    return text


def _results(job: IngestJob, name: str) -> RestResult:
    if job.state not in TERMINAL:
        raise _invalid_state(job, "get its results")  # a guess: results come at the outcome
    if name == "successfulResults":
        header, rows = ["sf__Id", "sf__Created", *job.header], job.successful
    elif name == "failedResults":
        header, rows = ["sf__Id", "sf__Error", *job.header], job.failed
    else:
        header, rows = list(job.header), job.unprocessed
    buffer = io.StringIO(newline="")
    writer = csv.writer(
        buffer,
        delimiter=DELIMITERS[job.column_delimiter],
        lineterminator=LINE_ENDINGS[job.line_ending],
        quoting=csv.QUOTE_ALL,  # Salesforce quotes every result field
    )
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return RestResult(200, buffer.getvalue().encode("utf-8"), {"Content-Type": "text/csv"})
