"""The chaos harness (issues 5 and 7), shared by tests/chaos and bench/: a local org in
its own process (`relay org serve`), `relay serve` nodes started and SIGKILLed, SMTP
senders that record which messages were answered 250, the drain, and the audit that
counts Tasks per (email, record).

It uses the tests' launchers (tests/support/serve.py, tests/support/localorg.py): the
org's client and admin calls and the `relay serve` subprocess are the pipeline's.
"""

from __future__ import annotations

import json
import random
import smtplib
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relay.localorg.data import OrgData
from relay.localorg.seed import seed_sample
from tests.support import store_backends
from tests.support.localorg import OrgProcess, RunningOrg, running_org
from tests.support.pipeline import REP, email
from tests.support.serve import LOG, RelayServe

# 10 % transient faults in all (docs/benchmarks.md, "Chaos").
CHAOS_FAULTS = "503:0.04,UNABLE_TO_LOCK_ROW:0.03,timeout:0.01,reset:0.02"
CUSTOMER_DOMAIN = "chaos-customer.example"
FINAL_STATES = {"logged", "unresolved", "held", "quarantined", "rejected"}
PENDING_STATES = {"queued", "processing", "deferred"}
TASK_SUBJECT_PREFIX = "Email: "  # E2S's Task subject (relay/matching/drafts.py)

# Short retries so deferred messages come back within a test; a short read timeout so
# the org's `timeout` fault (it never answers) costs seconds, not a minute.
FAST_RETRY_ENV = {
    "RELAY_PIPELINE_BACKOFF_INITIAL_SECONDS": "0.5",
    "RELAY_PIPELINE_BACKOFF_MAX_SECONDS": "2",
    "RELAY_PIPELINE_RATE_LIMIT_PAUSE_SECONDS": "1",
    "RELAY_SF_READ_TIMEOUT_SECONDS": "2",
}


# --- the org -------------------------------------------------------------------------


def customer(n: int) -> str:
    return f"buyer{n:04d}@{CUSTOMER_DOMAIN}"


def seed_customers(data_dir: Path, count: int) -> dict[str, str]:
    """Seed the sample org (its reps send the mail) plus ``count`` Contacts without an
    Account or Opportunity, so an email to any of them makes exactly one Task (one
    What-less Task whose TaskWhoIds hold up to 50 contacts). Returns address -> id."""

    def seed(data: OrgData) -> dict[str, str]:
        seed_sample(data)
        return {
            customer(n): data.create(
                "Contact",
                {"LastName": f"Buyer {n}", "Email": customer(n)},
                user_id=data.admin_user_id,
            )
            for n in range(count)
        }

    with running_org(data_dir, seed) as org:
        contacts: dict[str, str] = org.seeded
    return contacts


def parse_faults(spec: str) -> dict[str, float]:
    pairs = (item.rsplit(":", 1) for item in spec.split(",") if item)
    return {kind: float(rate) for kind, rate in pairs}


# --- relay nodes -----------------------------------------------------------------------


@dataclass
class Node:
    """One `relay serve` (tests.support.serve.RelayServe) that can be SIGKILLed and restarted."""

    serve: RelayServe
    up: threading.Event = field(default_factory=threading.Event)
    kills: int = 0

    def start(self) -> Node:
        self.serve.start()
        self.up.set()
        return self

    def port(self) -> int | None:
        return self.serve.smtp_port if self.up.is_set() else None

    def sigkill(self) -> None:
        """A power cut: the supervisor and its children at the same moment (none of them
        finishes a write, renews a lease or answers once the node is down)."""
        self.up.clear()
        self.serve.sigkill_node()
        self.kills += 1

    def stop(self) -> None:
        self.up.clear()
        self.serve.stop()


@contextmanager
def running_nodes(homes: Sequence[Path], env: Mapping[str, str]) -> Iterator[list[Node]]:
    """Start one node per home (each with ``env``); stop every one of them at the end,
    whatever happened (no orphaned `relay serve`)."""
    nodes = [Node(RelayServe(home, env=dict(env))) for home in homes]
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.stop()


# --- the mail --------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One email to send: its subject is unique, so its Tasks can be found."""

    n: int
    subject: str
    message_id: str
    contacts: tuple[str, ...]

    def raw(self) -> bytes:
        return email(list(self.contacts), self.subject, message_id=self.message_id).as_bytes()


