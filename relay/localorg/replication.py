"""Replication windows: REST "sObject Get Updated" / "sObject Get Deleted" and the
recycle bin. Pure functions over rows and the current time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from relay.localorg.errors import data_error
from relay.localorg.records import Row
from relay.localorg.values import format_datetime

# REST API Developer Guide, "sObject Get Deleted": deleted records are available for 15
# days (the recycle bin); queryAll sees them as long.
RECYCLE_BIN_DAYS = 15
# SOAP API Developer Guide, getUpdated()/getDeleted(): startDate no more than 30 days ago.
REPLICATION_DAYS = 30


def in_recycle_window(now: datetime, row: Row) -> bool:
    """A deleted row (deleted at its SystemModstamp) is visible for 15 days."""
    cutoff = format_datetime(now - timedelta(days=RECYCLE_BIN_DAYS))
    return bool(row["SystemModstamp"] >= cutoff)


def window(now: datetime, start: datetime, end: datetime) -> tuple[str, str]:
    """The [start, end) window in stored form, seconds dropped (SOAP API Developer
    Guide, getUpdated(): "the seconds portion ... is ignored"). Error texts are guesses."""
    start, end = (t.astimezone(UTC).replace(second=0, microsecond=0) for t in (start, end))
    if end < start:
        raise data_error("INVALID_REPLICATION_DATE", "EndDate can not be before StartDate")
    if start < now - timedelta(days=REPLICATION_DAYS):
        raise data_error("INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
    return format_datetime(start), format_datetime(end)


def updated(now: datetime, rows: Iterable[Row], start: datetime, end: datetime) -> dict[str, Any]:
    """``{"ids": [...], "latestDateCovered": ...}`` for live rows changed in the window."""
    low, high = window(now, start, end)
    ids = sorted(r["Id"] for r in rows if not r["IsDeleted"] and low <= r["SystemModstamp"] < high)
    return {"ids": ids, "latestDateCovered": high}


def deleted(now: datetime, rows: Iterable[Row], start: datetime, end: datetime) -> dict[str, Any]:
    """The getDeleted shape; a row's deletedDate is its SystemModstamp (SOAP API,
    "GetDeletedResult": "obtained using the SystemModstamp system field")."""
    low, high = window(now, start, end)
    found = sorted(
        (r["SystemModstamp"], r["Id"])
        for r in rows
        if r["IsDeleted"] and in_recycle_window(now, r) and low <= r["SystemModstamp"] < high
    )
    earliest = now.replace(second=0, microsecond=0) - timedelta(days=RECYCLE_BIN_DAYS)
    return {
        "deletedRecords": [{"id": i, "deletedDate": d} for d, i in found],
        "earliestDateAvailable": format_datetime(earliest),
        "latestDateCovered": high,
    }
