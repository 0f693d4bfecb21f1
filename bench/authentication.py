"""Cost of one SenderVerifier.verify() per message: cached against uncached DNS, in one run.

    .venv/bin/python bench/authentication.py [--messages N] [--rounds R]

A loopback DNS server (tests/support/dns_zone.py) serves SPF, a 2048-bit DKIM key and a DMARC
record for acme.example. Each message is DKIM-signed by acme.example and checked as if
received from acme's SPF-listed server, so SPF, DKIM and DMARC all run to a pass.

- uncached: a fresh verifier per message, so every lookup goes to the server (SPF TXT,
  the DKIM key, _dmarc): the first message from a domain, on a real resolver add its RTT.
- cached: one verifier, warmed with one message; then N messages, concurrency 1, the
  way a single SMTP session sends them. This is what the edge pays per message once the
  sender's records are in the cache.

The verdict uses each side's fastest round (other processes share this machine); the
median is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from relay.smtp.authentication import SenderVerifier  # noqa: E402
from tests.support.dns_zone import dkim_sign, make_dkim_key, serve_zone  # noqa: E402

MTA = "127.0.0.10"  # listed in acme.example's SPF
FORWARDER = "127.0.0.66"  # not listed: SPF fails, DKIM alone can pass


def _message(number: int) -> bytes:
    body = "".join(f"Line {i} of a customer email, about the renewal.\r\n" for i in range(60))
    return (
        "From: Alice <alice@acme.example>\r\n"
        "To: bob@customer.example\r\n"
        f"Subject: Renewal {number}\r\n"
        "Date: Sun, 06 Dec 2026 00:00:00 +0000\r\n"
        f"Message-ID: <renewal-{number}@acme.example>\r\n"
        "\r\n" + body
    ).encode()


async def _per_message(
    verifier_for: Callable[[], SenderVerifier], messages: list[bytes], client_ip: str
) -> tuple[float, float]:
    """(wall ms, CPU ms) per message."""
    started, cpu_started = time.perf_counter(), time.process_time()
    for raw in messages:
        verdict = await verifier_for().verify(
            raw, client_ip, "mx.acme.example", "bounces@acme.example"
        )
        assert verdict.dmarc == "pass", verdict
    count = len(messages)
    return (
        (time.perf_counter() - started) * 1000 / count,
        (time.process_time() - cpu_started) * 1000 / count,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    key = make_dkim_key()
    messages = [dkim_sign(_message(n), "acme.example", "sel", key) for n in range(args.messages)]
    zone = {
        "acme.example": {"TXT": [f"v=spf1 ip4:{MTA} -all"]},
        "sel._domainkey.acme.example": {"TXT": [key.dns_txt]},
        "_dmarc.acme.example": {"TXT": ["v=DMARC1; p=reject"]},
    }
    results: dict[str, list[tuple[float, float]]] = {}
    with serve_zone(zone) as server:
        nameservers = [server.nameserver]
        cached_verifier = SenderVerifier(nameservers)
        fresh: list[SenderVerifier] = []

        def fresh_verifier() -> SenderVerifier:
            if fresh:
                fresh.pop().close()
            fresh.append(SenderVerifier(nameservers))
            return fresh[-1]

        def cached() -> SenderVerifier:
            return cached_verifier

        scenarios = {
            "cached, SPF aligned (DKIM skipped)": (cached, messages, MTA),
            "cached, DKIM aligned (SPF fails)": (cached, messages, FORWARDER),
            "uncached, SPF aligned": (fresh_verifier, messages[:100], MTA),
            "uncached, DKIM aligned": (fresh_verifier, messages[:100], FORWARDER),
        }

        async def run() -> None:
            for client_ip in (MTA, FORWARDER):
                await cached_verifier.verify(messages[0], client_ip, "mx", "b@acme.example")
            for _ in range(args.rounds):
                for label, (verifier_for, batch, client_ip) in scenarios.items():
                    measured = await _per_message(verifier_for, batch, client_ip)
                    results.setdefault(label, []).append(measured)

        asyncio.run(run())
        cached_verifier.close()
        for verifier in fresh:
            verifier.close()
        queries = len(server.queries)
    print(f"messages per round: {args.messages} cached, 100 uncached; rounds: {args.rounds}")
    print(f"DNS queries answered by the loopback server: {queries}")
    for label, values in results.items():
        wall = [w for w, _ in values]
        cpu = [c for _, c in values]
        print(
            f"{label:>36}: {min(wall):.3f} ms/message wall (fastest round; median "
            f"{statistics.median(wall):.3f}), {min(cpu):.3f} ms CPU"
        )


if __name__ == "__main__":
    main()
