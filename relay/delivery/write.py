"""The write step: a batch's Task drafts, exactly once per (email, record)
(docs/design.md §5), and what the write means for each message (``outcome_after_write``).

1. Drafts whose relay key the ledger already marks ``written`` are skipped: the same
   email again (BCC + journal copy, a client retry, two reps on one thread) writes
   nothing new. Drafts with the same key in one batch are written once.
2. An ``intent`` per remaining key is committed before Salesforce is called.
3. With the external-id field, Tasks are upserted on it: writing a key again updates
   the Task made the first time, so a crash after Salesforce's commit but before ours
   costs an update, not a duplicate. Without it, Tasks are created, and a key that has
   an intent from an earlier attempt is first reconciled: the rep's Tasks with that
   subject since the intent are searched for one with the same Who and What.
4. Written keys are committed (``mark_written``) straight away.

A write of at least ``bulk_threshold`` drafts (``RELAY_BULK_THRESHOLD``, an import of past
mail) goes through one Bulk API 2.0 ingest job instead of calls of 200
(relay/salesforce/bulk_ingest.py), with the same intents first and the same per-key
results after: a crash anywhere in the job leaves intents, and the next run upserts the
same keys again, which updates rather than duplicates. Only with the external-id field:
without it each Task is a create, and after a crash the job's rows could only be found
again by searching each rep's Tasks one draft at a time (the reconcile above), while the
job itself may still be running and creating them; bulk creates would trade the
exactly-once promise for calls. A Task with several Contacts (``TaskWhoIds``, a list
the CSV cannot carry) goes in the job with its first Contact as ``WhoId``; once the job
has its id, a second job inserts its other Contacts as ``TaskRelation`` rows. A crash
or a failure between the two leaves the key's intent: the next write meets the Task
(its upsert is refused as "exists", below) and sets its ``TaskWhoIds`` through REST,
which replaces its people with the full list, so no Contact is lost or doubled.

Copies of one email written at the same moment (two batches, two nodes) both write the
key; the upsert leaves one Task, and the later write records that Task as its own
(docs/delivery-guarantees.md, "Copies at the same moment").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from relay.delivery.outcomes import Happening, decided, worst
from relay.delivery.plan import Planned
from relay.errors import RelayError, TemporaryError
from relay.logs import get_logger
from relay.matching import TaskDraft
from relay.salesforce.bulk_ingest import (
    BulkPolicy,
    JobPace,
    insert_task_relations_bulk,
    upsert_tasks_bulk,
)
from relay.salesforce.client import MAX_COLLECTION_RECORDS, SalesforceClient
from relay.salesforce.writes import (
    WriteResult,
    find_recent_owner_tasks,
    find_tasks_by_keys,
    set_task_people,
    upsert_tasks,
)
from relay.store.ledger import LEDGER_CHUNK
from relay.store.model import INTENT, WRITTEN, Delivery, Outcome, Store

log = get_logger("relay.runners.writer")

# The intent is committed before the call, so the Task's CreatedDate is later; the
# margin covers clock skew between this host and Salesforce (a guess: NTP-synced hosts).
_RECONCILE_MARGIN = timedelta(minutes=10)
# Per-record codes that mean "a Task with this key exists already" (REST API Developer
# Guide, "Status Codes and Error Responses"):
# - INVALID_FIELD_FOR_INSERT_UPDATE: the upsert found the Task and took the update path,
#   which refuses a create-only field it sets (TaskSubtype);
# - DUPLICATE_VALUE: two upserts of one key at the same moment both found no Task and
#   both inserted; the unique index let one commit and refused the other ("duplicate
#   value found: Relay_Key__c duplicates value on record with id: ..."). Salesforce
#   does not serialise concurrent upserts of one external id.
_TASK_EXISTS = frozenset({"INVALID_FIELD_FOR_INSERT_UPDATE", "DUPLICATE_VALUE"})
# A TaskRelation insert refused because the Task already has that person (a write that
# met a Task of an earlier attempt): what was wanted is there. The code is the one
# clients report for a duplicate relation; the Object Reference does not name it.
_RELATION_EXISTS = frozenset({"DUPLICATE_VALUE"})


@dataclass(frozen=True)
class Job:
    """One message's drafts."""

    queue_id: str
    message_key: str
    drafts: tuple[TaskDraft, ...]


