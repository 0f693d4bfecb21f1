"""Per-object behaviour: derived fields, object rules, side effects and lead conversion.

``before_write`` validates and derives fields on the row about to be stored;
``after_write`` / ``after_delete`` maintain related rows (TaskRelation, ContentDocument,
roll-ups such as LastActivityDate). Sources are cited per rule (Object Reference for the
Salesforce Platform unless said otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from relay.localorg import content
from relay.localorg.errors import data_error
from relay.localorg.ids import normalize_id, object_for_id
from relay.localorg.records import Row
from relay.localorg.schema import OPPORTUNITY_STAGES
from relay.localorg.schema_model import ObjectDef
from relay.localorg.values import format_datetime

if TYPE_CHECKING:
    from relay.localorg.data import OrgData

# Object Reference, TaskRelation / TaskWhoRelation: "one lead or up to 50 contacts".
MAX_TASK_WHOS = 50
# The records whose LastActivityDate the local org keeps (Object Reference, each object).
_ACTIVITY_PARENTS = ("Contact", "Lead", "Account", "Opportunity")
# Object Reference, Account: deleting an account deletes its contacts and opportunities;
# deleting an opportunity or contact deletes their contact roles; a task its relations.
_CASCADE: dict[str, tuple[tuple[str, str], ...]] = {
    "Account": (("Contact", "AccountId"), ("Opportunity", "AccountId")),
    "Contact": (("OpportunityContactRole", "ContactId"),),
    "Opportunity": (("OpportunityContactRole", "OpportunityId"),),
    "Task": (("TaskRelation", "TaskId"),),
    "ContentDocument": (
        ("ContentVersion", "ContentDocumentId"),
        ("ContentDocumentLink", "ContentDocumentId"),
    ),
}


def _full_name(row: Row) -> str:
    return " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p)


def before_write(
    org: OrgData,
    obj: ObjectDef,
    row: Row,
    old: Row | None,
    values: dict[str, Any],
    *,
    api: bool = False,
) -> Any:
    """Derive fields and enforce object rules; returns data for ``after_write``.
    ``api``: a client's create, not a row the org writes itself."""
    name = obj.name
    if name in ("Contact", "Lead", "User"):
        row["Name"] = _full_name(row)
    if name == "Lead" and old is not None and old.get("IsConverted"):
        raise data_error("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
    if name == "User" and row.get("CommunityNickname") is None:
        row["CommunityNickname"] = str(row.get("Username") or "").split("@")[0][:40] or None
    if name == "Opportunity":
        _opportunity_stage(row, old, values)
    if name == "Task":
        return _task_before(org, row, old, values)
    if name == "TaskRelation":
        _task_relation_before(org, row)
        if api:
            _api_relation_rules(org, row)
    if name == "EmailServicesAddress" and row.get("EmailDomainName") is None:
        row["EmailDomainName"] = content.email_domain(org, row["Id"])
    if name == "ContentVersion" and old is None:
        content.content_version_before(row)
    return None


def after_write(
    org: OrgData,
    obj: ObjectDef,
    row: Row,
    old: Row | None,
    values: dict[str, Any],
    plan: Any,
    *,
    user_id: str,
    api: bool = False,
) -> None:
    if obj.name == "Task":
        if org.get_settings()["shared_activities"]:
            _sync_task_relations(org, row, *plan, user_id=user_id)
        _task_activity_changed(org, row, old)
    if obj.name == "TaskRelation" and api:
        _api_relation_changed(org, row)
    if obj.name == "ContentVersion" and old is None:
        content.content_version_after(org, row, user_id=user_id)


def after_undelete(org: OrgData, obj: ObjectDef, binned: Row, row: Row, *, user_id: str) -> None:
    """Undelete restores the children the delete cascaded to (SOAP API Developer Guide,
    undelete(): "an undelete call undeletes the cascade-deleted records"): those
    deleted at the same moment as ``binned`` (the row as it was in the bin)."""
    for child, field in _CASCADE.get(obj.name, ()):
        for child_row in org.store.lookup(child, field, row["Id"]):
            if child_row["IsDeleted"] and child_row["SystemModstamp"] == binned["SystemModstamp"]:
                org.restore(org.schema[child], child_row, user_id=user_id)
    if obj.name == "Task" and row.get("IsClosed") and row.get("ActivityDate"):
        _refresh_activity(org, _task_parents(org, row))


def after_delete(
    org: OrgData, obj: ObjectDef, row: Row, *, user_id: str, api: bool = False
) -> None:
    for child, field in _CASCADE.get(obj.name, ()):
        for child_row in org.live_rows(child, field, row["Id"]):
            org.soft_delete(org.schema[child], child_row, user_id=user_id)
    if obj.name == "Task" and row.get("IsClosed") and row.get("ActivityDate"):
        _refresh_activity(org, _task_parents(org, row))
    if obj.name == "TaskRelation" and api:
        _api_relation_changed(org, row)


# Opportunity ---------------------------------------------------------------------------


def _opportunity_stage(row: Row, old: Row | None, values: dict[str, Any]) -> None:
    """IsClosed, IsWon, forecast category and default probability follow StageName
    (Object Reference, Opportunity and OpportunityStage)."""
    stage = OPPORTUNITY_STAGES.get(row.get("StageName") or "")
    probability, forecast, closed, won = stage or (None, "Pipeline", False, False)
    row["IsClosed"], row["IsWon"] = closed, won
    row["ForecastCategory"] = forecast
    if "ForecastCategoryName" not in values or row.get("ForecastCategoryName") is None:
        row["ForecastCategoryName"] = forecast
    stage_changed = old is None or old.get("StageName") != row.get("StageName")
    if "Probability" not in values and stage_changed and probability is not None:
        row["Probability"] = float(probability)


# Task ------------------------------------------------------------------------------------


def _task_before(
    org: OrgData, row: Row, old: Row | None, values: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """Task rules and derived fields; returns the Task's people and its What (the who
    and what relations it should have)."""
    task = org.schema["Task"]
    whos = _requested_whos(org, values.get("TaskWhoIds"))
    if whos is not None:
        row["WhoId"] = whos[0] if whos else None
    who, what = row.get("WhoId"), row.get("WhatId")
    if who and what and object_for_id(who) == "Lead":
        # Object Reference, Task: WhatId "If the WhoId refers to a lead, then the WhatId
        # field must be empty". Error text is a guess.
        raise data_error(
            "FIELD_INTEGRITY_EXCEPTION",
            "Related To ID: You can't associate a task with a lead and a Related To record.",
            ["WhatId"],
        )
    row["AccountId"] = _task_account(org, who, what)
    _recurrence_rules(row, old, values)
    # Object Reference, TaskStatus and TaskPriority: a task is closed when its Status is
    # a TaskStatus value with IsClosed (several can be), high priority when its Priority
    # is a TaskPriority value with IsHighPriority. Read from the org's own values.
    status = org.live_rows("TaskStatus", "MasterLabel", row.get("Status") or "")
    priority = org.live_rows("TaskPriority", "MasterLabel", row.get("Priority") or "")
    row["IsClosed"] = bool(status and status[0]["IsClosed"])
    row["IsHighPriority"] = bool(priority and priority[0]["IsHighPriority"])
    if not row["IsClosed"]:
        row["CompletedDateTime"] = None
    elif old is None or not old.get("IsClosed"):
        row["CompletedDateTime"] = format_datetime(org.now())
    if whos is None:
        whos = _current_whos(org, row, old)
    whats = _current_whats(org, row, old)
    if org.get_settings()["shared_activities"]:
        row["WhoCount"] = len(whos)
        row["WhatCount"] = len(whats)
    del task
    return whos, whats


def _recurrence_rules(row: Row, old: Row | None, values: dict[str, Any]) -> None:
    """Object Reference, Task.ActivityDate: "This field can't be set or updated for a
    recurring task (IsRecurrence is true)". A series master is made on create with
    IsRecurrence, RecurrenceStartDateOnly, RecurrenceEndDateOnly and RecurrenceType
    (Object Reference, Task: the Recurrence* fields); the occurrences Salesforce generates
    from it are not modelled. Error codes and wording are guesses: the docs state the
    rules, not the errors."""
    if not row.get("IsRecurrence"):
        return
    before = old.get("ActivityDate") if old is not None else None
    if "ActivityDate" in values and values["ActivityDate"] != before:
        raise data_error(
            "FIELD_INTEGRITY_EXCEPTION",
            "Due Date: You can't set or change the due date of a recurring task series.",
            ["ActivityDate"],
        )
    if old is None:
        missing = [
            f
            for f in ("RecurrenceStartDateOnly", "RecurrenceEndDateOnly", "RecurrenceType")
            if row.get(f) is None
        ]
        if missing:
            raise data_error(
                "FIELD_INTEGRITY_EXCEPTION",
                f"A recurring task series needs {', '.join(missing)}.",
                missing,
            )


def _requested_whos(org: OrgData, raw: list[str] | None) -> list[str] | None:
    """TaskWhoIds, checked: up to 50 contacts or one lead (Object Reference, Task)."""
    if raw is None:
        return None
    who_field = org.schema["Task"].by_lower["whoid"]
    whos: list[str] = []
    for value in raw:
        record_id = normalize_id(value)
        if record_id is None:
            raise data_error(
                "MALFORMED_ID", f"Name ID: id value of incorrect type: {value}", ["TaskWhoIds"]
            )
        org.referenced(who_field, record_id)
        if record_id not in whos:
            whos.append(record_id)
    leads = [w for w in whos if object_for_id(w) == "Lead"]
    if (leads and len(whos) > 1) or len(whos) > MAX_TASK_WHOS:
        # Guess at the wording; the rule is the Object Reference's.
        raise data_error(
            "FIELD_INTEGRITY_EXCEPTION",
            "TaskWhoIds: a task can be related to one lead or up to 50 contacts",
            ["TaskWhoIds"],
        )
    return whos


def _current_whos(org: OrgData, row: Row, old: Row | None) -> list[str]:
    """The people a task keeps when TaskWhoIds is not sent: its existing who relations,
    with the primary (WhoId) replaced when WhoId changed."""
    existing = []
    if old is not None:
        existing = [
            r["RelationId"]
            for r in org.live_rows("TaskRelation", "TaskId", row["Id"])
            if not r["IsWhat"]
        ]
        if not existing and old.get("WhoId"):
            existing = [old["WhoId"]]
        if old.get("WhoId") != row.get("WhoId") and old.get("WhoId") in existing:
            existing.remove(old["WhoId"])
    who = row.get("WhoId")
    if who and who not in existing:
        existing.insert(0, who)
    return existing


def _current_whats(org: OrgData, row: Row, old: Row | None) -> list[str]:
    """The task's What relation: its WhatId; with no WhatId before or after the write,
    the What relation a client created through the API (kept, as a task's people are)."""
    what = row.get("WhatId")
    if what:
        return [what]
    if old is None or old.get("WhatId"):
        return []
    return [
        r["RelationId"] for r in org.live_rows("TaskRelation", "TaskId", row["Id"]) if r["IsWhat"]
    ]


def _task_account(org: OrgData, who: str | None, what: str | None) -> str | None:
    """Object Reference, Task.AccountId: the WhatId's account (an Account itself, or an
    Opportunity's AccountId); otherwise, if WhoId is a contact, the contact's account."""
    if what:
        kind = object_for_id(what)
        if kind == "Account":
            return what
        if kind == "Opportunity":
            opportunity = org.store.get("Opportunity", what)
            return opportunity.get("AccountId") if opportunity else None
    if who and object_for_id(who) == "Contact":
        contact = org.store.get("Contact", who)
        return contact.get("AccountId") if contact else None
    return None


def _task_relation_before(org: OrgData, row: Row) -> None:
    relation = row.get("RelationId")
    kind = object_for_id(relation) if relation else None
    row["IsWhat"] = kind not in ("Contact", "Lead")
    target = org.store.get(kind, relation) if kind and relation else None
    if kind == "Account":
        row["AccountId"] = relation
    elif target is not None and kind in ("Contact", "Opportunity"):
        row["AccountId"] = target.get("AccountId")


# Salesforce's rules for a TaskRelation a client creates (Object Reference, TaskRelation:
# "A task can be related to one lead or up to 50 contacts. A task can also be related to
# one account, asset, campaign, case, contract, opportunity, product, solution, or custom
# object"; Task.WhatId: "If the WhoId refers to a lead, then the WhatId field must be
# empty"). The error wording is a guess, as ``_requested_whos``'s is.
_RELATION_LIMITS = "a task can be related to one lead or up to 50 contacts, and one other record"


def _api_relation_rules(org: OrgData, row: Row) -> None:
    """Refuse a client's TaskRelation that would break the task's relation rules. The
    TaskId reference was already checked (live Task: integrity.check_references)."""
    task_id, relation_id = row["TaskId"], row["RelationId"]
    task = org.store.get("Task", task_id)
    relations = org.live_rows("TaskRelation", "TaskId", task_id)
    if any(r["RelationId"] == relation_id for r in relations):
        # Not in the Object Reference: the code and text are the ones clients report for
        # a duplicate relation; the exact text is a guess.
        raise data_error(
            "DUPLICATE_VALUE",
            "duplicate value found: <unknown> duplicates value on record with id: <unknown>",
            [],
        )
    whos = {r["RelationId"] for r in relations if not r["IsWhat"]}
    whats = {r["RelationId"] for r in relations if r["IsWhat"]}
    if task is not None and task.get("WhoId"):
        whos.add(task["WhoId"])
    if task is not None and task.get("WhatId"):
        whats.add(task["WhatId"])
    has_lead = any(object_for_id(w) == "Lead" for w in whos)
    kind = object_for_id(relation_id)
    if row["IsWhat"]:
        refused = bool(whats) or has_lead
    elif kind == "Lead":
        refused = bool(whos - {relation_id}) or bool(whats)
    else:
        refused = has_lead or len(whos | {relation_id}) > MAX_TASK_WHOS
    if refused:
        raise data_error(
            "FIELD_INTEGRITY_EXCEPTION", f"Relation: {_RELATION_LIMITS}", ["RelationId"]
        )


def _api_relation_changed(org: OrgData, relation: Row) -> None:
    """A client created or deleted a TaskRelation: the task's WhoCount/WhatCount count
    its live who and what relations (Object Reference, Task: WhoCount, WhatCount, with
    Shared Activities), its WhoId (the primary) stays, and the related record's
    LastActivityDate counts the task, or no longer does. A new relation can only raise
    the date (cheaply, as ``_task_activity_changed`` does: a bulk job adds thousands of
    relations to records with thousands of tasks); a deleted one needs the rescan."""
    task = org.store.get("Task", relation["TaskId"])
    if task is None or task["IsDeleted"]:
        return
    live = org.live_rows("TaskRelation", "TaskId", task["Id"])
    whats = sum(1 for r in live if r["IsWhat"])
    org.set_derived("Task", task, {"WhoCount": len(live) - whats, "WhatCount": whats})
    if not _counts_for_activity(task):
        return
    record_id = relation["RelationId"]
    if relation["IsDeleted"]:
        _refresh_activity(org, {record_id})
        return
    kind = object_for_id(record_id)
    target = org.store.get(kind, record_id) if kind in _ACTIVITY_PARENTS else None
    if target is not None and (target.get("LastActivityDate") or "") < task["ActivityDate"]:
        org.set_derived(str(kind), target, {"LastActivityDate": task["ActivityDate"]})


def _sync_task_relations(
    org: OrgData, task: Row, whos: list[str], whats: list[str], *, user_id: str
) -> None:
    """With Shared Activities, a task's people and its What are TaskRelation rows. Only
    missing rows are inserted, and they skip the API rules (``_api_relation_rules``)."""
    wanted = {(w, False) for w in whos} | {(w, True) for w in whats}
    current = {
        (r["RelationId"], r["IsWhat"]): r
        for r in org.live_rows("TaskRelation", "TaskId", task["Id"])
    }
    for key, relation in current.items():
        if key not in wanted:
            org.soft_delete(org.schema["TaskRelation"], relation, user_id=user_id)
    for relation_id, is_what in sorted(
        wanted - set(current), key=lambda k: whos.index(k[0]) if k[0] in whos else 99
    ):
        org.system_insert(
            "TaskRelation",
            {"TaskId": task["Id"], "RelationId": relation_id, "IsWhat": is_what},
            user_id=user_id,
        )


def _counts_for_activity(task: Row | None) -> bool:
    return bool(
        task and not task["IsDeleted"] and task.get("IsClosed") and task.get("ActivityDate")
    )


def _task_activity_changed(org: OrgData, task: Row, old: Row | None) -> None:
    """Keep LastActivityDate current cheaply: a newly counting task can only raise the
    date of its parents; only a task that stopped counting (or moved) needs a rescan."""
    if _counts_for_activity(old):
        _refresh_activity(org, _task_parents(org, task) | _task_parents(org, old))
    elif _counts_for_activity(task):
        date = task["ActivityDate"]
        for record_id in _task_parents(org, task):
            kind = object_for_id(record_id)
            if kind not in _ACTIVITY_PARENTS:
                continue
            target = org.store.get(kind, record_id)
            if target is not None and (target.get("LastActivityDate") or "") < date:
                org.set_derived(kind, target, {"LastActivityDate": date})


def _task_parents(org: OrgData, task: Row | None) -> set[str]:
    """Every record whose LastActivityDate a task counts toward."""
    if task is None:
        return set()
    parents = {task.get("WhoId"), task.get("WhatId"), task.get("AccountId")}
    for relation in org.store.lookup("TaskRelation", "TaskId", task["Id"]):
        parents.add(relation["RelationId"])
    return {p for p in parents if p}


def _refresh_activity(org: OrgData, record_ids: set[str]) -> None:
    """LastActivityDate: "the due date of the most recently closed task associated with
    the record" (Object Reference, Contact/Lead/Account/Opportunity; events not modelled)."""
    for record_id in record_ids:
        kind = object_for_id(record_id)
        if kind not in _ACTIVITY_PARENTS:
            continue
        target = org.store.get(kind, record_id)
        if target is None:
            continue
        tasks = {t["Id"]: t for t in org.store.lookup("Task", "WhatId", record_id)}
        if kind in ("Contact", "Lead"):
            tasks.update((t["Id"], t) for t in org.store.lookup("Task", "WhoId", record_id))
        # Every relation counts: a task's other people, and a What relation created
        # through the API on a task without WhatId.
        for relation in org.live_rows("TaskRelation", "RelationId", record_id):
            task = org.store.get("Task", relation["TaskId"])
            if task is not None:
                tasks[task["Id"]] = task
        if kind == "Account":
            tasks.update((t["Id"], t) for t in org.store.lookup("Task", "AccountId", record_id))
        dates = [
            t["ActivityDate"]
            for t in tasks.values()
            if not t["IsDeleted"] and t.get("IsClosed") and t.get("ActivityDate")
        ]
        org.set_derived(kind, target, {"LastActivityDate": max(dates) if dates else None})
