"""What the end-to-end trust tests share: the loopback DNS zone, Relay's safe defaults,
and readers of the queue. Its own module (not conftest.py), so imports of it never
resolve to another folder's conftest."""

from __future__ import annotations

import json

from tests.support.dns_zone import DkimKey
from tests.support.pipeline import wait_for
from tests.support.serve import RelayServe

ACME_MTA = "127.0.0.10"  # acme-widgets.example's outbound mail server (its SPF)
STRANGER = "127.0.0.66"  # anyone else on the internet
POSTFIX = "127.0.0.1"  # the Postfix in front, on Relay's host
CUSTOMER = "hank@globex.example"
SAFE_DEFAULTS = {
    "RELAY_SMTP_TRUSTED_NETWORKS": "none",
    "RELAY_SMTP_SENDER_AUTH": "either",
    "RELAY_SMTP_INBOUND_NETWORKS": "none",
    "RELAY_SMTP_INBOUND_SECRET": "",
}
"""Relay's defaults, over the pipeline launcher's trial trust."""


def zone(key: DkimKey) -> dict[str, dict[str, list[str]]]:
    return {
        "acme-widgets.example": {"TXT": [f"v=spf1 ip4:{ACME_MTA} -all"]},
        "sel._domainkey.acme-widgets.example": {"TXT": [key.dns_txt]},
        "_dmarc.acme-widgets.example": {"TXT": ["v=DMARC1; p=reject"]},
        "globex.example": {"TXT": ["v=spf1 ip4:127.0.0.20 -all"]},
        "_dmarc.globex.example": {"TXT": ["v=DMARC1; p=reject"]},
        "evil.example": {"TXT": ["v=spf1 +all"]},
    }


def queued(serve: RelayServe, reply: str) -> dict[str, object]:
    queue_id = reply.rsplit(" ", 1)[-1]
    wait_for(lambda: state(serve, queue_id) in ("logged", "held", "unresolved"), what="done")
    shown = serve.cli("queue", "show", queue_id, "--json")
    assert shown.returncode == 0, shown.stderr
    document: dict[str, object] = json.loads(shown.stdout)
    return document


def state(serve: RelayServe, queue_id: str) -> object:
    listed = json.loads(serve.cli("queue", "list", "--state", "all", "--json").stdout)
    return next((item["state"] for item in listed if item["id"] == queue_id), None)
