"""Running a coroutine on uvloop when it is installed (``pip install 'relay[fast]'``).

uvloop is a drop-in event loop on libuv (https://uvloop.readthedocs.io/): the SMTP edge
and the runners spend much of their time in the loop's socket and callback machinery,
which it runs faster. It stays optional: without it the standard loop runs, unchanged.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's ``new_event_loop`` if importable, else None (the standard loop)."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on uvloop when it is installed."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
