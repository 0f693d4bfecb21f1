"""ORDER BY: stable multi-key sorting with Salesforce's null placement and string case.

SOQL and SOSL Reference, "ORDER BY": ASC is the default; nulls come first for ASC and last
for DESC unless NULLS FIRST/LAST says otherwise. Text sorts case-insensitively (the
reference says sort order follows the user's locale; we fold case, a simplification).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from relay.localorg.soql.ast import OrderItem
from relay.localorg.soql.resolve import NUMBER_TYPES, Row

SortKey = tuple[Callable[[Row], Any], str, OrderItem]


def _comparable(field_type: str) -> Callable[[Any], Any]:
    if field_type in NUMBER_TYPES:
        return float
    return lambda value: value.casefold() if isinstance(value, str) else value


def sort_rows(rows: list[Row], keys: Sequence[SortKey]) -> list[Row]:
    """``rows`` sorted by ``keys``: one stable pass per key, least significant first."""
    for getter, field_type, item in reversed(keys):
        convert = _comparable(field_type)
        present: list[tuple[Any, Row]] = []
        nulls: list[Row] = []
        for row in rows:
            value = getter(row)
            if value is None:
                nulls.append(row)
            else:
                present.append((convert(value), row))
        # reverse=True keeps equal keys in their previous order, so passes compose.
        present.sort(key=lambda pair: pair[0], reverse=item.descending)
        ordered = [row for _, row in present]
        rows = nulls + ordered if item.effective_nulls_first else ordered + nulls
    return rows
