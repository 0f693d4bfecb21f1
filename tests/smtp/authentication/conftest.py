"""Fixtures for the sender checks: a loopback DNS zone with SPF, DKIM and DMARC records."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from relay.smtp.authentication import SenderVerifier
from tests.smtp.authentication.auth_checks_helpers import Checker, acme_zone
from tests.support.dns_zone import DkimKey, ZoneServer, make_dkim_key, serve_zone


@pytest.fixture(scope="session")
def acme_key() -> DkimKey:
    return make_dkim_key()


@pytest.fixture
def zone(acme_key: DkimKey) -> Iterator[ZoneServer]:
    with serve_zone(acme_zone(acme_key)) as server:
        yield server


@pytest.fixture
def check(zone: ZoneServer) -> Iterator[Checker]:
    verifier = SenderVerifier(nameservers=[zone.nameserver], timeout_seconds=1.0)
    yield Checker(verifier)
    verifier.close()
