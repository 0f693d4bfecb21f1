"""One Task-sync cycle: read what changed on both sides, decide, write (docs/design.md §9).

A cycle, for the reps whose ``task_sync`` is ``on``:

1. the reps' transitions: a rep turned on for the first time gets the import of their
   Tasks created or updated in the last 24 hours; a rep turned on again after a pause gets
   a catch-up from where the poll last covered them (Salesforce deletions only from the
   later of that and 15 days ago, the Recycle Bin's window); a rep turned off is dropped
   from both directions and nothing is deleted;
2. ONE ``queryAll`` on Task over the reps with sync on (``TaskSubtype = 'Task'``, not
   recurring series masters), ordered by ``(SystemModstamp, Id)``, from the cursor minus
   an overlap: stamps are cut to the second and late commits exist, so rows are read
   twice rather than lost, and the cursor only moves to a stamp a row carried, never to
   "now" ("Data Replication", SOAP API Developer Guide). Rows read twice are no change:
   their mapped fields hash to the last synced copy;
3. the reminders changed in Relay since the sync last saw them;
4. each pair through ``merge.decide``; the pushes in Composite calls of at most 200
   records (creates upserted on the external-id field, so a retry or a crash never makes
   a second Task; updates; deletes), then every store write of the cycle in one
   transaction.

A quiet cycle is one API call (the poll's one page) and changes nothing, in Salesforce or
in the store; it only stamps its time in ``task_sync_state`` (the Tasks page's "last
cycle").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

from simple_salesforce.format import format_soql

from relay.config import SyncConfig
from relay.errors import (
    NeedsAttention,
    RateLimited,
    RelayError,
    StoreUnavailable,
    TemporaryError,
)
from relay.logs import get_logger
from relay.reps.reminders import local_date
from relay.reps.settings import settings_for
from relay.salesforce.classify import classify_record_errors, parse_faults
from relay.salesforce.client import MAX_COLLECTION_RECORDS, SalesforceClient
from relay.salesforce.writes import MAX_URI_BYTES
from relay.store.sql_store import SqlStore
from relay.store.task_sync import (
    DELETED,
    CycleStamp,
    CycleWrites,
    ReminderWrite,
    SyncRep,
    SyncState,
)
from relay.store.values import ORG_SCOPE, Reminder, Rep, new_reminder
from relay.tasksync.mapping import (
    SELECT,
    Mapped,
    TaskView,
    as_seen,
    fingerprint,
    imported,
    of_reminder,
    parse_task,
    task_fields,
)
from relay.tasksync.merge import Action, Decision, Pair, decide
from relay.tasksync.wording import describe, error_kind

log = get_logger("relay.tasksync")

IMPORT_WINDOW = timedelta(hours=24)
"""First enable imports Tasks "updated or created in the last 24 hours" (Sales Insight
Actions, "Reminder/Task Sync with Salesforce")."""
RECYCLE_BIN = timedelta(days=15)
"""Deleted records stay in the Recycle Bin 15 days (Salesforce Help, "Recycle Bin")."""
OVERLAP = timedelta(minutes=10)
"""How far behind the cursor each poll starts again: stamps are cut to the second and a
long transaction can commit a row stamped before rows already read."""
KEY_PREFIX = "reminder:"
"""The external-id value of a reminder's Task: ``reminder:`` and the reminder's id."""
GONE_CODES = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"})
"""A delete answered with these found the Task gone already: the deletion is done."""


@dataclass
class CycleReport:
    """What one cycle did (logged, shown by `relay doctor`, counted by the tests)."""

    calls: int = 0
    pages: int = 0  # of them, query pages (the poll, a first import, a catch-up)
    pushed: int = 0  # records sent in Composite calls (creates, updates, deletes)
    pulled: int = 0  # Task rows read
    imported: int = 0
    to_relay: int = 0  # reminders changed from Salesforce (updates, deletes, restores)
    to_salesforce: int = 0  # Tasks created, updated or deleted
    conflicts: int = 0
    failed: int = 0  # records Salesforce refused
    error: RelayError | None = None
    paused: bool = False
    reps_on: int = 0  # reps whose sync this cycle ran for (0: no poll at all)

    @property
    def writes(self) -> int:
        return self.imported + self.to_relay + self.to_salesforce


@dataclass
class _Push:
    reminder: Reminder
    decision: Decision
    kind: str  # create | update | delete
    fields: dict[str, Any] = field(default_factory=dict)
    task_id: str | None = None


def reminder_key(reminder_id: str) -> str:
    return KEY_PREFIX + reminder_id


class TaskSyncEngine:
    """The sync's cycles against one store and one Salesforce client.

    ``clock`` is Relay's (when a rep's spell of sync began; reminders created since are
    pushed), ``org_clock`` Salesforce's (the 24-hour import and the 15-day Recycle Bin
    windows); both are the real clock except in tests that move the local org's.
    """

    def __init__(
        self,
        store: SqlStore,
        client: SalesforceClient,
        defaults: SyncConfig,
        *,
        key_field: str = "Relay_Key__c",
        rate_limit_pause_seconds: float = 300.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        org_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.defaults = defaults
        self.key_field = key_field
        self.rate_limit_pause_seconds = rate_limit_pause_seconds
        self.clock = clock
        self.org_clock = org_clock or clock
        self.started_at = clock()
        self._calls = 0
        self._pages = 0
        client.http.hooks["response"].append(self._count)

    def _count(self, response: Any, *_args: Any, **_kwargs: Any) -> None:
        self._calls += 1
        if "/query" in str(getattr(response, "url", "")):
            self._pages += 1

    # --- the cycle ----------------------------------------------------------------------

    def cycle(self) -> CycleReport:
        """One cycle (blocking). Salesforce errors are caught and reported (and kept for
        `relay doctor`); store errors propagate to the runner's outage handling."""
        report = CycleReport()
        started, pages = self._calls, self._pages
        state = self.store.task_sync_state()
        now = self.clock()
        if state.paused_until is not None and state.paused_until > now:
            report.paused = True
            return report
        if not self.key_field:
            report.error = NeedsAttention(
                "set the Task external-id field (RELAY_PIPELINE_EXTERNAL_ID_FIELD, "
                "Relay_Key__c in deploy/salesforce/): without it a retried push could create "
                "a second Task"
            )
            self._record_error(state, report.error, now)
            return report
        try:
            writes = self._cycle(state, now, report)
        except StoreUnavailable:
            raise  # the runner's store-outage handling, not a Salesforce error
        except RelayError as error:
            report.error = error
            report.calls = self._calls - started
            report.pages = self._pages - pages
            self._record_error(state, error, now)
            log.warning(
                "task_sync_failed", kind=error_kind(error), code=error.code, said=error.said
            )
            return report
        report.calls = self._calls - started
        report.pages = self._pages - pages
        if writes.state is not None or state.error_kind or state.paused_until:
            # A cycle that went through ends the last error and any pause.
            writes.state = replace(
                writes.state or state, error_kind=None, error=None, paused_until=None
            )
        if writes.state is not None:
            writes.state = replace(
                writes.state, last_cycle_at=now, last_calls=report.calls,
                last_changes=report.writes,
            )  # fmt: skip
        elif report.reps_on:
            # A quiet cycle stamps only its time (the Tasks page's "last cycle"): three
            # columns of task_sync_state, never the cursor, no change version.
            writes.stamp = CycleStamp(now, report.calls)
        imported, _updated = self.store.apply_task_sync(writes)
        report.imported = imported
        if report.writes or report.failed:
            log.info(
                "task_sync_cycle",
                calls=report.calls,
                pulled=report.pulled,
                imported=report.imported,
                to_relay=report.to_relay,
                to_salesforce=report.to_salesforce,
                conflicts=report.conflicts,
                failed=report.failed,
            )
        return report

    def _record_error(self, state: SyncState, error: RelayError, now: datetime) -> None:
        paused = None
        if isinstance(error, RateLimited):
            wait = max(error.retry_after or 0.0, self.rate_limit_pause_seconds)
            paused = now + timedelta(seconds=wait)
        self.store.record_task_sync_state(
            replace(
                state,
                error_kind=error_kind(error),
                error=describe(error, paused),  # the sync's own words (wording.py)
                paused_until=paused,
                last_cycle_at=now,
            )
        )

    def _cycle(self, state: SyncState, now: datetime, report: CycleReport) -> CycleWrites:
        writes = CycleWrites()
        org_now = self.org_clock()
        reps = {rep.user_id: rep for rep in self.store.list_reps() if rep.is_active}
        overrides = self.store.setting_overrides()
        on = {
            user_id
            for user_id in reps
            if settings_for(self.defaults, overrides, user_id).task_sync == "on"
        }
        known = self.store.task_sync_reps()
        set_at = self.store.task_sync_set_at()
        first: dict[str, SyncRep] = {}
        again: dict[str, SyncRep] = {}
        current: dict[str, SyncRep] = {}
        mark = state.cursor_modstamp
        for user_id in sorted(on):
            before = known.get(user_id)
            if before is not None and before.enabled:
                current[user_id] = before
                continue
            # On since the setting was stored (`relay settings set`), or, for the
            # configuration's org default, since this process started.
            since = set_at.get(user_id) or set_at.get(ORG_SCOPE) or self.started_at
            enabled_at = min(since, now)
            if before is None or before.imported_at is None:
                rep = SyncRep(user_id, True, enabled_at=enabled_at, imported_at=org_now)
                first[user_id] = rep
            else:
                rep = replace(before, enabled=True, enabled_at=enabled_at, disabled_at=None)
                again[user_id] = rep
            current[user_id] = rep
            writes.reps.append(rep)
            log.info("task_sync_on", user_id=user_id, first=before is None)
        for user_id, before in known.items():
            if before.enabled and user_id not in on:
                # Off: nothing more either way, nothing deleted. The catch-up after a
                # pause starts where the poll last covered this rep.
                writes.reps.append(
                    replace(before, enabled=False, disabled_at=now, polled_mark=mark or org_now)
                )
                log.info("task_sync_off", user_id=user_id)
        if not current:
            return writes
        report.reps_on = len(current)

        rows: dict[str, TaskView] = {}
        polled = self._poll(sorted(current), mark, org_now)
        for task in polled:
            if task.owner_id in current:
                rows[task.id] = task
        if first:
            floor = org_now - IMPORT_WINDOW
            for task in self._first_import(sorted(first), floor):
                rows.setdefault(task.id, task)
        if again:
            for task in self._catch_up(again, org_now):
                rows.setdefault(task.id, task)
        report.pulled = len(rows)
        new_mark = max(((t.modstamp, t.id) for t in polled), default=None)
        if new_mark is not None and (mark is None or new_mark[0] > mark):
            writes.state = replace(state, cursor_modstamp=new_mark[0], cursor_id=new_mark[1])

        paired = self.store.reminders_for_tasks(rows)
        keyed_ids = {
            t.relay_key[len(KEY_PREFIX) :]: t.id
            for t in rows.values()
            if t.id not in paired and t.relay_key and t.relay_key.startswith(KEY_PREFIX)
        }
        if keyed_ids:
            # A Task Relay created whose id never reached the store (a crash after
            # Salesforce's commit): pair it, never import it as a second reminder.
            for reminder_id, reminder in self.store.reminders_by_ids(keyed_ids).items():
                paired[keyed_ids[reminder_id]] = reminder
        pushes: list[_Push] = []
        handled: set[str] = set()
        for task in rows.values():
            found = paired.get(task.id)
            if found is None:
                if task.relay_key and task.relay_key.startswith(KEY_PREFIX):
                    continue  # its reminder was erased: not a Task to import
                rep_state = current[task.owner_id]
                floor = (rep_state.imported_at or org_now) - IMPORT_WINDOW
                if task.deleted or task.last_modified < floor:
                    continue
                writes.imports.append(self._import(task, reps[task.owner_id], now))
                continue
            if found.owner_id not in current:
                continue
            handled.add(found.id)
            self._pair(found, task, now, writes, pushes, report)
        for reminder in self.store.unsynced_reminders(sorted(current)):
            if reminder.id in handled:
                continue
            self._unsynced(reminder, current[reminder.owner_id], now, writes, pushes, report)
        self._push(pushes, now, writes, report)
        return writes

    # --- reading Salesforce -------------------------------------------------------------

    def _select(self) -> str:
        return f"SELECT {SELECT}, {self.key_field} FROM Task"  # noqa: S608 - API names only

    def _where(self) -> str:
        # TaskSubtype 'Task': not logged emails or calls; IsRecurrence false: not a
        # recurring series master (Sales Insight Actions' rule).
        return "TaskSubtype = 'Task' AND IsRecurrence = false"

    def _poll(
        self, owners: Sequence[str], mark: datetime | None, org_now: datetime
    ) -> list[TaskView]:
        start = (mark or org_now - IMPORT_WINDOW) - OVERLAP
        order = " ORDER BY SystemModstamp, Id"
        base = f"{self._select()} WHERE {self._where()} AND SystemModstamp >= {{start}}"
        soql = format_soql(
            base + " AND OwnerId IN {owners}" + order, start=start, owners=list(owners)
        )
        if len(quote_plus(soql)) + 512 > MAX_URI_BYTES:
            # Too many reps for one URI (16,384 bytes): read every owner's rows and keep
            # the reps' here; still one call for a quiet org.
            soql = format_soql(base + order, start=start)
        return self._read(soql, deleted=True)

    def _first_import(self, owners: Sequence[str], floor: datetime) -> list[TaskView]:
        found: list[TaskView] = []
        for chunk in _owner_chunks(owners):
            soql = format_soql(
                f"{self._select()} WHERE {self._where()} AND OwnerId IN {{owners}} "
                "AND LastModifiedDate >= {floor} ORDER BY SystemModstamp, Id",
                owners=chunk,
                floor=floor,
            )
            found.extend(self._read(soql, deleted=False))
        return found

    def _catch_up(self, again: Mapping[str, SyncRep], org_now: datetime) -> list[TaskView]:
        """After a pause: the rows changed since the poll last covered each rep; deletions
        only from the later of that and 15 days ago."""
        bin_floor = org_now - RECYCLE_BIN
        marks = {u: (r.polled_mark or bin_floor) - OVERLAP for u, r in again.items()}
        found: list[TaskView] = []
        for chunk in _owner_chunks(sorted(again)):
            soql = format_soql(
                f"{self._select()} WHERE {self._where()} AND OwnerId IN {{owners}} "
                "AND SystemModstamp >= {since} ORDER BY SystemModstamp, Id",
                owners=chunk,
                since=min(marks[u] for u in chunk),
            )
            for task in self._read(soql, deleted=True):
                since = marks.get(task.owner_id)
                if since is None or task.modstamp < since:
                    continue
                if task.deleted and task.modstamp < max(since, bin_floor):
                    continue
                found.append(task)
        return found

    def _read(self, soql: str, *, deleted: bool) -> list[TaskView]:
        if deleted:
            records = self.client.query_all_including_deleted(soql)
        else:
            records = self.client.query_all(soql)
        return [parse_task(record, self.key_field) for record in records]

    # --- deciding -----------------------------------------------------------------------

    def _import(self, task: TaskView, rep: Rep, now: datetime) -> Reminder:
        mapped = imported(task, local_date(now, rep.time_zone))
        return replace(
            new_reminder(rep.user_id, mapped.subject, mapped.due),
            details=mapped.details,
            priority=mapped.priority,
            status=mapped.status,
            who_id=mapped.who_id,
            what_id=mapped.what_id,
            records=tuple(r for r in (mapped.who_id, mapped.what_id) if r),
            source="salesforce",
            completed_at=now if mapped.status == "complete" else None,
            created_at=now,
            updated_at=now,
            sf_task_id=task.id,
            synced_hash=fingerprint(mapped),
            synced_at=now,
            synced_copy=mapped.to_json(),
            sync_eligible=True,
        )

    def _pair(
        self,
        reminder: Reminder,
        task: TaskView,
        now: datetime,
        writes: CycleWrites,
        pushes: list[_Push],
        report: CycleReport,
    ) -> None:
        base = _base(reminder)
        deleted_synced = reminder.synced_hash == DELETED
        pair = Pair(
            base=base,
            relay=None if reminder.deleted_at is not None else of_reminder(reminder),
            relay_at=reminder.updated_at or now,
            salesforce=as_seen(task, base),
            salesforce_at=task.last_modified,
            salesforce_deleted=task.deleted,
            relay_deletion_synced=deleted_synced,
        )
        self._apply(reminder, pair, task.id, now, writes, pushes, report)

    def _unsynced(
        self,
        reminder: Reminder,
        rep: SyncRep,
        now: datetime,
        writes: CycleWrites,
        pushes: list[_Push],
        report: CycleReport,
    ) -> None:
        if reminder.sf_task_id is None:
            eligible = reminder.sync_eligible or (
                rep.enabled_at is not None
                and reminder.created_at is not None
                and reminder.created_at >= rep.enabled_at
            )
            if not eligible or reminder.deleted_at is not None:
                # Existed before enabling (or never reached Salesforce before its
                # deletion): never pushed. Remember it was seen, so it is read again only
                # when it changes.
                writes.updates.append(
                    ReminderWrite(
                        reminder.id, reminder.updated_at, {"synced_at": reminder.updated_at}
                    )
                )
                return
            mapped = of_reminder(reminder)
            decision = Decision(Action.UPDATE, mapped)
            fields = task_fields(mapped)
            fields |= {
                "OwnerId": reminder.owner_id,
                "TaskSubtype": "Task",
                self.key_field: reminder_key(reminder.id),
            }
            pushes.append(_Push(reminder, decision, "create", fields))
            return
        base = _base(reminder)
        pair = Pair(
            base=base,
            relay=None if reminder.deleted_at is not None else of_reminder(reminder),
            relay_at=reminder.updated_at or now,
            salesforce=None,
            relay_deletion_synced=reminder.synced_hash == DELETED,
        )
        self._apply(reminder, pair, reminder.sf_task_id, now, writes, pushes, report)

    def _apply(
        self,
        reminder: Reminder,
        pair: Pair,
        task_id: str,
        now: datetime,
        writes: CycleWrites,
        pushes: list[_Push],
        report: CycleReport,
    ) -> None:
        decision = decide(pair)
        for conflict in decision.conflicts:
            report.conflicts += 1
            log.info(
                "task_sync_conflict",
                reminder_id=reminder.id,
                task_id=task_id,
                field=conflict.field,
                winner=conflict.winner,
            )
        expected = reminder.updated_at
        if decision.action is Action.NOTHING:
            if reminder.sf_task_id != task_id or _seen_later(reminder):
                values: dict[str, Any] = {"sf_task_id": task_id, "synced_at": reminder.updated_at}
                writes.updates.append(ReminderWrite(reminder.id, expected, values))
            return
        if decision.action is Action.DELETE_TASK:
            pushes.append(_Push(reminder, decision, "delete", task_id=task_id))
            return
        if decision.action is Action.FORGET:
            values = {
                "sf_task_id": task_id,
                "synced_hash": DELETED,
                "synced_at": reminder.updated_at,
            }
            writes.updates.append(ReminderWrite(reminder.id, expected, values))
            return
        if decision.action is Action.DELETE_REMINDER:
            values = {
                "sf_task_id": task_id, "deleted_at": now, "updated_at": now,
                "synced_hash": DELETED, "synced_at": now,
            }  # fmt: skip
            writes.updates.append(ReminderWrite(reminder.id, expected, values))
            report.to_relay += 1
            return
        merged = decision.merged
        assert merged is not None
        if decision.action is Action.RESTORE_REMINDER:
            values = _relay_values(decision.to_relay, now, merged) | _synced(merged, now)
            values |= {"deleted_at": None, "sf_task_id": task_id}
            writes.updates.append(ReminderWrite(reminder.id, expected, values))
            report.to_relay += 1
            return
        if decision.to_salesforce:
            fields = task_fields(merged, decision.to_salesforce)
            pushes.append(_Push(reminder, decision, "update", fields, task_id))
            return
        values = _relay_values(decision.to_relay, now, merged) | _synced(merged, now)
        values["sf_task_id"] = task_id
        if not decision.to_relay:
            values["updated_at"] = reminder.updated_at or now
            values["synced_at"] = values["updated_at"]
        else:
            report.to_relay += 1
        writes.updates.append(ReminderWrite(reminder.id, expected, values))

    # --- pushing ------------------------------------------------------------------------

    def _push(
        self, pushes: Sequence[_Push], now: datetime, writes: CycleWrites, report: CycleReport
    ) -> None:
        for group in _chunks(pushes, MAX_COLLECTION_RECORDS):
            report.pushed += len(group)
            answers = self._send(group)
            for push, (ok, task_id, codes) in zip(group, answers, strict=True):
                self._pushed(push, ok, task_id, codes, now, writes, report)

    def _send(self, group: Sequence[_Push]) -> list[tuple[bool, str | None, tuple[str, ...]]]:
        """One Composite call (REST API Developer Guide, "Composite"): up to three sObject
        Collections subrequests (upsert the creates on the external id, update, delete)
        with at most 200 records in all; one (ok, id, codes) per push, in order."""
        version = self.client.api_version
        base = f"/services/data/v{version}/composite/sobjects"
        creates = [p for p in group if p.kind == "create"]
        updates = [p for p in group if p.kind == "update"]
        deletes = [p for p in group if p.kind == "delete"]
        subrequests: list[dict[str, Any]] = []
        if creates:
            records = [{"attributes": {"type": "Task"}, **p.fields} for p in creates]
            subrequests.append({
                "method": "PATCH", "url": f"{base}/Task/{self.key_field}",
                "referenceId": "creates", "body": {"allOrNone": False, "records": records},
            })  # fmt: skip
        if updates:
            records = [
                {"attributes": {"type": "Task"}, "Id": p.task_id, **p.fields} for p in updates
            ]
            subrequests.append({
                "method": "PATCH", "url": base, "referenceId": "updates",
                "body": {"allOrNone": False, "records": records},
            })  # fmt: skip
        if deletes:
            ids = ",".join(str(p.task_id) for p in deletes)
            subrequests.append({
                "method": "DELETE", "url": f"{base}?ids={ids}&allOrNone=false",
                "referenceId": "deletes",
            })  # fmt: skip
        responses = self.client.composite(subrequests)
        by_reference = {str(r.get("referenceId")): r for r in responses}
        answers: dict[int, tuple[bool, str | None, tuple[str, ...]]] = {}
        for name, items in (("creates", creates), ("updates", updates), ("deletes", deletes)):
            if not items:
                continue
            response = by_reference.get(name, {})
            body = response.get("body")
            status = int(response.get("httpStatusCode") or 0)
            if status >= 300 or not isinstance(body, list) or len(body) != len(items):
                error = classify_record_errors(body if isinstance(body, list) else [])
                if isinstance(error, TemporaryError):
                    raise error  # the whole cycle is tried again (rows are re-read)
                for push in items:
                    answers[id(push)] = (False, None, ("HTTP_" + str(status),))
                continue
            for push, result in zip(items, body, strict=True):
                errors = list(result.get("errors") or [])
                codes = tuple(f.code for f in parse_faults(errors))
                ok = bool(result.get("success"))
                answers[id(push)] = (ok, result.get("id"), codes)
        return [answers[id(push)] for push in group]

    def _pushed(
        self,
        push: _Push,
        ok: bool,
        task_id: str | None,
        codes: tuple[str, ...],
        now: datetime,
        writes: CycleWrites,
        report: CycleReport,
    ) -> None:
        reminder, decision = push.reminder, push.decision
        expected = reminder.updated_at
        if push.kind == "delete":
            if ok or set(codes) & GONE_CODES:
                done = {"synced_hash": DELETED, "synced_at": reminder.updated_at}
                writes.updates.append(ReminderWrite(reminder.id, expected, done))
                report.to_salesforce += 1
                return
        elif ok and task_id:
            merged = decision.merged
            assert merged is not None
            values = _relay_values(decision.to_relay, now, merged) | _synced(merged, now)
            if not decision.to_relay:
                values["updated_at"] = reminder.updated_at or now
                values["synced_at"] = values["updated_at"]
            else:
                report.to_relay += 1
            values["sf_task_id"] = task_id
            values["sync_eligible"] = True
            writes.updates.append(ReminderWrite(reminder.id, expected, values))
            report.to_salesforce += 1
            return
        report.failed += 1
        log.warning(
            "task_sync_push_failed",
            reminder_id=reminder.id,
            kind=push.kind,
            task_id=push.task_id,
            codes=list(codes),
        )
        if push.kind == "create" and not reminder.sync_eligible:
            # Remember it was made during a spell of sync, so a pause before the retry
            # does not make it a reminder that "existed before enabling".
            writes.updates.append(ReminderWrite(reminder.id, expected, {"sync_eligible": True}))
        if push.kind == "update" and decision.to_relay:
            # Salesforce's side still arrives: keep it, and leave Relay's own change
            # unsynced (the copy has the old value) so the next cycle pushes it again.
            base = _base(reminder)
            copy = replace(base, **decision.to_relay)
            values = _relay_values(decision.to_relay, now, copy) | _synced(copy, now)
            values["synced_at"] = None
            writes.updates.append(ReminderWrite(reminder.id, expected, values))
            report.to_relay += 1


