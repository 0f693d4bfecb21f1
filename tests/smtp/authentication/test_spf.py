"""SPF (RFC 7208) for the client address, over a real DNS server on loopback."""

from __future__ import annotations

import pytest

from tests.smtp.authentication.auth_checks_helpers import ACME_MTA, STRANGER, Checker, message


def test_spf_passes_for_the_domains_own_mail_server(check: Checker) -> None:
    """The MAIL FROM domain's SPF lists the client address: pass, aligned with From."""
    verdict = check(message(), client_ip=ACME_MTA, mail_from="bounces@acme.example")
    assert (verdict.spf, verdict.spf_domain) == ("pass", "acme.example")
    assert verdict.dmarc == "pass"
    assert verdict.aligned_pass
    assert "SPF passed for acme.example" in verdict.reason


def test_spf_fails_for_another_client_with_minus_all(check: Checker) -> None:
    """-all and a client not listed: fail, and without DKIM the From domain's DMARC fails."""
    verdict = check(message(), client_ip=STRANGER, mail_from="bounces@acme.example")
    assert verdict.spf == "fail"
    assert (verdict.dmarc, verdict.policy) == ("fail", "reject")
    assert not verdict.aligned_pass
    assert not verdict.temporary
    assert "p=reject" in verdict.reason


def test_spf_softfails_with_tilde_all(check: Checker) -> None:
    """~all and a client not listed: softfail (RFC 7208 §2.6.5)."""
    verdict = check(message("alice@soft.example"), client_ip=STRANGER, mail_from="x@soft.example")
    assert (verdict.spf, verdict.spf_domain) == ("softfail", "soft.example")
    assert not verdict.aligned_pass


def test_a_null_sender_is_checked_by_its_helo_name(check: Checker) -> None:
    """MAIL FROM:<> checks the HELO domain instead (RFC 7208 §2.4)."""
    verdict = check(message(), client_ip=ACME_MTA, mail_from="", helo="acme.example")
    assert (verdict.spf, verdict.spf_domain) == ("pass", "acme.example")


def test_a_domain_without_spf_gives_none(check: Checker) -> None:
    """No SPF record for the MAIL FROM domain: none (RFC 7208 §2.6.1)."""
    verdict = check(message(), mail_from="someone@nowhere.example")
    assert (verdict.spf, verdict.spf_domain) == ("none", "nowhere.example")


@pytest.mark.parametrize(
    ("client_ip", "result"),
    [
        ("127.0.0.20", "pass"),  # mx
        ("127.0.0.21", "pass"),  # a:out.globex.example
        ("127.0.0.22", "pass"),  # include:, ip4
        ("2001:db8::25", "pass"),  # include:, ip6
        ("127.0.0.23", "fail"),
    ],
)
def test_spf_follows_include_mx_and_a(check: Checker, client_ip: str, result: str) -> None:
    """include:, mx and a: mechanisms resolve through Relay's resolver (RFC 7208 §5)."""
    verdict = check(
        message("alice@globex.example"), client_ip=client_ip, mail_from="a@globex.example"
    )
    assert verdict.spf == result
