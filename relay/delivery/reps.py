"""The runners' view of reps: who sent a message, their sync settings, and
their Email-to-Salesforce address. Shared by the delivery, rep-sync and re-check runners.

- Reps and settings come from the ``RepSnapshot`` the SMTP edge uses too (one snapshot for
  both, refreshed from the store by the rep-sync runner).
- Email-to-Salesforce addresses are looked up through the API at each rep sync and kept
  here and in ``RELAY_HOME/e2s_addresses.json``. The cache is what makes the fallback
  work when the org answers API_DISABLED_FOR_ORG: finding an address needs the API too.
  So an org whose API is off can forward only to an admin override (``e2s_address``) or
  to an address seen while the API still answered; otherwise the message is held with
  the steps. The file is per node (several nodes each keep their own copy).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from relay.errors import RelayError
from relay.logs import get_logger
from relay.matching.match import rep_addresses
from relay.parsing import Email
from relay.reps.directory import SenderDirectory, address_tag
from relay.reps.e2s_addresses import E2sAddresses
from relay.reps.guidance import Guidance, e2s_address_missing, e2s_inactive
from relay.reps.settings import SyncSettings
from relay.reps.snapshot import RepSnapshot
from relay.store.model import Rep, Store

log = get_logger("relay.runners.reps")

E2S_CACHE_FILE = "e2s_addresses.json"


class Attribution(NamedTuple):
    """Whose email this is: ``rep`` (None: nobody's), and ``inbound``: the rep is a
    recipient of a customer's email, not its sender."""

    rep: Rep | None
    inbound: bool


class Reps:
    def __init__(self, policy: RepSnapshot, home: Path) -> None:
        self.policy = policy
        self._path = home / E2S_CACHE_FILE
        self._lock = threading.Lock()
        self._e2s: E2sAddresses | None = self._load()
        self._refreshed_at = time.monotonic()  # the policy was read from the store

    # --- reps and settings -------------------------------------------------------------

    @property
    def directory(self) -> SenderDirectory:
        return self.policy.directory

    def refresh(self, store: Store) -> None:
        """Re-read reps, aliases and settings from the store (blocking)."""
        self.policy.refresh(store)
        self._refreshed_at = time.monotonic()

    def refresh_if_changed(self, store: Store) -> bool:
        """Re-read if the store's reps, aliases or settings changed since the last read;
        True if they did (blocking; one read of the change versions). Each batch asks
        first, so an email sent right after `relay settings set` follows the new setting
        (docs/design.md §2)."""
        if not self.policy.refresh_if_changed(store):
            return False
        self._refreshed_at = time.monotonic()
        return True

    def refresh_if_older(self, store: Store, seconds: float) -> bool:
        """Refresh unless that was done in the last ``seconds``; True if it was done.
        The runners' snapshot is otherwise up to a minute old, so an alias added with
        `relay senders add` and a `relay queue release` right after would be held again.
        Best effort: a store error leaves the current snapshot (logged, not raised)."""
        if time.monotonic() - self._refreshed_at < seconds:
            return False
        self._refreshed_at = time.monotonic()  # one try per interval, even if it fails
        try:
            self.refresh(store)
        except Exception as error:  # best effort: never crash the batch that asked
            reason = error.reason if isinstance(error, RelayError) else repr(error)[:300]
            log.warning("reps_refresh_failed", queue_id=None, reason=reason)
            return False
        return True

    def settings(self, rep: Rep | None) -> SyncSettings:
        return self.policy.settings(rep.user_id if rep else None)

    def attribute(self, email: Email, auth: str = "none") -> Attribution:
        """The rep whose email this is, from only what the SMTP edge proved (``auth``,
        relay.envelope.Envelope):

        - ``personal_address``: the token's rep, if the From or envelope sender is theirs;
        - ``dmarc:ADDRESS``: the rep whose address the edge proved (the From it checked);
        - ``trusted:envelope``: the rep of the envelope sender (the MTA in front vouches
          for its own authenticated users);
        - ``source:NAME`` (a named inbound source): only the first rep among the
          recipients (a journal report's recipients, else To then Cc; relay/matching/match.py
          finds the same rep), as an inbound copy. The source is a copy channel that proves
          who delivered the copy, never who wrote it: anyone on the internet can put a
          rep's address in From or Sender, or a journal report's Sender line, of mail to a
          rep's mailbox (docs/operations.md, "Security model");
        - ``import:EMAIL`` (`relay import --user EMAIL`): the admin vouches that the mail
          comes from that rep's mailbox; it is the rep's own mail when its From or
          Sender is one of the rep's addresses, otherwise the rep received it (an
          inbound copy);
        - anything else (``none``, ``unverified``): a personal address's owner, then the
          From, Sender and envelope sender.
        """
        directory = self.directory
        mail_from = email.envelope.mail_from
        if auth == "personal_address":
            owner = self._token_owner(email)
            senders = (email.from_.email if email.from_ else None, mail_from)
            if owner is not None and any(
                (rep := directory.rep_for(a)) is not None and rep.user_id == owner.user_id
                for a in senders
                if a
            ):
                return Attribution(owner, False)
            return Attribution(None, False)
        if auth.startswith("import:"):
            return self._imported(email, auth.partition(":")[2])
        if auth.startswith("dmarc:"):
            return Attribution(self._dmarc_author(email, auth.partition(":")[2]), False)
        if auth == "trusted:envelope":
            return Attribution(directory.rep_for(mail_from) if mail_from else None, False)
        senders_found, recipients = rep_addresses(email)
        if auth.startswith("source:"):
            recipient = self._first_rep(recipients)
            return Attribution(recipient, recipient is not None)
        owner = self._token_owner(email)
        if owner is not None:
            return Attribution(owner, False)
        return Attribution(self._first_rep(senders_found), False)

    def _imported(self, email: Email, mailbox_owner: str) -> Attribution:
        rep = self.directory.rep_for(mailbox_owner)
        if rep is None:
            return Attribution(None, False)
        senders = (a.email for a in (email.from_, email.sender) if a is not None and a.email)
        sent = any(
            (found := self.directory.rep_for(a)) is not None and found.user_id == rep.user_id
            for a in senders
        )
        return Attribution(rep, not sent)

    def _first_rep(self, addresses: Sequence[str | None]) -> Rep | None:
        for address in addresses:
            rep = self.directory.rep_for(address) if address else None
            if rep is not None:
                return rep
        return None

    def _dmarc_author(self, email: Email, proven: str) -> Rep | None:
        """``dmarc:ADDRESS``: the edge proved the domain of this exact From address, read
        by the same parse that gave DMARC its domain; only that address names the rep.
        ``dmarc:DOMAIN`` (stored before the address was kept): the parsed From, if it is
        in that domain."""
        if "@" in proven:
            return self.directory.rep_for(proven)
        author = email.from_.email if email.from_ else ""
        in_domain = author.rpartition("@")[2].lower() == proven
        return self.directory.rep_for(author) if in_domain else None

    def _token_owner(self, email: Email) -> Rep | None:
        for rcpt in email.envelope.rcpt_tos:
            tag = address_tag(rcpt)
            owner = self.directory.rep_for_token(tag) if tag else None
            if owner is not None:
                return owner
        return None

    def sender_shown(self, email: Email) -> str:
        """The address to name in an unknown-sender hold."""
        if email.from_ is not None and email.from_.email:
            return email.from_.email
        return email.envelope.mail_from or "(null sender)"

    # --- Email-to-Salesforce addresses -------------------------------------------------

    @property
    def e2s_known(self) -> bool:
        return self._e2s is not None

    def e2s_by_user(self) -> dict[str, str]:
        found = self._e2s
        return dict(found.by_user) if found is not None else {}

    def set_e2s(self, found: E2sAddresses) -> None:
        with self._lock:
            self._e2s = found
            try:
                document = {
                    "by_user": dict(found.by_user),
                    "function_active": found.function_active,
                }
                temporary = self._path.with_name(self._path.name + ".tmp")
                temporary.write_text(json.dumps(document), encoding="utf-8")
                temporary.replace(self._path)
            except OSError as error:
                log.warning("e2s_cache_not_saved", reason=repr(error))

    def e2s_for(self, rep: Rep, settings: SyncSettings) -> str | Guidance:
        """The rep's Email-to-Salesforce address, or the guidance saying why there is
        none. The admin override wins, as in ``E2sAddresses.address_for``."""
        if settings.e2s_address:
            return settings.e2s_address
        found = self._e2s
        if found is not None and found.function_active is False:
            return e2s_inactive()
        address = found.address_for(rep.user_id) if found is not None else None
        return address or e2s_address_missing(rep.username)

    def _load(self) -> E2sAddresses | None:
        try:
            document = json.loads(self._path.read_text(encoding="utf-8"))
            by_user = {str(k): str(v) for k, v in dict(document["by_user"]).items()}
            active = document.get("function_active")
            return E2sAddresses(by_user, None if active is None else bool(active))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("e2s_cache_unreadable", reason=repr(error))
            return None
