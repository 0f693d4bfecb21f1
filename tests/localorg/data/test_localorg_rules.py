"""Field rules every write obeys, with Salesforce's codes, messages and fields."""

from __future__ import annotations

from typing import Any

import pytest

from relay.localorg.data import OrgData
from relay.localorg.errors import SalesforceApiError


def _fails(call: Any, *args: Any, **kwargs: Any) -> SalesforceApiError:
    with pytest.raises(SalesforceApiError) as info:
        call(*args, **kwargs)
    return info.value


def test_required_fields_listed_in_message_and_fields(org: OrgData, admin: str) -> None:
    """A Lead without LastName and Company names both, in describe order."""
    error = _fails(org.create, "Lead", {"FirstName": "Ann"}, user_id=admin)
    assert error.status == 400
    assert error.body() == [
        {
            "message": "Required fields are missing: [LastName, Company]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName", "Company"],
        }
    ]


@pytest.mark.parametrize(
    ("sobject", "missing"),
    [
        ("Account", ["Name"]),
        ("Contact", ["LastName"]),
        ("Opportunity", ["Name", "StageName", "CloseDate"]),
        (
            "User",
            [
                "Username",
                "LastName",
                "Email",
                "Alias",
                "TimeZoneSidKey",
                "LocaleSidKey",
                "EmailEncodingKey",
                "LanguageLocaleKey",
                "ProfileId",
            ],
        ),
    ],
)
def test_required_fields_per_object(
    org: OrgData, admin: str, sobject: str, missing: list[str]
) -> None:
    """Each object's required fields are enforced on create."""
    error = _fails(org.create, sobject, {}, user_id=admin)
    assert error.error_code == "REQUIRED_FIELD_MISSING"
    assert error.fields == missing


def test_clearing_a_required_field_on_update_fails(org: OrgData, admin: str) -> None:
    """Setting a required field to null on update is REQUIRED_FIELD_MISSING."""
    contact = org.create("Contact", {"LastName": "Lee"}, user_id=admin)
    error = _fails(org.update, "Contact", contact, {"LastName": None}, user_id=admin)
    assert (error.error_code, error.fields) == ("REQUIRED_FIELD_MISSING", ["LastName"])


def test_unknown_field_is_invalid_field(org: OrgData, admin: str) -> None:
    """An unknown column is INVALID_FIELD with Salesforce's message and no fields key."""
    error = _fails(org.create, "Task", {"Foo": 1}, user_id=admin)
    assert error.body() == [
        {"message": "No such column 'Foo' on sobject of type Task", "errorCode": "INVALID_FIELD"}
    ]


def test_field_names_are_case_insensitive(org: OrgData, admin: str) -> None:
    """Field names match in any case and are stored under their API name."""
    task = org.create("task", {"subject": "Hi", "STATUS": "Completed"}, user_id=admin)
    record = org.get("Task", task, ["Subject", "Status"], api_version="v60.0")
    assert (record["Subject"], record["Status"]) == ("Hi", "Completed")


def test_read_only_field_on_create(org: OrgData, admin: str) -> None:
    """Writing a derived field is INVALID_FIELD_FOR_INSERT_UPDATE naming it."""
    error = _fails(org.create, "Task", {"IsClosed": True, "AccountId": None}, user_id=admin)
    assert error.error_code == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert error.fields == ["IsClosed", "AccountId"]
    assert error.message.startswith("Unable to create/update fields: IsClosed, AccountId.")


def test_task_subtype_set_on_create_not_on_update(org: OrgData, admin: str) -> None:
    """TaskSubtype is createable but not updateable."""
    task = org.create("Task", {"Subject": "s", "TaskSubtype": "Email"}, user_id=admin)
    assert org.get("Task", task, ["TaskSubtype"], api_version="60.0")["TaskSubtype"] == "Email"
    error = _fails(org.update, "Task", task, {"TaskSubtype": "Call"}, user_id=admin)
    assert (error.error_code, error.fields) == ("INVALID_FIELD_FOR_INSERT_UPDATE", ["TaskSubtype"])


