"""aiosmtpd's ``SMTP`` protocol with Relay's limits: lines, connections, DATA slots.

aiosmtpd's hooks cannot refuse a connection or a DATA command before it reads the whole
payload, so these few overrides live on the protocol; the decisions stay in the handler
and in ``relay.smtp.limits``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from typing import Any

from aiosmtpd.smtp import SMTP

from relay.config import SmtpConfig
from relay.smtp import replies
from relay.smtp.handler import RelayHandler, peer_text
from relay.smtp.limits import Admission, ConnectionLimits, DataSlots

# aiosmtpd's stream limit must cover the line, its CRLF and a transparency dot
# (RFC 5321 §4.5.2), so a line of exactly max_line_bytes octets is accepted.
_LINE_OVERHEAD = 3
# RFC 5321 §4.5.3.2.7: a server should wait at least 5 minutes for the next command.
_IDLE_TIMEOUT_SECONDS = 300.0
# The usual MAIL/RCPT argument, <dot-atom@dot-atom> with ASCII atext (RFC 5322 §3.2.3),
# optionally followed by parameters. For it, email's RFC 5322 tokenizer returns exactly
# the text between the brackets, so it is read with one regex; anything else (quoted
# local parts, comments, domain literals, UTF-8, <>) goes through the tokenizer.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_SIMPLE_ANGLE_ADDR = re.compile(rf"[ \t]*<({_DOT_ATOM}@{_DOT_ATOM})>(.*)", re.DOTALL)


class RelaySMTP(SMTP):
    """One SMTP session. Tracks whether a transaction is in flight for graceful shutdown."""

    def __init__(
        self,
        handler: RelayHandler,
        config: SmtpConfig,
        connections: ConnectionLimits[RelaySMTP],
        data_slots: DataSlots,
        loop: asyncio.AbstractEventLoop,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        # aiosmtpd sizes its StreamReader from this attribute inside __init__.
        self.line_length_limit = config.max_line_bytes + _LINE_OVERHEAD
        super().__init__(
            handler,
            data_size_limit=config.max_message_bytes,
            hostname=config.hostname,  # explicit: the default calls getfqdn() per connection
            ident="Relay ESMTP",
            enable_SMTPUTF8=True,  # RFC 6531: internationalised addresses are real mail
            timeout=_IDLE_TIMEOUT_SECONDS,
            loop=loop,
            # RFC 3207: STARTTLS is advertised when a certificate is configured; with
            # require_tls, every command but EHLO/NOOP/QUIT/STARTTLS gets 530 before it.
            tls_context=tls_context,
            require_starttls=config.require_tls and tls_context is not None,
        )
        self._relay_handler = handler
        self._connections = connections
        self._data_slots = data_slots
        self._refused = False
        self._in_data = False
        self._said_goodbye = False

    # --- connection admission ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is not None:  # STARTTLS: the same session on a new transport
            super().connection_made(transport)
            return
        peer = transport.get_extra_info("peername")
        host = peer[0] if isinstance(peer, tuple) else str(peer)
        admission = self._connections.admit(self, host)
        if admission is not Admission.ADMITTED:
            self._refused = True
            reply = (
                replies.SHUTTING_DOWN
                if admission is Admission.SHUTTING_DOWN
                else replies.TOO_MANY_CONNECTIONS
            )
            self._relay_handler.reject(
                reply, None, event="smtp_connection_refused", peer=peer_text(peer)
            )
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(reply.encode() + b"\r\n")
            transport.close()
            return
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        self._connections.release(self)
        super().connection_lost(error)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's address parser without its per-call class definition.

        aiosmtpd 1.4.6 defines a ``typing.Protocol`` class inside ``_getaddr`` on every
        MAIL and RCPT; building that class was a quarter of the event loop's time in
        bench/ingest.py. Same parsing (email's RFC 5322 tokenizer), same results; the
        common ``<local@domain>`` shape skips the tokenizer (tests/smtp compare both).
        """
        if not arg:
            return "", ""
        addr: str
        rest: str
        simple = _SIMPLE_ANGLE_ADDR.fullmatch(arg)
        if simple is not None:
            addr, rest = simple.group(1), simple.group(2)
            if rest[:1] in (" ", "\t"):  # the tokenizer drops whitespace after ">" ...
                rest = rest.lstrip()
        if simple is None or rest.startswith("("):  # ... and comments: it alone knows them
            address: Any
            try:
                if arg.lstrip().startswith("<"):
                    address, rest = get_angle_addr(arg)
                else:
                    address, rest = get_addr_spec(arg)
            except HeaderParseError:
                return None, None
            addr = address.addr_spec
        if self.local_part_limit and len(addr.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return addr, rest

    # --- replies -----------------------------------------------------------------------

    async def push(self, status: Any) -> None:
        translated = replies.AIOSMTPD_TRANSLATIONS.get(status) if isinstance(status, str) else None
        if translated is not None:
            self._relay_handler.reject(translated, self.session)
            status = translated
        await super().push(status)

    # --- commands ----------------------------------------------------------------------

    async def smtp_MAIL(self, arg: str | None) -> None:
        if self._connections.shutting_down:
            await self.say_goodbye(replies.SHUTTING_DOWN)
            return
        await super().smtp_MAIL(arg)

    async def smtp_DATA(self, arg: str | None) -> None:
        if self.envelope is None or not self.envelope.rcpt_tos or arg:
            await super().smtp_DATA(arg)  # aiosmtpd answers the 503/501 syntax errors
            return
        # aiosmtpd holds a whole DATA payload in memory (several times its size), so the
        # number of payloads in flight is capped; the client retries later (RFC 5321 §4.2.5).
        if not self._data_slots.try_acquire():
            self._relay_handler.reject(replies.BUSY, self.session)
            self._set_rset_state()  # type: ignore[no-untyped-call]
            await self.push(replies.BUSY)
            return
        self._in_data = True
        try:
            await super().smtp_DATA(arg)
        finally:
            self._in_data = False
            self._data_slots.release()
        if self._connections.shutting_down:
            await self.say_goodbye(replies.SHUTTING_DOWN)

    # --- shutdown ----------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """True between transactions: no MAIL given and no DATA in flight."""
        return not self._in_data and (self.envelope is None or self.envelope.mail_from is None)

    async def say_goodbye(self, reply: str) -> None:
        """Send a final reply and close (RFC 5321 §3.8: 421 may be sent at any time)."""
        if self.transport is None or self._said_goodbye:
            return
        self._said_goodbye = True
        await self.push(reply)
        if self.transport is not None:
            self.transport.close()

    def close_now(self, reply: str | None) -> None:
        """Close from outside the session's task: idle at shutdown, or past the deadline."""
        transport = self.transport
        if transport is None:
            return
        if self._said_goodbye:
            reply = None
        self._said_goodbye = True
        if (
            reply is not None
            and isinstance(transport, asyncio.WriteTransport)
            and not transport.is_closing()
        ):
            # Best effort: a TLS transport already being torn down (the client just left)
            # raises from write() in Python 3.11's sslproto; there is nobody to tell.
            with contextlib.suppress(AttributeError, RuntimeError, OSError):
                transport.write(reply.encode() + b"\r\n")
        transport.close()
