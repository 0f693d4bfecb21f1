"""Record lifecycle: get, update, delete, upsert, transactions, restart, replication."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from relay.localorg.data import MultipleChoices, OrgData
from relay.localorg.errors import SalesforceApiError
from tests.localorg.data.localorg_clock import Clock

V = "60.0"


def _count(org: OrgData, soql: str, *, deleted: bool = False) -> int:
    return org.query(soql, include_deleted=deleted, api_version=V).total_size


def test_get_returns_rest_record_shape(org: OrgData, admin: str, clock: Clock) -> None:
    """GET returns attributes then every field, audit fields filled from the caller."""
    account = org.create("Account", {"Name": "Acme"}, user_id=admin)
    record = org.get("Account", account, None, api_version="v58.0")
    assert record["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v58.0/sobjects/Account/{account}",
    }
    assert list(record)[:2] == ["attributes", "Id"]
    assert record["Id"] == account
    assert len(account) == 18
    assert account.startswith("001")
    assert record["OwnerId"] == record["CreatedById"] == record["LastModifiedById"] == admin
    assert record["CreatedDate"] == "2024-03-01T12:00:00.000+0000"
    assert record["SystemModstamp"] == record["LastModifiedDate"] == record["CreatedDate"]
    assert record["IsDeleted"] is False
    assert record["Description"] is None


def test_get_selected_fields_always_has_id(org: OrgData, admin: str) -> None:
    """GET with fields returns those fields plus Id; an unknown field is INVALID_FIELD."""
    account = org.create("Account", {"Name": "Acme"}, user_id=admin)
    assert org.get("Account", account, ["name"], api_version=V) == {
        "attributes": {"type": "Account", "url": f"/services/data/v{V}/sobjects/Account/{account}"},
        "Name": "Acme",
        "Id": account,
    }
    with pytest.raises(SalesforceApiError) as info:
        org.get("Account", account, ["Nope"], api_version=V)
    assert info.value.error_code == "INVALID_FIELD"


@pytest.mark.parametrize("operation", ["get", "update", "delete"])
def test_ids_by_url(org: OrgData, admin: str, operation: str) -> None:
    """By-id calls: ill-formed -> MALFORMED_ID; another object's or unknown -> 404."""
    contact = org.create("Contact", {"LastName": "L"}, user_id=admin)

    def call(record_id: str) -> None:
        if operation == "get":
            org.get("Account", record_id, None, api_version=V)
        elif operation == "update":
            org.update("Account", record_id, {"Name": "x"}, user_id=admin)
        else:
            org.delete("Account", record_id, user_id=admin)

    for record_id, status, code in [
        ("bogus", 400, "MALFORMED_ID"),
        (contact, 404, "NOT_FOUND"),
        ("001000000000009AAA", 404, "NOT_FOUND"),
    ]:
        with pytest.raises(SalesforceApiError) as info:
            call(record_id)
        assert (info.value.status, info.value.error_code) == (status, code)


def test_update_changes_fields_and_audit(org: OrgData, admin: str, clock: Clock) -> None:
    """PATCH changes only the given fields and moves LastModifiedDate/SystemModstamp."""
    contact = org.create("Contact", {"LastName": "Lee", "Email": "a@x.com"}, user_id=admin)
    clock.advance(minutes=5)
    org.update("Contact", contact[:15], {"FirstName": "Ann"}, user_id=admin)
    record = org.get("Contact", contact, None, api_version=V)
    assert (record["FirstName"], record["LastName"], record["Name"]) == ("Ann", "Lee", "Ann Lee")
    assert record["Email"] == "a@x.com"
    assert record["LastModifiedDate"] == "2024-03-01T12:05:00.000+0000"
    assert record["CreatedDate"] == "2024-03-01T12:00:00.000+0000"


