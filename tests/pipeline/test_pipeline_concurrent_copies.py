"""Copies of one email sent at the same moment (a BCC copy and a journal copy, a client
that retries on a second connection) end with exactly one Task per record, and every
copy ends ``logged``: real SMTP sessions released together by a barrier, `relay serve`
on SQLite and on PostgreSQL (one node and two), the local org over HTTPS.

docs/delivery-guarantees.md ("Copies at the same moment") gives the argument; these
tests look for a counter-example, many rounds at a time.
"""

from __future__ import annotations

import json
import os
import smtplib
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import store_backends
from tests.support.localorg import RunningOrg
from tests.support.pipeline import REP, email
from tests.support.serve import LOG, RelayServe

pytestmark = pytest.mark.slow

ROUNDS = 30
DRAIN_SECONDS = 90.0
FINAL = {"logged", "unresolved", "held", "quarantined", "rejected"}
# Transient faults (relay/localorg/faults.py), and retries short enough that a
# deferred copy comes back within the test.
LATENCY_MS = 60.0
FAULTS = {"503": 0.05, "reset": 0.03, "UNABLE_TO_LOCK_ROW": 0.05}
FAST_RETRY = {
    "RELAY_PIPELINE_BACKOFF_INITIAL_SECONDS": "0.5",
    "RELAY_PIPELINE_BACKOFF_MAX_SECONDS": "1",
    "RELAY_SF_READ_TIMEOUT_SECONDS": "5",
}


@dataclass(frozen=True)
class Round:
    subject: str
    message_id: str
    copies: int
    to: str
    stagger: float
    """Seconds between copies after the barrier: 0 is the same instant; a little more
    lands copies in different batches (and on different nodes) while the first copy's
    write is in flight."""


def _rounds(tag: str) -> list[Round]:
    """2 to 5 copies each, every other email's copies spaced a few milliseconds apart;
    half the emails go to Hank (a Task on each of his two open opportunities), the rest
    to Peter (one Task, on Peter)."""
    return [
        Round(
            f"Copies {tag} #{n}",
            f"<copies.{tag}.{n}.{uuid.uuid4().hex[:8]}@acme-widgets.example>",
            2 + n % 4,
            "hank@globex.example" if n % 2 else "peter@initech.example",
            0.0 if n % 4 < 2 else 0.03,
        )
        for n in range(ROUNDS)
    ]


