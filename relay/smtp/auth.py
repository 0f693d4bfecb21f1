"""SMTP AUTH (RFC 4954) on aiosmtpd's protocol: PLAIN and LOGIN against hashed credentials.

- Offered only when users are configured, and only over TLS (RFC 4954 §4: a plaintext
  mechanism needs a protected channel); aiosmtpd's ``auth_require_tls`` answers
  ``538 5.7.11`` to AUTH before STARTTLS, and Relay's EHLO leaves AUTH out.
- aiosmtpd's built-in mechanisms call a synchronous authenticator; scrypt takes tens of
  milliseconds, so these mechanisms verify on a worker thread instead of on the loop.
- The password never reaches a log or the session: the session keeps the username only.
- RFC 4954 §4 lets a server close a session after repeated failures: after
  ``MAX_AUTH_FAILURES`` it answers ``421 4.7.0`` and closes.
"""

from __future__ import annotations

import asyncio
import binascii
from base64 import b64decode
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from relay.smtp import replies
from relay.smtp.credentials import Credentials
from relay.smtp.session import RelaySession

MAX_AUTH_FAILURES = 3
"""Failed AUTH attempts allowed in one connection before 421 (as Postfix's default
smtpd_hard_error_limit-style cut-off, smaller because each attempt costs a scrypt)."""


class AuthenticatingSMTP(SMTP):
    """aiosmtpd's SMTP with Relay's AUTH. Subclasses override ``on_login`` and
    ``on_failed_login`` to log. No other member may start with ``auth_``: aiosmtpd takes
    every such name for a mechanism."""

    def __init__(self, handler: Any, *, credentials: Credentials, **kwargs: Any) -> None:
        self._credentials = credentials
        self.failed_logins = 0
        super().__init__(handler, auth_require_tls=True, **kwargs)

    def _create_session(self) -> RelaySession:
        return RelaySession(self.loop)

    @property
    def offers_auth(self) -> bool:
        """AUTH appears in EHLO: users are configured and the session is under TLS."""
        return bool(self._credentials) and self._tls_protocol is not None

    def on_login(self, user: str, mechanism: str) -> None:
        """Called after a successful AUTH (the session already names the user)."""

    def on_failed_login(self, reply: str, mechanism: str) -> None:
        """Called for each failed AUTH attempt, before ``reply`` is sent."""

    async def smtp_AUTH(self, arg: str) -> None:
        if not self._credentials:
            await self.push(replies.AUTH_NOT_ENABLED)
            return
        await super().smtp_AUTH(arg)
        if self.failed_logins >= MAX_AUTH_FAILURES and self.transport is not None:
            await self.push(replies.TOO_MANY_AUTH_FAILURES)
            self.transport.close()

    # aiosmtpd finds mechanisms by name (auth_<NAME>) and calls them as method(self, args).

    async def auth_PLAIN(self, _: Any, args: list[str]) -> AuthResult:
        """RFC 4616: ``[authzid] NUL authcid NUL passwd``, inline or after a 334."""
        blob = await self._client_data(args, "")
        if blob is None:  # "*" or bad base64: already answered
            return AuthResult(success=False, handled=True)
        parts = blob.split(b"\x00")
        if len(parts) != 3:
            await self.push("501 5.5.2 Can't split auth value")
            return AuthResult(success=False, handled=True)
        return await self._check("PLAIN", parts[1], parts[2])

    async def auth_LOGIN(self, _: Any, args: list[str]) -> AuthResult:
        """The LOGIN mechanism (draft-murchison-sasl-login): username, then password."""
        login = await self._client_data(args, self.AuthLoginUsernameChallenge)
        if login is None:
            return AuthResult(success=False, handled=True)
        password = await self._client_data([], self.AuthLoginPasswordChallenge)
        if password is None:
            return AuthResult(success=False, handled=True)
        return await self._check("LOGIN", login, password)

    async def _client_data(self, args: list[str], challenge: str) -> bytes | None:
        """The initial response given with AUTH (RFC 4954 §4), else the answer to a 334
        challenge; None when the client cancelled or sent bad base64 (answered here)."""
        if len(args) > 1:
            try:
                return b64decode(args[1].encode(), validate=True)
            except (binascii.Error, ValueError):
                await self.push("501 5.5.2 Can't decode base64")
                return None
        answer = await self.challenge_auth(challenge)
        return answer if isinstance(answer, bytes) else None

    async def _check(self, mechanism: str, login: bytes, password: bytes) -> AuthResult:
        user = login.decode("utf-8", errors="replace")
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(None, self._credentials.verify, user, password)
        if not ok:
            self.failed_logins += 1
            self.on_failed_login(replies.AUTH_FAILED, mechanism)
            return AuthResult(success=False, handled=False, message=replies.AUTH_FAILED)
        session = self.session
        assert isinstance(session, RelaySession)
        session.inbound_source = f"auth:{user}"
        self.on_login(user, mechanism)
        # aiosmtpd keeps auth_data on the session: the login only, never the password.
        return AuthResult(success=True, auth_data=LoginPassword(login, b""))
