"""Two `relay serve` nodes on one PostgreSQL schema (docs/design.md §2, several nodes);
one is SIGKILLed mid-batch, supervisor and children at once, as a power cut would. The
survivor finishes every message once the dead node's leases end: the lease is 30 s and
its holder renews it while the batch runs (relay/runners/base.py), so a dead holder's
messages come back within 30 s, and the Tasks are upserted on their Relay key, so none
is written twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from tests.supervisor.queue_reads import WAIT_SECONDS, all_finished, email, leases
from tests.support.localorg import RunningOrg
from tests.support.pipeline import wait_for
from tests.support.serve import RelayServe

LEASE_SECONDS = 30
"""Relay's default lease (relay/config.py, PipelineConfig.lease_seconds), not set here."""
TAKEOVER_SECONDS = LEASE_SECONDS + 15
"""The dead node's last renewal was at most a third of a lease before the kill, so its
leases end within 30 s of it; then 15 s for the survivor to claim and write on a busy
machine. The wait's timeout is the bound: a lease not ended (or not taken over) fails."""


@pytest.mark.slow
@pytest.mark.postgres
def test_a_node_killed_mid_batch_its_messages_finish_on_the_survivor(
    supervised: Callable[..., RelayServe], org: RunningOrg, postgres_schema_url: str
) -> None:
    """Each message becomes exactly one Task: none lost with the dead node, none written
    again by the survivor; the survivor claims what the dead node held."""
    url = postgres_schema_url
    env = org.env() | {"RELAY_STORE_URL": url, "RELAY_PIPELINE_BATCH_SIZE": "4"}
    nodes = [supervised("--workers", "1", **env) for _ in range(2)]
    for node in nodes:
        wait_for(lambda n=node: n.events("reps_synced"), timeout=WAIT_SECONDS, what="rep sync")
    org.set_latency(700)  # each org call takes 0.7 s: a batch is in flight for seconds
    subjects = [f"Node killed mid batch {n:02d}" for n in range(16)]
    for n, subject in enumerate(subjects):
        nodes[n % 2].send(email(subject))

    def holder() -> RelayServe | None:
        held = set(leases(url).values())
        return next((node for node in nodes if held & set(node.pids("worker"))), None)

    victim = wait_for(holder, timeout=WAIT_SECONDS, what="a node holding a batch")
    (survivor,) = [node for node in nodes if node is not victim]
    killed = victim.sigkill_node()
    org.set_latency(0)
    wait_for(victim.all_stopped, timeout=10, what="every process of the killed node gone")
    # What the dead node held when it died: only the end of its leases frees these.
    held = {queue_id for queue_id, pid in leases(url).items() if pid in killed}
    assert held, "the node was killed mid-batch"

    wait_for(
        lambda: all_finished(url, len(subjects)),
        timeout=TAKEOVER_SECONDS,
        what=f"every message finished within {TAKEOVER_SECONDS} s of the kill",
    )
    written = Counter(org.task_subjects())
    assert {subject: written[subject] for subject in subjects} == dict.fromkeys(subjects, 1)
    claimed_by_survivor = {e["queue_id"] for e in survivor.events("message_claimed")}
    assert held <= claimed_by_survivor
