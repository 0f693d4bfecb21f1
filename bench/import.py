"""Import benchmark: `relay import` of an mbox into the local org with 100 ms of API
latency, through `relay serve`'s workers, REST and Bulk API 2.0 side by side, with live
mail arriving meanwhile.

    .venv/bin/python bench/import.py [--messages 20000] [--small 2000] [--latency-ms 100]
        [--live-rate 2] [--workers N] [--bulk-only] [--keep-log FILE]

Phases, in one run against one `relay org serve --latency-ms N` and one `relay serve`
(SQLite, its defaults, ``--workers`` if given):
1. idle live: ``--live-rate`` emails/s over SMTP for 45 s on an idle relay; 250-to-Task
   p50/p99 (to the message's ``logged`` state change, right after its Task's write).
2. small import: an mbox of ``--small`` messages; messages/s, API calls per 1,000
   messages, peak RSS of the `relay import` process.
3. import: an mbox of ``--messages`` messages, with live mail at ``--live-rate``/s all
   along; the same figures, and the live 250-to-Task p50/p99 (target: p99 within 2x
   the idle one). Peak RSS of phases 2 and 3 side by side: flat whatever the file size
   (the mbox is streamed).
4. Bulk API 2.0: a second `relay serve` with its defaults (the import lane gathers
   ``RELAY_PIPELINE_IMPORT_BULK_ROWS`` Tasks into one ingest job) and a fresh mbox of
   ``--messages``, live mail meanwhile: the same figures side by side with phase 3,
   the write calls (the ``calls`` of each ``bulk_job_done`` event in its log: the Task
   jobs and the TaskRelation jobs that add the other Contacts of Tasks with several,
   plus the ``calls`` of each ``task_people_set``, the REST calls that complete the
   people of a Task an earlier attempt wrote) apart from all its calls (directory
   lookups and live mail included),
   the workers' peak RSS (they hold the gathered plans until the job), and where the
   live emails' time went: sent during a gathered write or not, and how much of each
   came before its claim.

``--bulk-only`` runs phase 1 and phase 4 only, both on phase 4's relay serve (quicker,
to compare changes); ``--keep-log FILE`` keeps phase 4's relay serve log.

Phases 1-3 run the REST path as the lane did before gathering:
``RELAY_PIPELINE_IMPORT_BULK_ROWS=1`` writes each claimed slice of 100 on its own.

messages/s is the import's read count over its wall time from start to the end of
delivery (the command waits until every message it queued is delivered). API calls are
relay serve's /metrics counter (every call to Salesforce, live mail included: the live
emails add about 2 calls each). Exit status 0 when every target was met (live p99 within
2x idle in both imports; for Bulk API 2.0 also >= 300 messages/s and <= 1 write call per
1,000 messages). A script, not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import mailbox
import os
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    LOG,
    REP,
    Node,
    OrgProcess,
    Outgoing,
    RunningOrg,
    api_calls,
    make_messages,
    percentile,
    running_nodes,
    seed_customers,
)

from relay.store import open_store


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--live-rate", type=float, default=2.0)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument(
        "--bulk-only",
        action="store_true",
        help="phases 1 and 4 only, both on the Bulk API 2.0 relay serve (quicker)",
    )
    parser.add_argument(
        "--keep-log", type=Path, default=None, help="copy phase 4's relay serve log here"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relay-bench-import-") as tmp:
        base = Path(tmp)
        contacts = seed_customers(base / "org", args.customers)
        org_process = OrgProcess(base / "org", latency_ms=args.latency_ms)
        env: dict[str, str] = {}
        if args.workers is not None:
            env["RELAY_WORKERS"] = str(args.workers)
        try:
            org = org_process.start()
            ok, rest = True, None
            if not args.bulk_only:
                with running_nodes([base / "node"], org.env() | env | REST) as (node,):
                    ok, idle_p99, rest = run(args, base, org, node, sorted(contacts))
            with running_nodes([base / "node-bulk"], org.env() | env) as (node,):
                if args.bulk_only:
                    time.sleep(2.0)  # idle: start-up reads are done
                    idle_p99 = idle_phase(args, node, sorted(contacts), uuid.uuid4().hex[:6])
                try:
                    ok = bulk_run(args, base, node, sorted(contacts), idle_p99, rest) and ok
                finally:
                    if args.keep_log is not None:
                        args.keep_log.write_text(node.serve.stderr())
        finally:
            org_process.stop()
    return 0 if ok else 1


REST = {"RELAY_PIPELINE_IMPORT_BULK_ROWS": "1"}
"""Phases 1-3: each claimed slice written on its own, through REST (the lane before
gathering)."""


def write_mbox(path: Path, messages: list[Outgoing]) -> Path:
    box = mailbox.mbox(path)
    box.lock()
    try:
        for message in messages:
            box.add(message.raw())
        box.flush()
    finally:
        box.unlock()
        box.close()
    return path


def send_one(node: Node, message: Outgoing) -> tuple[str, float]:
    """Send over SMTP; the queue id of the 250 reply ("queued as ID") and its time."""
    with smtplib.SMTP("127.0.0.1", node.serve.smtp_port, timeout=30) as smtp:
        smtp.ehlo("bench.example")
        smtp.mail(REP)
        smtp.rcpt(LOG)
        code, text = smtp.data(message.raw())
        acked = time.time()
    if code != 250:
        raise RuntimeError(f"refused: {code} {text!r}")
    return text.decode().rsplit(" ", 1)[1], acked


@dataclass(frozen=True)
class Live:
    """One live email: when its 250 came, its 250-to-Task latency, and the part of it
    before a worker claimed it (its ``processing`` state change)."""

    queue_id: str
    at: float
    latency: float
    claim_delay: float


def live_phase(
    node: Node,
    messages: list[Outgoing],
    rate: float,
    stop: threading.Event,
    timeline: list[Live] | None = None,
) -> list[float]:
    """Send ``messages`` at ``rate``/s until ``stop`` (or the last one); each one's time
    from the 250 reply to its ``logged`` state change in the store (recorded right after
    the Task's write returned). The store's clock and this one are the same host's: the
    local org's CreatedDate is kept to the second, as Salesforce's, too coarse here."""
    acked: dict[str, float] = {}
    for message in messages:
        if stop.is_set():
            break
        queue_id, at = send_one(node, message)
        acked[queue_id] = at
        time.sleep(max(0.0, 1.0 / rate - (time.time() - at)))
    store = open_store(node.serve.store_url)
    try:
        found: list[float] = []
        deadline = time.monotonic() + 600
        pending = dict(acked)
        while pending and time.monotonic() < deadline:
            for queue_id in list(pending):
                changes = store.transitions(queue_id)
                logged = [t.at for t in changes if t.to_state.value == "logged"]
                if logged:
                    at = pending.pop(queue_id)
                    found.append(logged[0].timestamp() - at)
                    claimed = [t.at for t in changes if t.to_state.value == "processing"]
                    if timeline is not None:
                        timeline.append(
                            Live(
                                queue_id,
                                at,
                                logged[0].timestamp() - at,
                                claimed[0].timestamp() - at if claimed else 0.0,
                            )
                        )
            time.sleep(0.5)
    finally:
        store.close()
    return found


def peak_rss_kib(pid: int) -> int | None:
    """The process's peak resident set so far (VmHWM, proc(5)), or None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def run_import(node: Node, path: Path) -> dict[str, Any]:
    """`relay import PATH --user REP --json` to its end; its last line, wall seconds and
    peak RSS (VmHWM, read every 0.1 s while it runs: the last reading before it exits)."""
    env = node.serve.full_env()
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "relay", "import", str(path), "--user", REP, "--json"],
            env=env,
            stdout=out,
            stderr=err,
            text=True,
        )
        peak = 0
        while process.poll() is None:
            peak = max(peak, peak_rss_kib(process.pid) or 0)
            time.sleep(0.1)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        raise RuntimeError(f"relay import failed ({process.returncode}):\n{stderr[-3000:]}")
    last = json.loads(stdout.strip().splitlines()[-1])
    return {**last, "seconds": seconds, "peak_rss_mib": peak / 1024}


