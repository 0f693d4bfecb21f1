"""Writing Tasks in batches, exactly once per key (docs/design.md §5).

With an external-id field on Task (``Relay_Key__c``, deploy/salesforce/), Tasks are
written with the sObject Collections **upsert** on that field: writing the same key
again updates the Task it made the first time, so a retry or a crash between
Salesforce's commit and Relay's own never makes a second Task (REST API Developer
Guide, "Upsert Records Using sObject Collections": up to 200 records, results in request
order, each ``{id, success, errors, created}``).

Without one, Tasks are created (``POST composite/sobjects``), and after an unknown
outcome or a crash the caller reconciles with ``find_recent_owner_tasks`` before it
writes again (its intent ledger says what it was writing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus

import structlog
from simple_salesforce.format import format_soql

from relay.errors import RelayError, Unprocessable
from relay.salesforce.classify import classify_record_errors, parse_faults
from relay.salesforce.client import MAX_COLLECTION_RECORDS, SalesforceClient

log = structlog.get_logger(__name__)

TASK = "Task"
DEFAULT_EXTERNAL_ID_FIELD = "Relay_Key__c"

MAX_URI_BYTES = 16_384
"""Salesforce refuses request URIs past 16,384 bytes with 414 URI Too Long (REST API
Developer Guide, "Query": "the URI ... can't exceed 16,384 bytes")."""
# Room for the instance URL and "/services/data/vNN.N/query/?q=" around the query.
_URI_OVERHEAD_BYTES = 512


@dataclass(frozen=True)
class WriteResult:
    """What happened to one record of a batch, in the order the records were given.

    ``error`` is None on success; otherwise the classified error (its class says what
    to do, its reason says why) and ``codes`` the Salesforce error codes behind it.
    """

    key: str | None
    id: str | None
    created: bool
    error: RelayError | None = None
    codes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.error is None


def upsert_tasks(
    client: SalesforceClient,
    records: Sequence[Mapping[str, Any]],
    *,
    external_id_field: str | None = DEFAULT_EXTERNAL_ID_FIELD,
    between: Callable[[], None] | None = None,
) -> list[WriteResult]:
    """Write Tasks in calls of up to 200, one result per record, in order.

    With ``external_id_field`` every record must carry a key in that field, and each is
    upserted on it; without, each is created. A call that fails as a whole (after the
    client's retries) fails each of its records with the same error, so the caller
    handles every record the same way whatever went wrong. ``between`` runs before each
    call but the first (the import lane gives way to live mail there).
    """
    results: list[WriteResult] = []
    for index, batch in enumerate(_chunks(records, MAX_COLLECTION_RECORDS)):
        if between is not None and index:
            between()
        keys = [_key_of(r, external_id_field) for r in batch]
        try:
            if external_id_field:
                answers = client.upsert_collection(TASK, external_id_field, batch)
            else:
                answers = client.create_collection(TASK, batch)
        except RelayError as exc:
            log.warning("salesforce_batch_failed", records=len(batch), reason=exc.reason)
            results.extend(WriteResult(key, None, False, exc) for key in keys)
            continue
        results.extend(_results(keys, answers, upsert=bool(external_id_field)))
    return results


def set_task_people(
    client: SalesforceClient,
    people: Sequence[tuple[str, Sequence[str]]],
    *,
    between: Callable[[], None] | None = None,
) -> list[WriteResult]:
    """Set existing Tasks' people, ``(task id, [contact ids])`` each, in calls of up to
    200; one result per Task, in order.

    ``TaskWhoIds`` replaces the Task's who relations with the list, its first becoming
    ``WhoId`` (Object Reference, Task: TaskWhoIds; Shared Activities only), so setting
    it again is harmless: this completes a Task whose other people an earlier attempt
    did not get to add (relay/delivery/write.py)."""
    results: list[WriteResult] = []
    for index, batch in enumerate(_chunks(people, MAX_COLLECTION_RECORDS)):
        if between is not None and index:
            between()
        records = [{"Id": task_id, "TaskWhoIds": list(whos)} for task_id, whos in batch]
        try:
            answers = client.update_collection(TASK, records)
        except RelayError as exc:
            log.warning("salesforce_batch_failed", records=len(batch), reason=exc.reason)
            results.extend(WriteResult(task_id, None, False, exc) for task_id, _ in batch)
            continue
        results.extend(_results([task_id for task_id, _ in batch], answers, upsert=False))
    return results


def _results(
    keys: Sequence[str | None], answers: Sequence[Mapping[str, Any]], *, upsert: bool
) -> Iterator[WriteResult]:
    if len(answers) != len(keys):
        # Salesforce promises one result per record; anything else is unusable.
        error = Unprocessable(f"Salesforce answered {len(answers)} results for {len(keys)} records")
        for key in keys:
            yield WriteResult(key, None, False, error)
        return
    for key, answer in zip(keys, answers, strict=True):
        record_id = answer.get("id")
        if answer.get("success"):
            # A create has no "created" flag: every success made a new record.
            created = bool(answer.get("created", True)) if upsert else True
            yield WriteResult(key, str(record_id), created)
            continue
        errors = list(answer.get("errors") or [])
        yield WriteResult(
            key,
            str(record_id) if record_id else None,
            False,
            classify_record_errors(errors),
            tuple(f.code for f in parse_faults(errors)),
        )


def find_tasks_by_keys(
    client: SalesforceClient,
    keys: Sequence[str],
    *,
    external_id_field: str = DEFAULT_EXTERNAL_ID_FIELD,
) -> dict[str, str]:
    """The Task id for each key that already has a Task (keys without one are absent).

    Queries ``WHERE field IN (...)``, split so each query URI stays under 16,384 bytes.
    """
    wanted = list(dict.fromkeys(keys))
    found: dict[str, str] = {}
    template = "SELECT Id, {field} FROM Task WHERE {field} IN {keys}"
    template = template.replace("{field}", external_id_field)
    for chunk in _chunks_by_uri(wanted, template):
        soql = format_soql(template, keys=chunk)
        for record in client.query_all(soql):
            key = record.get(external_id_field)
            if key is not None:
                found.setdefault(str(key), str(record["Id"]))
    return found


def find_recent_owner_tasks(
    client: SalesforceClient, owner_id: str, subject: str, since: datetime
) -> list[dict[str, Any]]:
    """A rep's Tasks with this subject created since ``since`` (reconcile after a crash
    when Task has no external-id field): the caller compares WhoId/WhatId with what it
    meant to write and skips what is already there."""
    soql = format_soql(
        "SELECT Id, Subject, WhoId, WhatId, ActivityDate, CreatedDate, Description "
        "FROM Task WHERE OwnerId = {owner} AND Subject = {subject} "
        "AND CreatedDate >= {since} ORDER BY CreatedDate",
        owner=owner_id,
        subject=subject,
        since=since,
    )
    return client.query_all(soql)


def _key_of(record: Mapping[str, Any], external_id_field: str | None) -> str | None:
    if not external_id_field:
        return None
    key = record.get(external_id_field)
    if not key:
        raise ValueError(f"every record needs a {external_id_field} to upsert on")
    return str(key)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _chunks_by_uri(keys: Sequence[str], template: str) -> Iterator[list[str]]:
    """Greedy chunks of keys whose encoded query fits in the URI limit."""
    budget = MAX_URI_BYTES - _URI_OVERHEAD_BYTES - len(quote_plus(template))
    chunk: list[str] = []
    used = 0
    for key in keys:
        # Each key costs its quoted, URL-encoded form plus a comma.
        cost = len(quote_plus(format_soql("{}", key))) + len(quote_plus(","))
        if chunk and used + cost > budget:
            yield chunk
            chunk, used = [], 0
        chunk.append(key)
        used += cost
    if chunk:
        yield chunk
