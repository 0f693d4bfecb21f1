"""The aiosmtpd handler: validate, store, reply (STYLE.md §4). It never calls Salesforce.

250 means durable (DESIGN.md §5): ``handle_DATA`` answers ``250 2.0.0 Ok: queued as ID``
only after ``Store.enqueue`` returned, which happens after a durable commit. The commit
runs on a worker thread so the event loop never blocks, and it is shielded: aiosmtpd
cancels the handler when the client disconnects, but a commit that has started finishes
and the store logs
``message_queued`` either way. A client that vanished before reading our 250 will resend, and
that duplicate is the price RFC 5321 §4.5.4.1 accepts; losing mail is not.
"""

from __future__ import annotations

import asyncio
import contextvars
import shutil
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from structlog.contextvars import bind_contextvars

from relay.config import Config
from relay.envelope import Envelope
from relay.errors import StoreUnavailable
from relay.logs import get_logger
from relay.metrics import Metrics
from relay.smtp import replies
from relay.smtp.policy import check_recipient, rejection_reason
from relay.store.model import Store

log = get_logger("relay.smtp")

NULL_SENDER = "<>"  # aiosmtpd reports the null reverse-path of MAIL FROM:<> as "<>"


def free_bytes_of(path: Path) -> Callable[[], int]:
    """Free bytes on the file system holding ``path`` (statvfs: cheap, never blocks long)."""

    def free_bytes() -> int:
        return shutil.disk_usage(path).free

    return free_bytes


def peer_text(peer: Any) -> str:
    """``host:port`` of a peer as aiosmtpd reports it (a tuple for TCP)."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "")


class RelayHandler:
    """aiosmtpd hooks (``handle_MAIL``, ``handle_RCPT``, ``handle_DATA``) for Relay."""

    def __init__(
        self,
        config: Config,
        store: Store,
        metrics: Metrics,
        executor: Executor,
        free_bytes: Callable[[], int] | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._metrics = metrics
        self._executor = executor
        self._free_bytes = free_bytes or free_bytes_of(config.home)
        self._commits: set[asyncio.Future[str]] = set()

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
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.RCPT_OK

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content
        mail_from: str = envelope.mail_from
        message_envelope = Envelope(
            mail_from="" if mail_from == NULL_SENDER else mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            peer=peer_text(session.peer),
            helo=session.host_name or "",
        )
        commit = self._start_commit(raw, message_envelope)
        try:
            queue_id = await asyncio.shield(commit)
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

    def reject(self, reply: str, session: Any, event: str = "smtp_rejected", **fields: Any) -> str:
        """Count and log one refusal, and return its reply."""
        reason = rejection_reason(reply)
        self._metrics.record_rejected(reason)
        fields.setdefault("peer", peer_text(getattr(session, "peer", None)))
        # queue_id is None: no queue id exists for a message that was never accepted.
        log.info(event, queue_id=None, reason=reason, code=reply[:3], **fields)
        return reply

    def _start_commit(self, raw: bytes, envelope: Envelope) -> asyncio.Future[str]:
        loop = asyncio.get_running_loop()
        received_at = datetime.now(UTC)

        def enqueue() -> str:
            # The store logs message_queued (with the queue id) once the commit is durable,
            # whether or not the client is still there; bind what only the edge knows.
            bind_contextvars(peer=envelope.peer, helo=envelope.helo)
            return self._store.enqueue(raw, envelope, received_at)

        # A fresh context per commit: nothing bound here leaks into the pooled thread.
        commit = loop.run_in_executor(self._executor, contextvars.Context().run, enqueue)
        self._commits.add(commit)

        def committed(future: asyncio.Future[str]) -> None:
            self._commits.discard(future)
            if future.cancelled():
                return
            error = future.exception()
            if error is not None:
                log.warning(
                    "message_not_queued", queue_id=None, peer=envelope.peer, error=repr(error)
                )
                return
            self._metrics.record_accepted(len(raw))

        commit.add_done_callback(committed)
        return commit

    async def wait_for_commits(self) -> None:
        """Wait until every commit that has started has finished (shutdown)."""
        while self._commits:
            await asyncio.wait(set(self._commits))
