"""Temporary DNS failures give temperror (a 451, not a 550); answers are cached."""

from __future__ import annotations

import asyncio
import time

import pytest

from relay.smtp.authentication import SenderVerifier
from tests.smtp.authentication.auth_checks_helpers import (
    ACME_MTA,
    STRANGER,
    Checker,
    message,
    signed,
)
from tests.support.dns_zone import DkimKey, ZoneServer


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
    # Not forever: at least one lookup timeout, then given up. How close to ~1 x the
    # timeout (parallel lookups) is a timing, measured by bench/deadlines.py.
    assert elapsed >= 0.5


def test_a_cached_check_asks_the_dns_server_nothing(
    zone: ZoneServer, check: Checker, acme_key: DkimKey
) -> None:
    """The second verify of a signed message makes no DNS query at all."""
    raw = signed(acme_key)
    first = check(raw, client_ip=STRANGER)  # SPF fails, so DKIM has to be checked too
    asked = len(zone.queries)
    second = check(raw, client_ip=STRANGER)
    assert asked >= 3  # SPF, the DKIM key and the DMARC record
    assert len(zone.queries) == asked
    assert first == second
    assert second.dmarc == "pass"


def test_dkim_is_skipped_once_spf_gave_an_aligned_pass(
    zone: ZoneServer, check: Checker, acme_key: DkimKey
) -> None:
    """SPF aligned pass decides DMARC: DKIM is not checked, cached or not, and says so."""
    raw = signed(acme_key)
    first, second = check(raw), check(raw)
    assert first == second
    assert (first.dkim, first.dmarc, first.aligned_pass) == ("skipped", "pass", True)
    assert zone.queries_for("sel._domainkey.acme.example") == []


def test_dkim_can_be_checked_even_after_an_aligned_spf_pass(
    zone: ZoneServer, acme_key: DkimKey
) -> None:
    """skip_dkim_after_aligned_spf=False: both checks run and both pass."""
    verifier = SenderVerifier([zone.nameserver], skip_dkim_after_aligned_spf=False)
    try:
        verdict = asyncio.run(
            verifier.verify(signed(acme_key), ACME_MTA, "mx.acme.example", "b@acme.example")
        )
    finally:
        verifier.close()
    assert (verdict.spf, verdict.dkim, verdict.dkim_domains) == ("pass", "pass", ("acme.example",))


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
            # The second check of each pair is served from the cache (and caches the SPF result).
            for _ in range(2):
                asyncio.run(verifier.verify(message(), STRANGER, "mx", "x@acme.example"))
            time.sleep(0.3)
    finally:
        verifier.close()
    assert len(zone.queries_for("_dmarc.acme.example")) == 2
    assert len(zone.queries_for("acme.example")) == 2  # the SPF result expires with its record


def test_an_unusable_resolver_configuration_is_a_temperror_not_a_crash() -> None:
    """A nameserver name that does not resolve: verify still answers, with temperror."""
    verifier = SenderVerifier(nameservers=["no-such-host.invalid:53"], timeout_seconds=0.5)
    try:
        verdict = asyncio.run(verifier.verify(message(), STRANGER, "mx", "x@acme.example"))
    finally:
        verifier.close()
    assert verdict.temporary
    assert "RELAY_DNS_NAMESERVERS" in verdict.reason


def test_a_record_too_large_for_udp_is_fetched_over_tcp(zone: ZoneServer, check: Checker) -> None:
    """An SPF record over 512 bytes: truncated over UDP, read over TCP (RFC 7766), and passes."""
    verdict = check(message("alice@big.example"), mail_from="bounces@big.example")
    assert (verdict.spf, verdict.spf_domain) == ("pass", "big.example")
    assert ("big.example", "TXT") in zone.tcp_queries


def test_dns_waits_do_not_block_the_event_loop(zone: ZoneServer) -> None:
    """While a lookup waits on a silent server, other coroutines keep running."""
    zone.silent.update({"slow.example", "_dmarc.slow.example"})
    verifier = SenderVerifier(nameservers=[zone.nameserver], timeout_seconds=0.5)

    async def scenario() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        await verifier.verify(message("alice@slow.example"), STRANGER, "mx", "x@slow.example")
        task.cancel()
        return ticks

    try:
        ticks = asyncio.run(scenario())
    finally:
        verifier.close()
    assert ticks >= 10  # about 50 in 0.5 s; a blocked loop would give 0 or 1


@pytest.mark.parametrize(
    ("raw", "client_ip", "helo", "mail_from"),
    [
        (b"", "", "", ""),
        (b"\x00\xff garbage without a header", "not-an-ip", "[127.0.0.1]", "<>"),
        (b"From: a@acme.example\r\nDKIM-Signature: v=1; broken\r\n\r\n", "::1", "x", "a@"),
    ],
)
def test_verify_never_raises(
    check: Checker, raw: bytes, client_ip: str, helo: str, mail_from: str
) -> None:
    """Malformed messages, addresses and names give a verdict with a reason, not an exception."""
    verdict = check(raw, client_ip=client_ip, helo=helo, mail_from=mail_from)
    assert not verdict.aligned_pass
    assert verdict.reason


def test_many_concurrent_checks_all_finish(zone: ZoneServer, acme_key: DkimKey) -> None:
    """40 sessions checking at once, on an empty cache: every verdict is the right one."""
    verifier = SenderVerifier(nameservers=[zone.nameserver], timeout_seconds=2.0)
    raw = signed(acme_key)

    async def scenario() -> list[str]:
        verdicts = await asyncio.gather(
            *(verifier.verify(raw, STRANGER, "mx", f"x{n}@elsewhere.example") for n in range(40))
        )
        return [v.dmarc for v in verdicts]

    try:
        results = asyncio.run(scenario())
    finally:
        verifier.close()
    assert results == ["pass"] * 40


def test_a_check_given_up_on_stops_asking_dns(zone: ZoneServer, check: Checker) -> None:
    """Five DKIM signatures whose key servers never answer: the check gives up at its
    deadline (twice the 1 s lookup timeout), and its worker thread stops looking up the
    remaining keys then, instead of holding the thread for one timeout per key."""
    names = [f"sel._domainkey.s{n}.silent.example" for n in range(1, 6)]
    zone.silent.update(names)
    signatures = "".join(
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=s{n}.silent.example; "
        "s=sel; h=from:to:subject; bh=AAAA; b=AAAA\r\n"
        for n in range(1, 6)
    )
    raw = signatures.encode() + message()
    started = time.monotonic()
    verdict = check(raw, client_ip=STRANGER, mail_from="bounces@elsewhere.example")
    assert time.monotonic() - started < 3
    assert verdict.temporary
    time.sleep(3.5)  # long enough for the old code to ask for the 4th and 5th keys
    assert zone.queries_for(names[3]) == []
    assert zone.queries_for(names[4]) == []
