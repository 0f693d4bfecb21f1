"""The aiosmtpd handler: validate, store, reply; thin, as aiosmtpd intends. It never calls
Salesforce.

250 means durable (docs/delivery-guarantees.md, "What 250 means"): ``handle_DATA``
answers ``250 2.0.0 Ok: queued as ID`` only after the Future of ``Store.enqueue_nowait``
resolved, which happens after the durable commit that holds the message. The store's
group-commit writer completes that Future from its own thread, so the event loop never
blocks and no thread waits for us. The wait is shielded: aiosmtpd cancels the handler
when the client disconnects, but a commit that has started finishes and the store logs
``message_queued`` either way. A client that vanished before reading our 250 will
resend, and that duplicate is the price RFC 5321 §4.5.4.1 accepts; losing mail is not.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from relay.config import Config
from relay.envelope import Envelope
from relay.errors import StoreUnavailable
from relay.logs import get_logger
from relay.metrics import Metrics
from relay.smtp import replies
from relay.smtp.authentication.results_header import strip_authentication_results
from relay.smtp.header_block import repeated_field, stray_control
from relay.smtp.policy import check_recipient, rejection_reason
from relay.smtp.sender_replies import (
    refuse_inbound_source,
    refuse_repeated_field,
    refuse_stray_control,
)
from relay.smtp.senders import (
    Arrival,
    SenderPolicy,
    inbound_recipient,
    is_trusted,
    masked_recipient,
)
from relay.store.model import Store

log = get_logger("relay.smtp")

SENDER_REFUSED = "sender_refused"
MALFORMED_HEADER = "malformed_header"
"""Metric and log label of a header block refused by relay/smtp/header_block.py."""
"""Metric and log label of every sender-policy refusal (relay/smtp/senders.py)."""
NULL_SENDER = "<>"  # aiosmtpd reports the null reverse-path of MAIL FROM:<> as "<>"


FREE_SPACE_MAX_AGE_SECONDS = 1.0


def free_bytes_of(path: Path, max_age: float = FREE_SPACE_MAX_AGE_SECONDS) -> Callable[[], int]:
    """Free bytes on the file system holding ``path``, re-read at most every ``max_age`` s.

    Checked at every MAIL; a statvfs per MAIL was a syscall (and a GIL release the store's
    writer thread could take) per message for a figure that moves slowly.
    """
    checked_at = -float("inf")
    free = 0

    def free_bytes() -> int:
        nonlocal checked_at, free
        now = time.monotonic()
        if now - checked_at >= max_age:
            free = shutil.disk_usage(path).free
            checked_at = now
        return free

    return free_bytes


def peer_text(peer: Any) -> str:
    """``host:port`` of a peer as aiosmtpd reports it (a tuple for TCP)."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "")


def tls_fields(session: Any) -> dict[str, Any]:
    """The TLS version and cipher of a session after STARTTLS, for ``message_queued``."""
    # aiosmtpd keeps the TLS transport's extra info as session.ssl (a dict); its
    # "cipher" is ssl.SSLObject.cipher(): (name, protocol version, secret bits).
    extra = getattr(session, "ssl", None)
    cipher = extra.get("cipher") if isinstance(extra, dict) else None
    if not cipher:
        return {}
    return {"tls_version": cipher[1], "tls_cipher": cipher[0]}


def peer_host(peer: Any) -> str:
    """The client's IP address as aiosmtpd reports it."""
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer or "")


def inbound_source_of(session: Any, envelope: Any) -> str | None:
    """The named inbound source that sent this transaction: the session's (SMTP AUTH
    ``auth:USER`` or a pinned certificate ``cert:FINGERPRINT``), or ``network`` when the
    inbound network gave the secret address."""
    source = getattr(session, "inbound_source", None)
    return source or getattr(envelope, "relay_inbound_source", None)


def arrival(session: Any, envelope: Any) -> Arrival:
    """The SMTP facts of one transaction, for the sender checks. XFORWARD is set only
    for trusted peers (relay/smtp/protocol.py)."""
    return Arrival(
        peer_host=peer_host(session.peer),
        helo=session.host_name or "",
        mail_from=envelope.mail_from or "",
        rcpt_tos=tuple(envelope.rcpt_tos),
        xforward=getattr(session, "xforward", None),
        inbound_source=inbound_source_of(session, envelope),
    )


def header_refusal(raw: bytes) -> str | None:
    """The refusal of a header block the parsers could read differently, or None."""
    stray = stray_control(raw)
    if stray is not None:
        return refuse_stray_control(stray)
    repeated = repeated_field(raw)
    return None if repeated is None else refuse_repeated_field(repeated)


