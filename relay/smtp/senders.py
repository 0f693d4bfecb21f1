"""Sender policy at the SMTP edge: who may be logged as a rep, decided in the session.

Decisions are relay.smtp.sender_checks' table over facts gathered here: the envelope,
the From header, the personal address, the DMARC verdict and a ``SenderDirectory``
snapshot; the edge never calls Salesforce. ``SenderPolicy`` is the shared rep snapshot
(relay.reps.snapshot.RepSnapshot) with these checks on top, and is what ``RelayHandler``
consults (its ``sender_policy`` hook).

- A refusal is given in the session, never by a later bounce, so Relay sends nothing to
  an unverified address (no backscatter): ``550`` when the failure is certain, with a
  reason that says what to do, ``451`` when DNS failed for now (the client retries).
- ``log+TOKEN@``: the token names a rep; the sender must be one of that rep's acceptable
  addresses (the User's Email or an alias), as Email to Salesforce accepts mail only from
  "My Acceptable Email Addresses".
- A trusted network (``smtp.trusted_networks``, e.g. Postfix in front) vouches for what it
  reports: the original client by XFORWARD and its own Authentication-Results of
  ``smtp.authserv_id`` (RFC 8601 §5); any other such header is ignored.
- An inbound source the admin named (SMTP AUTH, a pinned client certificate, or
  ``smtp.inbound_networks`` with ``log+inbound-SECRET@``) may send copies of customers'
  mail to reps, which the runners log as the receiving rep's.
- Fail open on the snapshot only: while it has never been synced (Salesforce unreachable
  since Relay first started), "is a rep's address" is taken as true with a warning; the
  runners still attribute each message and hold what they cannot. Authentication itself
  (DMARC, the inbound secret) never fails open.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from relay.config import Config, SmtpConfig
from relay.logs import get_logger
from relay.reps.directory import SenderDirectory, address_tag
from relay.reps.settings import SyncSettings
from relay.reps.snapshot import RepSnapshot
from relay.smtp.authentication.headers import from_address
from relay.smtp.sender_checks import (
    Dmarc,
    Evidence,
    Source,
    Token,
    decide,
    needs_dmarc,
    uses_dmarc,
)
from relay.smtp.sender_replies import (
    Reasons,
    defer_reps_unreadable,
    refusal_reply,
    refuse_shared_address,
    refuse_unknown_token,
)
from relay.store.model import Rep, Store

log = get_logger("relay.smtp")


SettingsFor = Callable[[str | None], SyncSettings]

# DNS for the checks runs off the event loop with these bounds (RFC 7208 §4.6.4 asks
# for a limit on the time SPF evaluation may take; 20 s is its example).
DNS_TIMEOUT_SECONDS = 5.0
DNS_CACHE_SECONDS = 300.0
DNS_CACHE_SIZE = 10_000


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


# --- the facts -----------------------------------------------------------------------


class Verdict(Protocol):
    """The part of relay.smtp.authentication.AuthVerdict the edge reads."""

    @property
    def from_domain(self) -> str | None: ...
    @property
    def dmarc(self) -> str: ...
    @property
    def aligned_pass(self) -> bool: ...
    @property
    def temporary(self) -> bool: ...
    @property
    def reason(self) -> str: ...


@dataclass(frozen=True)
class AuthChecks:
    """The SPF/DKIM/DMARC seam: Relay's own check (``verify(raw, client_ip, helo,
    mail_from)``, never raises) and a trusted hop's report (``reported(raw,
    authserv_id)``, the topmost Authentication-Results of that id, RFC 8601 §5)."""

    verify: Callable[[bytes, str, str, str], Awaitable[Verdict]]
    reported: Callable[[bytes, str], Verdict | None]


def dmarc_of(verdict: Verdict | None, author_domain: str) -> Dmarc:
    """The verdict, reduced; a pass counts only for the From domain the edge read (a
    reported verdict names its own header.from, RFC 8601 §2.7.2)."""
    if verdict is None:
        return Dmarc.UNCHECKED
    if verdict.aligned_pass and author_domain and verdict.from_domain == author_domain:
        return Dmarc.PASS
    if verdict.dmarc == "fail":
        return Dmarc.FAIL
    if verdict.temporary:
        return Dmarc.TEMPERROR
    return Dmarc.NONE


@dataclass(frozen=True)
class Arrival:
    """How one message reached the edge: the SMTP facts the handler read."""

    peer_host: str
    helo: str
    mail_from: str
    rcpt_tos: tuple[str, ...]
    xforward: Mapping[str, str] | None = None
    inbound_source: str | None = None
    """``auth:USER``, ``cert:FINGERPRINT`` or ``network`` when a named inbound source sent it."""

    def client(self) -> tuple[str, str]:
        """The original client's IP and HELO: XFORWARD's from a trusted hop (Postfix
        XFORWARD_README: ADDR, HELO; "IPV6:" marks an IPv6 address), else the peer's."""
        forwarded = self.xforward or {}
        addr = forwarded.get("addr", "")
        if addr.upper().startswith("IPV6:"):
            addr = addr[5:]
        try:
            ipaddress.ip_address(addr)
        except ValueError:
            return self.peer_host, self.helo
        # An unknown HELO (XFORWARD_README: [UNAVAILABLE]) stays empty for SPF, never
        # Postfix's own: that would pair the client's IP with another host's name, whose
        # SPF may cover it (RFC 7208 §2.3, §2.4).
        helo = forwarded.get("helo", "")
        return addr, "" if helo.upper() == "[UNAVAILABLE]" else helo


