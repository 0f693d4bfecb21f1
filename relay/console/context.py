"""What every console page shares: the ``Console`` (its settings, the store, the sign-in
client, the bound URL), the signed-in User read from the session, and rendering.

Pages hold no business logic (docs/design.md §10): a handler reads the store through the
same APIs as the CLI, builds a plain view model (a dict) and renders one template.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import Session, get_session
from prometheus_client import CollectorRegistry

from relay.config import Config
from relay.console.oauth import CALLBACK_PATH, OrgSignIn, SignedInUser
from relay.logs import get_logger
from relay.salesforce.client import RetryPolicy, SalesforceClient
from relay.store.sql_store import SqlStore

log = get_logger("relay.console")
T = TypeVar("T")

SESSION_HOURS = 12
USER_KEY = "user"
CSRF_KEY = "csrf"
SIGNED_IN_AT_KEY = "signed_in_at"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass
class Console:
    """The console's dependencies, one per HTTP listener."""

    config: Config
    store: SqlStore
    sign_in: OrgSignIn | None
    address_secret: bytes
    session_key: bytes = b""
    base_url: str = ""  # set once the listener is bound (or RELAY_PUBLIC_URL)
    _integration: SalesforceClient | None = field(default=None, repr=False)
    _integration_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def integration(self) -> SalesforceClient:
        """Relay's own Salesforce client (its integration user), made on first use and
        kept: what the rep sync reads, so a card shows what delivery will use. Blocking."""
        with self._integration_lock:
            if self._integration is None:
                self._integration = SalesforceClient(
                    self.config.salesforce,
                    retry=RetryPolicy(attempts=2, max_seconds=10.0),
                    registry=CollectorRegistry(),  # not the process's /metrics registry
                    pool_size=2,
                )
            return self._integration

    def close(self) -> None:
        with self._integration_lock:
            if self._integration is not None:
                self._integration.close()
                self._integration = None

    @property
    def secure_cookies(self) -> bool:
        return (self.config.console.public_url or "").startswith("https://")

    def bound(self, host: str, port: int) -> str:
        """Record where the listener is; returns the URL people use."""
        public = self.config.console.public_url
        shown_host = f"[{host}]" if ":" in host else host
        self.base_url = public or f"http://{shown_host}:{port}"
        return self.base_url

    @property
    def redirect_uri(self) -> str:
        return self.base_url + CALLBACK_PATH

    def url(self, path: str) -> str:
        return self.base_url + path

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A store call, off the event loop (store calls block)."""
        return await asyncio.to_thread(function, *args, **kwargs)


CONSOLE_KEY: web.AppKey[Console] = web.AppKey("relay_console", Console)


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE_KEY]


def user_from_session(session: Session) -> SignedInUser | None:
    raw = session.get(USER_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        return SignedInUser(**raw)
    except TypeError:  # a cookie from another release of the console
        return None


async def current_user(request: web.Request) -> SignedInUser | None:
    return user_from_session(await get_session(request))


async def require_user(request: web.Request) -> SignedInUser:
    """The signed-in User, or a redirect to /login that comes back here."""
    user = await current_user(request)
    if user is None:
        back = request.rel_url.path_qs if request.method == "GET" else "/"
        raise web.HTTPFound("/login?" + _next_query(back))
    return user


async def require_admin(request: web.Request) -> SignedInUser:
    user = await require_user(request)
    if not user.is_admin:
        raise web.HTTPForbidden(reason="admins only")
    return user


def _next_query(path: str) -> str:
    return urlencode({"next": path})


def safe_next(value: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if not value:
        return "/settings"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/settings"
    return value


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


async def render(
    request: web.Request, template: str, context: Mapping[str, Any], status: int = 200
) -> web.Response:
    """One page: the template plus what every page shows (the User, the CSRF token,
    the flash message from the last POST)."""
    session = await get_session(request)
    user = user_from_session(session)
    flash = session.pop("flash", None)
    page = {
        "user": user,
        "csrf_token": session.get(CSRF_KEY, ""),
        "flash": flash,
        "path": request.path,
        **context,
    }
    return aiohttp_jinja2.render_template(template, request, page, status=status)


async def flash_and_redirect(
    request: web.Request, message: str, to: str, *, error: bool = False
) -> web.HTTPFound:
    """Post/redirect/get: the message shows once on the page the browser GETs next."""
    session = await get_session(request)
    session["flash"] = {"text": message, "error": error}
    return web.HTTPFound(to)


async def audit(
    request: web.Request, user: SignedInUser, action: str, target: str | None = None, **detail: Any
) -> None:
    """Every change made on a page is one log event naming the User who made it, and one
    row of the admin's audit list."""
    log.info(
        "console_change", action=action, user=user.username, user_id=user.user_id,
        target=target, **detail,
    )  # fmt: skip
    console = console_of(request)
    await console.run(
        console.store.record_audit, user.user_id, user.username, action, target, detail
    )
