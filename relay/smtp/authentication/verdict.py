"""The verdict of the sender checks, and DMARC's pure core (RFC 7489): records, alignment, result.

Nothing here does I/O. The verifier (``verifier.py``) gathers SPF and DKIM results and the DMARC
record over DNS and calls ``decide``; ``results_header.py`` builds the same verdict from a trusted
Authentication-Results header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from publicsuffixlist import PublicSuffixList

# RFC 7208 §2.6 and RFC 8601 §2.7.1: the result words the checks may carry.
TEMPERROR = "temperror"
PERMERROR = "permerror"
# Not an RFC 8601 result: DKIM was not checked because an aligned SPF pass already decided.
SKIPPED = "skipped"


@dataclass(frozen=True)
class AuthVerdict:
    """What the SPF, DKIM and DMARC checks say about one message's RFC 5322.From domain."""

    # Lowercased; None when the message has no From address or several (RFC 7489 §6.6.1).
    from_domain: str | None
    # pass | fail | none (no DMARC record) | temperror | permerror (RFC 7489 §6.6.2).
    dmarc: str
    # RFC 7208 §2.6: pass | fail | softfail | neutral | none | temperror | permerror.
    spf: str
    # The MAIL FROM domain checked, or the HELO name for a null sender (RFC 7208 §2.4).
    spf_domain: str | None
    # pass (one signature verified) | fail | none | temperror | permerror, or "skipped" when
    # an aligned SPF pass had already decided DMARC and DKIM was not checked.
    dkim: str
    # d= of the signatures that verified.
    dkim_domains: tuple[str, ...]
    # The DMARC p= (sp= for a subdomain) when a record exists: none | quarantine | reject.
    policy: str | None
    # One line a person can act on.
    reason: str
    # "relay" when Relay checked; "authserv:<id>" when read from a trusted
    # Authentication-Results header.
    source: str = "relay"
    # RFC 7489 §6.3 adkim / aspf: "r" relaxed (same organizational domain) or "s" strict.
    adkim: str = "r"
    aspf: str = "r"
    # d= of DKIM signatures whose key lookup failed temporarily, and whether any DNS lookup
    # that could have changed the outcome failed temporarily (RFC 7208 §2.6.6, RFC 7489 §6.6.3).
    dns_temperror: bool = False

    @property
    def aligned_pass(self) -> bool:
        """DMARC pass: an aligned SPF pass or an aligned DKIM pass (RFC 7489 §4.2)."""
        if self.from_domain is None:
            return False  # RFC 7489 §6.6.1: no single From domain, nothing to pass for
        if self.dmarc == "pass":
            return True
        return aligned_spf_pass(self) or bool(aligned_dkim_domains(self))

    @property
    def temporary(self) -> bool:
        """A DNS temperror decided the result, so the sender should retry (451)."""
        return not self.aligned_pass and (self.dmarc == TEMPERROR or self.dns_temperror)


@dataclass(frozen=True)
class DmarcRecord:
    """The tags of a DMARC record that decide the result (RFC 7489 §6.3)."""

    policy: str
    subdomain_policy: str | None
    adkim: str
    aspf: str


_POLICIES = ("none", "quarantine", "reject")
_DMARC_VERSION = re.compile(rb"v\s*=\s*DMARC1\s*(;|$)", re.IGNORECASE)


@lru_cache(maxsize=4096)
def parse_dmarc_record(texts: tuple[bytes, ...]) -> DmarcRecord | None:
    """The one DMARC record among a name's TXT strings, or None (RFC 7489 §6.6.3 step 5)."""
    # RFC 7489 §6.4: a DMARC record starts with the tag v=DMARC1.
    records = [t for t in texts if _DMARC_VERSION.match(t)]
    if len(records) != 1:
        # No record, or several: DMARC is not applied to the message.
        return None
    tags: dict[str, str] = {}
    for part in records[0].decode("ascii", "replace").split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags.setdefault(name.strip().lower(), value.strip().lower())
    policy = tags.get("p", "")
    if policy not in _POLICIES:
        # RFC 7489 §6.6.3: a missing or unknown p= is treated as p=none when rua= is valid;
        # treating it as "none" in every case never makes Relay stricter than the domain asked.
        policy = "none"
    subdomain_policy = tags.get("sp")
    return DmarcRecord(
        policy=policy,
        subdomain_policy=subdomain_policy if subdomain_policy in _POLICIES else None,
        adkim="s" if tags.get("adkim") == "s" else "r",
        aspf="s" if tags.get("aspf") == "s" else "r",
    )


@lru_cache(maxsize=1)
def _public_suffix_list() -> PublicSuffixList:
    # The package ships its copy of the list: nothing is fetched at run time.
    return PublicSuffixList()


@lru_cache(maxsize=4096)
def organizational_domain(domain: str) -> str:
    """The organizational domain: the public suffix plus one label (RFC 7489 §3.2)."""
    domain = domain.lower().rstrip(".")
    return _public_suffix_list().privatesuffix(domain) or domain


