"""The org's daily API allocation, read from every response (``Sforce-Limit-Info``).

Salesforce adds ``Sforce-Limit-Info: api-usage=N/M`` to REST responses: N calls used in
the rolling 24-hour window out of the org's allocation M, and, for some connected apps,
``per-app-api-usage=N/M(appName=...)`` (REST API Developer Guide, "Limit Info Header").

The allocation is shared by every integration and user of the org, and running it out
stops them all, so Relay keeps the org's usage below a share of it
(``RELAY_SF_API_BUDGET_SHARE``, default 0.8). The default leaves a fifth of the day's
calls (20,000 on a 100,000-call org) for the tools that matter more than logging email,
while letting Relay work normally on an org that is not already near its limit. The
runners read ``pressure()`` to batch harder as usage climbs and ``should_pause()`` to
stop writing (mail is still accepted and waits in the queue).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from prometheus_client import CollectorRegistry, Gauge

DEFAULT_BUDGET_SHARE = 0.8

_API_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")
_PER_APP_USAGE = re.compile(r"per-app-api-usage=(\d+)/(\d+)\(appName=([^)]*)\)")


@dataclass(frozen=True)
class Usage:
    """Calls used and allowed in the rolling 24-hour window."""

    used: int
    limit: int

    @property
    def fraction(self) -> float:
        return self.used / self.limit if self.limit > 0 else 1.0


@dataclass(frozen=True)
class LimitInfo:
    org: Usage | None
    per_app: Usage | None = None
    app_name: str | None = None


def parse_limit_info(header: str) -> LimitInfo:
    """Parse a ``Sforce-Limit-Info`` value; parts it does not know are ignored."""
    org = _API_USAGE.search(header)
    app = _PER_APP_USAGE.search(header)
    return LimitInfo(
        org=Usage(int(org[1]), int(org[2])) if org else None,
        per_app=Usage(int(app[1]), int(app[2])) if app else None,
        app_name=app[3] if app else None,
    )


class ApiBudget:
    """The latest API usage Salesforce reported, and what it means for writing.

    Install ``observe`` as a response hook on the ``requests.Session`` so every call,
    whoever makes it, updates the figures. Thread-safe.
    """

    def __init__(
        self,
        share: float = DEFAULT_BUDGET_SHARE,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError("the API budget share must be more than 0 and at most 1")
        self.share = share
        self._lock = threading.Lock()
        self._info = LimitInfo(org=None)
        self._observed_at: float | None = None
        registry = registry if registry is not None else CollectorRegistry()
        self._used = Gauge(
            "relay_salesforce_api_used",
            "API calls the org has used in the rolling 24 h window (Sforce-Limit-Info).",
            registry=registry,
        )
        self._limit = Gauge(
            "relay_salesforce_api_limit",
            "The org's API allocation for the rolling 24 h window (Sforce-Limit-Info).",
            registry=registry,
        )
        self._pressure = Gauge(
            "relay_salesforce_api_budget_pressure",
            "Usage over Relay's budget (share x allocation); writes pause at 1.",
            registry=registry,
        )

    def observe(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        """requests response hook: keep the usage from ``Sforce-Limit-Info`` if present."""
        header = response.headers.get("Sforce-Limit-Info")
        if header:
            self.update(parse_limit_info(header))

    def update(self, info: LimitInfo) -> None:
        if info.org is None and info.per_app is None:
            return
        with self._lock:
            self._info = info
            self._observed_at = time.monotonic()
        if info.org is not None:
            self._used.set(info.org.used)
            self._limit.set(info.org.limit)
        self._pressure.set(self.pressure())

    @property
    def latest(self) -> LimitInfo:
        return self._info

    def pressure(self) -> float:
        """Usage as a fraction of Relay's budget: 0 idle, 1 at the budget, above 1 over.

        A per-app cap counts in full (it is the app's own, not shared), so pressure is
        the higher of the org's usage over ``share`` and the app's usage over its cap.
        """
        info = self._info
        pressures = [0.0]
        if info.org is not None:
            pressures.append(info.org.fraction / self.share)
        if info.per_app is not None:
            pressures.append(info.per_app.fraction)
        return max(pressures)

    def should_pause(self) -> bool:
        """True when writes should wait: usage has reached Relay's budget."""
        return self.pressure() >= 1.0

    def seconds_since_observed(self) -> float | None:
        """How old the figures are (None before the first response)."""
        at = self._observed_at
        return None if at is None else time.monotonic() - at