@pytest.mark.parametrize(
    ("field", "limit"), [("Subject", 255), ("Description", 32000), ("Relay_Key__c", 255)]
)
def test_string_too_long(org: OrgData, admin: str, field: str, limit: int) -> None:
    """Text longer than the field's length is STRING_TOO_LONG; exactly the limit fits."""
    org.create("Task", {field: "x" * limit}, user_id=admin)
    error = _fails(org.create, "Task", {field: "y" * (limit + 1)}, user_id=admin)
    assert (error.error_code, error.fields) == ("STRING_TOO_LONG", [field])
    assert f"(max length={limit})" in error.message


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("Status", "Waiting on someone else", "Done"),
        ("Priority", "Low", "Urgent"),
        ("TaskSubtype", "LinkedIn", "Fax"),
    ],
)
def test_restricted_picklists(org: OrgData, admin: str, field: str, good: str, bad: str) -> None:
    """Values outside a restricted picklist are INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST."""
    org.create("Task", {field: good}, user_id=admin)
    error = _fails(org.create, "Task", {field: bad}, user_id=admin)
    assert error.error_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert error.fields == [field]
    assert error.message.endswith(f"bad value for restricted picklist field: {bad}")


def test_unrestricted_picklist_accepts_any_value(org: OrgData, admin: str) -> None:
    """An unrestricted picklist (Account.Industry) takes values outside its list."""
    account = org.create("Account", {"Name": "A", "Industry": "Space"}, user_id=admin)
    assert org.get("Account", account, ["Industry"], api_version="60.0")["Industry"] == "Space"


def test_invalid_email_address(org: OrgData, admin: str) -> None:
    """An email field rejects a value that is not an address."""
    error = _fails(org.create, "Contact", {"LastName": "L", "Email": "nope"}, user_id=admin)
    assert (error.error_code, error.fields) == ("INVALID_EMAIL_ADDRESS", ["Email"])


def test_wrong_json_type_is_parser_error(org: OrgData, admin: str) -> None:
    """A non-boolean for a checkbox or a bad date is JSON_PARSER_ERROR."""
    error = _fails(
        org.create, "Contact", {"LastName": "L", "HasOptedOutOfEmail": "x"}, user_id=admin
    )
    assert error.error_code == "JSON_PARSER_ERROR"
    error = _fails(org.create, "Task", {"ActivityDate": "31/01/2024"}, user_id=admin)
    assert error.error_code == "JSON_PARSER_ERROR"


def test_values_are_normalised(org: OrgData, admin: str) -> None:
    """Datetimes become UTC with milliseconds; dates stay dates; numbers become numbers."""
    task = org.create(
        "Task",
        {
            "ReminderDateTime": "2024-01-31T12:00:00+02:00",
            "ActivityDate": "2024-01-31",
            "CallDurationInSeconds": "60",
        },
        user_id=admin,
    )
    record = org.get("Task", task, None, api_version="60.0")
    assert record["ReminderDateTime"] == "2024-01-31T10:00:00.000+0000"
    assert record["ActivityDate"] == "2024-01-31"
    assert record["CallDurationInSeconds"] == 60


def test_malformed_reference_id(org: OrgData, admin: str) -> None:
    """An ill-formed id in a lookup is MALFORMED_ID naming the field."""
    error = _fails(org.create, "Contact", {"LastName": "L", "AccountId": "12345"}, user_id=admin)
    assert error.error_code == "MALFORMED_ID"
    assert error.fields == ["AccountId"]
    assert error.message == "Account ID: id value of incorrect type: 12345"


def test_reference_to_unknown_record(org: OrgData, admin: str) -> None:
    """A well-formed id of the right object that does not exist is
    INVALID_CROSS_REFERENCE_KEY."""
    error = _fails(
        org.create, "Contact", {"LastName": "L", "AccountId": "001000000000001"}, user_id=admin
    )
    assert error.body() == [
        {
            "message": "invalid cross reference id",
            "errorCode": "INVALID_CROSS_REFERENCE_KEY",
            "fields": ["AccountId"],
        }
    ]