@dataclass(frozen=True)
class KeyResult:
    task_id: str | None
    error: RelayError | None = None
    already: bool = False
    """True when the ledger already had this Task (a duplicate copy of the email)."""


DEFAULT_BULK_THRESHOLD = 2000


class TaskWriter:
    def __init__(
        self,
        store: Store,
        client: SalesforceClient,
        *,
        bulk_threshold: int = DEFAULT_BULK_THRESHOLD,
        bulk_policy: BulkPolicy | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.bulk_threshold = bulk_threshold
        self.bulk_policy = bulk_policy
        self.bulk_pace = JobPace()
        self.between: Callable[[], None] | None = None
        """Runs between the steps of a write: before its intents, between their
        transactions, before the job or each REST call, before each transaction of its
        written marks. The import lane gives way to live mail there
        (relay/runners/import_lane.py); None: straight through."""

    def write(self, jobs: Sequence[Job], external_id_field: str | None) -> dict[str, KeyResult]:
        """relay key -> what happened to its Task, for every draft of ``jobs``."""
        drafts: dict[str, tuple[Job, TaskDraft]] = {}
        for job in jobs:
            for draft in job.drafts:
                drafts.setdefault(draft.relay_key, (job, draft))
        if not drafts:
            return {}
        ledger = self.store.deliveries_for_keys(list(drafts))
        results: dict[str, KeyResult] = {}
        pending: list[tuple[Job, TaskDraft]] = []
        for key, (job, draft) in drafts.items():
            known = ledger.get(key)
            if known is not None and known.state == WRITTEN:
                results[key] = KeyResult(known.task_id, already=True)
            else:
                pending.append((job, draft))
        if external_id_field is None:
            found = self._reconcile([d for _, d in pending], ledger)
            if found:
                self.store.mark_written(found)
                results.update({key: KeyResult(task_id) for key, task_id in found.items()})
                pending = [(j, d) for j, d in pending if d.relay_key not in found]
        if not pending:
            return results
        intents = [_intent(job, draft) for job, draft in pending]
        for start in range(0, len(intents), LEDGER_CHUNK):
            self._between()
            self.store.record_intents(intents[start : start + LEDGER_CHUNK])
        self._between()
        records = [_sobject(draft, external_id_field) for _, draft in pending]
        records_by_key = {d.relay_key: r for (_, d), r in zip(pending, records, strict=True)}
        written: dict[str, str] = {}
        exists: list[str] = []
        for (_, draft), result in zip(
            pending, self._upsert(records, external_id_field), strict=True
        ):
            if result.ok and result.id:
                written[draft.relay_key] = result.id
                results[draft.relay_key] = KeyResult(result.id)
            else:
                results[draft.relay_key] = KeyResult(None, result.error)
                if external_id_field and _TASK_EXISTS.intersection(result.codes):
                    exists.append(draft.relay_key)
        if exists and external_id_field:
            # Another write of this key got there first: an earlier attempt committed in
            # Salesforce but not here, or another copy of the email (another batch or
            # node) wrote it meanwhile. The update path refuses create-only fields such
            # as TaskSubtype (Object Reference, Task: TaskSubtype is Create, not Update);
            # a concurrent insert meets the unique index. Either way the Task exists:
            # record it as written. A key the query does not find keeps its error.
            found = find_tasks_by_keys(self.client, exists, external_id_field=external_id_field)
            incomplete = self._complete_people(found, records_by_key)
            for key, task_id in found.items():
                if key in incomplete:
                    results[key] = KeyResult(None, incomplete[key])
                    continue
                log.info("task_already_written", relay_key=key, task_id=task_id)
                written[key] = task_id
                results[key] = KeyResult(task_id)
        marks = list(written.items())
        for start in range(0, len(marks), LEDGER_CHUNK):
            if start:
                self._between()
            self.store.mark_written(dict(marks[start : start + LEDGER_CHUNK]))
        return results

    def _between(self) -> None:
        if self.between is not None:
            self.between()

    def _upsert(
        self, records: Sequence[dict[str, Any]], external_id_field: str | None
    ) -> list[WriteResult]:
        """One result per record, in order: Bulk API 2.0 for a big write on the external
        id, sObject Collections otherwise."""
        if external_id_field is None or len(records) < self.bulk_threshold:
            return upsert_tasks(
                self.client, records, external_id_field=external_id_field, between=self.between
            )
        log.info("task_write_bulk", records=len(records), several=sum(map(_has_list, records)))
        answers = upsert_tasks_bulk(
            self.client,
            [_first_person_only(record) for record in records],
            external_id_field=external_id_field,
            policy=self.bulk_policy,
            pace=self.bulk_pace,
        )
        return self._relate_others(records, answers)

    def _relate_others(
        self, records: Sequence[Mapping[str, Any]], answers: list[WriteResult]
    ) -> list[WriteResult]:
        """Add the other Contacts of each Task the job wrote as TaskRelation rows (one
        more job); a Task whose relation failed takes that relation's error, so its key
        stays an intent and the next write completes it (``_complete_people``)."""
        pairs: list[tuple[str, str]] = []
        owners: list[int] = []
        for index, (record, answer) in enumerate(zip(records, answers, strict=True)):
            if not (_has_list(record) and answer.ok and answer.id):
                continue
            for who in dict.fromkeys(record["TaskWhoIds"]):
                if who != record.get("WhoId"):
                    pairs.append((answer.id, who))
                    owners.append(index)
        if not pairs:
            return answers
        self._between()
        outcomes = insert_task_relations_bulk(
            self.client, pairs, policy=self.bulk_policy, pace=self.bulk_pace
        )
        results = list(answers)
        whole: dict[int, None] = {}
        for index, outcome in zip(owners, outcomes, strict=True):
            if outcome.ok or _RELATION_EXISTS.intersection(outcome.codes):
                continue
            if not outcome.codes:
                # No row error: the job failed as a whole (a call, its state, its wait).
                whole[index] = None
            elif results[index].ok:
                log.info(
                    "task_relation_failed",
                    task_id=results[index].id,
                    reason=outcome.error.reason if outcome.error else None,
                )
                results[index] = replace(results[index], error=outcome.error, codes=outcome.codes)
        if whole:
            # Complete those Tasks through REST in this write rather than leave them for a
            # retry: whatever stopped the job (an org whose Bulk API refuses TaskRelation,
            # a job past its wait), TaskWhoIds sets the same people.
            indexes = [i for i in whole if results[i].ok]
            people = [(str(results[i].id), records[i]["TaskWhoIds"]) for i in indexes]
            for index, answer in zip(indexes, self._set_people(people), strict=True):
                if answer.error is not None:
                    results[index] = replace(results[index], error=answer.error, codes=answer.codes)
        return results

    def _complete_people(
        self, found: Mapping[str, str], records_by_key: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, RelayError]:
        """Set ``TaskWhoIds`` on the found Tasks whose drafts have several Contacts: an
        earlier attempt may have written the Task and not yet its other people. Returns
        the keys whose Task could not be completed, with the error."""
        people = [
            (key, task_id, records_by_key[key]["TaskWhoIds"])
            for key, task_id in found.items()
            if key in records_by_key and _has_list(records_by_key[key])
        ]
        if not people:
            return {}
        answers = self._set_people([(task_id, whos) for _, task_id, whos in people])
        return {
            key: answer.error
            for (key, _, _), answer in zip(people, answers, strict=True)
            if answer.error is not None
        }

    def _set_people(self, people: Sequence[tuple[str, Sequence[str]]]) -> list[WriteResult]:
        """``TaskWhoIds`` through REST, 200 Tasks a call (``set_task_people``)."""
        if not people:
            return []
        self._between()
        answers = set_task_people(self.client, people, between=self.between)
        log.info(
            "task_people_set",
            tasks=len(people),
            calls=-(-len(people) // MAX_COLLECTION_RECORDS),
            failed=sum(1 for answer in answers if answer.error is not None),
        )
        return answers

    def _reconcile(
        self, drafts: Sequence[TaskDraft], ledger: dict[str, Delivery]
    ) -> dict[str, str]:
        """Keys with an earlier intent whose Task Salesforce already has (create mode)."""
        found: dict[str, str] = {}
        for draft in drafts:
            intent = ledger.get(draft.relay_key)
            if intent is None or intent.state != INTENT or intent.created_at is None:
                continue
            since = intent.created_at - _RECONCILE_MARGIN
            for task in find_recent_owner_tasks(self.client, draft.owner_id, draft.subject, since):
                if _same_task(task, draft):
                    found[draft.relay_key] = str(task["Id"])
                    log.info("task_reconciled", relay_key=draft.relay_key, task_id=task["Id"])
                    break
        return found


def outcome_after_write(planned: Planned, results: Mapping[str, KeyResult]) -> Outcome | RelayError:
    """The message's outcome from its drafts' results, or the error that decides it.

    ``logged`` needs a result without error for EVERY draft: a draft the write did not
    report on (which TaskWriter.write never does) defers the message rather than
    claiming a Task that may not exist (docs/delivery-guarantees.md, "Copies at the
    same moment")."""
    missing = [d.relay_key for d in planned.drafts if d.relay_key not in results]
    if missing:
        return TemporaryError(f"no write result for Task key(s) {', '.join(missing)}")
    mine = [results[d.relay_key] for d in planned.drafts]
    errors = [r.error for r in mine if r.error is not None]
    decisive = worst(errors)
    if decisive is not None:
        return decisive
    queue_id = planned.message.id
    already = sum(1 for r in mine if r.already)
    if planned.plan.outcome == "unresolved":
        task_id = mine[0].task_id if mine else None
        return decided(queue_id, Happening.UNRESOLVED, task_id=task_id)
    records = len({r for d in planned.drafts for r in d.record_ids})
    tasks = len(planned.drafts)
    if already == len(mine) and mine:
        return decided(queue_id, Happening.ALREADY_LOGGED, records=records, tasks=tasks)
    partly = f"; {already} of them were already logged by an earlier copy" if already else ""
    return decided(queue_id, Happening.LOGGED, records=records, tasks=tasks, partly=partly)


def _same_task(task: dict[str, Any], draft: TaskDraft) -> bool:
    return (
        _id15(task.get("WhoId")) == _id15(draft.who_id)
        and _id15(task.get("WhatId")) == _id15(draft.what_id)
        and str(task.get("ActivityDate") or "") == draft.activity_date.isoformat()
    )


def _id15(record_id: object) -> str | None:
    return str(record_id)[:15] if record_id else None


def _intent(job: Job, draft: TaskDraft) -> Delivery:
    return Delivery(
        relay_key=draft.relay_key,
        message_key=job.message_key,
        record_id=draft.what_id or draft.who_id,
        records=draft.record_ids,
        queue_id=job.queue_id,
        owner_id=draft.owner_id,
    )


def _has_list(record: Mapping[str, Any]) -> bool:
    return isinstance(record.get("TaskWhoIds"), (list, tuple))


def _first_person_only(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as the CSV carries it: ``WhoId`` (the first Contact) without the list."""
    return {name: value for name, value in record.items() if name != "TaskWhoIds"}


def _sobject(draft: TaskDraft, external_id_field: str | None) -> dict[str, Any]:
    fields = draft.to_sobject()
    key = fields.pop("Relay_Key__c")
    if external_id_field:
        fields[external_id_field] = key
    return fields
