"""Leases that follow the work (docs/design.md §2): renewed while a batch runs, taken by
another worker once they expire, refused to a worker that lost them, and taken back at
start-up only from owners this host can prove gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from structlog.testing import capture_logs

from relay.store import InvalidTransition, SqlStore, State, open_store
from relay.store.errors import LeaseLost
from relay.store.model import Outcome
from relay.store.tables import messages

HOST = socket.gethostname()


def lease_of(store: SqlStore, queue_id: str) -> tuple[str | None, datetime | None]:
    query = select(messages.c.lease_owner, messages.c.lease_expires_at).where(
        messages.c.id == queue_id
    )
    with store.engine.connect() as connection:
        row = connection.execute(query).one()
    return row.lease_owner, row.lease_expires_at


def worker_id(pid: int, name: str = "deliver") -> str:
    """The runners' worker id shape: HOST:PID:NAME."""
    return f"{HOST}:{pid}:{name}"


# --- renewing ---------------------------------------------------------------------------


def test_a_renewed_lease_outlives_its_first_term(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """A batch that runs longer than the lease keeps its messages while it renews, and
    they are claimable soon after it stops renewing."""
    queue_id = enqueue()
    store.claim(1, "a", lease_seconds=1.0)
    for _ in range(6):  # 1.8 s, nearly two terms, renewing every third of one
        time.sleep(0.3)
        assert store.renew_leases([queue_id], "a", 1.0) == {queue_id}
        assert store.claim(1, "b", 60) == []
    time.sleep(1.1)
    [taken] = store.claim(1, "b", 60)
    assert (taken.id, taken.attempts) == (queue_id, 2)


def test_renewing_extends_only_the_workers_own_processing_leases(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    mine, theirs, waiting, finished = enqueue(), enqueue(), enqueue(), enqueue()
    store.claim(1, "a", 60)  # mine
    store.claim(1, "b", 60)  # theirs
    store.claim(2, "a", 60)  # waiting and finished, both a's
    store.finish(finished, State.LOGGED)
    store.hold(waiting, "a person looks at it")  # admin hold while processing
    _, theirs_until = lease_of(store, theirs)
    before = datetime.now(UTC)
    held = store.renew_leases(
        [mine, theirs, waiting, finished, "01J0000000000000000000ZZZZ"], "a", 600
    )
    assert held == {mine}
    owner, until = lease_of(store, mine)
    assert owner == "a"
    assert until is not None
    assert until >= before + timedelta(seconds=599)
    assert lease_of(store, theirs) == ("b", theirs_until)
    assert store.renew_leases([], "a", 600) == frozenset()


def test_an_expired_lease_nobody_claimed_is_still_the_workers(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """A slow heartbeat is forgiven while no one else acted: the message was not taken."""
    queue_id = enqueue()
    store.claim(1, "a", lease_seconds=0.2)
    time.sleep(0.3)
    assert store.renew_leases([queue_id], "a", 60) == {queue_id}
    assert store.claim(1, "b", 60) == []


# --- losing a lease ---------------------------------------------------------------------


def test_a_lost_lease_is_reported_and_its_stale_finish_does_not_clobber_the_new_owner(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """Worker a stalls past its lease; b claims the message. a's renewal says it lost the
    message, a's finish is refused with LeaseLost (nothing of its batch is recorded),
    and b's own outcome is recorded as usual."""
    stalled, other = enqueue(), enqueue()
    store.claim(2, "a", lease_seconds=0.3)
    time.sleep(0.4)
    [taken, _] = store.claim(2, "b", 60)
    assert taken.id == stalled
    store.finish(other, State.LOGGED, worker="b")  # b took both; other is done

    with capture_logs() as logs:
        assert store.renew_leases([stalled], "a", 60) == frozenset()
    assert any(log["event"] == "lease_lost" and log["worker"] == "a" for log in logs)

    with capture_logs() as logs, pytest.raises(LeaseLost) as lost:
        store.finish_many([Outcome(stalled, State.REJECTED, "a's stale verdict")], worker="a")
    assert isinstance(lost.value, InvalidTransition)  # what the runners already handle
    assert "a lost its lease" in str(lost.value)
    assert "b claimed it" in str(lost.value)
    assert [log["queue_id"] for log in logs if log["event"] == "lease_lost"] == [stalled]
    assert lease_of(store, stalled)[0] == "b"
    message = store.get(stalled)
    assert message is not None
    assert (message.state, message.attempts) == (State.PROCESSING, 2)

    with pytest.raises(LeaseLost):
        store.finish(stalled, State.REJECTED, "stale", worker="a")
    with pytest.raises(LeaseLost):
        store.defer(stalled, datetime.now(UTC), "stale", worker="a")

    store.finish_many([Outcome(stalled, State.LOGGED, "b's verdict")], worker="b")
    message = store.get(stalled)
    assert message is not None
    assert (message.state, message.reason) == (State.LOGGED, "b's verdict")


def test_a_stale_finish_after_the_new_owner_finished_is_refused(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    queue_id = enqueue()
    store.claim(1, "a", lease_seconds=0.2)
    time.sleep(0.3)
    store.claim(1, "b", 60)
    store.finish_many([Outcome(queue_id, State.LOGGED, "b's verdict")], worker="b")
    with pytest.raises(InvalidTransition):
        store.finish_many([Outcome(queue_id, State.REJECTED, "stale")], worker="a")
    message = store.get(queue_id)
    assert message is not None
    assert (message.state, message.reason) == (State.LOGGED, "b's verdict")


def test_the_owner_finishes_with_its_lease_even_after_it_expired_unclaimed(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    queue_id = enqueue()
    store.claim(1, "a", lease_seconds=0.2)
    time.sleep(0.3)
    store.finish_many([Outcome(queue_id, State.LOGGED, "done")], worker="a")
    message = store.get(queue_id)
    assert message is not None
    assert message.state is State.LOGGED


# --- recovering at start-up -------------------------------------------------------------


@pytest.fixture
def sibling() -> Iterator[int]:
    """A live process of this host, started before any claim: a sibling worker."""
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as process:
        try:
            yield process.pid
        finally:
            process.kill()


def dead_pid() -> int:
    """The PID of a process of this host that ran and was reaped."""
    with subprocess.Popen([sys.executable, "-c", "pass"]) as process:
        process.wait()
    return process.pid


def test_recover_leaves_a_live_siblings_lease(
    store_url: str, store: SqlStore, enqueue: Callable[..., str], sibling: int
) -> None:
    """Two worker processes on one store: the one that restarts does not take the
    other's batch, though the lease is far from expired."""
    queue_id = enqueue()
    store.claim(1, worker_id(sibling), 600)
    restarted = open_store(store_url)
    try:
        assert restarted.recover() == 0
    finally:
        restarted.close()
    assert lease_of(store, queue_id)[0] == worker_id(sibling)
    message = store.get(queue_id)
    assert message is not None
    assert message.state is State.PROCESSING


def test_recover_takes_back_a_dead_local_owners_lease_at_once(
    store_url: str, store: SqlStore, enqueue: Callable[..., str], sibling: int
) -> None:
    """A killed daemon's batch is processed at the next start without waiting out its
    lease; the live sibling's batch stays where it is."""
    dead, live = enqueue(), enqueue()
    store.claim(1, worker_id(dead_pid()), 600)
    store.claim(1, worker_id(sibling), 600)
    restarted = open_store(store_url)
    try:
        assert restarted.recover() == 1
    finally:
        restarted.close()
    states = {queue_id: store.get(queue_id).state for queue_id in (dead, live)}  # type: ignore[union-attr]
    assert states == {dead: State.QUEUED, live: State.PROCESSING}
    [again] = store.claim(1, "next", 60)
    assert (again.id, again.attempts) == (dead, 2)


def test_recover_takes_back_a_killed_but_unreaped_owners_lease(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """A killed child whose parent has not reaped it yet is a zombie: kill(pid, 0)
    still succeeds, but it holds nothing."""
    queue_id = enqueue()
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        store.claim(1, worker_id(process.pid), 600)
        process.kill()
        deadline = time.monotonic() + 10
        while not _is_zombie(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.recover() == 1
    finally:
        process.kill()
        process.wait()
    message = store.get(queue_id)
    assert message is not None
    assert message.state is State.QUEUED


def _is_zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rpartition(")")[2].split()[0] == "Z"


def test_recover_takes_back_a_lease_whose_pid_was_reused_since(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """In a container the daemon is PID 1 after every restart: a lease taken an hour ago
    by "PID 1" is not held by the PID 1 that started a minute ago. Here the PID is this
    test's own process, which started well after the (back-dated) claim."""
    queue_id = enqueue()
    store.claim(1, worker_id(os.getpid()), 600)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    with store.engine.begin() as connection:
        connection.execute(
            update(messages).where(messages.c.id == queue_id).values(updated_at=an_hour_ago)
        )
    assert store.recover() == 1


def test_recover_leaves_this_processs_own_live_lease(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """This process started before its claim: it holds the lease."""
    store.claim(1, worker_id(os.getpid()), 600)
    enqueue()
    assert store.recover() == 0


def test_recover_waits_for_the_lease_of_another_hosts_owner(
    store: SqlStore, enqueue: Callable[..., str]
) -> None:
    """No process of another host can be proved dead from here: its lease must expire."""
    queue_id = enqueue()
    other = f"not-{HOST}:{dead_pid()}:deliver"
    store.claim(1, other, lease_seconds=0.5)
    assert store.recover() == 0
    time.sleep(0.6)
    assert store.recover() == 1
    message = store.get(queue_id)
    assert message is not None
    assert message.state is State.QUEUED
