"""Who may be logged as a rep: one table of source x proof -> outcome. Pure, no I/O.

The SMTP edge gathers the facts (``Evidence``: the personal address, the one From
address, the DMARC verdict for its domain) and ``decide`` turns them into an outcome.
A header block the parsers could read differently never gets here:
relay/smtp/header_block.py refuses it first. docs/operations.md, "Security model", shows
the same table for admins.

Sources (``Source``):

- ``direct``: a client no trusted network covers; Relay checks it itself.
- ``trusted``: a mail server in ``smtp.trusted_networks`` (Postfix in front). It vouches
  for what it *reports* (the original client by XFORWARD, its Authentication-Results),
  which the edge uses as evidence; it is never a blanket pass. Under ``trusted_only`` it
  vouches for its own authenticated users, named by the envelope sender.
- ``inbound``: a source of inbound copies the admin named (SMTP AUTH, a pinned client
  certificate, or an inbound network plus the shared secret). Only such copies may be
  logged as the receiving rep's: anyone can put a rep in To. It proves the copy, never
  its sender: the runners attribute it only to a rep among its recipients.

Proofs (``Proof``), evaluated to a ``Finding``:

==========  =====================================  ===========================
proof       proven when                            otherwise
==========  =====================================  ===========================
source      always (the source was proven)         -
envelope    the envelope sender is a rep's address absent: unknown sender
personal    log+TOKEN@ and the From (or envelope)  no token: absent; forged
            is one of that token's rep's addresses token or another sender:
                                                   refused; a token nobody
                                                   owns while the reps were
                                                   never synced: temporary
dmarc       aligned SPF or DKIM pass (RFC 7489     fail: refused; DNS
            §4.2) for the one From's domain, and   temperror: temporary;
            that From is a rep's address           else absent
from        the From or envelope is a rep's        absent: unknown sender
==========  =====================================  ===========================

``PROOFS`` says which proofs each (source, mode) accepts. A refused finding wins (a
certain failure: DMARC fail, a forged token), then the first proven one, then a
temporary one (451: the client retries), then the last absent one; no proof at all is
``trusted_only``'s refusal. While the rep snapshot was never synced, "is a rep's
address" is not knowable and is taken as true (the runners attribute the message again
and hold it when nobody is proven: relay/delivery/decide.py); a personal address is never
taken on trust (its owner is unknown, so the client is asked to retry); the
authentication itself never fails open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Source(StrEnum):
    DIRECT = "direct"
    TRUSTED = "trusted"
    INBOUND = "inbound"


class Proof(StrEnum):
    SOURCE = "source"
    ENVELOPE = "envelope"
    PERSONAL = "personal"
    DMARC = "dmarc"
    FROM = "from"


class Token(StrEnum):
    """What the personal address (``log+TOKEN@``) among the recipients shows."""

    NONE = "none"  # the shared log@ only
    OWNER_SENT = "owner_sent"  # a rep's token, and the From is that rep's address
    OTHER_SENT = "other_sent"  # a rep's token, but the From is not that rep's
    FORGED = "forged"  # a token that is nobody's
    UNSYNCED = "unsynced"  # nobody's as far as a never-synced snapshot knows: ask again later


class Dmarc(StrEnum):
    """The DMARC verdict for the From domain, reduced to what decides."""

    UNCHECKED = "unchecked"
    PASS = "pass"  # noqa: S105 - a DMARC result, not a password (RFC 7489 §4.2)
    FAIL = "fail"
    TEMPERROR = "temperror"
    NONE = "none"  # no record, permerror, or no aligned pass without a policy saying fail


class Refusal(StrEnum):
    """Why a message is refused; relay/smtp/senders.py words each reply."""

    UNKNOWN_SENDER = "unknown_sender"
    UNKNOWN_PERSONAL = "unknown_personal_address"
    NOT_ACCEPTABLE = "not_acceptable_sender"
    PERSONAL_REQUIRED = "personal_address_required"
    DMARC_FAIL = "dmarc_fail"
    NOT_AUTHENTICATED = "not_authenticated"
    DNS_TEMPORARY = "dns_temporary"
    REPS_NOT_SYNCED = "reps_not_synced"
    TRUSTED_ONLY = "trusted_only"


class Finding(StrEnum):
    PROVEN = "proven"
    REFUSED = "refused"
    TEMPORARY = "temporary"
    ABSENT = "absent"


MODES = ("either", "dmarc", "personal_address", "trusted_only", "none")

_CHECKED = {
    "either": (Proof.PERSONAL, Proof.DMARC),
    "dmarc": (Proof.DMARC,),
    "personal_address": (Proof.PERSONAL,),
    "none": (Proof.PERSONAL, Proof.FROM),  # a personal address still names its rep only
}

PROOFS: Mapping[tuple[Source, str], tuple[Proof, ...]] = {
    **{(Source.INBOUND, mode): (Proof.SOURCE,) for mode in MODES},
    (Source.TRUSTED, "trusted_only"): (Proof.ENVELOPE,),
    (Source.DIRECT, "trusted_only"): (),
    **{(Source.TRUSTED, mode): proofs for mode, proofs in _CHECKED.items()},
    **{(Source.DIRECT, mode): proofs for mode, proofs in _CHECKED.items()},
}
"""The proofs each source may give under each ``smtp.sender_auth`` mode."""


@dataclass(frozen=True)
class Evidence:
    """The facts the edge gathered for one message."""

    synced: bool = True
    envelope_rep: bool = False
    from_rep: bool = False
    token: Token = Token.NONE
    dmarc: Dmarc = Dmarc.UNCHECKED
    dmarc_domain: str = ""
    author: str = ""
    """The one From address, whose domain DMARC checked (what ``dmarc:`` proves)."""
    source_name: str = ""


@dataclass(frozen=True)
class Decision:
    """Accepted with ``auth`` (what the edge proved, stored with the message), or
    ``refusal`` (``temporary``: 451, else 550)."""

    auth: str | None = None
    refusal: Refusal | None = None

    @property
    def accepted(self) -> bool:
        return self.refusal is None

    @property
    def temporary(self) -> bool:
        return self.refusal in (Refusal.DNS_TEMPORARY, Refusal.REPS_NOT_SYNCED)


def evaluate(proof: Proof, facts: Evidence) -> tuple[Finding, Refusal | None]:
    """One proof's finding, and the refusal it implies when not proven."""
    rep_known = not facts.synced  # fail open on the snapshot only (module docstring)
    if proof is Proof.SOURCE:
        return Finding.PROVEN, None
    if proof is Proof.ENVELOPE:
        if facts.envelope_rep or rep_known:
            return Finding.PROVEN, None
        return Finding.ABSENT, Refusal.UNKNOWN_SENDER
    if proof is Proof.PERSONAL:
        return {
            Token.OWNER_SENT: (Finding.PROVEN, None),
            Token.OTHER_SENT: (Finding.REFUSED, Refusal.NOT_ACCEPTABLE),
            Token.FORGED: (Finding.REFUSED, Refusal.UNKNOWN_PERSONAL),
            Token.NONE: (Finding.ABSENT, Refusal.PERSONAL_REQUIRED),
            Token.UNSYNCED: (Finding.TEMPORARY, Refusal.REPS_NOT_SYNCED),
        }[facts.token]
    if proof is Proof.DMARC:
        if facts.dmarc is Dmarc.PASS:
            if facts.from_rep or rep_known:
                return Finding.PROVEN, None
            return Finding.ABSENT, Refusal.UNKNOWN_SENDER
        if facts.dmarc is Dmarc.FAIL:
            return Finding.REFUSED, Refusal.DMARC_FAIL
        if facts.dmarc is Dmarc.TEMPERROR:
            return Finding.TEMPORARY, Refusal.DNS_TEMPORARY
        return Finding.ABSENT, Refusal.NOT_AUTHENTICATED
    if facts.from_rep or facts.envelope_rep or rep_known:  # Proof.FROM
        return Finding.PROVEN, None
    return Finding.ABSENT, Refusal.UNKNOWN_SENDER


