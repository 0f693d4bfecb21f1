"""Answers in Salesforce's shapes, shared by the data routes and the admin routes."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from relay.localorg.auth import Session
from relay.localorg.state import OrgState

INVALID_SESSION = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
_JSON = "application/json"


def limit_info(used: int, maximum: int) -> dict[str, str]:
    """REST API Developer Guide, "Limit Info Header": ``Sforce-Limit-Info: api-usage=N/M``."""
    return {"Sforce-Limit-Info": f"api-usage={used}/{maximum}"}


def json_response(
    state: OrgState,
    status: int,
    body: Any,
    headers: dict[str, str] | None = None,
    usage: tuple[int, int] | None = None,
) -> web.Response:
    all_headers = limit_info(*(usage or state.data.api_usage()))
    if headers:
        all_headers.update(headers)
    if status == 204 or body is None:
        return web.Response(status=status, headers=all_headers)
    if isinstance(body, bytes):  # a blob (REST "Get Blob Data"); headers name its type
        return web.Response(status=status, body=body, headers=all_headers)
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type=_JSON,
        charset="UTF-8",
        headers=all_headers,
    )


def session_of(state: OrgState, request: web.Request) -> Session | None:
    """The live session named by ``Authorization: Bearer <token>`` (or ``OAuth``)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in ("bearer", "oauth") or not token:
        return None
    return state.sessions.check(token.strip())


def invalid_session(state: OrgState) -> web.Response:
    return json_response(state, 401, INVALID_SESSION, {"WWW-Authenticate": "Token"})
