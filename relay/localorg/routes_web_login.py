"""The OAuth 2.0 web server flow with PKCE: ``/services/oauth2/authorize`` and the
``authorization_code`` grant of the token endpoint.

Salesforce Help, "OAuth 2.0 Web Server Flow for Web App Integration": the app sends the
user to ``/services/oauth2/authorize?response_type=code&client_id=..&redirect_uri=..``
(with ``state``, ``scope``, ``code_challenge``); the user logs in; Salesforce redirects
to the callback with ``code`` and ``state``; the app posts ``grant_type=
authorization_code`` with ``code``, ``client_id``, ``client_secret``, ``redirect_uri``
and ``code_verifier`` to ``/services/oauth2/token``. ``code_challenge`` is "the SHA256
hash value of the code_verifier ... base64url encoded" (RFC 7636 S256).

Errors, as Salesforce gives them:

- an unknown ``client_id`` or a ``redirect_uri`` that is not a callback of the app: an
  error page at the org, no redirect (RFC 6749 §4.1.2.1: never redirect to an
  unverified URI). The texts ``error=redirect_uri_mismatch&error_description=
  redirect_uri must match configuration`` and ``invalid_client_id`` are what Salesforce
  shows (PTC ServiceMax, "Troubleshooting OAuth Errors", quotes the first);
- any other problem once the callback is known is a redirect to it with ``error`` and
  ``error_description`` (Salesforce Help, "OAuth 2.0 Authorization Errors"): the user
  cancelling is ``error=access_denied`` "end-user denied authorization";
- the token endpoint answers 400 JSON ``{"error": "invalid_grant", "error_description":
  ...}``: "expired authorization code" for a used or expired code (what Salesforce
  answers to a code used twice, omniphx/forrest#169), "invalid code verifier" when the
  verifier does not hash to the challenge (n8n-io/n8n#32421 quotes Salesforce support),
  and ``redirect_uri_mismatch`` when the redirect_uri differs from the authorize call's.

The local org's own connected app (the client id of its ready line) accepts callbacks on
``127.0.0.1`` and ``localhost``, any port and path, over http or https: what a relay on
the same machine uses (docs/localorg.md).
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from relay.localorg.routes_auth import identity_url, oauth_error, token_response
from relay.localorg.state import OrgState, state_of
from relay.localorg.web_credentials import verifier_matches

LOGIN_FAILED = (
    "Please check your username and password. If you still can't log in, contact your "
    "Salesforce administrator."
)  # Salesforce's login page text for a wrong username or password
_FLOW_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
)
WEB_SESSION_COOKIE = "sid"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def callback_allowed(state: OrgState, client_id: str, redirect_uri: str) -> bool:
    """The org's connected app accepts loopback callbacks (docs/localorg.md)."""
    if client_id != state.credentials.client_id:
        return False
    parts = urlsplit(redirect_uri)
    return parts.scheme in ("http", "https") and parts.hostname in LOOPBACK_HOSTS


def _error_page(status: int, error: str, description: str) -> web.Response:
    text = urlencode({"error": error, "error_description": description})
    return web.Response(
        status=status,
        content_type="text/html",
        text=_page("Error", f"<p role='alert'>{html.escape(text)}</p>"),
    )


def _redirect_error(
    redirect_uri: str, error: str, description: str, flow_state: str | None
) -> web.HTTPFound:
    query = {"error": error, "error_description": description}
    if flow_state:
        query["state"] = flow_state
    separator = "&" if "?" in redirect_uri else "?"
    return web.HTTPFound(redirect_uri + separator + urlencode(query))


def _checked_flow(state: OrgState, params: Any) -> dict[str, str] | web.Response:
    """The flow's parameters, or the page or redirect that ends it."""
    flow = {name: str(params.get(name, "")) for name in _FLOW_FIELDS}
    if flow["client_id"] != state.credentials.client_id:
        return _error_page(400, "invalid_client_id", "client identifier invalid")
    if not callback_allowed(state, flow["client_id"], flow["redirect_uri"]):
        return _error_page(400, "redirect_uri_mismatch", "redirect_uri must match configuration")
    if flow["response_type"] != "code":
        raise _redirect_error(
            flow["redirect_uri"], "unsupported_response_type", "response type not supported",
            flow["state"],
        )  # fmt: skip
    if flow["code_challenge_method"] not in ("", "S256"):
        # Salesforce documents the SHA256 challenge only (RFC 7636 S256); "plain" is refused.
        raise _redirect_error(
            flow["redirect_uri"], "invalid_request", "invalid code challenge method", flow["state"]
        )
    return flow


