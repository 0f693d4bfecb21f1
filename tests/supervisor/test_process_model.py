"""`relay serve` as a supervisor of processes (docs/design.md §2): a worker killed
mid-batch, the edge killed, the supervisor killed, SIGTERM, wake-ups, --workers 0.

Every test runs the real `relay serve` and reads the process tree from /proc."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from relay.store import State
from tests.supervisor.queue_reads import (
    FINISHED,
    WAIT_SECONDS,
    all_finished,
    email,
    lease_owner_pids,
    states,
)
from tests.support.localorg import RunningOrg
from tests.support.pipeline import wait_for
from tests.support.processes import alive, children_of, nice
from tests.support.serve import RelayServe

Supervised = Callable[..., RelayServe]


def test_a_worker_killed_mid_batch_is_restarted_and_no_task_is_lost_or_doubled(
    supervised: Supervised, org: RunningOrg
) -> None:
    """SIGKILL the worker holding a batch: the supervisor logs why and restarts it, its
    messages are taken over when their lease ends, and each becomes exactly one Task."""
    relay = supervised(
        "--workers",
        "2",
        **org.env(),
        RELAY_PIPELINE_LEASE_SECONDS="3",
        RELAY_PIPELINE_BATCH_SIZE="4",
    )
    wait_for(
        lambda: len(relay.events("reps_synced")) >= 2,
        timeout=WAIT_SECONDS,
        what="both workers synced reps",
    )
    workers = relay.pids("worker")
    assert len(workers) == 2
    org.set_latency(700)  # each org call takes 0.7 s: a batch is in flight for seconds
    subjects = [f"Killed mid batch {n:02d}" for n in range(12)]
    for subject in subjects:
        relay.send(email(subject))

    held = wait_for(
        lambda: lease_owner_pids(relay.store_url), timeout=WAIT_SECONDS, what="a claimed batch"
    )
    victim = held.most_common(1)[0][0]
    assert victim in workers
    os.kill(victim, signal.SIGKILL)
    org.set_latency(0)

    # Within 30 s of the kill: the lease (3 s here) ends and another worker, or the
    # restarted one, takes the messages over; the wait's timeout is the bound.
    wait_for(
        lambda: all_finished(relay.store_url, len(subjects)),
        timeout=30,
        what="every message finished within 30 s",
    )
    logged = Counter(org.task_subjects())
    assert {subject: logged[subject] for subject in subjects} == dict.fromkeys(subjects, 1)

    exited = relay.events("worker_exited")
    assert [(e["pid"], e["signal"]) for e in exited] == [(victim, "SIGKILL")]
    restarted = relay.events("worker_restarted")
    assert [e["previous_pid"] for e in restarted] == [victim]
    assert alive(int(restarted[0]["pid"]))
    # Recovery ran once, at the node's start, not again when the worker came back.
    assert len(relay.events("store_recovered")) == 1
    relay.signal(signal.SIGTERM)
    assert relay.wait(60) == 0


def test_the_edge_killed_stops_the_node_with_no_child_left(supervised: Supervised) -> None:
    """The edge is the node: without it the supervisor stops the rest and exits 1."""
    relay = supervised("--workers", "2")  # no Salesforce: the local org runs too
    children = children_of(relay.pid)
    assert len(children) == 4, "the local org, the edge and two workers"
    (edge,) = relay.pids("edge")
    # Accepting comes first: the workers yield the CPU to the edge (nice 10).
    assert [nice(worker) for worker in relay.pids("worker")] == [nice(edge) + 10] * 2
    os.kill(edge, signal.SIGKILL)
    assert relay.wait(60) == 1
    assert [c for c in children if alive(c)] == []
    exited = relay.events("edge_exited")
    assert [(e["pid"], e["signal"]) for e in exited] == [(edge, "SIGKILL")]
    assert "relay: stopped: the edge process exited (signal SIGKILL)" in relay.stderr()


def test_the_supervisor_killed_takes_its_children_with_it(supervised: Supervised) -> None:
    """SIGKILL leaves the supervisor no chance to stop anyone: the kernel does it
    (PR_SET_PDEATHSIG), so no edge keeps the port and no worker keeps claiming."""
    relay = supervised("--workers", "1")
    children = children_of(relay.pid)
    assert len(children) == 3, "the local org, the edge and a worker"
    relay.signal(signal.SIGKILL)
    relay.wait(60)
    wait_for(lambda: not any(alive(c) for c in children), timeout=10, what="children gone")


def test_sigterm_lets_a_worker_finish_its_batch_and_leaves_no_child(
    supervised: Supervised, org: RunningOrg
) -> None:
    """SIGTERM mid-batch: the worker finishes it (the Tasks are written), every child
    exits, and serve says it stopped cleanly with exit 0."""
    relay = supervised("--workers", "1", **org.env())
    wait_for(lambda: relay.events("reps_synced"), timeout=WAIT_SECONDS, what="the first rep sync")
    children = children_of(relay.pid)
    org.set_latency(500)
    subjects = [f"Drained on SIGTERM {n}" for n in range(3)]
    for subject in subjects:
        relay.send(email(subject))
    wait_for(
        lambda: lease_owner_pids(relay.store_url), timeout=WAIT_SECONDS, what="a claimed batch"
    )
    in_flight = {
        message_id for message_id, (state, _) in states(relay.store_url).items()
        if state is State.PROCESSING
    }  # fmt: skip
    relay.signal(signal.SIGTERM)
    assert relay.wait(60) == 0
    assert "relay: stopped cleanly" in relay.stderr()
    assert [c for c in children if alive(c)] == []
    after = states(relay.store_url)
    assert {after[message_id][0] for message_id in in_flight} <= FINISHED
    # Not yet claimed when SIGTERM came: still queued, for the next start.
    assert {state for state, _ in after.values()} <= FINISHED | {State.QUEUED}
    written = Counter(s for s in org.task_subjects() if s in subjects)
    assert set(written.values()) == {1}
    assert len(written) == len([s for s, _ in after.values() if s in FINISHED])
    assert relay.events()[-1]["event"] == "shutdown_complete"


def _timestamp(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(event["timestamp"])).timestamp()


def test_a_new_message_wakes_an_idle_worker_at_once(
    supervised: Supervised, org: RunningOrg
) -> None:
    """The edge wakes the workers after each commit (relay/wakeups.py): an idle worker
    claims a new message at once, though it would otherwise sleep 30 s. The bound is a
    wait's timeout (a third of the idle wait), not a timing: the machine may be busy."""
    idle_wait, claim_wait = 30, 10
    relay = supervised(
        "--workers", "1", **org.env(), RELAY_PIPELINE_IDLE_WAIT_SECONDS=str(idle_wait)
    )
    wait_for(lambda: relay.events("reps_synced"), timeout=WAIT_SECONDS, what="the first rep sync")
    time.sleep(1.0)  # the worker found nothing and waits for work
    latencies = []
    for n in range(3):
        queue_id = relay.send_queued(email(f"Woken at once {n}"))
        queued = wait_for(
            lambda q=queue_id: [e for e in relay.events("message_queued") if e["queue_id"] == q],
            timeout=WAIT_SECONDS,
        )
        claimed = wait_for(
            lambda q=queue_id: [e for e in relay.events("message_claimed") if e["queue_id"] == q],
            timeout=claim_wait,
            what="the claim (a worker not woken would wait 30 s)",
        )
        latencies.append(_timestamp(claimed[0]) - _timestamp(queued[0]))
        wait_for(lambda q=queue_id: states(relay.store_url), timeout=WAIT_SECONDS, what="stored")
        time.sleep(0.5)  # idle again
    assert max(latencies) < claim_wait, latencies


