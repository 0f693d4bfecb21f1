"""Sender policy at the SMTP edge (issue 6): who may log mail through Relay.

Decisions are pure functions of the envelope, the From header and a ``SenderDirectory``
snapshot; the edge never calls Salesforce (DESIGN.md §1). ``SenderPolicy`` holds the
current snapshot and is what ``RelayHandler`` consults (its ``sender_policy`` hook).

- An unknown sender is refused in-session with ``550 5.7.1`` and a reason that says what
  to do (RFC 3463 §3.8 X.7.1 "Delivery not authorized, message refused"). Refusing in the
  session, never by a later bounce, means Relay sends nothing to an unverified address
  (no backscatter).
- A message is attributed through the envelope sender or the From header (issue 6). At
  RCPT only the envelope is known, so RCPT refuses only what no header could fix (a
  forged personal address, the shared address when a personal one is required); DATA
  decides the rest.
- ``log+TOKEN@``: the token names a rep; the sender must be one of that rep's acceptable
  addresses (the User's Email or an alias), as Email to Salesforce accepts mail only from
  "My Acceptable Email Addresses".
- Trusted networks (``smtp.trusted_networks``: journaling, Postfix ``always_bcc``) vouch
  for the sender: accepted here, attributed by the runners.
- Fail open: while the rep snapshot has never been synced (Salesforce unreachable since
  Relay first started), every sender is accepted with a warning. Relay's own view being
  stale must never lose mail; the runners still attribute each message and hold what
  they cannot, so nothing unknown is logged.
"""

from __future__ import annotations

import functools
import ipaddress
import threading
from collections.abc import Callable, Mapping, Sequence
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

from relay.config import Config, SyncConfig
from relay.guidance import (
    personal_address_required,
    unknown_personal_address,
    unknown_sender,
)
from relay.logs import get_logger
from relay.senders import SenderDirectory, address_tag, load_address_secret
from relay.store.model import Rep, Store
from relay.sync_settings import SyncSettings, settings_for

log = get_logger("relay.smtp")

_MAX_SHOWN = 200  # RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets

SettingsFor = Callable[[str | None], SyncSettings]


def _shown(address: str) -> str:
    clean = "".join(c for c in address if c.isprintable())
    return clean if len(clean) <= _MAX_SHOWN else clean[:_MAX_SHOWN] + "..."


def refuse_unknown_sender(address: str) -> str:
    shown = _shown(address) or "(null sender)"
    return (
        f"550 5.7.1 <{shown}> is not a Salesforce user known to Relay: if it is a rep's "
        f"own address, ask your admin to add it with `relay senders add {shown} --user "
        "<username>`"
    )


def refuse_not_acceptable(address: str, rep: Rep) -> str:
    shown = _shown(address) or "(null sender)"
    return (
        f"550 5.7.1 <{shown}> is not one of {_shown(rep.username)}'s acceptable addresses: "
        f"ask your admin to add it with `relay senders add {shown} --user "
        f"{_shown(rep.username)}`"
    )


def refuse_unknown_token(rcpt: str) -> str:
    return (
        f"550 5.7.1 <{_shown(rcpt)}> is not anyone's personal Relay address: "
        "`relay address YOUR-EMAIL` prints yours (ask your admin)"
    )


def refuse_shared_address(domain: str) -> str:
    return (
        f"550 5.7.1 log@{_shown(domain)} is not accepted here: use your personal Relay "
        "address; `relay address YOUR-EMAIL` prints it (ask your admin)"
    )


REFUSAL_GUIDANCE = {
    "unknown_sender": unknown_sender,
    "unknown_personal_address": unknown_personal_address,
    "personal_address_required": personal_address_required,
}
"""The full guidance behind each refusal (relay.guidance), for logs and `relay doctor`."""


def is_trusted(peer_host: str, networks: Sequence[str]) -> bool:
    """True if the client's IP is in one of the trusted networks (CIDR)."""
    try:
        ip = ipaddress.ip_address(peer_host.split("%")[0])
    except ValueError:
        return False
    return any(ip in net for net in _parsed(tuple(networks)))


