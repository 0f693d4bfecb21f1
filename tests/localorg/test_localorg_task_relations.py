"""TaskRelation rows created and deleted by a client through the REST API (Shared
Activities on, the local org's default): the relation rules, WhoCount/WhatCount and
LastActivityDate, over real HTTPS with simple-salesforce."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest


def _unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def _contact(sf: Salesforce, **extra: Any) -> str:
    return str(sf.Contact.create({"LastName": _unique("Rel"), **extra})["id"])


def _lead(sf: Salesforce) -> str:
    return str(sf.Lead.create({"LastName": _unique("Rel"), "Company": _unique("Co")})["id"])


def _relate(sf: Salesforce, task: str, relation: str) -> str:
    return str(sf.TaskRelation.create({"TaskId": task, "RelationId": relation})["id"])


def _refused(sf: Salesforce, task: str, relation: str) -> dict[str, Any]:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        _relate(sf, task, relation)
    [error] = caught.value.content
    assert isinstance(error, dict)
    return error


def _relations(sf: Salesforce, task: str) -> set[tuple[str, bool]]:
    soql = format_soql("SELECT RelationId, IsWhat FROM TaskRelation WHERE TaskId = {}", task)
    return {(r["RelationId"], r["IsWhat"]) for r in sf.query(soql)["records"]}


def _counts(sf: Salesforce, task: str) -> tuple[int, int]:
    row = sf.Task.get(task, params={"fields": "WhoCount,WhatCount"})
    return row["WhoCount"], row["WhatCount"]


def test_created_relation_counts_and_survives_a_task_update(sf: Salesforce) -> None:
    """The primary stays WhoId; WhoCount follows the relations; a later update without
    TaskWhoIds keeps the relation a client created."""
    first, second = _contact(sf), _contact(sf)
    task = sf.Task.create({"Subject": _unique("rel"), "WhoId": first})["id"]
    assert _counts(sf, task) == (1, 0)

    relation = _relate(sf, task, second)
    assert relation.startswith("0RT")
    assert _counts(sf, task) == (2, 0)
    assert sf.Task.get(task)["WhoId"] == first

    assert sf.Task.update(task, {"Subject": _unique("renamed")}) == 204
    assert _relations(sf, task) == {(first, False), (second, False)}
    assert _counts(sf, task) == (2, 0)
    assert sf.Task.get(task)["WhoId"] == first


def test_duplicate_relation_is_refused(sf: Salesforce) -> None:
    contact = _contact(sf)
    task = sf.Task.create({"Subject": _unique("dup"), "WhoId": contact})["id"]
    # The org's own relation for WhoId is already there.
    error = _refused(sf, task, contact)
    assert error["errorCode"] == "DUPLICATE_VALUE"
    assert error["message"] == (
        "duplicate value found: <unknown> duplicates value on record with id: <unknown>"
    )
    other = _contact(sf)
    _relate(sf, task, other)
    assert _refused(sf, task, other)["errorCode"] == "DUPLICATE_VALUE"
    assert _counts(sf, task) == (2, 0)


def test_lead_and_contacts_do_not_mix(sf: Salesforce) -> None:
    """One lead or up to 50 contacts (Object Reference, TaskRelation)."""
    lead_task = sf.Task.create({"Subject": _unique("lead"), "WhoId": _lead(sf)})["id"]
    error = _refused(sf, lead_task, _contact(sf))
    assert error["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert error["fields"] == ["RelationId"]

    contact_task = sf.Task.create({"Subject": _unique("contact"), "WhoId": _contact(sf)})["id"]
    assert _refused(sf, contact_task, _lead(sf))["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    # A lead on a task with no people yet is fine.
    empty = sf.Task.create({"Subject": _unique("empty")})["id"]
    _relate(sf, empty, _lead(sf))
    assert _counts(sf, empty) == (1, 0)


def test_a_51st_contact_and_a_second_what_are_refused(sf: Salesforce) -> None:
    contacts = [_contact(sf) for _ in range(51)]
    account = sf.Account.create({"Name": _unique("Acct")})["id"]
    task = sf.Task.create(
        {"Subject": _unique("many"), "TaskWhoIds": contacts[:50], "WhatId": account}
    )["id"]
    assert _counts(sf, task) == (50, 1)
    assert _refused(sf, task, contacts[50])["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    other = sf.Account.create({"Name": _unique("Acct")})["id"]
    assert _refused(sf, task, other)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert _counts(sf, task) == (50, 1)


def test_what_relation_counts_and_is_kept(sf: Salesforce) -> None:
    """A What relation on a task without WhatId: WhatCount 1, kept by a later update."""
    account = sf.Account.create({"Name": _unique("Acct")})["id"]
    task = sf.Task.create({"Subject": _unique("what"), "WhoId": _contact(sf)})["id"]
    _relate(sf, task, account)
    assert _counts(sf, task) == (1, 1)
    assert sf.Task.update(task, {"Subject": _unique("renamed")}) == 204
    assert (account, True) in _relations(sf, task)
    assert _counts(sf, task) == (1, 1)


def test_relation_moves_last_activity_date(sf: Salesforce) -> None:
    """A closed task with a due date counts toward a related contact's LastActivityDate,
    and stops counting when the relation is deleted."""
    primary, other = _contact(sf), _contact(sf)
    task = sf.Task.create(
        {
            "Subject": _unique("done"),
            "WhoId": primary,
            "Status": "Completed",
            "ActivityDate": "2031-03-04",
        }
    )["id"]
    assert sf.Contact.get(other)["LastActivityDate"] is None
    relation = _relate(sf, task, other)
    assert sf.Contact.get(other)["LastActivityDate"] == "2031-03-04"

    assert sf.TaskRelation.delete(relation) == 204
    assert sf.Contact.get(other)["LastActivityDate"] is None
    assert _counts(sf, task) == (1, 0)
    assert sf.Contact.get(primary)["LastActivityDate"] == "2031-03-04"


def test_deleting_a_relation_updates_who_count(sf: Salesforce) -> None:
    first, second, third = _contact(sf), _contact(sf), _contact(sf)
    task = sf.Task.create({"Subject": _unique("del"), "WhoId": first})["id"]
    relations = [_relate(sf, task, second), _relate(sf, task, third)]
    assert _counts(sf, task) == (3, 0)
    assert sf.TaskRelation.delete(relations[0]) == 204
    assert _counts(sf, task) == (2, 0)
    assert _relations(sf, task) == {(first, False), (third, False)}
    # A deleted relation is no longer a duplicate.
    _relate(sf, task, second)
    assert _counts(sf, task) == (3, 0)
    # The TaskId must be a live Task (the reference check every create makes).
    sf.Task.delete(task)
    assert _refused(sf, task, _contact(sf))["errorCode"] == "ENTITY_IS_DELETED"
