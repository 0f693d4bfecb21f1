"""How the Task sync fails: Relay's error classes against the local org's faults (a
transient failure is tried again next cycle and loses nothing, a rate limit pauses the
sync, a configuration problem is kept with its guidance), what `relay doctor` shows, and
the runner's loop (relay/runners/task_sync.py)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from relay.cli.main import cli
from relay.doctor import check_task_sync
from relay.errors import StoreUnavailable
from relay.runners.task_sync import TaskSyncRunner
from relay.store.task_sync import SyncState
from relay.store.values import new_reminder
from relay.store_outage import StoreOutage
from relay.tasksync.engine import TaskSyncEngine
from tests.tasksync.harness import Harness

ALICE = "alice@acme-widgets.example"
DUE = date(2026, 12, 18)


def test_a_transient_failure_is_tried_again_and_loses_nothing(harness: Harness) -> None:
    [alice] = harness.reps(ALICE)
    harness.sync(alice, True)
    harness.cycle()
    task_id = harness.create_task(alice, "Made during the outage", DUE)
    reminder = new_reminder(alice.user_id, "Pushed after the outage", DUE)
    harness.store.add_reminders([reminder])
    harness.org.set_faults({"503": 1.0})
    failed = harness.cycle()
    harness.org.set_faults({})
    assert failed.error is not None
    assert failed.writes == 0
    state = harness.store.task_sync_state()
    assert state.error_kind == "transient"
    assert check_task_sync(1, state).status == "warn"

    recovered = harness.cycle()
    assert recovered.error is None
    assert recovered.imported == 1
    assert recovered.to_salesforce == 1
    assert harness.store.task_sync_state().error_kind is None
    assert {r.sf_task_id for r in harness.store.list_reminders()} >= {task_id}


def test_a_rate_limit_pauses_the_sync(harness: Harness) -> None:
    [alice] = harness.reps(ALICE)
    harness.sync(alice, True)
    harness.org.set_faults({"REQUEST_LIMIT_EXCEEDED": 1.0})
    limited = harness.cycle()
    harness.org.set_faults({})
    assert limited.error is not None
    state = harness.store.task_sync_state()
    assert state.error_kind == "rate_limited"
    assert state.paused_until is not None
    assert state.paused_until > datetime.now(UTC) + timedelta(seconds=60)
    paused = harness.cycle()
    assert paused.paused
    assert paused.calls == 0
    check = check_task_sync(1, state)
    assert check.status == "warn"
    assert "paused until" in check.detail
    # Once the pause is over, the sync goes on.
    harness.store.record_task_sync_state(replace(state, paused_until=datetime.now(UTC)))
    assert harness.cycle().error is None
    assert harness.store.task_sync_state().paused_until is None


def test_without_the_external_id_field_the_sync_is_held_with_guidance(harness: Harness) -> None:
    [alice] = harness.reps(ALICE)
    harness.sync(alice, True)
    engine = TaskSyncEngine(harness.store, harness.client, harness.config.sync, key_field="")
    report = engine.cycle()
    assert report.calls == 0
    assert report.error is not None
    state = harness.store.task_sync_state()
    assert state.error_kind == "needs_attention"
    check = check_task_sync(1, state)
    assert check.status == "fail"
    assert "external-id field" in check.detail
    assert check.fix


def test_doctor_says_when_the_sync_is_off_or_fine() -> None:
    assert check_task_sync(0, None).status == "ok"
    assert "off for every rep" in check_task_sync(0, None).detail
    moment = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    fine = check_task_sync(3, SyncState(cursor_modstamp=moment))
    assert (fine.status, fine.detail) == (
        "ok", "on for 3 rep(s); Tasks polled up to 2026-12-06T10:00:00+00:00",
    )  # fmt: skip


class FailingStore:
    def task_sync_state(self) -> SyncState:
        raise StoreUnavailable("database is locked")


def test_the_runner_waits_its_interval_and_backs_off_when_the_store_fails(
    harness: Harness,
) -> None:
    [alice] = harness.reps(ALICE)
    harness.sync(alice, True)
    outage = StoreOutage()
    runner = TaskSyncRunner(harness.engine, 42.0, outage)
    stopping = asyncio.Event()
    assert asyncio.run(runner.tick(stopping)) == 42.0
    assert harness.store.task_sync_reps()[alice.user_id].enabled
    broken = TaskSyncEngine(FailingStore(), harness.client, harness.config.sync)  # type: ignore[arg-type]
    runner = TaskSyncRunner(broken, 42.0, outage)
    wait = asyncio.run(runner.tick(stopping))
    assert 0 < wait < 42.0  # the outage's backoff (jittered), not the interval
    assert outage.reason() == "task_sync: database is locked"


def test_relay_doctor_shows_the_task_sync(harness: Harness, store_url: str, tmp_path: Path) -> None:
    [alice] = harness.reps(ALICE)
    harness.sync(alice, True)
    harness.org.set_faults({"503": 1.0})
    harness.cycle()
    harness.org.set_faults({})
    env = harness.org.relay_env(tmp_path / "doctor-home", RELAY_STORE_URL=store_url)
    shown = CliRunner().invoke(cli, ["doctor", "--json"], env=env)
    checks = {c["name"]: c for c in json.loads(shown.output)["checks"]}
    assert checks["task sync"]["status"] == "warn"
    assert "on for 1 rep(s)" in checks["task sync"]["detail"]
    assert "SERVER_UNAVAILABLE" in checks["task sync"]["detail"]
    harness.cycle()
    shown = CliRunner().invoke(cli, ["doctor", "--json"], env=env)
    checks = {c["name"]: c for c in json.loads(shown.output)["checks"]}
    assert checks["task sync"]["status"] == "ok"


def test_a_reminder_whose_push_failed_still_goes_after_a_pause(harness: Harness) -> None:
    [alice] = harness.reps(ALICE)
    harness.sync(alice, True)
    harness.cycle()
    reminder = new_reminder(alice.user_id, "Refused at first", DUE)
    harness.store.add_reminders([reminder])
    harness.org.set_faults({"UNABLE_TO_LOCK_ROW": 1.0})
    refused = harness.cycle()
    harness.org.set_faults({})
    assert refused.failed == 1
    harness.sync(alice, False)
    harness.cycle()
    harness.sync(alice, True)
    assert harness.cycle().to_salesforce == 1
    stored = harness.store.get_reminder(reminder.id)
    assert stored is not None
    assert stored.sf_task_id is not None
