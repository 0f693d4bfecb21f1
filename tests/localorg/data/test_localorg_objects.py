"""Object behaviour: Task derivations and rules, leads, opportunities, content, email
services, describe, settings and the org bootstrap."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from relay.localorg.data import OrgData
from relay.localorg.errors import SalesforceApiError

V = "60.0"


def _get(org: OrgData, sobject: str, record_id: str, *fields: str) -> dict[str, Any]:
    return org.get(sobject, record_id, list(fields), api_version=V)


def _query(org: OrgData, soql: str) -> list[dict[str, Any]]:
    return list(org.query(soql, include_deleted=False, api_version=V).records)


@pytest.fixture
def people(org: OrgData, admin: str) -> dict[str, str]:
    account = org.create("Account", {"Name": "Acme"}, user_id=admin)
    other = org.create("Account", {"Name": "Other"}, user_id=admin)
    return {
        "account": account,
        "other": other,
        "contact": org.create("Contact", {"LastName": "Cole", "AccountId": account}, user_id=admin),
        "contact2": org.create("Contact", {"LastName": "Dee", "AccountId": other}, user_id=admin),
        "lead": org.create("Lead", {"LastName": "Lu", "Company": "LuCo"}, user_id=admin),
        "deal": org.create(
            "Opportunity",
            {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2024-06-30",
             "AccountId": other},
            user_id=admin,
        ),
    }  # fmt: skip


def test_task_defaults_and_derived_fields(org: OrgData, admin: str, people: dict[str, str]) -> None:
    """A new Task defaults Status/Priority/Owner; AccountId follows the contact."""
    task = org.create("Task", {"Subject": "Hi", "WhoId": people["contact"]}, user_id=admin)
    record = _get(org, "Task", task, "Status", "Priority", "OwnerId", "AccountId", "IsClosed",
                  "WhoCount", "WhatCount")  # fmt: skip
    assert record["Status"] == "Not Started"
    assert record["Priority"] == "Normal"
    assert record["OwnerId"] == admin
    assert record["AccountId"] == people["account"]
    assert record["IsClosed"] is False
    assert (record["WhoCount"], record["WhatCount"]) == (1, 0)


def test_task_account_prefers_what(org: OrgData, admin: str, people: dict[str, str]) -> None:
    """Task.AccountId is the WhatId's account (an Opportunity's AccountId) over the who's."""
    task = org.create("Task", {"WhoId": people["contact"], "WhatId": people["deal"]},
                      user_id=admin)  # fmt: skip
    assert _get(org, "Task", task, "AccountId")["AccountId"] == people["other"]
    org.update("Task", task, {"WhatId": people["account"]}, user_id=admin)
    assert _get(org, "Task", task, "AccountId")["AccountId"] == people["account"]
    org.update("Task", task, {"WhatId": None, "WhoId": people["contact2"]}, user_id=admin)
    assert _get(org, "Task", task, "AccountId")["AccountId"] == people["other"]


def test_task_closed_follows_status(org: OrgData, admin: str) -> None:
    """IsClosed and CompletedDateTime follow Status; IsHighPriority follows Priority."""
    task = org.create("Task", {"Status": "Completed", "Priority": "High"}, user_id=admin)
    record = _get(org, "Task", task, "IsClosed", "CompletedDateTime", "IsHighPriority")
    assert record == {**record, "IsClosed": True, "IsHighPriority": True,
                      "CompletedDateTime": "2024-03-01T12:00:00.000+0000"}  # fmt: skip
    org.update("Task", task, {"Status": "In Progress"}, user_id=admin)
    record = _get(org, "Task", task, "IsClosed", "CompletedDateTime")
    assert (record["IsClosed"], record["CompletedDateTime"]) == (False, None)


def test_task_lead_with_what_is_integrity_error(
    org: OrgData, admin: str, people: dict[str, str]
) -> None:
    """A task whose WhoId is a lead cannot have a WhatId (FIELD_INTEGRITY_EXCEPTION)."""
    with pytest.raises(SalesforceApiError) as info:
        org.create("Task", {"WhoId": people["lead"], "WhatId": people["account"]}, user_id=admin)
    assert info.value.error_code == "FIELD_INTEGRITY_EXCEPTION"