def _same(rep: Rep | None, owner: Rep) -> bool:
    return rep is not None and rep.user_id == owner.user_id


def token_finding(
    directory: SenderDirectory, rcpt_tos: Sequence[str], senders: Sequence[str]
) -> tuple[Token, str, Rep | None]:
    """What the personal addresses among the recipients show (the worst of them), the
    recipient that shows it and the token's rep."""
    worst: tuple[Token, str, Rep | None] = (Token.NONE, "", None)
    rank = [Token.NONE, Token.OWNER_SENT, Token.UNSYNCED, Token.OTHER_SENT, Token.FORGED]
    for rcpt in rcpt_tos:
        tag = address_tag(rcpt)
        if tag is None or tag == INBOUND_TAG:
            continue
        owner = directory.rep_for_token(tag)
        if owner is None and not directory.synced:
            # Nobody's token, or a rep Relay has not read yet: never taken on trust, as
            # the runners would find no owner either; the client retries (451).
            found = Token.UNSYNCED
        elif not directory.synced:
            found = Token.OWNER_SENT  # fail open on the senders only (module docstring)
        elif owner is None:
            found = Token.FORGED
        elif any(_same(directory.rep_for(a), owner) for a in senders):
            found = Token.OWNER_SENT
        else:
            found = Token.OTHER_SENT
        if rank.index(found) > rank.index(worst[0]):
            worst = (found, rcpt, owner)
    return worst


# --- inbound copies by network and secret --------------------------------------------

INBOUND_TAG = "inbound"
"""``log+inbound-SECRET@DOMAIN`` is the inbound source's address; Relay stores it as
``log+inbound@DOMAIN`` so the secret never reaches the store, a log or a Task."""


def inbound_recipient(rcpt: str, peer_host: str, smtp: SmtpConfig, domain: str) -> bool | None:
    """None: ``rcpt`` is no inbound-source address. True: the named inbound network sent
    it with the right secret. False: refuse it (wrong secret, or another network)."""
    tag = address_tag(rcpt)
    if tag is None or not tag.lower().startswith(INBOUND_TAG + "-"):
        return None
    given = tag[len(INBOUND_TAG) + 1 :]
    expected = smtp.inbound_secret or ""
    # Digests of equal length, compared in constant time (RFC 2104 §5 reasoning; the
    # secret's length is not leaked either).
    same = hmac.compare_digest(
        hashlib.sha256(given.encode()).digest(), hashlib.sha256(expected.encode()).digest()
    )
    return bool(expected) and same and is_trusted(peer_host, smtp.inbound_networks)


