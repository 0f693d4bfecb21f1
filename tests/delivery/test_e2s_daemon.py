"""Senders and sync settings end to end: real SMTP into `relay serve`, the local org over
HTTPS, and the capture SMTP sink playing the smarthost and Salesforce's inbound
Email-to-Salesforce."""

from __future__ import annotations

import json
import smtplib

import pytest

from tests.delivery.e2s_helpers import BOB, e2s_address, final, next_sync
from tests.support.localorg import RunningOrg
from tests.support.pipeline import REP, email
from tests.support.serve import LOG, RelayServe
from tests.support.smtp_sink import CaptureSmtp

pytestmark = pytest.mark.slow


def _raw(sender: str, subject: str, to: str = "peter@initech.example") -> bytes:
    message = email([to], subject, sender=sender)
    return message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_unknown_sender_refused_then_accepted_once_registered(
    org: RunningOrg, serve: RelayServe
) -> None:
    """An unknown sender gets 550 5.7.1 with the fix; once `relay senders add`ed, logged."""
    alias = "alice.home@mail.example"
    with pytest.raises(smtplib.SMTPDataError) as refused:
        serve.send(email(["peter@initech.example"], "Alias before", sender=alias))
    assert refused.value.smtp_code == 550
    assert f"relay senders add {alias}" in refused.value.smtp_error.decode()
    added = serve.cli("senders", "add", alias, "--user", REP)
    assert added.returncode == 0, added.stderr
    next_sync(serve)
    serve.send(email(["peter@initech.example"], "Alias after", sender=alias))
    assert "logged" in final(serve, "Alias after", "logged")["reason"]
    assert org.tasks("Subject = 'Email: Alias after'")[0]["OwnerId"] == org.seeded.sample.users[REP]


def test_personal_address_works_and_forged_token_is_refused(
    org: RunningOrg, serve: RelayServe
) -> None:
    """`relay address` prints a working log+TOKEN@ address; a forged token gets 550."""
    shown = serve.cli("address", REP, "--json")
    personal = json.loads(shown.stdout)["personal_address"]
    serve.send(email(["peter@initech.example"], "Personal"), rcpt=(personal,))
    final(serve, "Personal", "logged")
    forged = personal.replace("log+", "log+x")[: len(personal)]
    forged = "log+aaaaaaaaaaaa@" + personal.rpartition("@")[2]
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        serve.send(email(["peter@initech.example"], "Forged"), rcpt=(forged,))
    code, text = refused.value.recipients[forged]
    assert code == 550
    assert b"not anyone's personal Relay address" in text


def test_api_disabled_forwards_the_original_bytes(
    org: RunningOrg, serve: RelayServe, capture: CaptureSmtp
) -> None:
    """API_DISABLED_FOR_ORG: the email goes to the rep's E2S address, byte for byte."""
    target = e2s_address(org, REP)
    assert target is not None
    org.admin("/_localorg/settings", {"api_enabled": False})
    raw = _raw(REP, "No API fallback")
    with smtplib.SMTP("127.0.0.1", serve.smtp_port, timeout=10) as smtp:
        smtp.sendmail(REP, [LOG], raw)
    item = final(serve, "No API fallback", "logged")
    assert item["reason"] == f"forwarded to Email-to-Salesforce {target}"
    forwards = [m for m in capture.messages if m.rcpt_tos == (target,)]
    assert len(forwards) == 1
    assert forwards[0].data == raw
    assert forwards[0].mail_from == REP
    doctor = serve.cli("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["api access"]["status"] == "fail"
    assert any("Enable the API" in step for step in checks["api access"]["fix"])


def test_missing_address_holds_notifies_once_and_releases(
    org: RunningOrg, serve: RelayServe, capture: CaptureSmtp
) -> None:
    """No E2S address: held with steps, ONE notice for two emails, released once it exists."""
    assert e2s_address(org, BOB) is None
    assert (
        serve.cli("settings", "set", "--user", BOB, "logging", "email_to_salesforce").returncode
        == 0
    )
    next_sync(serve)
    for subject in ("Bob held 1", "Bob held 2"):
        serve.send(email(["peter@initech.example"], subject, sender=BOB))
    for subject in ("Bob held 1", "Bob held 2"):
        reason = final(serve, subject, "held")["reason"]
        assert reason.startswith("e2s_address_missing: ")
        assert "My Email to Salesforce" in reason
        assert "Setup → Email Administration" in reason
    notices = [m for m in capture.messages if m.rcpt_tos == (BOB,)]
    assert len(notices) == 1
    assert notices[0].mail_from == "<>"  # the null sender: a bounce of it goes nowhere
    assert b"Auto-Submitted: auto-generated" in notices[0].data
    assert b"What the admin does:" in notices[0].data
    doctor = serve.cli("doctor", "--json")
    assert doctor.returncode == 1
    held = [c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "held messages"]
    assert len(held) == 1
    assert held[0]["status"] == "fail"
    assert "2 message(s) held" in held[0]["detail"]
    rep_check = next(c for c in json.loads(doctor.stdout)["checks"] if c["name"] == f"rep {BOB}")
    assert rep_check["status"] == "fail"
    assert rep_check["fix"]
    address = serve.cli("address", BOB)
    assert address.returncode == 1
    assert "e2s_address_missing" in address.stdout

    sample = org.seeded.sample
    function = org.sf().query("SELECT Id FROM EmailServicesFunction")["records"][0]["Id"]
    created = org.sf().EmailServicesAddress.create(
        {"LocalPart": "bobtosalesforce", "RunAsUserId": sample.users[BOB], "FunctionId": function}
    )
    try:
        target = e2s_address(org, BOB)
        for subject in ("Bob held 1", "Bob held 2"):
            item = final(serve, subject, "logged")
            assert item["reason"] == f"forwarded to Email-to-Salesforce {target}"
        assert len([m for m in capture.messages if m.rcpt_tos == (target,)]) == 2
        assert len([m for m in capture.messages if m.rcpt_tos == (BOB,)]) == 1
    finally:
        org.sf().EmailServicesAddress.delete(created["id"])


def test_per_rep_email_to_salesforce_and_body_none(
    org: RunningOrg, serve: RelayServe, capture: CaptureSmtp
) -> None:
    """logging=email_to_salesforce forwards; body=none logs the Task without the body."""
    target = e2s_address(org, REP)
    assert serve.cli("settings", "set", "--user", REP, "body", "none").returncode == 0
    next_sync(serve)
    serve.send(
        email(["peter@initech.example"], "No body here", body="Secret pricing: 42 per unit.\n")
    )
    final(serve, "No body here", "logged")
    task = org.sf().query_all("SELECT Description FROM Task WHERE Subject = 'Email: No body here'")[
        "records"
    ][0]
    assert "Secret pricing" not in task["Description"]
    assert "Subject: No body here" in task["Description"]

    assert (
        serve.cli("settings", "set", "--user", REP, "logging", "email_to_salesforce").returncode
        == 0
    )
    next_sync(serve)
    serve.send(email(["peter@initech.example"], "Via E2S setting"))
    item = final(serve, "Via E2S setting", "logged")
    assert item["reason"] == f"forwarded to Email-to-Salesforce {target}"
    assert org.tasks("Subject = 'Email: Via E2S setting'") == []
