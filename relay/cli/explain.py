"""`relay explain FILE.eml [--json]`: a dry run of parse, match and draft for one message.

It reads the org (one directory lookup) and writes nothing: no queue entry, no Task.
The envelope is what the rep's mail server would have sent: MAIL FROM the From header,
RCPT TO ``log@RELAY_DOMAIN``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from relay.cli.context import PROBLEM_FOUND, AppContext, pass_app, print_json
from relay.cli.org_access import open_org
from relay.cli.safe_text import cells, clean, text
from relay.config import Config
from relay.envelope import Envelope
from relay.errors import RelayError
from relay.matching import Directory, MatchPolicy, draft_tasks, match
from relay.matching.model import RecordRef, object_for_id, relay_domain_predicate
from relay.parsing import Email, parse
from relay.privacy import mask_tokens
from relay.salesforce.client import SalesforceClient

UNKNOWN_REP = "(unknown rep)"

SENDER_PROOF_NOTE = (
    "sender proof: explain sees neither the envelope (MAIL FROM, RCPT TO) nor what the "
    "SMTP edge proved, so its rep is read from the From header only; the daemon attributes "
    "by what the edge proved (a personal address's owner, a DMARC-proven From, a trusted "
    "hop's envelope sender, a named inbound source's rep among the recipients) and may "
    'refuse the message or log it as another rep\'s (docs/operations.md, "Security model")'
)
"""Why explain's rep is not the daemon's attribution: the edge decides that from the
session (relay.smtp.sender_checks), which a saved .eml does not carry."""


def envelope_for(raw: bytes, domain: str) -> Envelope:
    """MAIL FROM the From header, RCPT TO log@domain: what a BCC copy would carry."""
    headers = BytesHeaderParser().parsebytes(raw)
    senders = [address for _, address in getaddresses(headers.get_all("From", [])) if address]
    return Envelope(mail_from=senders[0] if senders else "", rcpt_tos=(f"log@{domain}",))


def build_report(
    email: Email,
    directory: Directory,
    policy: MatchPolicy,
    *,
    org_timezone: str,
    shared_activities: bool,
    notes: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The explain document: pure, so it can be tested with an in-memory directory."""
    plan = match(email, directory, policy)
    rep_id = plan.rep.id if plan.rep else UNKNOWN_REP
    drafts = draft_tasks(
        email,
        plan,
        rep_id,
        org_timezone=org_timezone,
        shared_activities=shared_activities,
        is_relay_address=policy.is_relay_address,
    )
    # Defects first: a header that could not be read explains a candidate that is missing.
    trace = [*notes, *(f"parse defect: {defect}" for defect in email.defects), *plan.trace]
    trace.append(SENDER_PROOF_NOTE)
    if plan.rep is None and drafts:
        trace.append("no Salesforce User sends from this address: OwnerId is unknown")
    if plan.inbound:
        trace.append(
            "inbound copy: logged only if a named inbound source (SMTP AUTH, a client "
            "certificate, or RELAY_SMTP_INBOUND_NETWORKS with its secret) sends it, and "
            "only if it matched a record"
        )
    trace.append(
        f"drafts: {len(drafts)} Task(s); org time zone {org_timezone}; "
        f"shared activities {'on' if shared_activities else 'off'}"
    )
    report = {
        "message_id": email.message_id,
        "subject": email.subject,
        "from": email.from_.email if email.from_ else None,
        "outcome": plan.outcome,
        "defects": list(email.defects),
        "records": [r.to_dict() for r in plan.records],
        "tasks": [d.to_dict() for d in drafts],
        "candidates": list(plan.candidates),
        "dropped": [{"subject": d.subject, "reason": d.reason} for d in plan.dropped],
        "trace": trace,
    }
    # A rep's personal address is a credential: explain names log+[redacted]@ instead
    # (relay/privacy.py), wherever the email put it (To, Cc, a quoted reply).
    masked: dict[str, Any] = _masked(report)
    return masked


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_tokens(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _org_settings(
    sf: SalesforceClient, timezone: str | None, shared: bool | None
) -> tuple[str, bool, list[str]]:
    """The org's time zone and Shared Activities switch, unless given on the command line."""
    notes: list[str] = []
    if timezone is None:
        try:
            rows = sf.query("SELECT TimeZoneSidKey FROM Organization")["records"]
            timezone = str(rows[0]["TimeZoneSidKey"])
            ZoneInfo(timezone)
        except (Exception, ZoneInfoNotFoundError) as exc:  # explain must still explain
            notes.append(f"org time zone unknown ({type(exc).__name__}); using UTC")
            timezone = "UTC"
    if shared is None:
        try:
            fields = {f["name"] for f in sf.describe("Task")["fields"]}
            # TaskWhoIds exists only with Shared Activities (Object Reference, Task).
            shared = "TaskWhoIds" in fields
        except Exception as exc:
            notes.append(f"Shared Activities unknown ({type(exc).__name__}); assuming off")
            shared = False
    return timezone, shared, notes


@click.command()
@click.argument("message", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option(
    "--org-json",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON line from `relay org serve` (instance_url, access_token, ca_file).",
)
@click.option("--org-timezone", help="Org time zone (default: read from the org).")
@click.option("--shared-activities/--no-shared-activities", default=None)
@click.option(
    "--multiple-matches", type=click.Choice(["all", "oldest", "most_activity"]), default="all"
)
@click.option(
    "--opportunities",
    type=click.Choice(["all_open", "most_recent_open", "none"]),
    default="all_open",
)
@click.option(
    "--unmatched",
    type=click.Choice(["unresolved_task", "hold", "drop"]),
    default="unresolved_task",
)
@pass_app
def explain(
    app: AppContext,
    message: Path,
    as_json: bool,
    org_json: Path | None,
    org_timezone: str | None,
    shared_activities: bool | None,
    multiple_matches: str,
    opportunities: str,
    unmatched: str,
) -> None:
    """Parse and match MESSAGE against the org; print every decision. Writes nothing."""
    config = app.config
    raw = message.read_bytes()
    email = parse(
        raw,
        envelope_for(raw, config.domain),
        datetime.now(UTC),
        relay_addresses=relay_domain_predicate(config.domain),
    )
    if email.unparseable:
        _fail(f"{message}: cannot be processed as it is: {email.unparseable}", as_json)
    policy = MatchPolicy.from_config(
        config,
        multiple_matches=multiple_matches,
        opportunities=opportunities,
        unmatched=unmatched,
    )
    known_threads, thread_note = _known_threads(config, email)
    try:
        with open_org(config, org_json) as (sf, org_note):
            directory = _lookup(sf, email, policy, known_threads)
            timezone, shared, notes = _org_settings(sf, org_timezone, shared_activities)
    except RelayError as exc:
        _fail(exc.reason, as_json)
    report = build_report(
        email,
        directory,
        policy,
        org_timezone=timezone,
        shared_activities=shared,
        notes=(org_note, *notes, thread_note),
    )
    if as_json:
        print_json(report)
    else:
        _print_human(message, report)


def _known_threads(config: Config, email: Email) -> tuple[dict[str, tuple[str, ...]], str]:
    """Records of earlier emails of this thread that Relay logged (its delivery ledger),
    as the runners use them. Read only: a store that does not exist yet is not created."""
    keys = {*email.in_reply_to, *email.references}
    if not keys:
        return {}, "threads: the email names no earlier message (In-Reply-To, References)"
    url = config.effective_store_url
    database = url.removeprefix("sqlite:///").partition("?")[0]  # ?timeout=... may follow
    if url.startswith("sqlite:///") and not Path(database).exists():
        return {}, "threads: no store yet, so no earlier email of this thread is known"
    from relay.store import open_store

    try:
        store = open_store(url)
    except RelayError as exc:
        return {}, f"threads: the store could not be read ({exc.reason})"
    try:
        known = store.known_threads(sorted(keys))
    finally:
        store.close()
    return known, f"threads: {len(known)} earlier email(s) of this thread logged by Relay"


def _lookup(
    sf: SalesforceClient,
    email: Email,
    policy: MatchPolicy,
    known_threads: dict[str, tuple[str, ...]],
) -> Directory:
    from relay.delivery.plan import lookup_keys
    from relay.salesforce.directory import fetch_directory

    # The runners' own lookup keys, so that explain sees what delivery would see.
    keys = lookup_keys(email, policy)
    return fetch_directory(
        sf,
        sorted(keys.addresses),
        record_ids=keys.record_ids,
        sender_addresses=sorted(keys.senders),
        extra_email_fields=policy.extra_email_fields,
        known_threads={
            key: [RecordRef(r, object_for_id(r) or "Unknown") for r in records]
            for key, records in known_threads.items()
        },
    )


def _fail(reason: str, as_json: bool) -> NoReturn:
    if as_json:
        print_json({"error": reason, "records": [], "tasks": [], "trace": [reason]})
    else:
        click.echo(f"relay explain: {clean(reason)}", err=True)
    raise SystemExit(PROBLEM_FOUND)


def _print_human(message: Path, report: dict[str, Any]) -> None:
    # Subjects, addresses, names and reasons are the email's text: never read as markup.
    tree = Tree(
        Text.assemble(
            text(message, "bold"),
            "  ",
            text(repr(report["subject"])),
            "  from ",
            text(report["from"]),
        )
    )
    tree.add(Text.assemble("outcome: ", text(report["outcome"], "bold")))
    records = Table(title="records", title_justify="left")
    for name in ("type", "id", "why"):
        records.add_column(name, overflow="fold")
    for record in report["records"]:
        records.add_row(*cells(record["type"], record["id"], record["reason"]))
    tree.add(records if report["records"] else "records: none")
    tasks = Table(title="tasks", title_justify="left")
    for name in ("WhoId / TaskWhoIds", "WhatId", "Status", "ActivityDate", "Relay_Key__c"):
        tasks.add_column(name, overflow="fold")
    for task in report["tasks"]:
        whos = task.get("TaskWhoIds") or ([task["WhoId"]] if task["WhoId"] else [])
        tasks.add_row(
            Text("\n".join(clean(who) for who in whos) or "-"),
            *cells(
                task["WhatId"] or "-",
                task["Status"],
                task["ActivityDate"],
                task["Relay_Key__c"],
            ),
        )
    tree.add(tasks if report["tasks"] else "tasks: none")
    trace = tree.add("trace")
    for line in report["trace"]:
        trace.add(text(line, "dim" if line.startswith("dropped") else ""))
    # Wrap long trace lines instead of cropping them (the shared console does not wrap).
    Console(highlight=False).print(tree)
