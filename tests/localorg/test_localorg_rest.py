"""REST resources of the local org, driven through simple-salesforce over HTTPS."""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.format import format_soql

from tests.support.localorg import RunningOrg


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _bulk_create(sf: Salesforce, sobject: str, records: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(records), 200):
        chunk = [{"attributes": {"type": sobject}, **r} for r in records[start : start + 200]]
        results = sf.restful("composite/sobjects", method="POST", json={"records": chunk})
        assert all(r["success"] for r in results), results
        ids += [r["id"] for r in results]
    return ids


def test_versions_list_needs_no_session(local_org: RunningOrg) -> None:
    """/services/data/ lists 52.0..66.0 without a token (and counts nothing)."""
    with local_org.admin as http:
        response = http.get(local_org.url("/services/data/"), headers={"Authorization": ""})
    versions = [v["version"] for v in response.json()]
    assert versions[0] == "52.0"
    assert versions[-1] == "66.0"
    assert response.json()[-1] == {
        "label": "Spring '26",
        "url": "/services/data/v66.0",
        "version": "66.0",
    }


@pytest.mark.parametrize("version", ["51.0", "67.0", "x"])
def test_unserved_versions_are_not_found(local_org: RunningOrg, version: str) -> None:
    """Versions outside 52.0..66.0 answer 404 NOT_FOUND."""
    response = local_org.admin.get(local_org.url(f"/services/data/v{version}/sobjects"))
    assert response.status_code == 404
    assert response.json() == [
        {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
    ]


@pytest.mark.parametrize("version", ["52.0", "59.0", "66.0"])
def test_every_version_serves_describe(local_org: RunningOrg, version: str) -> None:
    """Describe global and describe work under each version root."""
    sf = local_org.client(version)
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert {"Account", "Contact", "Lead", "Task", "EmailServicesAddress"} <= names
    fields = {f["name"]: f for f in sf.Task.describe()["fields"]}
    assert fields["Subject"]["length"] == 255
    assert fields["Status"]["restrictedPicklist"] is True
    assert sf.Task.metadata()["objectDescribe"]["name"] == "Task"


def _profile_id(sf: Salesforce) -> str:
    result = sf.query("SELECT Id FROM Profile WHERE Name = 'Standard User'")
    return str(result["records"][0]["Id"])


def _function_id(sf: Salesforce) -> str:
    result = sf.query(
        "SELECT Id FROM EmailServicesFunction WHERE FunctionName = 'EmailToSalesforce'"
    )
    return str(result["records"][0]["Id"])


Maker = Callable[[Salesforce], tuple[dict[str, Any], dict[str, Any]]]
CRUD_CASES: dict[str, Maker] = {
    "Account": lambda sf: ({"Name": _unique("Acct")}, {"Industry": "Technology"}),
    "Contact": lambda sf: (
        {"LastName": "Jones", "Email": f"{_unique('c')}@example.com"},
        {"Title": "CTO"},
    ),
    "Lead": lambda sf: ({"LastName": "Lee", "Company": "Co"}, {"Rating": "Hot"}),
    "Opportunity": lambda sf: (
        {"Name": _unique("Opp"), "StageName": "Prospecting", "CloseDate": "2027-01-31"},
        {"StageName": "Closed Won"},
    ),
    "Task": lambda sf: ({"Subject": "Call"}, {"Status": "Completed"}),
    "OpportunityContactRole": lambda sf: (
        {
            "OpportunityId": sf.Opportunity.create(
                {"Name": _unique("O"), "StageName": "Prospecting", "CloseDate": "2027-01-01"}
            )["id"],
            "ContactId": sf.Contact.create({"LastName": "Role"})["id"],
        },
        {"Role": "Decision Maker"},
    ),
    "EmailServicesAddress": lambda sf: (
        {
            "LocalPart": "emailtosalesforce",
            "RunAsUserId": sf.query("SELECT Id FROM User LIMIT 1")["records"][0]["Id"],
            "FunctionId": _function_id(sf),
        },
        {"IsActive": False},
    ),
    "ContentVersion": lambda sf: (
        {
            "Title": "notes",
            "PathOnClient": "notes.txt",
            "VersionData": base64.b64encode(b"hello").decode(),
        },
        {"Description": "meeting notes"},
    ),
}


@pytest.mark.parametrize("sobject", sorted(CRUD_CASES))
def test_crud_on_each_object(sf: Salesforce, sobject: str) -> None:
    """Create (201 shape), read, update (204) and delete (204) through simple-salesforce."""
    create, update = CRUD_CASES[sobject](sf)
    sftype = getattr(sf, sobject)
    created = sftype.create(create)
    assert set(created) == {"id", "success", "errors"}
    assert created["success"] is True
    assert re.fullmatch(r"[0-9A-Za-z]{18}", created["id"])
    record = sftype.get(created["id"])
    assert record["attributes"] == {
        "type": sobject,
        "url": f"/services/data/v62.0/sobjects/{sobject}/{created['id']}",
    }
    assert record["Id"] == created["id"]
    assert sftype.update(created["id"], update) == 204
    fields = ",".join(update)
    after = sftype.get(created["id"], params={"fields": fields})
    assert {k: after[k] for k in update} == update
    if sobject == "ContentVersion":
        # Versions are not deleted on their own; their ContentDocument is.
        with pytest.raises(SalesforceMalformedRequest) as caught:
            sftype.delete(created["id"])
        assert caught.value.content[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"
        return
    assert sftype.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sftype.get(created["id"])


def test_user_can_be_created_and_updated(sf: Salesforce) -> None:
    """A User needs its required fields; it can be updated (Users are never deleted)."""
    name = _unique("rep")
    user = sf.User.create(
        {
            "Username": f"{name}@acme.example",
            "LastName": "Rep",
            "Email": f"{name}@acme.example",
            "Alias": "rep",
            "TimeZoneSidKey": "America/New_York",
            "LocaleSidKey": "en_US",
            "EmailEncodingKey": "UTF-8",
            "LanguageLocaleKey": "en_US",
            "ProfileId": _profile_id(sf),
        }
    )
    assert sf.User.update(user["id"], {"Title": "AE"}) == 204
    assert sf.User.get(user["id"])["Title"] == "AE"


@pytest.mark.parametrize(
    ("sobject", "body", "code", "fields"),
    [
        ("Account", {}, "REQUIRED_FIELD_MISSING", ["Name"]),
        ("Task", {"Subject": "x" * 256}, "STRING_TOO_LONG", ["Subject"]),
        ("Task", {"Status": "Bogus"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["Status"]),
        ("Task", {"WhoId": "003nope"}, "MALFORMED_ID", ["WhoId"]),
    ],
)
def test_data_errors_have_salesforce_shape(
    sf: Salesforce, sobject: str, body: dict[str, Any], code: str, fields: list[str]
) -> None:
    """Field-rule failures answer 400 [{"message", "errorCode", "fields"}]."""
    with pytest.raises(SalesforceMalformedRequest) as caught:
        getattr(sf, sobject).create(body)
    assert caught.value.status == 400
    [error] = caught.value.content
    assert set(error) == {"message", "errorCode", "fields"}
    assert error["errorCode"] == code
    assert error["fields"] == fields


def test_unknown_field_is_invalid_field(sf: Salesforce) -> None:
    """A field the object does not have answers INVALID_FIELD."""
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.create({"Name": "x", "Bogus__c": 1})
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_unknown_sobject_is_not_found(sf: Salesforce) -> None:
    """An unknown sObject answers 404 NOT_FOUND."""
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Bogus__c.create({"Name": "x"})
    assert caught.value.content == [
        {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
    ]


def test_malformed_json_is_json_parser_error(local_org: RunningOrg) -> None:
    """A body that is not JSON answers 400 JSON_PARSER_ERROR."""
    response = local_org.admin.post(
        local_org.url("/services/data/v62.0/sobjects/Account"),
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_uri_longer_than_16384_bytes_is_414(local_org: RunningOrg) -> None:
    """A URI over 16,384 bytes answers 414."""
    query = "SELECT Id FROM Account WHERE Name = '" + "a" * 17_000 + "'"
    response = local_org.admin.get(local_org.url("/services/data/v62.0/query"), params={"q": query})
    assert response.status_code == 414


def test_upsert_by_external_id_creates_then_updates(sf: Salesforce) -> None:
    """Upsert on Relay_Key__c: 201 created=true, then 200 created=false, same id."""
    key = _unique("key")
    first = sf.Task.upsert(f"Relay_Key__c/{key}", {"Subject": "v1"}, raw_response=True)
    assert first.status_code == 201
    assert first.json()["created"] is True
    second = sf.Task.upsert(f"Relay_Key__c/{key}", {"Subject": "v2"}, raw_response=True)
    assert second.status_code == 200
    assert second.json() == {
        "id": first.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    assert sf.Task.get(first.json()["id"])["Subject"] == "v2"


def test_query_pages_with_batch_size(sf: Salesforce) -> None:
    """450 rows with batchSize=200: pages of 200, 200, 50, linked by nextRecordsUrl."""
    tag = _unique("page")
    _bulk_create(sf, "Task", [{"Subject": f"{tag} {i}"} for i in range(450)])
    soql = format_soql("SELECT Id, Subject FROM Task WHERE Subject LIKE {}", f"{tag}%")
    first = sf.query(soql, headers={"Sforce-Query-Options": "batchSize=200"})
    assert (first["totalSize"], first["done"], len(first["records"])) == (450, False, 200)
    assert re.fullmatch(
        r"/services/data/v62\.0/query/01g[0-9A-Za-z]{15}-200", first["nextRecordsUrl"]
    )
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert (len(second["records"]), second["done"]) == (200, False)
    assert (len(third["records"]), third["done"]) == (50, True)
    assert "nextRecordsUrl" not in third
    ids = {r["Id"] for page in (first, second, third) for r in page["records"]}
    assert len(ids) == 450
    assert len(sf.query_all(soql)["records"]) == 450  # default batch 2,000: one page


def test_soql_is_case_insensitive(sf: Salesforce) -> None:
    """Keywords, names and string comparisons ignore case."""
    email = f"{_unique('mixed')}@Example.COM"
    contact = sf.Contact.create({"LastName": "Case", "Email": email})
    result = sf.query(format_soql("select id from contact where EMAIL = {}", email.upper()))
    assert [r["Id"] for r in result["records"]] == [contact["id"]]


@pytest.mark.parametrize("tricky", ["o'brien", "back\\slash"])
def test_quotes_and_backslashes_round_trip(sf: Salesforce, tricky: str) -> None:
    """Values with ' and \\ are stored as given and found through format_soql."""
    email = f"{tricky}.{uuid.uuid4().hex[:6]}@example.com"
    contact = sf.Contact.create({"LastName": tricky, "Email": email})
    result = sf.query(
        format_soql("SELECT Id, LastName, Email FROM Contact WHERE Email = {}", email)
    )
    assert [(r["Id"], r["LastName"], r["Email"]) for r in result["records"]] == [
        (contact["id"], tricky, email)
    ]


def test_semi_join_and_parent_fields(sf: Salesforce) -> None:
    """Id IN (SELECT ... FROM OpportunityContactRole) and parent fields work."""
    account = sf.Account.create({"Name": _unique("Semi")})["id"]
    contact = sf.Contact.create({"LastName": "Buyer", "AccountId": account})["id"]
    opp = sf.Opportunity.create(
        {
            "Name": _unique("SemiOpp"),
            "StageName": "Prospecting",
            "CloseDate": "2027-01-01",
            "AccountId": account,
        }
    )["id"]
    sf.OpportunityContactRole.create({"OpportunityId": opp, "ContactId": contact})
    result = sf.query(
        format_soql(
            "SELECT Id, Account.Name, IsClosed FROM Opportunity WHERE Id IN "
            "(SELECT OpportunityId FROM OpportunityContactRole WHERE ContactId = {})",
            contact,
        )
    )
    [row] = result["records"]
    assert row["Id"] == opp
    assert row["IsClosed"] is False
    assert row["Account"]["Name"].startswith("Semi")


def test_query_all_sees_deleted_rows(sf: Salesforce) -> None:
    """queryAll returns soft-deleted rows with IsDeleted; query does not."""
    subject = _unique("gone")
    task = sf.Task.create({"Subject": subject})["id"]
    sf.Task.delete(task)
    soql = format_soql("SELECT Id, IsDeleted FROM Task WHERE Subject = {}", subject)
    assert sf.query(soql)["totalSize"] == 0
    rows = sf.query_all(soql, include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in rows] == [(task, True)]


def test_updated_and_deleted_list_changes(sf: Salesforce) -> None:
    """sObject Get Updated/Deleted report ids changed in the window, in their shapes."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    kept = sf.Task.create({"Subject": "kept"})["id"]
    dropped = sf.Task.create({"Subject": "dropped"})["id"]
    sf.Task.delete(dropped)
    end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    updated = sf.Task.updated(start, end)
    assert kept in updated["ids"]
    assert dropped not in updated["ids"]
    assert set(updated) == {"ids", "latestDateCovered"}
    deleted = sf.Task.deleted(start, end)
    assert set(deleted) == {"deletedRecords", "earliestDateAvailable", "latestDateCovered"}
    assert dropped in {d["id"] for d in deleted["deletedRecords"]}


def test_query_errors_are_400(sf: Salesforce) -> None:
    """Bad SOQL answers 400 MALFORMED_QUERY or INVALID_FIELD."""
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT FROM Account")
    assert caught.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    with pytest.raises(SalesforceError) as caught_field:
        sf.query("SELECT Bogus FROM Account")
    assert caught_field.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_convert_lead_admin_route(local_org: RunningOrg, sf: Salesforce) -> None:
    """POST /_localorg/convertLead converts a lead; Tasks cannot then point at it."""
    lead = sf.Lead.create({"LastName": "Convertible", "Company": _unique("Co")})["id"]
    response = local_org.admin.post(local_org.url("/_localorg/convertLead"), json={"leadId": lead})
    assert response.status_code == 200, response.text
    after = sf.Lead.get(lead)
    assert after["IsConverted"] is True
    assert after["ConvertedContactId"]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.create({"Subject": "late", "WhoId": lead})
    assert caught.value.content[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_resource_root_lists_the_served_resources(sf: Salesforce) -> None:
    """GET /services/data/vXX.X/ names sobjects, query, queryAll, limits and composite."""
    root = sf.restful("")
    assert root["sobjects"] == "/services/data/v62.0/sobjects"
    assert {"query", "queryAll", "limits", "composite"} <= set(root)


def test_unknown_query_locator_is_refused(local_org: RunningOrg) -> None:
    """A query locator the org never issued answers 400 INVALID_QUERY_LOCATOR."""
    response = local_org.admin.get(
        local_org.url("/services/data/v62.0/query/01gXXXXXXXXXXXXXXX-2000")
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_wrong_method_is_405(local_org: RunningOrg) -> None:
    """A method a resource does not support answers 405 METHOD_NOT_ALLOWED."""
    response = local_org.admin.put(local_org.url("/services/data/v62.0/limits"), json={})
    assert response.status_code == 405
    assert response.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"
