"""A guard on the hot path: address lookups over 10,000 rows stay far under a millisecond
budget per query (measured ~50-900 µs on the dev machine; the bounds leave 10x slack for
a loaded CI box)."""

from __future__ import annotations

import time
from collections.abc import Callable

from simple_salesforce.format import format_soql
from soql_memory_catalog import NOW, MemoryCatalog

from relay.localorg.soql import parse_soql, run_query
from relay.localorg.soql.parser import _parse_uncached


def _lookup(i: int, size: int) -> str:
    addresses = [f"user{(i * 7 + j) % 10_000}@example.com" for j in range(size)]
    return format_soql("SELECT Id, Email FROM Contact WHERE Email IN {}", addresses)


def _mean_seconds(action: Callable[[int], None], runs: int) -> float:
    action(0)
    start = time.perf_counter()
    for i in range(runs):
        action(i)
    return (time.perf_counter() - start) / runs


def test_address_lookups_over_10000_rows_are_fast() -> None:
    """Parse + evaluate of an Email IN lookup uses the index hint and stays fast."""
    org = MemoryCatalog()
    for i in range(10_000):
        org.add("Contact", LastName=f"L{i}", Email=f"user{i}@example.com")
    result = run_query(parse_soql(_lookup(1, 5)), org, include_deleted=False, now=NOW)
    assert result.total_size == 5

    def uncached(i: int) -> None:
        run_query(_parse_uncached(_lookup(i, 5)), org, include_deleted=False, now=NOW)

    cached_text = _lookup(3, 5)

    def cached(_: int) -> None:
        run_query(parse_soql(cached_text), org, include_deleted=False, now=NOW)

    assert _mean_seconds(uncached, 100) < 0.004
    assert _mean_seconds(cached, 300) < 0.001