async def authorize(request: web.Request) -> web.StreamResponse:
    """GET: the login page. POST: check the username and password, then redirect to the
    callback with a code (or show the page again with Salesforce's login error)."""
    state = state_of(request)
    params: Any = request.query if request.method == "GET" else await request.post()
    flow = _checked_flow(state, params)
    if isinstance(flow, web.Response):
        return flow
    if request.method == "GET":
        return _login_page(flow, error=None)
    username = str(params.get("username", "")).strip()
    password = str(params.get("password", ""))
    user = state.data.find_user(username) if username else None
    if user is None or not user.get("IsActive", True) or not _password_ok(state, user, password):
        return _login_page(flow, error=LOGIN_FAILED, username=username)
    user_id, name = str(user["Id"]), str(user["Username"])
    code = state.codes.issue(
        flow["client_id"], flow["redirect_uri"], flow["code_challenge"] or None, user_id, name
    )
    query = {"code": code}
    if flow["state"]:
        query["state"] = flow["state"]
    separator = "&" if "?" in flow["redirect_uri"] else "?"
    response = web.HTTPFound(flow["redirect_uri"] + separator + urlencode(query))
    # The org's own browser session: the record pages (/lightning/r/...) need it.
    session = state.sessions.issue(user_id, name)
    response.set_cookie(
        WEB_SESSION_COOKIE, session.token, httponly=True, secure=True, samesite="Lax", path="/"
    )
    raise response


async def deny(request: web.Request) -> web.StreamResponse:
    """The login page's Cancel: the callback gets ``error=access_denied``."""
    state = state_of(request)
    flow = _checked_flow(state, request.query)
    if isinstance(flow, web.Response):
        return flow
    raise _redirect_error(
        flow["redirect_uri"], "access_denied", "end-user denied authorization", flow["state"]
    )


def _password_ok(state: OrgState, user: dict[str, Any], password: str) -> bool:
    if str(user["Username"]).lower() == state.credentials.username.lower():
        return password == state.credentials.password
    return state.user_passwords.check(str(user["Id"]), password)


def authorization_code_grant(state: OrgState, form: Any) -> web.Response:
    """``grant_type=authorization_code`` at ``/services/oauth2/token``."""
    creds = state.credentials
    if form.get("client_id") != creds.client_id:
        return oauth_error("invalid_client_id", "client identifier invalid")
    if form.get("client_secret") != creds.client_secret:
        return oauth_error("invalid_client", "invalid client credentials")
    grant = state.codes.take(str(form.get("code", "")))
    if grant is None or grant.client_id != form.get("client_id"):
        return oauth_error("invalid_grant", "expired authorization code")
    if form.get("redirect_uri") != grant.redirect_uri:
        return oauth_error("redirect_uri_mismatch", "redirect_uri must match configuration")
    verifier = str(form.get("code_verifier", ""))
    if grant.code_challenge is not None and not verifier_matches(verifier, grant.code_challenge):
        return oauth_error("invalid_grant", "invalid code verifier")
    if grant.code_challenge is None and verifier:
        # A verifier without a challenge at authorize time (forcedotcom/sfdx-core#166).
        return oauth_error("invalid_grant", "invalid code verifier")
    session = state.sessions.issue(grant.user_id, grant.username)
    return token_response(state, session, signed=True, scope="api id")


async def revoke(request: web.Request) -> web.Response:
    """``POST /services/oauth2/revoke`` with ``token`` (form-encoded): 200 when the access
    token is ended, 400 ``{"error": "invalid_token"}`` otherwise (Salesforce Help,
    "Revoke OAuth Tokens Programmatically"; Mobile SDK Developer Guide, "Revoking OAuth
    Tokens"). The local org issues no refresh tokens, so every token is an access token."""
    state = state_of(request)
    token = str((await request.post()).get("token", ""))
    if not token or not state.sessions.revoke(token):
        return web.json_response({"error": "invalid_token"}, status=400)
    return web.Response(status=200)


def _login_page(flow: dict[str, str], error: str | None, username: str = "") -> web.Response:
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
        for name, value in flow.items()
        if value
    )
    alert = f'<p role="alert" class="error">{html.escape(error)}</p>' if error else ""
    cancel = "/services/oauth2/authorize/deny?" + urlencode({k: v for k, v in flow.items() if v})
    body = (
        f"{alert}"
        '<form method="post" action="/services/oauth2/authorize">'
        f"{hidden}"
        '<p><label for="username">Username</label><br>'
        f'<input id="username" name="username" type="email" autocomplete="username" '
        f'value="{html.escape(username)}" required autofocus></p>'
        '<p><label for="password">Password</label><br>'
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" required></p>'
        '<p><button type="submit">Log In</button></p>'
        "</form>"
        f'<p><a href="{html.escape(cancel)}">Cancel</a></p>'
    )
    return web.Response(content_type="text/html", text=_page("Login | Salesforce", body))


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<style>body{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;"
        "padding:0 1rem}input{width:100%;padding:.4rem}button{padding:.5rem 1.5rem}"
        ".error{color:#b00020}</style></head><body>"
        "<h1>Relay Local Org</h1>"
        f"{body}</body></html>"
    )


__all__ = ["authorization_code_grant", "authorize", "deny", "identity_url"]
