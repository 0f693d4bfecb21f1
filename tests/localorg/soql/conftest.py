"""Fixtures for the SOQL tests: a small in-memory org and a runner at a fixed time."""

from __future__ import annotations

import pytest

from relay.localorg.soql import QueryResult, parse_soql, run_query
from tests.localorg.soql.soql_memory_catalog import NOW, MemoryCatalog, Run, sample_org


@pytest.fixture
def org() -> MemoryCatalog:
    """A small org: see soql_memory_catalog.sample_org."""
    return sample_org()


@pytest.fixture
def run(org: MemoryCatalog) -> Run:
    """Parse and run a query against ``org`` at the fixed NOW, API version 62.0."""

    def _run(text: str, *, include_deleted: bool = False) -> QueryResult:
        return run_query(parse_soql(text), org, include_deleted=include_deleted, now=NOW)

    return _run
