"""Benchmark the local org with the client Relay uses (simple-salesforce, one thread).

The org runs as ``relay org serve`` in its own process (its own interpreter and GIL, as
in production), on an ephemeral port in a temporary data directory. The client keeps one
HTTPS keep-alive connection. Measures single-record GET, single-record POST, and
200-record sObject Collection creates.

With ``--clients N`` it also runs the single-record calls from N client processes at
once (each its own interpreter and connection): with one client, the client's own
CPU (requests + simple-salesforce, ~1.5 ms a call) bounds the figure, not the org.

    .venv/bin/python bench/localorg.py [--requests 2000] [--collections 20] [--clients 2] [--json]

Exit status 0 when single-record GET and POST both reach the target (500 requests/s).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
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
from _cpu import process_cpu_seconds
from simple_salesforce import Salesforce

TARGET_REQUESTS_PER_SECOND = 500.0


def _timed(count: int, action: Callable[[int], Any], server_pid: int = 0) -> tuple[float, float]:
    """Seconds for ``count`` calls after a short warm-up, and the server's CPU ms per call
    (0 when no pid): the org's own cost, whatever the client's."""
    for i in range(min(20, count)):
        action(i)
    cpu_before = process_cpu_seconds(server_pid) if server_pid else 0.0
    started = time.perf_counter()
    for i in range(count):
        action(i)
    elapsed = time.perf_counter() - started
    cpu_ms = 1000 * (process_cpu_seconds(server_pid) - cpu_before) / count if server_pid else 0.0
    return elapsed, cpu_ms


def _client(info: dict[str, str]) -> tuple[requests.Session, Salesforce]:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    session.verify = info["ca_file"]
    sf = Salesforce(
        instance_url=info["instance_url"],
        session_id=info["access_token"],
        session=session,
        version="62.0",
    )
    return session, sf


def _client_process(info: dict[str, str], count: int, start: Any, results: Any) -> None:
    """One client of a --clients run: GETs then POSTs, timed from a shared start."""
    session, sf = _client(info)
    task_id = sf.Task.create({"Subject": "bench"})["id"]
    start.wait()
    began = time.perf_counter()
    for _ in range(count):
        sf.Task.get(task_id)
    middle = time.perf_counter()
    for i in range(count):
        sf.Task.create({"Subject": f"bench {i}"})
    results.put((middle - began, time.perf_counter() - middle))
    session.close()


def _concurrent(info: dict[str, str], clients: int, count: int) -> tuple[float, float]:
    """Aggregate GET and POST requests/s of ``clients`` processes (slowest one's time)."""
    start, results = multiprocessing.Event(), multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_client_process, args=(info, count, start, results))
        for _ in range(clients)
    ]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # every client logged in and warmed up
    start.set()
    timings = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    get_s = max(t[0] for t in timings)
    post_s = max(t[1] for t in timings)
    return clients * count / get_s, clients * count / post_s


def run(requests_count: int, collections: int, clients: int = 1) -> dict[str, float]:
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
            session, sf = _client(info)
            task_id = sf.Task.create({"Subject": "bench"})["id"]
            get_s, get_cpu_ms = _timed(requests_count, lambda _: sf.Task.get(task_id), server.pid)
            post_s, post_cpu_ms = _timed(
                requests_count, lambda i: sf.Task.create({"Subject": f"bench {i}"}), server.pid
            )
            records = [
                {"attributes": {"type": "Task"}, "Subject": f"bench collection {i}"}
                for i in range(200)
            ]
            body = {"allOrNone": False, "records": records}
            collection_s, _ = _timed(
                collections,
                lambda _: sf.restful("composite/sobjects", method="POST", json=body),
            )
            session.close()
            concurrent = (
                _concurrent(info, clients, requests_count // clients) if clients > 1 else None
            )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    figures = {
        "get_requests_per_second": requests_count / get_s,
        "post_requests_per_second": requests_count / post_s,
        "get_server_cpu_ms": get_cpu_ms,
        "post_server_cpu_ms": post_cpu_ms,
        "collection_requests_per_second": collections / collection_s,
        "collection_records_per_second": collections * 200 / collection_s,
    }
    if concurrent is not None:
        figures["clients"] = clients
        figures["concurrent_get_requests_per_second"] = concurrent[0]
        figures["concurrent_post_requests_per_second"] = concurrent[1]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="single-record calls each")
    parser.add_argument("--collections", type=int, default=20, help="200-record creates")
    parser.add_argument("--clients", type=int, default=1, help="also run N client processes")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    figures = run(args.requests, args.collections, args.clients)
    if args.json:
        print(json.dumps(figures))
    else:
        print("| measure | figure |\n|---|---|")
        print(f"| single-record GET | {figures['get_requests_per_second']:.0f} req/s |")
        print(f"| single-record POST | {figures['post_requests_per_second']:.0f} req/s |")
        for kind in ("get", "post"):
            cpu_ms = figures[f"{kind}_server_cpu_ms"]
            print(
                f"| org CPU per {kind.upper()} | {cpu_ms:.2f} ms "
                f"(capacity ~{1000 / cpu_ms:.0f} req/s per core) |"
            )
        print(
            f"| 200-record collection create | "
            f"{figures['collection_requests_per_second']:.1f} req/s, "
            f"{figures['collection_records_per_second']:.0f} records/s |"
        )
        if "clients" in figures:
            n = int(figures["clients"])
            get_n = figures["concurrent_get_requests_per_second"]
            post_n = figures["concurrent_post_requests_per_second"]
            print(f"| single-record GET, {n} clients | {get_n:.0f} req/s |")
            print(f"| single-record POST, {n} clients | {post_n:.0f} req/s |")
    met = min(figures["get_requests_per_second"], figures["post_requests_per_second"])
    return 0 if met >= TARGET_REQUESTS_PER_SECOND else 1


if __name__ == "__main__":
    raise SystemExit(main())
