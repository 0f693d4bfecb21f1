"""The IMAP source's batch size, side by side: messages/s and the memory it holds.

    .venv/bin/python bench/imap_batches.py [--messages N] [--kib K] [--sizes 1,10,50,200]
        [--rounds R] [--batch-mib M]

A real Dovecot on loopback (tests/support/dovecot.py, STARTTLS with a test CA) is loaded
with N messages of about K KiB each by APPEND; then, for each batch size, ``open_imap``
reads the whole folder R times (the consumer keeps nothing). We report the median time,
messages/s, the ``UID FETCH`` round trips, and the peak of Python's heap during one more
read under tracemalloc (which slows the read it watches). Loopback has no round-trip
time: on a real network each fetch adds one, which the batch size divides.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.policy
import gc
import statistics
import sys
import time
import tracemalloc
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from relay.importing.imap import DEFAULT_BATCH_BYTES, open_imap  # noqa: E402
from tests.support.dovecot import PASSWORD, USER, Dovecot, running_dovecot  # noqa: E402


def message(number: int, kib: int) -> bytes:
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["From"] = "Customer <customer@acme.example>"
    mail["To"] = USER
    mail["Subject"] = f"Order {number}"
    mail["Message-ID"] = f"<bench-{number}@acme.example>"
    line = f"Order {number}: the quick brown fox jumps over the lazy dog.\n"
    mail.set_content(line * max(1, kib * 1024 // len(line)))
    return mail.as_bytes()


def load(server: Dovecot, count: int, kib: int) -> int:
    received = dt.datetime(2026, 9, 1, 12, tzinfo=dt.UTC)
    total = 0
    with server.admin() as imap:
        for number in range(count):
            raw = message(number, kib)
            total += len(raw)
            status, data = imap.append('"INBOX"', "", received, raw)
            assert status == "OK", data
    return total


def read(server: Dovecot, batch_size: int, batch_bytes: int) -> tuple[int, int]:
    source = open_imap(
        server.url(),
        password=PASSWORD,
        ca_file=server.ca_file,
        batch_size=batch_size,
        batch_bytes=batch_bytes,
    )
    try:
        count = sum(1 for _ in source.messages())
    finally:
        source.close()
    return count, source.fetch_commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--kib", type=int, default=20)
    parser.add_argument("--sizes", default="1,10,50,200")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--batch-mib", type=float, default=DEFAULT_BATCH_BYTES / 2**20, help="the byte bound"
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    batch_bytes = int(args.batch_mib * 2**20)
    with running_dovecot() as server:
        started = time.perf_counter()
        total = load(server, args.messages, args.kib)
        print(
            f"loaded {args.messages} messages, {total / 2**20:.1f} MiB, "
            f"in {time.perf_counter() - started:.1f} s"
        )
        print(f"{'batch':>6} {'seconds':>8} {'msg/s':>8} {'fetches':>8} {'peak heap MiB':>14}")
        for size in sizes:
            timings = []
            for _ in range(args.rounds):
                gc.collect()
                started = time.perf_counter()
                count, fetches = read(server, size, batch_bytes)
                timings.append(time.perf_counter() - started)
                assert count == args.messages, count
            seconds = statistics.median(timings)
            tracemalloc.start()
            read(server, size, batch_bytes)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"{size:>6} {seconds:>8.2f} {count / seconds:>8.0f} {fetches:>8} "
                f"{peak / 2**20:>14.1f}"
            )


if __name__ == "__main__":
    main()