@functools.lru_cache(maxsize=8)
def _parsed(networks: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    # Asked for every SMTP session and every message the runners attribute: parse the
    # configured networks once, not each time.
    return tuple(ipaddress.ip_network(net, strict=False) for net in networks)


def from_addresses(raw: bytes) -> tuple[str, ...]:
    """The addresses of the From header(s); headers only, so it is cheap."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw, headersonly=True)
    return tuple(a for _, a in getaddresses([str(v) for v in headers.get_all("From", [])]) if a)


def check_rcpt(
    directory: SenderDirectory, settings: SettingsFor, domain: str, mail_from: str, rcpt: str
) -> str | None:
    """The refusal for this recipient (already known to be ours), or None."""
    tag = address_tag(rcpt)
    if tag is not None:
        return None if directory.rep_for_token(tag) is not None else refuse_unknown_token(rcpt)
    sender = directory.rep_for(mail_from)
    if settings(sender.user_id if sender else None).require_personal_address:
        return refuse_shared_address(domain)
    return None


def check_data(
    directory: SenderDirectory,
    settings: SettingsFor,
    domain: str,
    mail_from: str,
    rcpt_tos: Sequence[str],
    header_from: Sequence[str],
) -> str | None:
    """The refusal for the whole message, or None: every recipient must accept it."""
    candidates = [a for a in (mail_from, *header_from) if a and a != "<>"]
    shown = header_from[0] if header_from else mail_from
    senders = [rep for rep in (directory.rep_for(a) for a in candidates) if rep is not None]
    for rcpt in rcpt_tos:
        tag = address_tag(rcpt)
        if tag is not None:
            owner = directory.rep_for_token(tag)
            if owner is None:
                return refuse_unknown_token(rcpt)
            if not any(rep.user_id == owner.user_id for rep in senders):
                return refuse_not_acceptable(shown, owner)
            continue
        if not senders:
            return refuse_unknown_sender(shown)
        if settings(senders[0].user_id).require_personal_address:
            return refuse_shared_address(domain)
    return None


class SenderPolicy:
    """The edge's view of senders: a snapshot swapped whole by ``refresh``.

    Reads are lock-free: ``refresh`` builds a new snapshot and replaces the attribute in
    one assignment. Call ``refresh`` from a thread (it reads the store), e.g. every minute
    and after `relay senders add`.
    """

    def __init__(
        self,
        config: Config,
        directory: SenderDirectory | None = None,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self._domain = config.domain
        self._trusted = config.smtp.trusted_networks
        self._defaults: SyncConfig = config.sync
        self._secret = b""
        self.directory = directory or SenderDirectory()
        self.overrides: Mapping[str, Mapping[str, str]] = overrides or {}
        self._refresh_lock = threading.Lock()

    @classmethod
    def from_store(cls, config: Config, store: Store) -> SenderPolicy:
        policy = cls(config)
        policy._secret = load_address_secret(config.home)
        policy.refresh(store)
        return policy

    def refresh(self, store: Store) -> None:
        """Re-read reps, aliases and settings from the store (blocking: use a thread).
        Serialised: the rep-sync, re-check and delivery threads all refresh, and without
        the lock an older read could be assigned after a newer one."""
        with self._refresh_lock:
            if not self._secret:
                self._secret = self.directory.secret
            directory = SenderDirectory.from_store(store, self._secret)
            overrides = store.setting_overrides()
            self.directory, self.overrides = directory, overrides

    def settings(self, user_id: str | None) -> SyncSettings:
        return settings_for(self._defaults, self.overrides, user_id)

    def vouches_for(self, peer: str) -> bool:
        """True if a stored envelope's ``peer`` (``host:port``, relay.envelope) is in a
        trusted network: a mail server Relay trusts sent the copy."""
        host = peer.rpartition(":")[0] if ":" in peer else peer
        return is_trusted(host, self._trusted)

    def _open(self, peer_host: str) -> bool:
        if is_trusted(peer_host, self._trusted):
            return True
        if not self.directory.synced:
            log.warning(
                "sender_check_skipped",
                queue_id=None,
                reason="the rep snapshot was never synced from Salesforce: failing open",
            )
            return True
        return False

    def check_rcpt(self, mail_from: str, rcpt: str, peer_host: str) -> str | None:
        if self._open(peer_host):
            return None
        return check_rcpt(self.directory, self.settings, self._domain, mail_from, rcpt)

    def check_data(
        self, mail_from: str, rcpt_tos: Sequence[str], raw: bytes, peer_host: str
    ) -> str | None:
        if self._open(peer_host):
            return None
        return check_data(
            self.directory,
            self.settings,
            self._domain,
            mail_from,
            rcpt_tos,
            from_addresses(raw),
        )
