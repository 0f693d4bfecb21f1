"""Authentication-Results (RFC 8601): read the one our own MTA added, strip the others.

RFC 8601 §5: the receiving MTA prepends its own header and removes (or ignores) any earlier one
that claims its authserv-id, so only the TOPMOST header with our authserv-id is believed; a
header with another id, or ours further down, may have been written by anyone.
"""

from __future__ import annotations

import re
from dataclasses import replace

import authres

from relay.smtp.authentication.headers import HeaderField, from_domain, header_fields
from relay.smtp.authentication.verdict import PERMERROR, TEMPERROR, AuthVerdict

_FIELD = "authentication-results"
_RESULTS = frozenset(("pass", "fail", "softfail", "neutral", "none", TEMPERROR, PERMERROR))
# RFC 8601 §2.7.1-§2.7.2 and older spellings some MTAs still write.
_ALIASES = {"hardfail": "fail", "policy": "fail"}
# The published policy, as OpenDMARC, Google and Microsoft write it in a comment after the
# DMARC result: "dmarc=fail (p=reject dis=none)". The comment is informational (RFC 8601
# §2.3), so it only fills AuthVerdict.policy.
_DMARC_POLICY_COMMENT = re.compile(
    r"\bdmarc\s*=\s*\w+\s*\([^)]*?\bp\s*=\s*(none|quarantine|reject)\b", re.IGNORECASE
)


def _authserv_id(raw: bytes, field: HeaderField) -> str:
    value = field.value(raw)
    # The authserv-id is the first token, before an optional version and the first ";".
    return value.partition(";")[0].split()[0].lower() if value.partition(";")[0].split() else ""


def _ours_topmost(raw: bytes, fields: list[HeaderField], authserv_id: str) -> HeaderField | None:
    wanted = authserv_id.lower()
    for field in fields:
        if field.name == _FIELD and _authserv_id(raw, field) == wanted:
            return field
    return None


def strip_authentication_results(raw: bytes, keep_authserv_id: str | None) -> bytes:
    """Remove the Authentication-Results fields, keeping only the topmost one of our id, if any.

    Every other byte of the message is left as it was.
    """
    fields, _ = header_fields(raw)
    keep = _ours_topmost(raw, fields, keep_authserv_id) if keep_authserv_id else None
    drop = [f for f in fields if f.name == _FIELD and f is not keep]
    if not drop:
        return raw
    pieces: list[bytes] = []
    position = 0
    for field in drop:
        pieces.append(raw[position : field.start])
        position = field.end
    pieces.append(raw[position:])
    return b"".join(pieces)


def reported_verdict(raw: bytes, authserv_id: str) -> AuthVerdict | None:
    """The verdict our own MTA reported in its topmost Authentication-Results, or None."""
    fields, _ = header_fields(raw)
    field = _ours_topmost(raw, fields, authserv_id)
    if field is None:
        return None
    source = f"authserv:{authserv_id.lower()}"
    domain = from_domain(raw, fields)
    try:
        header = authres.AuthenticationResultsHeader.parse_value(field.value(raw))
    except authres.AuthResError as error:
        return AuthVerdict(
            from_domain=domain,
            dmarc=PERMERROR,
            spf="none",
            spf_domain=None,
            dkim="none",
            dkim_domains=(),
            policy=None,
            reason=f"the Authentication-Results header of {authserv_id} cannot be parsed ({error})",
            source=source,
        )
    verdict = _verdict_from_results(header.results, domain, source)
    policy = _DMARC_POLICY_COMMENT.search(field.value(raw))
    return replace(verdict, policy=policy.group(1).lower()) if policy else verdict


def _verdict_from_results(
    results: list[authres.core.AuthenticationResult], domain: str | None, source: str
) -> AuthVerdict:
    by_method: dict[str, list[authres.core.AuthenticationResult]] = {}
    for result in results:
        by_method.setdefault(str(result.method).lower(), []).append(result)
    spf, spf_domain = _spf(by_method.get("spf", []))
    dkim, dkim_domains = _dkim(by_method.get("dkim", []))
    dmarc = _result(by_method["dmarc"][0]) if "dmarc" in by_method else "none"
    if dmarc == "pass" and not _for_domain(by_method["dmarc"][0], domain):
        # A DMARC pass is for the domain in its header.from (RFC 8601 §2.7.2); for any
        # other domain, or a message without one From domain, it proves nothing.
        dmarc = "none"
    reported = "; ".join(
        f"{r.method}={_result(r)}" for r in results if str(r.method).lower() in by_method
    )
    return AuthVerdict(
        from_domain=domain,
        dmarc=dmarc,
        spf=spf,
        spf_domain=spf_domain,
        dkim=dkim,
        dkim_domains=dkim_domains,
        policy=None,
        reason=f"{source.partition(':')[2]} reported {reported or 'no results'}",
        source=source,
        # The reporter's DMARC result decides when it has one; without one, a temperror of
        # SPF or DKIM may be what kept the aligned pass away.
        dns_temperror=dmarc == TEMPERROR or (dmarc == "none" and TEMPERROR in (spf, dkim)),
    )


def _for_domain(result: authres.core.AuthenticationResult, domain: str | None) -> bool:
    reported = _property(result, "header", "from")
    return domain is not None and (reported or "").lower().rstrip(".") == domain


def _result(result: authres.core.AuthenticationResult) -> str:
    word = str(result.result).lower()
    word = _ALIASES.get(word, word)
    return word if word in _RESULTS else "neutral"


def _property(result: authres.core.AuthenticationResult, ptype: str, name: str) -> str | None:
    for prop in result.properties:
        if str(prop.type).lower() == ptype and str(prop.name).lower() == name:
            return str(prop.value)
    return None


def _spf(results: list[authres.core.AuthenticationResult]) -> tuple[str, str | None]:
    if not results:
        return "none", None
    result = results[0]
    identity = _property(result, "smtp", "mailfrom") or _property(result, "smtp", "helo")
    domain = identity.rpartition("@")[2].lower().rstrip(".") if identity else None
    return _result(result), domain or None


def _dkim(results: list[authres.core.AuthenticationResult]) -> tuple[str, tuple[str, ...]]:
    if not results:
        return "none", ()
    words = [_result(r) for r in results]
    passed = []
    for result, word in zip(results, words, strict=True):
        if word == "pass":
            signer = _property(result, "header", "d") or _property(result, "header", "i")
            if signer:
                passed.append(signer.rpartition("@")[2].lower().rstrip("."))
    if "pass" in words:
        return "pass", tuple(passed)
    for word in (TEMPERROR, "fail", PERMERROR):
        if word in words:
            return word, ()
    return words[0], ()