def import_phase(node: Node, path: Path, n: int) -> dict[str, Any]:
    before = api_calls(node)
    jobs_before = len(node.serve.events("bulk_job_done"))
    writes_before = len(node.serve.events("task_write_bulk"))
    people_before = len(node.serve.events("task_people_set"))
    result = run_import(node, path)
    time.sleep(1.0)  # the workers' bookkeeping after the last outcome
    calls = api_calls(node) - before
    jobs = node.serve.events("bulk_job_done")[jobs_before:]
    result["messages_per_second"] = result["read"] / result["seconds"]
    result["calls_per_1000"] = calls / n * 1000
    result["jobs"] = len(jobs)
    result["relation_jobs"] = sum(1 for job in jobs if job.get("object") == "TaskRelation")
    result["job_calls_per_1000"] = sum(int(job["calls"]) for job in jobs) / n * 1000
    result["polls_per_job"] = sum(int(job.get("polls", 0)) for job in jobs) / max(len(jobs), 1)
    # REST calls that set the people of Tasks an earlier attempt wrote
    # (relay/delivery/write.py, TaskWriter._complete_people).
    people = node.serve.events("task_people_set")[people_before:]
    result["people_calls"] = sum(int(event["calls"]) for event in people)
    writes = node.serve.events("task_write_bulk")[writes_before:]
    result["several_contacts"] = sum(int(write.get("several", 0)) for write in writes)
    result["write_calls_per_1000"] = (
        result["job_calls_per_1000"] + result["people_calls"] / n * 1000
    )
    result["worker_peak_rss_mib"] = (
        sum((peak_rss_kib(pid) or 0) for pid in node.serve.pids("worker")) / 1024
    )
    return result


