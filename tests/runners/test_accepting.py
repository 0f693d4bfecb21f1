"""Accepting comes first (relay/accepting.py): the edge's rate gauge, read from another
mapping of the same file as a worker reads it, and the policy that turns it into a wait.
Times are given explicitly: these are the pure parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.accepting import WINDOW_SECONDS, RateGauge, YieldPolicy


def test_a_worker_reads_the_rate_the_edge_counts(tmp_path: Path) -> None:
    edge = RateGauge.create(tmp_path)
    worker = RateGauge.open(tmp_path)
    assert worker is not None
    assert worker.rate(now=100.0) == 0.0
    for step in range(50):  # 50 messages in 0.1 s: 500 a second
        edge.count(now=100.0 + step * 0.002)
    assert worker.rate(now=100.1) == pytest.approx(500, rel=0.05)
    # The next window counts on from the previous one rather than starting at zero.
    edge.count(now=100.15)
    assert worker.rate(now=100.15) == pytest.approx(260, rel=0.05)


def test_a_quiet_edge_reads_as_zero(tmp_path: Path) -> None:
    edge = RateGauge.create(tmp_path)
    for step in range(50):
        edge.count(now=10.0 + step * 0.001)
    assert edge.rate(now=10.0 + 2 * WINDOW_SECONDS + 0.01) == 0.0
    # A count after a long pause starts afresh: the old burst is not added to it.
    edge.count(now=20.0)
    assert edge.rate(now=20.05) < 50


def test_no_gauge_until_the_edge_made_it(tmp_path: Path) -> None:
    assert RateGauge.open(tmp_path) is None
    (tmp_path / "accepting").write_bytes(b"\0" * 4)  # the edge is creating it
    assert RateGauge.open(tmp_path) is None


def test_a_fresh_gauge_replaces_a_previous_generation(tmp_path: Path) -> None:
    old = RateGauge.create(tmp_path)
    for _ in range(100):
        old.count(now=5.0)
    assert RateGauge.create(tmp_path).rate(now=5.01) == 0.0


POLICY = YieldPolicy(min_rate=100, max_yield_seconds=2.0, check_seconds=0.25)


def test_a_lone_email_is_claimed_at_once() -> None:
    assert POLICY.wait(rate=10, now=50.0, since=None) == (0.0, None)
    assert POLICY.wait(rate=10, now=50.0, since=49.0) == (0.0, None)  # the burst ended


def test_a_burst_is_not_met_with_a_batch_at_once() -> None:
    """The wait starts when the worker first sees the burst, however long ago its last
    batch was."""
    assert POLICY.wait(rate=800, now=50.0, since=None) == (0.25, 50.0)


def test_during_a_burst_the_worker_waits_and_looks_again() -> None:
    assert POLICY.wait(rate=800, now=50.5, since=50.0) == (0.25, 50.0)
    wait, since = POLICY.wait(rate=800, now=51.9, since=50.0)
    assert (wait, since) == (pytest.approx(0.1), 50.0)


def test_a_long_burst_still_gets_one_batch_per_max_yield() -> None:
    assert POLICY.wait(rate=800, now=52.0, since=50.0) == (0.0, None)
    # after that batch, the next wait starts afresh
    assert POLICY.wait(rate=800, now=52.3, since=None) == (0.25, 52.3)


def test_zero_min_rate_never_yields() -> None:
    never = YieldPolicy(min_rate=0)
    assert never.wait(rate=10_000, now=50.0, since=None) == (0.0, None)
