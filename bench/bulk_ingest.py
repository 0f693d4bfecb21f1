"""Bulk API 2.0 vs sObject Collections: N Tasks upserted on Relay_Key__c into the local
org with API latency, side by side in one run.

    .venv/bin/python bench/bulk_ingest.py [--tasks 20000] [--latency-ms 100] [--json]

The org runs as ``relay org serve --latency-ms N`` in its own process. Both paths use
Relay's SalesforceClient over HTTPS: ``writes.upsert_tasks`` (calls of 200, one after
another, as TaskWriter makes them) and ``bulk_ingest.upsert_tasks_bulk`` (one ingest
job with the default polling: 0.5 s first, doubling to 10 s). Each path writes its own
keys. API calls are the org's own count (``DailyApiRequests`` from ``/limits``, less the
reads of it); seconds are wall time from the first call to the last result.

A script, not a test: the figures depend on the machine. Exit 0 when the bulk path
costs at most 1 API call per 1,000 Tasks and every Task was written.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import OrgProcess, RunningOrg

from relay.config import SalesforceConfig
from relay.salesforce.bulk_ingest import upsert_tasks_bulk
from relay.salesforce.client import SalesforceClient
from relay.salesforce.writes import WriteResult, upsert_tasks

TARGET_BULK_CALLS_PER_1000 = 1.0


def _records(count: int, owner_id: str) -> list[dict[str, Any]]:
    run = uuid.uuid4().hex[:8]
    return [
        {
            "Subject": f'Email: re: "quote" {i}, part {run}',
            "Description": f"From a past mailbox, message {i}\nsecond line, with commas",
            "Status": "Completed",
            "Priority": "Normal",
            "TaskSubtype": "Email",
            "ActivityDate": "2026-09-01",
            "OwnerId": owner_id,
            "Relay_Key__c": f"{run}{i:024d}",
        }
        for i in range(count)
    ]


def _used(org: RunningOrg) -> int:
    response = org.admin.get(org.url("/services/data/v62.0/limits"))
    limits = response.json()["DailyApiRequests"]
    return int(limits["Max"] - limits["Remaining"])


def _measure(
    org: RunningOrg, write: Callable[[], Sequence[WriteResult]], count: int
) -> dict[str, float]:
    before = _used(org)
    started = time.perf_counter()
    results = write()
    seconds = time.perf_counter() - started
    calls = _used(org) - before - 1  # the second /limits read counts itself
    ok = sum(1 for r in results if r.ok)
    return {
        "seconds": round(seconds, 2),
        "tasks_per_second": round(count / seconds, 1),
        "api_calls": calls,
        "api_calls_per_1000": round(1000 * calls / count, 2),
        "written": ok,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relay-bench-bulk-") as tmp:
        process = OrgProcess(Path(tmp) / "org", latency_ms=args.latency_ms)
        try:
            org = process.start()
            config = SalesforceConfig(
                instance_url=org.info.instance_url,
                access_token=org.info.access_token,
                ca_file=Path(org.info.ca_file),
            )
            with SalesforceClient(config) as client:
                client.limits()  # log in and open the connection before timing
                rest_records = _records(args.tasks, org.info.user_id)
                bulk_records = _records(args.tasks, org.info.user_id)
                rest = _measure(org, lambda: upsert_tasks(client, rest_records), args.tasks)
                bulk = _measure(
                    org,
                    lambda: upsert_tasks_bulk(
                        client, bulk_records, external_id_field="Relay_Key__c"
                    ),
                    args.tasks,
                )
        finally:
            process.stop()
    report = {"tasks": args.tasks, "latency_ms": args.latency_ms, "rest": rest, "bulk": bulk}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.tasks} Tasks, org latency {args.latency_ms:.0f} ms")
        print(f"{'path':<22}{'seconds':>9}{'Tasks/s':>10}{'API calls':>11}{'calls/1000':>12}")
        for name, figures in (("REST collections (200)", rest), ("Bulk API 2.0 (1 job)", bulk)):
            print(
                f"{name:<22}{figures['seconds']:>9}{figures['tasks_per_second']:>10}"
                f"{figures['api_calls']:>11.0f}{figures['api_calls_per_1000']:>12}"
            )
    ok = (
        bulk["api_calls_per_1000"] <= TARGET_BULK_CALLS_PER_1000
        and bulk["written"] == args.tasks
        and rest["written"] == args.tasks
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
