"""DKIM (RFC 6376) with real dkimpy signatures, and DMARC alignment (RFC 7489)."""

from __future__ import annotations

import dkim

from relay.smtp.authentication import AuthVerdict
from tests.smtp.authentication.auth_checks_helpers import STRANGER, Checker, message, signed
from tests.support.dns_zone import DkimKey


def test_dkim_signature_verifies_and_aligns(check: Checker, acme_key: DkimKey) -> None:
    """A valid acme.example signature from any client: DKIM pass, DMARC pass via DKIM."""
    verdict = check(signed(acme_key), client_ip=STRANGER, mail_from="bounces@elsewhere.example")
    assert (verdict.dkim, verdict.dkim_domains) == ("pass", ("acme.example",))
    assert (verdict.dmarc, verdict.policy) == ("pass", "reject")
    assert verdict.aligned_pass
    assert verdict.reason == "DKIM signature of acme.example verified and aligned with From"


def test_a_tampered_body_fails_dkim_and_dmarc(check: Checker, acme_key: DkimKey) -> None:
    """The body changed after signing: the body hash fails, DMARC fails under p=reject."""
    raw = signed(acme_key).replace(b"Hello Bob.", b"Pay Mallory.")
    verdict = check(raw, client_ip=STRANGER, mail_from="bounces@elsewhere.example")
    assert verdict.dkim == "fail"
    assert verdict.dkim_domains == ()
    assert (verdict.dmarc, verdict.policy) == ("fail", "reject")
    assert not verdict.aligned_pass
    assert not verdict.temporary


def test_an_unsigned_message_has_dkim_none(check: Checker) -> None:
    """No DKIM-Signature field: none."""
    assert check(message()).dkim == "none"


def test_relaxed_alignment_accepts_a_subdomain_signer(check: Checker, acme_key: DkimKey) -> None:
    """d=mail.acme.example aligns with From acme.example under relaxed adkim (RFC 7489 §3.1.1)."""
    raw = signed(acme_key, domain="mail.acme.example")
    verdict = check(raw, client_ip=STRANGER, mail_from="bounces@elsewhere.example")
    assert verdict.dkim_domains == ("mail.acme.example",)
    assert verdict.dmarc == "pass"


def test_strict_alignment_refuses_a_subdomain_signer_and_sender(
    check: Checker, acme_key: DkimKey
) -> None:
    """adkim=s and aspf=s: a subdomain's DKIM and SPF passes are not aligned; DMARC fails."""
    raw = signed(acme_key, domain="mail.strict.example", from_address="alice@strict.example")
    verdict = check(raw, mail_from="bounces@bounces.strict.example")
    assert (verdict.dkim, verdict.spf) == ("pass", "pass")
    assert (verdict.dmarc, verdict.policy) == ("fail", "quarantine")
    assert not verdict.aligned_pass
    assert "not aligned" in verdict.reason


def test_no_dmarc_record_gives_none_but_keeps_an_aligned_pass(
    check: Checker, acme_key: DkimKey
) -> None:
    """No _dmarc record: DMARC none and no policy; an aligned DKIM pass still proves the sender."""
    raw = signed(acme_key, domain="nodmarc.example", from_address="alice@nodmarc.example")
    verdict = check(raw, client_ip=STRANGER, mail_from="bounces@elsewhere.example")
    assert (verdict.dmarc, verdict.policy) == ("none", None)
    assert verdict.aligned_pass


def test_no_dmarc_record_and_nothing_aligned_is_none_not_pass(check: Checker) -> None:
    """No record and no aligned pass: none, not aligned, and the reason says both."""
    verdict = check(
        message("alice@nodmarc.example"), client_ip=STRANGER, mail_from="x@nodmarc.example"
    )
    assert (verdict.dmarc, verdict.aligned_pass) == ("none", False)
    assert "publishes no DMARC record" in verdict.reason


def test_several_from_addresses_are_a_permerror(check: Checker) -> None:
    """Two From addresses: no single domain to align with (RFC 7489 §6.6.1)."""
    raw = message().replace(
        b"From: Alice <alice@acme.example>", b"From: a@acme.example, b@x.example"
    )
    verdict = check(raw)
    assert (verdict.from_domain, verdict.dmarc, verdict.aligned_pass) == (None, "permerror", False)


def test_verdict_alignment_is_computed_from_its_fields() -> None:
    """A verdict without a DMARC pass still aligns a verified signer of the same org domain."""
    verdict = AuthVerdict(
        from_domain="acme.example",
        dmarc="none",
        spf="fail",
        spf_domain="evil.example",
        dkim="pass",
        dkim_domains=("evil.example", "news.acme.example"),
        policy=None,
        reason="",
    )
    assert verdict.aligned_pass
    assert not AuthVerdict(**{**verdict.__dict__, "adkim": "s"}).aligned_pass


def test_an_internationalized_or_impossible_from_domain_is_checked_without_error(
    check: Checker,
) -> None:
    """A UTF-8 From domain is looked up (as IDNA); a label DNS cannot carry just has no record."""
    unicode_from = check(message("alice@bücher.example"), client_ip=STRANGER, mail_from="")
    assert (unicode_from.from_domain, unicode_from.dmarc) == ("bücher.example", "none")
    too_long = "x" * 70 + ".example"
    impossible = check(message(f"alice@{too_long}"), client_ip=STRANGER, mail_from="")
    assert impossible.from_domain is None  # not a domain at all: no From domain to check


def test_a_signature_naming_an_impossible_domain_is_a_dkim_permerror(check: Checker) -> None:
    """d= with a label DNS cannot carry: no key can exist, a permerror, not a retry."""
    signer = "x" * 70 + ".example"
    raw = (
        f"DKIM-Signature: v=1; a=rsa-sha256; d={signer}; s=sel; c=relaxed/relaxed;"
        " h=from; bh=AAAA; b=AAAA\r\n"
    ).encode() + message()
    verdict = check(raw, client_ip=STRANGER, mail_from="x@elsewhere.example")
    assert verdict.dkim == "permerror"
    assert not verdict.temporary


def test_a_signature_with_a_body_length_limit_is_not_trusted(
    check: Checker, acme_key: DkimKey
) -> None:
    """l= lets anyone append to the signed body (RFC 6376 §8.2): such a signature is
    treated as not verifying, so DMARC cannot pass on it."""
    original = message()
    signature = dkim.sign(
        original, b"sel", b"acme.example", acme_key.private_pem,
        canonicalize=(b"relaxed", b"relaxed"), length=True,
    )  # fmt: skip
    extended = bytes(signature) + original + b"\r\nPay Mallory instead.\r\n"
    verdict = check(extended, client_ip=STRANGER, mail_from="bounces@elsewhere.example")
    assert verdict.dkim == "fail"
    assert verdict.dkim_domains == ()
    assert not verdict.aligned_pass
