"""Machine mail is recognised, with a readable reason (RFC 3834, RFC 3464, RFC 2919)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from relay.parsing import Email

PERSON = (
    b"From: Jane Doe <jane.doe@acme.example>\r\nTo: rep@us.example\r\n"
    b"Subject: Hello\r\nMessage-ID: <p1@acme.example>\r\n"
)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (b"Auto-Submitted: auto-replied\r\n", "Auto-Submitted: auto-replied"),
        (b"Auto-Submitted: auto-generated; owner-email=x@y\r\n", "Auto-Submitted: auto-generated"),
        (b"Precedence: bulk\r\n", "Precedence: bulk"),
        (b"Precedence: LIST\r\n", "Precedence: list"),
        (b"Precedence: junk\r\n", "Precedence: junk"),
        (b"List-Id: Sales team <sales.lists.acme.example>\r\n", "List-Id"),
        (b"X-Autoreply: yes\r\n", "x-autoreply: yes"),
        (b"X-Autorespond: Out of office\r\n", "x-autorespond"),
    ],
)
def test_machine_headers(parse_raw: Callable[..., Email], extra: bytes, reason: str) -> None:
    """Each machine-mail header yields a reason that names it."""
    email = parse_raw(PERSON + extra + b"\r\nbody\r\n")
    assert email.machine_reason is not None
    assert reason in email.machine_reason


def test_auto_submitted_no_is_a_person(parse_raw: Callable[..., Email]) -> None:
    """RFC 3834 §5: Auto-Submitted: no means a person sent it."""
    email = parse_raw(PERSON + b"Auto-Submitted: no\r\nPrecedence: normal\r\n\r\nbody\r\n")
    assert email.machine_reason is None


def test_null_sender_is_machine_mail(parse_raw: Callable[..., Email]) -> None:
    """MAIL FROM:<> marks a notification even without any header saying so."""
    email = parse_raw(PERSON + b"\r\nbody\r\n", mail_from="")
    assert email.machine_reason is not None
    assert "null sender" in email.machine_reason


def test_dsn_is_machine_mail(fixture_email: Callable[..., Email]) -> None:
    """A delivery status notification (multipart/report) is machine mail."""
    email = fixture_email("dsn_bounce.eml")
    assert email.machine_reason is not None
    assert "Auto-Submitted" in email.machine_reason or "RFC 3464" in email.machine_reason


def test_mdn_is_machine_mail(fixture_email: Callable[..., Email]) -> None:
    """A read receipt (disposition-notification report) is machine mail."""
    email = fixture_email("mdn_read_receipt.eml")
    assert email.machine_reason is not None
    assert "MDN" in email.machine_reason
