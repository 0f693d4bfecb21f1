"""`relay queue`: look at and operate the queue (compare Postfix's postqueue/postsuper).

Every sub-command calls the same Store API as the daemon. Exit status (docs/design.md §8):
0 done, 1 a problem (unknown id, a state that does not allow the operation, the store
cannot be opened), 2 a usage error.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from relay.cli.context import AppContext, console, pass_app, print_json
from relay.cli.exits import fail, opened_store
from relay.cli.local_org import BANNER, on_local_org, state_label
from relay.cli.safe_text import cells, clean
from relay.privacy import mask_inbound_secret, mask_inbound_secret_bytes
from relay.store import NOT_FINAL, State, StoredMessage
from relay.store.headers import header_details
from relay.store.retention import PURGEABLE_STATES, RETENTION_STATES, RawPurged

STATE_CHOICES = [state.value for state in State] + ["all"]


@click.group()
def queue() -> None:
    """Look at and operate the message queue."""


def wide_console() -> Console:
    """Piped output (grep, less) gets room for whole ids and subjects, not 80 columns."""
    out = console()
    if not out.is_terminal:
        out.width = 200
    return out


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC, e.g. 2025-01-06T10:00:00.123456+00:00."""
    return None if moment is None else moment.isoformat()


def summary(message: StoredMessage) -> dict[str, Any]:
    """One message as `list --json` prints it (the keys are a contract, docs/design.md §8)."""
    return {
        "id": message.id,
        "state": message.state.value,
        "received_at": iso(message.received_at),
        "mail_from": message.envelope.mail_from,
        "rcpt_tos": list(message.envelope.rcpt_tos),
        "message_id": _shown(message.message_id),
        "subject": _shown(message.subject),
        "attempts": message.attempts,
        "reason": message.reason,
        "size": message.size,
        "not_before": iso(message.not_before),
        "updated_at": iso(message.updated_at),
    }


def _shown(value: str | None) -> str | None:
    """A stored header as printed: the inbound source's secret masked (docs/operations.md,
    "Security model"); the stored envelope already holds ``log+inbound@`` only."""
    return None if value is None else mask_inbound_secret(value)


