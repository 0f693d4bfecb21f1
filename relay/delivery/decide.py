"""The decide step: where a routed message goes, by its rep's sync settings.

- ``logging=off``: ``logging_off`` (rejected). Rejected, not held: Relay decided not to
  log it on the rep's own setting, and nobody needs to act (the same reasoning as
  machine mail, docs/delivery-guarantees.md).
- ``logging=email_to_salesforce``: forwarded (relay/delivery/fallback.py), unless it is
  a customer's email to the rep (``inbound_to_e2s_rep``).
- no rep proven while the rep snapshot is synced (mail accepted while the snapshot was
  stale, or a sender the edge's proof does not name): ``unknown_sender`` (held); the
  re-check releases it once the sender is a rep.
- otherwise None: the API path, with the rep's matching policies and ``body``.

The same forward serves an org that answered API_DISABLED_FOR_ORG
(``after_api_disabled``). relay/delivery/outcomes.py maps each happening to its state.
"""

from __future__ import annotations

from relay.delivery.fallback import EmailToSalesforce
from relay.delivery.outcomes import Happening, decided
from relay.delivery.reps import Reps
from relay.delivery.route import Routed
from relay.errors import RelayError
from relay.reps.guidance import unknown_sender
from relay.store.model import Outcome


class Decider:
    def __init__(self, reps: Reps, e2s: EmailToSalesforce) -> None:
        self.reps = reps
        self.e2s = e2s

    def decide(self, routed: Routed) -> Outcome | RelayError | None:
        """The outcome that needs no API call, or None: log through the API."""
        rep, settings, queue_id = routed.rep, routed.settings, routed.message.id
        if rep is not None and settings.logging == "off":
            return decided(queue_id, Happening.LOGGING_OFF, rep=rep.username)
        if rep is not None and settings.needs_e2s_address:
            return self._forward_unless_inbound(routed)
        # Nobody proven: held, synced or not, and never left to the matcher's guess from
        # the From (docs/operations.md, "Security model"); the re-check releases it once
        # a rep sync knows the sender.
        if rep is None and routed.email.machine_reason is None:
            guidance = unknown_sender(self.reps.sender_shown(routed.email))
            because = self._not_synced_yet()
            return decided(queue_id, Happening.UNKNOWN_SENDER, guidance=guidance, because=because)
        return None

    def _not_synced_yet(self) -> str:
        if self.reps.directory.synced:
            return ""
        return (
            "Relay has not read its reps from Salesforce yet: the API has not answered since "
            "it started; the message is released after the first rep sync if a rep is found"
        )

    def after_api_disabled(self, routed: Routed) -> Outcome | RelayError:
        return self._forward_unless_inbound(routed, api_disabled=True)

    def _forward_unless_inbound(
        self, routed: Routed, api_disabled: bool = False
    ) -> Outcome | RelayError:
        """Email to Salesforce accepts only mail from the rep's own addresses (Salesforce
        Help, "My Acceptable Email Addresses"): a customer's email to the rep cannot go
        that way, and nobody needs to act on it."""
        message = routed.message
        if routed.inbound:
            return decided(message.id, Happening.INBOUND_TO_E2S_REP)
        if api_disabled:
            return self.e2s.after_api_disabled(message, routed.email, routed.rep, routed.settings)
        assert routed.rep is not None
        return self.e2s.forward(message, routed.email, routed.rep, routed.settings)
