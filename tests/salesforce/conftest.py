"""The local org over real HTTPS for the Salesforce client tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from relay.salesforce.client import SalesforceClient
from tests.salesforce.sfclient_helpers import admin, client_for, password_config
from tests.support.localorg import RunningOrg, running_org


@pytest.fixture(scope="module")
def local_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrg]:
    """One local org per test module (start-up makes certificates and a database)."""
    with running_org(tmp_path_factory.mktemp("org")) as running:
        yield running


@pytest.fixture
def org(local_org: Any) -> Iterator[Any]:
    """The org's connection info; faults and switches are put back after each test."""
    info = local_org.info
    yield info
    admin(info, "PUT", "/_localorg/faults", {})
    admin(info, "PUT", "/_localorg/settings", {"api_enabled": True, "daily_api_limit": 100_000})


@pytest.fixture
def client(org: Any) -> Iterator[SalesforceClient]:
    """A client logged in with the username-password flow."""
    with client_for(password_config(org)) as sf_client:
        yield sf_client
