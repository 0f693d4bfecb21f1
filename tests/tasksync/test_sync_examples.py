"""The Task sync by example, against the local org over HTTPS on both store backends:
the first import's 24-hour boundary on the org's clock, what is never pushed, both
directions, no echo, the conflict rule, the non-syncing values and the date round trip
under far-apart time zones."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest

from relay.store.model import Rep
from relay.store.values import COMPLETE, new_reminder
from relay.tasksync.engine import reminder_key
from tests.tasksync.harness import Harness

ALICE = "alice@acme-widgets.example"
BOB = "bob@acme-widgets.example"
DUE = date(2026, 12, 18)


def _by_task(harness: Harness) -> dict[str, object]:
    return {r.sf_task_id: r for r in harness.store.list_reminders() if r.sf_task_id}


def test_first_enable_imports_the_last_24_hours_on_the_orgs_clock(harness: Harness) -> None:
    alice, bob = harness.reps(ALICE, BOB)
    harness.move_clock(-(24 * 3600 - 60))  # 23:59 ago
    inside = harness.create_task(alice, "Inside the window", DUE)
    harness.move_clock(-(24 * 3600 + 60))  # 24:01 ago
    outside = harness.create_task(alice, "Outside the window", DUE)
    harness.move_clock(0)
    logged_email = harness.create_task(alice, "Email: logged", DUE, TaskSubtype="Email")
    master = harness.create_task(
        alice, "Weekly", None, IsRecurrence=True, RecurrenceType="RecursWeekly",
        RecurrenceStartDateOnly="2026-12-01", RecurrenceEndDateOnly="2027-03-01",
        RecurrenceDayOfWeekMask=2, RecurrenceInterval=1,
    )  # fmt: skip
    bobs = harness.create_task(bob, "Bob's own", DUE)
    before = new_reminder(alice.user_id, "Existed before enabling", DUE)
    harness.store.add_reminders([before])

    harness.sync(alice, True)
    report = harness.cycle()

    assert report.error is None, report.error
    imported = {r.sf_task_id: r for r in harness.store.list_reminders() if r.sf_task_id}
    assert set(imported) == {inside}
    assert imported[inside].source == "salesforce"
    assert imported[inside].due == DUE
    assert imported[inside].subject == "Inside the window"
    assert {outside, logged_email, master, bobs}.isdisjoint(imported)
    # The reminder that existed before enabling never reaches Salesforce.
    assert harness.tasks(f"Relay_Key__c = '{reminder_key(before.id)}'") == []
    assert harness.store.get_reminder(before.id).sf_task_id is None  # type: ignore[union-attr]
    # ... even once it is edited after enabling.
    harness.store.edit_reminder(before.id, subject="Edited after enabling")
    assert harness.cycle().to_salesforce == 0
    assert harness.tasks(f"Relay_Key__c = '{reminder_key(before.id)}'") == []


def test_new_reminders_go_to_salesforce_once_and_a_quiet_cycle_is_one_call(
    harness: Harness,
) -> None:
    [alice] = harness.reps(ALICE)
    harness.sync(alice, True)
    assert harness.cycle().error is None
    contact = harness.org.sample.contacts["hank@globex.example"]
    reminder = new_reminder(alice.user_id, "Call Hank", DUE, priority="high", details="Re: quote",
                            who_id=contact, records=(contact,))  # fmt: skip
    harness.store.add_reminders([reminder])

    pushed = harness.cycle()
    assert pushed.error is None
    assert pushed.to_salesforce == 1
    [task] = harness.tasks(f"Relay_Key__c = '{reminder_key(reminder.id)}'")
    assert task["ActivityDate"] == DUE.isoformat()
    assert (task["Subject"], task["Status"], task["Priority"]) == (
        "Call Hank",
        "Not Started",
        "High",
    )
    assert (task["Description"], task["WhoId"], task["OwnerId"]) == (
        "Re: quote",
        contact,
        alice.user_id,
    )
    stored = harness.store.get_reminder(reminder.id)
    assert stored is not None
    assert stored.sf_task_id == task["Id"]

    # The echo of Relay's own write comes back in the next poll: no change, no write.
    versions = harness.store.change_versions()
    for _ in range(2):
        before = harness.store.task_sync_state()
        quiet = harness.cycle()
        assert (quiet.calls, quiet.writes, quiet.conflicts, quiet.failed) == (1, 0, 0, 0)
        after = harness.store.task_sync_state()
        assert after.last_cycle_at is not None
        assert before.last_cycle_at is not None
        assert after.last_cycle_at > before.last_cycle_at
    # The second quiet cycle (the echo's stamp already past) stamps only its time (the
    # Tasks page's "last cycle"), never the cursor.
    assert (after.cursor_modstamp, after.cursor_id) == (before.cursor_modstamp, before.cursor_id)
    assert after.cursor_modstamp is not None
    assert harness.store.change_versions() == versions
    assert harness.task(task["Id"])["SystemModstamp"] == task["SystemModstamp"]
    assert len(harness.tasks(f"Relay_Key__c = '{reminder_key(reminder.id)}'")) == 1


def test_changes_in_salesforce_reach_relay_and_back(harness: Harness) -> None:
    [alice] = harness.reps(ALICE)
    harness.sync(alice, True)
    harness.cycle()
    task_id = harness.create_task(alice, "Made in Salesforce", DUE)
    assert harness.cycle().imported == 1
    [reminder] = harness.store.list_reminders()
    assert reminder.sf_task_id == task_id

    harness.update_task(task_id, Status="Completed", ActivityDate="2026-12-20",
                        Description="done", Subject="Renamed in Salesforce")  # fmt: skip
    assert harness.cycle().to_relay == 1
    reminder = harness.store.get_reminder(reminder.id)  # type: ignore[assignment]
    assert reminder is not None
    assert (reminder.status, reminder.due, reminder.details) == (
        COMPLETE,
        date(2026, 12, 20),
        "done",
    )
    assert reminder.subject == "Made in Salesforce"  # Subject is one way, to Salesforce

    harness.store.edit_reminder(reminder.id, status="open", subject="Renamed in Relay")
    assert harness.cycle().to_salesforce == 1
    task = harness.task(task_id)
    assert (task["Status"], task["Subject"]) == ("Not Started", "Renamed in Relay")

    harness.delete_task(task_id)
    assert harness.cycle().to_relay == 1
    assert harness.store.get_reminder(reminder.id) is None
    # Restored from the Recycle Bin: the reminder comes back.
    harness.undelete(task_id)
    assert harness.cycle().to_relay == 1
    back = harness.store.get_reminder(reminder.id)
    assert back is not None
    assert back.subject == "Renamed in Relay"

    harness.store.delete_reminder(reminder.id)
    assert harness.cycle().to_salesforce == 1
    assert harness.tasks(f"Id = '{task_id}'") == []
    assert harness.tasks(f"Id = '{task_id}'", deleted=True)[0]["IsDeleted"] is True
    quiet = harness.cycle()
    assert (quiet.calls, quiet.writes) == (1, 0)


def test_statuses_and_priorities_that_do_not_sync_are_left_alone(harness: Harness) -> None:
    [alice] = harness.reps(ALICE)
    harness.sync(alice, True)
    harness.cycle()
    reminder = new_reminder(alice.user_id, "Call Hank", DUE)
    harness.store.add_reminders([reminder])
    harness.cycle()
    task_id = harness.store.get_reminder(reminder.id).sf_task_id  # type: ignore[union-attr]
    assert task_id is not None

    harness.update_task(task_id, Status="In Progress", Priority="Low")
    assert harness.cycle().writes == 0
    kept = harness.store.get_reminder(reminder.id)
    assert kept is not None
    assert (kept.status, kept.priority) == ("open", "normal")
    # A Relay edit of another field leaves Salesforce's own values be ...
    harness.store.edit_reminder(reminder.id, details="new details")
    harness.cycle()
    task = harness.task(task_id)
    assert (task["Status"], task["Priority"], task["Description"]) == (
        "In Progress",
        "Low",
        "new details",
    )
    # ... and a Relay status change overwrites them.
    harness.store.edit_reminder(reminder.id, status=COMPLETE, priority="high")
    harness.cycle()
    task = harness.task(task_id)
    assert (task["Status"], task["Priority"]) == ("Completed", "High")


def test_conflicts_the_later_change_wins_and_delete_beats_edit(harness: Harness) -> None:
    [alice] = harness.reps(ALICE)
    harness.sync(alice, True)
    harness.cycle()
    first = new_reminder(alice.user_id, "First", DUE)
    second = new_reminder(alice.user_id, "Second", DUE)
    harness.store.add_reminders([first, second])
    harness.cycle()
    first_task = harness.store.get_reminder(first.id).sf_task_id  # type: ignore[union-attr]
    second_task = harness.store.get_reminder(second.id).sf_task_id  # type: ignore[union-attr]
    assert first_task
    assert second_task

    # Relay edits first, Salesforce later (its clock a minute ahead): Salesforce wins.
    harness.store.edit_reminder(first.id, due=date(2026, 12, 21), details="relay")
    harness.move_clock(60)
    harness.update_task(first_task, ActivityDate="2026-12-22")
    report = harness.cycle()
    assert report.conflicts == 1
    merged = harness.store.get_reminder(first.id)
    assert merged is not None
    assert merged.due == date(2026, 12, 22)
    assert merged.details == "relay"  # changed on one side only: that side wins
    assert harness.task(first_task)["Description"] == "relay"
    # Salesforce edits, then Relay later (the org's clock back on real time): Relay wins.
    harness.move_clock(0)
    harness.update_task(first_task, ActivityDate="2026-12-23")
    time.sleep(0.01)
    harness.store.edit_reminder(first.id, due=date(2026, 12, 24))
    assert harness.cycle().conflicts == 1
    assert harness.store.get_reminder(first.id).due == date(2026, 12, 24)  # type: ignore[union-attr]
    assert harness.task(first_task)["ActivityDate"] == "2026-12-24"

    # Delete beats edit, both ways.
    harness.store.edit_reminder(second.id, subject="Edited in Relay")
    harness.delete_task(second_task)
    harness.cycle()
    assert harness.store.get_reminder(second.id) is None
    harness.update_task(first_task, Description="edited in Salesforce")
    harness.store.delete_reminder(first.id)
    harness.cycle()
    assert harness.tasks(f"Id IN ('{first_task}', '{second_task}')") == []
    assert (harness.cycle().calls, harness.cycle().writes) == (1, 0)


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Los_Angeles"])
def test_due_dates_round_trip_unshifted_whatever_the_processs_time_zone(
    harness: Harness, zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        [alice] = harness.reps(ALICE, time_zone=zone)
        harness.sync(alice, True)
        harness.cycle()
        # Dates that a conversion would shift: near midnight UTC on either side.
        reminder = new_reminder(alice.user_id, "Round trip", date(2026, 12, 31))
        harness.store.add_reminders([reminder])
        harness.cycle()
        task_id = harness.store.get_reminder(reminder.id).sf_task_id  # type: ignore[union-attr]
        assert task_id is not None
        assert harness.task(task_id)["ActivityDate"] == "2026-12-31"
        harness.update_task(task_id, ActivityDate="2027-01-01")
        harness.cycle()
        assert harness.store.get_reminder(reminder.id).due == date(2027, 1, 1)  # type: ignore[union-attr]
        imported_id = harness.create_task(alice, "Imported", date(2027, 3, 1))
        harness.cycle()
        assert _by_task(harness)[imported_id].due == date(2027, 3, 1)  # type: ignore[attr-defined]
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_turning_sync_off_stops_both_ways_and_deletes_nothing(harness: Harness) -> None:
    [alice] = harness.reps(ALICE)
    harness.sync(alice, True)
    harness.cycle()
    kept = new_reminder(alice.user_id, "Kept", DUE)
    harness.store.add_reminders([kept])
    harness.cycle()
    task_id = harness.store.get_reminder(kept.id).sf_task_id  # type: ignore[union-attr]
    assert task_id is not None

    harness.sync(alice, False)
    harness.cycle()
    during = new_reminder(alice.user_id, "Made while off", DUE)
    harness.store.add_reminders([during])
    harness.store.edit_reminder(kept.id, details="edited while off")
    harness.update_task(task_id, ActivityDate="2026-12-19")
    off = harness.cycle()
    assert (off.calls, off.writes) == (0, 0)
    assert not harness.task(task_id)["Description"]
    assert harness.store.get_reminder(kept.id).due == DUE  # type: ignore[union-attr]
    assert len(harness.store.list_reminders()) == 2
    assert harness.tasks(f"Id = '{task_id}'") != []

    # On again: the pause's changes merge; what was made while off is not pushed.
    harness.sync(alice, True)
    harness.cycle()
    merged = harness.store.get_reminder(kept.id)
    assert merged is not None
    assert merged.due == date(2026, 12, 19)
    assert harness.task(task_id)["Description"] == "edited while off"
    assert harness.tasks(f"Relay_Key__c = '{reminder_key(during.id)}'") == []


def test_deletions_during_a_pause_arrive_only_within_15_days(harness: Harness) -> None:
    [alice] = harness.reps(ALICE)
    harness.sync(alice, True)
    harness.cycle()
    recent = new_reminder(alice.user_id, "Deleted recently", DUE)
    old = new_reminder(alice.user_id, "Deleted long ago", DUE)
    harness.store.add_reminders([recent, old])
    harness.cycle()
    recent_task = harness.store.get_reminder(recent.id).sf_task_id  # type: ignore[union-attr]
    old_task = harness.store.get_reminder(old.id).sf_task_id  # type: ignore[union-attr]
    assert recent_task
    assert old_task
    harness.sync(alice, False)
    harness.cycle()

    harness.move_clock(2 * 86400)
    harness.delete_task(old_task)
    harness.move_clock(20 * 86400)  # the old deletion is 18 days back: purged
    harness.delete_task(recent_task)
    harness.sync(alice, True)
    assert harness.cycle().error is None
    assert harness.store.get_reminder(recent.id) is None
    assert harness.store.get_reminder(old.id) is not None
    harness.move_clock(0)


def test_a_crash_after_salesforces_commit_makes_no_second_task(harness: Harness) -> None:
    [alice] = harness.reps(ALICE)
    harness.sync(alice, True)
    harness.cycle()
    reminder = new_reminder(alice.user_id, "Exactly once", DUE)
    harness.store.add_reminders([reminder])
    # The Task was written, and the store never learned its id (a crash in between).
    original = harness.store.apply_task_sync
    harness.store.apply_task_sync = lambda writes: (0, 0)  # type: ignore[method-assign]
    harness.cycle()
    harness.store.apply_task_sync = original  # type: ignore[method-assign]
    assert harness.store.get_reminder(reminder.id).sf_task_id is None  # type: ignore[union-attr]
    for _ in range(2):
        harness.cycle()
    [task] = harness.tasks(f"Relay_Key__c = '{reminder_key(reminder.id)}'")
    assert harness.store.get_reminder(reminder.id).sf_task_id == task["Id"]  # type: ignore[union-attr]
    assert len(harness.store.list_reminders()) == 1


def test_import_is_once_across_cycles_and_nodes(harness: Harness) -> None:
    [alice] = harness.reps(ALICE)
    harness.sync(alice, True)
    harness.cycle()
    harness.create_task(alice, "Once", DUE)
    other = type(harness.engine)(harness.store, harness.client, harness.config.sync,
                                  org_clock=harness.org_now)  # fmt: skip
    # Both nodes read the Task before either writes: the store keeps one reminder.
    harness.cycle()
    other.cycle()
    assert [r.subject for r in harness.store.list_reminders()] == ["Once"]


def test_with_more_reps_than_a_uri_holds_the_poll_reads_every_owner_and_keeps_the_reps(
    harness: Harness,
) -> None:
    [alice, bob] = harness.reps(ALICE, BOB)
    # 900 more reps with sync on: their ids would pass the 16,384-byte URI limit.
    others = [Rep(f"005{n:012d}AAA", f"r{n}@x.example", f"r{n}@x.example") for n in range(900)]
    harness.store.replace_reps([alice, bob, *others], datetime.now(UTC))
    harness.store.set_setting("org", "task_sync", "on")
    harness.sync(bob, False)
    assert harness.cycle().error is None
    alices = harness.create_task(alice, "Alice's", DUE)
    harness.create_task(bob, "Bob's, not synced", DUE)
    report = harness.cycle()
    assert report.error is None
    assert report.calls == 1
    assert {r.sf_task_id for r in harness.store.list_reminders()} == {alices}