def make_messages(count: int, customers: Sequence[str], seed: int, run: str) -> list[Outgoing]:
    rng = random.Random(seed)
    return [
        Outgoing(
            n,
            f"Chaos {run} #{n}",
            f"<chaos.{run}.{n}.{uuid.uuid4().hex[:8]}@acme-widgets.example>",
            tuple(rng.sample(list(customers), rng.randint(1, 3))),
        )
        for n in range(count)
    ]


@dataclass
class SendLog:
    """What the clients saw: the 250 time of each acknowledged message, and attempts
    that died without a reply (the message may or may not have been stored)."""

    acked: dict[int, float] = field(default_factory=dict)
    sent_at: dict[int, float] = field(default_factory=dict)
    failed_attempts: int = 0
    given_up: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def send_messages(
    messages: Sequence[Outgoing],
    ports: Callable[[int], int | None],
    *,
    connections: int = 4,
    per_second: float | None = None,
    max_attempts: int = 30,
    log: SendLog | None = None,
) -> SendLog:
    """Send ``messages`` over ``connections`` SMTP sessions (several messages per session);
    ``ports(worker)`` names the port a worker should use (None: its node is down). A
    message whose transaction fails is sent again with the same Message-ID, as an MTA
    would; ``per_second`` paces the sending (the pipeline bench's sustained rate)."""
    log = log or SendLog()
    work = list(reversed(messages))
    lock = threading.Lock()
    started = time.monotonic()

    def next_message() -> Outgoing | None:
        with lock:
            return work.pop() if work else None

    def worker(index: int) -> None:
        smtp: smtplib.SMTP | None = None
        message = next_message()
        attempts = 0
        while message is not None:
            if per_second:
                due = started + message.n / per_second
                time.sleep(max(0.0, due - time.monotonic()))
            try:
                if smtp is None:
                    port = ports(index)
                    if port is None:
                        raise ConnectionError("node down")
                    smtp = smtplib.SMTP("127.0.0.1", port, timeout=10)
                begun = time.monotonic()
                smtp.sendmail(REP, [LOG], message.raw())
                with log.lock:
                    log.acked[message.n] = time.monotonic()
                    log.sent_at[message.n] = begun
                message, attempts = next_message(), 0
            except (OSError, smtplib.SMTPException):
                with log.lock:
                    log.failed_attempts += 1
                _close(smtp)
                smtp = None
                attempts += 1
                if attempts >= max_attempts:
                    with log.lock:
                        log.given_up.add(message.n)
                    message, attempts = next_message(), 0
                time.sleep(0.1)
        _close(smtp)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return log


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


# --- chaos: kills, drain, audit ----------------------------------------------------------


def kill_and_restart(
    nodes: Sequence[Node],
    log: SendLog,
    total: int,
    kills: int,
    rng: random.Random,
    *,
    restart: bool = True,
    done: threading.Event,
) -> list[str]:
    """SIGKILL a node ``kills`` times at random points of the run (by share of messages
    acknowledged, plus a random delay), restarting it each time unless ``restart`` is
    False. Returns what was done, for the report."""
    story = []
    # One kill in each of ``kills`` equal slices of the run, so they do not bunch up.
    marks = [(i + rng.uniform(0.15, 0.9)) / kills for i in range(kills)]
    for mark in marks:
        while len(log.acked) < mark * total and not done.is_set():
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))
        node = rng.choice(list(nodes))
        node.sigkill()
        story.append(f"SIGKILL {node.serve.home.name} at {len(log.acked)}/{total} acked")
        if restart:
            time.sleep(rng.uniform(0.0, 0.5))
            node.start()
    return story


def queue_states(serve: RelayServe) -> dict[str, list[str]]:
    """``relay queue list --json --state all`` of the store ``serve`` uses: Message-ID ->
    the states of its copies (a retried transaction can store an email twice)."""
    done = serve.cli("queue", "list", "--json", "--state", "all")
    if done.returncode != 0:
        raise RuntimeError(f"relay queue list failed: {done.stderr}")
    states: dict[str, list[str]] = defaultdict(list)
    for row in json.loads(done.stdout):
        states[str(row["message_id"]).strip("<>")].append(str(row["state"]))
    return dict(states)


