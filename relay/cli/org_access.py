"""Which Salesforce org a CLI command talks to (`relay explain`, `doctor`, `senders`,
`address`, `unresolved`): the same choice `relay serve` makes, so admins see what the
daemon sees."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from relay.config import Config
from relay.errors import RelayError
from relay.localorg.running_file import read_running_file
from relay.salesforce.client import RetryPolicy, SalesforceClient


@contextmanager
def open_org(config: Config, org_json: Path | None) -> Iterator[tuple[SalesforceClient, str]]:
    """Relay's Salesforce client for a CLI command, and a line saying which org it reaches:
    ``--org-json`` (the line `relay org serve` prints, used as a direct session), the
    configured credentials, or else the embedded local org in RELAY_HOME/localorg (as
    `relay serve` does without credentials) when it has data. RelayError if none."""
    sf_config = config.salesforce
    embedded = config.home / "localorg"
    local_org: Any = None
    if org_json is not None:
        details = json.loads(org_json.read_text())
        note = f"org: {details['instance_url']} (from {org_json})"
    elif sf_config.configured:
        details = None
        note = f"org: {sf_config.instance_url or sf_config.token_url} (configured)"
    elif (running := read_running_file(embedded)) is not None:
        # `relay serve` is running the embedded org: talk to it, never open its SQLite
        # file a second time.
        details = running
        note = f"org: the embedded local org of the running relay serve ({embedded})"
    elif (embedded / "org.db").exists():
        from relay.localorg.runner import LocalOrg

        local_org = LocalOrg(embedded)
        details = local_org.start().as_json()
        note = f"org: the embedded local org in {embedded} (no Salesforce credentials set)"
    else:
        raise RelayError(
            "no Salesforce org to explain against: set RELAY_SF_INSTANCE_URL and "
            "RELAY_SF_ACCESS_TOKEN (or the OAuth variables), pass --org-json FILE with the "
            "JSON line `relay org serve` prints, or load the local org with "
            "`relay org seed --sample`"
        )
    if details is not None:
        ca_file = details.get("ca_file")
        sf_config = dataclasses.replace(
            sf_config,
            token_url=None,
            instance_url=str(details["instance_url"]),
            access_token=str(details["access_token"]),
            ca_file=Path(ca_file) if ca_file else sf_config.ca_file,
        )
    try:
        with SalesforceClient(sf_config, retry=RetryPolicy(attempts=2, max_seconds=10.0)) as sf:
            yield sf, note
    finally:
        if local_org is not None:
            local_org.stop()
