"""The local org's data layer: records, rules and org settings over SQLite. No HTTP.

``OrgData`` is what the server calls. Every write goes through one path
(``_write``): field rules (rules.py), references, object triggers (triggers.py),
uniqueness, then the store (records.py), all inside a transaction so a failed write
leaves nothing behind. Queries go to the SOQL package through ``OrgCatalog``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relay.localorg import (
    bootstrap,
    conversion,
    describe,
    integrity,
    replication,
    triggers,
)
from relay.localorg.errors import SalesforceApiError, data_error, not_found
from relay.localorg.ids import IdGenerator, normalize_id, object_for_id
from relay.localorg.records import RecordStore, Row
from relay.localorg.rules import check_fields, check_required, no_such_column
from relay.localorg.schema import build_schema
from relay.localorg.schema_model import FieldDef, ObjectDef
from relay.localorg.values import format_datetime

if TYPE_CHECKING:
    from relay.localorg.soql import QueryResult

CLOCK_OFFSET_KEY = "clock_offset_seconds"
# SOAP API Developer Guide, "Archived Activities": 365 days.
ARCHIVE_AFTER_DAYS = 365
PURGE_MARKS_KEY = "recycle_bin_purged"
DEFAULT_SETTINGS: dict[str, Any] = {
    "api_enabled": True,
    "email_to_salesforce_active": True,
    "shared_activities": True,
    # Guess: an Enterprise Edition org's base daily allocation.
    "daily_api_limit": 100_000,
}


class MultipleChoices(SalesforceApiError):
    """Upsert matched several records: HTTP 300 with the matching records (REST API
    Developer Guide, "Insert or Update (Upsert) a Record Using an External ID")."""

    def __init__(self, sobject: str, ids: list[str]) -> None:
        super().__init__(
            300, "MULTIPLE_CHOICES", f"The external ID matches {len(ids)} {sobject} records"
        )
        self.sobject = sobject
        self.ids = ids


def _version(api_version: str) -> str:
    return api_version.removeprefix("v")


class OrgData:
    """Every record of the org, its rules, settings and API usage."""

    def __init__(self, path: Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self.schema = build_schema()
        self._clock = clock or (lambda: datetime.now(UTC))
        self.store = RecordStore(path, {name: _indexed(obj) for name, obj in self.schema.items()})
        self._ids = IdGenerator()
        for name in self.schema:
            for record_id in self.store.ids(name):
                self._ids.observe(record_id)
        self._settings = {**DEFAULT_SETTINGS, **self.store.read_settings()}
        meta = self.store.read_meta()
        # The movable clock (docs/localorg.md, "The org's clock"): an offset from real
        # time, kept across restarts so the org's time never jumps back on its own.
        self._offset = timedelta(seconds=float(meta.get(CLOCK_OFFSET_KEY, 0)))
        # Per object, the deletedDate of the newest record purged from the Recycle Bin
        # (SOAP API Developer Guide, "GetDeletedResult": earliestDateAvailable).
        self._purged: dict[str, str] = dict(meta.get(PURGE_MARKS_KEY, {}))
        self._usage_day = ""
        self._usage = 0
        self.purge_expired()
        self.org_id, self.admin_user_id = bootstrap.ensure(self)
        self._task_picklists_from_values()

    def close(self) -> None:
        self.store.close()

    # Time and ids ---------------------------------------------------------------------

    def now(self) -> datetime:
        """The org's time: the clock moved by the offset, truncated to the second.

        Salesforce keeps datetimes to the second: every CreatedDate, LastModifiedDate
        and SystemModstamp it returns ends in ``.000`` (REST API Developer Guide, the
        examples of "Get a List of Deleted Records" and "sObject Rows"), and SOQL
        compares SystemModstamp ignoring milliseconds (Salesforce Stack Exchange, "Using
        SystemModstamp and a timestamp to implement incremental data fetch"). Truncating
        here makes every
        stamp the org writes (audit fields, CompletedDateTime, deletion dates) agree."""
        return (self._clock() + self._offset).astimezone(UTC).replace(microsecond=0)

    def clock_offset(self) -> float:
        return self._offset.total_seconds()

    def set_clock_offset(self, seconds: float) -> datetime:
        """Move the org's clock ``seconds`` from real time (0 resets it); persisted.
        Moving it forward past a deleted record's 15 days purges that record."""
        with self.store.lock:
            self._offset = timedelta(seconds=seconds)
            self.store.write_meta(CLOCK_OFFSET_KEY, seconds)
            self.purge_expired()
            return self.now()

    def new_id(self, sobject: str) -> str:
        return self._ids.new_id(sobject)

    # Schema ---------------------------------------------------------------------------

    def visible_objects(self) -> list[ObjectDef]:
        """Objects this org exposes now: TaskRelation only with Shared Activities."""
        shared = bool(self._settings["shared_activities"])
        return [o for o in self.schema.values() if shared or o.name != "TaskRelation"]

    def hidden_fields(self, obj: ObjectDef) -> frozenset[str]:
        if obj.name == "Task" and not self._settings["shared_activities"]:
            return frozenset({"TaskWhoIds", "WhoCount", "WhatCount"})
        return frozenset()

    def object_name(self, name: str) -> str | None:
        lowered = name.lower()
        for obj in self.visible_objects():
            if obj.name.lower() == lowered:
                return obj.name
        return None

    def object_def(self, name: str) -> ObjectDef:
        """The visible object ``name`` (any case), or 404 NOT_FOUND as REST answers for an
        unknown sObject (REST API Developer Guide, "Status Codes and Error Responses")."""
        canonical = self.object_name(name)
        if canonical is None:
            raise not_found()
        return self.schema[canonical]

    def describe_global(self, api_version: str) -> dict[str, Any]:
        return describe.describe_global(self.visible_objects(), _version(api_version))

    def describe(self, sobject: str, api_version: str) -> dict[str, Any]:
        obj = self.object_def(sobject)
        return describe.describe_object(obj, self.hidden_fields(obj), _version(api_version))

    # Reads ----------------------------------------------------------------------------

    def _existing(self, obj: ObjectDef, record_id: str) -> Row:
        """The live row ``record_id`` of ``obj``: MALFORMED_ID for an ill-formed id,
        404 NOT_FOUND for another object's id or an unknown one, 404 ENTITY_IS_DELETED
        for a deleted one (guess at the status, which is what clients see in practice)."""
        canonical = normalize_id(record_id)
        if canonical is None:
            raise SalesforceApiError(400, "MALFORMED_ID", f"malformed id {record_id}", [])
        row = self.store.get(obj.name, canonical) if object_for_id(canonical) == obj.name else None
        if row is None:
            raise not_found()
        if row["IsDeleted"]:
            raise SalesforceApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        return row

    def get(
        self, sobject: str, record_id: str, fields: list[str] | None, *, api_version: str
    ) -> dict[str, Any]:
        """The REST record shape: ``attributes`` then the fields (REST API Developer
        Guide, "sObject Rows"). With ``fields``, only those (and Id)."""
        obj = self.object_def(sobject)
        with self.store.lock:
            row = self._existing(obj, record_id)
            if row["IsDeleted"]:
                raise not_found()
        hidden = self.hidden_fields(obj)
        if fields is None:
            chosen = [f for f in obj.fields if not f.write_only and f.name not in hidden]
        else:
            chosen = []
            for name in fields:
                fd = obj.field(name.strip())
                if fd is None or fd.write_only or fd.name in hidden:
                    raise SalesforceApiError(
                        400,
                        "INVALID_FIELD",
                        f"No such column '{name}' on entity '{obj.name}'. If you are "
                        "attempting to use a custom field, be sure to append the '__c' after "
                        "the custom field name. Please reference your WSDL or the describe "
                        "call for the appropriate names.",
                    )
                if fd not in chosen:
                    chosen.append(fd)
            if obj.by_lower["id"] not in chosen:
                chosen.append(obj.by_lower["id"])
        return describe.record_shape(obj, row, chosen, _version(api_version))

    def row(self, sobject: str, record_id: str) -> Row | None:
        """The stored row (deleted ones included) for internal callers and tests."""
        canonical = normalize_id(record_id)
        if canonical is None or object_for_id(canonical) != sobject:
            return None
        return self.store.get(sobject, canonical)

    def referenced(self, fd: FieldDef, record_id: str) -> Row:
        """The live row a reference points at, or Salesforce's error (integrity.py)."""
        return integrity.referenced(self, fd, record_id)

    def matching(self, obj: ObjectDef, fd: FieldDef, value: Any) -> list[Row]:
        return integrity.matching(self, obj, fd, value)

    def live_rows(self, sobject: str, field: str, value: Any) -> list[Row]:
        """Live rows whose indexed ``field`` equals ``value`` (case-insensitively)."""
        return [r for r in self.store.lookup(sobject, field, value) if not r["IsDeleted"]]

    def _task_picklists_from_values(self) -> None:
        """Task.Status and Task.Priority offer the org's TaskStatus / TaskPriority values
        in SortOrder, defaulting to the IsDefault one (Object Reference, TaskStatus:
        "Query this object to retrieve the set of values in the task status picklist").
        Validation, describe and defaults then all follow the values."""
        task = self.schema["Task"]
        fields = list(task.fields)
        for index, fd in enumerate(fields):
            source = {"Status": "TaskStatus", "Priority": "TaskPriority"}.get(fd.name)
            if source is None:
                continue
            rows = sorted(
                (r for r in self.store.all(source) if not r["IsDeleted"]),
                key=lambda r: (r.get("SortOrder") or 0, r["MasterLabel"]),
            )
            labels = tuple(r["MasterLabel"] for r in rows)
            default = next((r["MasterLabel"] for r in rows if r["IsDefault"]), fd.default)
            fields[index] = replace(fd, picklist=labels, default=default)
        self.schema["Task"] = replace(task, fields=tuple(fields), by_lower={}, by_relationship={})

    def add_picklist_value(self, sobject: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Add a TaskStatus or TaskPriority value, as an admin does in Setup (the API can
        only read these objects). ``values``: MasterLabel, and IsClosed (statuses) or
        IsHighPriority (priorities), IsDefault. A new default replaces the old one."""
        flag = {"TaskStatus": "IsClosed", "TaskPriority": "IsHighPriority"}.get(sobject)
        if flag is None:
            raise ValueError("sobject must be TaskStatus or TaskPriority")
        label = values.get("MasterLabel")
        if not isinstance(label, str) or not label.strip() or len(label) > 255:
            raise ValueError("MasterLabel must be a non-empty string of at most 255 characters")
        extra = set(values) - {"MasterLabel", flag, "IsDefault"}
        if extra:
            raise ValueError(f"unknown keys for {sobject}: {sorted(extra)}")
        flags = {k: values.get(k, False) for k in (flag, "IsDefault")}
        if not all(isinstance(v, bool) for v in flags.values()):
            raise ValueError(f"{flag} and IsDefault must be booleans")
        with self.transaction():
            if self.live_rows(sobject, "MasterLabel", label):
                raise ValueError(f"{sobject} already has the value {label!r}")
            rows = [r for r in self.store.all(sobject) if not r["IsDeleted"]]
            if flags["IsDefault"]:
                for row in rows:
                    if row["IsDefault"]:
                        self.system_update(
                            sobject, row, {"IsDefault": False}, user_id=self.admin_user_id
                        )
            order = max((r.get("SortOrder") or 0 for r in rows), default=0) + 1
            row = self.system_insert(
                sobject,
                {"ApiName": label, "MasterLabel": label, "SortOrder": order, **flags},
                user_id=self.admin_user_id,
            )
            self._task_picklists_from_values()
        return {"id": row["Id"], "MasterLabel": label, "SortOrder": order, **flags}

    # Writes ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or roll back together; nests (SAVEPOINT)."""
        with self.store.transaction():
            yield

    def create(self, sobject: str, fields: Mapping[str, Any], *, user_id: str) -> str:
        obj = self.object_def(sobject)
        if not obj.createable:
            raise _unsupported(obj, "insert")
        with self.transaction():
            values = check_fields(obj, fields, creating=True, hidden=self.hidden_fields(obj))
            return str(self._write(obj, values, user_id=user_id, old=None, api=True)["Id"])

    def update(
        self, sobject: str, record_id: str, fields: Mapping[str, Any], *, user_id: str
    ) -> None:
        obj = self.object_def(sobject)
        if not obj.updateable:
            raise _unsupported(obj, "update")
        with self.transaction():
            old = self._existing(obj, record_id)
            body = {k: v for k, v in fields.items() if k.lower() != "id" or v != old["Id"]}
            values = check_fields(obj, body, creating=False, hidden=self.hidden_fields(obj))
            self._write(obj, values, user_id=user_id, old=old)

    def upsert(
        self, sobject: str, ext_field: str, value: str, fields: Mapping[str, Any], *, user_id: str
    ) -> tuple[str, bool]:
        """Create or update by an external id field; (id, created)."""
        obj = self.object_def(sobject)
        fd = obj.field(ext_field)
        if fd is None or not (fd.external_id or fd.id_lookup) or fd.type == "id":
            raise SalesforceApiError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {ext_field}",
            )
        with self.transaction():
            body = {k: v for k, v in fields.items() if k.lower() != fd.name.lower()}
            if any(k.lower() == fd.name.lower() and v != value for k, v in fields.items()):
                raise data_error(
                    "INVALID_FIELD",
                    f"{fd.name} is specified both in the URL and in the body with different "
                    "values",  # guess at the wording
                    [fd.name],
                )
            matches = self.matching(obj, fd, value)
            if len(matches) > 1:
                raise MultipleChoices(obj.name, [r["Id"] for r in matches])
            if matches:
                self.update(obj.name, matches[0]["Id"], body, user_id=user_id)
                return matches[0]["Id"], False
            return self.create(obj.name, {**body, fd.name: value}, user_id=user_id), True

    def delete(self, sobject: str, record_id: str, *, user_id: str) -> None:
        """Soft delete: IsDeleted, kept for queryAll and getDeleted for 15 days."""
        obj = self.object_def(sobject)
        if not obj.deletable:
            raise _unsupported(obj, "delete")
        with self.transaction():
            row = self._existing(obj, record_id)
            self.soft_delete(obj, row, user_id=user_id, api=True)

    def soft_delete(self, obj: ObjectDef, row: Row, *, user_id: str, api: bool = False) -> None:
        """Move a row to the Recycle Bin: IsDeleted, its deletion time in SystemModstamp
        (SOAP API Developer Guide, "GetDeletedResult": deletedDate "is obtained using the
        SystemModstamp system field"). query() no longer sees it; queryAll() and
        getDeleted() do until it is purged (15 days, or emptied). ``api``: a client
        asked for this delete (not a cascade or the org's own upkeep)."""
        stamp = format_datetime(self.now())
        deleted = {
            **row,
            "IsDeleted": True,
            "LastModifiedDate": stamp,
            "LastModifiedById": user_id,
            "SystemModstamp": stamp,
        }
        self.store.put(obj.name, deleted)
        triggers.after_delete(self, obj, deleted, user_id=user_id, api=api)

    def _write(
        self,
        obj: ObjectDef,
        values: dict[str, Any],
        *,
        user_id: str,
        old: Row | None,
        record_id: str | None = None,
        api: bool = False,
    ) -> Row:
        """Validate and store one create (``old`` None) or update; returns the new row.
        ``api``: a client's create (REST, sObject Collections, Bulk API), as opposed to
        a row the org writes itself (``system_insert``); some object rules apply to
        the former only (triggers.py, TaskRelation)."""
        stamp = format_datetime(self.now())
        if old is None:
            row: Row = {f.name: f.default for f in obj.fields if not f.write_only}
            row.update({k: v for k, v in values.items() if not obj.by_lower[k.lower()].write_only})
            row.update(
                Id=record_id or self.new_id(obj.name),
                IsDeleted=False,
                CreatedDate=stamp,
                CreatedById=user_id,
            )
            if "OwnerId" in row and row["OwnerId"] is None:
                row["OwnerId"] = user_id
        else:
            row = {**old, **{k: v for k, v in values.items() if k in old}}
        row.update(LastModifiedDate=stamp, LastModifiedById=user_id, SystemModstamp=stamp)
        integrity.check_references(self, obj, values)
        plan = triggers.before_write(self, obj, row, old, values, api=api)
        check_required(obj, row, values)
        integrity.check_unique(self, obj, row)
        self.store.put(obj.name, row)
        triggers.after_write(self, obj, row, old, values, plan, user_id=user_id, api=api)
        return row

    def system_insert(
        self, sobject: str, values: dict[str, Any], *, user_id: str, record_id: str | None = None
    ) -> Row:
        """Insert a row the org itself makes (bootstrap, ContentDocument, TaskRelation),
        bypassing writability checks; ``record_id`` presets the id (the first admin)."""
        return self._write(
            self.schema[sobject], values, user_id=user_id, old=None, record_id=record_id
        )

    def system_update(self, sobject: str, row: Row, values: dict[str, Any], *, user_id: str) -> Row:
        """Update fields the org derives, bypassing writability checks."""
        return self._write(self.schema[sobject], values, user_id=user_id, old=row)

    def set_derived(self, sobject: str, row: Row, values: dict[str, Any]) -> None:
        """Change derived fields (LastActivityDate) without touching the audit fields.
        Guess: Salesforce does not bump LastModifiedDate for these roll-ups."""
        if any(row.get(k) != v for k, v in values.items()):
            self.store.put(sobject, {**row, **values})

    # Queries and replication ------------------------------------------------------------

    def query(self, soql: str, *, include_deleted: bool, api_version: str) -> QueryResult:
        """Run SOQL through the SOQL package; its errors become 400 API errors."""
        from relay.localorg.catalog import OrgCatalog
        from relay.localorg.soql import SoqlError, run_query

        try:
            with self.store.lock:
                if include_deleted:
                    self.purge_expired()
                return run_query(
                    soql,
                    OrgCatalog(self),
                    include_deleted=include_deleted,
                    api_version=_version(api_version),
                )
        except SoqlError as exc:
            raise SalesforceApiError(400, exc.error_code, exc.message) from exc

    def in_recycle_window(self, row: Row) -> bool:
        return replication.in_recycle_window(self.now(), row)

    def recycle_bin(self, sobject: str) -> list[Row]:
        """The deleted rows of ``sobject`` still in the Recycle Bin."""
        return self.store.lookup(sobject, "IsDeleted", True)

    def purge_expired(self) -> None:
        """Purge what has been in the Recycle Bin for 15 days (Salesforce Help, "Recycle
        Bin": deleted records can be restored for 15 days, then are permanently
        deleted; REST API Developer Guide, "sObject Get Deleted"). Run on open, when
        the clock moves, and before every read that can see deleted rows (queryAll,
        getDeleted, undelete), so the bin is always as of the org's now."""
        with self.store.lock:
            expired = {
                name: [r for r in self.recycle_bin(name) if not self.in_recycle_window(r)]
                for name in self.schema
            }
            if not any(expired.values()):
                return
            with self.transaction():
                for name, rows in expired.items():
                    self._purge(name, rows)

    def _purge(self, sobject: str, rows: list[Row]) -> None:
        if not rows:
            return
        for row in rows:
            self.store.purge(sobject, row["Id"])
        mark = max(r["SystemModstamp"] for r in rows)
        if mark > self._purged.get(sobject, ""):
            self._purged[sobject] = mark
            self.store.write_meta(PURGE_MARKS_KEY, self._purged)

    def empty_recycle_bin(self, ids: list[str] | None) -> list[dict[str, Any]]:
        """SOAP API emptyRecycleBin(): delete records from the Recycle Bin for good, the
        given ``ids`` or (None) every record in it. One result per id, in the
        EmptyRecycleBinResult shape (``id``, ``success``, ``errors``)."""
        with self.transaction():
            self.purge_expired()
            if ids is None:
                results = []
                for name in self.schema:
                    rows = self.recycle_bin(name)
                    self._purge(name, rows)
                    results += [_success(r["Id"]) for r in rows]
                return results
            results = []
            for raw in ids:
                row, sobject = self._binned(raw)
                if row is None or sobject is None:
                    # Guess at the code and wording: the SOAP API reports an id that is
                    # not in the Recycle Bin as a failed result, not a fault.
                    results.append(_failure(raw, "INVALID_ID_FIELD", "invalid record id"))
                    continue
                self._purge(sobject, [row])
                results.append(_success(row["Id"]))
            return results

    def _binned(self, raw: str) -> tuple[Row | None, str | None]:
        canonical = normalize_id(raw) if isinstance(raw, str) else None
        sobject = object_for_id(canonical) if canonical else None
        if canonical is None or sobject is None:
            return None, None
        row = self.store.get(sobject, canonical)
        return (row if row is not None and row["IsDeleted"] else None), sobject

    def undelete(self, ids: list[str], *, user_id: str) -> list[dict[str, Any]]:
        """SOAP API undelete() (REST has no undelete resource; Apex has
        Database.undelete): restore records from the Recycle Bin, with the children
        their delete cascaded to. One UndeleteResult (``id``, ``success``, ``errors``)
        per id; a record not in the bin fails with UNDELETE_FAILED "Entity is not in
        the recycle bin". The restore is a modification: LastModifiedDate and
        SystemModstamp move to now (guess: Salesforce documents no stamp rule for
        undelete; replication clients see undeleted records through getUpdated)."""
        results = []
        with self.transaction():
            self.purge_expired()
            for raw in ids:
                row, sobject = self._binned(raw)
                if row is None or sobject is None:
                    results.append(
                        _failure(raw, "UNDELETE_FAILED", "Entity is not in the recycle bin")
                    )
                    continue
                try:
                    with self.transaction():
                        self.restore(self.schema[sobject], row, user_id=user_id)
                except SalesforceApiError as error:
                    results.append(_failure(row["Id"], error.error_code, error.message))
                    continue
                results.append(_success(row["Id"]))
        return results

    def restore(self, obj: ObjectDef, row: Row, *, user_id: str) -> None:
        """Take one row out of the Recycle Bin (and, through triggers, its children)."""
        stamp = format_datetime(self.now())
        restored = {
            **row,
            "IsDeleted": False,
            "LastModifiedDate": stamp,
            "LastModifiedById": user_id,
            "SystemModstamp": stamp,
        }
        integrity.check_unique(self, obj, restored)
        self.store.put(obj.name, restored)
        triggers.after_undelete(self, obj, row, restored, user_id=user_id)

    def archive_activities(self) -> list[str]:
        """Run Salesforce's activity archival once (SOAP API Developer Guide, "Archived
        Activities"): closed tasks whose ActivityDate, or, with none, CreatedDate, is 365
        days old or more get IsArchived; query() stops returning them, queryAll() still
        does. Salesforce runs this as a background job; the local org runs it when asked
        (POST /_localorg/archiveActivities), so tests choose the moment. The audit
        fields are left alone (guess: the job is not a user modification)."""
        cutoff = self.now() - timedelta(days=ARCHIVE_AFTER_DAYS)
        archived = []
        with self.transaction():
            for row in self.store.all("Task"):
                if row["IsDeleted"] or row.get("IsArchived") or not row.get("IsClosed"):
                    continue
                due = row.get("ActivityDate")
                old_enough = (
                    due <= cutoff.date().isoformat()
                    if due
                    else row["CreatedDate"] <= format_datetime(cutoff)
                )
                if old_enough:
                    self.set_derived("Task", row, {"IsArchived": True})
                    archived.append(row["Id"])
        return sorted(archived)

    def updated(self, sobject: str, start: datetime, end: datetime) -> dict[str, Any]:
        """REST "sObject Get Updated": ids created or changed in the window."""
        obj = self.object_def(sobject)
        with self.store.lock:
            return replication.updated(self.now(), self.store.all(obj.name), start, end)

    def deleted(self, sobject: str, start: datetime, end: datetime) -> dict[str, Any]:
        """REST "sObject Get Deleted": records deleted in the window, last 15 days only."""
        obj = self.object_def(sobject)
        with self.store.lock:
            self.purge_expired()
            return replication.deleted(
                self.now(), self.recycle_bin(obj.name), start, end, self._purged.get(obj.name)
            )

    def version_data(self, version_id: str) -> bytes:
        """The file of a ContentVersion (REST "Get Blob Data" of VersionData)."""
        row = self._existing(self.schema["ContentVersion"], version_id)
        return base64.b64decode(row.get("VersionData") or "")

    def convert_lead(
        self,
        lead_id: str,
        *,
        user_id: str,
        contact_id: str | None = None,
        account_id: str | None = None,
    ) -> dict[str, Any]:
        """Convert a lead (SOAP API convertLead(), without an opportunity)."""
        return conversion.convert_lead(
            self, lead_id, user_id=user_id, contact_id=contact_id, account_id=account_id
        )

    # Settings and governance ----------------------------------------------------------

    def get_settings(self) -> dict[str, Any]:
        return dict(self._settings)

    def put_settings(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``values`` into the org switches (open schema) and persist them."""
        with self.store.lock:
            self._settings.update(values)
            self.store.write_settings(values)
            if "email_to_salesforce_active" in values:
                self._set_email_to_salesforce(bool(values["email_to_salesforce_active"]))
            return dict(self._settings)

    def _set_email_to_salesforce(self, active: bool) -> None:
        """The org switch as the API shows it: EmailServicesFunction.IsActive of the
        function 'EmailToSalesforce'. A guess: Salesforce documents the Setup checkbox
        ("Email to Salesforce" -> Active), not how the API exposes it; Relay reads this
        field (relay/reps/e2s_addresses.py), so the local org keeps the two in step."""
        with self.transaction():
            for row in self.live_rows("EmailServicesFunction", "FunctionName", "EmailToSalesforce"):
                self.set_derived("EmailServicesFunction", row, {"IsActive": active})

    def record_api_call(self) -> tuple[int, int]:
        """Count one API call against today's (UTC) allocation: (used, limit)."""
        with self.store.lock:
            day = self.now().strftime("%Y-%m-%d")
            if day != self._usage_day:
                self._usage_day, self._usage = day, self.store.read_usage(day)
            self._usage += 1
            self.store.write_usage(day, self._usage)
            return self._usage, int(self._settings["daily_api_limit"])

    def api_usage(self) -> tuple[int, int]:
        with self.store.lock:
            day = self.now().strftime("%Y-%m-%d")
            used = self._usage if day == self._usage_day else self.store.read_usage(day)
            return used, int(self._settings["daily_api_limit"])

    def find_user(self, username: str) -> dict[str, Any] | None:
        """The live User with this Username (case-insensitive), or None."""
        rows = self.live_rows("User", "Username", username)
        return dict(rows[0]) if rows else None


def _success(record_id: str) -> dict[str, Any]:
    return {"id": record_id, "success": True, "errors": []}


def _failure(record_id: Any, code: str, message: str) -> dict[str, Any]:
    """A failed per-record result (SOAP API "Error": statusCode, message, fields)."""
    return {
        "id": record_id if isinstance(record_id, str) else None,
        "success": False,
        "errors": [{"statusCode": code, "message": message, "fields": []}],
    }


def _unsupported(obj: ObjectDef, operation: str) -> SalesforceApiError:
    # SOAP API StatusCode INVALID_TYPE_FOR_OPERATION; message wording is a guess.
    return SalesforceApiError(
        400, "INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support {operation}"
    )


def _indexed(obj: ObjectDef) -> tuple[str, ...]:
    """Fields worth an in-memory index: lookups, emails, unique and external ids, names."""
    return tuple(
        f.name
        for f in obj.fields
        # IsDeleted: the Recycle Bin is read on every queryAll and getDeleted.
        if f.name == "IsDeleted"
        or f.type in ("reference", "email")
        or f.unique
        or f.external_id
        or (f.id_lookup and f.type != "id")
        or f.name_field
        or f.name in ("LocalPart", "Company")
    )


__all__ = ["DEFAULT_SETTINGS", "MultipleChoices", "OrgData", "no_such_column"]
