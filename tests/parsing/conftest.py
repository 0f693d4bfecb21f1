"""Shared helpers for the parsing tests: fixture loading and a standard envelope."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relay.envelope import Envelope
from relay.parsing import Email, parse

FIXTURES = Path(__file__).parent / "fixtures"
DATA = Path(__file__).parent.parent / "data"
RELAY = "log@relay.localhost"
RECEIVED_AT = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)


def envelope(mail_from: str = "rep@us.example", *rcpts: str) -> Envelope:
    return Envelope(mail_from=mail_from, rcpt_tos=rcpts or (RELAY,), peer="127.0.0.1:40000")


def is_relay(address: str) -> bool:
    local, _, domain = address.partition("@")
    return domain == "relay.localhost" and (local == "log" or local.startswith("log+"))


def parse_bytes(raw: bytes, mail_from: str = "rep@us.example") -> Email:
    return parse(raw, envelope(mail_from), RECEIVED_AT, relay_addresses=is_relay)


@pytest.fixture
def parse_raw() -> Callable[..., Email]:
    """Parse raw bytes with the standard envelope and relay predicate."""
    return parse_bytes


@pytest.fixture
def fixture_email() -> Callable[..., Email]:
    """Parse a file from tests/parsing/fixtures by name."""

    def load(name: str, mail_from: str = "rep@us.example") -> Email:
        return parse_bytes((FIXTURES / name).read_bytes(), mail_from)

    return load
