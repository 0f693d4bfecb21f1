"""End to end: a rep's personal address (``log+TOKEN@``) never reaches Salesforce. Real
SMTP into `relay serve`, the local org over HTTPS read back as a client, and the
capture sink playing Email to Salesforce for the forward path."""

from __future__ import annotations

import json
import smtplib

import pytest

from tests.delivery.e2s_helpers import e2s_address, final
from tests.support.localorg import RunningOrg
from tests.support.pipeline import REP, email
from tests.support.serve import DOMAIN, RelayServe
from tests.support.smtp_sink import CaptureSmtp

pytestmark = pytest.mark.slow

CUSTOMER = "peter@initech.example"


def _personal(serve: RelayServe) -> str:
    shown = serve.cli("address", REP, "--json")
    assert shown.returncode == 0, shown.stderr
    address: str = json.loads(shown.stdout)["personal_address"]
    return address


def _raw(subject: str, personal: str) -> bytes:
    """The rep keeps their personal address in Cc (so a reply-all is logged too), and the
    body quotes an earlier message that named it."""
    body = f"Hello Peter,\n\n> From: {CUSTOMER}\n> Cc: {personal}\n> Thanks!\n"
    message = email([CUSTOMER], subject, cc=[personal], body=body)
    return message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_task_written_through_the_api_names_no_relay_address(
    org: RunningOrg, serve: RelayServe
) -> None:
    """Every field of the Task, read back from the org, is free of @RELAY_DOMAIN, and
    the daemon's log never shows the token."""
    personal = _personal(serve)
    token = personal.partition("+")[2].partition("@")[0]
    with smtplib.SMTP("127.0.0.1", serve.smtp_port, timeout=10) as smtp:
        smtp.sendmail(REP, [personal], _raw("Privacy over API", personal))
    final(serve, "Privacy over API", "logged")
    [listed] = org.tasks("Subject = 'Email: Privacy over API'")
    task = org.sf().Task.get(listed["Id"])  # every field the org has on the Task
    text = json.dumps(task)
    assert f"@{DOMAIN}" not in text, text
    assert token not in text
    assert CUSTOMER in task["Description"]
    assert token not in serve.stderr()


def test_forward_to_email_to_salesforce_drops_relay_addresses_from_headers(
    org: RunningOrg, serve: RelayServe, capture: CaptureSmtp
) -> None:
    """API_DISABLED_FOR_ORG: the forwarded copy's Cc loses the personal address (so the
    Task Email to Salesforce makes cannot show it); every other byte is the original's."""
    target = e2s_address(org, REP)
    assert target is not None
    personal = _personal(serve)
    org.admin("/_localorg/settings", {"api_enabled": False})
    raw = _raw("Privacy over E2S", personal)
    with smtplib.SMTP("127.0.0.1", serve.smtp_port, timeout=10) as smtp:
        smtp.sendmail(REP, [personal], raw)
    final(serve, "Privacy over E2S", "logged")
    [forward] = [m for m in capture.messages if m.rcpt_tos == (target,)]
    head, _, body = forward.data.partition(b"\r\n\r\n")
    assert f"@{DOMAIN}".encode() not in head
    assert body == raw.partition(b"\r\n\r\n")[2]  # the body is the rep's, byte for byte
    original = raw.partition(b"\r\n\r\n")[0].split(b"\r\n")
    assert head.split(b"\r\n") == [line for line in original if not line.startswith(b"Cc:")]
