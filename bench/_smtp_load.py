"""A lean SMTP load generator for the throughput benches.

Why not smtplib: measured on the 2-core machine, the chaos harness's sender (smtplib, an
``EmailMessage`` rendered per send, 8 threads) spent about 2.3 ms of CPU per message,
a third to a half of a core at 200 emails/s, and the relay nodes waited on it: 1 node
on PostgreSQL went from ~170 to ~300 emails/s when the client stopped being the
bottleneck. This one renders every message to wire form before the clock starts and
speaks the minimum of RFC 5321 over a blocking socket per connection (the socket calls
release the GIL, so 8 threads cost little): EHLO once, then MAIL, RCPT, DATA and the
dot-stuffed content for each message, checking every reply code.

It is for benches only: no retries, no TLS, no AUTH. A reply that is not the expected
one raises ``SmtpLoadError`` with the reply, so a bench never counts a refused message.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass

_LINE_END = re.compile(rb"\r?\n")
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


class SmtpLoadError(RuntimeError):
    pass


@dataclass(frozen=True)
class Wire:
    """One message ready to send: envelope plus its DATA payload, terminator included."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes


def to_wire(raw: bytes, sender: str, recipients: Sequence[str]) -> Wire:
    """CRLF line ends and dot-stuffing (RFC 5321 §4.5.2), then the ``.`` line."""
    body = _LEADING_DOT.sub(b"..", _LINE_END.sub(b"\r\n", raw))
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return Wire(sender, tuple(recipients), body + b".\r\n")


def send_all(
    messages: Sequence[Wire], port: int, connections: int, source_address: str | None = None
) -> None:
    """Send every message to 127.0.0.1:``port`` over ``connections`` sessions at once;
    returns when all were answered 250 (or raises on the first other answer).

    ``source_address`` binds each connection's local end to that IP (any of 127.0.0.0/8
    on loopback), so a server that checks the client's IP (SPF, RFC 7208 §2.4) sees it."""
    queue = list(reversed(messages))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def take() -> Wire | None:
        with lock:
            return queue.pop() if queue and not errors else None

    def session() -> None:
        try:
            with _Session(port, source_address) as smtp:
                while (message := take()) is not None:
                    smtp.send(message)
        except BaseException as error:  # handed to the caller below
            with lock:
                errors.append(error)

    threads = [threading.Thread(target=session) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


class _Session:
    def __init__(self, port: int, source_address: str | None = None) -> None:
        source = None if source_address is None else (source_address, 0)
        self._socket = socket.create_connection(
            ("127.0.0.1", port), timeout=30, source_address=source
        )
        # Commands are small writes followed by a read: without TCP_NODELAY, Nagle's
        # algorithm would hold each one back for the previous one's ACK.
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._replies = self._socket.makefile("rb")

    def __enter__(self) -> _Session:
        self._expect(b"220")
        self._command(b"EHLO bench.example\r\n", b"250")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._command(b"QUIT\r\n", b"221")
        finally:
            self._replies.close()
            self._socket.close()

    def send(self, message: Wire) -> None:
        self._command(b"MAIL FROM:<%s>\r\n" % message.sender.encode(), b"250")
        for recipient in message.recipients:
            self._command(b"RCPT TO:<%s>\r\n" % recipient.encode(), b"250")
        self._command(b"DATA\r\n", b"354")
        self._command(message.data, b"250")

    def _command(self, line: bytes, expected: bytes) -> None:
        self._socket.sendall(line)
        self._expect(expected)

    def _expect(self, expected: bytes) -> None:
        # A multi-line reply is "code-text" lines then one "code text" (RFC 5321 §4.2.1).
        while True:
            line = self._replies.readline()
            if not line:
                raise SmtpLoadError("the server closed the connection")
            if line[3:4] != b"-":
                break
        if not line.startswith(expected):
            raise SmtpLoadError(f"expected {expected.decode()}, got {line.decode().strip()}")
