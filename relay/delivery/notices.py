"""Mail to reps: problem notices and optional confirmations. Blocking.

- Only to a rep of the synced snapshot, at the User's Email: never to an address a
  message merely claims (no backscatter; relay/outbound.py).
- A problem notice goes at most once per rep per problem per ``notice_interval_seconds``
  (a day): ``Store.claim_notice`` decides, atomically across nodes. The claim comes
  first, so a notice whose sending fails is not retried until the interval has passed
  (a lost notice is better than a flood; the hold reason, `relay doctor` and
  `relay address` still say it).
- A confirmation goes at most once per email and rep, claimed under ``confirm:`` plus a
  hash of the email's message key: a second copy of one email (BCC plus journaling, a
  retry) is a new queue id but the same email, and the rep was already told.
- A failure to send is logged, never raised: the message's outcome does not depend on it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from relay.errors import RelayError
from relay.logs import get_logger
from relay.outbound import Outbound
from relay.reps.guidance import Guidance
from relay.store.model import Rep, Store

log = get_logger("relay.runners.notices")

_ONCE = timedelta(days=3650)  # a confirmation is never sent twice for one message


class Notifier:
    def __init__(self, store: Store, outbound: Outbound, interval_seconds: float) -> None:
        self.store = store
        self.outbound = outbound
        self.interval = timedelta(seconds=interval_seconds)

    def problem(self, rep: Rep, guidance: Guidance, queue_id: str) -> bool:
        """Tell the rep what blocks their email and the steps (True if sent)."""
        if not self._claim(rep, guidance.problem, self.interval):
            return False
        subject = f"Relay is holding your email: {guidance.problem.replace('_', ' ')}"
        text = (
            f"{guidance.text()}\n\nRelay keeps your email and sends it on by itself once "
            "this is fixed; you need not send it again. You get this notice at most once "
            "a day for this problem."
        )
        return self._send(rep, subject, text, queue_id, "notice_sent", guidance.problem)

    def confirmation(
        self, rep: Rep, queue_id: str, message_key: str, subject: str, text: str
    ) -> bool:
        """Tell the rep where this email was logged, once per email (True if sent)."""
        digest = hashlib.sha256(message_key.encode()).hexdigest()[:40]  # the column is short
        if not self._claim(rep, f"confirm:{digest}", _ONCE):
            return False
        return self._send(rep, subject, text, queue_id, "confirmation_sent", "confirmation")

    def _claim(self, rep: Rep, problem: str, interval: timedelta) -> bool:
        if not self.outbound.enabled or not rep.email:
            return False
        try:
            return self.store.claim_notice(rep.user_id, problem, datetime.now(UTC), interval)
        except RelayError as error:
            log.warning("notice_not_claimed", user_id=rep.user_id, reason=error.reason)
            return False

    def _send(
        self, rep: Rep, subject: str, text: str, queue_id: str, event: str, problem: str
    ) -> bool:
        try:
            self.outbound.send_notice(rep.email, subject, text)
        except RelayError as error:
            log.warning(
                "notice_failed", queue_id=queue_id, user_id=rep.user_id, reason=error.reason
            )
            return False
        log.info(event, queue_id=queue_id, user_id=rep.user_id, problem=problem)
        return True
