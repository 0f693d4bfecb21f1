"""Running the local org: in a background thread (tests, ``relay serve``) or on a loop.

``LocalOrg(data_dir).start()`` binds an ephemeral HTTPS port, runs the aiohttp app on its
own event loop in a daemon thread, and returns ``LocalOrgInfo``: everything a client
needs (the JSON line ``relay org serve`` prints). Synchronous code in the same process,
simple-salesforce included, can then call it. ``stop()`` shuts it down.

Start-up order (uvicorn's: recover, then serve): certificates, credentials, the data
store, the integration user, sessions, then the listener. Shutdown is the reverse, and
"timeout" faults that are hanging are released first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from relay.config import Config
from relay.localorg.auth import (
    CREDENTIALS_FILE,
    DEFAULT_SESSION_TTL_SECONDS,
    OrgCredentials,
    SessionStore,
    load_or_create_credentials,
)
from relay.localorg.data import OrgData
from relay.localorg.faults import FaultInjector, FaultSpec
from relay.localorg.running_file import RUNNING_FILE, write_running_file
from relay.localorg.server import build_app
from relay.localorg.state import OrgState
from relay.localorg.tls import ensure_certificates, server_ssl_context

DATA_FILE = "org.db"
T = TypeVar("T")


@dataclass(frozen=True)
class LocalOrgInfo:
    """How to reach and log in to a running local org (``relay org serve``'s JSON line)."""

    instance_url: str
    access_token: str
    ca_file: str
    token_url: str
    client_id: str
    client_secret: str
    username: str
    password: str
    security_token: str
    user_id: str
    org_id: str
    data_dir: str

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def integration_user_id(data: OrgData, credentials: OrgCredentials) -> str:
    """The bootstrap integration user (the org's admin, created by the data layer) that
    the credentials log in as."""
    user = data.find_user(credentials.username)
    if user is None:
        raise RuntimeError(
            f"the local org has no user {credentials.username}; {CREDENTIALS_FILE} does not "
            "belong to this data directory"
        )
    return str(user["Id"])


def instance_host(host: str) -> str:
    if host in ("0.0.0.0", "", "::"):  # noqa: S104 - naming the wildcard, not binding it
        return "localhost"
    return f"[{host}]" if ":" in host else host


class LocalOrg:
    def __init__(
        self,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        faults: FaultSpec | None = None,
        session_ttl_seconds: float = DEFAULT_SESSION_TTL_SECONDS,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.latency_ms = latency_ms
        self.faults = faults
        self.session_ttl_seconds = session_ttl_seconds
        self.state: OrgState | None = None
        self.info: LocalOrgInfo | None = None
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # --- on an existing event loop ------------------------------------------------------

    async def start_async(self) -> LocalOrgInfo:
        """Start serving on the running loop; the data store is used from this loop only."""
        tls = ensure_certificates(self.data_dir)
        credentials = load_or_create_credentials(self.data_dir)
        data = OrgData(self.data_dir / DATA_FILE)
        user_id = integration_user_id(data, credentials)
        sessions = SessionStore(self.data_dir, data.org_id, self.session_ttl_seconds)
        state = OrgState(
            data=data,
            data_dir=self.data_dir,
            org_id=data.org_id,
            credentials=credentials,
            sessions=sessions,
            faults=FaultInjector(self.faults),
            latency_ms=self.latency_ms,
        )
        runner = web.AppRunner(
            build_app(state),
            access_log=None,  # the hot path: no per-request log line
            # Room for URIs past 16,384 bytes, so the org itself answers 414 for them.
            max_line_size=65536,
            max_field_size=65536,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        site = web.TCPSite(
            runner, self.host, self.port, ssl_context=server_ssl_context(tls), backlog=512
        )
        await site.start()
        port = runner.addresses[0][1]
        state.instance_url = f"https://{instance_host(self.host)}:{port}"
        session = sessions.issue(user_id, credentials.username)
        self.state, self._runner = state, runner
        self.info = LocalOrgInfo(
            instance_url=state.instance_url,
            access_token=session.token,
            ca_file=str(tls.ca_file),
            token_url=state.token_url,
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            username=credentials.username,
            password=credentials.password,
            security_token=credentials.security_token,
            user_id=user_id,
            org_id=data.org_id,
            data_dir=str(self.data_dir),
        )
        return self.info

    async def stop_async(self) -> None:
        if self.state is not None:
            self.state.stopping.set()
            await self.state.ingest.stop()
        if self._runner is not None:
            # Idle keep-alive connections would otherwise wait for the client's TLS
            # close_notify; the org is going away, so drop them (in-flight ones too).
            server = self._runner.server
            for handler in list(server.connections) if server is not None else []:
                if handler.transport is not None:
                    handler.transport.abort()
            await self._runner.cleanup()
            self._runner = None
        if self.state is not None:
            self.state.data.close()
            self.state = None

    # --- in a background thread ---------------------------------------------------------

    def start(self) -> LocalOrgInfo:
        """Run the org on its own loop in a daemon thread; return once it is serving."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop_async())
            loop.close()

        self._thread = threading.Thread(target=serve, name="localorg", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        assert self.info is not None
        return self.info

    def call(self, function: Callable[[OrgData], T]) -> T:
        """Run ``function(data)`` on the org's loop thread (where its store lives)."""
        assert self._loop is not None
        assert self.state is not None
        data = self.state.data

        async def run() -> T:
            return function(data)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result()

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop = None
        self._thread = None

    def __enter__(self) -> LocalOrgInfo:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


@asynccontextmanager
async def embedded_org(config: Config) -> AsyncIterator[Config]:
    """Run the local org in ``RELAY_HOME/localorg`` for the daemon's lifetime
    (``Daemon(local_org=embedded_org)``), yielding ``config`` pointed at it: a direct
    session plus username-password OAuth credentials for re-authentication.

    The org runs on its own thread and loop, not the daemon's: its handlers do SQLite
    work synchronously, which must never stall the SMTP listener. While it runs,
    ``RUNNING_FILE`` in its data directory says how to reach it, so CLI commands
    (`relay explain`, `relay unresolved assign`) talk to this org instead of opening the
    same SQLite file a second time."""
    local_org = LocalOrg(config.home / "localorg")
    info = await asyncio.to_thread(local_org.start)
    running = Path(info.data_dir) / RUNNING_FILE
    write_running_file(running, info.as_json())
    try:
        yield config_for_org(config, info)
    finally:
        running.unlink(missing_ok=True)
        await asyncio.to_thread(local_org.stop)


def config_for_org(config: Config, info: LocalOrgInfo) -> Config:
    """``config`` pointed at a running local org: a direct session plus
    username-password OAuth credentials for re-authentication."""
    return dataclasses.replace(
        config,
        salesforce=dataclasses.replace(
            config.salesforce,
            instance_url=info.instance_url,
            access_token=info.access_token,
            token_url=info.token_url,
            client_id=info.client_id,
            client_secret=info.client_secret,
            username=info.username,
            password=info.password,
            ca_file=Path(info.ca_file),
        ),
    )


@asynccontextmanager
async def attached_org(config: Config, running_file: Path) -> AsyncIterator[Config]:
    """The embedded org that another process of `relay serve` runs (relay/supervisor.py):
    ``config`` pointed at it, as its ``RUNNING_FILE`` says (docs/design.md §2)."""
    document = json.loads(await asyncio.to_thread(running_file.read_text))
    names = {item.name for item in dataclasses.fields(LocalOrgInfo)}
    yield config_for_org(config, LocalOrgInfo(**{k: v for k, v in document.items() if k in names}))
