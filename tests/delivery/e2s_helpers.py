"""Helpers for the Email-to-Salesforce forwarding tests (senders, settings and
fallbacks end to end, through `relay serve`): its settings and readers of the queue."""

from __future__ import annotations

import json
from typing import Any

from tests.support.localorg import RunningOrg
from tests.support.pipeline import wait_for
from tests.support.serve import RelayServe
from tests.support.smtp_sink import CaptureSmtp

BOB = "bob@acme-widgets.example"  # a sample rep with no Email-to-Salesforce address


def fast_env(capture: CaptureSmtp) -> dict[str, str]:
    """Short intervals (config knobs) and the sink as smarthost; localhost not trusted,
    so the sender policy applies to the tests' SMTP client."""
    return {
        "RELAY_SMARTHOST": capture.smarthost,
        "RELAY_SMTP_TRUSTED_NETWORKS": "192.0.2.0/24",
        # Localhost is a direct client here, checked by its From alone (as Email to
        # Salesforce does without its advanced security settings): these tests are about
        # forwarding, tests/smtp/trust about proving the sender.
        "RELAY_SMTP_SENDER_AUTH": "none",
        "RELAY_PIPELINE_REP_SYNC_SECONDS": "0.5",
        "RELAY_PIPELINE_HELD_RECHECK_SECONDS": "0.5",
        "RELAY_PIPELINE_BACKOFF_INITIAL_SECONDS": "0.5",
        "RELAY_PIPELINE_BACKOFF_MAX_SECONDS": "1",
    }


# --- reading the outcome back, as an admin would --------------------------------------


def queue(serve: RelayServe) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(
        serve.cli("queue", "list", "--state", "all", "--json").stdout
    )
    return listed


def item(serve: RelayServe, subject: str) -> dict[str, Any] | None:
    return next((i for i in queue(serve) if i["subject"] == subject), None)


def final(serve: RelayServe, subject: str, state: str) -> dict[str, Any]:
    found: dict[str, Any] = wait_for(
        lambda: (i := item(serve, subject)) is not None and i["state"] == state and i,
        timeout=30,
        what=f"{subject!r} {state} (now {item(serve, subject)})",
    )
    return found


def next_sync(serve: RelayServe) -> None:
    """Wait for a rep sync that started after now (the edge and runners then see the
    store's aliases and settings)."""
    seen = len(serve.events("reps_synced"))
    wait_for(lambda: len(serve.events("reps_synced")) >= seen + 2, what="a rep sync")


def e2s_address(org: RunningOrg, user_email: str) -> str | None:
    rows = org.sf().query_all(
        "SELECT LocalPart, EmailDomainName FROM EmailServicesAddress "
        f"WHERE RunAsUser.Email = '{user_email}'"
    )["records"]
    return f"{rows[0]['LocalPart']}@{rows[0]['EmailDomainName']}" if rows else None
