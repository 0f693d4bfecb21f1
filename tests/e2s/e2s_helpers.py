"""Helpers for tests/e2s (senders, settings and fallbacks end to end): reuse the
pipeline's `relay serve` subprocess and seeded org, and the senders area's capture SMTP
sink classes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

_TESTS = Path(__file__).resolve().parents[1]
for _area in ("pipeline", "senders"):
    if str(_TESTS / _area) not in sys.path:
        sys.path.insert(0, str(_TESTS / _area))

from pipeline_helpers import (  # noqa: E402
    DOMAIN,
    LOG,
    REP,
    Org,
    Serve,
    email,
    running_org,
    wait_for,
)
from senders_helpers import CaptureSmtp, capture_sink  # noqa: E402

__all__ = [
    "BOB",
    "DOMAIN",
    "LOG",
    "REP",
    "CaptureSmtp",
    "Org",
    "Serve",
    "capture_sink",
    "email",
    "fast_env",
    "running_org",
    "wait_for",
]

BOB = "bob@acme-widgets.example"  # a sample rep with no Email-to-Salesforce address


def fast_env(capture: CaptureSmtp) -> dict[str, str]:
    """Short intervals (config knobs) and the sink as smarthost; localhost not trusted,
    so the sender policy applies to the tests' SMTP client."""
    return {
        "RELAY_SMARTHOST": capture.smarthost,
        "RELAY_SMTP_TRUSTED_NETWORKS": "192.0.2.0/24",
        # Localhost is a direct client here, checked by its From alone (as Email to
        # Salesforce does without its advanced security settings): these tests are about
        # forwarding, tests/trust about proving the sender.
        "RELAY_SMTP_SENDER_AUTH": "none",
        "RELAY_PIPELINE_REP_SYNC_SECONDS": "0.5",
        "RELAY_PIPELINE_HELD_RECHECK_SECONDS": "0.5",
        "RELAY_PIPELINE_BACKOFF_INITIAL_SECONDS": "0.5",
        "RELAY_PIPELINE_BACKOFF_MAX_SECONDS": "1",
    }


# --- reading the outcome back, as an admin would --------------------------------------


def queue(serve: Serve) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(
        serve.cli("queue", "list", "--state", "all", "--json").stdout
    )
    return listed


def item(serve: Serve, subject: str) -> dict[str, Any] | None:
    return next((i for i in queue(serve) if i["subject"] == subject), None)


def final(serve: Serve, subject: str, state: str) -> dict[str, Any]:
    found: dict[str, Any] = wait_for(
        lambda: (i := item(serve, subject)) is not None and i["state"] == state and i,
        timeout=30,
        what=f"{subject!r} {state} (now {item(serve, subject)})",
    )
    return found


def next_sync(serve: Serve) -> None:
    """Wait for a rep sync that started after now (the edge and runners then see the
    store's aliases and settings)."""
    seen = len(serve.events("reps_synced"))
    wait_for(lambda: len(serve.events("reps_synced")) >= seen + 2, what="a rep sync")


def e2s_address(org: Org, user_email: str) -> str | None:
    rows = org.sf().query_all(
        "SELECT LocalPart, EmailDomainName FROM EmailServicesAddress "
        f"WHERE RunAsUser.Email = '{user_email}'"
    )["records"]
    return f"{rows[0]['LocalPart']}@{rows[0]['EmailDomainName']}" if rows else None