def test_workers_0_is_one_process(supervised: Supervised, org: RunningOrg) -> None:
    """--workers 0: no child process; mail is still accepted and logged."""
    relay = supervised("--workers", "0", **org.env())
    assert children_of(relay.pid) == []
    wait_for(lambda: relay.events("reps_synced"), timeout=WAIT_SECONDS, what="the first rep sync")
    relay.send(email("One process only"))
    wait_for(
        lambda: "One process only" in org.task_subjects(), timeout=WAIT_SECONDS, what="the Task"
    )
    assert [e.get("role") for e in relay.events("daemon_ready")] == ["edge"]
    relay.signal(signal.SIGTERM)
    assert relay.wait(60) == 0
    assert "relay: stopped cleanly" in relay.stderr()


def _metric(relay: RelayServe, name: str) -> float | None:
    import urllib.request

    url = f"http://127.0.0.1:{relay.http_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def test_the_edge_metrics_count_what_the_workers_did(
    supervised: Supervised, org: RunningOrg
) -> None:
    """/metrics is served by the edge; the runners' counters come from the workers."""
    relay = supervised("--workers", "2", **org.env())
    wait_for(
        lambda: len(relay.events("reps_synced")) >= 2,
        timeout=WAIT_SECONDS,
        what="both workers synced reps",
    )
    subjects = [f"Counted by the edge {n}" for n in range(4)]
    for subject in subjects:
        relay.send(email(subject))
    wait_for(
        lambda: sorted(s for s in org.task_subjects() if s in subjects) == subjects,
        timeout=WAIT_SECONDS,
        what="the Tasks",
    )
    wait_for(
        lambda: _metric(relay, "relay_tasks_written_total") == 4.0,
        timeout=WAIT_SECONDS,
        what="tasks counted",
    )
    assert _metric(relay, "relay_smtp_messages_accepted_total") == 4.0
    assert (_metric(relay, "relay_salesforce_api_calls_total") or 0) > 0
    assert _metric(relay, "relay_salesforce_api_limit") is not None