def describe(label: str, result: dict[str, Any]) -> None:
    print(
        f"{label}: {result['read']} messages in {result['seconds']:.1f} s = "
        f"{result['messages_per_second']:.1f} messages/s; logged {result['logged']}, "
        f"duplicate {result['duplicate']}, skipped {result['skipped']}, failed "
        f"{result['failed']}; {result['calls_per_1000']:.1f} API calls per 1,000 messages "
        f"(all of them); {result['jobs']} Bulk API 2.0 jobs ({result['relation_jobs']} of "
        f"them TaskRelation, for {result['several_contacts']} Tasks with several Contacts; "
        f"{result['polls_per_job']:.1f} polls a job), "
        f"{result['job_calls_per_1000']:.2f} job calls per 1,000 messages, "
        f"{result['write_calls_per_1000']:.2f} write calls per 1,000 with the "
        f"{result['people_calls']} REST calls that completed Tasks' people; "
        f"peak RSS of relay import {result['peak_rss_mib']:.0f} MiB, of the workers "
        f"{result['worker_peak_rss_mib']:.0f} MiB"
    )


def idle_phase(args: argparse.Namespace, node: Node, customers: list[str], run_id: str) -> float:
    """Phase 1: live mail on an idle relay for 45 s; its 250-to-Task p99."""
    idle = make_messages(int(args.live_rate * 45), customers, 1, f"{run_id}i")
    idle_latency = live_phase(node, idle, args.live_rate, threading.Event())
    idle_p99 = percentile(idle_latency, 0.99)
    print(
        f"idle live mail ({len(idle_latency)} emails at {args.live_rate:.0f}/s): 250-to-Task "
        f"p50 {percentile(idle_latency, 0.5):.3f} s, p99 {idle_p99:.3f} s"
    )
    return idle_p99


def run(
    args: argparse.Namespace,
    base: Path,
    org: RunningOrg,
    node: Node,
    customers: list[str],
) -> tuple[bool, float, dict[str, Any]]:
    run_id = uuid.uuid4().hex[:6]
    print(
        f"org latency {args.latency_ms:.0f} ms; relay serve on SQLite, workers "
        f"{args.workers if args.workers is not None else 'default'}; cpus {os.cpu_count()}"
    )
    time.sleep(2.0)  # idle: start-up reads are done

    idle_p99 = idle_phase(args, node, customers, run_id)

    small_path = write_mbox(
        base / "small.mbox", make_messages(args.small, customers, 2, f"{run_id}s")
    )
    small = import_phase(node, small_path, args.small)
    describe(f"small import ({small_path.stat().st_size / 2**20:.0f} MiB mbox)", small)

    path = write_mbox(base / "big.mbox", make_messages(args.messages, customers, 3, f"{run_id}b"))
    stop = threading.Event()
    live = make_messages(20000, customers, 4, f"{run_id}v")
    found: list[float] = []
    sender = threading.Thread(
        target=lambda: found.extend(live_phase(node, live, args.live_rate, stop))
    )
    sender.start()
    try:
        big = import_phase(node, path, args.messages)
    finally:
        stop.set()
        sender.join()
    describe(f"import ({path.stat().st_size / 2**20:.0f} MiB mbox, live mail meanwhile)", big)
    live_p99 = percentile(found, 0.99)
    print(
        f"live mail during the import ({len(found)} emails at {args.live_rate:.0f}/s): "
        f"250-to-Task p50 {percentile(found, 0.5):.3f} s, p99 {live_p99:.3f} s = "
        f"{live_p99 / idle_p99:.2f}x idle (target <= 2x)"
    )
    print(
        f"peak RSS: {small['peak_rss_mib']:.0f} MiB for {args.small} messages, "
        f"{big['peak_rss_mib']:.0f} MiB for {args.messages} (flat: the mbox is streamed)"
    )

    ok = live_p99 <= 2 * idle_p99 and big["logged"] + big["duplicate"] == args.messages
    return ok, idle_p99, big


