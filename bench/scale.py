"""Scale benchmark (issue 7): SMTP-to-Task throughput for 1 node on SQLite, 1 node on
PostgreSQL and 2 nodes on PostgreSQL, in one run, against one local org with 100 ms of
API latency.

    RELAY_TEST_POSTGRES_URL=postgresql://... .venv/bin/python bench/scale.py \
        [--messages 1500] [--latency-ms 100] [--connections 8] [--rounds 1]

Each configuration gets a fresh store (a new SQLite file; a new PostgreSQL schema) and
the same org; the senders spread their connections over the nodes. Throughput is the
number of Tasks divided by the time from the first SMTP send to the last Task's
CreatedDate. Targets: PostgreSQL single >= 0.7 x SQLite single; 2 nodes >= 1.6 x 1 node
(PostgreSQL). A script, not a test. Exit 0 when both targets are met.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    Org,
    OrgProcess,
    api_calls,
    make_messages,
    postgres_schema,
    running_nodes,
    seed_customers,
    send_messages,
    wait_for_tasks,
)


def throughput(
    org: Org,
    base: Path,
    customers: list[str],
    nodes: int,
    store: str | None,
    args: argparse.Namespace,
) -> tuple[float, float]:
    """Emails/s and API calls per email for one configuration."""
    run = uuid.uuid4().hex[:6]
    messages = make_messages(args.messages, customers, nodes, run)
    env = org.env() | ({"RELAY_STORE_URL": store} if store else {})
    homes = [base / f"{run}-node{i}" for i in range(nodes)]
    with running_nodes(homes, env) as running:
        time.sleep(1.0)  # start-up reads done
        before = sum(api_calls(n) for n in running)
        started = time.time()
        send_messages(messages, lambda w: running[w % nodes].port(), connections=args.connections)
        created = wait_for_tasks(org, messages, f"Chaos {run} ", timeout=600)
        calls = sum(api_calls(n) for n in running) - before
    if len(created) < len(messages):
        print(f"  WARNING: {len(messages) - len(created)} messages have no Task")
    return len(created) / (max(created.values()) - started), calls / len(messages)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1500)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    postgres = os.environ.get("RELAY_TEST_POSTGRES_URL")
    if not postgres:
        print("bench/scale.py needs PostgreSQL: set RELAY_TEST_POSTGRES_URL", file=sys.stderr)
        return 2
    results: dict[str, list[float]] = {"sqlite-1": [], "postgres-1": [], "postgres-2": []}
    with tempfile.TemporaryDirectory(prefix="relay-bench-scale-") as tmp:
        base = Path(tmp)
        customers = sorted(seed_customers(base / "org", 200))
        org_process = OrgProcess(base / "org", latency_ms=args.latency_ms)
        try:
            org = org_process.start()
            for round_ in range(args.rounds):
                for name, nodes in (("sqlite-1", 1), ("postgres-1", 1), ("postgres-2", 2)):
                    with ExitStack() as stack:
                        store = None
                        if name.startswith("postgres"):
                            store = stack.enter_context(postgres_schema(postgres))
                        rate, per_email = throughput(org, base, customers, nodes, store, args)
                    results[name].append(rate)
                    print(
                        f"round {round_ + 1} {name}: {rate:.1f} emails/s, "
                        f"{per_email:.4f} API calls per email",
                        flush=True,
                    )
        finally:
            org_process.stop()
    best = {name: max(rates) for name, rates in results.items()}
    pg_vs_sqlite = best["postgres-1"] / best["sqlite-1"]
    two_vs_one = best["postgres-2"] / best["postgres-1"]
    print(
        f"best: SQLite 1 node {best['sqlite-1']:.1f}/s, PostgreSQL 1 node "
        f"{best['postgres-1']:.1f}/s, PostgreSQL 2 nodes {best['postgres-2']:.1f}/s"
    )
    print(f"PostgreSQL/SQLite {pg_vs_sqlite:.2f} (target >= 0.7)")
    print(f"2 nodes/1 node {two_vs_one:.2f} (target >= 1.6)")
    return 0 if pg_vs_sqlite >= 0.7 and two_vs_one >= 1.6 else 1


if __name__ == "__main__":
    sys.exit(main())
