"""Lead conversion (SOAP API Developer Guide, convertLead())."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from relay.localorg.errors import data_error
from relay.localorg.schema import LEAD_CONVERTED_STATUS
from relay.localorg.values import coerce, format_datetime

if TYPE_CHECKING:
    from relay.localorg.data import OrgData


def convert_lead(
    org: OrgData, lead_id: str, *, user_id: str, contact_id: str | None, account_id: str | None
) -> dict[str, Any]:
    """SOAP API Developer Guide, convertLead(): an existing account and contact may be
    given; otherwise they are created from the lead. The lead's activities move to the
    contact. No opportunity is created (doNotCreateOpportunity)."""
    lead_def = org.schema["Lead"]
    with org.transaction():
        lead = org._existing(lead_def, lead_id)
        if lead.get("IsConverted"):
            raise data_error("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
        contact_def = org.schema["Contact"]
        reports_to, account_field = (
            contact_def.by_lower["reportstoid"],
            contact_def.by_lower["accountid"],
        )
        contact = org.referenced(reports_to, coerce(reports_to, contact_id)) if contact_id else None
        if account_id:
            account = org.referenced(account_field, coerce(account_field, account_id))["Id"]
        elif contact is not None and contact.get("AccountId"):
            account = contact["AccountId"]
        else:
            account = org.system_insert(
                "Account", {"Name": lead["Company"], "OwnerId": lead["OwnerId"]}, user_id=user_id
            )["Id"]
        if contact is None:
            copied = {
                k: lead.get(k)
                for k in (
                    "FirstName",
                    "LastName",
                    "Salutation",
                    "Email",
                    "Phone",
                    "MobilePhone",
                    "Title",
                    "LeadSource",
                )
            }
            contact = org.system_insert(
                "Contact",
                {**copied, "AccountId": account, "OwnerId": lead["OwnerId"]},
                user_id=user_id,
            )
        for task in org.live_rows("Task", "WhoId", lead["Id"]):
            org.system_update("Task", task, {"WhoId": contact["Id"]}, user_id=user_id)
        stamp = org.now()
        org.store.put(
            "Lead",
            {
                **lead,
                "IsConverted": True,
                "ConvertedContactId": contact["Id"],
                "ConvertedAccountId": account,
                "ConvertedDate": stamp.date().isoformat(),
                "Status": LEAD_CONVERTED_STATUS,
                "LastModifiedById": user_id,
                "LastModifiedDate": format_datetime(stamp),
                "SystemModstamp": format_datetime(stamp),
            },
        )
    return {
        "leadId": lead["Id"],
        "accountId": account,
        "contactId": contact["Id"],
        "opportunityId": None,
        "success": True,
    }
