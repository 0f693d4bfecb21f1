"""End to end over real SMTP: `log+remind-tomorrow@` to `relay serve` with
``task_sync`` on -> the email is logged, the reminder is due tomorrow, its Salesforce Task
has ActivityDate tomorrow, and completing the Task in Salesforce completes the reminder
within one poll."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from relay.reps.reminders import local_date
from relay.tasksync.engine import reminder_key
from tests.support.localorg import RunningOrg, running_org
from tests.support.pipeline import REP, email, seed_pipeline, wait_for
from tests.support.serve import DOMAIN, RelayServe

REP_ZONE = "America/New_York"
"""The sample org's reps' User.TimeZoneSidKey (relay/localorg/seed.py)."""
INTERVAL = 1.0


@pytest.fixture
def org(tmp_path: Path) -> Iterator[RunningOrg]:
    with running_org(tmp_path / "org", seed_pipeline) as running:
        yield running


@pytest.fixture(params=[(), ("--workers", "0")], ids=["edge-and-worker", "one-process"])
def serve(request: pytest.FixtureRequest, tmp_path: Path, org: RunningOrg) -> Iterator[RelayServe]:
    """`relay serve` as shipped (the sync runs in the edge's process) and in one process
    (beside the delivery runner's own Salesforce client)."""
    env = org.env() | {"RELAY_SYNC_TASK_SYNC": "on", "RELAY_TASK_SYNC_INTERVAL": str(INTERVAL)}
    process = RelayServe(tmp_path / "relay", env=env, args=request.param).start()
    try:
        yield process
    finally:
        process.stop()


def _reminders(serve: RelayServe) -> list[dict[str, Any]]:
    result = serve.cli("tasks", "list", "--all", "--json")
    assert result.returncode == 0, result.stderr
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


def test_remind_tomorrow_reaches_salesforce_and_completion_comes_back(
    org: RunningOrg, serve: RelayServe
) -> None:
    now = datetime.now(UTC)
    tomorrow = {local_date(now, REP_ZONE) + timedelta(days=1),
                local_date(now + timedelta(seconds=60), REP_ZONE) + timedelta(days=1)}  # fmt: skip
    serve.send(email(["hank@globex.example"], "Synced reminder"), rcpt=(
        f"log+remind-tomorrow@{DOMAIN}",))  # fmt: skip

    def synced() -> dict[str, Any] | None:
        return next(
            (r for r in _reminders(serve)
             if r["subject"] == "Follow up: Synced reminder" and r["sf_task_id"]),
            None,
        )  # fmt: skip

    reminder: dict[str, Any] = wait_for(synced, what="the reminder paired with a Task")
    assert reminder["owner"] == REP
    assert date.fromisoformat(reminder["due"]) in tomorrow
    logged = org.tasks("Subject = 'Email: Synced reminder'")
    assert logged
    [task] = org.sf().query_all(
        "SELECT Id, ActivityDate, Status, OwnerId, WhoId, WhatId, TaskSubtype FROM Task "
        f"WHERE Relay_Key__c = '{reminder_key(reminder['id'])}'"
    )["records"]
    assert task["Id"] == reminder["sf_task_id"]
    assert task["ActivityDate"] == reminder["due"]
    assert (task["Status"], task["TaskSubtype"]) == ("Not Started", "Task")
    assert task["OwnerId"] == org.seeded.sample.users[REP]
    assert task["WhoId"] == reminder["who_id"]
    assert reminder["who_id"] in {t["WhoId"] for t in logged}

    org.sf().Task.update(task["Id"], {"Status": "Completed"})
    completed_at = time.monotonic()

    def completed() -> bool:
        return any(r["id"] == reminder["id"] and r["status"] == "complete"
                   for r in _reminders(serve))  # fmt: skip

    wait_for(completed, what="the completion back in Relay")
    # Within one poll (plus the time a `relay tasks list` takes to start).
    assert time.monotonic() - completed_at < INTERVAL + 5
    # The logged email's own Task (TaskSubtype Email) never became a reminder.
    logged_ids = {t["Id"] for t in logged}
    assert [r for r in _reminders(serve) if r["sf_task_id"] in logged_ids] == []