def identifiers_aligned(domain: str, from_domain: str, mode: str) -> bool:
    """Strict: the same name; relaxed: the same organizational domain (RFC 7489 §3.1)."""
    domain, from_domain = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if domain == from_domain:
        return True
    return mode != "s" and organizational_domain(domain) == organizational_domain(from_domain)


def aligned_spf_pass(verdict: AuthVerdict) -> bool:
    """SPF passed for a MAIL FROM (or HELO) domain aligned with From (RFC 7489 §3.1.2)."""
    return (
        verdict.spf == "pass"
        and verdict.spf_domain is not None
        and verdict.from_domain is not None
        and identifiers_aligned(verdict.spf_domain, verdict.from_domain, verdict.aspf)
    )


def aligned_dkim_domains(verdict: AuthVerdict) -> tuple[str, ...]:
    """The verified d= domains aligned with From (RFC 7489 §3.1.1)."""
    if verdict.from_domain is None:
        return ()
    return tuple(
        d
        for d in verdict.dkim_domains
        if identifiers_aligned(d, verdict.from_domain, verdict.adkim)
    )


@dataclass(frozen=True)
class CheckResults:
    """What the SPF and DKIM checks found, before DMARC is applied."""

    from_domain: str | None
    spf: str
    spf_domain: str | None
    dkim: str
    dkim_domains: tuple[str, ...]
    dkim_temperror_domains: tuple[str, ...] = ()


def decide(
    checks: CheckResults, record: DmarcRecord | None, record_error: str | None
) -> AuthVerdict:
    """The DMARC result for the From domain (RFC 7489 §6.6.2-§6.6.3), with a reason.

    ``record_error`` says why the record's lookup failed for a while, if it did.
    """
    base = AuthVerdict(
        from_domain=checks.from_domain,
        dmarc="none",
        spf=checks.spf,
        spf_domain=checks.spf_domain,
        dkim=checks.dkim,
        dkim_domains=checks.dkim_domains,
        policy=None,
        reason="",
        adkim=record.adkim if record else "r",
        aspf=record.aspf if record else "r",
    )
    if checks.from_domain is None:
        # RFC 7489 §6.6.1: a message without exactly one From address cannot be evaluated.
        return _with(
            base, dmarc=PERMERROR, reason="the message does not have exactly one From address"
        )
    dkim_aligned = aligned_dkim_domains(base)
    spf_aligned = aligned_spf_pass(base)
    could_align_later = _temperror_could_align(checks, base)
    policy = record.policy if record else None
    if dkim_aligned or spf_aligned:
        reason = (
            f"DKIM signature of {dkim_aligned[0]} verified and aligned with From"
            if dkim_aligned
            else f"SPF passed for {checks.spf_domain}, aligned with From {checks.from_domain}"
        )
        return _with(base, dmarc="pass" if record else "none", policy=policy, reason=reason)
    if record_error:
        return _with(
            base,
            dmarc=TEMPERROR,
            dns_temperror=True,
            reason=f"the DMARC record of {checks.from_domain} could not be read ({record_error}); "
            "try again later",
        )
    found = _what_was_found(checks)
    if could_align_later:
        return _with(
            base,
            dmarc=TEMPERROR if record else "none",
            policy=policy,
            dns_temperror=True,
            reason=f"{found}; a DNS lookup that decides it failed for now, try again later",
        )
    if record is None:
        return _with(
            base,
            reason=f"{checks.from_domain} publishes no DMARC record, and {found}",
        )
    return _with(
        base,
        dmarc="fail",
        policy=policy,
        reason=f"DMARC fail for {checks.from_domain} (p={policy}): {found}; the sender's mail "
        "server must sign with DKIM for this domain or send from an address its SPF allows",
    )


def _temperror_could_align(checks: CheckResults, base: AuthVerdict) -> bool:
    assert checks.from_domain is not None
    spf_could = (
        checks.spf == TEMPERROR
        and checks.spf_domain is not None
        and identifiers_aligned(checks.spf_domain, checks.from_domain, base.aspf)
    )
    dkim_could = any(
        identifiers_aligned(d, checks.from_domain, base.adkim)
        for d in checks.dkim_temperror_domains
    )
    return spf_could or dkim_could


def _what_was_found(checks: CheckResults) -> str:
    if checks.dkim_domains:
        dkim = f"DKIM verified only for {', '.join(checks.dkim_domains)} (not aligned)"
    else:
        dkim = f"DKIM {checks.dkim}"
    spf_for = f" for {checks.spf_domain}" if checks.spf_domain else ""
    spf = f"SPF {checks.spf}{spf_for}"
    if checks.spf == "pass":
        spf += " (not aligned)"
    return f"{dkim}, {spf}"


def _with(verdict: AuthVerdict, **changes: object) -> AuthVerdict:
    return replace(verdict, **changes)  # type: ignore[arg-type]
