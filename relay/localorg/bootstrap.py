"""What every org has from the start (Object Reference): the Organization row,
the profiles "Standard User" and "System Administrator", an admin integration user,
the EmailServicesFunction "EmailToSalesforce", and the default TaskStatus and
TaskPriority values. Idempotent: run on every open."""

from __future__ import annotations

from typing import TYPE_CHECKING

from relay.localorg.schema import (
    TASK_CLOSED_STATUSES,
    TASK_DEFAULT_PRIORITY,
    TASK_DEFAULT_STATUS,
    TASK_HIGH_PRIORITIES,
    TASK_PRIORITIES,
    TASK_STATUSES,
)

if TYPE_CHECKING:
    from relay.localorg.data import OrgData

ADMIN_USERNAME = "admin@localorg.test"  # .test is reserved (RFC 2606): never a real mailbox
ORG_NAME = "Relay Local Org"
PROFILES = ("System Administrator", "Standard User")
EMAIL_TO_SALESFORCE = "EmailToSalesforce"
_LOCALE = {
    "TimeZoneSidKey": "America/Los_Angeles",
    "LocaleSidKey": "en_US",
    "LanguageLocaleKey": "en_US",
}


def ensure(org: OrgData) -> tuple[str, str]:
    """Create whatever is missing; returns (organization id, admin user id)."""
    with org.transaction():
        admin = org.find_user(ADMIN_USERNAME)
        admin_id = admin["Id"] if admin else org.new_id("User")
        orgs = [r for r in org.store.all("Organization") if not r["IsDeleted"]]
        if orgs:
            org_id = str(orgs[0]["Id"])
        else:
            org_id = org.system_insert(
                "Organization",
                {
                    "Name": ORG_NAME,
                    "OrganizationType": "Enterprise Edition",
                    "InstanceName": "LOCAL",  # guess: real orgs name their pod (NA123)
                    "IsSandbox": False,
                    "DefaultLocaleSidKey": "en_US",
                    "TimeZoneSidKey": _LOCALE["TimeZoneSidKey"],
                    "LanguageLocaleKey": "en_US",
                },
                user_id=admin_id,
            )["Id"]
        profile_ids = {}
        for name in PROFILES:
            found = org.live_rows("Profile", "Name", name)
            modify_all = name == "System Administrator"
            if not found:
                values = {"Name": name, "PermissionsModifyAllData": modify_all}
                profile_ids[name] = org.system_insert("Profile", values, user_id=admin_id)["Id"]
                continue
            profile_ids[name] = found[0]["Id"]
            if bool(found[0].get("PermissionsModifyAllData")) != modify_all:
                # A data directory from before the field existed.
                values = {"PermissionsModifyAllData": modify_all}
                org.system_update("Profile", found[0], values, user_id=admin_id)
        if admin is None:
            org.system_insert(
                "User",
                {
                    "Username": ADMIN_USERNAME,
                    "LastName": "Admin",
                    "FirstName": "Integration",
                    "Email": ADMIN_USERNAME,
                    "Alias": "admin",
                    "EmailEncodingKey": "UTF-8",
                    "ProfileId": profile_ids["System Administrator"],
                    **_LOCALE,
                },
                user_id=admin_id,
                record_id=admin_id,
            )
        if not org.live_rows("EmailServicesFunction", "FunctionName", EMAIL_TO_SALESFORCE):
            org.system_insert(
                "EmailServicesFunction",
                {"FunctionName": EMAIL_TO_SALESFORCE, "IsActive": True},
                user_id=admin_id,
            )
        _picklist_values(org, admin_id)
    return org_id, admin_id


def _picklist_values(org: OrgData, admin_id: str) -> None:
    """A new org's task statuses and priorities (Object Reference, Task: Status and
    Priority; TaskStatus.IsClosed, TaskPriority.IsHighPriority)."""
    for order, label in enumerate(TASK_STATUSES, start=1):
        if not org.live_rows("TaskStatus", "MasterLabel", label):
            values = {"IsClosed": label in TASK_CLOSED_STATUSES}
            _value_row(
                org, "TaskStatus", label, order, label == TASK_DEFAULT_STATUS, values, admin_id
            )
    for order, label in enumerate(TASK_PRIORITIES, start=1):
        if not org.live_rows("TaskPriority", "MasterLabel", label):
            values = {"IsHighPriority": label in TASK_HIGH_PRIORITIES}
            default = label == TASK_DEFAULT_PRIORITY
            _value_row(org, "TaskPriority", label, order, default, values, admin_id)


def _value_row(
    org: OrgData,
    sobject: str,
    label: str,
    order: int,
    default: bool,
    values: dict[str, bool],
    admin_id: str,
) -> None:
    org.system_insert(
        sobject,
        {"ApiName": label, "MasterLabel": label, "SortOrder": order, "IsDefault": default,
         **values},
        user_id=admin_id,
    )  # fmt: skip
