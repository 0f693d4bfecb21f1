"""A stateful property test of the Task sync against the real local org (HTTPS) and a real
SQLite store, with the org's clock moved: hypothesis drives both sides (create, edit,
complete, delete; restore from the Recycle Bin and purge in Salesforce), moves the clock
from minutes to 40 days, runs cycles, turns the sync off and on and injects faults.

After two quiet cycles (no faults, no edits in between):

- the mapped fields of every paired reminder and its Task agree, but for the documented
  non-syncing values (a Subject edited in Salesforce, other statuses, Low, an empty
  ActivityDate): ``mapping.as_seen`` of the Task is the reminder's own values;
- a Task deleted in Salesforce took its reminder along, unless it left the Recycle Bin
  before any cycle with the sync on could see it (purged, or older than 15 days);
- a reminder deleted in Relay has no live Task;
- no reminder has two Tasks (its external id is found at most once, deleted rows too);
- a reminder made while the sync was off never reached Salesforce;
- the second quiet cycle makes one API call and writes nothing;
- and every cycle without faults makes at most ``pages + ceil(pushed / 200)`` calls, with
  one page for a plain poll.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from relay.localorg.seed import seed_sample
from relay.store import SqlStore, open_store
from relay.store.values import COMPLETE, OPEN, new_reminder
from relay.tasksync.engine import CycleReport, reminder_key
from relay.tasksync.mapping import as_seen, of_reminder, parse_task
from tests.support.localorg import RunningOrg, start_org
from tests.tasksync.harness import Harness, config_for

ALICE = "alice@acme-widgets.example"
BOB = "bob@acme-widgets.example"
"""A rep whose sync is never on: nothing of his may move either way."""
BIN_DAYS = 15
DATES = st.dates(min_value=date(2026, 11, 1), max_value=date(2027, 3, 1))
TEXT = st.text(alphabet="abcdefgh xyz", min_size=0, max_size=12)


@dataclass
class World:
    """What the test knows that the sides do not: what was made while the sync was off,
    which Salesforce deletions no cycle with the sync on could see, the clock's offset."""

    offset: float = 0.0
    sync_on: bool = False
    made_while_off: set[str] = field(default_factory=set)
    unseen_deletions: dict[str, datetime] = field(default_factory=dict)  # task id -> when
    lost: set[str] = field(default_factory=set)  # deleted Tasks purged before being seen


class TaskSyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        base = Path(TaskSyncMachine.tmp_dir) / f"run-{TaskSyncMachine.runs}"
        TaskSyncMachine.runs += 1
        self.org: RunningOrg = start_org(base / "org", seed_sample)
        url = f"sqlite:///{base / 'relay.db'}"
        self.store: SqlStore = open_store(url)  # type: ignore[assignment]
        self.h = Harness(self.org, self.store, config_for(self.org, base / "home", url))
        [self.rep, self.bob] = self.h.reps(ALICE, BOB)
        self.world = World()
        self.faulty = False

    def teardown(self) -> None:
        self.h.close()
        self.store.close()
        self.org.stop()

    # --- helpers --------------------------------------------------------------------------

    def _live_reminders(self) -> list[Any]:
        return self.store.list_reminders([self.rep.user_id])

    def _cycle(self) -> CycleReport:
        report = self.h.cycle()
        if not self.faulty and report.error is None:
            assert report.calls <= report.pages + math.ceil(report.pushed / 200), report
        if self.world.sync_on and report.error is None:
            self.world.unseen_deletions.clear()  # every deletion still in the bin was read
        return report

    def _expire_bin(self) -> None:
        now = self.h.org_now()
        for task_id, when in list(self.world.unseen_deletions.items()):
            if now - when >= timedelta(days=BIN_DAYS):
                self.world.lost.add(task_id)
                del self.world.unseen_deletions[task_id]

    # --- Relay's side ---------------------------------------------------------------------

    @initialize(on=st.booleans())
    def start(self, on: bool) -> None:
        if on:
            self.toggle(on=True)

    @rule(subject=TEXT, due=DATES, high=st.booleans())
    def relay_create(self, subject: str, due: date, high: bool) -> None:
        reminder = new_reminder(self.rep.user_id, subject or "untitled", due,
                                priority="high" if high else "normal")  # fmt: skip
        self.store.add_reminders([reminder])
        if not self.world.sync_on:
            self.world.made_while_off.add(reminder.id)

    @rule(data=st.data(), what=st.sampled_from(["subject", "details", "due", "priority"]))
    def relay_edit(self, data: st.DataObject, what: str) -> None:
        live = self._live_reminders()
        if not live:
            return
        reminder = data.draw(st.sampled_from(live))
        value: Any = {
            "subject": data.draw(TEXT) or "untitled",
            "details": data.draw(TEXT),
            "due": data.draw(DATES),
            "priority": data.draw(st.sampled_from(["normal", "high"])),
        }[what]
        self.store.edit_reminder(reminder.id, **{what: value})

    @rule(data=st.data(), done=st.booleans())
    def relay_complete(self, data: st.DataObject, done: bool) -> None:
        live = self._live_reminders()
        if live:
            reminder = data.draw(st.sampled_from(live))
            self.store.edit_reminder(reminder.id, status=COMPLETE if done else OPEN)

    @rule(data=st.data())
    def relay_delete(self, data: st.DataObject) -> None:
        live = self._live_reminders()
        if live:
            self.store.delete_reminder(data.draw(st.sampled_from(live)).id)

    @rule(subject=TEXT, due=DATES)
    def bob_both_sides(self, subject: str, due: date) -> None:
        self.store.add_reminders([new_reminder(self.bob.user_id, subject or "bob's", due)])
        self.h.create_task(self.bob, subject or "bob's task", due)

    # --- Salesforce's side ----------------------------------------------------------------

    @rule(subject=TEXT, due=st.none() | DATES)
    def sf_create(self, subject: str, due: date | None) -> None:
        self.h.create_task(self.rep, subject or "from salesforce", due)

    def _pick(self, data: st.DataObject, deleted: bool) -> str | None:
        where = f"OwnerId = '{self.rep.user_id}' AND IsDeleted = {str(deleted).lower()}"
        found = sorted(t["Id"] for t in self.h.tasks(where, deleted=deleted))
        return data.draw(st.sampled_from(found)) if found else None

    @rule(data=st.data(), status=st.sampled_from(["Not Started", "Completed", "In Progress"]),
          priority=st.sampled_from(["Normal", "High", "Low"]), due=DATES, details=TEXT,
          subject=TEXT)  # fmt: skip
    def sf_edit(
        self, data: st.DataObject, status: str, priority: str, due: date, details: str,
        subject: str,
    ) -> None:  # fmt: skip
        task_id = self._pick(data, deleted=False)
        fields = {"Status": status, "Priority": priority, "ActivityDate": due.isoformat(),
                  "Description": details, "Subject": subject or "renamed"}  # fmt: skip
        if task_id is not None:
            self.h.update_task(task_id, **fields)

    @rule(data=st.data())
    def sf_complete(self, data: st.DataObject) -> None:
        task_id = self._pick(data, deleted=False)
        if task_id is not None:
            self.h.update_task(task_id, Status="Completed")

    @rule(data=st.data())
    def sf_delete(self, data: st.DataObject) -> None:
        task_id = self._pick(data, deleted=False)
        if task_id is not None:
            self.h.delete_task(task_id)
            self.world.unseen_deletions[task_id] = self.h.org_now()

    @rule(data=st.data())
    def sf_restore(self, data: st.DataObject) -> None:
        task_id = self._pick(data, deleted=True)
        if task_id is not None:
            self.h.undelete(task_id)
            self.world.unseen_deletions.pop(task_id, None)

    @rule(data=st.data())
    def sf_purge(self, data: st.DataObject) -> None:
        task_id = self._pick(data, deleted=True)
        if task_id is not None:
            self.h.purge(task_id)
            if task_id in self.world.unseen_deletions:
                self.world.lost.add(task_id)
                del self.world.unseen_deletions[task_id]

    # --- time, sync, faults ---------------------------------------------------------------

    @rule(seconds=st.sampled_from([60, 600, 3600, 86400, 3 * 86400, 16 * 86400, 40 * 86400]))
    def move_clock(self, seconds: int) -> None:
        self.world.offset += seconds
        self.h.move_clock(self.world.offset)
        self._expire_bin()

    @rule()
    def sync(self) -> None:
        self._cycle()

    @rule(on=st.sampled_from([True, True, False]))
    def toggle(self, on: bool) -> None:
        self.h.sync(self.rep, on)
        self.world.sync_on = on
        self._cycle()  # the engine notices at once, as a running relay does within a cycle

    @rule(kind=st.sampled_from(["503", "UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED"]))
    def faults(self, kind: str) -> None:
        self.org.set_faults({kind: 0.5})
        self.faulty = True
        try:
            self._cycle()
        finally:
            self.org.set_faults({})
            self.faulty = False
        # A rate limit pauses the sync: end the pause, as waiting it out would.
        state = self.store.task_sync_state()
        if state.paused_until is not None:
            from dataclasses import replace

            self.store.record_task_sync_state(replace(state, paused_until=None))

    # --- the invariants after two quiet cycles ------------------------------------------

    @invariant()
    def after_two_quiet_cycles(self) -> None:
        self._expire_bin()
        self._cycle()
        second = self._cycle()
        assert second.error is None, second.error
        if self.world.sync_on:
            assert (second.calls, second.writes, second.failed) == (1, 0, 0), second
        else:
            assert (second.calls, second.writes) == (0, 0), second
        every = {r.id: r for r in self.store.reminders_by_ids(self._all_ids()).values()}
        keyed = self.h.tasks("Relay_Key__c != null", deleted=True)
        by_key: dict[str, list[dict[str, Any]]] = {}
        for task in keyed:
            by_key.setdefault(str(task["Relay_Key__c"]), []).append(task)
        for key, found in by_key.items():
            assert len(found) == 1, f"two Tasks for {key}"
        for reminder in self.store.list_reminders([self.bob.user_id]):
            assert reminder.sf_task_id is None, "a rep without sync got a Task paired"
            assert reminder_key(reminder.id) not in by_key, "pushed a reminder of a rep off"
        for reminder_id in self.world.made_while_off:
            assert reminder_key(reminder_id) not in by_key, "pushed a reminder made while off"
        if not self.world.sync_on:
            return
        live_tasks = {t["Id"]: t for t in self.h.tasks("Id != null")}
        for reminder in every.values():
            if reminder.sf_task_id is None:
                continue
            task = live_tasks.get(reminder.sf_task_id)
            if reminder.deleted_at is not None:
                assert task is None, f"deleted reminder {reminder.id} kept its Task"
                continue
            if task is None:
                assert reminder.sf_task_id in self.world.lost, (
                    f"Task {reminder.sf_task_id} is gone, its reminder {reminder.id} is not"
                )
                continue
            mapped = of_reminder(reminder)
            assert as_seen(parse_task(task), mapped) == mapped, (reminder, task)

    def _all_ids(self) -> list[str]:
        with self.store.engine.connect() as connection:
            from sqlalchemy import select

            from relay.store.reminders import reminders

            return [row.id for row in connection.execute(select(reminders.c.id))]

    tmp_dir: str = ""
    runs: int = 0


def test_the_sync_holds_its_invariants_under_random_operations(tmp_path: Path) -> None:
    TaskSyncMachine.tmp_dir = str(tmp_path)
    TaskSyncMachine.runs = 0
    test = TaskSyncMachine.TestCase
    test.settings = settings(
        max_examples=30,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        # No shrinking: a failing run against a live org shrinks for minutes; the
        # failing steps are printed as found.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
    )
    test().runTest()
