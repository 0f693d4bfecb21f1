"""Where each message goes, by its rep's sync settings. Used by DeliveryRunner.

- ``logging=off``: ``rejected`` ("logging is off for REP"). Rejected, not held: Relay
  decided not to log it on the rep's own setting, and nobody needs to act (the same
  reasoning as machine mail, docs/delivery-guarantees.md).
- ``logging=email_to_salesforce``: forwarded (relay/runners/fallback.py).
- no rep proven while the rep snapshot is synced (mail accepted while the snapshot was
  stale, or a sender the edge's proof does not name): ``held`` with the unknown-sender guidance; the
  re-check releases it once the sender is a rep.
- otherwise the API path, with the rep's matching policies and ``body``.

After the outcomes, ``confirmations=on`` tells the rep what was logged where.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from relay.config import Config
from relay.errors import RelayError
from relay.matching import Directory, MatchPolicy
from relay.matching.model import User, object_for_id, relay_domain_predicate
from relay.outbound import Outbound
from relay.parsing import Email, parse
from relay.reps.guidance import unknown_sender
from relay.reps.settings import SyncSettings
from relay.reps.snapshot import RepSnapshot
from relay.runners.fallback import EmailToSalesforce
from relay.runners.holds import held
from relay.runners.notices import Notifier
from relay.runners.reps import Reps
from relay.store.model import Outcome, Rep, State, Store, StoredMessage

STALE_REPS_SECONDS = 2.0


@dataclass(frozen=True)
class Routed:
    message: StoredMessage
    email: Email
    rep: Rep | None
    settings: SyncSettings
    vouched: bool
    """A named inbound source sent it (journaling, routing; the SMTP edge proved it):
    an inbound copy may be logged."""
    inbound: bool = False
    """``rep`` received it from a customer (relay/runners/reps.py Attribution)."""


class Router:
    def __init__(
        self, store: Store, config: Config, reps: Reps | None, outbound: Outbound | None
    ) -> None:
        self.store = store
        self.config = config
        self.reps = reps or Reps(RepSnapshot.from_store(config, store), config.home)
        outbound = outbound or Outbound(config)
        self.notifier = Notifier(store, outbound, config.pipeline.notice_interval_seconds)
        self.e2s = EmailToSalesforce(store, self.reps, outbound, self.notifier)
        self.policy = MatchPolicy.from_config(config)
        self.is_relay_address = relay_domain_predicate(config.domain)
        self._policies: dict[tuple[tuple[str, str], ...], MatchPolicy] = {}

    def route(self, message: StoredMessage) -> Routed | Outcome:
        """Parse and attribute; an unparseable message is quarantined."""
        email = parse(
            self.store.raw(message.id),
            message.envelope,
            message.received_at,
            relay_addresses=self.is_relay_address,
        )
        if email.unparseable:
            reason = f"cannot be parsed: {email.unparseable}"
            return Outcome(message.id, State.QUARANTINED, reason)
        auth = message.envelope.auth
        vouched = auth.startswith("source:")
        rep, inbound = self.reps.attribute(email, auth)
        # A message released or retried by an admin (attempts > 1) that would be held as
        # an unknown sender again: the sender may have just been added, so re-read the
        # reps first (at most once per STALE_REPS_SECONDS; first-time mail from unknown
        # senders, e.g. always_bcc copies, never triggers a read).
        if (
            rep is None
            and message.attempts > 1
            and email.machine_reason is None
            and self.reps.refresh_if_older(self.store, STALE_REPS_SECONDS)
        ):
            rep, inbound = self.reps.attribute(email, auth)
        return Routed(message, email, rep, self.reps.settings(rep), vouched, inbound)

    def decide(self, routed: Routed) -> Outcome | RelayError | None:
        """The outcome that needs no API call, or None: log through the API."""
        rep, settings, queue_id = routed.rep, routed.settings, routed.message.id
        if rep is not None and settings.logging == "off":
            return Outcome(queue_id, State.REJECTED, f"logging is off for {rep.username}")
        if rep is not None and settings.needs_e2s_address:
            return self._forward_unless_inbound(routed)
        # Nobody proven: held, synced or not, and never left to the matcher's guess from
        # the From (docs/operations.md, "Security model"); the re-check releases it once
        # a rep sync knows the sender.
        if rep is None and routed.email.machine_reason is None:
            shown = self.reps.sender_shown(routed.email)
            return held(queue_id, unknown_sender(shown), self._not_synced_yet())
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
            reason = (
                "a customer's email to the rep: Email to Salesforce logs only the rep's own "
                "mail, and the API is not used for this rep"
            )
            return Outcome(message.id, State.REJECTED, reason)
        if api_disabled:
            return self.e2s.after_api_disabled(message, routed.email, routed.rep, routed.settings)
        assert routed.rep is not None
        return self.e2s.forward(message, routed.email, routed.rep, routed.settings)

    def policy_for(self, settings: SyncSettings) -> MatchPolicy:
        overrides = settings.match_policy_overrides()
        key = tuple(sorted(overrides.items()))
        if key not in self._policies:
            self._policies[key] = MatchPolicy.from_config(self.config, **overrides)
        return self._policies[key]

    def user_for(self, routed: Routed) -> User | None:
        """The attributed rep as the matcher's User, with every acceptable address."""
        if routed.rep is None:
            return None
        addresses = self.reps.directory.acceptable_addresses(routed.rep.user_id)
        return User(routed.rep.user_id, routed.rep.email, addresses)

    def attribution(self, routed: Routed) -> tuple[User, bool] | None:
        """What the matcher must use as the rep: Relay's attribution, never its own guess
        (its directory has every active User, portal Users included)."""
        user = self.user_for(routed)
        return None if user is None else (user, routed.inbound)

    def with_reps(self, directory: Directory, routed: Iterable[Routed]) -> Directory:
        """The directory plus each attributed rep with every acceptable address (aliases
        registered in Relay are unknown to Salesforce's User.Email lookup)."""
        users = dict(directory.users_by_email)
        for item in routed:
            user = self.user_for(item)
            if user is not None:
                users.update({address.lower(): user for address in user.addresses})
        return replace(directory, users_by_email=users)

    def confirm(
        self,
        outcomes: Sequence[Outcome],
        routed: Mapping[str, Routed],
        logged_to: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """``confirmations=on``: one short note per logged or unresolved email, naming
        the records (``logged_to``: queue id -> record ids) it was logged to."""
        for outcome in outcomes:
            item = routed.get(outcome.queue_id)
            if item is None or item.rep is None or item.settings.confirmations != "on":
                continue
            if item.inbound:
                continue  # the rep received it and did not ask for it to be logged
            if outcome.state not in (State.LOGGED, State.UNRESOLVED):
                continue
            records = (logged_to or {}).get(outcome.queue_id, ())
            subject, text = confirmation(item.email.subject, outcome, records)
            message_key = item.email.message_key
            self.notifier.confirmation(item.rep, outcome.queue_id, message_key, subject, text)


def confirmation(subject: str, outcome: Outcome, records: Sequence[str] = ()) -> tuple[str, str]:
    """The confirmation's subject and text. Pure."""
    if outcome.state is State.UNRESOLVED:
        return (
            f"Relay: not matched: {subject}"[:200],
            f'Your email "{subject}" matched no Salesforce record. {outcome.reason}.\n\n'
            "To resolve it, your admin runs `relay unresolved list` to find it, then "
            "`relay unresolved assign ID RECORD-ID` (or `relay unresolved discard ID`).",
        )
    text = f'Your email "{subject}": {outcome.reason}.'
    if records:
        named = (f"{object_for_id(r) or 'Record'} {r}" for r in records)
        text += "\n\nLogged to:\n" + "\n".join(f"  - {line}" for line in named)
    return (f"Relay: logged: {subject}"[:200], text)