def test_task_who_must_be_contact_or_lead(org: OrgData, admin: str, people: dict[str, str]) -> None:
    """WhoId given an account id is FIELD_INTEGRITY_EXCEPTION on WhoId."""
    with pytest.raises(SalesforceApiError) as info:
        org.create("Task", {"WhoId": people["account"]}, user_id=admin)
    assert (info.value.error_code, info.value.fields) == ("FIELD_INTEGRITY_EXCEPTION", ["WhoId"])
    assert info.value.message.startswith("Name ID: id value of incorrect type")


def test_task_who_ids_create_relations(org: OrgData, admin: str, people: dict[str, str]) -> None:
    """TaskWhoIds relates up to 50 contacts: the first is WhoId, each one a TaskRelation."""
    task = org.create(
        "Task", {"TaskWhoIds": [people["contact"], people["contact2"][:15]]}, user_id=admin
    )
    record = _get(org, "Task", task, "WhoId", "WhoCount")
    assert (record["WhoId"], record["WhoCount"]) == (people["contact"], 2)
    relations = _query(org, f"SELECT RelationId, IsWhat FROM TaskRelation WHERE TaskId = '{task}'")
    assert sorted(r["RelationId"] for r in relations) == sorted(
        [people["contact"], people["contact2"]]
    )
    assert "TaskWhoIds" not in org.get("Task", task, None, api_version=V)


def test_task_who_ids_cannot_mix_lead_and_contacts(
    org: OrgData, admin: str, people: dict[str, str]
) -> None:
    """One lead, or contacts only: a lead with a contact is refused."""
    with pytest.raises(SalesforceApiError) as info:
        org.create("Task", {"TaskWhoIds": [people["lead"], people["contact"]]}, user_id=admin)
    assert info.value.error_code == "FIELD_INTEGRITY_EXCEPTION"


def test_shared_activities_off_hides_relations(
    org: OrgData, admin: str, people: dict[str, str]
) -> None:
    """Without Shared Activities there is no TaskRelation object and no TaskWhoIds field."""
    org.put_settings({"shared_activities": False})
    assert org.object_name("TaskRelation") is None
    with pytest.raises(SalesforceApiError) as info:
        org.create("Task", {"TaskWhoIds": [people["contact"]]}, user_id=admin)
    assert info.value.error_code == "INVALID_FIELD"
    names = [o["name"] for o in org.describe_global(V)["sobjects"]]
    assert "TaskRelation" not in names
    assert "Task" in names


def test_last_activity_date_follows_closed_tasks(
    org: OrgData, admin: str, people: dict[str, str]
) -> None:
    """Contact/Account LastActivityDate is the latest due date of their closed tasks."""
    contact, account = people["contact"], people["account"]
    org.create("Task", {"WhoId": contact, "ActivityDate": "2024-02-01", "Status": "Completed"},
               user_id=admin)  # fmt: skip
    late = org.create("Task", {"WhoId": contact, "ActivityDate": "2024-02-10",
                               "Status": "Completed"}, user_id=admin)  # fmt: skip
    org.create("Task", {"WhoId": contact, "ActivityDate": "2024-05-01"}, user_id=admin)
    assert _get(org, "Contact", contact, "LastActivityDate")["LastActivityDate"] == "2024-02-10"
    assert _get(org, "Account", account, "LastActivityDate")["LastActivityDate"] == "2024-02-10"
    org.delete("Task", late, user_id=admin)
    assert _get(org, "Contact", contact, "LastActivityDate")["LastActivityDate"] == "2024-02-01"


def test_lead_last_activity_through_relation(
    org: OrgData, admin: str, people: dict[str, str]
) -> None:
    """A lead's LastActivityDate counts tasks naming it through TaskWhoIds."""
    org.create("Task", {"TaskWhoIds": [people["lead"]], "ActivityDate": "2024-01-05",
                        "Status": "Completed"}, user_id=admin)  # fmt: skip
    assert _get(org, "Lead", people["lead"], "LastActivityDate")["LastActivityDate"] == "2024-01-05"


