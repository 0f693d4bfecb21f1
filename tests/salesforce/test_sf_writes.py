"""Writing Tasks in batches against the local org: upsert once per key, per-record errors."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import quote_plus

import pytest
from simple_salesforce.format import format_soql

from relay.errors import NeedsAttention, RecordChanged, TemporaryError, Unprocessable
from relay.salesforce.client import SalesforceClient
from relay.salesforce.writes import (
    MAX_URI_BYTES,
    _chunks_by_uri,
    find_recent_owner_tasks,
    find_tasks_by_keys,
    upsert_tasks,
)
from tests.salesforce.sfclient_helpers import admin


def _keys(n: int, prefix: str = "k") -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"<{prefix}-{run}-{i}@mail.example>|003000000000001" for i in range(n)]


def _count_by_key(client: SalesforceClient, keys: list[str]) -> dict[str, int]:
    soql = format_soql("SELECT Relay_Key__c FROM Task WHERE Relay_Key__c IN {}", keys)
    counts = dict.fromkeys(keys, 0)
    for record in client.query_all(soql):
        counts[record["Relay_Key__c"]] += 1
    return counts


def test_upsert_twice_makes_one_task_per_key(org: Any, client: SalesforceClient) -> None:
    """The same keys written twice: created, then updated; one Task each in the org."""
    del org
    keys = _keys(3)
    first = upsert_tasks(client, [{"Subject": "first", "Relay_Key__c": k} for k in keys])
    second = upsert_tasks(client, [{"Subject": "again", "Relay_Key__c": k} for k in keys])
    assert [r.created for r in first] == [True, True, True]
    assert [r.created for r in second] == [False, False, False]
    assert [r.id for r in first] == [r.id for r in second]
    assert [r.key for r in second] == keys
    assert _count_by_key(client, keys) == dict.fromkeys(keys, 1)
    assert client.get("Task", str(first[0].id), ["Subject"])["Subject"] == "again"


def test_per_record_errors_in_a_full_batch(org: Any, client: SalesforceClient) -> None:
    """In a 200-record call, bad records fail alone, classified, and in order."""
    del org
    keys = _keys(200)
    records: list[dict[str, Any]] = [{"Subject": "ok", "Relay_Key__c": k} for k in keys]
    records[10]["TaskSubtype"] = "NotAValue"  # restricted picklist
    records[20]["WhatId"] = "006000000000000AAA"  # no such opportunity
    records[30]["Subject"] = "x" * 300  # longer than Subject's 255
    results = upsert_tasks(client, records)
    assert len(results) == 200
    assert [r.key for r in results] == keys
    failed = {i: r for i, r in enumerate(results) if not r.ok}
    assert set(failed) == {10, 20, 30}
    assert isinstance(failed[10].error, NeedsAttention)
    assert "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" in failed[10].codes
    assert isinstance(failed[20].error, RecordChanged)
    assert isinstance(failed[30].error, Unprocessable)
    assert all(r.created and r.id for i, r in enumerate(results) if i not in failed)
    counts = _count_by_key(client, keys)
    assert sum(counts.values()) == 197


def test_more_than_200_records_take_two_calls(org: Any, client: SalesforceClient) -> None:
    """250 records are written as 200 + 50, every result in the order given."""
    del org
    keys = _keys(250)
    results = upsert_tasks(client, [{"Subject": "bulk", "Relay_Key__c": k} for k in keys])
    assert [r.key for r in results] == keys
    assert all(r.ok and r.created for r in results)


def test_lock_errors_per_record_are_temporary(org: Any, client: SalesforceClient) -> None:
    """UNABLE_TO_LOCK_ROW reported per record is a temporary error for that record."""
    keys = _keys(5)
    admin(org, "PUT", "/_localorg/faults", {"UNABLE_TO_LOCK_ROW": 1.0})
    results = upsert_tasks(client, [{"Subject": "locked", "Relay_Key__c": k} for k in keys])
    assert all(isinstance(r.error, TemporaryError) for r in results)
    assert all("UNABLE_TO_LOCK_ROW" in r.codes for r in results)


def test_failed_call_fails_each_record(org: Any, client: SalesforceClient) -> None:
    """When the whole call fails after retries, every record carries that error."""
    keys = _keys(3)
    client.query("SELECT Id FROM User")
    admin(org, "PUT", "/_localorg/faults", {"503": 1.0})
    results = upsert_tasks(client, [{"Subject": "down", "Relay_Key__c": k} for k in keys])
    assert [r.key for r in results] == keys
    assert all(type(r.error) is TemporaryError for r in results)


def test_find_tasks_by_keys_across_uri_chunks(org: Any, client: SalesforceClient) -> None:
    """Looking up many long keys splits the query and finds every existing Task."""
    del org
    keys = _keys(300, prefix="a-rather-long-message-id-" + "x" * 40)
    written = upsert_tasks(client, [{"Subject": "find me", "Relay_Key__c": k} for k in keys])
    missing = _keys(50, prefix="never-written")
    found = find_tasks_by_keys(client, keys + missing)
    assert found == {r.key: r.id for r in written}


def test_uri_chunks_stay_under_the_limit() -> None:
    """Every chunk's encoded query fits in Salesforce's 16,384-byte URI."""
    template = "SELECT Id, Relay_Key__c FROM Task WHERE Relay_Key__c IN {keys}"
    keys = [f"<{i}-{'o' * 60}'quote@example.com>|003000000000001" for i in range(1000)]
    chunks = list(_chunks_by_uri(keys, template))
    assert len(chunks) > 1
    assert [k for chunk in chunks for k in chunk] == keys
    for chunk in chunks:
        query = quote_plus(format_soql(template, keys=chunk))
        assert len("https://x.my.salesforce.com/services/data/v62.0/query/?q=" + query) < (
            MAX_URI_BYTES
        )


def test_create_without_external_id_and_reconcile(org: Any, client: SalesforceClient) -> None:
    """Without an external id Tasks are created, and the rep's recent Tasks find them."""
    subject = f"Email: reconcile {uuid.uuid4().hex[:8]} o'brien"
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    records = [
        {"Subject": subject, "OwnerId": org.user_id, "Description": f"#{i}"} for i in range(3)
    ]
    results = upsert_tasks(client, records, external_id_field=None)
    assert all(r.ok and r.created and r.key is None for r in results)
    found = find_recent_owner_tasks(client, org.user_id, subject, since)
    assert sorted(t["Id"] for t in found) == sorted(str(r.id) for r in results)


def test_upsert_needs_a_key_on_every_record(client: SalesforceClient) -> None:
    """A record without its key is a programming error, refused before any call."""
    with pytest.raises(ValueError, match="Relay_Key__c"):
        upsert_tasks(client, [{"Subject": "no key"}])
