"""The Tasks page's sync state (pure): whether the rep's Task sync is on (their settings)
and what the sync engine last did, from its stored state (relay/store/task_sync.py):
the last cycle's time and the last error, in the sync's own words
(relay/tasksync/wording.py), as `relay doctor` shows them.

The engine keeps one cycle for all reps (one poll, docs/design.md §9), so a rep's last
cycle is that one, once the rep is in it: a rep whose sync is on but whom no cycle has
taken in yet is "waiting for the first cycle".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from relay.store.task_sync import SyncRep, SyncState

NONE = "none"


@dataclass(frozen=True)
class SyncCycle:
    """What the page shows: the last cycle (as text), the last error (``none``), and
    whether that error needs a person (an alert rather than a note)."""

    last_cycle: str
    last_error: str = NONE
    needs_fix: bool = False
    first_import: str | None = None


def shown(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def sync_cycle(
    on: bool, rep: SyncRep | None, state: SyncState, interval_seconds: float
) -> SyncCycle:
    """The page's view of the sync for one rep."""
    every = f"every {interval_seconds:g} s"
    if not on:
        if rep is not None and rep.disabled_at is not None:
            return SyncCycle(f"none since you turned it off on {shown(rep.disabled_at)}")
        return SyncCycle("none: the sync is off")
    if rep is None or not rep.enabled:
        return SyncCycle(f"waiting for the first cycle (the sync runs {every})")
    cycle = "not yet" if state.last_cycle_at is None else shown(state.last_cycle_at)
    first = shown(rep.imported_at) if rep.imported_at else None
    if not state.error_kind:
        return SyncCycle(f"{cycle} (the sync runs {every})", first_import=first)
    return SyncCycle(
        f"{cycle} (the sync runs {every})",
        last_error=state.error or state.error_kind,
        needs_fix=state.error_kind == "needs_attention",
        first_import=first,
    )
