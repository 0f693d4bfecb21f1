"""`relay settings show|set [--user EMAIL]`: sync settings.

Org defaults come from the configuration ([sync], RELAY_SYNC_*); `set` without --user
stores an org override, with --user a rep's override. `show` prints the effective value
of every key and where it comes from (config, org, user).
"""

from __future__ import annotations

import click

from relay.cli.context import USAGE_ERROR, AppContext, console, pass_app, print_json
from relay.cli.exits import fail, opened_store
from relay.cli.reps import resolve_rep
from relay.cli.safe_text import text
from relay.errors import RelayError
from relay.reps.settings import (
    ALLOWED,
    InvalidSetting,
    settings_for,
    stored_text,
    validate,
)
from relay.store import SqlStore
from relay.store.model import ORG_SCOPE


@click.group()
def settings() -> None:
    """Sync settings: org defaults, or one rep's overrides."""


@settings.command("show")
@click.option("--user", "email", help="A rep's email address: their effective settings.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def show(app: AppContext, email: str | None, as_json: bool) -> None:
    """The effective settings and where each comes from."""
    with opened_store(app) as store:
        user_id = _rep_id(app, store, email) if email is not None else None
        overrides = store.setting_overrides()
    effective = settings_for(app.config.sync, overrides, user_id).to_dict()
    sources = {
        key: "user"
        if key in overrides.get(user_id or "", {})
        else "org"
        if key in overrides.get(ORG_SCOPE, {})
        else "config"
        for key in effective
    }
    if as_json:
        print_json(
            {
                "user": email,
                "user_id": user_id,
                "settings": {stored_key: stored_text(v) for stored_key, v in effective.items()},
                "sources": sources,
            }
        )
        return
    out = console()
    out.print(text(f"sync settings for {email or 'the org'}:"))
    for key, value in effective.items():
        out.print(text(f"  {key} = {stored_text(value) or '(none)'}  [{sources[key]}]"))


@settings.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--user", "email", help="A rep's email address: set their override.")
@pass_app
def set_(app: AppContext, key: str, value: str, email: str | None) -> None:
    """Set KEY to VALUE for the org (or one rep with --user)."""
    try:
        parsed = validate(key, value, per_user=email is not None)
    except InvalidSetting as error:
        click.echo(f"relay: {error}", err=True)
        if key not in ALLOWED:
            click.echo("keys: " + ", ".join(sorted(ALLOWED)), err=True)
        raise SystemExit(USAGE_ERROR) from None
    with opened_store(app) as store:
        scope = _rep_id(app, store, email) if email is not None else ORG_SCOPE
        store.set_setting(scope, key, stored_text(parsed))
    click.echo(f"{key} = {stored_text(parsed)} for {email or 'the org'}")


def _rep_id(app: AppContext, store: SqlStore, email: str) -> str:
    """The User id of the rep ``email`` names, or exit 1 with the reason."""
    try:
        return resolve_rep(app, store, email).user_id
    except RelayError as error:
        fail(error.reason)
