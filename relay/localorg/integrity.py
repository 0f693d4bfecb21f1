"""Integrity rules across records: references, uniqueness, external-id matching.

Codes: SOAP API Developer Guide, "StatusCode". Where the exact text is a guess from
observed behaviour, the function says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from relay.localorg.errors import data_error
from relay.localorg.ids import object_for_id
from relay.localorg.records import Row
from relay.localorg.rules import label
from relay.localorg.schema_model import FieldDef, ObjectDef

if TYPE_CHECKING:
    from relay.localorg.data import OrgData


def matching(org: OrgData, obj: ObjectDef, fd: FieldDef, value: Any) -> list[Row]:
    """Live rows whose ``fd`` equals ``value``, honouring the field's case sensitivity."""
    rows = org.live_rows(obj.name, fd.name, value)
    if fd.case_sensitive:
        rows = [r for r in rows if r.get(fd.name) == value]
    return rows


def check_references(org: OrgData, obj: ObjectDef, values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        fd = obj.by_lower[name.lower()]
        if fd.type == "reference" and value is not None:
            referenced(org, fd, value)


def referenced(org: OrgData, fd: FieldDef, record_id: str) -> Row:
    """The live row a reference field points at, or the error Salesforce gives.

    Guesses from observed behaviour: an id of an object the field cannot point at is
    FIELD_INTEGRITY_EXCEPTION "... id value of incorrect type"; an unknown id of the
    right object is INVALID_CROSS_REFERENCE_KEY; a deleted one ENTITY_IS_DELETED; a
    converted lead CANNOT_UPDATE_CONVERTED_LEAD (Object Reference, Lead).
    """
    target = object_for_id(record_id)
    if target not in fd.reference_to:
        raise data_error(
            "FIELD_INTEGRITY_EXCEPTION",
            f"{label(fd)}: id value of incorrect type: {record_id}",
            [fd.name],
        )
    row = org.store.get(target, record_id)
    if row is None:
        raise data_error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [fd.name])
    if row["IsDeleted"]:
        raise data_error("ENTITY_IS_DELETED", "entity is deleted", [fd.name])
    if target == "Lead" and row.get("IsConverted"):
        raise data_error(
            "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [fd.name]
        )
    return row


def check_unique(org: OrgData, obj: ObjectDef, row: Row) -> None:
    for fd in obj.fields:
        value = row.get(fd.name)
        if not fd.unique or value is None:
            continue
        for other in matching(org, obj, fd, value):
            if other["Id"] != row["Id"]:
                if obj.name == "User" and fd.name == "Username":
                    raise data_error(
                        "DUPLICATE_USERNAME",
                        "Duplicate Username.<br>The username already exists in this or "
                        "another Salesforce organization. Usernames must be unique across "
                        "all Salesforce organizations.",
                        ["Username"],
                    )
                raise data_error(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {fd.name} duplicates value on record with "
                    f"id: {other['Id']}",
                    [],
                )
