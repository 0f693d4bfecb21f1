"""The IMAP source (relay/importing/imap.py) against a real Dovecot on loopback
(tests/support/dovecot.py): TLS both ways, dates, batches, resume, and each failure
as one readable line."""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from relay.importing.files import open_file_source
from relay.importing.filters import Filters, Verdict, admit
from relay.importing.imap import CA_FILE_VARIABLE, ImapSource, open_imap
from relay.importing.imap_protocol import Cursor
from relay.importing.source import SourceError, SourceMessage
from tests.importing.mail_files import write_mbox
from tests.support.dovecot import PASSWORD, USER, Dovecot, free_port, running_dovecot

UTF8_USER = "kundin@example.com"
UTF8_PASSWORD = "pässwörd-😀"
SPACED_FOLDER = "Kunden Entwürfe"
SPACED_FOLDER_WIRE = "Kunden Entw&APw-rfe"  # modified UTF-7 (RFC 3501 §5.1.3)


def mail(number: int, received: dt.datetime) -> bytes:
    message = EmailMessage(policy=email.policy.SMTP)  # CRLF, as IMAP returns it
    message["From"] = "Customer <customer@acme.example>"
    message["To"] = USER
    message["Subject"] = f"Order {number}"
    message["Date"] = email.utils.format_datetime(received)
    message["Message-ID"] = f"<order-{number}@acme.example>"
    message.set_content(f"Hello, this is order {number}.\n" + "line\n" * number)
    return message.as_bytes()


DAYS = [dt.datetime(2026, 8, 28 + i, 12, tzinfo=dt.UTC) for i in range(4)] + [
    dt.datetime(2026, 9, 15, 12, tzinfo=dt.UTC),
    dt.datetime(2026, 9, 30, 12, tzinfo=dt.UTC),
    dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC),
]
INBOX = [mail(number, day) for number, day in enumerate(DAYS, start=1)]


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot(users={USER: PASSWORD, UTF8_USER: UTF8_PASSWORD})
    try:
        server.start()
        for raw, day in zip(INBOX, DAYS, strict=True):
            server.append("INBOX", raw, day)
        server.create(SPACED_FOLDER_WIRE)
        server.append(SPACED_FOLDER_WIRE, INBOX[0], DAYS[0])
        yield server
    finally:
        server.remove()


def read_all(source: ImapSource, after: str | None = None) -> list[bytes]:
    return [message.raw for message in source.messages(after)]


def test_starttls_reads_every_message_in_order_byte_for_byte_and_marks_none_seen(
    dovecot: Dovecot,
) -> None:
    logins = len(dovecot.successful_logins())
    source = open_imap(dovecot.url(), password=PASSWORD, ca_file=dovecot.ca_file)
    try:
        messages = list(source.messages())
    finally:
        source.close()
    assert [message.raw for message in messages] == INBOX
    assert {message.folder for message in messages} == {"INBOX"}
    assert source.identity == f"imap://rep%40example.com@localhost:{dovecot.starttls_port}/INBOX"
    assert [Cursor.decode(message.cursor).uid for message in messages] == list(range(1, 8))
    assert dovecot.seen_count("INBOX") == 0  # BODY.PEEK[] on an EXAMINEd folder
    # Dovecot calls loopback "secured" and would take the password in clear: its log
    # must say that this login came over TLS.
    login = dovecot.next_login(logins)
    assert f"user=<{USER}>" in login
    assert ", TLS, " in login


def test_implicit_tls_reads_the_same(dovecot: Dovecot) -> None:
    logins = len(dovecot.successful_logins())
    source = open_imap(dovecot.url(implicit_tls=True), password=PASSWORD, ca_file=dovecot.ca_file)
    try:
        assert read_all(source) == INBOX
        assert source.identity.startswith("imaps://")
    finally:
        source.close()
    assert ", TLS, " in dovecot.next_login(logins)


def admitted(raws: list[bytes], since: dt.date, until: dt.date) -> list[bytes]:
    """What the import keeps of ``raws``: the Date: header filter of every source."""
    filters = Filters(since, until)
    return [raw for raw in raws if admit(raw, filters) is Verdict.ADMIT]


