"""End to end: the org's Email-to-Salesforce switch off holds a rep's
``logging=email_to_salesforce`` mail with the admin's steps, tells the rep once, and
forwards it once the switch is back on."""

from __future__ import annotations

from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default

import pytest

from tests.delivery.e2s_helpers import e2s_address, final, next_sync
from tests.support.localorg import RunningOrg
from tests.support.pipeline import REP, email
from tests.support.serve import RelayServe
from tests.support.smtp_sink import CaptureSmtp

pytestmark = pytest.mark.slow


def test_inactive_holds_notifies_once_and_releases(
    org: RunningOrg, serve: RelayServe, capture: CaptureSmtp
) -> None:
    """email_to_salesforce_active=false: held as e2s_inactive with the Setup steps, one
    notice for two emails, both forwarded once each after the switch is back on."""
    target = e2s_address(org, REP)
    assert target is not None
    done = serve.cli("settings", "set", "--user", REP, "logging", "email_to_salesforce")
    assert done.returncode == 0, done.stderr
    org.admin("/_localorg/settings", {"email_to_salesforce_active": False})
    next_sync(serve)
    subjects = ("Inactive 1", "Inactive 2")
    for subject in subjects:
        serve.send(email(["peter@initech.example"], subject))
    for subject in subjects:
        reason = final(serve, subject, "held")["reason"]
        assert reason.startswith("e2s_inactive: ")
        assert "Setup → Email Administration → Email to Salesforce → Edit" in reason
        assert 'check "Active"' in reason
    notices = [m for m in capture.messages if m.rcpt_tos == (REP,)]
    assert len(notices) == 1
    assert b"Auto-Submitted: auto-generated" in notices[0].data
    notice = BytesParser(policy=default).parsebytes(notices[0].data)
    assert isinstance(notice, EmailMessage)
    assert notice["Subject"] == "Relay is holding your email: e2s inactive"
    text = str(notice.get_content())
    assert "What the admin does:" in text
    assert "Setup → Email Administration → Email to Salesforce → Edit" in text
    assert [m for m in capture.messages if m.rcpt_tos == (target,)] == []

    org.admin("/_localorg/settings", {"email_to_salesforce_active": True})
    for subject in subjects:
        item = final(serve, subject, "logged")
        assert item["reason"] == f"forwarded to Email-to-Salesforce {target}"
    forwards = [m for m in capture.messages if m.rcpt_tos == (target,)]
    assert len(forwards) == 2
    assert len([m for m in capture.messages if m.rcpt_tos == (REP,)]) == 1
    assert org.tasks("Subject LIKE 'Email: Inactive %'") == []
