"""Query locators: the rest of a query result, served page by page.

REST API Developer Guide, "Execute a SOQL Query": when a result does not fit in one
batch, the response has ``"done": false`` and ``nextRecordsUrl`` such as
``/services/data/v63.0/query/01gD0000002HU6KIAW-2000``: a query locator (key prefix
``01g``) and the offset of the next record. The default batch is 2,000 records and
``Sforce-Query-Options: batchSize=N`` asks for 200 to 2,000 (REST API Developer Guide,
"Query Options Header"). Locators expire after 15 minutes unused (SOAP API Developer
Guide, "queryMore()"); we also cap how many we hold.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from relay.localorg.ids import case_safe_suffix

DEFAULT_BATCH_SIZE = 2000
MIN_BATCH_SIZE = 200
MAX_BATCH_SIZE = 2000
LOCATOR_TTL_SECONDS = 15 * 60
MAX_OPEN_LOCATORS = 256

_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True)
class _Cursor:
    records: Sequence[Mapping[str, Any]]
    total_size: int
    batch_size: int
    endpoint: str  # "query" or "queryAll"


def batch_size_from_header(header: str | None) -> int:
    """The batch size ``Sforce-Query-Options: batchSize=N`` asks for, clamped to 200..2000.

    The guide says the value is a request, not a guarantee, so out-of-range values are
    clamped rather than refused (a guess at what Salesforce does with them)."""
    if not header:
        return DEFAULT_BATCH_SIZE
    for part in header.split(","):
        name, _, value = part.partition("=")
        if name.strip().lower() == "batchsize":
            try:
                size = int(value.strip())
            except ValueError:
                return DEFAULT_BATCH_SIZE
            return max(MIN_BATCH_SIZE, min(MAX_BATCH_SIZE, size))
    return DEFAULT_BATCH_SIZE


class QueryCursors:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cursors: OrderedDict[str, tuple[float, _Cursor]] = OrderedDict()

    def first_page(
        self,
        records: Sequence[Mapping[str, Any]],
        total_size: int,
        batch_size: int,
        version: str,
        endpoint: str,
    ) -> dict[str, Any]:
        """The first page of a result, opening a locator if more pages follow."""
        if len(records) <= batch_size:
            return {"totalSize": total_size, "done": True, "records": list(records)}
        locator = self._open(_Cursor(records, total_size, batch_size, endpoint))
        page = self._page(locator, 0, version)
        assert page is not None  # just opened
        return page

    def next_page(self, locator_and_offset: str, version: str) -> dict[str, Any] | None:
        """The page at ``01g...-OFFSET``, or None if the locator is unknown or expired."""
        locator, _, offset_text = locator_and_offset.rpartition("-")
        if not locator or not offset_text.isdigit():
            return None
        return self._page(locator, int(offset_text), version)

    def _open(self, cursor: _Cursor) -> str:
        id15 = "01g" + "".join(secrets.choice(_ALNUM) for _ in range(12))
        locator = id15 + case_safe_suffix(id15)
        now = time.monotonic()
        with self._lock:
            for key, (seen, _) in list(self._cursors.items()):
                if now - seen > LOCATOR_TTL_SECONDS:
                    del self._cursors[key]
            self._cursors[locator] = (now, cursor)
            while len(self._cursors) > MAX_OPEN_LOCATORS:
                self._cursors.popitem(last=False)
        return locator

    def _page(self, locator: str, offset: int, version: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._cursors.get(locator)
            if entry is None or time.monotonic() - entry[0] > LOCATOR_TTL_SECONDS:
                return None
            cursor = entry[1]
            self._cursors[locator] = (time.monotonic(), cursor)
            self._cursors.move_to_end(locator)
        end = offset + cursor.batch_size
        page: dict[str, Any] = {
            "totalSize": cursor.total_size,
            "done": end >= len(cursor.records),
        }
        if end < len(cursor.records):
            page["nextRecordsUrl"] = f"/services/data/v{version}/{cursor.endpoint}/{locator}-{end}"
        page["records"] = list(cursor.records[offset:end])
        if page["done"]:
            with self._lock:
                self._cursors.pop(locator, None)
        return page
