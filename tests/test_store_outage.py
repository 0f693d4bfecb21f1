"""The runners' store outage: backoff bounds, one log line per start and end, readiness."""

from __future__ import annotations

import io

from structlog.testing import capture_logs

from relay.logs import configure_logging
from relay.store_outage import MAX_WAIT_SECONDS, StoreOutage, backoff_seconds


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    """Each wait lies in the upper half of a doubling ceiling, never above the cap."""
    assert [backoff_seconds(n, rand=lambda: 1.0) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert [backoff_seconds(n, rand=lambda: 0.0) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]
    assert backoff_seconds(1000, rand=lambda: 1.0) == MAX_WAIT_SECONDS
    assert backoff_seconds(1000, rand=lambda: 0.0) == MAX_WAIT_SECONDS / 2


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends() -> None:
    """Retries in between log nothing; the reason is readable while it lasts."""
    configure_logging("info", "json", io.StringIO())  # an earlier test may have set "warning"
    now = [100.0]
    outage = StoreOutage(clock=lambda: now[0])
    with capture_logs() as logs:
        assert outage.reason() is None
        for _ in range(5):
            assert 0 < outage.failed("deliver", "SQLite: database is locked") <= MAX_WAIT_SECONDS
        assert outage.reason() == "deliver: SQLite: database is locked"
        assert outage.retry_wait("deliver") is not None
        assert outage.retry_wait("recheck") is None
        now[0] += 12.0
        outage.succeeded("deliver")
        outage.succeeded("deliver")
        assert outage.reason() is None
    assert [(e["event"], e["runner"]) for e in logs] == [
        ("store_unavailable", "deliver"),
        ("store_available", "deliver"),
    ]
    assert logs[0]["reason"] == "SQLite: database is locked"
    assert (logs[1]["failures"], logs[1]["seconds"]) == (5, 12.0)


def test_readiness_stays_failing_until_every_runner_got_through() -> None:
    """Two runners failing: one recovering is not enough."""
    outage = StoreOutage()
    outage.failed("deliver", "locked")
    outage.failed("recheck", "locked")
    outage.succeeded("deliver")
    assert outage.reason() == "recheck: locked"
    outage.succeeded("recheck")
    assert outage.reason() is None
