"""The console's middlewares, outermost first: pages (errors as pages, security
headers), the session (an encrypted cookie), and CSRF.

- Health endpoints (``/healthz``, ``/readyz``, ``/metrics``) pass through untouched:
  no session, no cookie, no headers added (docs/design.md §10).
- Session: aiohttp-session's ``EncryptedCookieStorage`` (Fernet: AES-128-CBC and
  HMAC-SHA256, so the browser can neither read nor alter it), ``HttpOnly``,
  ``SameSite=Lax`` (the OAuth callback is a top-level GET from the org, which Lax
  allows), ``Secure`` when ``RELAY_PUBLIC_URL`` is https, and 12 hours: the cookie's
  Max-Age, Fernet's TTL, and the sign-in time checked on every request.
- CSRF: one random token per session, made at sign-in; every POST must carry it, as the
  form field ``csrf_token`` or the ``X-CSRF-Token`` header (htmx), compared in constant
  time; otherwise 403 and nothing changes. One token per session, not per request, so two
  tabs and htmx requests keep working (OWASP CSRF Prevention Cheat Sheet, "Synchronizer
  Token Pattern": per-session tokens are acceptable).
- Errors: a page never shows a traceback; 403, 404 and 500 are pages of their own.
- Every page answers ``Server-Timing: page;dur=MS``, its time in the handler.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp_session import get_session, session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from relay.console.context import (
    CSRF_FIELD,
    CSRF_HEADER,
    CSRF_KEY,
    SESSION_HOURS,
    SIGNED_IN_AT_KEY,
    render,
)
from relay.logs import get_logger

log = get_logger("relay.console")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HEALTH_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
SESSION_COOKIE = "relay_console"
SESSION_KEY_FILE = "console-session.key"
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def load_session_key(home: Path) -> bytes:
    """32 random bytes, made once and kept 0600 in RELAY_HOME: sessions survive a
    restart. Nodes behind one address must share the file (docs/operations.md)."""
    path = home / SESSION_KEY_FILE
    home.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL with mode 0600: a new file, private from its first byte; the first of
        # two processes starting together makes it, the other reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            key = path.read_bytes()
            if len(key) == 32:
                return key
            time.sleep(0.01)  # the other process is writing it
        raise RuntimeError(f"{path} is not a console session key (32 bytes): remove it") from None
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def _skipped(request: web.Request) -> bool:
    return request.path in HEALTH_PATHS or request.path.startswith("/static/")


def session_layer(key: bytes, secure: bool) -> Middleware:
    """aiohttp-session's middleware for the console's paths only."""
    storage = EncryptedCookieStorage(
        key,
        cookie_name=SESSION_COOKIE,
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="Lax",
        secure=secure,
        path="/",
    )
    inner = session_middleware(storage)

    @web.middleware
    async def sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _skipped(request):
            return await handler(request)
        return await inner(request, _expiring(handler))

    return sessions


def _expiring(handler: Handler) -> Handler:
    async def checked(request: web.Request) -> web.StreamResponse:
        session = await get_session(request)
        signed_in_at = session.get(SIGNED_IN_AT_KEY)
        if (
            isinstance(signed_in_at, (int, float))
            and time.time() - signed_in_at > SESSION_HOURS * 3600
        ):
            session.invalidate()
        return await handler(request)

    return checked


@web.middleware
async def csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in ("GET", "HEAD", "OPTIONS") or _skipped(request):
        return await handler(request)
    session = await get_session(request)
    expected = session.get(CSRF_KEY)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sent = str((await request.post()).get(CSRF_FIELD, ""))
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(sent, expected):
        log.warning("console_csrf_refused", path=request.path, method=request.method)
        raise web.HTTPForbidden(reason="missing or wrong CSRF token")
    return await handler(request)


@web.middleware
async def pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in HEALTH_PATHS:
        return await handler(request)
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPForbidden as error:
        response = await _error_page(request, 403, "Not allowed", error.reason)
    except web.HTTPNotFound:
        response = await _error_page(request, 404, "Not found", "There is no such page.")
    except web.HTTPException:
        raise
    except Exception:
        log.exception("console_page_failed", path=request.path, method=request.method)
        response = await _error_page(
            request,
            500,
            "Something went wrong",
            "The error is in Relay's log. Nothing was changed.",
        )
    # W3C Server Timing: the page's own time, for browsers' tools and bench/console.py.
    elapsed_ms = (time.perf_counter() - started) * 1000
    response.headers["Server-Timing"] = f"page;dur={elapsed_ms:.1f}"
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _error_page(request: web.Request, status: int, title: str, detail: str) -> web.Response:
    try:
        return await render(
            request, "error.html", {"title": title, "detail": detail}, status=status
        )
    except Exception:  # the session or templates themselves failed: plain text, still no trace
        return web.Response(status=status, text=f"{title}: {detail}")
