"""Fault injection for the local org: ``--faults SPEC`` and ``/_localorg/faults``
(docs/localorg.md).

A spec maps a KIND to a RATE in [0, 1]. Request-level kinds are drawn once per data call
from a single random number, so the rates add up (their sum must be at most 1) and at
most one request-level fault fires per call. ``UNABLE_TO_LOCK_ROW`` is different: it is a
DML error, so it is drawn per write (per record in a collection) where the write happens.

What each kind does (the behaviour a Salesforce client has to survive):

- ``503`` / ``SERVER_UNAVAILABLE``: 503 with ``SERVER_UNAVAILABLE``.
- ``500``: 500 with ``UNKNOWN_EXCEPTION``.
- ``INVALID_SESSION_ID``: 401, as if the session had been revoked.
- ``REQUEST_LIMIT_EXCEEDED``: 403, as if the daily limit were spent.
- ``timeout``: the server never answers (until it shuts down, or 120 s).
- ``reset``: the TCP connection is closed abruptly (RST), with no answer.
- ``UNABLE_TO_LOCK_ROW``: writes fail with the DML error (400, or per record).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

LOCK_ROW = "UNABLE_TO_LOCK_ROW"
REQUEST_KINDS = (
    "503",
    "SERVER_UNAVAILABLE",
    "500",
    "INVALID_SESSION_ID",
    "REQUEST_LIMIT_EXCEEDED",
    "timeout",
    "reset",
)
KINDS = (*REQUEST_KINDS, LOCK_ROW)


class FaultSpecError(ValueError):
    """A fault spec a person must fix; the message names the bad part and what is allowed."""


@dataclass(frozen=True)
class FaultSpec:
    rates: Mapping[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float]:
        return dict(self.rates)


def parse_fault_spec(spec: str) -> FaultSpec:
    """Parse ``KIND:RATE,KIND:RATE`` (the ``--faults`` flag). An empty spec means no faults."""
    rates: dict[str, object] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        kind, sep, rate = part.rpartition(":")
        if not sep or not kind:
            raise FaultSpecError(f"{part!r}: expected KIND:RATE, for example 503:0.05")
        rates[kind.strip()] = rate.strip()
    return fault_spec_from_mapping(rates)


def fault_spec_from_mapping(rates: Mapping[str, object]) -> FaultSpec:
    """Validate a KIND -> RATE mapping (the JSON body of ``PUT /_localorg/faults``)."""
    clean: dict[str, float] = {}
    for kind, raw in rates.items():
        canonical = _canonical_kind(str(kind))
        if canonical is None:
            raise FaultSpecError(f"unknown fault kind {kind!r} (known: {', '.join(KINDS)})")
        if isinstance(raw, bool):
            raise FaultSpecError(f"{kind}: rate must be a number between 0 and 1")
        try:
            rate = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise FaultSpecError(f"{kind}: rate {raw!r} is not a number between 0 and 1") from None
        if not 0.0 <= rate <= 1.0:
            raise FaultSpecError(f"{kind}: rate {rate} is outside 0..1")
        if rate > 0:
            clean[canonical] = rate
    request_total = sum(rate for kind, rate in clean.items() if kind != LOCK_ROW)
    if request_total > 1.0 + 1e-9:
        raise FaultSpecError(
            f"request-level fault rates add up to {request_total:.3f}; they must total at most 1"
        )
    return FaultSpec(clean)


def _canonical_kind(kind: str) -> str | None:
    for known in KINDS:
        if known.lower() == kind.lower():
            return known
    return None


class FaultInjector:
    """Draws faults at the configured rates; replaced whole by ``PUT /_localorg/faults``."""

    def __init__(self, spec: FaultSpec | None = None, seed: int | None = None) -> None:
        self.spec = spec or FaultSpec()
        self._random = random.Random(seed)

    def draw_request_fault(self) -> str | None:
        """At most one request-level fault for this call, or None."""
        if not self.spec.rates:
            return None
        roll = self._random.random()
        cumulative = 0.0
        for kind, rate in self.spec.rates.items():
            if kind == LOCK_ROW:
                continue
            cumulative += rate
            if roll < cumulative:
                return kind
        return None

    def draw_lock_failure(self) -> bool:
        """True if this write (or this record of a collection) hits UNABLE_TO_LOCK_ROW."""
        rate = self.spec.rates.get(LOCK_ROW, 0.0)
        return rate > 0 and self._random.random() < rate
