"""A small, realistic sample org for trying Relay and for tests (``relay org seed --sample``).

A company (``acme-widgets.example``) with three reps; customers Globex and Initech with
contacts (one address has an apostrophe); an open lead and a converted one; an open and a
closed-won opportunity with contact roles; and an Email-to-Salesforce address for Alice.

Idempotent: every record is looked up by a natural key first (a user's Username, an
account's Name, a person's Email, an opportunity's Name, ...) and created only if
missing, so running it twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from relay.localorg.data import OrgData
from relay.localorg.state import LATEST_VERSION

COMPANY_DOMAIN = "acme-widgets.example"

REPS: tuple[dict[str, str], ...] = (
    {"FirstName": "Alice", "LastName": "Nguyen", "Alias": "anguyen", "Title": "Account Executive"},
    {"FirstName": "Bob", "LastName": "Okafor", "Alias": "bokafor", "Title": "Account Executive"},
    {"FirstName": "Carmen", "LastName": "Reyes", "Alias": "creyes", "Title": "Sales Manager"},
)
ACCOUNTS: tuple[dict[str, Any], ...] = (
    {"Name": "Globex Corporation", "Website": "https://globex.example", "Industry": "Technology"},
    {"Name": "Initech", "Website": "https://initech.example", "Industry": "Finance"},
)
_GLOBEX, _INITECH = "Globex Corporation", "Initech"
CONTACTS: tuple[dict[str, Any], ...] = (
    {"FirstName": "Hank", "LastName": "Scorpio", "Email": "hank@globex.example",
     "_account": _GLOBEX},
    {"FirstName": "Mindy", "LastName": "Simmons", "Email": "mindy@globex.example",
     "_account": _GLOBEX},
    {"FirstName": "Peter", "LastName": "Gibbons", "Email": "peter@initech.example",
     "_account": _INITECH},
    {"FirstName": "Michael", "LastName": "O'Brien", "Email": "o'brien@initech.example",
     "_account": _INITECH},
)  # fmt: skip
LEADS: tuple[dict[str, Any], ...] = (
    {
        "FirstName": "Jane",
        "LastName": "Prospect",
        "Email": "jane@newco.example",
        "Company": "NewCo",
    },
    {
        "FirstName": "Lee",
        "LastName": "Convert",
        "Email": "lee@convertco.example",
        "Company": "ConvertCo",
    },
)
CONVERTED_LEAD_EMAIL = "lee@convertco.example"
OPPORTUNITIES: tuple[dict[str, Any], ...] = (
    {"Name": "Globex - Widget Rollout", "StageName": "Prospecting", "CloseDate": "2027-03-31",
     "Amount": 120000, "_account": "Globex Corporation", "_contact": "hank@globex.example",
     "_role": "Decision Maker"},
    {"Name": "Initech - 2026 Renewal", "StageName": "Closed Won", "CloseDate": "2026-06-30",
     "Amount": 45000, "_account": "Initech", "_contact": "peter@initech.example",
     "_role": "Economic Buyer"},
)  # fmt: skip
# Email-to-Salesforce addresses look like emailtosalesforce@<random>.<pod>.le.salesforce.com;
# the local org generates EmailDomainName itself.
ALICE_LOCAL_PART = "emailtosalesforce"


@dataclass(frozen=True)
class SampleOrg:
    """Ids of the sample records, by natural key."""

    users: Mapping[str, str] = field(default_factory=dict)  # email -> id
    accounts: Mapping[str, str] = field(default_factory=dict)  # name -> id
    contacts: Mapping[str, str] = field(default_factory=dict)  # email -> id
    leads: Mapping[str, str] = field(default_factory=dict)  # email -> id
    opportunities: Mapping[str, str] = field(default_factory=dict)  # name -> id
    email_services_address: str = ""

    def summary(self) -> dict[str, int]:
        return {
            "users": len(self.users),
            "accounts": len(self.accounts),
            "contacts": len(self.contacts),
            "leads": len(self.leads),
            "opportunities": len(self.opportunities),
        }


def rep_email(rep: Mapping[str, str]) -> str:
    return f"{rep['FirstName'].lower()}@{COMPANY_DOMAIN}"


def soql_quote(value: str) -> str:
    """A SOQL string literal (SOQL and SOSL Reference, "Quoted String Escape Sequences")."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _find(data: OrgData, sobject: str, field_name: str, value: str) -> str | None:
    result = data.query(
        f"SELECT Id FROM {sobject} WHERE {field_name} = {soql_quote(value)}",  # noqa: S608
        include_deleted=False,
        api_version=LATEST_VERSION,
    )
    return str(result.records[0]["Id"]) if result.records else None


