"""SPF (pyspf), DKIM (dkimpy) and the DMARC record lookup, each a blocking call on our resolver.

The verifier runs each of these on a worker thread. The libraries do the protocol work; this
module only feeds them our resolver (with its timeouts and cache) and turns their answers into
RFC 8601 result words.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import dkim
import spf

import relay.smtp.authentication.dkim_speedups  # noqa: F401  (installs the fast RSA and key cache)
from relay.smtp.authentication.resolver import DnsLookups, DnsTemporaryError
from relay.smtp.authentication.verdict import (
    PERMERROR,
    TEMPERROR,
    DmarcRecord,
    organizational_domain,
    parse_dmarc_record,
)

# RFC 6376 §6.1: a verifier MAY limit the signatures it checks; a message with more is not
# made to cost more than this many key lookups and RSA checks.
MAX_DKIM_SIGNATURES = 5

# pyspf takes its DNS from the module-level hook spf.DNSLookup (its maintainers' documented way
# to plug in a resolver). The hook reads the resolver of the check running on this thread, so
# several verifiers with different nameservers can share the process; other callers of pyspf
# keep the library's own lookup.
_spf_thread = threading.local()
_library_spf_lookup: Callable[..., Any] = spf.DNSLookup


def _spf_lookup_hook(name: str, qtype: str, strict: object = True, timeout: float = 30) -> Any:
    lookup = getattr(_spf_thread, "lookup", None)
    if lookup is None:
        return _library_spf_lookup(name, qtype, strict, timeout)
    return lookup(name, qtype)


spf.DNSLookup = _spf_lookup_hook


@dataclass(frozen=True)
class SpfOutcome:
    result: str
    domain: str | None


def check_spf(resolver: DnsLookups, client_ip: str, helo: str, mail_from: str) -> SpfOutcome:
    """RFC 7208 check_host() for the MAIL FROM, or for the HELO name of a null sender (§2.4)."""
    sender = mail_from.strip().removeprefix("<").removesuffix(">").strip()
    helo = helo.strip().rstrip(".").lower()
    if sender:
        domain = sender.rpartition("@")[2].rstrip(".").lower()
        identity = sender if "@" in sender else f"postmaster@{sender}"
    else:
        domain, identity = helo, f"postmaster@{helo}"
    if not domain or "." not in domain or domain.startswith("["):
        # RFC 7208 §4.3: no domain to check (e.g. a HELO address literal) gives "none".
        return SpfOutcome("none", domain or None)

    def lookup(name: str, qtype: str) -> list[tuple[tuple[str, str], Any]]:
        try:
            rdatas = resolver.lookup(name, qtype)
        except DnsTemporaryError as error:
            raise spf.TempError(f"DNS {error}") from error
        return [((name, qtype), _spf_value(qtype, r)) for r in rdatas]

    _spf_thread.lookup = lookup
    try:
        result, _code, _explanation = spf.query(i=client_ip, s=identity, h=helo or domain).check()
    except ValueError:
        return SpfOutcome("none", domain)  # the client address is not an IP address
    finally:
        _spf_thread.lookup = None
    return SpfOutcome(str(result) if result in _SPF_RESULTS else PERMERROR, domain)


_SPF_RESULTS = frozenset(("pass", "fail", "softfail", "neutral", "none", TEMPERROR, PERMERROR))


def _spf_value(qtype: str, rdata: Any) -> Any:
    # The shapes pyspf's own dnspython lookup returns, per type.
    if qtype in ("A", "AAAA"):
        return rdata.address
    if qtype == "MX":
        return (rdata.preference, rdata.exchange)
    if qtype == "PTR":
        return rdata.target.to_text(True)
    return rdata.strings  # TXT (and the retired SPF type): a tuple of strings to join


@dataclass(frozen=True)
class DkimOutcome:
    result: str
    passed_domains: tuple[str, ...]
    temperror_domains: tuple[str, ...]


def check_dkim(resolver: DnsLookups, raw: bytes) -> DkimOutcome:
    """Verify up to MAX_DKIM_SIGNATURES DKIM signatures (RFC 6376 §6); pass if any verifies."""
    try:
        message = dkim.DKIM(raw, minkey=1024)
    except dkim.DKIMException:
        return DkimOutcome(PERMERROR, (), ())
    count = sum(1 for name, _ in message.headers if name.lower() == b"dkim-signature")
    if count == 0:
        return DkimOutcome("none", (), ())
    words: list[str] = []
    passed: list[str] = []
    temporary: list[str] = []
    for index in range(min(count, MAX_DKIM_SIGNATURES)):
        word, domain = _verify_signature(resolver, message, index)
        words.append(word)
        if domain and word == "pass":
            passed.append(domain)
        elif domain and word == TEMPERROR:
            temporary.append(domain)
    for word in ("pass", TEMPERROR, "fail", PERMERROR):
        if word in words:
            return DkimOutcome(word, tuple(dict.fromkeys(passed)), tuple(temporary))
    return DkimOutcome(PERMERROR, (), ())


def _verify_signature(resolver: DnsLookups, message: Any, index: int) -> tuple[str, str | None]:
    key_state: dict[str, bool] = {"temporary": False, "missing": False}

    def key_txt(name: bytes, timeout: float = 5) -> bytes | None:
        try:
            records = resolver.txt(name.decode("ascii", "replace"))
        except DnsTemporaryError as error:
            key_state["temporary"] = True
            raise dkim.DnsTimeoutError(str(error)) from error
        if not records:
            key_state["missing"] = True
            return None
        return records[0]

    message.domain = None
    if _limits_body_length(message, index):
        # RFC 6376 §8.2: with l= anything may be appended after the signed body, so the
        # signature vouches for no whole message; treated as not verifying.
        return "fail", _signer(message)
    try:
        verified = message.verify(idx=index, dnsfunc=key_txt)
    except dkim.ValidationError:
        verified = False  # e.g. the body hash does not match: RFC 6376 §6.1.3
    except dkim.DKIMException:
        return PERMERROR, _signer(message)
    domain = _signer(message)
    if key_state["temporary"]:
        return TEMPERROR, domain
    if key_state["missing"]:
        return PERMERROR, domain  # RFC 6376 §6.1.2: no key for the signature
    return ("pass" if verified else "fail"), domain


def _limits_body_length(message: Any, index: int) -> bool:
    """Whether the ``index``-th DKIM-Signature has an ``l=`` tag; also records its d=."""
    try:
        prep = message.verify_headerprep(idx=index)
    except dkim.DKIMException:
        return False  # verify() reports the malformed signature itself
    return bool(prep) and b"l" in prep[0]


def _signer(message: Any) -> str | None:
    domain = message.domain
    if not domain:
        return None
    return bytes(domain).decode("ascii", "replace").lower().rstrip(".")


def find_dmarc_record(resolver: DnsLookups, from_domain: str) -> DmarcRecord | None:
    """The DMARC record for the From domain, else its organizational domain's (RFC 7489 §6.6.3).

    Raises DnsTemporaryError when a lookup fails for a while.
    """
    record = parse_dmarc_record(resolver.txt(f"_dmarc.{from_domain}"))
    if record is not None:
        return record
    organization = organizational_domain(from_domain)
    if organization == from_domain:
        return None
    record = parse_dmarc_record(resolver.txt(f"_dmarc.{organization}"))
    if record is None:
        return None
    # RFC 7489 §6.3 sp=: the organizational record's policy for its subdomains.
    return replace(record, policy=record.subdomain_policy or record.policy)


def dmarc_record_or_error(
    resolver: DnsLookups, from_domain: str
) -> tuple[DmarcRecord | None, str | None]:
    try:
        return find_dmarc_record(resolver, from_domain), None
    except DnsTemporaryError as error:
        return None, str(error)
