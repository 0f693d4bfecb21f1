"""Relay's own addresses never reach a Task, a log line or `relay explain`: a rep's
``log+TOKEN@`` address is a credential, and everyone who can read a Task can read it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from relay.cli.explain import build_report, envelope_for
from relay.delivery.attachments import note_oversize
from relay.logs import redact_secrets
from relay.matching import MatchPolicy, draft_tasks, match
from relay.parsing import parse
from relay.privacy import OWN_ADDRESS_REMOVED, mask_tokens, strip_own_from_headers
from tests.support.matching_builders import OURS, RELAY_DOMAIN, REP, contact, directory

TOKEN = "k3xq7m2a9bcd"
PERSONAL = f"log+{TOKEN}@{RELAY_DOMAIN}"

# A rep writes to a customer with the personal address in Cc (so the customer's reply-all
# keeps logging), the shared address in To, and a quoted reply that names it again.
RAW = f"""\
From: Rep <rep@acme.test>
To: Alice <alice@customer.test>, log@{RELAY_DOMAIN}
Cc: Bob <bob@customer.test>, "Rep's log" <{PERSONAL}>
Bcc: {PERSONAL}
Subject: Quote for Q3 (cc {PERSONAL})
Message-ID: <p1@acme.test>
Date: Mon, 06 May 2024 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

Hello Alice,

-----Original Message-----
From: Alice <alice@customer.test>
Cc: {PERSONAL}; log@{RELAY_DOMAIN}.
Subject: Quote

--b
Content-Type: text/plain
Content-Disposition: attachment; filename="notes for {PERSONAL}.txt"

hello
--b--
""".replace("\n", "\r\n").encode()


def _email(raw: bytes = RAW):  # type: ignore[no-untyped-def]
    return parse(
        raw,
        envelope_for(raw, RELAY_DOMAIN),
        datetime(2024, 5, 7, tzinfo=UTC),
        relay_addresses=OURS,
    )


def _fields(include_body: bool = True) -> list[dict[str, object]]:
    mail = _email()
    dir_ = directory(contact(1, "alice@customer.test"), contact(2, "bob@customer.test"))
    policy = MatchPolicy(is_relay_address=OURS)
    plan = match(mail, dir_, policy)
    drafts = draft_tasks(
        mail,
        plan,
        REP.id,
        org_timezone="UTC",
        shared_activities=True,
        is_relay_address=OURS,
        include_body=include_body,
    )
    assert drafts, plan.trace
    return [d.to_sobject() for d in drafts]


def test_no_task_field_names_a_relay_address() -> None:
    """Subject, Description (To/CC/BCC lines, subject, body, file names): no @relay."""
    for fields in _fields():
        text = json.dumps(fields)
        assert f"@{RELAY_DOMAIN}" not in text, text
        assert TOKEN not in text
        description = str(fields["Description"])
        assert "CC: bob@customer.test\n" in description
        assert "Additional To: alice@customer.test\n" in description
        assert "BCC: \n" in description
        assert f"Cc: {OWN_ADDRESS_REMOVED}; {OWN_ADDRESS_REMOVED}." in description
        assert fields["Subject"] == f"Email: Quote for Q3 (cc {OWN_ADDRESS_REMOVED})"


def test_body_none_and_oversize_note_keep_relay_addresses_out() -> None:
    """``body=none`` and the "not uploaded" note name no Relay address either."""
    [fields] = _fields(include_body=False)
    mail = _email()
    noted = note_oversize(str(fields["Description"]), mail.attachments, 1, OURS)
    assert "(not uploaded: over 1 bytes)" in noted
    assert f"@{RELAY_DOMAIN}" not in noted


def test_explain_report_masks_the_personal_token() -> None:
    """`relay explain` names log+[redacted]@, never the token itself."""
    policy = MatchPolicy(is_relay_address=OURS)
    report = build_report(
        _email(),
        directory(contact(1, "alice@customer.test")),
        policy,
        org_timezone="UTC",
        shared_activities=True,
    )
    text = json.dumps(report)
    assert TOKEN not in text
    assert f"log+[redacted]@{RELAY_DOMAIN}" in text  # the drop is still explained


def test_log_events_mask_the_personal_token() -> None:
    """Any log field that carries a personal address shows log+[redacted]@."""
    event = redact_secrets(
        None,
        "info",
        {"event": "smtp_rejected", "recipient": PERSONAL, "reason": f"<{PERSONAL}> refused"},
    )
    assert TOKEN not in json.dumps(event)
    assert event["recipient"] == f"log+[redacted]@{RELAY_DOMAIN}"
    # A customer's own plus address is not a Relay token.
    assert mask_tokens("blog+x@customer.test") == "blog+x@customer.test"


# --- the copy forwarded to Email to Salesforce -------------------------------------------

FORWARD = (
    b"Received: from mx.acme.test by relay.test\r\n"
    b"\tfor <" + PERSONAL.encode() + b">; Mon, 6 May 2024 10:00:00 +0000\r\n"
    b"DKIM-Signature: v=1; a=rsa-sha256; d=acme.test; h=From:Subject; b=abc\r\n"
    b"From: Rep <rep@acme.test>\r\n"
    b"To: =?utf-8?q?J=C3=B6rg?= <jorg@customer.test>,\r\n"
    b"  log@relay.test\r\n"
    b"Cc: " + PERSONAL.encode() + b"\r\n"
    b"Subject: Quote\r\n"
    b"\r\n"
    b"Body that names " + PERSONAL.encode() + b"\r\n"
)


def test_forwarded_copy_loses_relay_addresses_in_recipient_fields_only() -> None:
    """To keeps the customer, Cc (only Relay's) goes, Received loses its ``for``; every
    other byte, body included, is unchanged."""
    out = strip_own_from_headers(FORWARD, OURS)
    head, _, body = out.partition(b"\r\n\r\n")
    assert body == FORWARD.partition(b"\r\n\r\n")[2]
    assert TOKEN.encode() not in head
    assert f"@{RELAY_DOMAIN}".encode() not in head.replace(b"by relay.test", b"")
    lines = head.split(b"\r\n")
    assert lines[0] == b"Received: from mx.acme.test by relay.test; Mon, 6 May 2024 10:00:00 +0000"
    assert b"DKIM-Signature: v=1; a=rsa-sha256; d=acme.test; h=From:Subject; b=abc" in lines
    assert b"From: Rep <rep@acme.test>" in lines
    assert b"To: =?utf-8?b?SsO2cmc=?= <jorg@customer.test>" in lines
    assert not any(line.lower().startswith(b"cc:") for line in lines)
    assert b"Subject: Quote" in lines


def test_bcc_copy_is_forwarded_byte_for_byte() -> None:
    """The usual copy (Relay only in the envelope) is the very same bytes."""
    raw = b"From: rep@acme.test\r\nTo: alice@customer.test\r\nSubject: x\r\n\r\nhi\r\n"
    assert strip_own_from_headers(raw, OURS) is raw


def test_rewritten_field_with_a_name_that_is_not_utf8_keeps_the_addresses() -> None:
    """A display name in undeclared 8-bit bytes cannot be re-encoded: the address stays."""
    raw = b"To: J\xf6rg <jorg@customer.test>, " + PERSONAL.encode() + b"\r\n\r\nhi"
    assert strip_own_from_headers(raw, OURS) == b"To: jorg@customer.test\r\n\r\nhi"
