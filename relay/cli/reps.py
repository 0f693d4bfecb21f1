"""Shared by `relay senders`, `relay settings` and `relay address`: the store, the org and
finding a rep. The org is the configured one, or the embedded local org (as `relay
explain` reaches it: relay.cli.org_access.open_org)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from simple_salesforce.format import format_soql

from relay.cli.context import AppContext
from relay.cli.exits import fail
from relay.cli.org_access import open_org
from relay.errors import RelayError
from relay.reps.directory import USER_FIELDS, SenderDirectory, load_address_secret, rep_from_record
from relay.reps.directory import sync_reps as sync_reps_from
from relay.salesforce.client import SalesforceClient
from relay.store import SqlStore
from relay.store.model import Rep

_USER_ID = re.compile(r"^005[0-9A-Za-z]{12}([0-9A-Za-z]{3})?$")


@contextmanager
def org_client(app: AppContext) -> Iterator[SalesforceClient]:
    """The org's client; no reachable org is `relay: reason`, exit 1."""
    try:
        with open_org(app.config, None) as (client, _note):
            yield client
    except RelayError as error:
        fail(error.reason)


def find_user(client: SalesforceClient, user: str) -> Rep:
    """A User by Id (15 or 18 characters) or Username; RelayError if none or inactive."""
    column = "Id" if _USER_ID.match(user) else "Username"
    records = client.query_all(
        # Only the value varies, and format_soql escapes it; the column is one of two names.
        format_soql(f"SELECT {', '.join(USER_FIELDS)} FROM User WHERE {column} = {{}}", user)  # noqa: S608
    )
    if not records:
        raise RelayError(f"no Salesforce User with {column} {user!r}: check the username")
    rep = rep_from_record(records[0])
    if not rep.is_active:
        raise RelayError(f"{rep.username} is not an active Salesforce User")
    return rep


def directory(app: AppContext, store: SqlStore) -> SenderDirectory:
    return SenderDirectory.from_store(store, load_address_secret(app.config.home))


def resolve_rep(app: AppContext, store: SqlStore, email: str) -> Rep:
    """The rep with this acceptable address: from the store's snapshot, else after one
    sync from the org (the snapshot may predate the User). RelayError if unknown."""
    rep = directory(app, store).rep_for(email)
    if rep is None:
        with org_client(app) as client:
            sync_reps_from(client, store)
        rep = directory(app, store).rep_for(email)
    if rep is None:
        raise RelayError(
            f"{email} is not a Salesforce user known to Relay: "
            f"`relay senders add {email} --user <username>` makes it one"
        )
    return rep
