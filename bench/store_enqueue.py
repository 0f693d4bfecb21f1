"""Store enqueue throughput: N threads enqueue 2 KB messages, as the SMTP edge does.

    .venv/bin/python bench/store_enqueue.py [--url URL] [--threads 8] [--messages 8000]
                                            [--nowait]

With --nowait one thread keeps --threads messages in flight through
``Store.enqueue_nowait`` (as the SMTP edge does, awaiting the group-commit Future) instead
of --threads threads each blocking in ``Store.enqueue``.

Without --url it uses a fresh SQLite file in a temporary directory. Logging is configured
as in production (JSON lines), written to /dev/null, so its cost is included.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from datetime import UTC, datetime

from relay.envelope import Envelope
from relay.logs import configure_logging
from relay.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--messages", type=int, default=8000)
    parser.add_argument("--nowait", action="store_true", help="one thread, enqueue_nowait")
    args = parser.parse_args()
    with open(os.devnull, "w") as sink, tempfile.TemporaryDirectory() as tmp:
        configure_logging("info", "json", stream=sink)
        url = args.url or f"sqlite:///{tmp}/relay.db"
        store = open_store(url)
        envelope = Envelope("rep@example.com", ("log@relay.localhost",), "127.0.0.1:1", "mx")
        template = (
            b"Message-ID: <%d.%d@example.com>\r\nFrom: rep@example.com\r\n"
            b"To: buyer@example.net\r\nSubject: Quarterly pricing\r\n\r\n"
        )
        per_thread = args.messages // args.threads

        def sender(thread: int) -> None:
            for n in range(per_thread):
                head = template % (thread, n)
                store.enqueue(head + b"x" * (2048 - len(head)), envelope, datetime.now(UTC))

        def nowait_sender(_thread: int) -> None:
            in_flight = threading.BoundedSemaphore(args.threads)
            futures = []
            for n in range(per_thread * args.threads):
                head = template % (0, n)
                in_flight.acquire()
                future = store.enqueue_nowait(
                    head + b"x" * (2048 - len(head)), envelope, datetime.now(UTC)
                )
                future.add_done_callback(lambda _done: in_flight.release())
                futures.append(future)
            for future in futures:
                future.result()

        threads = (
            [threading.Thread(target=nowait_sender, args=(0,))]
            if args.nowait
            else [threading.Thread(target=sender, args=(t,)) for t in range(args.threads)]
        )
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        store.close()
    total = per_thread * args.threads
    backend = url.split(":", 1)[0]
    how = f"{args.threads} in flight, enqueue_nowait" if args.nowait else f"{args.threads} threads"
    print(f"{backend}: {total} messages, {how}: {total / elapsed:,.0f} msg/s")


if __name__ == "__main__":
    main()
