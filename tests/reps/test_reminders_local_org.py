"""Reps' time zones come from the org: `relay tasks add` for a rep not synced yet syncs
the reps from the local org (HTTPS), which reads User.TimeZoneSidKey, and counts the due
date in that zone."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import Result

from relay.reps.reminders import local_date
from relay.store import open_store

RelayCli = Callable[..., Result]
ZONE = "America/New_York"
"""The sample org's reps' time zone (relay/localorg/seed.py)."""


def test_the_rep_sync_reads_the_time_zone_and_due_dates_follow_it(
    relay_cli: RelayCli, tmp_path: Path
) -> None:
    before = local_date(datetime.now(UTC), ZONE)
    added = relay_cli(
        "tasks", "add", "--user", "alice@acme-widgets.example", "Call Hank", "--due", "tomorrow",
        "--json",
    )  # fmt: skip
    after = local_date(datetime.now(UTC), ZONE)
    assert added.exit_code == 0, added.output
    document = json.loads(added.output)
    assert document["owner"] == "alice@acme-widgets.example"
    assert document["due"] in {(d + timedelta(days=1)).isoformat() for d in (before, after)}
    store = open_store(f"sqlite:///{tmp_path / 'relay-home' / 'relay.db'}")
    try:
        zones = {rep.email: rep.time_zone for rep in store.list_reps()}
    finally:
        store.close()
    assert zones["alice@acme-widgets.example"] == ZONE
