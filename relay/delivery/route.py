"""The route step: parse a claimed message and attribute it to a rep.

Attribution uses only what the SMTP edge proved (relay/delivery/reps.py ``attribute``),
or for imported mail what the admin running `relay import --user` vouched for
(``import:EMAIL``); the rep's sync settings come with it. Imported mail sends no
confirmations (nobody sent it just now), and under ``--only-matched`` (the default)
unmatched mail is dropped, not made an unresolved item (docs/design.md §11).
What is done with the routed message is the decide step's (relay/delivery/decide.py).
MIME that cannot be parsed ends here: ``unparseable`` (relay/delivery/outcomes.py), the
raw bytes kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from relay.delivery.outcomes import Happening, decided
from relay.delivery.reps import Reps
from relay.parsing import Email, parse
from relay.reps.settings import SyncSettings
from relay.store.model import Outcome, Rep, Store, StoredMessage

STALE_REPS_SECONDS = 2.0


@dataclass(frozen=True)
class Routed:
    message: StoredMessage
    email: Email
    rep: Rep | None
    settings: SyncSettings
    vouched: bool
    """A named inbound source sent it (journaling, routing; the SMTP edge proved it), or
    an admin imported it from the rep's mailbox: an inbound copy may be logged."""
    inbound: bool = False
    """``rep`` received it from a customer (relay/delivery/reps.py Attribution)."""


class Route:
    def __init__(self, store: Store, reps: Reps, is_relay_address: Callable[[str], bool]) -> None:
        self.store = store
        self.reps = reps
        self.is_relay_address = is_relay_address
        self._only_matched: dict[str, bool] = {}

    def __call__(self, message: StoredMessage) -> Routed | Outcome:
        """Parse and attribute; an unparseable message is quarantined."""
        email = parse(
            self.store.raw(message.id),
            message.envelope,
            message.received_at,
            relay_addresses=self.is_relay_address,
        )
        if email.unparseable:
            return decided(message.id, Happening.UNPARSEABLE, why=email.unparseable)
        auth = message.envelope.auth
        vouched = auth.startswith(("source:", "import:"))
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
        settings = self.reps.settings(rep)
        if message.import_id is not None:
            unmatched = "drop" if self._imported_only_matched(message.import_id) else None
            settings = replace(
                settings, confirmations="off", unmatched=unmatched or settings.unmatched
            )
        return Routed(message, email, rep, settings, vouched, inbound)

    def _imported_only_matched(self, import_id: str) -> bool:
        """The import's ``--only-matched`` filter (on unless turned off), read once."""
        if import_id not in self._only_matched:
            get_import = getattr(self.store, "get_import", None)  # SqlStore's imports part
            record = get_import(import_id) if get_import is not None else None
            filters = record.filters if record is not None else {}
            self._only_matched[import_id] = bool(filters.get("only_matched", True))
        return self._only_matched[import_id]
