"""Forward to Email to Salesforce when a rep's ``logging`` is
``email_to_salesforce`` or the org answered API_DISABLED_FOR_ORG. Blocking.

The ORIGINAL bytes go, unchanged, through the smarthost to the rep's Email-to-Salesforce
address (relay/outbound.py says why nothing may be rewritten). Where the address cannot
be found (none in the org, the org's switch off, or the API off and nothing cached) the
message is held with the guidance, and the rep gets one notice a day about it
(relay/delivery/notices.py); the re-check releases it once fixed.

Once per email and address: a ledger row keyed like a Task's (``relay_key(message key,
"e2s:" + address)``) is committed as an intent before sending and marked written after,
so a BCC copy plus a journal copy, or a retried message, is forwarded once. A crash
between the smarthost's 250 and the mark forwards it again on the next attempt: at least
once, where the API path is exactly once.
"""

from __future__ import annotations

from relay.delivery.notices import Notifier
from relay.delivery.outcomes import Happening, decided
from relay.delivery.reps import Reps
from relay.errors import NeedsAttention, RelayError
from relay.logs import get_logger
from relay.matching import relay_key
from relay.outbound import Outbound
from relay.parsing import Email
from relay.reps.guidance import Guidance, api_disabled, sending_disabled, unknown_sender
from relay.reps.settings import SyncSettings
from relay.store.model import WRITTEN, Delivery, Outcome, Rep, Store, StoredMessage

log = get_logger("relay.runners.fallback")

FORWARDED = "forwarded"  # the ledger's task id for a forward (no Task exists)


class EmailToSalesforce:
    def __init__(self, store: Store, reps: Reps, outbound: Outbound, notifier: Notifier) -> None:
        self.store = store
        self.reps = reps
        self.outbound = outbound
        self.notifier = notifier

    def forward(
        self,
        message: StoredMessage,
        email: Email,
        rep: Rep | None,
        settings: SyncSettings,
        cause: Guidance | None = None,
    ) -> Outcome | RelayError:
        """The outcome of forwarding, or the error that decides it (TemporaryError:
        defer; Unprocessable: the address refused it for good). ``cause`` is why the
        API is not used (API disabled), told alongside any hold."""
        because = cause.summary if cause is not None else ""
        if rep is None:
            shown = self.reps.sender_shown(email)
            return decided(
                message.id,
                Happening.UNKNOWN_SENDER,
                guidance=unknown_sender(shown),
                because=because,
            )
        target = self.reps.e2s_for(rep, settings)
        if not isinstance(target, str):
            self.notifier.problem(rep, target, message.id)
            return decided(message.id, Happening.FORWARD_BLOCKED, guidance=target, because=because)
        if not self.outbound.enabled:
            return decided(
                message.id,
                Happening.FORWARD_BLOCKED,
                guidance=cause or sending_disabled(),
                because=sending_disabled().summary if cause else "",
            )
        key = relay_key(email.message_key, "e2s:" + target.lower())
        known = self.store.deliveries_for_keys([key]).get(key)
        if known is not None and known.state == WRITTEN:
            return decided(message.id, Happening.ALREADY_FORWARDED, target=target)
        self.store.record_intents(
            [Delivery(key, email.message_key, None, (), message.id, rep.user_id)]
        )
        mail_from = message.envelope.mail_from or rep.email
        try:
            self.outbound.forward_original(self.store.raw(message.id), target, mail_from)
        except NeedsAttention as error:
            return decided(message.id, Happening.NEEDS_ATTENTION, reason=error.reason)
        except RelayError as error:
            return error
        self.store.mark_written({key: FORWARDED})
        log.info("message_forwarded", queue_id=message.id, to=target, user_id=rep.user_id)
        return decided(message.id, Happening.FORWARDED, target=target)

    def after_api_disabled(
        self, message: StoredMessage, email: Email, rep: Rep | None, settings: SyncSettings
    ) -> Outcome | RelayError:
        """The org refused the API: forward instead of holding."""
        return self.forward(message, email, rep, settings, cause=api_disabled())