def test_soft_delete_and_query_all_window(org: OrgData, admin: str, clock: Clock) -> None:
    """Deleted rows vanish from query and GET, stay in queryAll for 15 days, then go."""
    task = org.create("Task", {"Subject": "gone"}, user_id=admin)
    org.delete("Task", task, user_id=admin)
    assert _count(org, "SELECT COUNT() FROM Task") == 0
    rows = org.query("SELECT Id, IsDeleted FROM Task", include_deleted=True, api_version=V)
    assert [(r["Id"], r["IsDeleted"]) for r in rows.records] == [(task, True)]
    with pytest.raises(SalesforceApiError) as info:
        org.get("Task", task, None, api_version=V)
    assert info.value.status == 404
    clock.advance(days=14, hours=23)
    assert _count(org, "SELECT COUNT() FROM Task", deleted=True) == 1
    clock.advance(hours=2)
    assert _count(org, "SELECT COUNT() FROM Task", deleted=True) == 0


def test_delete_twice_is_entity_is_deleted(org: OrgData, admin: str) -> None:
    """Deleting or updating a deleted record is ENTITY_IS_DELETED."""
    task = org.create("Task", {}, user_id=admin)
    org.delete("Task", task, user_id=admin)
    for call in (
        lambda: org.delete("Task", task, user_id=admin),
        lambda: org.update("Task", task, {"Subject": "x"}, user_id=admin),
    ):
        with pytest.raises(SalesforceApiError) as info:
            call()
        assert (info.value.status, info.value.error_code) == (404, "ENTITY_IS_DELETED")


def test_delete_cascades_to_children(org: OrgData, admin: str) -> None:
    """Deleting an opportunity deletes its contact roles."""
    contact = org.create("Contact", {"LastName": "L"}, user_id=admin)
    deal = org.create(
        "Opportunity",
        {"Name": "D", "StageName": "Prospecting", "CloseDate": "2024-05-01"},
        user_id=admin,
    )
    org.create(
        "OpportunityContactRole", {"OpportunityId": deal, "ContactId": contact}, user_id=admin
    )
    org.delete("Opportunity", deal, user_id=admin)
    assert _count(org, "SELECT COUNT() FROM OpportunityContactRole") == 0


def test_upsert_creates_then_updates(org: OrgData, admin: str) -> None:
    """Upsert by external id creates on first use and updates after (id, created)."""
    task_id, created = org.upsert("Task", "Relay_Key__c", "m1:c1", {"Subject": "a"}, user_id=admin)
    assert created
    again, created = org.upsert("Task", "relay_key__c", "m1:c1", {"Subject": "b"}, user_id=admin)
    assert (again, created) == (task_id, False)
    assert org.get("Task", task_id, ["Subject"], api_version=V)["Subject"] == "b"
    other, created = org.upsert("Task", "Relay_Key__c", "M1:C1", {}, user_id=admin)
    assert created
    assert other != task_id


def test_upsert_rejects_non_external_id_field(org: OrgData, admin: str) -> None:
    """Upsert on a field that is not an external id is 404 NOT_FOUND."""
    with pytest.raises(SalesforceApiError) as info:
        org.upsert("Task", "Subject", "x", {}, user_id=admin)
    assert (info.value.status, info.value.error_code) == (404, "NOT_FOUND")


def test_upsert_with_several_matches_is_300(org: OrgData, admin: str) -> None:
    """Upsert on a non-unique id-lookup field matching two rows is MULTIPLE_CHOICES."""
    profile = org.find_user("admin@localorg.test")
    assert profile is not None
    base = {
        "LastName": "R",
        "Email": "r@example.com",
        "Alias": "r",
        "TimeZoneSidKey": "GMT",
        "LocaleSidKey": "en_US",
        "EmailEncodingKey": "UTF-8",
        "LanguageLocaleKey": "en_US",
        "ProfileId": profile["ProfileId"],
        "FederationIdentifier": "fed",
    }
    first = org.create("User", {**base, "Username": "r1@example.com"}, user_id=admin)
    second = org.create("User", {**base, "Username": "r2@example.com"}, user_id=admin)
    with pytest.raises(MultipleChoices) as info:
        org.upsert("User", "FederationIdentifier", "fed", {"Title": "x"}, user_id=admin)
    assert info.value.status == 300
    assert info.value.ids == [first, second]


