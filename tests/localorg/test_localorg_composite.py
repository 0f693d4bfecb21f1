"""sObject Collections and Composite on the local org, through simple-salesforce."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from tests.support.localorg import RunningOrg

ROLLED_BACK = "ALL_OR_NONE_OPERATION_ROLLED_BACK"


def _tasks(tag: str, count: int, bad_at: int | None = None) -> list[dict[str, Any]]:
    records = [{"attributes": {"type": "Task"}, "Subject": f"{tag} {i}"} for i in range(count)]
    if bad_at is not None:
        records[bad_at]["Status"] = "Not A Status"
    return records


def _count(sf: Salesforce, tag: str) -> int:
    soql = format_soql("SELECT COUNT() FROM Task WHERE Subject LIKE {}", f"{tag}%")
    return int(sf.query(soql)["totalSize"])


def test_collection_with_one_bad_row_saves_the_rest(sf: Salesforce) -> None:
    """200 rows, one bad, allOrNone false: 199 saved, the bad row has its own error."""
    tag = f"coll-{uuid.uuid4().hex[:8]}"
    body = {"allOrNone": False, "records": _tasks(tag, 200, bad_at=57)}
    results = sf.restful("composite/sobjects", method="POST", json=body)
    assert len(results) == 200
    assert [i for i, r in enumerate(results) if not r["success"]] == [57]
    [error] = results[57]["errors"]
    assert error["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert error["fields"] == ["Status"]
    assert all(set(r) == {"id", "success", "errors"} for r in results if r["success"])
    assert _count(sf, tag) == 199


def test_collection_all_or_none_rolls_everything_back(sf: Salesforce) -> None:
    """allOrNone true: nothing saved; innocent rows report ALL_OR_NONE_OPERATION_ROLLED_BACK."""
    tag = f"aon-{uuid.uuid4().hex[:8]}"
    body = {"allOrNone": True, "records": _tasks(tag, 200, bad_at=3)}
    results = sf.restful("composite/sobjects", method="POST", json=body)
    assert results[3]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    innocent = [r for i, r in enumerate(results) if i != 3]
    assert all(not r["success"] for r in innocent)
    assert {r["errors"][0]["statusCode"] for r in innocent} == {ROLLED_BACK}
    assert _count(sf, tag) == 0


def test_collection_over_200_records_is_refused(sf: Salesforce) -> None:
    """201 records answer 400 EXCEEDED_ID_LIMIT and save nothing."""
    tag = f"big-{uuid.uuid4().hex[:8]}"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/sobjects", method="POST", json={"records": _tasks(tag, 201)})
    assert caught.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert _count(sf, tag) == 0


def test_collection_update_retrieve_and_delete(sf: Salesforce) -> None:
    """PATCH updates, GET ?ids=&fields= retrieves, DELETE ?ids= deletes, all per row."""
    tag = f"upd-{uuid.uuid4().hex[:8]}"
    created = sf.restful("composite/sobjects", method="POST", json={"records": _tasks(tag, 3)})
    ids = [r["id"] for r in created]
    updates = [{"attributes": {"type": "Task"}, "id": i, "Status": "Completed"} for i in ids]
    updated = sf.restful("composite/sobjects", method="PATCH", json={"records": updates})
    assert [r["success"] for r in updated] == [True] * 3
    fetched = sf.restful(
        "composite/sobjects/Task", params={"ids": ",".join(ids), "fields": "Status,IsClosed"}
    )
    assert [(r["Id"], r["Status"], r["IsClosed"]) for r in fetched] == [
        (i, "Completed", True) for i in ids
    ]
    deleted = sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": ",".join(ids), "allOrNone": "false"}
    )
    assert deleted == [{"id": i, "success": True, "errors": []} for i in ids]
    assert _count(sf, tag) == 0


def test_composite_resolves_references(sf: Salesforce) -> None:
    """@{ref.id} and @{ref.records[0].Id} feed later subrequests; one response per subrequest."""
    name = f"Composite {uuid.uuid4().hex[:8]}"
    body = {
        "allOrNone": False,
        "compositeRequest": [
            {
                "method": "POST",
                "url": "/services/data/v62.0/sobjects/Account",
                "referenceId": "newAccount",
                "body": {"Name": name},
            },
            {
                "method": "POST",
                "url": "/services/data/v62.0/sobjects/Contact",
                "referenceId": "newContact",
                "body": {"LastName": "Ref", "AccountId": "@{newAccount.id}"},
            },
            {
                "method": "GET",
                "url": "/services/data/v62.0/query?q="
                + "SELECT+Id+FROM+Account+WHERE+Id='@{newAccount.id}'",
                "referenceId": "found",
            },
            {
                "method": "PATCH",
                "url": "/services/data/v62.0/sobjects/Account/@{found.records[0].Id}",
                "referenceId": "renamed",
                "body": {"Name": name + " (renamed)"},
            },
        ],
    }
    response = sf.restful("composite", method="POST", json=body)["compositeResponse"]
    assert [r["referenceId"] for r in response] == [
        "newAccount", "newContact", "found", "renamed",
    ]  # fmt: skip
    assert [r["httpStatusCode"] for r in response] == [201, 201, 200, 204]
    account_id = response[0]["body"]["id"]
    assert response[0]["httpHeaders"] == {
        "Location": f"/services/data/v62.0/sobjects/Account/{account_id}"
    }
    assert sf.Contact.get(response[1]["body"]["id"])["AccountId"] == account_id
    assert sf.Account.get(account_id)["Name"].endswith("(renamed)")


def test_composite_all_or_none_halts_and_rolls_back(sf: Salesforce) -> None:
    """allOrNone: one failure rolls back the rest, which report PROCESSING_HALTED."""
    name = f"Halted {uuid.uuid4().hex[:8]}"
    body = {
        "allOrNone": True,
        "compositeRequest": [
            {
                "method": "POST",
                "url": "/services/data/v62.0/sobjects/Account",
                "referenceId": "ok",
                "body": {"Name": name},
            },
            {
                "method": "POST",
                "url": "/services/data/v62.0/sobjects/Task",
                "referenceId": "bad",
                "body": {"Status": "Nope"},
            },
        ],
    }
    response = sf.restful("composite", method="POST", json=body)["compositeResponse"]
    assert [r["httpStatusCode"] for r in response] == [400, 400]
    assert response[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert response[1]["body"][0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    found = sf.query(format_soql("SELECT Id FROM Account WHERE Name = {}", name))
    assert found["totalSize"] == 0


def test_composite_limits(sf: Salesforce) -> None:
    """More than 25 subrequests, or more than 5 queries, is refused with 400."""
    query = {"method": "GET", "url": "/services/data/v62.0/query?q=SELECT+Id+FROM+User"}
    many = [{**query, "referenceId": f"q{i}"} for i in range(6)]
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite", method="POST", json={"compositeRequest": many})
    limits = {"method": "GET", "url": "/services/data/v62.0/limits"}
    too_many = [{**limits, "referenceId": f"l{i}"} for i in range(26)]
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite", method="POST", json={"compositeRequest": too_many})


def test_api_usage_counts_composite_once_and_tokens_never(fresh_org: RunningOrg) -> None:
    """A composite of several subrequests is one API call; a token request is none."""
    sf = fresh_org.client()
    used_before = sf.limits()["DailyApiRequests"]
    subrequests = [
        {"method": "GET", "url": "/services/data/v62.0/limits", "referenceId": f"l{i}"}
        for i in range(5)
    ]
    sf.restful("composite", method="POST", json={"compositeRequest": subrequests})
    info = fresh_org.info
    fresh_org.admin.post(
        info.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": info.client_id,
            "client_secret": info.client_secret,
        },
    )
    used_after = sf.limits()["DailyApiRequests"]
    # limits() itself counts: the second call, and the composite between them.
    assert used_before["Remaining"] - used_after["Remaining"] == 2
    assert sf.api_usage["api-usage"].used == used_after["Max"] - used_after["Remaining"]
