"""Everything one running local org shares between its routes (one per aiohttp app)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from relay.localorg.auth import OrgCredentials, SessionStore
from relay.localorg.cursors import QueryCursors
from relay.localorg.data import OrgData
from relay.localorg.faults import FaultInjector
from relay.localorg.web_credentials import AuthorizationCodes, UserPasswords

if TYPE_CHECKING:
    from relay.localorg.bulk_ingest import IngestJobs

# REST API versions the org serves: Summer '21 (52.0) to Spring '26 (66.0).
API_VERSIONS = tuple(f"{major}.0" for major in range(52, 67))
LATEST_VERSION = API_VERSIONS[-1]
# SOAP API login() is not available from API version 65.0 (Salesforce Help, "Platform
# SOAP API login() Retirement", article 005132110).
SOAP_LOGIN_LAST_VERSION = 64.0


@dataclass
class OrgState:
    data: OrgData
    data_dir: Path
    org_id: str
    credentials: OrgCredentials
    sessions: SessionStore
    faults: FaultInjector
    latency_ms: float = 0.0
    instance_url: str = ""
    cursors: QueryCursors = field(default_factory=QueryCursors)
    ingest: IngestJobs = field(default_factory=lambda: _ingest_jobs())
    # The web server flow (routes_web_login.py): codes in memory, Users' passwords on disk.
    codes: AuthorizationCodes = field(default_factory=AuthorizationCodes)
    passwords: UserPasswords | None = None
    # Set at shutdown so "timeout" faults stop hanging and the server can close.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if self.passwords is None:
            self.passwords = UserPasswords(self.data_dir)

    @property
    def user_passwords(self) -> UserPasswords:
        assert self.passwords is not None  # set in __post_init__
        return self.passwords

    @property
    def token_url(self) -> str:
        return f"{self.instance_url}/services/oauth2/token"


def _ingest_jobs() -> IngestJobs:
    from relay.localorg.bulk_ingest import IngestJobs

    return IngestJobs()


STATE_KEY: web.AppKey[OrgState] = web.AppKey("localorg_state", OrgState)


def state_of(request: web.Request) -> OrgState:
    return request.app[STATE_KEY]
