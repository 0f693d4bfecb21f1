"""Benchmark the local org with the client Relay uses (simple-salesforce, one thread).

The org runs as ``relay org serve`` in its own process (its own interpreter and GIL, as
in production), on an ephemeral port in a temporary data directory. The client keeps one
HTTPS keep-alive connection. Measures single-record GET, single-record POST, and
200-record sObject Collection creates.

    .venv/bin/python bench/localorg.py [--requests 2000] [--collections 20] [--json]

Exit status 0 when single-record GET and POST both reach the target (500 requests/s).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from simple_salesforce import Salesforce

TARGET_REQUESTS_PER_SECOND = 500.0


def _timed(count: int, action: Callable[[int], Any]) -> float:
    """Seconds for ``count`` calls after a short warm-up."""
    for i in range(min(20, count)):
        action(i)
    started = time.perf_counter()
    for i in range(count):
        action(i)
    return time.perf_counter() - started


def run(requests_count: int, collections: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="relay-bench-org-") as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
        server = subprocess.Popen(
            [sys.executable, "-m", "relay", "org", "serve", "--data", str(Path(data_dir))],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        try:
            assert server.stdout is not None
            info = json.loads(server.stdout.readline())
            session = requests.Session()
            session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
            session.verify = info["ca_file"]
            sf = Salesforce(
                instance_url=info["instance_url"],
                session_id=info["access_token"],
                session=session,
                version="62.0",
            )
            task_id = sf.Task.create({"Subject": "bench"})["id"]
            get_s = _timed(requests_count, lambda _: sf.Task.get(task_id))
            post_s = _timed(requests_count, lambda i: sf.Task.create({"Subject": f"bench {i}"}))
            records = [
                {"attributes": {"type": "Task"}, "Subject": f"bench collection {i}"}
                for i in range(200)
            ]
            body = {"allOrNone": False, "records": records}
            collection_s = _timed(
                collections,
                lambda _: sf.restful("composite/sobjects", method="POST", json=body),
            )
            session.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    return {
        "get_requests_per_second": requests_count / get_s,
        "post_requests_per_second": requests_count / post_s,
        "collection_requests_per_second": collections / collection_s,
        "collection_records_per_second": collections * 200 / collection_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="single-record calls each")
    parser.add_argument("--collections", type=int, default=20, help="200-record creates")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    figures = run(args.requests, args.collections)
    if args.json:
        print(json.dumps(figures))
    else:
        print("| measure | figure |\n|---|---|")
        print(f"| single-record GET | {figures['get_requests_per_second']:.0f} req/s |")
        print(f"| single-record POST | {figures['post_requests_per_second']:.0f} req/s |")
        print(
            f"| 200-record collection create | "
            f"{figures['collection_requests_per_second']:.1f} req/s, "
            f"{figures['collection_records_per_second']:.0f} records/s |"
        )
    met = min(figures["get_requests_per_second"], figures["post_requests_per_second"])
    return 0 if met >= TARGET_REQUESTS_PER_SECOND else 1


if __name__ == "__main__":
    raise SystemExit(main())
