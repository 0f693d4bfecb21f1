"""Emails/s through Relay's SMTP edge for each sender check, in one run, interleaved rounds.

    .venv/bin/python bench/sender_auth.py [--messages 3000] [--connections 8] [--rounds 3]
                                          [--size 2048]

Four edges run side by side, each Relay's daemon without its runners (bench/ingest.py's
"edge": SQLite store, SMTP edge, health endpoint, JSON logs) in its own process and home,
each seeded with the same reps, so the only difference is the sender check:

- ``personal_address``: mail to the rep's personal ``log+TOKEN@`` address, From the rep;
  no DNS at all. The baseline.
- ``dmarc``, cached, SPF: every message From alice@acme.example, sent from 127.0.0.10,
  which acme.example's SPF lists, so SPF passes aligned (RFC 7489 §3.1.2) and DMARC
  passes without DKIM. After the warm-up every lookup is in the verifier's cache.
  The headline figure.
- ``dmarc``, cached, DKIM: the same sender, every message DKIM-signed (2048-bit RSA),
  sent from 127.0.0.66, which the SPF record does not list: DKIM decides (RFC 7489 §4.2).
- ``dmarc``, uncached: every message (warm-up included) From a domain of its own,
  d<N>.example, each with SPF and DMARC records, so every check asks the DNS server.

The DNS server is the tests' loopback server (tests/support/dns_zone.py), in this process; it
counts the queries it answers, per configuration. The client is bench/_smtp_load.py,
bound to the source IP of each configuration. Before the clock starts every edge takes a
smoke batch, which must be answered 250 and stored with the expected ``auth`` (what the
edge proved), else the bench stops. Prints emails/s, the ratio to ``personal_address``,
the CPU of each Relay process per email and the DNS queries per email, and judges the
target: cached DMARC costs at most 10 % of the edge's throughput (dmarc cached SPF /
personal_address >= 0.90). Exit status 0 when met, 1 when not. A script, not a test:
the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _cpu import process_cpu_seconds  # noqa: E402
from _smtp_load import SmtpLoadError, Wire, send_all, to_wire  # noqa: E402
from ingest import LINE, Server, start  # noqa: E402

from relay.config import load_config  # noqa: E402
from relay.reps.directory import load_address_secret, personal_address  # noqa: E402
from relay.store import open_store  # noqa: E402
from relay.store.model import Rep  # noqa: E402
from tests.support.dns_zone import DkimKey, ZoneServer, dkim_sign, make_dkim_key, serve_zone  # noqa: E402

DOMAIN = "relay.example"
SENDER = "acme.example"
ALICE = Rep("005000000000000AAA", f"alice@{SENDER}", f"alice@{SENDER}")
MTA = "127.0.0.10"  # listed in every sender domain's SPF record
FORWARDER = "127.0.0.66"  # listed nowhere: SPF fails, DKIM alone can pass
SPF = f"v=spf1 ip4:{MTA} -all"
DMARC = "v=DMARC1; p=reject"
SELECTOR = "sel"
SMOKE = 20


def uncached_rep(number: int) -> Rep:
    address = f"rep@d{number}.example"
    return Rep(f"005{number:012d}BBB", address, address)


@dataclass(frozen=True)
class Setup:
    """One configuration: the edge's sender_auth, the client's IP, and message ``n``
    with the ``auth`` the edge must store for it."""

    name: str
    sender_auth: str
    client_ip: str
    message: Callable[[int], tuple[Wire, str]]


def raw_message(sender: str, number: int, size: int) -> bytes:
    head = (
        f"From: Alice <{sender}>\r\nTo: Buyer <buyer@prospect.example>\r\n"
        f"Subject: benchmark {number}\r\nDate: Sun, 06 Dec 2026 00:00:00 +0000\r\n"
        f"Message-ID: <bench-{number}@{sender.rpartition('@')[2]}>\r\n\r\n"
    ).encode()
    return head + LINE * max(1, (size - len(head)) // len(LINE))


def setups(size: int, token_address: str, key: DkimKey) -> list[Setup]:
    shared = f"log@{DOMAIN}"

    def personal(n: int) -> tuple[Wire, str]:
        raw = raw_message(ALICE.email, n, size)
        return to_wire(raw, ALICE.email, [token_address]), "personal_address"

    def spf(n: int) -> tuple[Wire, str]:
        return to_wire(
            raw_message(ALICE.email, n, size), ALICE.email, [shared]
        ), f"dmarc:{ALICE.email}"

    def dkim(n: int) -> tuple[Wire, str]:
        raw = dkim_sign(raw_message(ALICE.email, n, size), SENDER, SELECTOR, key)
        return to_wire(raw, ALICE.email, [shared]), f"dmarc:{ALICE.email}"

    def uncached(n: int) -> tuple[Wire, str]:
        rep = uncached_rep(n).email
        return to_wire(raw_message(rep, n, size), rep, [shared]), f"dmarc:{rep}"

    return [
        Setup("personal_address", "personal_address", MTA, personal),
        Setup("dmarc cached, SPF", "dmarc", MTA, spf),
        Setup("dmarc cached, DKIM only", "dmarc", FORWARDER, dkim),
        Setup("dmarc uncached", "dmarc", MTA, uncached),
    ]


def zone(key: DkimKey, domains: int) -> dict[str, dict[str, list[str]]]:
    records = {
        SENDER: {"TXT": [SPF]},
        f"{SELECTOR}._domainkey.{SENDER}": {"TXT": [key.dns_txt]},
        f"_dmarc.{SENDER}": {"TXT": [DMARC]},
    }
    for number in range(domains):
        domain = uncached_rep(number).email.rpartition("@")[2]
        records[domain] = {"TXT": [SPF]}
        records[f"_dmarc.{domain}"] = {"TXT": [DMARC]}
    return records


# --- the edges ---------------------------------------------------------------------------


def run_edge(ready_file: Path) -> None:
    """bench/ingest.py's edge plus the sender policy ``relay serve`` gives it."""
    from relay.daemon import Daemon, Listening
    from relay.logs import configure_logging
    from relay.smtp.senders import SenderPolicy

    config = load_config(None)
    config = dataclasses.replace(config, http_port=0, smtp=dataclasses.replace(config.smtp, port=0))
    configure_logging(config.log_level, config.log_format)

    def ready(listening: Listening) -> None:
        document = dataclasses.asdict(listening) | {"pid": os.getpid()}
        ready_file.write_text(json.dumps(document))

    daemon = Daemon(config, runners=[], on_ready=ready, sender_policy=SenderPolicy.from_store)
    asyncio.run(daemon.run(install_signal_handlers=True))


