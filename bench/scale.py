"""Scale benchmark: SMTP-to-Task throughput for 1 node on SQLite, 1 node on
PostgreSQL and 2 nodes on PostgreSQL, in one run, against one local org with 100 ms of
API latency.

    RELAY_TEST_POSTGRES_URL=postgresql://... .venv/bin/python bench/scale.py \
        [--messages 3000] [--latency-ms 100] [--connections 8] [--rounds 2] \
        [--node-cpus 0.5]

Each configuration gets a fresh store (a new SQLite file; a new PostgreSQL schema) and
the same org; the client spreads its connections evenly over the nodes. Throughput is
the number of Tasks divided by the time from the first SMTP send to the last Task's
CreatedDate. The client is bench/_smtp_load.py (messages rendered before the clock
starts), so that the client is not what is measured.

Every round runs each configuration twice: with each node held to ``--node-cpus`` CPUs
(a cgroup quota, see bench/_cpu.py: nodes of one size, as on hosts of their own), and
unrestricted (everything shares this machine's cores). The verdict uses the first,
because on a machine with few cores the second measures the machine, not the nodes; the
CPU seconds per email of each process are printed for both, to show which one bounds a
run. Without root (no cgroup) only the unrestricted runs happen, and the verdict says so.

Targets: PostgreSQL single >= 0.7 x SQLite single; 2 nodes >= 1.6 x 1 node (PostgreSQL),
each on the best of the rounds. A script, not a test. Exit 0 when both targets are met.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cpu import CpuLimitUnavailable, CpuMeter, cpu_groups, postgres_pids
from _harness import (
    LOG,
    REP,
    OrgProcess,
    RunningOrg,
    api_calls,
    make_messages,
    postgres_schema,
    running_nodes,
    seed_customers,
    wait_for_tasks,
)
from _smtp_load import send_all, to_wire

CONFIGURATIONS = (("sqlite-1", 1), ("postgres-1", 1), ("postgres-2", 2))


@dataclass(frozen=True)
class Measure:
    emails_per_second: float
    calls_per_email: float
    cpu_ms_per_email: dict[str, float]

    def line(self) -> str:
        cpu = ", ".join(f"{role} {ms:.2f}" for role, ms in self.cpu_ms_per_email.items())
        return (
            f"{self.emails_per_second:.1f} emails/s, {self.calls_per_email:.4f} API calls "
            f"per email; CPU ms per email: {cpu}"
        )


def measure(
    org: RunningOrg,
    org_pid: int,
    base: Path,
    customers: list[str],
    nodes: int,
    store: str | None,
    node_cpus: float | None,
    args: argparse.Namespace,
) -> Measure:
    run = uuid.uuid4().hex[:6]
    messages = make_messages(args.messages, customers, nodes, run)
    # Message n goes to node n % nodes, over that node's share of the connections.
    wires = [[to_wire(m.raw(), REP, [LOG]) for m in messages[k::nodes]] for k in range(nodes)]
    env = org.env() | ({"RELAY_STORE_URL": store} if store else {})
    homes = [base / f"{run}-node{i}" for i in range(nodes)]
    with ExitStack() as stack:
        groups = stack.enter_context(cpu_groups(nodes, node_cpus)) if node_cpus else []
        running = stack.enter_context(running_nodes(homes, env))
        for group, node in zip(groups, running, strict=False):
            assert node.serve.process is not None
            group.add(node.serve.process.pid)
        time.sleep(1.0)  # start-up reads done
        node_pids = [n.serve.process.pid for n in running if n.serve.process is not None]
        meter = CpuMeter(
            {
                "nodes": lambda: node_pids,
                "postgres": postgres_pids if store else list,
                "org": lambda: [org_pid],
                "client": lambda: [os.getpid()],
            }
        )
        calls_before = sum(api_calls(n) for n in running)
        meter.start()
        started = time.time()
        with ThreadPoolExecutor(nodes) as pool:
            connections = max(1, args.connections // nodes)
            sends = [
                pool.submit(send_all, wires[k], running[k].serve.smtp_port, connections)
                for k in range(nodes)
            ]
            for send in sends:
                send.result()  # raises what a sender raised
        created = wait_for_tasks(org, messages, f"Chaos {run} ", timeout=600)
        cpu = meter.stop()
        calls = sum(api_calls(n) for n in running) - calls_before
    if len(created) < len(messages):
        print(f"  WARNING: {len(messages) - len(created)} messages have no Task")
    return Measure(
        len(created) / (max(created.values()) - started),
        calls / len(messages),
        {role: 1000 * seconds / len(messages) for role, seconds in cpu.items()},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--node-cpus", type=float, default=0.5, help="CPU quota per node; 0: none")
    args = parser.parse_args()
    postgres = os.environ.get("RELAY_TEST_POSTGRES_URL")
    if not postgres:
        print("bench/scale.py needs PostgreSQL: set RELAY_TEST_POSTGRES_URL", file=sys.stderr)
        return 2
    modes: list[float | None] = [None]
    if args.node_cpus:
        try:
            with cpu_groups(1, args.node_cpus):
                modes.insert(0, args.node_cpus)
        except CpuLimitUnavailable as error:
            print(f"no CPU quota per node ({error}); unrestricted runs only", flush=True)
    results: dict[tuple[float | None, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="relay-bench-scale-") as tmp:
        base = Path(tmp)
        customers = sorted(seed_customers(base / "org", 200))
        org_process = OrgProcess(base / "org", latency_ms=args.latency_ms)
        try:
            org = org_process.start()
            assert org_process.process is not None
            for round_ in range(args.rounds):
                for mode in modes:
                    label = f"{mode} CPU per node" if mode else "unrestricted"
                    for name, nodes in CONFIGURATIONS:
                        with ExitStack() as stack:
                            store = None
                            if name.startswith("postgres"):
                                store = stack.enter_context(postgres_schema(postgres))
                            result = measure(
                                org, org_process.process.pid, base, customers, nodes, store,
                                mode, args,
                            )  # fmt: skip
                        results.setdefault((mode, name), []).append(result.emails_per_second)
                        print(f"round {round_ + 1} {label} {name}: {result.line()}", flush=True)
        finally:
            org_process.stop()
    return verdict(results, modes)


def verdict(results: dict[tuple[float | None, str], list[float]], modes: list[float | None]) -> int:
    met = False
    for mode in modes:
        best = {name: max(results[(mode, name)]) for name, _ in CONFIGURATIONS}
        pg_vs_sqlite = best["postgres-1"] / best["sqlite-1"]
        two_vs_one = best["postgres-2"] / best["postgres-1"]
        label = f"each node held to {mode} CPU" if mode else "unrestricted"
        judged = mode is modes[0]
        print(
            f"{label}{' (the verdict)' if judged else ''}: best SQLite 1 node "
            f"{best['sqlite-1']:.1f}/s, PostgreSQL 1 node {best['postgres-1']:.1f}/s, "
            f"PostgreSQL 2 nodes {best['postgres-2']:.1f}/s; PostgreSQL/SQLite "
            f"{pg_vs_sqlite:.2f} (target >= 0.7), 2 nodes/1 node {two_vs_one:.2f} "
            "(target >= 1.6)"
        )
        if judged:
            met = pg_vs_sqlite >= 0.7 and two_vs_one >= 1.6
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
