"""`relay unresolved list [--json]`, `assign ID RECORD`, `discard ID` (docs/design.md §8).

Email that matched no record is logged as an open Task on its rep, with no Who and no
What (E2S's "My Unresolved Items"), and listed here. ``assign`` relates that Task to a
record and records it in the delivery ledger, so replies in the thread follow it;
``discard`` deletes the Task. Exit 0 done, 1 a problem (unknown id, unknown record, a
Salesforce error), 2 a usage error.
"""

from __future__ import annotations

import re

import click
from rich.table import Table
from simple_salesforce.exceptions import SalesforceResourceNotFound

from relay.cli.context import AppContext, console, pass_app, print_json
from relay.cli.exits import fail, opened_store
from relay.cli.local_org import BANNER, MARK, on_local_org
from relay.cli.reps import org_client
from relay.cli.safe_text import cells
from relay.errors import RelayError
from relay.matching.model import object_for_id, to_18
from relay.store import SqlStore
from relay.store.model import UnresolvedItem
from relay.unresolved_actions import assigned_delivery, task_changes

_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


@click.group()
def unresolved() -> None:
    """Review email that matched no Salesforce record."""


def _open_item(store: SqlStore, item_id: str) -> UnresolvedItem:
    item = store.get_unresolved(item_id)
    if item is None:
        fail(f"no unresolved item {item_id} (see `relay unresolved list`)")
    if item.state != "open":
        fail(f"unresolved item {item_id} is already {item.state}")
    if not item.task_id:
        fail(f"unresolved item {item_id} has no Task in Salesforce")
    return item


@unresolved.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include assigned and discarded items.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def list_items(app: AppContext, show_all: bool, as_json: bool) -> None:
    """List open unresolved items (oldest first)."""
    with opened_store(app) as store:
        items = store.list_unresolved(None if show_all else ("open",))
    if as_json:
        print_json([item.to_dict() for item in items])
        return
    if not items:
        click.echo("no unresolved email")
        return
    table = Table()
    for name in ("id", "queue id", "task", "subject", "from", "owner", "received", "state"):
        table.add_column(name, overflow="fold")
    local = on_local_org(app.config)  # each item's Task is in that org
    for item in items:
        table.add_row(
            *cells(  # data: shown, never read as markup or terminal controls
                item.id,
                item.queue_id,
                item.task_id or "-",
                item.subject or "",
                item.mail_from or "",
                item.owner_id or "",
                item.created_at.isoformat(timespec="seconds"),
                item.state + (MARK if local else ""),
            )
        )
    out = console()
    if local:
        out.print(BANNER, markup=False)
    out.print(table)


@unresolved.command()
@click.argument("item_id")
@click.argument("record")
@pass_app
def assign(app: AppContext, item_id: str, record: str) -> None:
    """Relate unresolved item ITEM_ID's Task to RECORD (a Contact, Lead, Opportunity,
    Account, Case, ... id)."""
    if not _RECORD_ID.match(record):
        fail(f"{record} is not a Salesforce record id (15 or 18 letters and digits)")
    record = to_18(record)
    sobject = object_for_id(record)
    if sobject is None or sobject == "User":
        fail(f"{record}: not a record a Task can be related to (unknown id prefix)")
    with opened_store(app) as store:
        item = _open_item(store, item_id)
        assert item.task_id is not None
        with org_client(app) as client:
            try:
                client.get(sobject, record, ["Id"])
            except RelayError as error:
                fail(f"{sobject} {record} not found in Salesforce: {error.reason}")
            try:
                client.update("Task", item.task_id, task_changes(sobject, record))
            except RelayError as error:
                fail(f"could not update Task {item.task_id}: {error.reason}")
        store.record_delivery(assigned_delivery(item, record))
        store.resolve_unresolved(item.id, "assigned", record)
    click.echo(f"assigned: Task {item.task_id} is now on {sobject} {record}")


@unresolved.command()
@click.argument("item_id")
@pass_app
def discard(app: AppContext, item_id: str) -> None:
    """Delete unresolved item ITEM_ID's Task in Salesforce and close the item."""
    with opened_store(app) as store:
        item = _open_item(store, item_id)
        assert item.task_id is not None
        with org_client(app) as client:
            try:
                client.sf.restful(f"sobjects/Task/{item.task_id}", method="DELETE")
            except SalesforceResourceNotFound:
                pass  # already deleted in Salesforce: closing the item is all that is left
            except Exception as error:
                fail(f"could not delete Task {item.task_id}: {error}")
        store.resolve_unresolved(item.id, "discarded")
    click.echo(f"discarded: Task {item.task_id} deleted")