def during_jobs(node: Node, timeline: list[Live]) -> None:
    """Where the slowest live emails fell: inside a gathered write (from its
    ``task_write_bulk`` event to its ``import_write_finished``, the worker's log: the
    job, then its outcomes recorded) or outside; and how much of each one's time came
    before its claim (the rest is its batch: the lookup, the write, its outcome)."""
    starts = [_epoch(e["timestamp"]) for e in node.serve.events("task_write_bulk")]
    ends = [
        _epoch(e["timestamp"])
        for e in node.serve.events("import_write_finished")
        if int(e.get("rows", 0)) >= 2000
    ]
    windows = list(zip(starts, ends, strict=False))

    def inside(live: Live) -> bool:
        return any(a <= live.at <= b for a, b in windows)

    def summary(group: list[Live]) -> str:
        latencies = [live.latency for live in group]
        claims = [live.claim_delay for live in group]
        return (
            f"{len(group)} (p50 {percentile(latencies, 0.5) if group else 0:.3f} s, max "
            f"{max(latencies, default=0):.3f} s; before the claim p50 "
            f"{percentile(claims, 0.5) if group else 0:.3f} s, max {max(claims, default=0):.3f} s)"
        )

    worst = sorted(timeline, key=lambda live: -live.latency)[:5]
    print(
        f"live emails sent during a gathered write: {summary([x for x in timeline if inside(x)])}"
        f"; outside: {summary([x for x in timeline if not inside(x)])}; the 5 slowest "
        + ", ".join(
            f"{live.latency:.3f} s ({'in' if inside(live) else 'out'}, claimed after "
            f"{live.claim_delay:.3f} s)"
            for live in worst
        )
    )


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def bulk_run(
    args: argparse.Namespace,
    base: Path,
    node: Node,
    customers: list[str],
    idle_p99: float,
    rest: dict[str, Any] | None,
) -> bool:
    """Phase 4: the same import through Bulk API 2.0 ingest jobs, on a relay serve with
    its defaults, live mail meanwhile."""
    run_id = uuid.uuid4().hex[:6]
    time.sleep(2.0)
    path = write_mbox(base / "bulk.mbox", make_messages(args.messages, customers, 5, f"{run_id}k"))
    stop = threading.Event()
    live = make_messages(20000, customers, 6, f"{run_id}w")
    found: list[float] = []
    timeline: list[Live] = []
    sender = threading.Thread(
        target=lambda: found.extend(live_phase(node, live, args.live_rate, stop, timeline))
    )
    sender.start()
    try:
        bulk = import_phase(node, path, args.messages)
    finally:
        stop.set()
        sender.join()
    describe("import, Bulk API 2.0 (relay serve's defaults, live mail meanwhile)", bulk)
    live_p99 = percentile(found, 0.99)
    print(
        f"live mail during the Bulk API 2.0 import ({len(found)} emails): 250-to-Task p50 "
        f"{percentile(found, 0.5):.3f} s, p99 {live_p99:.3f} s = {live_p99 / idle_p99:.2f}x "
        "idle (target <= 2x)"
    )
    during_jobs(node, timeline)
    if rest is not None:
        print(
            f"side by side, {args.messages} messages: REST {rest['messages_per_second']:.0f} "
            f"messages/s, {rest['calls_per_1000']:.1f} calls per 1,000; Bulk API 2.0 "
            f"{bulk['messages_per_second']:.0f} messages/s, {bulk['calls_per_1000']:.1f} "
            f"calls per 1,000 (write calls {bulk['write_calls_per_1000']:.2f}; target <= 1)"
        )
    return (
        bulk["logged"] + bulk["duplicate"] == args.messages
        and bulk["write_calls_per_1000"] <= 1.0
        and bulk["messages_per_second"] >= 300
        and live_p99 <= 2 * idle_p99
    )


if __name__ == "__main__":
    raise SystemExit(main())
