"""Who is logged in: the identity URL, ``/services/oauth2/userinfo``, and the record page
the console links to.

- Identity URL (Salesforce Help, "Identity URLs"): ``{instance}/id/{orgId}/{userId}``,
  returned as ``id`` by the token endpoint. With the access token it answers the User's
  ``user_id``, ``organization_id``, ``username``, ``email``, ``display_name``,
  ``timezone``, ``active``, ``urls`` and more.
- UserInfo (Salesforce Help, "Query for User Information"; OpenID Connect Core §5.3):
  ``sub`` (the identity URL), ``user_id``, ``organization_id``, ``preferred_username``,
  ``name``, ``email``, ``zoneinfo``, ``active``, ``locale``, ``language``, ``utcOffset``.
- A missing or expired token: 403 with the text ``Bad_OAuth_Token`` (a guess at the
  body; Salesforce answers these endpoints 403 for a bad token).
- ``/lightning/r/{Object}/{Id}/view``: a plain page naming the record (the Lightning page
  the console links every logged record to), for a browser that logged in through
  ``/services/oauth2/authorize`` (its ``sid`` cookie).
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from relay.localorg.auth import Session
from relay.localorg.responses import session_of
from relay.localorg.routes_web_login import WEB_SESSION_COOKIE
from relay.localorg.state import LATEST_VERSION, OrgState, state_of


def _token_session(state: OrgState, request: web.Request) -> Session | None:
    session = session_of(state, request)
    if session is None and "oauth_token" in request.query:
        session = state.sessions.check(request.query["oauth_token"])
    return session


def _bad_token() -> web.Response:
    return web.Response(status=403, text="Bad_OAuth_Token")


def _user(state: OrgState, user_id: str) -> dict[str, Any] | None:
    row = state.data.row("User", user_id)
    return dict(row) if row is not None and not row.get("IsDeleted") else None


def _utc_offset_ms(zone: str) -> int:
    try:
        offset = datetime.now(ZoneInfo(zone)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds() * 1000) if offset else 0


def _urls(state: OrgState, user_id: str) -> dict[str, str]:
    base = f"{state.instance_url}/services/data/v{{version}}"
    return {
        "rest": f"{base}/",
        "sobjects": f"{base}/sobjects/",
        "query": f"{base}/query/",
        "profile": f"{state.instance_url}/{user_id}",
    }


async def identity(request: web.Request) -> web.Response:
    state = state_of(request)
    session = _token_session(state, request)
    if session is None:
        return _bad_token()
    org_id, user_id = request.match_info["org_id"], request.match_info["user_id"]
    user = _user(state, user_id)
    if org_id != state.org_id or user is None:
        return web.Response(status=404, text="Bad_Id")  # guess at the body
    zone = str(user.get("TimeZoneSidKey") or "America/Los_Angeles")
    name = " ".join(str(p) for p in (user.get("FirstName"), user.get("LastName")) if p)
    return web.json_response(
        {
            "id": f"{state.instance_url}/id/{state.org_id}/{user_id}",
            "asserted_user": session.user_id == user_id,
            "user_id": user_id,
            "organization_id": state.org_id,
            "username": user["Username"],
            "nick_name": user.get("CommunityNickname") or "",
            "display_name": name,
            "email": user.get("Email") or "",
            "email_verified": True,
            "first_name": user.get("FirstName") or "",
            "last_name": user.get("LastName") or "",
            "timezone": zone,
            "active": bool(user.get("IsActive", True)),
            "user_type": "STANDARD",
            "language": user.get("LanguageLocaleKey") or "en_US",
            "locale": user.get("LocaleSidKey") or "en_US",
            "utcOffset": _utc_offset_ms(zone),
            "urls": _urls(state, user_id),
        }
    )


async def userinfo(request: web.Request) -> web.Response:
    state = state_of(request)
    session = _token_session(state, request)
    if session is None:
        return _bad_token()
    user = _user(state, session.user_id)
    if user is None:
        return _bad_token()
    zone = str(user.get("TimeZoneSidKey") or "America/Los_Angeles")
    name = " ".join(str(p) for p in (user.get("FirstName"), user.get("LastName")) if p)
    return web.json_response(
        {
            "sub": f"{state.instance_url}/id/{state.org_id}/{session.user_id}",
            "user_id": session.user_id,
            "organization_id": state.org_id,
            "preferred_username": user["Username"],
            "nickname": user.get("CommunityNickname") or "",
            "name": name,
            "email": user.get("Email") or "",
            "email_verified": True,
            "given_name": user.get("FirstName") or "",
            "family_name": user.get("LastName") or "",
            "zoneinfo": zone,
            "active": bool(user.get("IsActive", True)),
            "user_type": "STANDARD",
            "language": user.get("LanguageLocaleKey") or "en_US",
            "locale": user.get("LocaleSidKey") or "en_US",
            "utcOffset": _utc_offset_ms(zone),
            "urls": {k: v.replace("{version}", LATEST_VERSION) for k, v in _urls(
                state, session.user_id).items()},
        }
    )  # fmt: skip


async def record_page(request: web.Request) -> web.Response:
    state = state_of(request)
    token = request.cookies.get(WEB_SESSION_COOKIE, "")
    if state.sessions.check(token) is None:
        return web.Response(
            status=401,
            content_type="text/html",
            text="<!doctype html><title>Log in</title><p>Log in to the local org first.</p>",
        )
    sobject, record_id = request.match_info["sobject"], request.match_info["record_id"]
    row = state.data.row(sobject, record_id)
    if row is None or row.get("IsDeleted"):
        raise web.HTTPNotFound()
    name = str(row.get("Name") or row.get("Subject") or record_id)
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(name)} | {html.escape(sobject)}</title></head><body>"
        f"<p>{html.escape(sobject)}</p><h1>{html.escape(name)}</h1>"
        f"<p>Id: <code>{html.escape(str(row['Id']))}</code></p></body></html>"
    )
    return web.Response(content_type="text/html", text=body)
