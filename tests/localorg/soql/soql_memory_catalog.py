"""A small in-memory SoqlCatalog: a test double of the seam, not a mock of Salesforce.

It holds a handful of Accounts, Contacts, Leads, Opportunities, contact roles, Users and
Tasks (with polymorphic Who/What), and honours the ``equals`` hint through a per-field
index, as the local org's real catalog may.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from relay.localorg.soql import FieldInfo, QueryResult, Relationship, case_safe_suffix

# A query runner: run(text, include_deleted=False) -> QueryResult (the `run` fixture).
Run = Callable[..., QueryResult]

# Wednesday 13 March 2024, 15:00 UTC: THIS_WEEK is Sun 10 - Sat 16 March.
NOW = datetime(2024, 3, 13, 15, 0, tzinfo=UTC)

PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Opportunity": "006",
    "OpportunityContactRole": "00K",
    "User": "005",
    "Task": "00T",
}

_COMMON = [
    FieldInfo("Id", "id"),
    FieldInfo("IsDeleted", "boolean"),
    FieldInfo("CreatedDate", "datetime"),
]
_OWNER = [FieldInfo("OwnerId", "reference")]
_LONG_TEXT = FieldInfo("Description", "textarea", filterable=False, sortable=False)

SCHEMA: dict[str, list[FieldInfo]] = {
    "Account": [*_COMMON, *_OWNER, FieldInfo("Name", "string"), _LONG_TEXT],
    "Contact": [
        *_COMMON,
        *_OWNER,
        FieldInfo("FirstName", "string"),
        FieldInfo("LastName", "string"),
        FieldInfo("Name", "string"),
        FieldInfo("Email", "email"),
        FieldInfo("AccountId", "reference"),
        FieldInfo("Birthdate", "date"),
        _LONG_TEXT,
    ],
    "Lead": [
        *_COMMON,
        *_OWNER,
        FieldInfo("Name", "string"),
        FieldInfo("Email", "email"),
        FieldInfo("IsConverted", "boolean"),
    ],
    "Opportunity": [
        *_COMMON,
        *_OWNER,
        FieldInfo("Name", "string"),
        FieldInfo("StageName", "picklist"),
        FieldInfo("IsClosed", "boolean"),
        FieldInfo("Amount", "currency"),
        FieldInfo("CloseDate", "date"),
        FieldInfo("AccountId", "reference"),
    ],
    "OpportunityContactRole": [
        *_COMMON,
        FieldInfo("OpportunityId", "reference"),
        FieldInfo("ContactId", "reference"),
        FieldInfo("IsPrimary", "boolean"),
        FieldInfo("Role", "picklist"),
    ],
    "User": [
        *_COMMON,
        FieldInfo("Name", "string"),
        FieldInfo("Email", "email"),
        FieldInfo("Username", "string"),
    ],
    "Task": [
        *_COMMON,
        *_OWNER,
        FieldInfo("Subject", "string"),
        FieldInfo("WhoId", "reference"),
        FieldInfo("WhatId", "reference"),
        FieldInfo("ActivityDate", "date"),
        FieldInfo("Relay_Key__c", "string", case_sensitive=True),
    ],
}

_OWNER_REL = Relationship("Owner", "OwnerId", ("User",))
RELATIONSHIPS: dict[str, list[Relationship]] = {
    "Account": [_OWNER_REL],
    "Contact": [_OWNER_REL, Relationship("Account", "AccountId", ("Account",))],
    "Lead": [_OWNER_REL],
    "Opportunity": [_OWNER_REL, Relationship("Account", "AccountId", ("Account",))],
    "OpportunityContactRole": [
        Relationship("Opportunity", "OpportunityId", ("Opportunity",)),
        Relationship("Contact", "ContactId", ("Contact",)),
    ],
    "User": [],
    "Task": [
        _OWNER_REL,
        Relationship("Who", "WhoId", ("Contact", "Lead")),
        Relationship("What", "WhatId", ("Account", "Opportunity")),
    ],
}


class MemoryCatalog:
    """Rows in lists, with a case-insensitive index per (object, field) for hints."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = {name: [] for name in SCHEMA}
        self.hints: list[tuple[str, dict[str, list[Any]] | None]] = []
        self._counter = itertools.count(1)
        self._indexes: dict[tuple[str, str], dict[Any, list[dict[str, Any]]]] = {}

    def add(self, sobject: str, **values: Any) -> str:
        # Mixed-case ids, so that the case-safe suffix matters.
        id15 = f"{PREFIXES[sobject]}aB{next(self._counter):010d}"
        row = {field.name: None for field in SCHEMA[sobject]}
        row.update(Id=id15 + case_safe_suffix(id15), IsDeleted=False)
        row.update(CreatedDate="2024-03-01T09:00:00.000+0000")
        row.update(values)
        self.tables[sobject].append(row)
        self._indexes.clear()
        return str(row["Id"])

    def object_name(self, name: str) -> str | None:
        return next((obj for obj in SCHEMA if obj.lower() == name.lower()), None)

    def field(self, sobject: str, name: str) -> FieldInfo | None:
        return next((f for f in SCHEMA[sobject] if f.name.lower() == name.lower()), None)

    def relationship(self, sobject: str, name: str) -> Relationship | None:
        rels = RELATIONSHIPS[sobject]
        return next((r for r in rels if r.name.lower() == name.lower()), None)

    def rows(
        self,
        sobject: str,
        include_deleted: bool,
        equals: Mapping[str, Iterable[Any]] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        self.hints.append(
            (sobject, None if equals is None else {k: list(v) for k, v in equals.items()})
        )
        rows: Iterable[dict[str, Any]] = self.tables[sobject]
        if equals:
            field, values = next(iter(equals.items()))
            index = self._index(sobject, field)
            found: dict[int, dict[str, Any]] = {}
            for value in values:
                for row in index.get(_fold(value), []):
                    found[id(row)] = row
            rows = list(found.values())
        return [row for row in rows if include_deleted or not row["IsDeleted"]]

    def _index(self, sobject: str, field: str) -> dict[Any, list[dict[str, Any]]]:
        key = (sobject, field)
        if key not in self._indexes:
            index: dict[Any, list[dict[str, Any]]] = {}
            for row in self.tables[sobject]:
                index.setdefault(_fold(row.get(field)), []).append(row)
            self._indexes[key] = index
        return self._indexes[key]

    def get(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        return next((row for row in self.tables[sobject] if row["Id"] == record_id), None)

    def object_for_id(self, record_id: str) -> str | None:
        return next((obj for obj, p in PREFIXES.items() if record_id.startswith(p)), None)


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def sample_org() -> MemoryCatalog:
    """A small org: two accounts, contacts (one with a quote and one with a backslash in
    the address), a lead, opportunities with contact roles, a user and tasks."""
    org = MemoryCatalog()
    ada = org.add("User", Name="Ada Admin", Email="ada@corp.example", Username="ada@corp")
    acme = org.add("Account", Name="Acme", OwnerId=ada, Description="big")
    org.add("Account", Name="globex", OwnerId=ada)
    alice = org.add(
        "Contact",
        FirstName="Alice",
        LastName="Able",
        Name="Alice Able",
        Email="Alice@Acme.example",
        AccountId=acme,
        OwnerId=ada,
        Birthdate="1990-05-01",
        CreatedDate="2024-03-13T08:00:00.000+0000",
    )
    obrien = org.add(
        "Contact",
        LastName="O'Brien",
        Name="Pat O'Brien",
        Email="o'brien@example.com",
        OwnerId=ada,
        CreatedDate="2024-03-12T23:59:59.000+0000",
    )
    org.add(
        "Contact",
        LastName="Back",
        Name="Bo Back",
        Email="back\\slash@example.com",
        AccountId=acme,
        CreatedDate="2024-02-20T10:00:00.000+0000",
    )
    org.add("Contact", LastName="Gone", Name="Gil Gone", Email="gone@example.com", IsDeleted=True)
    lead = org.add("Lead", Name="Lee Lead", Email="lee@lead.example", OwnerId=ada)
    open_opp = org.add(
        "Opportunity",
        Name="Acme renewal",
        StageName="Prospecting",
        IsClosed=False,
        Amount=1000.0,
        CloseDate="2024-03-20",
        AccountId=acme,
        OwnerId=ada,
    )
    won = org.add(
        "Opportunity",
        Name="Acme pilot",
        StageName="Closed Won",
        IsClosed=True,
        Amount=250.5,
        CloseDate="2024-02-10",
        AccountId=acme,
        OwnerId=ada,
    )
    org.add("OpportunityContactRole", OpportunityId=open_opp, ContactId=alice, IsPrimary=True)
    org.add("OpportunityContactRole", OpportunityId=won, ContactId=obrien, IsPrimary=False)
    org.add("Task", Subject="Call", WhoId=alice, WhatId=open_opp, OwnerId=ada, Relay_Key__c="Key-A")
    org.add("Task", Subject="Email", WhoId=lead, OwnerId=ada, ActivityDate="2024-03-12")
    org.add("Task", Subject="Note", WhatId=acme, OwnerId=ada, ActivityDate="2024-03-14")
    return org
