"""A clock the local org data tests move by hand."""

from __future__ import annotations

from datetime import datetime, timedelta


class Clock:
    """A settable clock: the org's idea of now."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)
