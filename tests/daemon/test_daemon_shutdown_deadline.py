"""The daemon's shutdown runs within one deadline, and a failed start-up stops runners."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from pathlib import Path

import pytest

from relay.config import Config, load_config
from relay.daemon import Daemon, RunnerContext
from relay.errors import ConfigError


def _config(home: Path, deadline: float, http_port: int = 0) -> Config:
    config = load_config(environ={"RELAY_HOME": str(home), "RELAY_SMTP_MIN_FREE_BYTES": "0"})
    # Port 0 is not a valid RELAY_*_PORT value (parse_port); the tests pick free ports.
    return dataclasses.replace(
        config,
        # A configured (unreachable) org keeps the embedded local org out of these tests.
        salesforce=dataclasses.replace(
            config.salesforce, instance_url="https://127.0.0.1:9", access_token="t"
        ),
        http_port=http_port,
        smtp=dataclasses.replace(config.smtp, port=0, shutdown_deadline_seconds=deadline),
    )


async def _stubborn_runner(ctx: RunnerContext) -> None:
    """A runner that ignores the stop signal (a batch stuck in Salesforce)."""
    await asyncio.sleep(3600)


def test_runners_share_the_smtp_deadline(tmp_path: Path) -> None:
    """A DATA phase that never ends and a runner that never stops: one deadline, not two."""

    async def scenario() -> float:
        daemon = Daemon(_config(tmp_path / "home", deadline=1.0), runners=[_stubborn_runner])
        running = asyncio.create_task(daemon.run())
        listening = await daemon.wait_ready()
        reader, writer = await asyncio.open_connection("127.0.0.1", listening.smtp_port)
        await reader.readline()  # 220 greeting
        for command in (
            b"HELO client",
            b"MAIL FROM:<a@example.com>",
            b"RCPT TO:<log@relay.localhost>",
            b"DATA",
        ):
            writer.write(command + b"\r\n")
            await writer.drain()
            await reader.readline()
        writer.write(b"Subject: never finished\r\n\r\nbody without the final dot\r\n")
        await writer.drain()
        started = time.monotonic()
        daemon.request_stop("test")
        await asyncio.wait_for(running, timeout=10)
        writer.close()
        return time.monotonic() - started

    # The run ended (wait_for above): the deadline cut both; not before it. How close to
    # the deadline is a timing, measured by bench/deadlines.py.
    elapsed = asyncio.run(scenario())
    assert elapsed >= 0.9


def test_a_port_in_use_fails_start_up_before_any_runner_or_recovery(tmp_path: Path) -> None:
    """When the HTTP port is taken, start-up fails at once, and no runner ever started:
    a second relay on the same home must not touch the first one's queue."""
    stopped_by_signal: list[bool] = []

    async def polite_runner(ctx: RunnerContext) -> None:
        await ctx.stopping.wait()
        stopped_by_signal.append(True)

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def scenario() -> float:
            daemon = Daemon(
                _config(tmp_path / "home", deadline=30.0, http_port=port), runners=[polite_runner]
            )
            started = time.monotonic()
            with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
                await asyncio.wait_for(daemon.run(), timeout=20)
            return time.monotonic() - started

        asyncio.run(scenario())
    assert stopped_by_signal == []