def _base(reminder: Reminder) -> Mapped:
    """The last synced copy; a reminder paired before it had one (a crash between the
    Task's creation and the store's write) uses its own values."""
    if reminder.synced_copy:
        return Mapped.from_json(reminder.synced_copy)
    return of_reminder(reminder)


def _seen_later(reminder: Reminder) -> bool:
    return reminder.synced_at is None or (
        reminder.updated_at is not None and reminder.updated_at > reminder.synced_at
    )


def _relay_values(changes: Mapping[str, Any], now: datetime, merged: Mapped) -> dict[str, Any]:
    """The reminder's columns for fields that came from Salesforce."""
    values: dict[str, Any] = {}
    for name, value in changes.items():
        values["due_date" if name == "due" else name] = value
        if name == "status":
            values["completed_at"] = now if value == "complete" else None
    if "who_id" in changes or "what_id" in changes:
        values["records"] = [r for r in (merged.who_id, merged.what_id) if r]
    return values


def _synced(merged: Mapped, now: datetime) -> dict[str, Any]:
    return {
        "synced_copy": merged.to_json(),
        "synced_hash": fingerprint(merged),
        "synced_at": now,
        "updated_at": now,
    }


def _owner_chunks(owners: Sequence[str], size: int = 300) -> Iterator[list[str]]:
    # 300 ids of 18 characters, quoted and URL-encoded, stay well under the 16,384-byte
    # URI limit (REST API Developer Guide, "Query").
    for start in range(0, len(owners), size):
        yield list(owners[start : start + size])


def _chunks(items: Sequence[_Push], size: int) -> Iterator[Sequence[_Push]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def calls_allowed(changes: int, pages: int = 1) -> int:
    """The most API calls a cycle with ``changes`` pushes may make: the poll's pages and
    one Composite call per 200 records."""
    return pages + math.ceil(changes / MAX_COLLECTION_RECORDS)


__all__ = ["CycleReport", "TaskSyncEngine", "calls_allowed", "error_kind", "reminder_key"]
