"""The Tasks page's sync state: whether the rep's Task sync is on (their settings) and
what the Task sync engine last did (its last cycle and last error).

``last_cycle`` is the one hook for the engine's own record: until the engine keeps one,
it answers "not available", and the page says so rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass

NOT_AVAILABLE = "not available"


@dataclass(frozen=True)
class SyncCycle:
    """The engine's last cycle for one rep: when it ran and its last error, as text."""

    last_cycle: str = NOT_AVAILABLE
    last_error: str = NOT_AVAILABLE


def last_cycle(user_id: str) -> SyncCycle:
    """What the Task sync engine last did for ``user_id``: not recorded yet."""
    del user_id
    return SyncCycle()
