"""Accepting comes first (docs/design.md §2, relay/accepting.py): while the edge of a
real `relay serve --workers 1` takes a burst, its worker delivers at most one batch per
``yield_max_seconds`` and catches up once the burst ends; with yielding off
(``RELAY_PIPELINE_YIELD_MIN_RATE=0``) the worker delivers throughout the burst. A lone
email is never held back (the process-model tests send those).

The burst is one SMTP session sending as fast as it can for a few seconds, far above the
``min_rate`` set here (5 a second); counts, not durations, are asserted."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable

import pytest

from tests.supervisor.queue_reads import WAIT_SECONDS, all_finished, email, states
from tests.support.localorg import RunningOrg
from tests.support.pipeline import REP, wait_for
from tests.support.serve import LOG, RelayServe

BURST_SECONDS = 4.0


def _burst(relay: RelayServe) -> int:
    """Send for ``BURST_SECONDS`` on one session; returns how many were accepted."""
    sent = 0
    deadline = time.monotonic() + BURST_SECONDS
    with smtplib.SMTP("127.0.0.1", relay.smtp_port, timeout=WAIT_SECONDS) as smtp:
        smtp.ehlo("client.test.example")
        while time.monotonic() < deadline:
            smtp.send_message(email(f"Burst {sent}"), from_addr=REP, to_addrs=[LOG])
            sent += 1
    return sent


def _logged(relay: RelayServe) -> int:
    return sum(1 for state, _ in states(relay.store_url).values() if state == "logged")


def _started(supervised: Callable[..., RelayServe], org: RunningOrg, min_rate: str) -> RelayServe:
    relay = supervised(
        "--workers",
        "1",
        RELAY_PIPELINE_YIELD_MIN_RATE=min_rate,
        RELAY_PIPELINE_YIELD_MAX_SECONDS="60",
        **org.env(),
    )
    wait_for(lambda: relay.events("reps_synced"), timeout=WAIT_SECONDS, what="reps synced")
    relay.send(email("Warm-up"))  # the first Task pays the org profile's reads
    wait_for(lambda: all_finished(relay.store_url, 1), timeout=WAIT_SECONDS, what="warm-up")
    time.sleep(0.5)  # the warm-up's rate has left the gauge's window
    return relay


def test_the_worker_steps_back_during_a_burst_and_catches_up_after(
    supervised: Callable[..., RelayServe], org: RunningOrg
) -> None:
    relay = _started(supervised, org, min_rate="5")
    sent = _burst(relay)
    logged_during = _logged(relay) - 1
    assert sent >= 40, "the burst must be a burst"
    # The worker waits from the moment it sees the burst, and the burst is shorter than
    # yield_max_seconds, so nearly everything waits for its end.
    assert logged_during <= sent // 4, (logged_during, sent)
    wait_for(
        lambda: all_finished(relay.store_url, sent + 1),
        timeout=WAIT_SECONDS * 2,
        what="the backlog drained after the burst",
    )
    assert _logged(relay) == sent + 1


@pytest.mark.parametrize("min_rate", ["0"])
def test_with_yielding_off_the_worker_delivers_during_the_burst(
    supervised: Callable[..., RelayServe], org: RunningOrg, min_rate: str
) -> None:
    relay = _started(supervised, org, min_rate=min_rate)
    sent = _burst(relay)
    logged_during = _logged(relay) - 1
    assert logged_during > sent // 4, (logged_during, sent)
    wait_for(lambda: all_finished(relay.store_url, sent + 1), timeout=WAIT_SECONDS * 2)
