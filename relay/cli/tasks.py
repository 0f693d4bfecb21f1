"""`relay tasks list|add|done|reopen|delete|edit`: the reps' reminders (docs/design.md §9).

Reminders come from reminder addresses (``log+remind-SPEC@``, relay/reps/reminders.py)
and from `relay tasks add`. `list` shows by default the open reminders due today and
tomorrow, each in its rep's own time zone, as Sales Insight Actions' Command Center
does; ``--overdue`` the open ones due before the rep's today; ``--due DATE`` those (open
or complete) due that date; ``--all`` every one. ``--json`` prints objects with the keys
of ``as_json`` (docs/design.md §8). Exit 0 done, 1 a problem (unknown rep, unknown
id, the store), 2 a usage error (a bad date, priority or record id).

A rep whose time zone is not synced yet (before the first rep sync after the upgrade)
counts in UTC here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, NoReturn

import click
from rich.table import Table

from relay.cli.context import USAGE_ERROR, AppContext, console, pass_app, print_json
from relay.cli.exits import fail, opened_store
from relay.cli.queue import wide_console
from relay.cli.reps import resolve_rep
from relay.cli.safe_text import cells, clean, text
from relay.errors import RelayError
from relay.reps.reminders import BadSpec, local_date, parse_spec
from relay.store import SqlStore
from relay.store.model import Reminder, Rep
from relay.store.reminders import UnknownReminder
from relay.store.values import COMPLETE, OPEN, PRIORITIES, new_reminder

_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
WHO_PREFIXES = ("003", "00Q")
"""Contact and Lead key prefixes (a Task's WhoId); any other record is its WhatId."""


@click.group()
def tasks() -> None:
    """The reps' reminders: list, add, complete, reopen, edit, delete."""


def usage(reason: str) -> NoReturn:
    click.echo(f"relay: {clean(reason)}", err=True)
    raise SystemExit(USAGE_ERROR)


def due_from_text(value: str, today: date) -> date:
    """``YYYY-MM-DD``, or a reminder SPEC (``tomorrow``, ``3bd``, ``fri``...) from
    ``today``; exit 2 when it is neither."""
    try:
        return parse_spec(value).due(today)
    except BadSpec:
        usage(f"--due {value!r}: use YYYY-MM-DD or Nd, Nw, Nbd, tomorrow, mon..sun")


def as_json(reminder: Reminder, owners: Mapping[str, Rep]) -> dict[str, Any]:
    """One reminder as `relay tasks list --json` prints it (the external contract)."""
    owner = owners.get(reminder.owner_id)
    return {
        "id": reminder.id,
        "owner": owner.email if owner is not None else None,
        "owner_id": reminder.owner_id,
        "subject": reminder.subject,
        "details": reminder.details,
        "due": reminder.due.isoformat(),
        "status": reminder.status,
        "priority": reminder.priority,
        "records": list(reminder.records),
        "who_id": reminder.who_id,
        "what_id": reminder.what_id,
        "source": reminder.source,
        "sf_task_id": reminder.sf_task_id,
        "created_at": reminder.created_at.isoformat() if reminder.created_at else None,
        "updated_at": reminder.updated_at.isoformat() if reminder.updated_at else None,
        "completed_at": reminder.completed_at.isoformat() if reminder.completed_at else None,
    }


def rep_today(rep: Rep | None, now: datetime) -> date:
    return local_date(now, rep.time_zone if rep is not None else None)


def _owners(store: SqlStore) -> dict[str, Rep]:
    return {rep.user_id: rep for rep in store.list_reps()}


def _rep(app: AppContext, store: SqlStore, email: str) -> Rep:
    try:
        return resolve_rep(app, store, email)
    except RelayError as error:
        fail(error.reason)


def _show(reminders: Iterable[Reminder], owners: Mapping[str, Rep], as_list: bool) -> None:
    found = list(reminders)
    if as_list:
        print_json([as_json(r, owners) for r in found])
        return
    if not found:
        console().print(text("no reminders"))
        return
    table = Table("id", "owner", "due", "status", "priority", "subject", "records")
    for r in found:
        owner = owners.get(r.owner_id)
        table.add_row(
            *cells(
                r.id,
                owner.email if owner is not None else r.owner_id,
                r.due.isoformat(),
                r.status,
                r.priority,
                r.subject,
                ", ".join(r.records),
            )
        )
    wide_console().print(table)


def _one(store: SqlStore, reminder_id: str) -> Reminder:
    reminder = store.get_reminder(reminder_id)
    if reminder is None:
        fail(f"no reminder {reminder_id} (see `relay tasks list --all`)")
    return reminder


@tasks.command("list")
@click.option("--user", "email", help="Only this rep's reminders.")
@click.option("--overdue", is_flag=True, help="Open reminders due before the rep's today.")
@click.option("--all", "show_all", is_flag=True, help="Every reminder, open or complete.")
@click.option("--due", "due_on", help="Reminders due on this date (YYYY-MM-DD).")
@click.option("--json", "as_list", is_flag=True, help="Print one JSON list.")
@pass_app
def list_(
    app: AppContext,
    email: str | None,
    overdue: bool,
    show_all: bool,
    due_on: str | None,
    as_list: bool,
) -> None:
    """Open reminders due today and tomorrow (each in its rep's time zone)."""
    if sum((overdue, show_all, due_on is not None)) > 1:
        usage("--overdue, --all and --due cannot be combined")
    now = datetime.now(UTC)
    wanted: date | None = None
    if due_on is not None:
        try:
            wanted = date.fromisoformat(due_on)
        except ValueError:
            usage(f"--due {due_on!r}: use YYYY-MM-DD")
    with opened_store(app) as store:
        owners = _owners(store)
        user_ids = [_rep(app, store, email).user_id] if email is not None else None
        if show_all:
            found = store.list_reminders(user_ids)
        elif wanted is not None:
            found = store.list_reminders(user_ids, due_from=wanted, due_to=wanted)
        else:
            # A superset by UTC's date (every zone's today is within a day of it), then
            # each reminder against its own rep's today.
            utc_today = now.date()
            found = store.list_reminders(
                user_ids,
                status=OPEN,
                due_from=None if overdue else utc_today - timedelta(days=1),
                due_to=utc_today + timedelta(days=2),
            )
            found = [r for r in found if _wanted(r, owners, now, overdue)]
    _show(found, owners, as_list)


def _wanted(reminder: Reminder, owners: Mapping[str, Rep], now: datetime, overdue: bool) -> bool:
    today = rep_today(owners.get(reminder.owner_id), now)
    if overdue:
        return reminder.due < today
    return today <= reminder.due <= today + timedelta(days=1)


@tasks.command("add")
@click.argument("subject")
@click.option("--user", "email", required=True, help="The rep the reminder is for.")
@click.option("--due", "due_text", required=True, help="YYYY-MM-DD, or tomorrow, 3bd, fri...")
@click.option("--priority", type=click.Choice(PRIORITIES), default="normal", show_default=True)
@click.option("--details", default="", help="Longer text (the Task's Comments).")
@click.option("--record", "records", multiple=True, help="A related Salesforce record id.")
@click.option("--json", "as_object", is_flag=True, help="Print the new reminder as JSON.")
@pass_app
def add(
    app: AppContext,
    subject: str,
    email: str,
    due_text: str,
    priority: str,
    details: str,
    records: tuple[str, ...],
    as_object: bool,
) -> None:
    """Add a reminder for a rep; prints its id."""
    if not subject.strip():
        usage("the subject is empty")
    for record in records:
        if not _RECORD_ID.match(record):
            usage(f"--record {record!r} is not a Salesforce id (15 or 18 characters)")
    with opened_store(app) as store:
        rep = _rep(app, store, email)
        due = due_from_text(due_text, rep_today(rep, datetime.now(UTC)))
        reminder = new_reminder(
            rep.user_id,
            subject.strip(),
            due,
            details=details,
            priority=priority,
            who_id=next((r for r in records if r[:3] in WHO_PREFIXES), None),
            what_id=next((r for r in records if r[:3] not in WHO_PREFIXES), None),
            records=tuple(dict.fromkeys(records)),
            source="manual",
        )
        store.add_reminders([reminder])
        owners = _owners(store)
    if as_object:
        print_json(as_json(reminder, owners))
    else:
        click.echo(reminder.id)


def _set_status(app: AppContext, reminder_id: str, status: str) -> None:
    with opened_store(app) as store:
        try:
            reminder = store.edit_reminder(reminder_id, status=status)
        except UnknownReminder:
            fail(f"no reminder {reminder_id} (see `relay tasks list --all`)")
    click.echo(f"{reminder.id} {reminder.status}")


@tasks.command("done")
@click.argument("reminder_id")
@pass_app
def done(app: AppContext, reminder_id: str) -> None:
    """Mark a reminder complete."""
    _set_status(app, reminder_id, COMPLETE)


@tasks.command("reopen")
@click.argument("reminder_id")
@pass_app
def reopen(app: AppContext, reminder_id: str) -> None:
    """Mark a completed reminder open again."""
    _set_status(app, reminder_id, OPEN)


@tasks.command("delete")
@click.argument("reminder_id")
@pass_app
def delete(app: AppContext, reminder_id: str) -> None:
    """Delete a reminder."""
    with opened_store(app) as store:
        try:
            store.delete_reminder(reminder_id)
        except UnknownReminder:
            fail(f"no reminder {reminder_id} (see `relay tasks list --all`)")
    click.echo(f"{reminder_id} deleted")


@tasks.command("edit")
@click.argument("reminder_id")
@click.option("--subject", help="A new subject.")
@click.option("--due", "due_text", help="A new due date: YYYY-MM-DD, or tomorrow, 3bd, fri...")
@click.option("--priority", type=click.Choice(PRIORITIES), help="normal or high.")
@click.option("--details", help="New details.")
@click.option("--json", "as_object", is_flag=True, help="Print the reminder as JSON.")
@pass_app
def edit(
    app: AppContext,
    reminder_id: str,
    subject: str | None,
    due_text: str | None,
    priority: str | None,
    details: str | None,
    as_object: bool,
) -> None:
    """Change a reminder's subject, due date, priority or details."""
    changes: dict[str, Any] = {}
    if subject is not None:
        if not subject.strip():
            usage("the subject is empty")
        changes["subject"] = subject.strip()
    if priority is not None:
        changes["priority"] = priority
    if details is not None:
        changes["details"] = details
    if not changes and due_text is None:
        usage("nothing to change: give --subject, --due, --priority or --details")
    with opened_store(app) as store:
        current = _one(store, reminder_id)
        owners = _owners(store)
        if due_text is not None:
            today = rep_today(owners.get(current.owner_id), datetime.now(UTC))
            changes["due"] = due_from_text(due_text, today)
        try:
            reminder = store.edit_reminder(reminder_id, **changes)
        except UnknownReminder:
            fail(f"no reminder {reminder_id} (see `relay tasks list --all`)")
    if as_object:
        print_json(as_json(reminder, owners))
    else:
        click.echo(f"{reminder.id} updated (due {reminder.due.isoformat()})")
