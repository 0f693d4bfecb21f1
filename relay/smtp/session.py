"""The SMTP session object the handler sees: aiosmtpd's ``Session`` plus what a trusted
source told Relay about the client.

aiosmtpd makes a new session per connection and again after STARTTLS (RFC 3207 §4.2:
forget what was said before TLS), so these start as None both times.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from aiosmtpd.smtp import Session


class RelaySession(Session):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.xforward: Mapping[str, str] | None = None
        """Postfix XFORWARD attributes (lower-case names: name, addr, port, proto, helo,
        ident, source), xtext-decoded, "not known" values dropped. Only from a trusted
        peer, and only for the next transaction: cleared when it ends, on RSET and on
        HELO/EHLO."""
        self.inbound_source: str | None = None
        """Who the admin named this client as: ``auth:<username>`` after SMTP AUTH, or
        ``cert:<first 16 hex digits of the SHA-256 fingerprint>`` for a configured TLS
        client certificate; None otherwise."""
