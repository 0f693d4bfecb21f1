"""Helpers for the local org tests: HTTPS sessions trusting the org's CA, clients."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from simple_salesforce import Salesforce

from relay.localorg.runner import LocalOrg, LocalOrgInfo

API_VERSION = "62.0"


def https_session(info: LocalOrgInfo, token: str | None = None) -> requests.Session:
    session = requests.Session()
    # Without this, REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment silently win
    # over session.verify (requests' merge_environment_settings), and proxies apply.
    session.trust_env = False
    session.verify = info.ca_file
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def salesforce_client(info: LocalOrgInfo, version: str = API_VERSION) -> Salesforce:
    """simple-salesforce on a direct session, as Relay uses it."""
    return Salesforce(
        instance_url=info.instance_url,
        session_id=info.access_token,
        session=https_session(info),
        version=version,
    )


@dataclass
class RunningOrg:
    org: LocalOrg
    info: LocalOrgInfo
    admin: requests.Session

    def client(self, version: str = API_VERSION) -> Salesforce:
        return salesforce_client(self.info, version)

    def url(self, path: str) -> str:
        return f"{self.info.instance_url}{path}"

    def set_faults(self, rates: dict[str, float]) -> None:
        response = self.admin.put(self.url("/_localorg/faults"), json=rates)
        assert response.status_code == 200, response.text

    def set_settings(self, values: dict[str, Any]) -> dict[str, Any]:
        response = self.admin.put(self.url("/_localorg/settings"), json=values)
        assert response.status_code == 200, response.text
        settings: dict[str, Any] = response.json()
        return settings


def start_org(data_dir: Path, **options: Any) -> RunningOrg:
    org = LocalOrg(data_dir, **options)
    info = org.start()
    return RunningOrg(org, info, https_session(info, info.access_token))