def edge_env(home: Path, sender_auth: str, nameserver: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    return base | {
        "RELAY_HOME": str(home),
        "RELAY_DOMAIN": DOMAIN,
        "RELAY_LOG_FORMAT": "json",
        "RELAY_SMTP_MIN_FREE_BYTES": "0",
        "RELAY_SMTP_SENDER_AUTH": sender_auth,
        "RELAY_SMTP_TRUSTED_NETWORKS": "none",
        "RELAY_SMTP_INBOUND_NETWORKS": "none",
        "RELAY_SMTP_INBOUND_SECRET": "",
        "RELAY_DNS_NAMESERVERS": nameserver,
        # Every connection comes from one IP, as from one company's outbound MTA; the
        # default (a quarter of the DATA slots per client) would answer 451 to 8 of them.
        "RELAY_SMTP_MAX_CONCURRENT_DATA_PER_CLIENT": "16",
    }


def seed_reps(env: dict[str, str], reps: list[Rep]) -> None:
    """The reps as a rep sync would leave them, so the edge's snapshot is synced."""
    store = open_store(load_config(environ=env).effective_store_url)
    try:
        store.replace_reps(reps, datetime.now(UTC))
    finally:
        store.close()


def stored_auths(env: dict[str, str]) -> list[str]:
    store = open_store(load_config(environ=env).effective_store_url)
    try:
        return [message.envelope.auth for message in store.list()]
    finally:
        store.close()


def send(setup: Setup, wires: list[Wire], port: int, connections: int) -> None:
    try:
        send_all(wires, port, connections, source_address=setup.client_ip)
    except SmtpLoadError as error:
        raise SystemExit(f"{setup.name}: a message was not accepted: {error}") from error


def smoke(setup: Setup, batch: list[tuple[Wire, str]], server: Server, env: dict[str, str]) -> None:
    """Every smoke message answered 250 and stored with the auth the check must prove."""
    send(setup, [wire for wire, _ in batch], server[1]["smtp_port"], 4)
    stored = stored_auths(env)
    expected = [auth for _, auth in batch]
    if sorted(stored) != sorted(expected):
        raise SystemExit(f"{setup.name}: stored auth {sorted(set(stored))}, want {expected[:2]}…")


# --- the run -----------------------------------------------------------------------------


@dataclass
class Tally:
    seconds: float = 0.0
    cpu: float = 0.0
    queries: int = 0
    rounds: list[float] = dataclasses.field(default_factory=list)  # seconds of each


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000, help="per configuration")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--size", type=int, default=2048, help="bytes per message")
    parser.add_argument("--warm", type=int, default=200, help="unmeasured messages first")
    parser.add_argument("--edge", type=Path, help=argparse.SUPPRESS)  # internal: run an edge
    args = parser.parse_args()
    if args.edge:
        run_edge(args.edge)
        return 0

    per_round = args.messages // args.rounds
    warm = max(args.warm, SMOKE)
    count = warm + per_round * args.rounds
    reps = [ALICE, *(uncached_rep(n) for n in range(count))]
    key = make_dkim_key()
    edges: dict[str, tuple[Setup, Server, dict[str, str]]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="relay-bench-") as temp,
        serve_zone(zone(key, count)) as dns,
    ):
        token = personal_address(ALICE.user_id, load_address_secret(Path(temp)), DOMAIN)
        configurations = setups(args.size, token, key)
        print(f"building {count} messages per configuration (DKIM signing takes a while)…")
        messages = {s.name: [s.message(n) for n in range(count)] for s in configurations}
        try:
            for number, setup in enumerate(configurations):
                home = Path(temp) / f"edge-{number}"
                home.mkdir()
                # One personal-address secret for all: the token above is valid everywhere.
                (home / "address.key").write_bytes((Path(temp) / "address.key").read_bytes())
                env = edge_env(home, setup.sender_auth, dns.nameserver)
                seed_reps(env, reps)
                ready = Path(temp) / f"edge-{number}.json"
                command = [sys.executable, __file__, "--edge", str(ready)]
                edges[setup.name] = (setup, start(command, env, ready), env)
            tallies = measure(edges, messages, dns, args, warm, per_round)
        finally:
            for _setup, (process, _ready), _env in edges.values():
                process.terminate()
                process.wait(30)
    return report(tallies, args, per_round)


