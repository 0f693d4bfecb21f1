"""The IMAP source: a folder on an IMAP server, read over TLS, resumable by UID.

``open_imap("imap://USER@HOST[:PORT]/FOLDER", password=...)`` connects, upgrades with
STARTTLS (``imaps://`` for implicit TLS on 993, RFC 8314 §3.3), logs in and opens the
folder read-only (EXAMINE, RFC 3501 §6.3.2). ``messages()`` asks ``UID SEARCH`` for the
UIDs after the cursor that the dates may admit (the server narrows a day wide; the
import then filters on the Date: header as for a file, ``search_criteria``), then
fetches them in batches with ``UID FETCH … BODY.PEEK[]``, so nothing is marked seen
(RFC 3501 §6.4.5) and only one batch is in memory (bounded by count and by
RFC822.SIZE). UIDs ascend in the order mail arrived in the folder (RFC 3501 §2.3.1.1),
so a cursor is the folder, its UIDVALIDITY and the last UID stored.

Every failure is a ``SourceError`` with one line a person can act on; the password is
never in one, and nothing here logs. The standard library's imaplib is enough: it does
STARTTLS, literals and tagged replies, and the parts it leaves out (quoting a mailbox,
modified UTF-7, parsing FETCH) are small and pure (``imap_protocol.py``).
"""

from __future__ import annotations

import datetime as dt
import imaplib
import os
import socket
import ssl
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from relay.importing.imap_protocol import (
    SEARCH_WINDOW,
    Cursor,
    ImapUrl,
    batches,
    check_resume,
    checked_folder,
    mailbox_name,
    parse_fetch,
    parse_search,
    parse_sizes,
    parse_url,
    search_criteria,
    search_windows,
    server_text,
    size_batches,
    uid_set,
)
from relay.importing.source import Source, SourceError, SourceMessage
from relay.terminal_text import inert

T = TypeVar("T")

CA_FILE_VARIABLE = "RELAY_IMAP_CA_FILE"
"""A PEM bundle trusted besides the system's store (a server with a private CA)."""

DEFAULT_BATCH_SIZE = 50
"""Messages per ``UID FETCH``: few round trips, and one batch of mail in memory at most
(docs/benchmarks.md, "IMAP source": 50 reads about 3x as fast as 1 on loopback, where a
round trip costs least)."""

DEFAULT_BATCH_BYTES = 16 * 2**20
"""At most this much mail per ``UID FETCH`` (by RFC822.SIZE), whatever the count: a
folder of large attachments is read a few messages at a time."""

SIZE_CHUNK = 1000
"""UIDs whose sizes one ``UID FETCH … RFC822.SIZE`` asks for (about 40 bytes each)."""

DEFAULT_TIMEOUT_SECONDS = 60.0


