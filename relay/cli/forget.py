"""`relay forget EMAIL [--dry-run] [--json]`: erase what Relay stores about an address.

For a data-subject request (GDPR Art. 17). What is found, removed and kept is described
in relay/erasure.py and docs/operations.md ("Retention and erasure"). Relay does not
delete CRM data: the Salesforce Tasks it logged for those emails are printed for the
admin to handle in Salesforce.

Exit status (docs/design.md §8): 0 done, also when nothing was stored for the address (that
is not a problem); 1 a problem (the store cannot be opened, or some of the messages were
being processed and were left: run the command again); 2 a usage error.
"""

from __future__ import annotations

import click

from relay.cli.context import PROBLEM_FOUND, AppContext, pass_app, print_json
from relay.cli.exits import opened_store
from relay.erasure import ErasurePlan, address_hash, forget, normalised, plan_erasure
from relay.reps.settings import settings_for
from relay.store.model import State


@click.command("forget")
@click.argument("email")
@click.option("--dry-run", is_flag=True, help="Show what would be removed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
def forget_command(app: AppContext, email: str, dry_run: bool, as_json: bool) -> None:
    """Remove the emails, unresolved items and sender aliases that name EMAIL (and, for a
    rep, their reminders, Task-sync state and console audit rows), and print the
    Salesforce Tasks Relay logged or synced for them (to handle in Salesforce)."""
    address = normalised(email)
    if address is None:
        raise click.BadParameter(f"{email!r} is not an email address", param_hint="EMAIL")
    with opened_store(app) as store:
        plan = plan_erasure(store, address)
        overrides = store.setting_overrides()
        syncing = [
            user_id for user_id in plan.reps
            if settings_for(app.config.sync, overrides, user_id).task_sync == "on"
        ]  # fmt: skip
        if dry_run or plan.empty:
            busy = tuple(q for q, state in plan.messages.items() if state == State.PROCESSING)
            removed = None
        else:
            erased = forget(store, plan)
            busy = erased.busy
            removed = erased.messages
    document = _document(plan, dry_run, busy, removed)
    if as_json:
        print_json(document)
    else:
        _print_human(plan, document)
    if syncing:
        click.echo(
            f"relay: task_sync is still on for {address}: while it is, the sync's next cycle "
            "imports their Salesforce Tasks of the last 24 hours again; turn it off with "
            f"`relay settings set --user {address} task_sync off`",
            err=True,
        )
    if busy and not dry_run:
        click.echo(
            f"relay: {len(busy)} message(s) naming {address} were being processed and were "
            "left as they are; run `relay forget` again in a few minutes",
            err=True,
        )
        raise SystemExit(PROBLEM_FOUND)


def _document(
    plan: ErasurePlan, dry_run: bool, busy: tuple[str, ...], removed: int | None
) -> dict[str, object]:
    return {
        "address": plan.address,
        "address_hash": address_hash(plan.address),
        "dry_run": dry_run,
        "found": not plan.empty,
        "messages": len(plan.messages) if removed is None else removed,
        "by_state": plan.by_state(),
        "queue_ids": sorted(set(plan.messages) - set(busy)),
        "busy": list(busy),
        "unresolved_items": len(plan.unresolved_items),
        "senders": len(plan.aliases),
        "reminders": len(plan.reminders),
        "task_sync_reps": len(plan.sync_reps),
        "audit_rows": len(plan.audit_rows),
        "reminders_redacted": len(plan.redacted_reminders),
        "ledger_rows_kept": len(plan.deliveries),
        "tasks": plan.tasks(),
        "reminder_tasks": plan.reminder_tasks(),
    }


def _print_human(plan: ErasurePlan, document: dict[str, object]) -> None:
    if plan.empty:
        click.echo(f"nothing stored for {plan.address}")
        return
    verb = "would remove" if document["dry_run"] else "removed"
    states = ", ".join(f"{state}: {count}" for state, count in plan.by_state().items())
    click.echo(
        f"{plan.address}: {verb} {document['messages']} message(s)"
        + (f" ({states})" if states else "")
        + f", {document['unresolved_items']} unresolved item(s), "
        f"{document['senders']} sender alias(es)"
    )
    if plan.reps:
        click.echo(
            f"the rep's own data: {verb} {document['reminders']} reminder(s), "
            f"{document['task_sync_reps']} Task-sync state(s), {document['audit_rows']} "
            "console audit row(s)"
        )
    elif plan.audit_rows:
        click.echo(f"{verb} {document['audit_rows']} console audit row(s) naming the address")
    if plan.redacted_reminders:
        rewrite = "would rewrite" if document["dry_run"] else "rewrote"
        click.echo(
            f"{rewrite} {document['reminders_redacted']} other rep(s)' reminder(s) naming the "
            "address, without it"
        )
    click.echo(
        f"kept: {document['ledger_rows_kept']} delivery ledger row(s) (relay keys and "
        "Salesforce ids, no address), so a late copy of these emails is not logged twice"
    )
    for synced in plan.reminder_tasks():
        click.echo(
            f"  Task {synced['task_id']}  synced with reminder {synced['reminder_id']} (kept in "
            "Salesforce: review or delete it there)"
        )
    tasks = plan.tasks()
    if tasks:
        click.echo(
            "Relay logged these Salesforce Tasks for those emails. Relay does not delete CRM "
            "data: review or delete them in Salesforce."
        )
        for task in tasks:
            records = task["records"]
            assert isinstance(records, list)
            click.echo(f"  Task {task['task_id']}  on {', '.join(records) or 'no record'}")
    # The erasure's log line names the address by this hash only; a dry run logs nothing.
    logged = "" if document["dry_run"] else "logged as "
    click.echo(f"{logged}address_hash={document['address_hash']}")
