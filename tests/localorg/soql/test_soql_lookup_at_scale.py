"""The hot path's shape over 10,000 rows, untimed: an address lookup reaches the catalog
as an index hint (so a catalog narrows the scan instead of reading every row), returns
exactly the matching rows, and the cached parse answers as the uncached one does. The
timing of the same lookups is bench/soql.py."""

from __future__ import annotations

from simple_salesforce.format import format_soql

from relay.localorg.soql import parse_soql, run_query
from relay.localorg.soql.parser import _parse_uncached
from tests.localorg.soql.soql_memory_catalog import NOW, MemoryCatalog

ROWS = 10_000


def _addresses(i: int, size: int) -> list[str]:
    return [f"user{(i * 7 + j) % ROWS}@example.com" for j in range(size)]


def _lookup(addresses: list[str]) -> str:
    return format_soql("SELECT Id, Email FROM Contact WHERE Email IN {}", addresses)


def _large_org() -> MemoryCatalog:
    org = MemoryCatalog()
    for i in range(ROWS):
        org.add("Contact", LastName=f"L{i}", Email=f"user{i}@example.com")
    return org


def test_address_lookup_over_10000_rows_uses_the_index_hint() -> None:
    org = _large_org()
    addresses = _addresses(1, 5)
    org.hints.clear()

    result = run_query(parse_soql(_lookup(addresses)), org, include_deleted=False, now=NOW)

    assert result.total_size == 5
    assert sorted(row["Email"] for row in result.records) == sorted(addresses)
    assert org.hints == [("Contact", {"Email": addresses})]


def test_cached_and_uncached_parses_answer_alike() -> None:
    org = _large_org()
    text = _lookup(_addresses(3, 5))

    cached = run_query(parse_soql(text), org, include_deleted=False, now=NOW)
    uncached = run_query(_parse_uncached(text), org, include_deleted=False, now=NOW)

    assert parse_soql(text) == _parse_uncached(text)
    assert cached.records == uncached.records
    assert cached.total_size == uncached.total_size == 5
