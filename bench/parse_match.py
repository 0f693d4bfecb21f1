"""Parse + match throughput against mail-parser's bare parse, over one corpus, in one run.

    .venv/bin/python bench/parse_match.py [--rounds N]

The corpus is every message vendored for the parsing tests: CPython's test_email data,
mail-parser's sdist tests/mails, and Relay's forward/journal/machine fixtures. The
Directory is in memory: every address seen in the corpus is a Contact (every third a
Lead instead), each Contact has an open Opportunity role, and each sender is a rep.
Both sides run the same messages in alternating rounds. The verdict uses each side's
fastest round (as ``timeit`` advises: slower rounds measure other processes on a shared
machine, not the code); the median is printed too.

Target: our throughput >= 0.7 x the bare parse.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import mailparser

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from relay.envelope import Envelope  # noqa: E402
from relay.matching import Directory, MatchPolicy, Opportunity, Person, User, match  # noqa: E402
from relay.matching.model import relay_domain_predicate  # noqa: E402
from relay.parsing import Email, parse  # noqa: E402

TARGET = 0.7
CORPUS_DIRS = (
    ROOT / "tests" / "data" / "cpython_email",
    ROOT / "tests" / "data" / "mailparser",
    ROOT / "tests" / "parsing" / "fixtures",
)
RECEIVED_AT = datetime(2025, 2, 1, tzinfo=UTC)
ENVELOPE = Envelope("rep@us.example", ("log@relay.localhost",))
IS_RELAY = relay_domain_predicate("relay.localhost")


def load_corpus() -> list[bytes]:
    return [
        path.read_bytes()
        for folder in CORPUS_DIRS
        for path in sorted(folder.iterdir())
        if path.name.startswith(("msg_", "mail_")) or path.suffix == ".eml"
    ]


def build_directory(emails: list[Email]) -> Directory:
    """Every address in the corpus becomes a record; every sender a rep."""
    created = datetime(2020, 1, 1, tzinfo=UTC)
    addresses: dict[str, None] = {}
    senders: dict[str, None] = {}
    for email in emails:
        if email.from_:
            senders[email.from_.email] = None
        for address in (*email.to, *email.cc):
            addresses[address.email] = None
        if email.forwarded:
            for address in (*email.forwarded.to, *email.forwarded.cc):
                addresses[address.email] = None
    people: list[Person] = []
    roles: list[tuple[str, Opportunity]] = []
    for index, address in enumerate(addresses):
        kind = "Lead" if index % 3 == 2 else "Contact"
        prefix = "00Q" if kind == "Lead" else "003"
        person_id = f"{prefix}{index:012d}AAA"
        people.append(Person(person_id, kind, address, created))  # type: ignore[arg-type]
        if kind == "Contact":
            opportunity = Opportunity(
                f"006{index:012d}AAA", f"Deal {index}", False, created, created
            )
            roles.append((person_id, opportunity))
    users = [User(f"005{index:012d}AAA", address) for index, address in enumerate(senders)]
    return Directory.build(people=people, roles=roles, users=users)


def timed(function: Callable[[], None]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    arguments.add_argument("--rounds", type=int, default=9)
    rounds = arguments.parse_args().rounds
    # mail-parser logs a warning per unhandled part; the bench measures parsing, not logging.
    logging.getLogger("mailparser").setLevel(logging.CRITICAL)

    corpus = load_corpus()
    total_bytes = sum(len(raw) for raw in corpus)
    emails = [parse(raw, ENVELOPE, RECEIVED_AT, relay_addresses=IS_RELAY) for raw in corpus]
    directory = build_directory(emails)
    policy = MatchPolicy(is_relay_address=IS_RELAY)
    outcomes: dict[str, int] = {}
    for email in emails:
        plan = match(email, directory, policy)
        outcomes[plan.outcome] = outcomes.get(plan.outcome, 0) + 1

    def bare() -> None:
        for raw in corpus:
            mailparser.parse_from_bytes(raw)

    def ours() -> None:
        for raw in corpus:
            match(parse(raw, ENVELOPE, RECEIVED_AT, relay_addresses=IS_RELAY), directory, policy)

    bare(), ours()  # warm-up: imports, regex compilation, caches
    bare_times: list[float] = []
    our_times: list[float] = []
    for _ in range(rounds):
        bare_times.append(timed(bare))
        our_times.append(timed(ours))
    bare_rate = len(corpus) / min(bare_times)
    our_rate = len(corpus) / min(our_times)
    ratio = our_rate / bare_rate
    median_ratio = statistics.median(bare_times) / statistics.median(our_times)
    print(f"corpus: {len(corpus)} messages, {total_bytes / 1e6:.2f} MB; rounds: {rounds}")
    print(f"directory: {sum(len(v) for v in directory.people_by_email.values())} people")
    print(f"match outcomes: {dict(sorted(outcomes.items()))}")
    print(f"mail-parser bare parse:  {bare_rate:8.1f} msg/s (best round)")
    print(f"relay parse + match:     {our_rate:8.1f} msg/s (best round)")
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(
        f"ratio: {ratio:.2f} ({verdict} the {TARGET} target); median-round ratio {median_ratio:.2f}"
    )
    sys.exit(0 if ratio >= TARGET else 1)


if __name__ == "__main__":
    main()
