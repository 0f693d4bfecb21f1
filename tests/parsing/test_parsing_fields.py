"""Headers, addresses, ids, dates, body and attachments of ordinary messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from relay.parsing import Address, Attachment, Email

RECEIVED_AT = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)  # as in conftest.py

BASE = (
    b"From: Jane Doe <jane.doe@acme.example>\r\n"
    b"To: rep@us.example\r\n"
    b"Subject: Hello\r\n"
    b"Date: Mon, 13 Jan 2025 10:00:04 -0500\r\n"
    b"Message-ID: <Abc.123@Mail.ACME.example>\r\n"
)


def test_rfc2047_and_idna_addresses(parse_raw: Callable[..., Email]) -> None:
    """Encoded display names are decoded; xn-- domains become Unicode; case is folded."""
    email = parse_raw(
        b"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <Joerg@XN--BCHER-KVA.Example>\r\n"
        b"To: =?iso-8859-1?q?Fran=E7ois?= <FRANCOIS@Client.Example>,\r\n"
        b' "Smith, Ann" <ann@client.example>\r\n'
        b"Subject: =?utf-8?b?w4ljaMOpYW5jZQ==?=\r\n\r\nbody\r\n"
    )
    assert email.from_ == Address("joerg@bücher.example", "Jörg Müller")
    assert email.to == (
        Address("francois@client.example", "François"),
        Address("ann@client.example", "Smith, Ann"),
    )
    assert email.subject == "Échéance"


def test_duplicates_and_garbage_are_dropped(parse_raw: Callable[..., Email]) -> None:
    """Repeats keep the first occurrence and its name; non-addresses are skipped."""
    email = parse_raw(
        b"From: jane@acme.example\r\n"
        b"To: Bob <bob@acme.example>, BOB@ACME.EXAMPLE, undisclosed-recipients:;\r\n"
        b"Cc: not an address, Carla <carla@acme.example>, <>\r\n"
        b"Bcc: hidden@acme.example\r\n"
        b"Reply-To: Sales <sales@acme.example>\r\n"
        b"Sender: Assistant <assistant@acme.example>\r\n\r\nx\r\n"
    )
    assert email.to == (Address("bob@acme.example", "Bob"),)
    assert email.cc == (Address("carla@acme.example", "Carla"),)
    assert email.bcc == (Address("hidden@acme.example"),)
    assert email.reply_to == (Address("sales@acme.example", "Sales"),)
    assert email.sender == Address("assistant@acme.example", "Assistant")


def test_envelope_is_kept(parse_raw: Callable[..., Email]) -> None:
    """The SMTP envelope travels beside the headers."""
    email = parse_raw(BASE + b"\r\nbody\r\n", mail_from="jane.doe@acme.example")
    assert email.envelope.mail_from == "jane.doe@acme.example"
    assert email.envelope.rcpt_tos == ("log@relay.localhost",)


def test_date_keeps_its_timezone(parse_raw: Callable[..., Email]) -> None:
    """The Date header's offset is kept, not converted."""
    email = parse_raw(BASE + b"\r\nbody\r\n")
    assert email.date == datetime(2025, 1, 13, 10, 0, 4, tzinfo=timezone(timedelta(hours=-5)))
    assert email.date.utcoffset() == timedelta(hours=-5)
    assert not any("Date header" in d for d in email.defects)


def test_missing_and_invalid_date_use_receive_time(parse_raw: Callable[..., Email]) -> None:
    """No Date, or an unreadable one, falls back to the receive time with a defect."""
    missing = parse_raw(BASE.replace(b"Date: Mon, 13 Jan 2025 10:00:04 -0500\r\n", b"") + b"\r\nx")
    assert missing.date == RECEIVED_AT
    assert "Date header missing: using the receive time" in missing.defects
    invalid = parse_raw(BASE.replace(b"Mon, 13 Jan 2025 10:00:04 -0500", b"yesterday") + b"\r\nx")
    assert invalid.date == RECEIVED_AT
    assert "Date header invalid: using the receive time" in invalid.defects


def test_minus_zero_zone_is_utc(parse_raw: Callable[..., Email]) -> None:
    """RFC 5322 §3.3: -0000 is UTC with an unknown local zone; the date stays aware."""
    email = parse_raw(BASE.replace(b"-0500", b"-0000") + b"\r\nx")
    assert email.date == datetime(2025, 1, 13, 10, 0, 4, tzinfo=UTC)


def test_message_id_is_normalised(parse_raw: Callable[..., Email]) -> None:
    """Brackets and whitespace go; the id-right is lower-cased; the id-left keeps its case."""
    email = parse_raw(BASE + b"\r\nbody\r\n")
    assert email.message_id == "Abc.123@mail.acme.example"
    assert email.message_key == "Abc.123@mail.acme.example"
    assert email.message_id_header == "<Abc.123@Mail.ACME.example>"


