"""Running a coroutine on uvloop when it is installed (a dependency of Relay wherever
uvloop builds: not on Windows).

uvloop is a drop-in event loop on libuv (https://uvloop.readthedocs.io/): the SMTP edge
and the runners spend much of their time in the loop's socket and callback machinery,
which it runs faster. Without it the standard loop runs, unchanged.

``RELAY_EVENT_LOOP`` chooses for every process of `relay serve` (the children inherit
the environment, docs/design.md §2): ``auto`` (the default: uvloop if importable),
``uvloop`` (required: start-up fails if it is missing) or ``asyncio`` (the standard loop
even when uvloop is installed, to compare the two or to rule the loop out when
debugging; docs/benchmarks.md measures both).
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from relay.errors import ConfigError

T = TypeVar("T")
ENV = "RELAY_EVENT_LOOP"
CHOICES = ("auto", "uvloop", "asyncio")


def loop_factory(
    environ: Mapping[str, str] | None = None,
) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's ``new_event_loop``, or None (the standard loop), as ``RELAY_EVENT_LOOP``
    says; ConfigError for a value not in CHOICES, or ``uvloop`` when it is not installed."""
    env = os.environ if environ is None else environ
    choice = env.get(ENV, "").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ConfigError([f"{ENV}={env[ENV]!r}: expected one of {', '.join(CHOICES)}"])
    if choice == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            raise ConfigError(
                [f"{ENV}=uvloop but uvloop is not installed (pip install uvloop)"]
            ) from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on the loop ``loop_factory`` picks."""
    try:
        factory = loop_factory()
    except ConfigError:
        main.close()  # never awaited: no "coroutine was never awaited" warning
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
