"""Ingest benchmark: Relay's SMTP edge against a bare aiosmtpd sink, same client, same run.

    .venv/bin/python bench/ingest.py [--messages 5000] [--connections 8] [--size 2048]
                                     [--relay edge|serve|both] [--workers N]

All servers run as subprocesses with aiosmtpd's ``SMTP`` protocol on ``loop.create_server``
and the same line and size limits; the sink's handler only answers 250. The client is one
asyncio process speaking plain SMTP over N connections, the same code and the same
messages for every server. Two ways to run Relay:

- ``edge``: Relay's daemon (store, SMTP edge, health endpoint, JSON logs) without the
  delivery runner, so the figure is ingest alone;
- ``serve``: ``relay serve`` exactly as shipped (``--workers`` passed on if given); with no
  Salesforce credentials its delivery workers work the new mail into the embedded local
  org while the mail comes in, so it measures ingest plus delivery competing for the same
  cores (its CPU is the supervisor's and its processes', docs/design.md §2).

Prints messages per second for each, relay/sink (target >= 0.8 for the edge), the server
CPU time per message, then the peak RSS (VmHWM) of the last Relay process while 10
clients send 20 MB messages at once. A script, not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _cpu import tree_cpu_seconds
from aiosmtpd.smtp import SMTP

from relay.config import DEFAULT_MAX_MESSAGE_BYTES, SmtpConfig

DOMAIN = "relay.example"
# The bench measures ingestion, not sender checks: it writes as a named inbound source
# (localhost with the secret address), whose copies Relay accepts whoever sent them.
INBOUND_SECRET = "bench-inbound-secret-0001"
RCPT = f"log+inbound-{INBOUND_SECRET}@{DOMAIN}"
RELAY_SERVE = [sys.executable, "-m", "relay", "serve", "--smtp-port", "0", "--http-port", "0"]
LINE = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n"


# --- the sink ----------------------------------------------------------------------------


class SinkHandler:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


class SinkSMTP(SMTP):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.line_length_limit = SmtpConfig().max_line_bytes + 3  # same as relay
        super().__init__(
            SinkHandler(),
            data_size_limit=DEFAULT_MAX_MESSAGE_BYTES,
            hostname="sink.bench",
            enable_SMTPUTF8=True,
            loop=loop,
        )


async def run_sink(ready_file: Path) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SinkSMTP(loop), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    document = json.dumps({"smtp_port": port, "pid": os.getpid()})
    await asyncio.to_thread(ready_file.write_text, document)
    await asyncio.Event().wait()


# --- Relay without its runners -----------------------------------------------------------


def run_edge(ready_file: Path) -> None:
    """``relay serve`` minus the delivery runner and the embedded org: ingest alone."""
    import dataclasses

    from relay.config import load_config
    from relay.daemon import Daemon, Listening
    from relay.logs import configure_logging

    config = load_config(None)
    config = dataclasses.replace(config, http_port=0, smtp=dataclasses.replace(config.smtp, port=0))
    configure_logging(config.log_level, config.log_format)

    def ready(listening: Listening) -> None:
        document = dataclasses.asdict(listening) | {"pid": os.getpid()}
        ready_file.write_text(json.dumps(document))

    asyncio.run(Daemon(config, runners=[], on_ready=ready).run(install_signal_handlers=True))


# --- the client --------------------------------------------------------------------------


async def expect(reader: asyncio.StreamReader, code: bytes) -> None:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        if line[3:4] != b"-":
            break
    if not line.startswith(code):
        raise RuntimeError(f"expected {code!r}, got {line!r}")


async def session(port: int, messages: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    await expect(reader, b"220")
    writer.write(b"EHLO client.bench\r\n")
    await expect(reader, b"250")
    for raw in messages:
        writer.write(b"MAIL FROM:<rep@customer.example>\r\n")
        await expect(reader, b"250")
        writer.write(f"RCPT TO:<{RCPT}>\r\n".encode())
        await expect(reader, b"250")
        writer.write(b"DATA\r\n")
        await expect(reader, b"354")
        writer.write(raw)
        writer.write(b".\r\n")
        await writer.drain()
        await expect(reader, b"250")
    writer.write(b"QUIT\r\n")
    await expect(reader, b"221")
    writer.close()
    await writer.wait_closed()


def build_message(number: int, size: int) -> bytes:
    head = (
        f"From: Rep <rep@customer.example>\r\nTo: Buyer <buyer@prospect.example>\r\n"
        f"Subject: benchmark {number}\r\nMessage-ID: <bench-{number}@bench.example>\r\n\r\n"
    ).encode()
    body = LINE * max(1, (size - len(head)) // len(LINE))
    return head + body


async def blast(port: int, count: int, connections: int, size: int, offset: int = 0) -> float:
    """Send ``count`` messages over ``connections`` sessions; return messages per second."""
    messages = [build_message(offset + n, size) for n in range(count)]
    shares = [messages[n::connections] for n in range(connections)]
    started = time.perf_counter()
    await asyncio.gather(*(session(port, share) for share in shares))
    return count / (time.perf_counter() - started)


# --- the servers under test --------------------------------------------------------------


def start(
    command: list[str], env: dict[str, str], ready_file: Path
) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while not ready_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{command} did not start")
        time.sleep(0.05)
    return process, json.loads(ready_file.read_text())


Server = tuple[subprocess.Popen[bytes], dict[str, int]]


def start_relay(kind: str, home: Path, env: dict[str, str], workers: int | None = None) -> Server:
    relay_env = env | {
        "RELAY_HOME": str(home / kind),
        "RELAY_DOMAIN": DOMAIN,
        "RELAY_LOG_FORMAT": "json",
        "RELAY_SMTP_MIN_FREE_BYTES": "0",
        "RELAY_SMTP_INBOUND_NETWORKS": "127.0.0.1/32",
        "RELAY_SMTP_INBOUND_SECRET": INBOUND_SECRET,
    }
    ready = home / f"{kind}.json"
    command = (
        [sys.executable, __file__, "--edge", str(ready)]
        if kind == "edge"
        else [
            *RELAY_SERVE,
            "--ready-file",
            str(ready),
            *(["--workers", str(workers)] if workers is not None else []),
        ]
    )
    return start(command, relay_env, ready)


def measure(
    servers: dict[str, Server], args: argparse.Namespace, per_round: int
) -> dict[str, tuple[float, float]]:
    """Interleaved rounds, so every server sees the same background load (the machine is
    shared); returns each server's msg/s (total messages over total time) and its CPU s."""
    warm = min(200, args.messages)
    for _process, ready in servers.values():
        asyncio.run(blast(ready["smtp_port"], warm, args.connections, args.size))
    seconds = dict.fromkeys(servers, 0.0)
    cpu = dict.fromkeys(servers, 0.0)
    for number in range(args.rounds):
        offset = (number + 1) * 10**6
        for name, (process, ready) in servers.items():
            before = tree_cpu_seconds(process.pid)
            port = ready["smtp_port"]
            rate = asyncio.run(blast(port, per_round, args.connections, args.size, offset))
            seconds[name] += per_round / rate
            cpu[name] += tree_cpu_seconds(process.pid) - before
    total = per_round * args.rounds
    return {name: (total / seconds[name], cpu[name]) for name in servers}


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--relay", choices=("edge", "serve", "both"), default="both")
    parser.add_argument(
        "--workers", type=int, default=None, help="serve's --workers (default: its own)"
    )
    parser.add_argument("--big-clients", type=int, default=10)
    parser.add_argument("--big-mb", type=int, default=20)
    parser.add_argument("--sink", type=Path, help=argparse.SUPPRESS)  # internal: run the sink
    parser.add_argument("--edge", type=Path, help=argparse.SUPPRESS)  # internal: run the edge
    args = parser.parse_args()
    if args.sink:
        asyncio.run(run_sink(args.sink))
        return
    if args.edge:
        run_edge(args.edge)
        return

    kinds = ["edge", "serve"] if args.relay == "both" else [args.relay]
    per_round = args.messages // args.rounds
    total = per_round * args.rounds
    rates: dict[str, float] = {}
    cpu: dict[str, float] = {}
    rss_before = rss_peak = 0
    big_seconds = 0.0
    with tempfile.TemporaryDirectory(prefix="relay-bench-") as temp:
        home = Path(temp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
        sink = start(
            [sys.executable, __file__, "--sink", str(home / "sink.json")], env, home / "sink.json"
        )
        try:
            for kind in kinds:
                # One Relay process at a time: `relay serve` keeps delivering its backlog
                # after a round, which would slow whatever is measured next.
                relay = start_relay(kind, home, env, args.workers)
                try:
                    names = ["sink", kind] if "sink" not in rates else [kind]
                    servers = {"sink": sink, kind: relay}
                    measured = measure({name: servers[name] for name in names}, args, per_round)
                    for name, (rate, seconds) in measured.items():
                        rates[name], cpu[name] = rate, seconds
                    if kind == kinds[0] and args.big_clients:
                        rss_before = vm_hwm_kib(relay[0].pid)
                        started = time.perf_counter()
                        big = args.big_mb * 1024 * 1024
                        port = relay[1]["smtp_port"]
                        clients = args.big_clients
                        asyncio.run(blast(port, clients, clients, big, 99 * 10**6))
                        big_seconds = time.perf_counter() - started
                        rss_peak = vm_hwm_kib(relay[0].pid)
                finally:
                    relay[0].terminate()
                    relay[0].wait(30)
        finally:
            sink[0].terminate()
            sink[0].wait(30)

    print(
        f"ingest: {total} messages of {args.size} B over {args.connections} connections, "
        f"{args.rounds} interleaved rounds"
    )
    for name in ["sink", *kinds]:
        ratio = "" if name == "sink" else f"   relay/sink = {rates[name] / rates['sink']:.2f}"
        print(
            f"  {name:5}: {rates[name]:8.0f} msg/s   server CPU {cpu[name] / total * 1000:.2f} "
            f"ms/msg{ratio}"
        )
    print("  target: edge/sink >= 0.8")
    if len(kinds) > 1:
        print("  (serve's rounds ran after the sink's and the edge's, not interleaved with them)")
    print(
        f"peak RSS of relay ({kinds[0]}): {rss_before / 1024:.0f} MiB after the ingest run, "
        f"{rss_peak / 1024:.0f} MiB after {args.big_clients} clients sent {args.big_mb} MB each "
        f"at once ({big_seconds:.1f} s)"
    )


if __name__ == "__main__":
    main()
