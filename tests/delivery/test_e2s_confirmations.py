"""End to end, ``confirmations=on``: after logging, the rep gets one note per email
at the capture sink (the smarthost), and never one for a duplicate or machine mail."""

from __future__ import annotations

import time
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default

import pytest

from tests.delivery.e2s_helpers import final, next_sync, queue
from tests.support.localorg import RunningOrg
from tests.support.pipeline import REP, email, wait_for
from tests.support.serve import RelayServe
from tests.support.smtp_sink import CaptureSmtp

pytestmark = pytest.mark.slow


def _notes(capture: CaptureSmtp, subject: str) -> list[EmailMessage]:
    """Confirmations to the rep whose Subject names ``subject``."""
    found = []
    for captured in capture.messages:
        message = BytesParser(policy=default).parsebytes(captured.data)
        assert isinstance(message, EmailMessage)
        if captured.rcpt_tos == (REP,) and message["Subject"].endswith(": " + subject):
            found.append(message)
    return found


def _text(message: EmailMessage) -> str:
    return str(message.get_content())


def test_one_confirmation_per_email_with_records_and_unresolved_steps(
    org: RunningOrg, serve: RelayServe, capture: CaptureSmtp
) -> None:
    """Logged and unmatched email each get exactly one auto-generated confirmation (the
    unmatched one says `relay unresolved assign`); a duplicate and machine mail get none."""
    done = serve.cli("settings", "set", "--user", REP, "confirmations", "on")
    assert done.returncode == 0, done.stderr
    next_sync(serve)

    logged_id = "<confirm-logged-1@acme-widgets.example>"
    serve.send(email(["peter@initech.example"], "Confirm logged", message_id=logged_id))
    final(serve, "Confirm logged", "logged")
    serve.send(email(["nobody@unknown-co.example"], "Confirm unmatched"))
    final(serve, "Confirm unmatched", "unresolved")
    machine = email(["peter@initech.example"], "Confirm machine")
    machine["Auto-Submitted"] = "auto-replied"
    serve.send(machine)
    final(serve, "Confirm machine", "rejected")

    logged = _notes(capture, "Confirm logged")
    assert len(logged) == 1
    assert logged[0]["Auto-Submitted"] == "auto-generated"
    assert "logged to 1 record(s) in 1 Task(s)" in _text(logged[0])
    peter = org.seeded.sample.contacts["peter@initech.example"]
    assert f"Contact {peter}" in _text(logged[0])
    unmatched = _notes(capture, "Confirm unmatched")
    assert len(unmatched) == 1
    assert unmatched[0]["Auto-Submitted"] == "auto-generated"
    assert "relay unresolved assign" in _text(unmatched[0])
    assert _notes(capture, "Confirm machine") == []

    # The same email again (BCC plus journaling): already logged, no second confirmation.
    serve.send(email(["peter@initech.example"], "Confirm logged", message_id=logged_id))
    copies = wait_for(
        lambda: (
            len(
                found := [
                    i
                    for i in queue(serve)
                    if i["subject"] == "Confirm logged" and i["state"] == "logged"
                ]
            )
            == 2
            and found
        ),
        timeout=30,
        what="the duplicate logged",
    )
    assert any(i["reason"].startswith("already logged") for i in copies)
    time.sleep(1)  # a confirmation goes right after the outcome: give it the chance to
    assert len(_notes(capture, "Confirm logged")) == 1
    assert len(org.tasks("Subject = 'Email: Confirm logged'")) == 1
