"""The shape of the local org's schema: field and object definitions, and their builders.

Field properties follow the describe result (REST API Developer Guide, "sObject Describe";
SOAP API Developer Guide, "DescribeSObjectResult" / "Field"): ``createable``,
``updateable``, ``nillable``, ``defaultedOnCreate``, ``externalId``, ``unique``,
``caseSensitive``, ``idLookup``, restricted picklists and ``referenceTo``.
A field is *required on create* when it is createable, not nillable and not defaulted on
create: that is how describe tells clients which fields they must send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

# SOAP API Developer Guide, "Core Data Types" / "Field Types": describe type -> soapType.
SOAP_TYPES: dict[str, str] = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "string": "xsd:string",
    "textarea": "xsd:string",
    "email": "xsd:string",
    "phone": "xsd:string",
    "url": "xsd:string",
    "picklist": "xsd:string",
    "combobox": "xsd:string",
    "base64": "xsd:base64Binary",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "junctionidlist": "tns:JunctionIdListNames",
}
TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "picklist", "combobox"})


@dataclass(frozen=True)
class FieldDef:
    """One field of an sObject, with its describe properties."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    defaulted_on_create: bool = False
    default: Any = None
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    id_lookup: bool = False
    name_field: bool = False
    custom: bool = False
    precision: int = 0
    scale: int = 0
    # Not a stored column (Task.TaskWhoIds): accepted on write, never returned.
    write_only: bool = False

    @property
    def required_on_create(self) -> bool:
        return self.createable and not self.nillable and not self.defaulted_on_create

    @property
    def filterable(self) -> bool:
        return self.type not in ("textarea", "base64", "junctionidlist")

    @property
    def sortable(self) -> bool:
        return self.filterable


@dataclass(frozen=True)
class ObjectDef:
    """One sObject: its fields in describe order, keyed case-insensitively."""

    name: str
    key_prefix: str
    fields: tuple[FieldDef, ...]
    label: str = ""
    label_plural: str = ""
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    queryable: bool = True
    custom: bool = False
    by_lower: dict[str, FieldDef] = field(default_factory=dict, compare=False, repr=False)
    by_relationship: dict[str, FieldDef] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_lower.update({f.name.lower(): f for f in self.fields})
        self.by_relationship.update(
            {f.relationship_name.lower(): f for f in self.fields if f.relationship_name}
        )

    def field(self, name: str) -> FieldDef | None:
        return self.by_lower.get(name.lower())

    def with_fields(self, extra: tuple[FieldDef, ...]) -> ObjectDef:
        return replace(self, fields=self.fields + extra, by_lower={}, by_relationship={})


def label_for(name: str) -> str:
    """A readable label from an API name ("LastModifiedById" -> "Last Modified By ID")."""
    base = name.removesuffix("__c")
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", base).replace("_", " ")
    return re.sub(r"\bId\b", "ID", words)


# Builders: a compact way to write the standard objects in schema.py.


def text(name: str, length: int, **kw: Any) -> FieldDef:
    return FieldDef(name, kw.pop("type", "string"), length=length, **kw)


def required(f: FieldDef) -> FieldDef:
    return replace(f, nillable=False)


def readonly(f: FieldDef) -> FieldDef:
    return replace(f, createable=False, updateable=False)


def create_only(f: FieldDef) -> FieldDef:
    """Settable on create, never updated (describe: createable, not updateable)."""
    return replace(f, updateable=False)


def pick(name: str, values: tuple[str, ...], *, restricted: bool = False, **kw: Any) -> FieldDef:
    return FieldDef(name, "picklist", length=255, picklist=values, restricted=restricted, **kw)


def boolean(name: str, default: bool = False, **kw: Any) -> FieldDef:
    # Booleans are never nillable and default on create (describe of any boolean field).
    return FieldDef(
        name, "boolean", nillable=False, defaulted_on_create=True, default=default, **kw
    )


def ref(name: str, targets: tuple[str, ...], relationship: str | None, **kw: Any) -> FieldDef:
    return FieldDef(
        name, "reference", length=18, reference_to=targets, relationship_name=relationship, **kw
    )


def scalar(name: str, type_: str, **kw: Any) -> FieldDef:
    return FieldDef(name, type_, **kw)


def system_fields(owner: bool = True) -> tuple[FieldDef, ...]:
    """Id, OwnerId and the audit fields every object here has (Object Reference,
    "System Fields")."""
    fields = [
        FieldDef(
            "Id",
            "id",
            length=18,
            createable=False,
            updateable=False,
            nillable=False,
            defaulted_on_create=True,
            id_lookup=True,
        ),
        readonly(boolean("IsDeleted")),
    ]
    if owner:
        fields.append(ref("OwnerId", ("User",), "Owner", nillable=False, defaulted_on_create=True))
    fields += [
        readonly(FieldDef("CreatedDate", "datetime", nillable=False, defaulted_on_create=True)),
        readonly(
            ref("CreatedById", ("User",), "CreatedBy", nillable=False, defaulted_on_create=True)
        ),
        readonly(
            FieldDef("LastModifiedDate", "datetime", nillable=False, defaulted_on_create=True)
        ),
        readonly(
            ref(
                "LastModifiedById",
                ("User",),
                "LastModifiedBy",
                nillable=False,
                defaulted_on_create=True,
            )
        ),
        readonly(FieldDef("SystemModstamp", "datetime", nillable=False, defaulted_on_create=True)),
    ]
    return tuple(fields)
