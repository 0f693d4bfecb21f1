"""`relay forget` on a rep whose reminders are synced: the reminders go from Relay (hard
deleted, so nothing is pushed), their Tasks stay in Salesforce (Relay does not delete CRM
data), and the next cycle does not bring the erased reminder back from its Task."""

from __future__ import annotations

from datetime import date

from relay.erasure import forget, plan_erasure
from relay.store.values import new_reminder
from relay.tasksync.engine import reminder_key
from tests.tasksync.harness import Harness

ALICE = "alice@acme-widgets.example"


def test_a_forgotten_reps_tasks_stay_and_do_not_come_back(harness: Harness) -> None:
    [alice] = harness.reps(ALICE)
    harness.sync(alice, True)
    harness.cycle()
    reminder = new_reminder(alice.user_id, "Call Hank", date(2026, 12, 18))
    harness.store.add_reminders([reminder])
    assert harness.cycle().to_salesforce == 1
    [task] = harness.tasks(f"Relay_Key__c = '{reminder_key(reminder.id)}'")

    plan = plan_erasure(harness.store, ALICE)
    assert plan.reminder_tasks() == [{"task_id": task["Id"], "reminder_id": reminder.id}]
    erased = forget(harness.store, plan)
    assert (erased.reminders, erased.sync_reps) == (1, 1)

    harness.update_task(task["Id"], Status="Completed")  # a change the poll reads
    report = harness.cycle()
    assert report.error is None
    assert report.to_salesforce == 0
    assert harness.store.reminders_of([alice.user_id]) == []
    assert harness.task(task["Id"])["IsDeleted"] is False
