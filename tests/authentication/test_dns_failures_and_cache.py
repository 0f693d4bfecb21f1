"""Temporary DNS failures give temperror (a 451, not a 550); answers are cached."""

from __future__ import annotations

import asyncio
import time

from conftest import STRANGER, Checker, message, signed
from dns_zone import DkimKey, ZoneServer

from relay.smtp.authentication import SenderVerifier


def test_servfail_for_the_dmarc_record_is_a_temporary_failure(
    zone: ZoneServer, check: Checker
) -> None:
    """SERVFAIL on _dmarc: DMARC temperror, so the sending MTA should retry."""
    zone.servfail.add("_dmarc.broken.example")
    verdict = check(
        message("alice@broken.example"), client_ip=STRANGER, mail_from="x@broken.example"
    )
    assert verdict.dmarc == "temperror"
    assert verdict.temporary
    assert not verdict.aligned_pass
    assert "try again later" in verdict.reason


def test_servfail_for_the_spf_record_is_spf_temperror(zone: ZoneServer, check: Checker) -> None:
    """SERVFAIL on the MAIL FROM domain: SPF temperror (RFC 7208 §2.6.6) decides a retry."""
    zone.servfail.add("broken.example")
    verdict = check(message("alice@broken.example"), mail_from="x@broken.example")
    assert verdict.spf == "temperror"
    assert verdict.temporary


def test_servfail_for_a_dkim_key_is_dkim_temperror(
    zone: ZoneServer, check: Checker, acme_key: DkimKey
) -> None:
    """SERVFAIL on selector._domainkey: DKIM temperror, and the aligned signer may pass later."""
    zone.servfail.add("sel._domainkey.acme.example")
    verdict = check(signed(acme_key), client_ip=STRANGER, mail_from="x@elsewhere.example")
    assert verdict.dkim == "temperror"
    assert verdict.temporary


def test_a_silent_server_gives_temperror_within_the_timeout(zone: ZoneServer) -> None:
    """A server that never answers: temperror after about one lookup timeout, not forever."""
    zone.silent.update({"slow.example", "_dmarc.slow.example"})
    verifier = SenderVerifier(nameservers=[zone.nameserver], timeout_seconds=0.5)
    try:
        started = time.monotonic()
        verdict = asyncio.run(
            verifier.verify(
                message("alice@slow.example"), STRANGER, "mx.slow.example", "x@slow.example"
            )
        )
        elapsed = time.monotonic() - started
    finally:
        verifier.close()
    assert (verdict.spf, verdict.dmarc) == ("temperror", "temperror")
    assert verdict.temporary
    assert elapsed < 1.0  # 2 x timeout is the whole check's bound; parallel lookups take ~1 x


def test_a_cached_check_asks_the_dns_server_nothing(
    zone: ZoneServer, check: Checker, acme_key: DkimKey
) -> None:
    """The second verify of a signed message makes no DNS query at all."""
    raw = signed(acme_key)
    first = check(raw)
    asked = len(zone.queries)
    second = check(raw)
    assert asked >= 3  # SPF, the DKIM key and the DMARC record
    assert len(zone.queries) == asked
    assert first == second
    assert second.dmarc == "pass"


def test_negative_answers_are_cached_too(zone: ZoneServer, check: Checker) -> None:
    """NXDOMAIN for a DMARC record is remembered: a second check does not ask again."""
    check(message("alice@nodmarc.example"), mail_from="x@nodmarc.example")
    check(message("alice@nodmarc.example"), mail_from="x@nodmarc.example")
    assert zone.queries_for("_dmarc.nodmarc.example") == [("_dmarc.nodmarc.example", "TXT")]


def test_cache_entries_expire_after_cache_seconds(zone: ZoneServer) -> None:
    """cache_seconds bounds the TTL: after it, the record is asked for again."""
    verifier = SenderVerifier(nameservers=[zone.nameserver], timeout_seconds=1.0, cache_seconds=0.2)
    try:
        for _ in range(2):
            asyncio.run(verifier.verify(message(), STRANGER, "mx", "x@acme.example"))
            time.sleep(0.3)
    finally:
        verifier.close()
    assert len(zone.queries_for("_dmarc.acme.example")) == 2


def test_an_unusable_resolver_configuration_is_a_temperror_not_a_crash() -> None:
    """A nameserver name that does not resolve: verify still answers, with temperror."""
    verifier = SenderVerifier(nameservers=["no-such-host.invalid:53"], timeout_seconds=0.5)
    try:
        verdict = asyncio.run(verifier.verify(message(), STRANGER, "mx", "x@acme.example"))
    finally:
        verifier.close()
    assert verdict.temporary
    assert "RELAY_DNS_NAMESERVERS" in verdict.reason
