"""What the process-model tests read back from a store that `relay serve` uses (SQLite or
PostgreSQL), while its processes run or after some were killed: states and leases."""

from __future__ import annotations

from collections import Counter
from email.message import EmailMessage

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from relay.store import State, open_store
from tests.support import pipeline

CUSTOMER = "hank@globex.example"
FINISHED = {State.LOGGED, State.UNRESOLVED}
WAIT_SECONDS = 30
"""A wait that bounds one step on a busy machine (2 cores, other tests alongside): a
wait's timeout is the only time bound a test holds, never a measured duration."""


def email(subject: str, sender: str = pipeline.REP) -> EmailMessage:
    """A rep's email to a customer of the sample org."""
    return pipeline.email([CUSTOMER], subject, sender=sender)


def states(url: str) -> dict[str, tuple[State, str | None]]:
    """Message-ID -> (state, lease owner) of every message in the store."""
    store = open_store(url)
    try:
        found = store.list(None)
    finally:
        store.close()
    return {str(m.message_id): (m.state, getattr(m, "lease_owner", None)) for m in found}


def all_finished(url: str, count: int) -> bool:
    """The store holds ``count`` messages and every one is final (logged or unresolved)."""
    found = states(url)
    return len(found) == count and all(state in FINISHED for state, _ in found.values())


def leases(url: str) -> dict[str, int]:
    """Queue id -> the pid of the process that holds it in processing (its lease owner)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # as relay/store/engine.py
    engine = create_engine(parsed)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, lease_owner FROM messages WHERE state = 'processing'")
            ).all()
    finally:
        engine.dispose()
    return {str(row[0]): int(str(row[1]).split(":")[1]) for row in rows if row[1]}


def lease_owner_pids(url: str) -> Counter[int]:
    """How many messages each process holds in processing."""
    return Counter(leases(url).values())
