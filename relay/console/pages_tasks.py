"""``/tasks``: the rep's command center (docs/design.md §10): open reminders overdue,
due today and due tomorrow in the rep's own time zone (as `relay tasks list` counts
them), with done, edit, snooze and delete, a form to add one, and the Task sync state
(the rep's setting, and the engine's last cycle and last error: task_sync_status.py).

Writes go through the store API `relay tasks` uses (``add_reminders``,
``edit_reminder``, ``delete_reminder``, each bumping the ``tasks`` change version in its
transaction). A rep acts only on their own reminders (403 otherwise; an admin on any).
Bad input (a date that is not one, an unknown record) is a message and changes nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from aiohttp import web

from relay.console.context import (
    audit,
    console_of,
    flash_and_redirect,
    render,
    require_user,
)
from relay.console.oauth import SignedInUser
from relay.console.pages_settings import CHOICES
from relay.console.task_sync_status import sync_cycle
from relay.console.user_org import UserOrg
from relay.reps.reminders import BadSpec, local_date, parse_spec
from relay.reps.settings import settings_for
from relay.store.model import Reminder
from relay.store.values import COMPLETE, PRIORITIES, new_reminder

WHO_PREFIXES = ("003", "00Q")  # a Contact or Lead is the Task's Who; anything else its What
MAX_SUBJECT = 255  # Task.Subject's length (Object Reference: Task)


def _today(user: SignedInUser) -> date:
    return local_date(datetime.now(UTC), user.time_zone)


def _parse_due(text: str, today: date) -> date | None:
    """``YYYY-MM-DD`` or a reminder SPEC (``tomorrow``, ``3bd``, ``fri``), as `relay tasks
    add --due` takes, or ``today``; None when it is none of these."""
    if text.strip().lower() == "today":
        return today
    try:
        return parse_spec(text.strip()).due(today)
    except BadSpec:
        return None


async def tasks_page(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    console = console_of(request)
    today = _today(user)
    mine = [user.user_id]
    store = console.store
    overdue = await console.run(
        store.list_reminders, mine, status="open", due_to=today - timedelta(days=1)
    )
    soon = await console.run(
        store.list_reminders, mine, status="open", due_from=today, due_to=today + timedelta(1)
    )
    overrides = await console.run(store.setting_overrides)
    sync_on = settings_for(console.config.sync, overrides, user.user_id).task_sync == "on"
    sync_rep = await console.run(store.task_sync_rep, user.user_id)
    sync_state = await console.run(store.task_sync_state)
    cycle = sync_cycle(sync_on, sync_rep, sync_state, console.config.task_sync_interval)
    return await render(
        request,
        "tasks.html",
        {
            "title": "Tasks",
            "today": today,
            "groups": (
                ("Overdue", overdue),
                ("Today", [r for r in soon if r.due == today]),
                ("Tomorrow", [r for r in soon if r.due > today]),
            ),
            "priorities": PRIORITIES,
            "sync_on": sync_on,
            "sync_label": dict(CHOICES["task_sync"])["on" if sync_on else "off"],
            "cycle": cycle,
        },
    )


async def _own_reminder(request: web.Request, user: SignedInUser) -> Reminder:
    console = console_of(request)
    reminder = await console.run(console.store.get_reminder, request.match_info["id"])
    if reminder is None:
        raise web.HTTPNotFound()
    if reminder.owner_id != user.user_id and not user.is_admin:
        raise web.HTTPForbidden(reason="This reminder is another rep's.")
    return reminder


async def add_task(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    console = console_of(request)
    form = await request.post()
    subject = str(form.get("subject", "")).strip()
    due_text = str(form.get("due", ""))
    priority = str(form.get("priority", "normal"))
    record = str(form.get("record", "")).strip()
    if not subject or len(subject) > MAX_SUBJECT:
        raise await _bad(request, f"Give a subject of 1 to {MAX_SUBJECT} characters.")
    due = _parse_due(due_text, _today(user))
    if due is None:
        raise await _bad(
            request,
            f"“{due_text}” is not a date: use YYYY-MM-DD, or today, tomorrow, 3d, 2w, 5bd, "
            "mon…sun.",
        )
    if priority not in PRIORITIES:
        raise await _bad(request, "Priority is normal or high.")
    if record:
        org = UserOrg(console.config.salesforce, user)
        try:
            found = await console.run(org.record_type, record)
        finally:
            org.close()
        if found is None:
            raise await _bad(
                request,
                f"“{record}” is not a Contact, Lead or Opportunity you can see in Salesforce.",
            )
    reminder = new_reminder(
        user.user_id,
        subject,
        due,
        priority=priority,
        details=str(form.get("details", "")),
        who_id=record if record[:3] in WHO_PREFIXES else None,
        what_id=record if record and record[:3] not in WHO_PREFIXES else None,
        records=(record,) if record else (),
        source="manual",
    )
    await console.run(console.store.add_reminders, [reminder])
    await audit(request, user, "task_added", reminder.id, subject=subject, due=due.isoformat())
    raise await flash_and_redirect(request, f"Added: {subject} (due {due:%a %d %b}).", "/tasks")


async def _bad(request: web.Request, text: str) -> web.HTTPFound:
    return await flash_and_redirect(request, text + " Nothing was changed.", "/tasks", error=True)


async def done_task(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    reminder = await _own_reminder(request, user)
    console = console_of(request)
    await console.run(console.store.edit_reminder, reminder.id, status=COMPLETE)
    await audit(request, user, "task_done", reminder.id)
    raise await flash_and_redirect(request, f"Done: {reminder.subject}.", "/tasks")


async def snooze_task(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    reminder = await _own_reminder(request, user)
    console = console_of(request)
    days = str((await request.post()).get("days", "1"))
    if days not in ("1", "7"):
        raise await _bad(request, "Snooze for a day or a week.")
    due = max(reminder.due, _today(user)) + timedelta(days=int(days))
    await console.run(console.store.edit_reminder, reminder.id, due=due)
    await audit(request, user, "task_snoozed", reminder.id, due=due.isoformat())
    raise await flash_and_redirect(
        request, f"Snoozed to {due:%a %d %b}: {reminder.subject}.", "/tasks"
    )


async def delete_task(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    reminder = await _own_reminder(request, user)
    console = console_of(request)
    await console.run(console.store.delete_reminder, reminder.id)
    await audit(request, user, "task_deleted", reminder.id)
    raise await flash_and_redirect(request, f"Deleted: {reminder.subject}.", "/tasks")


async def edit_task_page(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    reminder = await _own_reminder(request, user)
    return await render(
        request, "task_edit.html", {"title": "Edit reminder", "reminder": reminder,
                                    "priorities": PRIORITIES},
    )  # fmt: skip


async def edit_task(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    reminder = await _own_reminder(request, user)
    console = console_of(request)
    form = await request.post()
    subject = str(form.get("subject", "")).strip()
    due_text = str(form.get("due", ""))
    priority = str(form.get("priority", reminder.priority))
    back = f"/tasks/{reminder.id}/edit"
    due = _parse_due(due_text, _today(user))
    problem = None
    if not subject or len(subject) > MAX_SUBJECT:
        problem = f"Give a subject of 1 to {MAX_SUBJECT} characters."
    elif due is None:
        problem = f"“{due_text}” is not a date: use YYYY-MM-DD."
    elif priority not in PRIORITIES:
        problem = "Priority is normal or high."
    if problem is not None or due is None:
        raise await flash_and_redirect(request, f"{problem} Nothing was changed.", back, error=True)
    await console.run(
        console.store.edit_reminder, reminder.id, subject=subject, due=due, priority=priority,
        details=str(form.get("details", reminder.details)),
    )  # fmt: skip
    await audit(request, user, "task_edited", reminder.id, due=due.isoformat())
    raise await flash_and_redirect(request, f"Saved: {subject}.", "/tasks")