def test_dates_narrow_on_the_server_a_day_wide_then_filter_as_files(dovecot: Dovecot) -> None:
    since, until = dt.date(2026, 8, 30), dt.date(2026, 9, 30)
    source = open_imap(
        dovecot.url(), password=PASSWORD, ca_file=dovecot.ca_file, since=since, until=until
    )
    try:
        narrowed = read_all(source)
    finally:
        source.close()
    assert narrowed == INBOX[1:7]  # a day either side: 29 Aug to 1 Oct
    assert admitted(narrowed, since, until) == INBOX[2:6]  # inclusive days


def dated(subject: str, date: str | None) -> bytes:
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = "Customer <customer@acme.example>"
    message["To"] = USER
    message["Subject"] = subject
    if date is not None:
        message["Date"] = date
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@acme.example>"
    message.set_content(f"{subject}\n")
    return message.as_bytes()


def test_an_imap_folder_and_its_mbox_keep_the_same_mail_whatever_the_internal_date(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    """The internal date (when the server got the mail, set here by APPEND) differs from
    the Date: header; the import keeps what the Date: header says, as for a file."""
    september = dt.datetime(2026, 9, 10, 12, tzinfo=dt.UTC)
    december = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    cases = [  # (raw, internal date, kept?)
        # Sent in range, copied into the folder in December (a migrated mailbox).
        (dated("migrated", "Thu, 10 Sep 2026 12:00:00 +0000"), december, True),
        # Received in range, but its Date: says July.
        (dated("backdated", "Wed, 01 Jul 2026 12:00:00 +0000"), september, False),
        # No Date: kept whatever the dates, as a file source keeps it.
        (dated("undated", None), december, True),
        # 31 Aug in its own zone, 1 Sep in UTC (the day the import filters on).
        (
            dated("west", "Mon, 31 Aug 2026 23:30:00 -0500"),
            dt.datetime(2026, 8, 20, tzinfo=dt.UTC),
            True,
        ),
        # 31 Aug in UTC: within the server's margin, outside the dates.
        (
            dated("edge", "Mon, 31 Aug 2026 10:00:00 +0000"),
            dt.datetime(2026, 8, 31, 10, tzinfo=dt.UTC),
            False,
        ),
    ]
    dovecot.create("Dates")
    for raw, internal, _kept in cases:
        dovecot.append("Dates", raw, internal)
    since, until = dt.date(2026, 9, 1), dt.date(2026, 9, 30)
    source = open_imap(
        dovecot.url("Dates"), password=PASSWORD, ca_file=dovecot.ca_file, since=since, until=until
    )
    try:
        from_imap = admitted(read_all(source), since, until)
    finally:
        source.close()
    assert from_imap == [raw for raw, _internal, kept in cases if kept]
    mbox = open_file_source(
        str(write_mbox(tmp_path / "dates.mbox", [raw for raw, _i, _k in cases])), on_skip=_no_skip
    )
    try:
        from_file = admitted([m.raw for m in mbox.messages()], since, until)
    finally:
        mbox.close()
    assert [subject_of(raw) for raw in from_file] == [subject_of(raw) for raw in from_imap]


def _no_skip(where: str, why: str) -> None:
    raise AssertionError(f"skipped {where}: {why}")


def subject_of(raw: bytes) -> str:
    return str(email.message_from_bytes(raw)["Subject"])


def test_fetches_in_batches_one_batch_ahead(dovecot: Dovecot) -> None:
    source = open_imap(dovecot.url(), password=PASSWORD, ca_file=dovecot.ca_file, batch_size=3)
    try:
        stream = source.messages()
        assert source.found == len(INBOX)
        first = next(stream)
        assert (first.raw, source.fetch_commands) == (INBOX[0], 1)  # streamed, not all at once
        rest = [message.raw for message in stream]
    finally:
        source.close()
    assert [first.raw, *rest] == INBOX
    assert source.fetch_commands == 3  # 7 messages in batches of 3


def test_searches_in_uid_windows_give_the_same_messages(dovecot: Dovecot) -> None:
    source = open_imap(
        dovecot.url(), password=PASSWORD, ca_file=dovecot.ca_file, since=dt.date(2026, 8, 30)
    )
    try:
        source.search_window = 2  # UIDs 1:2, 3:4, 5:6, 7:7
        assert read_all(source) == INBOX[1:]  # from 29 Aug: the server's day of margin
        after_four = Cursor("INBOX", source.uidvalidity, 4).encode()
        assert read_all(source, after=after_four) == INBOX[4:]
    finally:
        source.close()


def test_batches_are_bounded_by_bytes_too(dovecot: Dovecot) -> None:
    first_three = sum(len(raw) for raw in INBOX[:3])  # RFC822.SIZE counts CRLF lines
    source = open_imap(
        dovecot.url(), password=PASSWORD, ca_file=dovecot.ca_file, batch_bytes=first_three
    )
    try:
        assert read_all(source) == INBOX
        assert source.fetch_commands == 3  # UIDs 1-3, then 4-5 and 6-7 (each a bit longer)
    finally:
        source.close()
    alone = open_imap(dovecot.url(), password=PASSWORD, ca_file=dovecot.ca_file, batch_bytes=1)
    try:
        assert read_all(alone) == INBOX
        assert alone.fetch_commands == len(INBOX)  # each larger than the bound: one by one
    finally:
        alone.close()


def test_resumes_after_a_cursor_on_a_later_run(dovecot: Dovecot) -> None:
    first_run = open_imap(dovecot.url(), password=PASSWORD, ca_file=dovecot.ca_file)
    try:
        stream = first_run.messages()
        stored = [next(stream) for _ in range(3)]
    finally:
        first_run.close()
    second_run = open_imap(dovecot.url(), password=PASSWORD, ca_file=dovecot.ca_file)
    try:
        assert read_all(second_run, after=stored[-1].cursor) == INBOX[3:]
        last = list(second_run.messages(after=stored[-1].cursor))[-1]
        assert read_all(second_run, after=last.cursor) == []  # nothing new: nothing again
    finally:
        second_run.close()


def test_a_message_that_arrives_later_is_the_only_one_a_resume_reads(dovecot: Dovecot) -> None:
    dovecot.create("Growing")
    dovecot.append("Growing", INBOX[0], DAYS[0])
    source = open_imap(dovecot.url("Growing"), password=PASSWORD, ca_file=dovecot.ca_file)
    try:
        (only,) = source.messages()
        dovecot.append("Growing", INBOX[1], DAYS[1])
        assert read_all(source, after=only.cursor) == [INBOX[1]]
    finally:
        source.close()


def test_a_message_deleted_during_the_import_is_skipped_not_an_error(dovecot: Dovecot) -> None:
    dovecot.create("Shrinking")
    for raw, day in zip(INBOX[:4], DAYS[:4], strict=True):
        dovecot.append("Shrinking", raw, day)
    source = open_imap(
        dovecot.url("Shrinking"), password=PASSWORD, ca_file=dovecot.ca_file, batch_size=2
    )
    try:
        stream = source.messages()  # searched: UIDs 1 to 4
        first = next(stream)  # the batch of UIDs 1 and 2 is in hand
        dovecot.expunge("Shrinking", "2:3")  # 2 was fetched already, 3 not yet
        rest = list(stream)
    finally:
        source.close()
    assert [first.raw, *(message.raw for message in rest)] == [INBOX[0], INBOX[1], INBOX[3]]
    assert [Cursor.decode(message.cursor).uid for message in rest] == [2, 4]


def test_a_rebuilt_folder_refuses_the_old_cursor(dovecot: Dovecot) -> None:
    dovecot.create("Rebuilt")
    dovecot.append("Rebuilt", INBOX[0], DAYS[0])
    before = dovecot.uidvalidity("Rebuilt")
    source = open_imap(dovecot.url("Rebuilt"), password=PASSWORD, ca_file=dovecot.ca_file)
    try:
        (stored,) = source.messages()
    finally:
        source.close()
    dovecot.delete("Rebuilt")  # the folder is rebuilt: new UIDVALIDITY, UIDs from 1 again
    dovecot.create("Rebuilt")
    for raw, day in zip(INBOX[:3], DAYS[:3], strict=True):
        dovecot.append("Rebuilt", raw, day)
    after = dovecot.uidvalidity("Rebuilt")
    assert after != before
    source = open_imap(dovecot.url("Rebuilt"), password=PASSWORD, ca_file=dovecot.ca_file)
    try:
        with pytest.raises(SourceError) as raised:
            list(source.messages(after=stored.cursor))
        assert read_all(source) == INBOX[:3]  # a new import of the folder still works
    finally:
        source.close()
    assert f"UIDVALIDITY {before} is now {after}" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_folder_name_with_spaces_and_umlauts(dovecot: Dovecot) -> None:
    source = open_imap(dovecot.url(SPACED_FOLDER), password=PASSWORD, ca_file=dovecot.ca_file)
    try:
        messages = list(source.messages())
    finally:
        source.close()
    assert [(message.raw, message.folder) for message in messages] == [(INBOX[0], SPACED_FOLDER)]


def test_a_utf8_password_logs_in_with_sasl_plain(dovecot: Dovecot) -> None:
    logins = len(dovecot.successful_logins())
    source = open_imap(dovecot.url(user=UTF8_USER), password=UTF8_PASSWORD, ca_file=dovecot.ca_file)
    try:
        assert read_all(source) == []  # logged in; this user's INBOX is empty
    finally:
        source.close()
    login = dovecot.next_login(logins)
    assert f"user=<{UTF8_USER}>, method=PLAIN" in login


def test_the_ca_file_can_come_from_the_environment(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CA_FILE_VARIABLE, str(dovecot.ca_file))
    source = open_imap(dovecot.url(implicit_tls=True), password=PASSWORD)
    try:
        assert len(read_all(source)) == len(INBOX)
    finally:
        source.close()


def open_and_close(url: str, password: str, **options: Any) -> None:
    open_imap(url, password=password, **options).close()


def failure(url: str, password: str = PASSWORD, **options: Any) -> str:
    with pytest.raises(SourceError) as raised:
        open_and_close(url, password, **options)
    text = str(raised.value)
    assert "\n" not in text
    assert password not in text
    return text


def test_a_wrong_password_is_one_line(dovecot: Dovecot) -> None:
    text = failure(dovecot.url(), password="not the password", ca_file=dovecot.ca_file)
    assert text.startswith(f"IMAP login to localhost:{dovecot.starttls_port} as {USER} failed:")
    assert "wrong user or password" in text
    assert "[AUTHENTICATIONFAILED]" in text


def test_a_missing_folder_is_one_line(dovecot: Dovecot) -> None:
    text = failure(dovecot.url("Nope"), ca_file=dovecot.ca_file)
    assert text.startswith(f"folder 'Nope' does not exist on localhost:{dovecot.starttls_port}")
    assert f"for {USER} (Mailbox doesn't exist: Nope" in text


@pytest.mark.parametrize("implicit_tls", [False, True])
def test_an_untrusted_certificate_is_refused_before_login(
    dovecot: Dovecot, implicit_tls: bool
) -> None:
    logins = len(dovecot.logins())
    text = failure(dovecot.url(implicit_tls=implicit_tls))  # no CA file: system store only
    assert "TLS to localhost:" in text
    assert "unable to get local issuer certificate" in text
    assert CA_FILE_VARIABLE in text
    after = dovecot.logins()[logins:]
    assert not any("Login:" in line or "auth failed" in line for line in after), after


def test_a_certificate_for_another_name_is_refused(dovecot: Dovecot) -> None:
    text = failure(dovecot.url(host="127.0.0.1"), ca_file=dovecot.ca_file)
    assert "IP address mismatch, certificate is not valid for '127.0.0.1';" in text


def test_an_unreadable_ca_file_is_one_line(dovecot: Dovecot) -> None:
    text = failure(dovecot.url(), ca_file=dovecot.directory / "missing.pem")
    assert text.startswith(f"{CA_FILE_VARIABLE}=")


def test_no_starttls_means_no_password_sent() -> None:
    with running_dovecot(tls=False) as plain:
        text = failure(plain.url(), password=PASSWORD)
        assert "does not offer STARTTLS" in text
        # The start-up probe's connection, then the client's: neither named a user.
        lines = plain.wait_for_lines("Disconnected:", count=2)
        assert len(lines) == 2, lines
        assert all("user=<>" in line for line in lines)
        assert not any("method=" in line for line in plain.logins())
        assert PASSWORD not in plain.log_file.read_text(encoding="utf-8")


def test_connection_refused_is_one_line() -> None:
    port = free_port()  # nothing listens there
    text = failure(f"imap://{USER}@localhost:{port}/INBOX")
    assert text.startswith(f"cannot connect to IMAP server localhost:{port}:")
    assert "refused" in text.lower()


def test_a_connection_lost_mid_fetch_then_the_next_run_resumes() -> None:
    with running_dovecot() as server:
        for raw, day in zip(INBOX, DAYS, strict=True):
            server.append("INBOX", raw, day)
        source = open_imap(server.url(), password=PASSWORD, ca_file=server.ca_file, batch_size=2)
        stored: list[SourceMessage] = []

        def store_and_stop_after_the_first_batch() -> None:
            for message in source.messages():
                stored.append(message)
                if len(stored) == 2:  # the first batch is in hand: the server goes away
                    server.stop()

        with pytest.raises(SourceError) as raised:
            store_and_stop_after_the_first_batch()
        text, address = str(raised.value), f"localhost:{server.starttls_port}"
        assert text.startswith(f"the connection to {address} was lost while fetching UIDs 3 to 4")
        assert f"connecting again failed: cannot connect to IMAP server {address}: " in text
        assert text.endswith("; run the import again to go on from the last message stored")
        assert [message.raw for message in stored] == INBOX[:2]

        with pytest.raises(SourceError, match="cannot connect"):  # still down: one line too
            list(source.messages(after=stored[-1].cursor))
        server.start()
        # The same source connects anew, and so does the next run.
        assert read_all(source, after=stored[-1].cursor) == INBOX[2:]
        source.close()
        next_run = open_imap(server.url(), password=PASSWORD, ca_file=server.ca_file)
        try:
            assert read_all(next_run, after=stored[-1].cursor) == INBOX[2:]
        finally:
            next_run.close()


def test_a_server_that_stops_answering_times_out_as_one_line() -> None:
    with running_dovecot() as server:
        for raw, day in zip(INBOX[:4], DAYS[:4], strict=True):
            server.append("INBOX", raw, day)
        source = open_imap(
            server.url(), password=PASSWORD, ca_file=server.ca_file, batch_size=2, timeout=1
        )
        stream = source.messages()
        stored = [next(stream), next(stream)]
        server.freeze()
        try:
            with pytest.raises(SourceError) as raised:
                next(stream)
        finally:
            server.thaw()
        address = f"localhost:{server.starttls_port}"
        assert str(raised.value) == (
            f"the connection to {address} was lost while fetching UIDs 3 to 4 (timed out), "
            f"and connecting again failed: cannot connect to IMAP server {address}: timed "
            "out; run the import again to go on from the last message stored"
        )
        assert read_all(source, after=stored[-1].cursor) == INBOX[2:4]
        source.close()


def test_an_unknown_host_is_one_line() -> None:
    # .invalid never resolves (RFC 6761 §6.4)
    text = failure(f"imaps://{USER}@mail.example.invalid/INBOX")
    assert text.startswith("cannot find IMAP server mail.example.invalid:")


def test_a_session_the_server_drops_is_opened_again_without_a_gap() -> None:
    """A server's autologout (RFC 3501 §5.4) while the import waits for its queue: the
    source connects once more and goes on; no message is skipped or read twice."""
    with running_dovecot() as server:
        for raw, day in zip(INBOX, DAYS, strict=True):
            server.append("INBOX", raw, day)
        logins = len(server.successful_logins())
        source = open_imap(server.url(), password=PASSWORD, ca_file=server.ca_file, batch_size=2)
        try:
            stream = source.messages()
            stored = [next(stream), next(stream)]
            server.end_session(server.next_login(logins))  # this source's session
            stored += list(stream)
        finally:
            source.close()
        assert [message.raw for message in stored] == INBOX
        assert f"user=<{USER}>" in server.next_login(logins + 1)  # it logged in again


def test_a_folder_rebuilt_while_the_session_was_lost_is_refused() -> None:
    with running_dovecot() as server:
        server.create("Rebuilt")
        for raw, day in zip(INBOX[:4], DAYS[:4], strict=True):
            server.append("Rebuilt", raw, day)
        before = server.uidvalidity("Rebuilt")
        logins = len(server.successful_logins())
        source = open_imap(
            server.url("Rebuilt"), password=PASSWORD, ca_file=server.ca_file, batch_size=2
        )
        try:
            stream = source.messages()
            stored = [next(stream), next(stream)]
            server.end_session(server.next_login(logins))
            server.delete("Rebuilt")
            server.create("Rebuilt")
            for raw, day in zip(INBOX[:4], DAYS[:4], strict=True):
                server.append("Rebuilt", raw, day)
            with pytest.raises(SourceError) as raised:
                next(stream)
        finally:
            source.close()
        after = server.uidvalidity("Rebuilt")
        assert [message.raw for message in stored] == INBOX[:2]
        assert f"UIDVALIDITY {before} is now {after}" in str(raised.value)
