"""Pipeline benchmark: SMTP -> store -> runners -> the local org with 100 ms
of API latency, against a naive per-email path on the same org.

    .venv/bin/python bench/pipeline.py [--messages 2000] [--rate 20] [--paced-seconds 30]
        [--latency-ms 100] [--connections 8] [--naive 300]

Phases, in one run against one `relay org serve --latency-ms N` and one `relay serve`
(SQLite, its defaults):
1. idle: one email on an idle relay; API calls it cost (relay's /metrics).
2. load: ``--messages`` emails as fast as 8 SMTP connections send them; emails/s from the
   first send to the last Task's CreatedDate, API calls per email, 250-to-Task p50/p99.
3. paced: ``--rate`` emails/s for ``--paced-seconds``; 250-to-Task p50/p99 (target p99
   <= 2 s at 20/s).
4. naive: ``--naive`` emails through simple-salesforce with the same concurrency, one
   lookup query and one Task create per email; the throughput and API-call ratios.

Latency is the Task's CreatedDate (the org's commit, ms) minus the client's 250 time.
A script, not a test: the figures depend on the machine. Exit 0 when every target is met.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    REP,
    OrgProcess,
    Outgoing,
    RunningOrg,
    api_calls,
    latencies,
    make_messages,
    percentile,
    running_nodes,
    seed_customers,
    send_messages,
    wait_for_tasks,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--paced-seconds", type=float, default=30.0)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--naive", type=int, default=300)
    parser.add_argument("--customers", type=int, default=200)
    args = parser.parse_args()
    clock = time.time() - time.monotonic()  # SendLog keeps monotonic times
    with tempfile.TemporaryDirectory(prefix="relay-bench-pipeline-") as tmp:
        base = Path(tmp)
        contacts = seed_customers(base / "org", args.customers)
        org_process = OrgProcess(base / "org", latency_ms=args.latency_ms)
        try:
            org = org_process.start()
            with running_nodes([base / "node"], org.env()) as (node,):
                ok = run(args, org, node, contacts, clock)
        finally:
            org_process.stop()
    return 0 if ok else 1


def phase(
    org: RunningOrg,
    node: object,
    messages: list[Outgoing],
    prefix: str,
    clock: float,
    *,
    connections: int,
    per_second: float | None = None,
) -> tuple[float, float, list[float]]:
    """Send, wait for every Task; returns (emails/s, API calls, latencies)."""
    before = api_calls(node)  # type: ignore[arg-type]
    started = time.time()
    log = send_messages(
        messages,
        lambda _w: node.port(),
        connections=connections,
        per_second=per_second,  # type: ignore[attr-defined]
    )
    created = wait_for_tasks(org, messages, prefix, timeout=600)
    time.sleep(1.0)  # let the runner finish its bookkeeping calls, if any
    calls = api_calls(node) - before  # type: ignore[arg-type]
    acked = {n: t + clock for n, t in log.acked.items()}
    missing = len(messages) - len(created)
    if missing:
        print(f"  WARNING: {missing} messages have no Task")
    rate = len(created) / (max(created.values()) - started) if created else 0.0
    return rate, calls, latencies(acked, created)


def run(
    args: argparse.Namespace, org: RunningOrg, node: object, contacts: dict[str, str], clock: float
) -> bool:
    customers = sorted(contacts)
    run_id = uuid.uuid4().hex[:6]
    print(
        f"org latency {args.latency_ms:.0f} ms; relay serve on SQLite; "
        f"{args.connections} SMTP connections"
    )

    time.sleep(2.0)  # idle: start-up reads are done
    idle = make_messages(1, customers, 1, f"{run_id}i")
    _, idle_calls, idle_latency = phase(org, node, idle, f"Chaos {run_id}i ", clock, connections=1)
    print(
        f"idle single email: {idle_calls:.0f} API calls, "
        f"250-to-Task {idle_latency[0]:.3f} s (target <= 3 calls)"
    )

    load = make_messages(args.messages, customers, 2, f"{run_id}l")
    rate, load_calls, load_latency = phase(
        org, node, load, f"Chaos {run_id}l ", clock, connections=args.connections
    )
    per_email = load_calls / len(load)
    print(
        f"load {len(load)} emails: {rate:.1f} emails/s, {load_calls:.0f} API calls = "
        f"{per_email:.4f} per email (target <= 0.05); 250-to-Task p50 "
        f"{percentile(load_latency, 0.5):.3f} s, p99 {percentile(load_latency, 0.99):.3f} s"
    )

    paced_count = int(args.rate * args.paced_seconds)
    paced = make_messages(paced_count, customers, 3, f"{run_id}p")
    paced_rate, paced_calls, paced_latency = phase(
        org, node, paced, f"Chaos {run_id}p ", clock, connections=4, per_second=args.rate
    )
    p99 = percentile(paced_latency, 0.99)
    print(
        f"paced {args.rate:.0f}/s x {args.paced_seconds:.0f} s ({paced_count} emails): "
        f"{paced_rate:.1f} emails/s, {paced_calls / paced_count:.3f} API calls per email; "
        f"250-to-Task p50 {percentile(paced_latency, 0.5):.3f} s, p99 {p99:.3f} s (target <= 2 s)"
    )

    naive_rate, naive_calls = naive_path(org, customers, args.naive, args.connections, run_id)
    print(
        f"naive per-email path ({args.naive} emails, {args.connections} threads): "
        f"{naive_rate:.1f} emails/s, {naive_calls:.1f} API calls per email"
    )
    print(
        f"relay / naive: throughput x{rate / naive_rate:.1f}, "
        f"API calls per email x{per_email / naive_calls:.4f} (naive uses "
        f"{naive_calls / per_email:.0f}x more calls)"
    )
    return idle_calls <= 3 and per_email <= 0.05 and p99 <= 2.0


def naive_path(
    org: RunningOrg, customers: list[str], count: int, threads: int, run_id: str
) -> tuple[float, float]:
    """One SOQL lookup of the email's contacts and one Task create, per email."""
    messages = make_messages(count, customers, 4, f"{run_id}n")
    user = org.sf().query(f"SELECT Id FROM User WHERE Username = '{REP}'")["records"][0]["Id"]
    work = list(messages)
    lock = threading.Lock()
    calls = [0]

    def worker() -> None:
        sf = org.sf()
        while True:
            with lock:
                if not work:
                    return
                message = work.pop()
            quoted = ", ".join(f"'{address}'" for address in message.contacts)
            found = sf.query(f"SELECT Id FROM Contact WHERE Email IN ({quoted})")["records"]
            sf.Task.create(
                {"Subject": "Email: " + message.subject, "WhoId": found[0]["Id"],
                 "OwnerId": user, "Status": "Completed", "Description": "naive"}
            )  # fmt: skip
            with lock:
                calls[0] += 2

    started = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return count / (time.monotonic() - started), calls[0] / count


if __name__ == "__main__":
    sys.exit(main())
