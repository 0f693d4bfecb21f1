"""aiosmtpd's ``SMTP`` protocol with Relay's limits and sources.

aiosmtpd's hooks cannot refuse a connection or a DATA command before it reads the whole
payload, so these few overrides live on the protocol; the decisions stay in the handler
and in ``relay.smtp.limits``. The protocol also:

- times out idle sessions with ``421 4.4.2`` (RFC 5321 §4.5.3.2.7; aiosmtpd closes
  silently) and gives DATA a timeout per chunk (§4.5.3.2.6), not one for the transfer;
- closes after ``smtp.max_refused_recipients`` refused RCPTs (an address harvester);
- accepts Postfix's XFORWARD from trusted networks only (``session.xforward``);
- names inbound sources on the session (``session.inbound_source``): SMTP AUTH users
  (relay.smtp.auth) and configured TLS client certificates (relay.smtp.tls).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Callable
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from typing import Any

from relay.config import SmtpConfig
from relay.logs import get_logger
from relay.smtp import replies
from relay.smtp.auth import AuthenticatingSMTP
from relay.smtp.credentials import Credentials
from relay.smtp.handler import RelayHandler, peer_text
from relay.smtp.limits import Admission, ConnectionLimits, DataGrant, DataSlots
from relay.smtp.senders import is_trusted
from relay.smtp.session import RelaySession
from relay.smtp.tls import peer_fingerprint
from relay.smtp.xforward import EHLO_KEYWORD, merged, parse_xforward

log = get_logger("relay.smtp")

# aiosmtpd's stream limit must cover the line, its CRLF and a transparency dot
# (RFC 5321 §4.5.2), so a line of exactly max_line_bytes octets is accepted.
_LINE_OVERHEAD = 3
# The usual MAIL/RCPT argument, <dot-atom@dot-atom> with ASCII atext (RFC 5322 §3.2.3),
# optionally followed by parameters. For it, email's RFC 5322 tokenizer returns exactly
# the text between the brackets, so it is read with one regex; anything else (quoted
# local parts, comments, domain literals, UTF-8, <>) goes through the tokenizer.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_SIMPLE_ANGLE_ADDR = re.compile(rf"[ \t]*<({_DOT_ATOM}@{_DOT_ATOM})>(.*)", re.DOTALL)


class RelaySMTP(AuthenticatingSMTP):
    """One SMTP session. Tracks whether a transaction is in flight for graceful shutdown."""

    def __init__(
        self,
        handler: RelayHandler,
        config: SmtpConfig,
        connections: ConnectionLimits[RelaySMTP],
        data_slots: DataSlots,
        loop: asyncio.AbstractEventLoop,
        tls_context: ssl.SSLContext | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        # aiosmtpd sizes its StreamReader from this attribute inside __init__.
        self.line_length_limit = config.max_line_bytes + _LINE_OVERHEAD
        super().__init__(
            handler,
            credentials=credentials or Credentials(()),
            data_size_limit=config.max_message_bytes,
            hostname=config.hostname,  # explicit: the default calls getfqdn() per connection
            ident="Relay ESMTP",
            enable_SMTPUTF8=True,  # RFC 6531: internationalised addresses are real mail
            timeout=config.idle_timeout_seconds,
            loop=loop,
            # RFC 3207: STARTTLS is advertised when a certificate is configured; with
            # require_tls, every command but EHLO/NOOP/QUIT/STARTTLS gets 530 before it.
            tls_context=tls_context,
            require_starttls=config.require_tls and tls_context is not None,
        )
        self._config = config
        self._relay_handler = handler
        self._connections = connections
        self._data_slots = data_slots
        self._refused = False
        self._in_data = False
        self._said_goodbye = False
        self._peer_host = ""
        self._trusted_peer = False
        self._refused_recipients = 0
        self._data_seen_at = 0.0
        self._last_reply = ""
        self._install_ehlo_hook()

    # --- connection admission ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is not None:  # STARTTLS: the same session on a new transport
            super().connection_made(transport)
            self._name_certificate_source()
            return
        peer = transport.get_extra_info("peername")
        host = peer[0] if isinstance(peer, tuple) else str(peer)
        self._peer_host = host
        # http://www.postfix.org/XFORWARD_README.html: only clients the admin trusts may
        # tell us who the original client was (Postfix's smtpd_authorized_xforward_hosts).
        self._trusted_peer = is_trusted(host, self._config.trusted_networks)
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
            _write(transport, reply.encode() + b"\r\n")
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

    def _name_certificate_source(self) -> None:
        """After the TLS handshake: a configured client certificate names the source."""
        fingerprints = self._config.inbound_cert_fingerprints
        session = self.session
        if not fingerprints or not isinstance(session, RelaySession):
            return
        fingerprint = peer_fingerprint(session.ssl)
        if fingerprint is not None and fingerprint in fingerprints:
            session.inbound_source = f"cert:{fingerprint[:16]}"

    # --- timeouts ------------------------------------------------------------------------

    def _timeout_cb(self) -> None:
        """aiosmtpd closes a timed-out session without a word; RFC 5321 §4.5.3.2 expects a
        421 first, so the client knows to retry rather than guess what happened."""
        if self.transport is None:
            return
        if self._in_data:
            # The DATA timer is lazy: chunks only note when they came (data_received);
            # here the timer moves on if one came within the timeout.
            quiet_for = self.loop.time() - self._data_seen_at
            remaining = self._config.data_timeout_seconds - quiet_for
            if remaining > 0:
                self._reset_timeout(remaining)
                return
        self._relay_handler.reject(
            replies.TIMEOUT, self.session, "timeout", event="smtp_timeout", in_data=self._in_data
        )
        self.close_now(replies.TIMEOUT)

    def data_received(self, data: bytes) -> None:
        # RFC 5321 §4.5.3.2.6: the DATA timeout runs per chunk received, so a large message
        # on a slow link is not cut off, and a stalled one is. A clock read per chunk, not
        # a timer per chunk: _timeout_cb reschedules itself from this.
        if self._in_data:
            self._data_seen_at = self.loop.time()
        super().data_received(data)

    # --- replies -----------------------------------------------------------------------

    async def push(self, status: Any) -> None:
        translated = replies.AIOSMTPD_TRANSLATIONS.get(status) if isinstance(status, str) else None
        if translated is not None:
            self._relay_handler.reject(translated, self.session)
            status = translated
        if isinstance(status, str):
            self._last_reply = status
        await super().push(status)

    # --- EHLO: what this client is offered -----------------------------------------------

    def _install_ehlo_hook(self) -> None:
        """aiosmtpd lets a handler's ``handle_EHLO`` edit the EHLO lines; the protocol
        takes that seat (keeping the handler's hook, if it has one) to offer AUTH and
        XFORWARD per client."""
        upstream = self._handle_hooks.get("EHLO")

        async def hook(
            server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
        ) -> list[str]:
            session.host_name = hostname  # aiosmtpd leaves this to the hook
            if upstream is not None:
                responses = await upstream(server, session, envelope, hostname, responses)
            return self._ehlo_lines(responses)

        self._handle_hooks["EHLO"] = hook
        self._ehlo_hook_ver = "new"

    def _ehlo_lines(self, responses: list[str]) -> list[str]:
        # aiosmtpd lists AUTH after STARTTLS even with no users (every AUTH then got 535).
        lines = [line for line in responses if self.offers_auth or not line.startswith("250-AUTH")]
        if self._trusted_peer:
            lines.insert(len(lines) - 1, f"250-{EHLO_KEYWORD}")
        return lines

    def _set_post_data_state(self) -> None:
        # The end of a transaction (and RSET, HELO, EHLO through _set_rset_state): XFORWARD
        # attributes describe the next transaction only (XFORWARD_README).
        super()._set_post_data_state()  # type: ignore[no-untyped-call]
        if isinstance(self.session, RelaySession):
            self.session.xforward = None

    # --- commands ----------------------------------------------------------------------

    async def smtp_XFORWARD(self, arg: str | None) -> None:
        """Postfix's XFORWARD (http://www.postfix.org/XFORWARD_README.html): not inside a
        transaction (503), then only from trusted networks (550), then the attributes."""
        session = self.session
        assert isinstance(session, RelaySession)
        if self.envelope is not None and self.envelope.mail_from is not None:
            await self.push(replies.XFORWARD_IN_TRANSACTION)
            return
        if not self._trusted_peer:
            await self.push(
                self._relay_handler.reject(
                    replies.XFORWARD_DENIED,
                    session,
                    "xforward_denied",
                    event="smtp_xforward_denied",
                )
            )
            return
        parsed = parse_xforward(arg)
        if isinstance(parsed, str):
            await self.push(parsed)
            return
        session.xforward = merged(
            dict(session.xforward) if session.xforward is not None else None, parsed
        )
        await self.push(replies.XFORWARD_OK)

    async def smtp_RCPT(self, arg: str | None) -> None:
        await super().smtp_RCPT(arg)
        if not self._last_reply.startswith("5"):
            return
        # Every 5xx to RCPT counts (unknown mailbox, relay denied, sender refused, syntax).
        self._refused_recipients += 1
        if self._refused_recipients >= self._config.max_refused_recipients:
            self._relay_handler.reject(
                replies.TOO_MANY_REFUSED_RECIPIENTS,
                self.session,
                "too_many_refused_recipients",
                event="smtp_disconnected",
                refused=self._refused_recipients,
            )
            await self.say_goodbye(replies.TOO_MANY_REFUSED_RECIPIENTS)

    # --- AUTH (relay.smtp.auth): log and count ------------------------------------------

    def on_login(self, user: str, mechanism: str) -> None:
        log.info(
            "smtp_authenticated",
            queue_id=None,
            user=user,
            mechanism=mechanism,
            peer=peer_text(getattr(self.session, "peer", None)),
        )

    def on_failed_login(self, reply: str, mechanism: str) -> None:
        # No username in the log: people type passwords into the username field.
        self._relay_handler.reject(
            reply,
            self.session,
            "auth_failed",
            event="smtp_auth_failed",
            mechanism=mechanism,
            failures=self.failed_logins,
        )

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
        # number of payloads in flight is capped, in total and per client; the client
        # retries later (RFC 5321 §4.2.5). A trusted MTA in front relays everyone's mail
        # from one address, so it is held only to the server-wide cap.
        grant = self._data_slots.try_acquire(self._peer_host, share_capped=not self._trusted_peer)
        if grant is not DataGrant.GRANTED:
            busy = replies.BUSY if grant is DataGrant.SERVER_FULL else replies.CLIENT_BUSY
            label = "busy" if grant is DataGrant.SERVER_FULL else "client_busy"
            self._relay_handler.reject(busy, self.session, label)
            self._set_rset_state()  # type: ignore[no-untyped-call]
            await self.push(busy)
            return
        self._in_data = True
        self._data_seen_at = self.loop.time()
        self._reset_timeout(self._config.data_timeout_seconds)
        try:
            await super().smtp_DATA(arg)
        finally:
            self._in_data = False
            self._data_slots.release(self._peer_host)
            if self.transport is not None:
                self._reset_timeout()  # back to the idle timeout between transactions
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
        if reply is not None and not transport.is_closing():
            # Best effort: a TLS transport already being torn down (the client just left)
            # raises from write() in Python 3.11's sslproto; there is nobody to tell.
            with contextlib.suppress(AttributeError, RuntimeError, OSError):
                _write(transport, reply.encode() + b"\r\n")
        transport.close()


def _write(transport: asyncio.BaseTransport, data: bytes) -> None:
    """Write to a stream transport. Duck-typed: uvloop's transports (relay/loops.py) have
    ``write`` but are no ``asyncio.WriteTransport`` subclass."""
    write: Callable[[bytes], object] | None = getattr(transport, "write", None)
    if write is not None:
        write(data)