@queue.command("list")
@click.option(
    "--state",
    "state_name",
    type=click.Choice(STATE_CHOICES),
    help="Only this state; `all` for every message. Default: all not yet final "
    "(queued, processing, deferred, held).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
@pass_app
def list_messages(app: AppContext, state_name: str | None, as_json: bool) -> None:
    """List messages in the queue, oldest first."""
    states: frozenset[State] | None
    if state_name is None:
        states = NOT_FINAL
    elif state_name == "all":
        states = None
    else:
        states = frozenset({State(state_name)})
    with opened_store(app) as store:
        messages = store.list(states)
    if as_json:
        print_json([summary(message) for message in messages])
        return
    table = Table("state", "received (UTC)", "from", "subject", "tries", "reason")
    table.columns.insert(0, Column("id", no_wrap=True, min_width=26))  # never cut an id
    local = on_local_org(app.config)
    for message in messages:
        table.add_row(
            *cells(  # data: shown, never read as markup or terminal controls
                message.id,
                state_label(message.state.value, local),
                message.received_at.strftime("%Y-%m-%d %H:%M:%S"),
                message.envelope.mail_from or "<>",
                message.subject or "",
                str(message.attempts),
                message.reason or "",
            )
        )
    out = wide_console()
    if local:
        out.print(BANNER, markup=False)
    out.print(table)
    out.print(f"{len(messages)} message(s)")


@queue.command("show")
@click.argument("queue_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--raw",
    "raw_only",
    is_flag=True,
    help="Write the message exactly as received to stdout (for `relay explain`).",
)
@pass_app
def show(app: AppContext, queue_id: str, as_json: bool, raw_only: bool) -> None:
    """Show one message: envelope, headers, attempts, reason and its history."""
    if raw_only and as_json:
        raise click.UsageError("--raw and --json cannot be combined")
    with opened_store(app) as store:
        message = store.get(queue_id)
        if message is None:
            fail(
                f"no message with queue id {queue_id!r}; `relay queue list --state all` shows them"
            )
            return
        try:
            raw, purged = store.raw(queue_id), None
        except RawPurged as gone:
            if raw_only:
                raise  # "... raw bytes purged under retention (N days) on DATE ...", exit 1
            raw, purged = b"", gone.note  # the row and its history are still shown
        if raw_only:
            # The bytes as accepted: `relay queue show ID --raw > m.eml; relay explain m.eml`,
            # but for the inbound source's secret (a journal report's To names it).
            sys.stdout.buffer.write(mask_inbound_secret_bytes(raw))
            sys.stdout.buffer.flush()
            return
        headers = header_details(raw)
        history = store.transitions(queue_id)
    document = {
        **summary(message),
        "envelope": {
            "mail_from": message.envelope.mail_from,
            "rcpt_tos": list(message.envelope.rcpt_tos),
            "peer": message.envelope.peer,
            "helo": message.envelope.helo,
            "auth": message.envelope.auth,
        },
        "headers": {
            "message_id": _shown(headers.message_id),
            "subject": _shown(headers.subject),
            "from": _shown(headers.from_),
            "to": _shown(headers.to),
            "date": _shown(headers.date),
        },
        "transitions": [
            {
                "at": iso(t.at),
                "from": None if t.from_state is None else t.from_state.value,
                "to": t.to_state.value,
                "reason": t.reason,
            }
            for t in history
        ],
        "raw_purged": None if purged is None else {"at": iso(purged.at), "reason": purged.reason},
    }
    if as_json:
        print_json(document)
        return
    out = wide_console()
    local = on_local_org(app.config)
    if local:
        out.print(BANNER, markup=False)
    for label, value in [
        ("id", message.id),
        ("state", state_label(message.state.value, local)),
        ("reason", message.reason or "-"),
        ("attempts", message.attempts),
        ("not before", iso(message.not_before) or "-"),
        ("received", iso(message.received_at)),
        ("size", f"{message.size} bytes"),
        ("peer", f"{message.envelope.peer} (HELO {message.envelope.helo or '-'})"),
        ("MAIL FROM", f"<{message.envelope.mail_from}>"),
        ("proved", message.envelope.auth),
        ("RCPT TO", ", ".join(f"<{r}>" for r in message.envelope.rcpt_tos)),
        ("Message-ID", _shown(headers.message_id) or "-"),
        ("From", _shown(headers.from_) or "-"),
        ("To", _shown(headers.to) or "-"),
        ("Date", _shown(headers.date) or "-"),
        ("Subject", _shown(headers.subject) or "-"),
    ]:
        out.print(Text.assemble((f"{label:>11}", "bold"), "  ", clean(value)))
    if purged is not None:
        out.print(Text.assemble((f"{'raw':>11}", "bold"), "  ", clean(purged.describe())))
    table = Table("at (UTC)", "from", "to", "reason", title="history")
    for item in document["transitions"]:
        table.add_row(*cells(item["at"], item["from"] or "-", item["to"], item["reason"] or ""))
    out.print(table)


@queue.command("retry")
@click.argument("queue_id", required=False)
@click.option("--all", "retry_all", is_flag=True, help="Requeue every deferred message now.")
@pass_app
def retry(app: AppContext, queue_id: str | None, retry_all: bool) -> None:
    """Requeue a message now (any state but processing), or --all deferred messages."""
    if (queue_id is None) == (not retry_all):
        raise click.UsageError("give a queue id or --all (not both)")
    with opened_store(app) as store:
        ids = [m.id for m in store.list({State.DEFERRED})] if retry_all else [queue_id or ""]
        for one in ids:
            store.retry(one)
    click.echo(f"requeued {len(ids)} message(s)" if retry_all else f"{queue_id}: requeued")


@queue.command("hold")
@click.argument("queue_id")
@click.option("--reason", default="held by an admin", show_default=True, help="Why, for others.")
@pass_app
def hold(app: AppContext, queue_id: str, reason: str) -> None:
    """Hold a message for a person (it is not processed until released)."""
    with opened_store(app) as store:
        store.hold(queue_id, reason)
    click.echo(f"{queue_id}: held")


@queue.command("release")
@click.argument("queue_id")
@pass_app
def release(app: AppContext, queue_id: str) -> None:
    """Put a held message back in the queue."""
    with opened_store(app) as store:
        store.release(queue_id)
    click.echo(f"{queue_id}: released")


@queue.command("delete")
@click.argument("queue_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def delete(app: AppContext, queue_id: str, yes: bool) -> None:
    """Delete a message, its raw bytes and its history, for good."""
    with opened_store(app) as store:
        if store.get(queue_id) is None:
            fail(
                f"no message with queue id {queue_id!r}; `relay queue list --state all` shows them"
            )
        if not yes and not click.confirm(f"Delete {queue_id} for good?", default=False):
            fail("not deleted")
        store.delete(queue_id)
    click.echo(f"{queue_id}: deleted")


@queue.command("purge")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=0),
    required=True,
    help="Purge messages that reached their outcome more than DAYS days ago (0: all).",
)
@click.option(
    "--state",
    "state_names",
    multiple=True,
    type=click.Choice(sorted(state.value for state in PURGEABLE_STATES)),
    help="Only this outcome (repeatable). Default: logged, quarantined and rejected, as "
    "retention does; unresolved only when named.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be purged; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts.")
@pass_app
def purge(
    app: AppContext, days: int, state_names: tuple[str, ...], dry_run: bool, as_json: bool
) -> None:
    """Purge the raw bytes of finished messages now (docs/operations.md, "Retention and
    erasure"). Their record, history and delivery ledger are kept."""
    from relay.runners.retention import purge_older_than  # the runner's own loop

    states = frozenset(State(name) for name in state_names) or RETENTION_STATES
    with opened_store(app) as store:
        how = f"by relay queue purge --older-than {days}"
        counted = purge_older_than(store, days, states=states, how=how, dry_run=dry_run)
    if as_json:
        print_json(
            {"dry_run": dry_run, "older_than_days": days, "states": sorted(states)}
            | counted.to_dict()
        )
        return
    verb = "would purge" if dry_run else "purged"
    detail = ", ".join(f"{state}: {n}" for state, n in sorted(counted.by_state.items()))
    click.echo(
        f"{verb} the raw bytes of {counted.messages} message(s), {counted.bytes} bytes"
        + (f" ({detail})" if detail else "")
    )