def test_convert_lead_creates_account_and_contact(
    org: OrgData, admin: str, people: dict[str, str]
) -> None:
    """Converting a lead creates its account and contact, moves its tasks, marks it."""
    lead = org.create("Lead", {"FirstName": "Ada", "LastName": "Byron", "Company": "Engines",
                               "Email": "ada@engines.example"}, user_id=admin)  # fmt: skip
    task = org.create("Task", {"WhoId": lead}, user_id=admin)
    result = org.convert_lead(lead, user_id=admin)
    assert result["leadId"] == lead
    contact = _get(org, "Contact", result["contactId"], "Name", "Email", "AccountId")
    assert (contact["Name"], contact["Email"]) == ("Ada Byron", "ada@engines.example")
    assert contact["AccountId"] == result["accountId"]
    assert _get(org, "Account", result["accountId"], "Name")["Name"] == "Engines"
    converted = _get(org, "Lead", lead, "IsConverted", "ConvertedContactId",
                     "ConvertedAccountId", "Status", "ConvertedDate")  # fmt: skip
    assert converted["IsConverted"] is True
    assert converted["ConvertedContactId"] == result["contactId"]
    assert converted["ConvertedAccountId"] == result["accountId"]
    assert converted["Status"] == "Closed - Converted"
    assert converted["ConvertedDate"] == "2024-03-01"
    assert _get(org, "Task", task, "WhoId")["WhoId"] == result["contactId"]


def test_convert_lead_into_existing_contact(
    org: OrgData, admin: str, people: dict[str, str]
) -> None:
    """Given a contact, conversion uses it and its account."""
    result = org.convert_lead(people["lead"], user_id=admin, contact_id=people["contact"])
    assert (result["contactId"], result["accountId"]) == (people["contact"], people["account"])


def test_converted_lead_cannot_be_referenced_or_updated(
    org: OrgData, admin: str, people: dict[str, str]
) -> None:
    """A converted lead: tasks cannot point at it, it cannot be edited or converted again."""
    org.convert_lead(people["lead"], user_id=admin)
    for call in (
        lambda: org.create("Task", {"WhoId": people["lead"]}, user_id=admin),
        lambda: org.update("Lead", people["lead"], {"Title": "x"}, user_id=admin),
        lambda: org.convert_lead(people["lead"], user_id=admin),
    ):
        with pytest.raises(SalesforceApiError) as info:
            call()
        assert info.value.error_code == "CANNOT_UPDATE_CONVERTED_LEAD"


@pytest.mark.parametrize(
    ("stage", "closed", "won", "probability"),
    [("Prospecting", False, False, 10.0), ("Closed Won", True, True, 100.0),
     ("Closed Lost", True, False, 0.0), ("Negotiation/Review", False, False, 90.0)],
)  # fmt: skip
def test_opportunity_stage_drives_flags(
    org: OrgData, admin: str, stage: str, closed: bool, won: bool, probability: float
) -> None:
    """IsClosed, IsWon and the default Probability follow StageName."""
    deal = org.create("Opportunity", {"Name": "D", "StageName": "Qualification",
                                      "CloseDate": "2024-06-30"}, user_id=admin)  # fmt: skip
    org.update("Opportunity", deal, {"StageName": stage}, user_id=admin)
    record = _get(org, "Opportunity", deal, "IsClosed", "IsWon", "Probability")
    assert (record["IsClosed"], record["IsWon"], record["Probability"]) == (
        closed,
        won,
        probability,
    )


def test_content_version_creates_document_and_link(
    org: OrgData, admin: str, people: dict[str, str]
) -> None:
    """A ContentVersion creates its ContentDocument and a link to FirstPublishLocationId."""
    payload = base64.b64encode(b"hello world").decode()
    version = org.create(
        "ContentVersion",
        {"PathOnClient": "notes.txt", "VersionData": payload,
         "FirstPublishLocationId": people["contact"]},
        user_id=admin,
    )  # fmt: skip
    record = org.get("ContentVersion", version, None, api_version=V)
    assert record["Title"] == "notes"
    assert record["ContentSize"] == 11
    assert record["FileExtension"] == "txt"
    assert record["VersionData"].endswith(f"/sobjects/ContentVersion/{version}/VersionData")
    document = record["ContentDocumentId"]
    assert document.startswith("069")
    links = _query(org, f"SELECT LinkedEntityId, ShareType FROM ContentDocumentLink "
                        f"WHERE ContentDocumentId = '{document}'")  # fmt: skip
    assert [(r["LinkedEntityId"], r["ShareType"]) for r in links] == [(people["contact"], "V")]
    link = org.create("ContentDocumentLink", {"ContentDocumentId": document,
                                              "LinkedEntityId": people["account"]},
                      user_id=admin)  # fmt: skip
    assert link.startswith("06A")
    assert org.version_data(version) == b"hello world"


