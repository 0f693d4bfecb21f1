"""Replication windows: REST "sObject Get Updated" / "sObject Get Deleted" and the
Recycle Bin's 15 days. Pure functions over rows and the org's current time.

The rules, from the REST API Developer Guide ("sObject Get Updated", "sObject Get
Deleted") and the SOAP API Developer Guide (getUpdated(), getDeleted(),
"GetUpdatedResult", "GetDeletedResult"):

- ``start`` and ``end`` lose their seconds ("12:30:15 is interpreted as 12:30:00 UTC");
- ``start`` must precede ``end`` "by more than one minute" -- after dropping seconds,
  the same minute or a later one is INVALID_REPLICATION_DATE;
- results go back no more than 30 days (updated) or 15 days (deleted, "or earlier if
  an administrator has purged the Recycle Bin"); a ``start`` before that is
  INVALID_REPLICATION_DATE;
- both resources key on SystemModstamp (a deleted record's deletedDate is its
  SystemModstamp);
- ``latestDateCovered`` "is less than or equal to endDate": the org cannot cover time
  that has not happened yet, so it is ``end`` or the current minute, whichever is
  earlier. The docs' examples show exactly that: a window ending May 10 asked on May 8
  covers up to "2013-05-08T21:20:00.000+0000".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from relay.localorg.errors import data_error
from relay.localorg.records import Row
from relay.localorg.values import format_datetime

# Salesforce Help, "Recycle Bin": deleted records can be restored for 15 days; Get
# Deleted returns no more than 15 days back (REST API Developer Guide, "sObject Get
# Deleted").
RECYCLE_BIN_DAYS = 15
# REST API Developer Guide, "sObject Get Updated": "no more than 30 days previous".
REPLICATION_DAYS = 30
# The messages Salesforce answers with in practice. The first is its own wording,
# backwards as it is ("greater than endDate"); the second is the example exception
# message of the ApiEvent object (Object Reference, "ApiEvent": ExceptionMessage).
TOO_SHORT = "startDate must be at least one minute greater than endDate"
TOO_OLD = f"startDate cannot be more than {REPLICATION_DAYS} days ago"


def minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def in_recycle_window(now: datetime, row: Row) -> bool:
    """A deleted row (deleted at its SystemModstamp) stays in the bin for 15 days."""
    cutoff = format_datetime(now - timedelta(days=RECYCLE_BIN_DAYS))
    return bool(row["SystemModstamp"] >= cutoff)


def _window(now: datetime, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    low, high = minute(start), minute(end)
    if high <= low:
        raise data_error("INVALID_REPLICATION_DATE", TOO_SHORT)
    if low < minute(now) - timedelta(days=REPLICATION_DAYS):
        raise data_error("INVALID_REPLICATION_DATE", TOO_OLD)
    return low, high


def _covered(now: datetime, high: datetime) -> str:
    return format_datetime(min(high, minute(now)))


def updated(now: datetime, rows: Iterable[Row], start: datetime, end: datetime) -> dict[str, Any]:
    """``{"ids": [...], "latestDateCovered": ...}``: live rows whose SystemModstamp is
    in [start, end). Deleted rows are getDeleted's, not getUpdated's."""
    low, high = (format_datetime(t) for t in _window(now, start, end))
    ids = sorted(r["Id"] for r in rows if not r["IsDeleted"] and low <= r["SystemModstamp"] < high)
    return {"ids": ids, "latestDateCovered": _covered(now, minute(end))}


def earliest_available(now: datetime, purged_mark: str | None) -> datetime:
    """The earliest start getDeleted can answer completely: 15 days back, or just after
    the newest purged record's deletion, whichever is later ("GetDeletedResult":
    earliestDateAvailable is "the timestamp ... of the last physically deleted
    object"; the docs' example shows it to the minute)."""
    earliest = minute(now) - timedelta(days=RECYCLE_BIN_DAYS)
    if purged_mark:
        after_purge = minute(datetime.strptime(purged_mark, "%Y-%m-%dT%H:%M:%S.%f%z"))
        earliest = max(earliest, after_purge + timedelta(minutes=1))
    return earliest


def deleted(
    now: datetime,
    binned: Iterable[Row],
    start: datetime,
    end: datetime,
    purged_mark: str | None = None,
) -> dict[str, Any]:
    """The getDeleted shape for the Recycle Bin rows ``binned``. A start before
    earliestDateAvailable is INVALID_REPLICATION_DATE (SOAP API Developer Guide,
    getDeleted(): "If the purge has been performed before your getDeleted() call is
    executed, an INVALID_REPLICATION_DATE error is returned"); the message is a guess."""
    low_at, high_at = _window(now, start, end)
    earliest = earliest_available(now, purged_mark)
    if low_at < earliest:
        raise data_error(
            "INVALID_REPLICATION_DATE",
            f"startDate is before the earliest date available: {format_datetime(earliest)}",
        )
    low, high = format_datetime(low_at), format_datetime(high_at)
    found = sorted(
        (r["SystemModstamp"], r["Id"])
        for r in binned
        if r["IsDeleted"] and low <= r["SystemModstamp"] < high
    )
    return {
        "deletedRecords": [{"id": i, "deletedDate": d} for d, i in found],
        "earliestDateAvailable": format_datetime(earliest),
        "latestDateCovered": _covered(now, high_at),
    }
