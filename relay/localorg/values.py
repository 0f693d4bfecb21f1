"""Field values: from request JSON to the stored, JSON-ready form, per describe type.

Stored values are exactly what the REST API returns (REST API Developer Guide, "Valid
Date and DateTime Formats"; SOAP API Developer Guide, "Core Data Types"): text as
``str``, dates ``YYYY-MM-DD``, datetimes ``YYYY-MM-DDTHH:MM:SS.sss+0000`` in UTC,
booleans as ``bool``, numbers as ``int``/``float``, ids in the 18-character form.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, date, datetime
from typing import Any

from relay.localorg.errors import SalesforceApiError, data_error
from relay.localorg.ids import normalize_id
from relay.localorg.schema_model import TEXT_TYPES, FieldDef, label_for

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


def format_datetime(moment: datetime) -> str:
    """The REST form of a datetime: UTC, milliseconds, ``+0000``."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime | None:
    """A datetime from the ISO 8601 forms Salesforce accepts, or None. A value without a
    zone is taken as UTC (REST API Developer Guide, "Valid Date and DateTime Formats")."""
    match = _DATETIME.match(text.strip())
    if not match:
        return None
    day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    iso = f"{day}T{hour}:{minute}:{second or '00'}"
    if zone and zone != "Z":
        zone = zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
        iso += zone
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.replace(microsecond=micro).astimezone(UTC)


def _parser_error(fd: FieldDef, value: Any, java_type: str) -> SalesforceApiError:
    # REST API: a value of the wrong JSON type is a JSON_PARSER_ERROR naming the Java
    # type; the exact wording varies by release (guess at its shape).
    return SalesforceApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {java_type} from {type(value).__name__} value "
        f"{value!r} or request may be missing a required field",
    )


def _as_text(fd: FieldDef, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise _parser_error(fd, value, "string")


def _as_number(fd: FieldDef, value: Any) -> int | float:
    if isinstance(value, bool):
        raise _parser_error(fd, value, "double")
    if isinstance(value, str):
        try:
            value = float(value) if fd.type != "int" else int(value)
        except ValueError:
            raise _parser_error(fd, value, "double") from None
    if not isinstance(value, int | float):
        raise _parser_error(fd, value, "double")
    if fd.type == "int":
        if isinstance(value, float) and not value.is_integer():
            raise _parser_error(fd, value, "int")
        return int(value)
    return float(value)


def coerce(fd: FieldDef, value: Any) -> Any:
    """The stored form of ``value`` for field ``fd``; raises SalesforceApiError."""
    if value is None:
        return None
    kind = fd.type
    if kind in TEXT_TYPES:
        return _as_text(fd, value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _parser_error(fd, value, "boolean")
    if kind in ("int", "double", "currency", "percent"):
        return _as_number(fd, value)
    if kind == "date":
        return _as_date(fd, value)
    if kind == "datetime":
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            raise _parser_error(fd, value, "java.util.Date")
        return format_datetime(parsed)
    if kind in ("reference", "id"):
        record_id = normalize_id(value)
        if record_id is None:
            # Common Salesforce answer for a bad id in a lookup field (seen in the wild:
            # "Account ID: id value of incorrect type: 12345"); the label is the field's.
            raise data_error(
                "MALFORMED_ID",
                f"{fd.label or label_for(fd.name)}: id value of incorrect type: {value}",
                [fd.name],
            )
        return record_id
    if kind == "base64":
        return _as_base64(fd, value)
    if kind == "junctionidlist":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _parser_error(fd, value, "JunctionIdList")
        return list(value)
    raise AssertionError(f"unhandled field type {kind}")


def _as_date(fd: FieldDef, value: Any) -> str:
    if isinstance(value, str):
        if _DATE.match(value):
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        else:
            # Guess: a datetime sent to a date field keeps its (UTC) date.
            parsed = parse_datetime(value)
            if parsed is not None:
                return parsed.date().isoformat()
    raise _parser_error(fd, value, "java.util.Date")


def _as_base64(fd: FieldDef, value: Any) -> str:
    if not isinstance(value, str):
        raise _parser_error(fd, value, "base64")
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _parser_error(fd, value, "base64") from None
    return value