def test_thread_references(parse_raw: Callable[..., Email]) -> None:
    """In-Reply-To and References become normalised id lists, in order, without repeats."""
    email = parse_raw(
        BASE + b"In-Reply-To: <Root@ACME.example> (Jane's message)\r\n"
        b"References: <root@acme.example>\r\n <Second@Us.Example>\r\n\t<Root@acme.EXAMPLE>\r\n"
        b"\r\nbody\r\n"
    )
    assert email.in_reply_to == ("Root@acme.example",)
    assert email.references == ("root@acme.example", "Second@us.example", "Root@acme.example")


def test_derived_key_is_stable_and_distinct(parse_raw: Callable[..., Email]) -> None:
    """Without a Message-ID, two copies share a derived key and different mails do not."""
    no_id = BASE.replace(b"Message-ID: <Abc.123@Mail.ACME.example>\r\n", b"")
    copy_one = parse_raw(
        b"Received: from a by b; Mon, 13 Jan 2025 10:00:05 -0500\r\n" + no_id + b"\r\nSame body\r\n"
    )
    copy_two = parse_raw(
        no_id + b"X-Relay-Copy: 2\r\n\r\nSame body\r\n", mail_from="other@us.example"
    )
    other = parse_raw(no_id + b"\r\nDifferent body\r\n")
    assert copy_one.message_id is None
    assert copy_one.message_key.startswith("derived:")
    assert copy_one.message_key == copy_two.message_key
    assert copy_one.message_key != other.message_key


def test_plain_text_is_preferred_over_html(parse_raw: Callable[..., Email]) -> None:
    """multipart/alternative: the text/plain part is the body."""
    email = parse_raw(
        BASE + b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nPlain words\r\n"
        b"--b\r\nContent-Type: text/html\r\n\r\n<p>HTML words</p>\r\n--b--\r\n"
    )
    assert email.text_body == "Plain words"


def test_html_only_body_and_attachments(fixture_email: Callable[..., Email]) -> None:
    """An HTML-only body is converted to text; attachments report decoded sizes."""
    email = fixture_email("html_only_with_attachment.eml")
    assert "Hello Jane," in email.text_body
    assert "Please see the proposal." in email.text_body
    assert "<" not in email.text_body
    assert email.attachments == (
        Attachment("proposal.pdf", "application/pdf", 127),  # base64-decoded length
        Attachment("prices.csv", "text/csv", len("item,price\nwidget,10\n")),
    )


def test_ref_tags(parse_raw: Callable[..., Email]) -> None:
    """15- and 18-character ids in (ref: ...) tags; one record named twice counts once."""
    email = parse_raw(
        BASE + b"\r\nPlease log (ref: 0015g00000AbCdE, 0035g00000XyZ12AAF) and\r\n"
        b"(Ref: 0015g00000AbCdEAAV) (ref: 0015g00000AbCdEZZZ) (ref: short)\r\n"
    )
    assert email.record_refs == ("0015g00000AbCdEAAV", "0035g00000XyZ12AAF")
    assert any("wrong 18-character checksum" in d for d in email.defects)
    assert any("'short'" in d for d in email.defects)


def test_ref_tags_after_5000_characters_are_ignored(parse_raw: Callable[..., Email]) -> None:
    """E2S reads ref tags only in the first 5,000 characters of the body."""
    email = parse_raw(BASE + b"\r\n" + b"x" * 5000 + b" (ref: 0015g00000AbCdE)\r\n")
    assert email.record_refs == ()


def test_mail_parser_defects_are_data(parse_raw: Callable[..., Email]) -> None:
    """A malformed multipart still parses, and its defects are listed."""
    email = parse_raw(
        BASE + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=missing\r\n\r\n"
        b"no boundary here\r\n"
    )
    assert email.unparseable is None
    assert any("Boundary" in d for d in email.defects)


def test_unparseable_inputs_are_named(parse_raw: Callable[..., Email]) -> None:
    """Empty input and headerless junk yield an Email that says to quarantine it."""
    empty = parse_raw(b"")
    assert empty.unparseable == "empty message"
    assert empty.date == RECEIVED_AT
    junk = parse_raw(b"\x00\x01\x02 binary junk\r\nmore junk\r\n")
    assert junk.unparseable is not None
    assert "no header fields" in junk.unparseable
    assert junk.defects == (f"unparseable: {junk.unparseable}",)
    assert junk.message_key.startswith("derived:raw:")


def test_deep_nesting_is_quarantined_not_raised(parse_raw: Callable[..., Email]) -> None:
    """A multipart bomb (nesting past the recursion limit) becomes an unparseable Email."""
    depth = 3000
    head = b"From: a@b.example\r\nMIME-Version: 1.0\r\n"
    parts = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(depth)
    )
    email = parse_raw(head + parts + b"\r\nx\r\n")
    assert email.unparseable is not None
    assert "could not be parsed" in email.unparseable or "internal" in email.unparseable


def test_id18_matches_salesforce_example() -> None:
    """The checksum reproduces a published 15 -> 18 conversion (001D000000IqhSL -> ...IAZ)."""
    from relay.parsing.refs import id18

    assert id18("001D000000IqhSL") == "001D000000IqhSLIAZ"
