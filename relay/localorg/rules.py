"""Field-level rules every object shares: names, writability, types, lengths, picklists,
required fields. Pure functions over the schema; they raise SalesforceApiError.

Codes and messages: SOAP API Developer Guide, "StatusCode" (INVALID_FIELD,
INVALID_FIELD_FOR_INSERT_UPDATE, STRING_TOO_LONG, INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
REQUIRED_FIELD_MISSING, INVALID_EMAIL_ADDRESS). The message texts are the ones Salesforce
answers with in practice; where a text is a guess, the function says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from relay.localorg.errors import SalesforceApiError, data_error
from relay.localorg.schema_model import FieldDef, ObjectDef, label_for
from relay.localorg.values import coerce

# Loose on purpose: Salesforce accepts most RFC 5322 local parts; it rejects a missing
# "@", spaces and a domain without a dot (guess at the exact rule).
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def label(fd: FieldDef) -> str:
    return fd.label or label_for(fd.name)


def no_such_column(obj: ObjectDef, name: str) -> SalesforceApiError:
    # REST API: an unknown key in a record body is INVALID_FIELD with this message and
    # no "fields" entry.
    return SalesforceApiError(
        400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}"
    )


def check_fields(
    obj: ObjectDef, fields: Mapping[str, Any], *, creating: bool, hidden: frozenset[str]
) -> dict[str, Any]:
    """The request's fields by canonical name, coerced and checked field by field.

    ``hidden`` names fields that exist in the schema but not in this org's current
    configuration (TaskWhoIds without Shared Activities): they are unknown columns.
    """
    values: dict[str, Any] = {}
    read_only: list[str] = []
    for key, raw in fields.items():
        if key == "attributes":  # sObject Collections send {"attributes": {"type": ...}}
            continue
        fd = obj.field(key)
        if fd is None or fd.name in hidden:
            raise no_such_column(obj, key)
        if not (fd.createable if creating else fd.updateable):
            read_only.append(fd.name)
            continue
        values[fd.name] = coerce(fd, raw)
    if read_only:
        raise data_error(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(read_only)}. Please check the "
            "security settings of this field and verify that it is read/write for your "
            "profile or permission set.",
            read_only,
        )
    for name, value in values.items():
        check_value(obj.by_lower[name.lower()], value)
    return values


def check_value(fd: FieldDef, value: Any) -> None:
    """Length, restricted picklist and email format of one coerced value."""
    if value is None:
        return
    if isinstance(value, str) and fd.length and fd.type != "reference" and len(value) > fd.length:
        shown = value if len(value) <= 80 else value[:77] + "..."  # guess: SF elides too
        raise data_error(
            "STRING_TOO_LONG",
            f"{label(fd)}: data value too large: {shown} (max length={fd.length})",
            [fd.name],
        )
    if fd.restricted and value not in fd.picklist:
        raise data_error(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{label(fd)}: bad value for restricted picklist field: {value}",
            [fd.name],
        )
    if fd.type == "email" and not _EMAIL.match(value):
        raise data_error(
            "INVALID_EMAIL_ADDRESS", f"{label(fd)}: invalid email address: {value}", [fd.name]
        )


def check_required(obj: ObjectDef, row: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    """REQUIRED_FIELD_MISSING for required fields left null on create, and non-nillable
    fields set to null, in describe order: "Required fields are missing: [LastName,
    Company]". Defaulted fields are the org's to fill (triggers) and are not listed."""
    missing = [
        f.name
        for f in obj.fields
        if not f.nillable
        and not f.write_only
        and row.get(f.name) is None
        and (f.required_on_create or (f.name in values and values[f.name] is None))
    ]
    if missing:
        raise data_error(
            "REQUIRED_FIELD_MISSING",
            f"Required fields are missing: [{', '.join(missing)}]",
            missing,
        )