def test_email_services_address_for_a_user(org: OrgData, admin: str) -> None:
    """An admin-created EmailServicesAddress gets a generated domain and joins its function."""
    function = _query(org, "SELECT Id FROM EmailServicesFunction "
                           "WHERE FunctionName = 'EmailToSalesforce'")[0]["Id"]  # fmt: skip
    address = org.create("EmailServicesAddress", {"LocalPart": "emailtosalesforce",
                                                  "RunAsUserId": admin, "FunctionId": function},
                         user_id=admin)  # fmt: skip
    assert address.startswith("093")
    rows = _query(org, "SELECT LocalPart, EmailDomainName, IsActive FROM EmailServicesAddress "
                       f"WHERE RunAsUserId = '{admin}' "
                       "AND Function.FunctionName = 'EmailToSalesforce'")  # fmt: skip
    assert len(rows) == 1
    assert rows[0]["LocalPart"] == "emailtosalesforce"
    assert rows[0]["IsActive"] is True
    assert rows[0]["EmailDomainName"].endswith(".salesforce.com")


def test_describe_task(org: OrgData) -> None:
    """Describe lists fields with type, length, writability, picklists and references."""
    result = org.describe("task", "v60.0")
    assert (result["name"], result["keyPrefix"]) == ("Task", "00T")
    assert result["urls"]["sobject"] == "/services/data/v60.0/sobjects/Task"
    fields = {f["name"]: f for f in result["fields"]}
    assert fields["Subject"]["length"] == 255
    assert fields["Status"]["restrictedPicklist"] is True
    assert [v["value"] for v in fields["Priority"]["picklistValues"]] == ["High", "Normal", "Low"]
    assert fields["WhoId"]["referenceTo"] == ["Contact", "Lead"]
    assert fields["WhoId"]["relationshipName"] == "Who"
    assert fields["TaskSubtype"]["createable"] is True
    assert fields["TaskSubtype"]["updateable"] is False
    key = fields["Relay_Key__c"]
    assert (key["externalId"], key["unique"], key["caseSensitive"], key["custom"]) == (
        True, True, True, True,
    )  # fmt: skip
    assert fields["IsClosed"]["createable"] is False


def test_describe_global_lists_objects(org: OrgData) -> None:
    """Describe global lists every object with its key prefix."""
    result = org.describe_global("60.0")
    prefixes = {o["name"]: o["keyPrefix"] for o in result["sobjects"]}
    assert prefixes["Lead"] == "00Q"
    assert prefixes["OpportunityContactRole"] == "00k"
    assert prefixes["TaskRelation"] == "0RT"
    assert result["maxBatchSize"] == 200


def test_settings_defaults_and_open_schema(org: OrgData) -> None:
    """Settings have the documented switches and accept new keys."""
    assert org.get_settings() == {
        "api_enabled": True,
        "email_to_salesforce_active": True,
        "shared_activities": True,
        "daily_api_limit": 100_000,
    }
    assert org.put_settings({"api_enabled": False, "latency_ms": 5})["latency_ms"] == 5
    assert org.get_settings()["api_enabled"] is False


def test_api_usage_counts_per_day(org: OrgData, clock: Any) -> None:
    """record_api_call counts calls per UTC day against daily_api_limit."""
    org.put_settings({"daily_api_limit": 10})
    assert org.record_api_call() == (1, 10)
    assert org.record_api_call() == (2, 10)
    assert org.api_usage() == (2, 10)
    clock.advance(days=1)
    assert org.api_usage() == (0, 10)
    assert org.record_api_call() == (1, 10)


def test_bootstrap_is_complete_and_idempotent(org: OrgData) -> None:
    """Every org has its Organization, two profiles, an admin and EmailToSalesforce."""
    user = org.find_user("ADMIN@localorg.test")
    assert user is not None
    assert user["Id"] == org.admin_user_id
    profile = _query(org, f"SELECT Name FROM Profile WHERE Id = '{user['ProfileId']}'")
    assert profile[0]["Name"] == "System Administrator"
    assert len(_query(org, "SELECT Id FROM Organization")) == 1
    assert org.find_user("nobody@example.com") is None