def drain(
    serve: RelayServe, deadline_seconds: float, poll_seconds: float = 1.0
) -> dict[str, list[str]]:
    """Wait until no message is queued, processing or deferred; returns the states."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        states = queue_states(serve)
        pending = Counter(s for copies in states.values() for s in copies if s in PENDING_STATES)
        if not pending:
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"not drained after {deadline_seconds}s: {dict(pending)}")
        time.sleep(poll_seconds)


@dataclass
class Audit:
    """Tasks per (email, record) against what the clients were told."""

    tasks_by_message: dict[int, list[dict[str, Any]]]
    lost: list[int]
    duplicates: dict[tuple[int, str], int]
    wrong_record: list[int]
    not_logged: dict[int, str]

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicates or self.wrong_record or self.not_logged)

    def summary(self) -> str:
        return (
            f"lost={self.lost[:20]} duplicates={dict(list(self.duplicates.items())[:20])} "
            f"wrong_record={self.wrong_record[:20]} "
            f"not_logged={dict(list(self.not_logged.items())[:20])}"
        )


def org_tasks(org: RunningOrg, subject_prefix: str) -> list[dict[str, Any]]:
    soql = "SELECT Id, Subject, WhoId, WhatId, Relay_Key__c FROM Task"
    prefix = TASK_SUBJECT_PREFIX + subject_prefix
    return [t for t in org.sf().query_all(soql)["records"] if t["Subject"].startswith(prefix)]


def audit(
    org: RunningOrg,
    messages: Sequence[Outgoing],
    log: SendLog,
    states: Mapping[str, list[str]],
    contacts: Mapping[str, str],
    subject_prefix: str,
) -> Audit:
    """Every message answered 250 has exactly one Task per record (here: one Task, on one
    of its contacts) and is ``logged``; no message has two Tasks for one record."""
    by_subject = {TASK_SUBJECT_PREFIX + m.subject: m for m in messages}
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for task in org_tasks(org, subject_prefix):
        found[by_subject[task["Subject"]].n].append(task)
    records = Counter(
        (n, str(t["WhatId"] or t["WhoId"])) for n, tasks in found.items() for t in tasks
    )
    duplicates = {key: count for key, count in records.items() if count > 1}
    lost = sorted(n for n in log.acked if not found.get(n))
    wrong = sorted(
        n
        for n, tasks in found.items()
        if len(tasks) != 1 or tasks[0]["WhoId"] not in {contacts[c] for c in messages[n].contacts}
    )
    copies = {m.n: states.get(m.message_id.strip("<>"), []) for m in messages}
    not_logged = {
        n: ",".join(copies[n]) or "missing"
        for n in log.acked
        if not copies[n] or any(state != "logged" for state in copies[n])
    }
    return Audit(dict(found), lost, duplicates, wrong, not_logged)


# --- one whole run ---------------------------------------------------------------------


def postgres_schema(base_url: str) -> AbstractContextManager[str]:
    """A fresh PostgreSQL schema per run (tests/support/store_backends.py), named relay_chaos_*."""
    return store_backends.postgres_schema(base_url, prefix="relay_chaos")


@dataclass
class ChaosResult:
    messages: list[Outgoing]
    log: SendLog
    story: list[str]
    audit: Audit
    seconds: float
    drain_seconds: float
    retries: int = 0

    def report(self) -> str:
        a = self.audit
        return (
            f"{len(self.messages)} messages, {len(self.log.acked)} answered 250, "
            f"{self.log.failed_attempts} failed SMTP attempts, {len(self.log.given_up)} given up; "
            f"{sum(len(t) for t in a.tasks_by_message.values())} Tasks; "
            f"lost {len(a.lost)}, duplicates {len(a.duplicates)}, wrong {len(a.wrong_record)}, "
            f"not logged {len(a.not_logged)}; {self.retries} Salesforce retries logged; "
            f"{'; '.join(self.story)}; "
            f"{self.seconds:.1f}s total, drain {self.drain_seconds:.1f}s"
        )


def run_chaos(
    base: Path,
    *,
    messages: int,
    kills: int,
    nodes: int = 1,
    store_url: str | None = None,
    restart: bool = True,
    twin_copies: int = 0,
    connections: int = 4,
    customers: int = 40,
    lease_seconds: float = 5.0,
    faults: str = CHAOS_FAULTS,
    seed: int | None = None,
    drain_seconds: float = 120.0,
) -> ChaosResult:
    """Send ``messages`` to ``nodes`` relays under ``faults`` while SIGKILLing ``kills``
    times, then turn faults off, drain and audit. ``twin_copies`` emails are also sent
    to two nodes at the same moment (dedup across nodes)."""
    seed = random.randrange(1 << 30) if seed is None else seed
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:6]
    started = time.monotonic()
    contacts = seed_customers(base / "org", customers)
    outgoing = make_messages(messages, sorted(contacts), seed, run)
    org_process = OrgProcess(base / "org", faults=faults)
    try:
        org = org_process.start()
        env = org.env() | FAST_RETRY_ENV | {"RELAY_PIPELINE_LEASE_SECONDS": str(lease_seconds)}
        if store_url:
            env["RELAY_STORE_URL"] = store_url
        homes = [base / f"node{i}" for i in range(nodes)]
        with running_nodes(homes, env) as running:

            def ports(worker: int) -> int | None:
                live = [n for n in running if n.up.is_set()]
                preferred = running[worker % len(running)]
                node = preferred if preferred.up.is_set() else (live[0] if live else None)
                return node.port() if node else None

            log = SendLog()
            done = threading.Event()
            killer_story: list[str] = []
            killer = threading.Thread(
                target=lambda: killer_story.extend(
                    kill_and_restart(running, log, messages, kills, rng, restart=restart, done=done)
                )
            )
            killer.start()
            try:
                send_messages(outgoing, ports, connections=connections, log=log)
                twins = send_twins(outgoing[:twin_copies], running, log) if twin_copies else []
            finally:
                done.set()
                killer.join()
            for node in running:  # a node the killer left down at the very end
                if restart and not node.up.is_set():
                    node.start()
            org_process.set_faults({})
            drain_started = time.monotonic()
            live = next(n for n in running if n.up.is_set())
            states = drain(live.serve, drain_seconds)
            drained = time.monotonic() - drain_started
            result = audit(org, outgoing, log, states, contacts, f"Chaos {run} ")
            retries = sum(
                len(n.serve.events("salesforce_call_retry", every_start=True)) for n in running
            )
        story = [f"seed {seed}", *killer_story, *twins]
        seconds = time.monotonic() - started
        return ChaosResult(outgoing, log, story, result, seconds, drained, retries)
    finally:
        org_process.stop()


def run_cluster_chaos(base: Path, *, messages: int, store_url: str, **extra: Any) -> ChaosResult:
    """The cluster scenario, one definition for the test and the bench: three
    nodes on one PostgreSQL schema, one SIGKILLed for good (its leases expire), five
    emails sent to two nodes at the same moment."""
    return run_chaos(
        base,
        messages=messages,
        kills=1,
        nodes=3,
        store_url=store_url,
        restart=False,
        twin_copies=5,
        connections=6,
        **extra,
    )


def send_twins(messages: Sequence[Outgoing], nodes: Sequence[Node], log: SendLog) -> list[str]:
    """Send each message again to two live nodes at the same moment (a barrier releases
    both transactions together): a BCC copy and a journal copy reaching two nodes."""
    live = [n for n in nodes if n.up.is_set()][:2]
    if len(live) < 2:
        return ["twins skipped: fewer than two live nodes"]
    for message in messages:
        barrier = threading.Barrier(2)
        acks: list[bool] = []

        def send(
            node: Node,
            message: Outgoing = message,
            barrier: threading.Barrier = barrier,
            acks: list[bool] = acks,
        ) -> None:
            port = node.port()
            assert port is not None
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                smtp.ehlo()
                smtp.mail(REP)
                smtp.rcpt(LOG)
                barrier.wait()
                code, _ = smtp.data(message.raw())
                acks.append(code == 250)

        threads = [threading.Thread(target=send, args=(node,)) for node in live]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if all(acks) and len(acks) == 2:
            with log.lock:
                log.acked.setdefault(message.n, time.monotonic())
    return [
        f"{len(messages)} emails sent twice at once to "
        f"{live[0].serve.home.name} and {live[1].serve.home.name}"
    ]