def _ensure(data: OrgData, sobject: str, key: str, values: dict[str, Any]) -> str:
    existing = _find(data, sobject, key, str(values[key]))
    if existing is not None:
        return existing
    return data.create(sobject, values, user_id=data.admin_user_id)


def seed_sample(data: OrgData) -> SampleOrg:
    """Load the sample org into ``data``; safe to run again."""
    profile = _find(data, "Profile", "Name", "Standard User")
    users = {}
    for rep in REPS:
        email = rep_email(rep)
        users[email] = _ensure(
            data,
            "User",
            "Username",
            {
                **rep,
                "Username": email,
                "Email": email,
                "TimeZoneSidKey": "America/New_York",
                "LocaleSidKey": "en_US",
                "EmailEncodingKey": "UTF-8",
                "LanguageLocaleKey": "en_US",
                "ProfileId": profile,
                "CompanyName": "Acme Widgets",
            },
        )
    owner = users[rep_email(REPS[0])]
    accounts = {
        a["Name"]: _ensure(data, "Account", "Name", {**a, "OwnerId": owner}) for a in ACCOUNTS
    }
    contacts = {}
    for contact in CONTACTS:
        values = {k: v for k, v in contact.items() if not k.startswith("_")}
        values |= {"AccountId": accounts[contact["_account"]], "OwnerId": owner}
        contacts[contact["Email"]] = _ensure(data, "Contact", "Email", values)
    leads = {
        lead["Email"]: _ensure(data, "Lead", "Email", {**lead, "OwnerId": owner}) for lead in LEADS
    }
    converted = data.get(
        "Lead", leads[CONVERTED_LEAD_EMAIL], ["IsConverted"], api_version=LATEST_VERSION
    )
    if not converted.get("IsConverted"):
        data.convert_lead(leads[CONVERTED_LEAD_EMAIL], user_id=data.admin_user_id)
    opportunities = {}
    for opp in OPPORTUNITIES:
        values = {k: v for k, v in opp.items() if not k.startswith("_")}
        values |= {"AccountId": accounts[opp["_account"]], "OwnerId": owner}
        opp_id = _ensure(data, "Opportunity", "Name", values)
        opportunities[opp["Name"]] = opp_id
        contact_id = contacts[opp["_contact"]]
        # SOQL, not SQL: every value goes through soql_quote.
        where = f"OpportunityId = {soql_quote(opp_id)} AND ContactId = {soql_quote(contact_id)}"
        roles = data.query(
            f"SELECT Id FROM OpportunityContactRole WHERE {where}",  # noqa: S608
            include_deleted=False,
            api_version=LATEST_VERSION,
        )
        if not roles.records:
            data.create(
                "OpportunityContactRole",
                {
                    "OpportunityId": opp_id,
                    "ContactId": contact_id,
                    "Role": opp["_role"],
                    "IsPrimary": True,
                },
                user_id=data.admin_user_id,
            )
    function_id = _find(data, "EmailServicesFunction", "FunctionName", "EmailToSalesforce")
    alice = users[rep_email(REPS[0])]
    address = _find(data, "EmailServicesAddress", "RunAsUserId", alice)
    if address is None:
        address = data.create(
            "EmailServicesAddress",
            {"LocalPart": ALICE_LOCAL_PART, "RunAsUserId": alice, "FunctionId": function_id},
            user_id=data.admin_user_id,
        )
    return SampleOrg(users, accounts, contacts, leads, opportunities, address)
