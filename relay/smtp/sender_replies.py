"""The sender policy's SMTP replies, each named once (as relay/smtp/replies.py does for
the fixed ones). Each says why the message is refused and what to do; codes follow RFC
3463 and, for the authentication checks, RFC 7372.
"""

from __future__ import annotations

from dataclasses import dataclass

from relay.reps.guidance import (
    personal_address_required,
    unknown_personal_address,
    unknown_sender,
)
from relay.smtp.sender_checks import Refusal
from relay.store.model import Rep

_MAX_SHOWN = 200  # RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets


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


def refuse_not_acceptable(address: str) -> str:
    # The owner is never named (the token would then say whose it is), and an outsider
    # is never told to ask for `relay senders add`: a personal address is its rep's own.
    shown = _shown(address) or "(null sender)"
    return (
        f"550 5.7.1 <{shown}> may not use this personal Relay address: it is not yours. "
        "If you are a rep, send to your own (`relay address YOUR-EMAIL` prints it; ask "
        "your admin); if this is another address of the rep it belongs to, your admin "
        "adds it for that rep"
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


def refuse_dmarc_fail(address: str, domain: str) -> str:
    # RFC 7372 §3.3 X.7.26 "Multiple authentication checks failed": neither SPF nor
    # DKIM passed aligned with the From domain, and its DMARC policy says so (RFC 7489).
    return (
        f"550 5.7.26 <{_shown(address)}> failed DMARC for {_shown(domain)}: neither SPF nor "
        "DKIM passed for the From domain, so Relay cannot tell it is yours; send from your "
        "organisation's mail server, or to your personal Relay address"
    )


def refuse_not_authenticated(address: str, domain: str, via_trusted_hop: bool = False) -> str:
    # From a trusted hop the mail already came through the organisation's server (which
    # then needs a DKIM signer or a DMARC report, docs/operations.md §13), so "send from
    # your organisation's mail server" would be wrong advice there.
    where = (
        "your organisation's mail server must sign it with DKIM (ask your admin)"
        if via_trusted_hop
        else "send from your organisation's mail server"
    )
    return (
        f"550 5.7.26 <{_shown(address)}> is not authenticated: {_shown(domain) or 'its domain'} "
        f"gave no aligned SPF or DKIM pass (RFC 7489); {where}, or send to your personal "
        "Relay address (`relay address YOUR-EMAIL` prints it; ask your admin)"
    )


def defer_dns(domain: str) -> str:
    # RFC 3463 §3.8 X.7.0 with a 4xx: a DNS error is temporary (RFC 7208 §2.6.6 and
    # RFC 7489 §6.6.3 "temperror"), so the sending server tries again later.
    return (
        f"451 4.7.0 Could not check {_shown(domain) or 'the sender'}'s SPF, DKIM or DMARC "
        "(a temporary DNS error): try again later"
    )


def defer_reps_not_synced(rcpt: str) -> str:
    # RFC 3463 §3.8 X.7.0 with a 4xx: Relay has not read its reps from Salesforce yet,
    # so it cannot tell whose personal address this is; the sending server retries.
    return (
        f"451 4.7.0 <{_shown(rcpt)}>: Relay has not read its reps from Salesforce yet and "
        "cannot tell whose personal address this is: try again later"
    )


def defer_reps_unreadable(address: str) -> str:
    # RFC 3463 §3.4 X.3.0 with a 4xx: the sender would be refused on the snapshot in
    # memory, but the store that holds the current reps could not be read to confirm it;
    # a 550 on possibly stale data would bounce a rep's mail for good.
    return (
        f"451 4.3.0 <{_shown(address)}>: Relay could not read its current reps to check "
        "this sender: try again later"
    )


def refuse_untrusted_client() -> str:
    return (
        "550 5.7.1 Relay accepts mail only from its own mail server here: send through your "
        "organisation's mail server (your admin set RELAY_SMTP_SENDER_AUTH=trusted_only)"
    )


def refuse_inbound_source() -> str:
    # The shared secret is never echoed: the reply names the mailbox without it.
    return (
        "550 5.7.1 log+inbound-...@ is accepted only from the inbound source your admin "
        "named (RELAY_SMTP_INBOUND_NETWORKS with its secret)"
    )


def refuse_repeated_field(name: str) -> str:
    # RFC 5322 §3.6: at most one of each of these fields. A repeated one is how an
    # unsigned field is put in front of a DKIM-signed one (RFC 6376 §8.15).
    return (
        f"550 5.7.1 The message has more than one {_shown(name.title())} header field; "
        "RFC 5322 §3.6 allows one: send it again as your mail program wrote it"
    )


def refuse_stray_control(what: str) -> str:
    # RFC 5322 §2.2: a header field ends with CRLF; a lone CR or a NUL is not allowed
    # there, and parsers disagree on where such a field ends.
    return (
        f"550 5.7.1 The message's header holds a {_shown(what)} character, which RFC 5322 "
        "§2.2 does not allow: send it again as your mail program wrote it"
    )


REFUSAL_GUIDANCE = {
    "unknown_sender": unknown_sender,
    "unknown_personal_address": unknown_personal_address,
    "personal_address_required": personal_address_required,
}
"""The full guidance behind each refusal (relay.reps.guidance), for logs and `relay doctor`."""


@dataclass(frozen=True)
class Reasons:
    """What a refusal names: the sender shown, the recipient, the token's rep."""

    domain: str
    sender: str
    dmarc_domain: str = ""
    token_rcpt: str = ""
    owner: Rep | None = None
    via_trusted_hop: bool = False


def refusal_reply(refusal: Refusal, reasons: Reasons) -> str:
    """The SMTP reply for one refusal of relay.smtp.sender_checks."""
    if refusal is Refusal.NOT_ACCEPTABLE and reasons.owner is not None:
        return refuse_not_acceptable(reasons.sender)
    return {
        Refusal.UNKNOWN_SENDER: lambda: refuse_unknown_sender(reasons.sender),
        Refusal.NOT_ACCEPTABLE: lambda: refuse_unknown_sender(reasons.sender),
        Refusal.UNKNOWN_PERSONAL: lambda: refuse_unknown_token(reasons.token_rcpt),
        Refusal.PERSONAL_REQUIRED: lambda: refuse_shared_address(reasons.domain),
        Refusal.DMARC_FAIL: lambda: refuse_dmarc_fail(reasons.sender, reasons.dmarc_domain),
        Refusal.NOT_AUTHENTICATED: lambda: refuse_not_authenticated(
            reasons.sender, reasons.dmarc_domain, reasons.via_trusted_hop
        ),
        Refusal.DNS_TEMPORARY: lambda: defer_dns(reasons.dmarc_domain),
        Refusal.REPS_NOT_SYNCED: lambda: defer_reps_not_synced(reasons.token_rcpt),
        Refusal.TRUSTED_ONLY: refuse_untrusted_client,
    }[refusal]()
