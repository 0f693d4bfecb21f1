"""The ``Console`` from the configuration: which connected app signs people in.

``RELAY_CONSOLE_CLIENT_ID``/``_SECRET`` when set, else ``RELAY_SF_CLIENT_ID``/``_SECRET``
(the integration's connected app; the embedded local org's own app accepts loopback
callbacks). The login URL is the token URL's site, else the instance URL.
"""

from __future__ import annotations

from relay.config import Config
from relay.console.context import Console
from relay.console.oauth import OrgSignIn, login_url_of
from relay.errors import RelayError
from relay.reps.directory import load_address_secret
from relay.store.model import Store
from relay.store.sql_store import SqlStore


def build_console(config: Config, store: Store) -> Console | None:
    """None when the store is not Relay's SQL store (a test's stand-in): no console."""
    if not isinstance(store, SqlStore):
        return None
    sf, settings = config.salesforce, config.console
    client_id = settings.client_id or sf.client_id
    client_secret = settings.client_secret or sf.client_secret
    sign_in = None
    if client_id and client_secret:
        try:
            login_url = login_url_of(sf.token_url, sf.instance_url)
        except RelayError:
            login_url = None
        if login_url is not None:
            sign_in = OrgSignIn(
                login_url,
                client_id,
                client_secret,
                str(sf.ca_file) if sf.ca_file else None,
                settings.admins,
                sf.api_version,
            )
    return Console(
        config=config,
        store=store,
        sign_in=sign_in,
        address_secret=load_address_secret(config.home),
    )
