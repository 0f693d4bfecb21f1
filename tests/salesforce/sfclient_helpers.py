"""Helpers for the Salesforce client tests: configs for the local org, its admin calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from relay.config import SalesforceConfig
from relay.salesforce.client import RetryPolicy, SalesforceClient

# Retries that still back off and give up, but in milliseconds.
FAST_RETRY = RetryPolicy(
    attempts=3,
    max_seconds=10.0,
    initial_wait_seconds=0.01,
    max_wait_seconds=0.05,
    jitter_seconds=0.01,
    defer_seconds=30.0,
)


def admin(info: Any, method: str, path: str, body: Any = None, *, data: bytes | None = None) -> Any:
    """Call one of the local org's admin endpoints with its access token."""
    response = requests.request(
        method,
        info.instance_url + path,
        json=body if data is None else None,
        data=data,
        headers={"Authorization": f"Bearer {info.access_token}"},
        verify=info.ca_file,
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def password_config(info: Any, **overrides: Any) -> SalesforceConfig:
    """A username-password flow config for the local org described by ``info``."""
    values: dict[str, Any] = {
        "token_url": info.token_url,
        "client_id": info.client_id,
        "client_secret": info.client_secret,
        "username": info.username,
        "password": info.password,
        "ca_file": Path(info.ca_file),
    }
    values.update(overrides)
    return SalesforceConfig(**values)


def client_for(config: SalesforceConfig, **kwargs: Any) -> SalesforceClient:
    kwargs.setdefault("retry", FAST_RETRY)
    return SalesforceClient(config, **kwargs)