def test_transaction_rolls_back_everything(org: OrgData, admin: str) -> None:
    """A failure inside transaction() undoes every write made inside it."""
    kept = org.create("Account", {"Name": "Kept"}, user_id=admin)

    def batch() -> None:
        with org.transaction():
            org.create("Account", {"Name": "Rolled back"}, user_id=admin)
            org.update("Account", kept, {"Name": "Changed"}, user_id=admin)
            org.create("Account", {}, user_id=admin)

    with pytest.raises(SalesforceApiError):
        batch()
    names = org.query("SELECT Name FROM Account", include_deleted=True, api_version=V)
    assert [r["Name"] for r in names.records] == ["Kept"]


def test_nested_transaction_rolls_back_inner_only(org: OrgData, admin: str) -> None:
    """A failed inner transaction (savepoint) keeps the outer one's writes."""

    def inner() -> None:
        with org.transaction():
            org.create("Account", {"Name": "Inner"}, user_id=admin)
            org.create("Account", {}, user_id=admin)

    with org.transaction():
        org.create("Account", {"Name": "Outer"}, user_id=admin)
        with pytest.raises(SalesforceApiError):
            inner()
    names = org.query("SELECT Name FROM Account", include_deleted=True, api_version=V)
    assert [r["Name"] for r in names.records] == ["Outer"]


def test_restart_keeps_records_and_ids(org_path: Path, clock: Clock) -> None:
    """Records, settings and usage survive a restart; new ids continue after old ones."""
    first = OrgData(org_path, clock=clock)
    admin = first.admin_user_id
    account = first.create("Account", {"Name": "Durable"}, user_id=admin)
    first.put_settings({"shared_activities": False, "custom_switch": 3})
    first.record_api_call()
    first.close()
    second = OrgData(org_path, clock=clock)
    try:
        assert second.admin_user_id == admin
        assert second.get("Account", account, ["Name"], api_version=V)["Name"] == "Durable"
        assert second.create("Account", {"Name": "Next"}, user_id=admin) > account
        assert second.get_settings()["custom_switch"] == 3
        assert second.api_usage()[0] == 1
        assert _count(second, "SELECT COUNT() FROM Profile") == 2
    finally:
        second.close()


def test_updated_window(org: OrgData, admin: str, clock: Clock) -> None:
    """getUpdated lists ids changed in [start, end), seconds ignored, deleted excluded."""
    start = clock()
    early = org.create("Task", {}, user_id=admin)
    clock.advance(minutes=10)
    late = org.create("Task", {}, user_id=admin)
    gone = org.create("Task", {}, user_id=admin)
    org.delete("Task", gone, user_id=admin)
    clock.advance(minutes=1)
    result = org.updated("Task", start, start + timedelta(minutes=5, seconds=30))
    assert result == {"ids": [early], "latestDateCovered": "2024-03-01T12:05:00.000+0000"}
    assert org.updated("Task", start, clock())["ids"] == [early, late]


def test_deleted_window(org: OrgData, admin: str, clock: Clock) -> None:
    """getDeleted lists deletions in the window with their dates, for 15 days."""
    task = org.create("Task", {}, user_id=admin)
    clock.advance(minutes=2)
    org.delete("Task", task, user_id=admin)
    start = clock() - timedelta(hours=1)
    result = org.deleted("Task", start, clock() + timedelta(minutes=1))
    assert result["deletedRecords"] == [{"id": task, "deletedDate": "2024-03-01T12:02:00.000+0000"}]
    assert result["earliestDateAvailable"] == "2024-02-15T12:02:00.000+0000"
    # The end is a minute ahead: the org covers only up to its current minute.
    assert result["latestDateCovered"] == "2024-03-01T12:02:00.000+0000"


def test_replication_window_errors(org: OrgData, clock: Clock) -> None:
    """An end before the start, or a start over 30 days ago, is INVALID_REPLICATION_DATE."""
    for start, end in [
        (clock(), clock() - timedelta(hours=1)),
        (clock() - timedelta(days=31), clock()),
    ]:
        with pytest.raises(SalesforceApiError) as info:
            org.updated("Account", start, end)
        assert info.value.error_code == "INVALID_REPLICATION_DATE"