def _send_together(round_: Round, ports: Sequence[int]) -> list[int]:
    """Each copy on its own SMTP session (to ``ports`` in turn); a barrier releases every
    DATA at once. Returns the final reply codes."""
    raw = email([round_.to], round_.subject, message_id=round_.message_id).as_bytes()
    barrier = threading.Barrier(round_.copies)
    codes: list[int] = []

    def send(index: int, port: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.ehlo()
            smtp.mail(REP)
            smtp.rcpt(LOG)
            barrier.wait(timeout=30)
            time.sleep(index * round_.stagger)
            code, _ = smtp.data(raw)
            codes.append(code)

    threads = [
        threading.Thread(target=send, args=(i, ports[i % len(ports)])) for i in range(round_.copies)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


def _states(serve: RelayServe) -> dict[str, list[str]]:
    listed = serve.cli("queue", "list", "--state", "all", "--json")
    assert listed.returncode == 0, listed.stderr
    states: dict[str, list[str]] = {}
    for row in json.loads(listed.stdout):
        states.setdefault(str(row["message_id"]), []).append(str(row["state"]))
    return states


def _run(org: RunningOrg, nodes: Sequence[RelayServe], tag: str) -> None:
    rounds = _rounds(tag)
    ports = [node.smtp_port for node in nodes]
    # Rounds overlap too: one round's copies are still being written while the next
    # round's arrive, so copies meet in one batch and across batches.
    for round_ in rounds:
        assert _send_together(round_, ports) == [250] * round_.copies
    deadline = time.monotonic() + DRAIN_SECONDS
    wanted = {r.message_id: r for r in rounds}
    while True:
        states = {k: v for k, v in _states(nodes[0]).items() if k in wanted}
        done = all(
            len(states.get(k, [])) == r.copies and set(states[k]) <= FINAL
            for k, r in wanted.items()
        )
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert done, f"not every copy finished in {DRAIN_SECONDS}s: {states}"
    # What the run went through, for the log: copies that met another copy's Task in
    # Salesforce (the update path), and calls retried under faults.
    met = sum(len(node.events("task_already_written")) for node in nodes)
    retried = sum(len(node.events("salesforce_call_retry")) for node in nodes)
    print(f"{len(rounds)} emails, {sum(r.copies for r in rounds)} copies: {met} met another "
          f"copy's Task, {retried} Salesforce calls retried")  # fmt: skip
    # The audit reads the org itself: its queries must not meet the injected resets.
    org.admin("/_localorg/faults", {})
    _audit(org, rounds, states)


def _audit(org: RunningOrg, rounds: Sequence[Round], states: dict[str, list[str]]) -> None:
    """Exactly one Task per (email, record), on the right records; every copy logged."""
    seeded = org.seeded
    peter = seeded.sample.contacts["peter@initech.example"]
    tasks = org.tasks(f"Subject LIKE 'Email: {rounds[0].subject.rsplit('#', 1)[0]}%'")
    by_subject: dict[str, list[dict[str, object]]] = {}
    for task in tasks:
        by_subject.setdefault(str(task["Subject"]), []).append(task)
    problems = []
    for round_ in rounds:
        found = by_subject.get("Email: " + round_.subject, [])
        records = Counter(str(t["WhatId"] or t["WhoId"]) for t in found)
        expected = (
            Counter(seeded.hank_open_opportunities)
            if round_.to.startswith("hank")
            else Counter([peter])
        )
        if records != expected:
            problems.append(f"{round_.subject}: Tasks on {dict(records)}, want {dict(expected)}")
        copies = states[round_.message_id]
        if copies != ["logged"] * round_.copies:
            problems.append(f"{round_.subject}: copies ended {copies}")
    assert not problems, "\n".join(problems)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    base = os.environ.get(store_backends.POSTGRES_URL_VARIABLE)
    if not base:
        pytest.skip(f"needs PostgreSQL: set {store_backends.POSTGRES_URL_VARIABLE}")
    with store_backends.postgres_schema(base, prefix="relay_copies") as url:
        yield url


def _nodes(tmp_path: Path, org: RunningOrg, count: int, **env: str) -> Iterator[list[RelayServe]]:
    started: list[RelayServe] = []
    try:
        for n in range(count):
            started.append(RelayServe(tmp_path / f"node{n}", env=org.env() | env).start())
        yield started
    finally:
        for node in started:
            node.stop()


def test_concurrent_copies_on_sqlite(tmp_path: Path, org: RunningOrg) -> None:
    """SQLite, one node: 30 emails, 2-5 copies each at once: one Task per record."""
    for nodes in _nodes(tmp_path, org, 1):
        _run(org, nodes, "sqlite-" + uuid.uuid4().hex[:6])


@pytest.mark.postgres
def test_concurrent_copies_on_postgresql(
    tmp_path: Path, org: RunningOrg, postgres_url: str
) -> None:
    """PostgreSQL, one node: 30 emails, 2-5 copies each at once: one Task per record."""
    for nodes in _nodes(tmp_path, org, 1, RELAY_STORE_URL=postgres_url):
        _run(org, nodes, "pg-" + uuid.uuid4().hex[:6])


@pytest.mark.postgres
def test_concurrent_copies_on_two_postgresql_nodes(
    tmp_path: Path, org: RunningOrg, postgres_url: str
) -> None:
    """PostgreSQL, two nodes sharing the store, the org failing some calls (so copies
    are deferred and retried between the other copies' writes): the copies of each
    email split between the nodes at the same moment; still one Task per record, every
    copy logged."""
    state = org.org.state
    assert state is not None
    org.admin("/_localorg/faults", FAULTS)
    # The org's own latency (`relay org serve --latency-ms`): the two nodes' calls are in
    # flight together, as against a real org, instead of one finishing before the other.
    state.latency_ms = LATENCY_MS
    try:
        for nodes in _nodes(tmp_path, org, 2, RELAY_STORE_URL=postgres_url, **FAST_RETRY):
            _run(org, nodes, "pg2-" + uuid.uuid4().hex[:6])
    finally:
        state.latency_ms = 0.0
        org.admin("/_localorg/faults", {})
