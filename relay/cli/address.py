"""`relay address EMAIL`: the BCC address a rep should use, or the steps to get one.
When the rep's email goes to Email to Salesforce, it also says whether their
Email-to-Salesforce address exists, with the steps if it does not."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from relay.cli.context import PROBLEM_FOUND, AppContext, console, pass_app, print_json
from relay.cli.exits import opened_store
from relay.cli.reps import directory, org_client, resolve_rep
from relay.cli.safe_text import clean, text
from relay.delivery.holds import held_for_rep
from relay.errors import RelayError
from relay.reps.directory import personal_address, shared_address
from relay.reps.e2s_addresses import find_e2s_addresses
from relay.reps.guidance import e2s_address_missing, e2s_inactive, unknown_sender
from relay.reps.settings import settings_for
from relay.store.model import State


def shared_address_use(
    sender_auth: str, trusted_networks: Sequence[str], require_personal: bool, email: str
) -> tuple[bool, str]:
    """Whether the shared log@ can log this rep's mail under the edge's sender check, and
    when (docs/operations.md, "Security model", the sender table)."""
    domain = email.rpartition("@")[2]
    if require_personal:
        return False, "not accepted for this rep (require_personal_address)"
    if sender_auth == "personal_address":
        return False, "not accepted here (RELAY_SMTP_SENDER_AUTH=personal_address)"
    if sender_auth == "trusted_only":
        if not trusted_networks:
            return False, "not accepted here (trusted_only with no trusted network)"
        return True, "works only through the mail server in front (trusted_only)"
    if sender_auth in ("either", "dmarc"):
        # RFC 7489 §4.2: the From domain's SPF or DKIM must pass aligned.
        return True, f"works only when {domain}'s mail passes DMARC (aligned SPF or DKIM)"
    return True, "works for any From (RELAY_SMTP_SENDER_AUTH=none)"


@click.command()
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def address(app: AppContext, email: str, as_json: bool) -> None:
    """Print the BCC address the rep with EMAIL should use."""
    config = app.config
    with opened_store(app) as store:
        try:
            rep = resolve_rep(app, store, email)
        except RelayError:
            guidance = unknown_sender(email)
            if as_json:
                print_json({"email": email, "known": False, "guidance": guidance.to_dict()})
            else:
                click.echo(clean(guidance.text(), keep="\n"))
            raise SystemExit(PROBLEM_FOUND) from None
        sync = settings_for(config.sync, store.setting_overrides(), rep.user_id)
        senders = directory(app, store)
        secret = senders.secret
        held = held_for_rep(store.list([State.HELD]), senders, rep.user_id)
    shared_ok, shared_when = shared_address_use(
        config.smtp.sender_auth,
        config.smtp.trusted_networks,
        sync.require_personal_address,
        email,
    )
    document: dict[str, Any] = {
        "email": email,
        "known": True,
        "user_id": rep.user_id,
        "username": rep.username,
        "personal_address": personal_address(rep.user_id, secret, config.domain),
        "shared_address": shared_address(config.domain),
        "shared_address_accepted": shared_ok,
        "shared_address_when": shared_when,
        "logging": sync.logging,
    }
    problem = None
    if sync.needs_e2s_address:
        found = None
        if not sync.e2s_address:
            try:
                with org_client(app) as client:
                    found = find_e2s_addresses(client, [rep.user_id])
            except RelayError as error:
                document["e2s_lookup_error"] = error.reason
        document["e2s_address"] = sync.e2s_address or (found and found.by_user.get(rep.user_id))
        if found is not None and found.function_active is False:
            problem = e2s_inactive()
        elif not document["e2s_address"]:
            problem = e2s_address_missing(rep.username)
        document["guidance"] = problem.to_dict() if problem else None
    # A held message's problem shows here too (the reason holds the steps).
    document["held"] = [{"id": m.id, "subject": m.subject, "reason": m.reason} for m in held]
    problem_reason = held[0].reason if held else None
    if as_json:
        print_json(document)
    else:
        out = console()
        out.print(text(f"{rep.name or rep.username} ({rep.username})"))
        out.print(text(f"  BCC this address: {document['personal_address']}"))
        shared = f"{document['shared_address']}  ({shared_when})"
        out.print(text(f"  shared address:   {shared}"))
        if sync.needs_e2s_address:
            shown = document["e2s_address"] or "(none)"
            out.print(text(f"  email is forwarded to Email to Salesforce: {shown}"))
        if problem is not None:
            click.echo("\n" + clean(problem.text(), keep="\n"))
        for message in held:
            click.echo("\n" + clean(f"held {message.id} ({message.subject}): {message.reason}"))
    if problem is not None or problem_reason is not None:
        raise SystemExit(PROBLEM_FOUND)