def auth_label(proof: Proof, facts: Evidence) -> str:
    """What the edge proved, as stored with the message (relay.envelope.Envelope.auth)."""
    return {
        Proof.SOURCE: f"source:{facts.source_name}",
        Proof.ENVELOPE: "trusted:envelope",
        Proof.PERSONAL: "personal_address",
        Proof.DMARC: f"dmarc:{facts.author or facts.dmarc_domain}",
        Proof.FROM: "none",
    }[proof]


def decide(source: Source, mode: str, facts: Evidence) -> Decision:
    """The outcome for one message (the precedence is in the module docstring)."""
    findings = [(proof, *evaluate(proof, facts)) for proof in PROOFS[(source, mode)]]
    for finding in (Finding.REFUSED, Finding.PROVEN, Finding.TEMPORARY):
        for proof, found, refusal in findings:
            if found is finding:
                proven = found is Finding.PROVEN
                return Decision(auth_label(proof, facts) if proven else None, refusal)
    if findings:
        return Decision(refusal=findings[-1][2])
    return Decision(refusal=Refusal.TRUSTED_ONLY)


def needs_dmarc(source: Source, mode: str, token: Token) -> bool:
    """True if the DMARC verdict can change the outcome: the DNS lookups are skipped
    when a personal address already decides (proven or refused)."""
    proofs = PROOFS[(source, mode)]
    return Proof.DMARC in proofs and not (Proof.PERSONAL in proofs and token is not Token.NONE)


def uses_dmarc(mode: str) -> bool:
    """True if some source may need the DMARC verdict under ``mode``."""
    return any(Proof.DMARC in PROOFS[(source, mode)] for source in Source)