def masked_recipient(domain: str) -> str:
    """The inbound-source address as stored and logged, without its secret."""
    return f"log+{INBOUND_TAG}@{domain}"


# --- the policy ------------------------------------------------------------------------


class SenderPolicy(RepSnapshot):
    """The edge's view of senders: the shared rep snapshot (relay.reps.snapshot, swapped
    whole by ``refresh``) and the decision of relay.smtp.sender_checks for each message.
    The daemon hands this same object to the runners as their snapshot."""

    def __init__(
        self,
        config: Config,
        directory: SenderDirectory | None = None,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
        auth_checks: AuthChecks | None = None,
    ) -> None:
        super().__init__(config, directory, overrides)
        self._domain = config.domain
        self._smtp = config.smtp
        self.auth_checks = auth_checks
        self.store: Store | None = None
        """Where the current reps are, to confirm a refusal (``from_store`` sets it)."""

    @classmethod
    def from_store(
        cls, config: Config, store: Store, auth_checks: AuthChecks | None = None
    ) -> SenderPolicy:
        if auth_checks is None and uses_dmarc(config.smtp.sender_auth):
            auth_checks = default_auth_checks(config)  # no resolver for modes without DNS
        policy = cls(config, auth_checks=auth_checks)
        policy.load(config, store)
        policy.store = store
        return policy

    async def _refreshed(self) -> bool | None:
        """Before a permanent refusal: True if the store's reps changed since the snapshot
        was read (it is now re-read: decide again), False if the snapshot is current (the
        refusal stands), None if the store cannot tell (answer 451, never 550 on stale
        data: docs/design.md §4)."""
        store = self.store
        if store is None:
            return False
        try:
            changed = await asyncio.to_thread(self.refresh_if_changed, store)
        except Exception as error:
            log.warning("reps_refresh_failed", queue_id=None, reason=repr(error)[:300])
            return None
        if changed:
            log.info("reps_refreshed_before_refusal", queue_id=None)
        return changed

    async def check_rcpt_current(self, mail_from: str, rcpt: str) -> str | None:
        """``check_rcpt`` on the current reps: a refusal is confirmed against the store
        first (an alias or rep added a moment ago is accepted)."""
        refusal = self.check_rcpt(mail_from, rcpt)
        if refusal is None or not refusal.startswith("5"):
            return refusal
        fresh = await self._refreshed()
        if fresh is None:
            return defer_reps_unreadable(rcpt)
        return self.check_rcpt(mail_from, rcpt) if fresh else refusal

    def source_of(self, arrival: Arrival) -> Source:
        if arrival.inbound_source:
            return Source.INBOUND
        if is_trusted(arrival.peer_host, self._smtp.trusted_networks):
            return Source.TRUSTED
        return Source.DIRECT

    def check_rcpt(self, mail_from: str, rcpt: str) -> str | None:
        """RCPT refuses only what no header could fix (a forged personal address, the
        shared address when a personal one is required); DATA decides the rest."""
        if not self.directory.synced:
            return None
        return check_rcpt(self.directory, self.settings, self._domain, mail_from, rcpt)

    async def check_data(self, arrival: Arrival, raw: bytes) -> tuple[str | None, str]:
        """The refusal (None: accept) and what the edge proved (relay.envelope's auth).
        A permanent refusal is confirmed against the current reps first."""
        refusal, auth = await self._check_data(arrival, raw)
        if refusal is None or not refusal.startswith("5"):
            return refusal, auth
        fresh = await self._refreshed()
        if fresh is None:
            return defer_reps_unreadable(arrival.mail_from), ""
        return await self._check_data(arrival, raw) if fresh else (refusal, auth)

    async def _check_data(self, arrival: Arrival, raw: bytes) -> tuple[str | None, str]:
        directory, mode = self.directory, self._smtp.sender_auth
        source = self.source_of(arrival)
        # One parse for both the rep's address and the DMARC domain (the verifier reads
        # the same way), so the address attributed is the one whose domain was checked.
        author = from_address(raw) or ""
        mail_from = "" if arrival.mail_from == "<>" else arrival.mail_from
        senders = [a for a in (mail_from, author) if a]
        token, token_rcpt, owner = token_finding(directory, arrival.rcpt_tos, senders)
        verdict = None
        if needs_dmarc(source, mode, token):
            verdict = await self._verdict(source, arrival, raw, mail_from)
        shown = author or mail_from
        author_domain = author.rpartition("@")[2]
        facts = Evidence(
            synced=directory.synced,
            envelope_rep=bool(mail_from) and directory.rep_for(mail_from) is not None,
            from_rep=bool(author) and directory.rep_for(author) is not None,
            token=token,
            dmarc=dmarc_of(verdict, author_domain),
            dmarc_domain=author_domain or shown.rpartition("@")[2].lower(),
            author=author,
            source_name=arrival.inbound_source or "",
        )
        if not directory.synced:
            log.warning(
                "sender_check_skipped",
                queue_id=None,
                reason="the rep snapshot was never synced from Salesforce: any sender the "
                "checks authenticate is accepted, and the runners attribute it later",
            )
        decision = decide(source, mode, facts)
        if decision.refusal is not None:
            # What the checks found, for the admin (the reply says what the sender does).
            log.info(
                "sender_not_proven",
                queue_id=None,
                source=source.value,
                sender_auth=mode,
                refusal=decision.refusal.value,
                dmarc=facts.dmarc.value,
                checks=verdict.reason if verdict else None,
            )
            reasons = Reasons(
                self._domain,
                shown,
                facts.dmarc_domain,
                token_rcpt,
                owner,
                via_trusted_hop=source is Source.TRUSTED,
            )
            return refusal_reply(decision.refusal, reasons), ""
        auth = decision.auth or ""
        if token is Token.NONE and source is not Source.INBOUND and directory.synced:
            sender = directory.rep_for(shown) or directory.rep_for(mail_from)
            if sender is not None and self.settings(sender.user_id).require_personal_address:
                return refuse_shared_address(self._domain), ""
        return None, auth

    async def _verdict(
        self, source: Source, arrival: Arrival, raw: bytes, mail_from: str
    ) -> Verdict | None:
        checks = self.auth_checks
        if checks is None:
            return None
        client_ip, helo = arrival.peer_host, arrival.helo
        if source is Source.TRUSTED:
            # RFC 8601 §5: only the configured authserv-id, and only from a trusted hop.
            authserv_id = self._smtp.authserv_id
            reported = checks.reported(raw, authserv_id) if authserv_id else None
            if reported is not None:
                return reported
            client_ip, helo = arrival.client()
        return await checks.verify(raw, client_ip, helo, mail_from)


def default_auth_checks(config: Config) -> AuthChecks:
    """Relay's own SPF/DKIM/DMARC checks against ``RELAY_DNS_NAMESERVERS``."""
    # Imported here: the resolver and its thread pool are built only for modes with DNS.
    from relay.smtp import authentication

    verifier = authentication.SenderVerifier(
        nameservers=authentication.parse_nameservers(",".join(config.dns_nameservers)),
        timeout_seconds=DNS_TIMEOUT_SECONDS,
        cache_seconds=DNS_CACHE_SECONDS,
        cache_size=DNS_CACHE_SIZE,
    )
    return AuthChecks(verify=verifier.verify, reported=authentication.reported_verdict)
