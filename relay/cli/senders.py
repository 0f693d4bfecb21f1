"""`relay senders add|list|remove`: a rep's extra acceptable sender addresses,
like Email-to-Salesforce's "My Acceptable Email Addresses"."""

from __future__ import annotations

import dataclasses

import click

from relay.cli.context import AppContext, console, pass_app, print_json
from relay.cli.exits import fail, opened_store
from relay.cli.reps import find_user, org_client
from relay.cli.safe_text import clean, text
from relay.errors import RelayError
from relay.reps.directory import sync_reps
from relay.reps.settings import parse_e2s_address


@click.group()
def senders() -> None:
    """A rep's extra acceptable sender addresses."""


@senders.command("add")
@click.argument("email")
@click.option("--user", "user", required=True, help="The rep's Salesforce Username or User Id.")
@pass_app
def add(app: AppContext, email: str, user: str) -> None:
    """Accept mail from EMAIL as the rep USER's."""
    try:
        parse_e2s_address(email)  # the same address check
    except ValueError:
        raise click.BadParameter(f"{email!r} is not an email address", param_hint="EMAIL") from None
    with opened_store(app) as store, org_client(app) as client:
        try:
            rep = find_user(client, user)
            # The User may be newer than the snapshot; refresh it while we are here.
            sync_reps(client, store)
        except RelayError as error:
            fail(error.reason)
        alias = store.add_sender(email, rep.user_id, rep.username)
    click.echo(
        clean(f"{alias.alias} is now an acceptable address of {rep.username} ({rep.user_id})")
    )
    click.echo(
        "A running relay accepts it within a minute; messages held as from an unknown "
        "sender are released by its re-check, or now with `relay queue release ID`."
    )


@senders.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option(
    "--reps", "with_reps", is_flag=True, help="Also list the reps (synced Salesforce Users)."
)
@pass_app
def list_senders(app: AppContext, as_json: bool, with_reps: bool) -> None:
    """The registered aliases (and, with --reps, the reps whose Email is always accepted)."""
    with opened_store(app) as store:
        aliases = store.list_senders()
        reps = store.list_reps() if with_reps else []
        synced_at = store.reps_synced_at() if with_reps else None
    if as_json:
        listed = [alias.to_dict() for alias in aliases]
        if with_reps:
            print_json(
                {
                    "reps": [dataclasses.asdict(rep) for rep in reps],
                    "reps_synced_at": synced_at.isoformat() if synced_at else None,
                    "aliases": listed,
                }
            )
        else:
            print_json(listed)  # the contract's shape (docs/design.md §8)
        return
    out = console()
    if with_reps:
        when = f"synced {synced_at:%Y-%m-%d %H:%M} UTC" if synced_at else "never synced"
        out.print(f"reps ({len(reps)}, {when}; each one's Salesforce Email is accepted):")
        for rep in reps:
            out.print(text(f"  {rep.email}  {rep.username}  {rep.user_id}"))
        out.print("aliases:")
    if not aliases:
        hint = "" if with_reps else "; `--reps` lists the reps"
        out.print(f"no aliases registered (each rep's Salesforce Email is always accepted{hint})")
    for alias in aliases:
        out.print(
            text(f"{alias.alias}  {alias.username}  {alias.user_id}  {alias.added_at:%Y-%m-%d}")
        )


@senders.command("remove")
@click.argument("email")
@pass_app
def remove(app: AppContext, email: str) -> None:
    """Stop accepting mail from EMAIL (a User's own Email cannot be removed here)."""
    with opened_store(app) as store:
        removed = store.remove_sender(email)
    if not removed:
        fail(f"{email} is not a registered alias (`relay senders list` shows them)")
    click.echo(f"{email.lower()} removed")