class RelayHandler:
    """aiosmtpd hooks (``handle_MAIL``, ``handle_RCPT``, ``handle_DATA``) for Relay."""

    def __init__(
        self,
        config: Config,
        store: Store,
        metrics: Metrics,
        free_bytes: Callable[[], int] | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._metrics = metrics
        self._free_bytes = free_bytes or free_bytes_of(config.home)
        self._commits: set[Future[str]] = set()
        self.sender_policy: SenderPolicy | None = None
        """The sender checks (relay/smtp/senders.py); None accepts every sender."""
        self.on_queued: Callable[[], None] | None = None
        """Called (on the store's writer thread) after each durable commit: the
        supervisor's wake-up for workers in other processes (relay/wakeups.py)."""

    # --- hooks called by aiosmtpd ----------------------------------------------------

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        # RFC 3463 X.3.1: refuse at MAIL, before the client spends time on DATA.
        if self._free_bytes() < self._config.smtp.min_free_bytes:
            return self.reject(replies.INSUFFICIENT_STORAGE, session)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return replies.OK

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self._config.smtp.max_recipients:
            return self.reject(replies.TOO_MANY_RECIPIENTS, session)
        refusal = check_recipient(address, self._config.domain)
        if refusal is not None:
            return self.reject(refusal, session, recipient=address)
        domain = self._config.domain
        inbound = inbound_recipient(address, peer_host(session.peer), self._config.smtp, domain)
        if inbound is not None:
            # The shared secret is neither logged nor stored: the masked address stands in.
            if not inbound:
                reply = refuse_inbound_source()
                return self.reject(
                    reply, session, SENDER_REFUSED, recipient=masked_recipient(domain)
                )
            envelope.relay_inbound_source = "network"
            envelope.rcpt_tos.append(masked_recipient(domain))
            envelope.rcpt_options.extend(rcpt_options)
            return replies.RCPT_OK
        if self.sender_policy is not None and inbound_source_of(session, envelope) is None:
            refusal = await self.sender_policy.check_rcpt_current(envelope.mail_from or "", address)
            if refusal is not None:
                return self.reject(refusal, session, SENDER_REFUSED, recipient=address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.RCPT_OK

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content
        mail_from: str = envelope.mail_from
        auth = "none"
        refusal = header_refusal(raw)
        if refusal is not None:
            return self.reject(refusal, session, MALFORMED_HEADER, sender=mail_from)
        # RFC 8601 §5: Authentication-Results are believed only from the trusted hop's
        # topmost one of our authserv-id; every other one is removed before the message
        # is checked or stored, so no later reader can take a client's claim for ours.
        smtp = self._config.smtp
        trusted = is_trusted(peer_host(session.peer), smtp.trusted_networks)
        raw = strip_authentication_results(raw, smtp.authserv_id if trusted else None)
        if self.sender_policy is not None:
            refusal, auth = await self.sender_policy.check_data(arrival(session, envelope), raw)
            if refusal is not None:
                return self.reject(refusal, session, SENDER_REFUSED, sender=mail_from)
        message_envelope = Envelope(
            mail_from="" if mail_from == NULL_SENDER else mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            peer=peer_text(session.peer),
            helo=session.host_name or "",
            auth=auth,
        )
        log_fields = {**tls_fields(session), "auth": auth}
        commit = self._start_commit(raw, message_envelope, log_fields)
        try:
            queue_id = await asyncio.shield(asyncio.wrap_future(commit))
        except StoreUnavailable as exc:
            return self.reject(replies.LOCAL_ERROR, session, error=exc.reason)
        except Exception as exc:  # anything else from the store: still a 4xx, never 250
            return self.reject(replies.LOCAL_ERROR, session, error=repr(exc))
        return replies.queued(queue_id)

    async def handle_exception(self, error: Exception) -> str:
        """Any unexpected error becomes a 4xx, never aiosmtpd's ``500 Error: (...)``."""
        log.error("smtp_handler_error", error=repr(error), exc_info=error)
        self._metrics.record_rejected("handler_error")
        return replies.LOCAL_ERROR

    # --- helpers -----------------------------------------------------------------------

    def reject(
        self,
        reply: str,
        session: Any,
        label: str | None = None,
        event: str = "smtp_rejected",
        **fields: Any,
    ) -> str:
        """Count and log one refusal, and return its reply. ``label`` names replies whose
        text varies (the sender policy's guidance), else the reply's stable label."""
        reason = label or rejection_reason(reply)
        self._metrics.record_rejected(reason)
        fields.setdefault("peer", peer_text(getattr(session, "peer", None)))
        # queue_id is None: no queue id exists for a message that was never accepted.
        log.info(event, queue_id=None, reason=reason, code=reply[:3], **fields)
        return reply

    def _start_commit(
        self, raw: bytes, envelope: Envelope, log_fields: dict[str, Any]
    ) -> Future[str]:
        # The store logs message_queued (with the queue id) on its writer thread once the
        # commit is durable, whether or not the client is still there.
        try:
            commit = self._store.enqueue_nowait(raw, envelope, datetime.now(UTC), log_fields)
        except Exception as error:  # a store that fails before queuing: same 451 path
            commit = Future()
            commit.set_exception(error)
        self._commits.add(commit)

        def committed(future: Future[str]) -> None:  # runs on the thread that completed it
            self._commits.discard(future)
            error = future.exception()
            if error is not None:
                log.warning(
                    "message_not_queued", queue_id=None, peer=envelope.peer, error=repr(error)
                )
                return
            self._metrics.record_accepted(len(raw))
            if self.on_queued is not None:
                self.on_queued()

        commit.add_done_callback(committed)
        return commit

    async def wait_for_commits(self) -> None:
        """Wait until every commit that has started has finished (shutdown)."""
        while self._commits:
            await asyncio.wait([asyncio.wrap_future(commit) for commit in set(self._commits)])
