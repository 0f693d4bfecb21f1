"""Signing in and out: ``/login`` -> the org's authorize page -> ``/auth/callback`` ->
a new session; ``POST /logout``.

The flow's ``state`` (RFC 6749 §10.12, against login CSRF) and the PKCE verifier live in
the pre-sign-in session; the callback checks the state, exchanges the code, and starts a
NEW session for the User (a fresh cookie and CSRF token: no session fixation).
"""

from __future__ import annotations

import dataclasses
import secrets
import time

from aiohttp import web
from aiohttp_session import get_session, new_session

from relay.console.context import (
    CSRF_KEY,
    SIGNED_IN_AT_KEY,
    USER_KEY,
    audit,
    console_of,
    current_user,
    new_csrf_token,
    render,
    safe_next,
)
from relay.console.oauth import SignInFailed, new_verifier

_PENDING = "pending_sign_in"


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/settings")


async def login(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    if console.sign_in is None:
        return await render(
            request,
            "signed_out.html",
            {"problem": "Sign-in is not configured: set RELAY_SF_CLIENT_ID and "
             "RELAY_SF_CLIENT_SECRET (or RELAY_CONSOLE_CLIENT_ID and _SECRET)."},
            status=503,
        )  # fmt: skip
    if await current_user(request) is not None and "next" in request.query:
        raise web.HTTPFound(safe_next(request.query.get("next")))
    session = await get_session(request)
    state, verifier = secrets.token_urlsafe(24), new_verifier()
    session[_PENDING] = {
        "state": state,
        "verifier": verifier,
        "next": safe_next(request.query.get("next")),
    }
    raise web.HTTPFound(console.sign_in.authorize_url(console.redirect_uri, state, verifier))


async def callback(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    session = await get_session(request)
    pending = session.pop(_PENDING, None)
    if console.sign_in is None or not isinstance(pending, dict):
        return await _problem(request, "This sign-in link has expired. Sign in again.")
    if request.query.get("state") != pending["state"]:
        return await _problem(request, "The sign-in did not come from this browser. Sign in again.")
    if "error" in request.query:
        error = request.query["error"]
        text = (
            "You cancelled the sign-in."
            if error == "access_denied"
            else "Salesforce did not sign you in: "
            f"{request.query.get('error_description') or error}."
        )
        return await _problem(request, text)
    try:
        user = await console.sign_in.sign_in(
            request.query.get("code", ""), console.redirect_uri, pending["verifier"]
        )
    except SignInFailed as error:
        return await _problem(request, error.reason)
    fresh = await new_session(request)
    fresh[USER_KEY] = dataclasses.asdict(user)
    fresh[CSRF_KEY] = new_csrf_token()
    fresh[SIGNED_IN_AT_KEY] = time.time()
    await audit(request, user, "signed_in", admin=user.is_admin)
    raise web.HTTPFound(pending["next"])


async def logout(request: web.Request) -> web.StreamResponse:
    user = await current_user(request)
    session = await get_session(request)
    session.invalidate()
    if user is not None:
        console = console_of(request)
        revoked = console.sign_in is not None and await console.sign_in.revoke(user)
        await audit(request, user, "signed_out", token_revoked=revoked)
    raise web.HTTPFound("/signed-out")


async def signed_out(request: web.Request) -> web.StreamResponse:
    return await render(request, "signed_out.html", {"problem": None})


async def _problem(request: web.Request, text: str) -> web.Response:
    return await render(request, "signed_out.html", {"problem": text}, status=400)