def test_reference_to_wrong_object(org: OrgData, admin: str) -> None:
    """A lookup given another object's id is FIELD_INTEGRITY_EXCEPTION."""
    contact = org.create("Contact", {"LastName": "L"}, user_id=admin)
    error = _fails(org.create, "Contact", {"LastName": "M", "AccountId": contact}, user_id=admin)
    assert (error.error_code, error.fields) == ("FIELD_INTEGRITY_EXCEPTION", ["AccountId"])


def test_reference_to_deleted_record(org: OrgData, admin: str) -> None:
    """A lookup to a deleted record is ENTITY_IS_DELETED."""
    account = org.create("Account", {"Name": "Gone"}, user_id=admin)
    org.delete("Account", account, user_id=admin)
    error = _fails(org.create, "Contact", {"LastName": "L", "AccountId": account}, user_id=admin)
    assert error.error_code == "ENTITY_IS_DELETED"


def test_fifteen_char_reference_is_stored_as_eighteen(org: OrgData, admin: str) -> None:
    """References accept 15-character ids and store the 18-character form."""
    account = org.create("Account", {"Name": "A"}, user_id=admin)
    contact = org.create("Contact", {"LastName": "L", "AccountId": account[:15]}, user_id=admin)
    assert org.get("Contact", contact, ["AccountId"], api_version="60.0")["AccountId"] == account


def test_duplicate_external_id(org: OrgData, admin: str) -> None:
    """A second Task with the same Relay_Key__c is DUPLICATE_VALUE naming the first."""
    first = org.create("Task", {"Relay_Key__c": "k-1"}, user_id=admin)
    error = _fails(org.create, "Task", {"Relay_Key__c": "k-1"}, user_id=admin)
    assert error.error_code == "DUPLICATE_VALUE"
    assert error.message.endswith(f"duplicates value on record with id: {first}")


def test_external_id_is_case_sensitive(org: OrgData, admin: str) -> None:
    """Relay_Key__c is case-sensitive: values differing only in case are distinct."""
    org.create("Task", {"Relay_Key__c": "Key"}, user_id=admin)
    org.create("Task", {"Relay_Key__c": "KEY"}, user_id=admin)
    assert (
        org.query("SELECT COUNT() FROM Task", include_deleted=False, api_version="60.0").total_size
        == 2
    )


def test_duplicate_username(org: OrgData, admin: str) -> None:
    """Usernames are unique regardless of case (DUPLICATE_USERNAME)."""
    profile = org.query(
        "SELECT Id FROM Profile WHERE Name = 'Standard User'",
        include_deleted=False,
        api_version="60.0",
    ).records[0]["Id"]
    user = {
        "LastName": "Rep",
        "Email": "rep@example.com",
        "Alias": "rep",
        "TimeZoneSidKey": "Europe/Paris",
        "LocaleSidKey": "fr_FR",
        "EmailEncodingKey": "UTF-8",
        "LanguageLocaleKey": "fr",
        "ProfileId": profile,
    }
    org.create("User", {**user, "Username": "rep@example.com"}, user_id=admin)
    error = _fails(org.create, "User", {**user, "Username": "REP@example.com"}, user_id=admin)
    assert error.error_code == "DUPLICATE_USERNAME"


def test_unknown_object_is_not_found(org: OrgData, admin: str) -> None:
    """An unknown sObject answers 404 NOT_FOUND."""
    error = _fails(org.create, "Widget", {"Name": "x"}, user_id=admin)
    assert (error.status, error.error_code) == (404, "NOT_FOUND")
    assert error.body() == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]


def test_object_without_create(org: OrgData, admin: str) -> None:
    """Objects the API cannot insert (Organization) refuse creates."""
    error = _fails(org.create, "Organization", {"Name": "x"}, user_id=admin)
    assert error.error_code == "INVALID_TYPE_FOR_OPERATION"


def test_failed_write_leaves_nothing(org: OrgData, admin: str) -> None:
    """A create that fails a rule stores no row and burns no visible id."""
    _fails(org.create, "Task", {"Subject": "s", "Status": "Nope"}, user_id=admin)
    assert (
        org.query("SELECT COUNT() FROM Task", include_deleted=True, api_version="60.0").total_size
        == 0
    )