def measure(
    edges: dict[str, tuple[Setup, Server, dict[str, str]]],
    messages: dict[str, list[tuple[Wire, str]]],
    dns: ZoneServer,
    args: argparse.Namespace,
    warm: int,
    per_round: int,
) -> dict[str, Tally]:
    dkim_key = f"{SELECTOR}._domainkey.{SENDER}"
    for name, (setup, server, env) in edges.items():
        before = len(dns.queries_for(dkim_key))
        smoke(setup, messages[name][:SMOKE], server, env)
        key_queries = len(dns.queries_for(dkim_key)) - before
        # DKIM must decide where SPF fails, and only there (an SPF pass skips it).
        if (setup.client_ip == FORWARDER) != (key_queries > 0):
            raise SystemExit(f"{name}: DKIM key fetched {key_queries} times after its smoke run")
        wires = [wire for wire, _ in messages[name][SMOKE:warm]]
        send(setup, wires, server[1]["smtp_port"], args.connections)
    tallies = {name: Tally() for name in edges}
    names = list(edges)
    for number in range(args.rounds):
        # A different configuration goes first each round: none always follows the same one.
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            setup, (process, ready), _env = edges[name]
            first = warm + number * per_round
            wires = [wire for wire, _ in messages[name][first : first + per_round]]
            tally = tallies[name]
            queries, cpu = len(dns.queries), process_cpu_seconds(process.pid)
            started = time.perf_counter()
            send(setup, wires, ready["smtp_port"], args.connections)
            tally.rounds.append(time.perf_counter() - started)
            tally.seconds += tally.rounds[-1]
            tally.cpu += process_cpu_seconds(process.pid) - cpu
            tally.queries += len(dns.queries) - queries
    return tallies


def report(tallies: dict[str, Tally], args: argparse.Namespace, per_round: int) -> int:
    total = per_round * args.rounds
    baseline = total / tallies["personal_address"].seconds
    print(
        f"sender checks at the edge: {total} messages of {args.size} B per configuration, "
        f"{args.connections} connections, {args.rounds} interleaved rounds"
    )
    personal = tallies["personal_address"].rounds
    for name, tally in tallies.items():
        rate = total / tally.seconds
        # The same ratio round by round: how much the shared machine moved it.
        spread = " ".join(
            f"{base / mine:.2f}" for base, mine in zip(personal, tally.rounds, strict=True)
        )
        print(
            f"  {name:24}: {rate:6.0f} emails/s  {rate / baseline:.2f} of personal_address "
            f"(by round: {spread})  relay CPU {tally.cpu / total * 1000:.2f} ms/email  "
            f"DNS {tally.queries / total:.2f} queries/email ({tally.queries} in all)"
        )
    headline = tallies["dmarc cached, SPF"]
    ratio = total / headline.seconds / baseline
    extra_cpu = headline.cpu / tallies["personal_address"].cpu - 1
    met = ratio >= 0.90
    print(
        f"target: dmarc cached (SPF) / personal_address >= 0.90: {ratio:.2f}, "
        f"{'met' if met else 'NOT met'} (its relay CPU per email: {extra_cpu:+.0%})"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
