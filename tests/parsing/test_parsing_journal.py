"""Exchange envelope journal reports are unwrapped; their recipient list is the truth."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from relay.parsing import Email


def test_journal_report_unwraps_the_original(fixture_email: Callable[..., Email]) -> None:
    """From/To/Cc/subject/date/Message-ID/body come from the attached original."""
    email = fixture_email("exchange_journal_report.eml", mail_from="")
    assert email.from_ is not None
    assert email.from_.email == "rep@us.example"
    assert [a.email for a in email.to] == ["jane.doe@acme.example", "team@us.example"]
    assert [a.email for a in email.cc] == ["bob@acme.example", "carol@us.example"]
    assert email.subject == "Quarterly review"
    assert email.date == datetime(2025, 1, 13, 9, 59, 58, tzinfo=UTC)
    assert email.message_id == "QR-2025-01@us.example"
    assert email.text_body.startswith("Hi Jane, here are the figures.")
    assert email.record_refs == ("0015g00000AbCdEAAV",)


def test_journal_report_lists_every_true_recipient(fixture_email: Callable[..., Email]) -> None:
    """The report's To/Cc/Bcc/Recipient lines, Bcc included; DL and forward sources dropped."""
    email = fixture_email("exchange_journal_report.eml", mail_from="")
    assert email.journal is not None
    assert email.journal.sender is not None
    assert email.journal.sender.email == "rep@us.example"
    assert [a.email for a in email.journal.recipients] == [
        "jane.doe@acme.example",
        "bob@acme.example",
        "hidden.customer@bigco.example",
        "alice@us.example",
        "fwd@us.example",
        "auditor@partner.example",
    ]
    assert [a.email for a in email.bcc] == ["hidden.customer@bigco.example"]


def test_journal_report_is_not_machine_mail(fixture_email: Callable[..., Email]) -> None:
    """The report's system envelope sender does not make the journaled email machine mail."""
    email = fixture_email("exchange_journal_report.eml", mail_from="")
    assert email.machine_reason is None
    assert not email.is_forward


def test_journal_copy_and_bcc_copy_share_a_key(
    fixture_email: Callable[..., Email], parse_raw: Callable[..., Email]
) -> None:
    """The journaled copy dedups against the rep's own BCC copy of the same email."""
    journaled = fixture_email("exchange_journal_report.eml", mail_from="")
    raw = (
        b"From: Rep Person <rep@us.example>\r\nTo: Jane Doe <jane.doe@acme.example>\r\n"
        b"Subject: Quarterly review\r\nMessage-ID: < QR-2025-01@US.example >\r\n\r\nHi\r\n"
    )
    assert parse_raw(raw).message_key == journaled.message_key


def test_exchange_2003_report_without_original(fixture_email: Callable[..., Email]) -> None:
    """An ExJournalReport with its Recipients list but no attachment keeps the list and says so."""
    email = fixture_email("journal_without_original.eml")
    assert email.journal is not None
    assert [a.email for a in email.journal.recipients] == [
        "jane.doe@acme.example",
        "bob@acme.example",
    ]
    assert any("without an attached original" in d for d in email.defects)