def open_imap(
    url: str,
    *,
    password: str,
    folder: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    ca_file: Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> ImapSource:
    """Connect and open the folder now, so a wrong password or a missing folder is
    reported before the import starts. ``folder`` (`relay import --folder`) replaces the
    URL's; the source's identity then names that folder, so each folder is an import of
    its own with its own UIDVALIDITY and UID cursor. ``ca_file`` defaults to
    ``RELAY_IMAP_CA_FILE``."""
    location = parse_url(url)
    if folder is not None:
        location = replace(location, folder=checked_folder(folder))
    if batch_size < 1 or batch_bytes < 1:
        raise ValueError("batch_size and batch_bytes must be at least 1")
    context = tls_context(ca_file if ca_file is not None else ca_file_from_environment())
    source = ImapSource(
        location, password, since, until, context, (batch_size, batch_bytes), timeout
    )
    source.connect()
    return source


def ca_file_from_environment() -> Path | None:
    value = os.environ.get(CA_FILE_VARIABLE, "").strip()
    return Path(value) if value else None


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """The system's trust store, plus ``ca_file``; hostnames are checked (RFC 6125)."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as error:
            raise SourceError(
                f"{CA_FILE_VARIABLE}={ca_file} cannot be read as PEM certificates: {error}"
            ) from None
    return context


class ImapSource:
    """One IMAP folder as a ``Source`` (``relay/importing/source.py``)."""

    def __init__(
        self,
        location: ImapUrl,
        password: str,
        since: dt.date | None,
        until: dt.date | None,
        context: ssl.SSLContext,
        batch: tuple[int, int],
        timeout: float,
    ) -> None:
        self._location = location
        self._password = password
        self._since = since
        self._until = until
        self._context = context
        self._batch_size, self._batch_bytes = batch
        self._timeout = timeout
        self._imap: imaplib.IMAP4 | None = None
        self._uidvalidity = 0
        self._uidnext: int | None = None
        self.search_window = SEARCH_WINDOW
        """UIDs per ``UID SEARCH`` (``imap_protocol.SEARCH_WINDOW``)."""
        self.fetch_commands = 0
        """How many ``UID FETCH`` round trips this source made (for batch tests and stats)."""
        self.found = 0
        """How many messages the last ``messages()`` search found: the most it will yield
        (fewer if some are expunged meanwhile), for a progress bar's total."""

    @property
    def identity(self) -> str:
        return self._location.identity

    @property
    def uidvalidity(self) -> int:
        return self._uidvalidity

    def connect(self) -> None:
        self.close()
        with self._translated("connecting"):
            imap = self._open_tls()
        try:
            with self._translated("logging in"):
                self._log_in(imap)
            with self._translated("opening the folder"):
                self._uidvalidity = self._examine(imap)
        except BaseException:
            _drop(imap)
            raise
        self._imap = imap

    def messages(self, after: str | None = None) -> Iterator[SourceMessage]:
        cursor = Cursor.decode(after) if after is not None else None
        if self._imap is None:  # a connection lost earlier: this run starts afresh
            self.connect()
        else:  # open the folder again: a fresh view (new mail) and a fresh UIDVALIDITY
            self._uidvalidity = self._command("opening the folder", None, self._examine)
        uidvalidity = self._uidvalidity
        if cursor is not None:
            check_resume(cursor, self._location.folder, uidvalidity)
        after_uid = cursor.uid if cursor is not None else 0
        uids = array("I")  # 4 bytes a UID (a 32-bit number, RFC 3501 §2.3.1.1)
        for uid_range in search_windows(after_uid, self._uidnext, self.search_window):
            criteria = search_criteria(uid_range, self._since, self._until)
            data = self._command(
                f"searching UIDs {uid_range}", uidvalidity, self._uid("SEARCH", criteria)
            )
            uids.extend(parse_search(data, after_uid))
        self.found = len(uids)
        return self._fetch_all(uids, uidvalidity)

    def close(self) -> None:
        imap, self._imap = self._imap, None
        if imap is not None:
            with suppress(Exception):  # a polite LOGOUT; the socket closes either way
                imap.logout()
            _drop(imap)

    def _fetch_all(self, uids: Sequence[int], uidvalidity: int) -> Iterator[SourceMessage]:
        folder = self._location.folder
        for chunk in batches(uids, SIZE_CHUNK):
            sizes = parse_sizes(
                self._command(
                    f"reading the sizes of UIDs {chunk[0]} to {chunk[-1]}",
                    uidvalidity,
                    self._uid("FETCH", uid_set(chunk), "(UID RFC822.SIZE)"),
                )
            )
            for batch in size_batches(chunk, sizes, self._batch_size, self._batch_bytes):
                self.fetch_commands += 1
                found = parse_fetch(
                    self._command(
                        f"fetching UIDs {batch[0]} to {batch[-1]}",
                        uidvalidity,
                        self._uid("FETCH", uid_set(batch), "(UID BODY.PEEK[])"),
                    )
                )
                for uid in batch:
                    raw = found.get(uid)
                    if raw is not None:  # expunged since the search: nothing to import
                        cursor = Cursor(folder, uidvalidity, uid).encode()
                        yield SourceMessage(raw=raw, cursor=cursor, folder=folder)

    def _open_tls(self) -> imaplib.IMAP4:
        host, port = self._location.host, self._location.port
        if self._location.implicit_tls:
            return imaplib.IMAP4_SSL(host, port, ssl_context=self._context, timeout=self._timeout)
        imap = imaplib.IMAP4(host, port, timeout=self._timeout)
        try:
            # Plain imap:// is only a way to reach STARTTLS: without it the password would
            # cross in clear, so stop (RFC 8314 §3.1; RFC 3501 §6.2.1).
            if "STARTTLS" not in imap.capabilities:
                raise SourceError(
                    f"{self._location.address} does not offer STARTTLS, so the password "
                    "would cross in clear; refusing (use imaps:// if it has implicit TLS)"
                )
            imap.starttls(self._context)  # re-reads CAPABILITY after the handshake
        except BaseException:
            _drop(imap)
            raise
        return imap

    def _log_in(self, imap: imaplib.IMAP4) -> None:
        user = self._location.user
        shown = inert(user)
        if "LOGINDISABLED" in imap.capabilities:
            raise SourceError(f"{self._location.address} does not allow logging in (LOGINDISABLED)")
        try:
            if user.isascii() and self._password.isascii():
                imap.login(_quoted(user), self._password)  # RFC 3501 §6.2.3
            else:  # LOGIN is ASCII only; SASL PLAIN carries UTF-8 (RFC 4616 §2)
                credentials = f"\0{user}\0{self._password}".encode()
                imap.authenticate("PLAIN", lambda _challenge: credentials)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as error:
            text = server_text(error.args)
            if "[AUTHENTICATIONFAILED]" in text:  # RFC 5530 §3
                raise SourceError(
                    f"IMAP login to {self._location.address} as {shown} failed: wrong user "
                    f"or password ({text})"
                ) from None
            raise SourceError(
                f"IMAP login to {self._location.address} as {shown} was refused: {text}"
            ) from None

    def _examine(self, imap: imaplib.IMAP4) -> int:
        folder = self._location.folder
        status, data = imap.select(mailbox_name(folder), readonly=True)
        if status != "OK":
            where = f"on {self._location.address} for {inert(self._location.user)}"
            _, missing = imap.response("NONEXISTENT")  # RFC 5530 §3
            if missing:
                raise SourceError(f"folder {folder!r} does not exist {where} ({server_text(data)})")
            raise SourceError(f"folder {folder!r} cannot be opened {where}: {server_text(data)}")
        _, uidnext = imap.response("UIDNEXT")
        self._uidnext = int(uidnext[0]) if uidnext and bytes(uidnext[0]).isdigit() else None
        _, values = imap.response("UIDVALIDITY")
        if not values or values[0] is None or not bytes(values[0]).isdigit():
            raise SourceError(
                f"{self._location.address} gave no UIDVALIDITY for {folder!r}, so the import "
                "could not resume safely"
            )
        return int(values[0])

    def _uid(self, command: str, *args: str) -> Callable[[imaplib.IMAP4], list[Any]]:
        """``UID command args`` (RFC 3501 §6.4.8), to run through ``_command``."""

        def run(imap: imaplib.IMAP4) -> list[Any]:
            status, data = imap.uid(command, *args)
            if status != "OK":
                raise SourceError(
                    f"{self._location.address} refused UID {command}: {server_text(data)}"
                )
            return data

        return run

    def _command(
        self, doing: str, uidvalidity: int | None, action: Callable[[imaplib.IMAP4], T]
    ) -> T:
        """``action`` on the connection. If the connection turns out to be lost (a
        server's autologout after at least 30 idle minutes, RFC 3501 §5.4, while the
        import waited for its queue to drain; a NAT that forgot it), connect once more
        and run it again, provided the folder's UIDVALIDITY is still ``uidvalidity``."""
        try:
            with self._translated(doing):
                return action(self._connected())
        except _ConnectionLost as lost:
            try:
                self.connect()
            except SourceError as again:
                raise SourceError(
                    f"{lost.head}, and connecting again failed: {again}; {_RUN_AGAIN}"
                ) from None
        if uidvalidity is not None:  # rebuilt meanwhile: its UIDs would name other mail
            folder = self._location.folder
            check_resume(Cursor(folder, uidvalidity, 0), folder, self._uidvalidity)
        with self._translated(doing):
            return action(self._connected())

    def _connected(self) -> imaplib.IMAP4:
        if self._imap is None:
            raise SourceError(f"the connection to {self._location.address} is closed")
        return self._imap

    @contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        """Each way the network, TLS or the server can fail, as one line; after one,
        the connection is dropped and a later ``messages()`` connects anew."""
        address = self._location.address
        try:
            yield
        except SourceError:
            raise
        except ssl.SSLCertVerificationError as error:
            self._lost()
            reason = error.verify_message.rstrip(".")
            raise SourceError(
                f"TLS to {address} failed: {reason}; the server's certificate "
                f"must chain to the system's CAs or to {CA_FILE_VARIABLE} and name "
                f"{inert(self._location.host)}"
            ) from None
        except ssl.SSLError as error:
            self._lost()
            raise SourceError(f"TLS to {address} failed: {error.reason or error}") from None
        except socket.gaierror as error:
            self._lost()
            raise SourceError(
                f"cannot find IMAP server {inert(self._location.host)}: {error.strerror}"
            ) from None
        except (imaplib.IMAP4.abort, OSError, EOFError) as error:
            self._lost()
            reason = _reason(error)
            if doing == "connecting":
                raise SourceError(f"cannot connect to IMAP server {address}: {reason}") from None
            raise _ConnectionLost(
                f"the connection to {address} was lost while {doing} ({reason})"
            ) from None
        except imaplib.IMAP4.error as error:
            self._lost()
            raise SourceError(
                f"{address} failed while {doing}: {server_text(error.args)}"
            ) from None

    def _lost(self) -> None:
        imap, self._imap = self._imap, None
        if imap is not None:
            _drop(imap)


if TYPE_CHECKING:  # mypy holds ImapSource to the shared interface
    _IS_A_SOURCE: type[Source] = ImapSource


_RUN_AGAIN = "run the import again to go on from the last message stored"


class _ConnectionLost(SourceError):
    def __init__(self, head: str) -> None:
        super().__init__(f"{head}; {_RUN_AGAIN}")
        self.head = head


def _drop(imap: imaplib.IMAP4) -> None:
    with suppress(OSError):
        imap.shutdown()


def _quoted(text: str) -> str:
    """An RFC 3501 §4.3 quoted string (imaplib sends LOGIN's user as it is given)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return server_text(error.args) or type(error).__name__
