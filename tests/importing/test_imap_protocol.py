"""The IMAP source's pure parts (relay/importing/imap_protocol.py): bytes and text in,
values out, no server."""

from __future__ import annotations

import datetime as dt
import imaplib

import pytest

from relay.importing.imap_protocol import (
    SEARCH_WINDOW,
    Cursor,
    check_resume,
    mailbox_name,
    parse_fetch,
    parse_search,
    parse_sizes,
    parse_url,
    search_criteria,
    search_windows,
    size_batches,
    uid_set,
)
from relay.importing.source import SourceError


def test_url_defaults_the_port_by_scheme_and_decodes_the_user_and_folder() -> None:
    plain = parse_url("imap://rep%40example.com@mail.example.com/Kunden%20Archiv")
    assert (plain.implicit_tls, plain.user, plain.host, plain.port, plain.folder) == (
        False,
        "rep@example.com",
        "mail.example.com",
        143,
        "Kunden Archiv",
    )
    implicit = parse_url("imaps://rep@mail.example.com")
    assert (implicit.implicit_tls, implicit.port, implicit.folder) == (True, 993, "INBOX")
    assert parse_url("imap://rep@[::1]:1143/INBOX").identity == "imap://rep@[::1]:1143/INBOX"


def test_identity_spells_out_the_port_so_equal_sources_match() -> None:
    assert (
        parse_url("imaps://rep%40example.com@mail.example.com/Sent%20Items").identity
        == parse_url("imaps://rep%40example.com@mail.example.com:993/Sent Items").identity
        == "imaps://rep%40example.com@mail.example.com:993/Sent%20Items"
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://rep@mail.example.com/INBOX", "not an IMAP URL"),
        ("imap://mail.example.com/INBOX", "needs a user and a host"),
        ("imap://rep:hunter2@mail.example.com/INBOX", "put no password in the IMAP URL"),
        ("imap://rep@mail.example.com:99999/INBOX", "port"),
        ("imap://rep@mail.example.com/INBOX?x=1", "no query"),
        ("imap://rep@mail.example.com/IN%0D%0ABOX", "line break"),
    ],
)
def test_bad_urls_are_one_readable_line(url: str, says: str) -> None:
    with pytest.raises(SourceError, match=says) as raised:
        parse_url(url)
    assert "\n" not in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_cursor_round_trips_with_any_folder_name() -> None:
    cursor = Cursor("Kunden/Entwürfe: 2026", 1796535542, 4711)
    assert Cursor.decode(cursor.encode()) == cursor
    with pytest.raises(SourceError, match="not made by the IMAP source"):
        Cursor.decode("mbox:1234")


def test_a_cursor_from_another_folder_or_uidvalidity_is_refused() -> None:
    cursor = Cursor("INBOX", 10, 5)
    check_resume(cursor, "INBOX", 10)  # the same folder, not rebuilt: resume
    with pytest.raises(SourceError, match="UIDVALIDITY 10 is now 11"):
        check_resume(cursor, "INBOX", 11)
    with pytest.raises(SourceError, match="for folder 'INBOX', not 'Sent'"):
        check_resume(cursor, "Sent", 10)


@pytest.mark.parametrize(
    ("folder", "wire"),
    [
        ("INBOX", '"INBOX"'),
        ("Sent Items", '"Sent Items"'),
        ('a"b\\c', '"a\\"b\\\\c"'),
        ("Tom & Jerry", '"Tom &- Jerry"'),
        ("Entwürfe", '"Entw&APw-rfe"'),
        # RFC 3501 §5.1.3's own example
        ("~peter/mail/台北/日本語", '"~peter/mail/&U,BTFw-/&ZeVnLIqe-"'),
    ],
)
def test_mailbox_names_are_modified_utf7_and_quoted(folder: str, wire: str) -> None:
    assert mailbox_name(folder) == wire


def test_search_criteria_a_uid_range_and_inclusive_dates() -> None:
    assert search_criteria("1:*", None, None) == "UID 1:*"
    # A day wider each way; the Date: header, the internal date, or no Date: at all.
    assert search_criteria("42:99", dt.date(2026, 9, 1), dt.date(2026, 9, 30)) == (
        "UID 42:99 OR OR (SENTSINCE 31-Aug-2026 SENTBEFORE 2-Oct-2026) "
        '(SINCE 31-Aug-2026 BEFORE 2-Oct-2026) NOT HEADER Date ""'
    )
    assert search_criteria("1:*", None, dt.date(2026, 12, 31)) == (
        'UID 1:* OR OR (SENTBEFORE 2-Jan-2027) (BEFORE 2-Jan-2027) NOT HEADER Date ""'
    )


def test_search_windows_cover_the_uids_after_the_cursor_up_to_uidnext() -> None:
    assert search_windows(0, 8, width=3) == ["1:3", "4:6", "7:7"]
    assert search_windows(5, 8, width=50) == ["6:7"]
    assert search_windows(7, 8) == []  # nothing after the cursor
    assert search_windows(7, None) == ["8:*"]  # a server that gave no UIDNEXT


def test_a_search_window_reply_fits_in_imaplibs_longest_line() -> None:
    widest = len(b"* SEARCH") + SEARCH_WINDOW * len(b" 4294967295") + len(b"\r\n")
    assert widest < imaplib._MAXLINE  # else a large folder's SEARCH reply is refused


def test_search_reply_drops_the_last_message_that_star_always_matches() -> None:
    # "UID 8:*" on a folder whose last UID is 7 answers 7 (RFC 3501 §6.4.8).
    assert parse_search([b"7"], after_uid=7) == []
    assert parse_search([b"9 3 8"], after_uid=2) == [3, 8, 9]
    assert parse_search([b""], after_uid=0) == []


def test_uid_sets_join_runs() -> None:
    assert uid_set([1, 2, 3, 7, 9, 10]) == "1:3,7,9:10"
    assert uid_set([5]) == "5"


def test_fetch_reply_by_uid_skipping_replies_without_a_body() -> None:
    data = [
        (b"1 (UID 11 BODY[] {5}", b"one\r\n"),
        b")",
        (b"2 (UID 12 BODY[] {5}", b"two\r\n"),
        b" FLAGS (\\Seen))",
        b"3 (UID 13 FLAGS (\\Seen))",
    ]
    assert parse_fetch(data) == {11: b"one\r\n", 12: b"two\r\n"}


def test_size_reply_by_uid() -> None:
    data = [b"1 (UID 11 RFC822.SIZE 2048)", b"2 (RFC822.SIZE 10 UID 12)", b"3 (UID 13)"]
    assert parse_sizes(data) == {11: 2048, 12: 10}


def test_batches_are_bounded_by_count_and_by_bytes() -> None:
    sizes = {1: 10, 2: 10, 3: 10, 4: 10, 5: 10}
    assert list(size_batches([1, 2, 3, 4, 5], sizes, 2, 1000)) == [[1, 2], [3, 4], [5]]
    assert list(size_batches([1, 2, 3, 4, 5], sizes, 50, 25)) == [[1, 2], [3, 4], [5]]
    # a message over the byte bound goes alone; one without a size was expunged
    big = {1: 10, 2: 500, 3: 10, 5: 10}
    assert list(size_batches([1, 2, 3, 4, 5], big, 50, 100)) == [[1], [2], [3, 5]]
