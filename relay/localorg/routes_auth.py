"""Logging in: ``POST /services/oauth2/token`` and the legacy SOAP ``login()``.

OAuth 2.0 token endpoint (Salesforce Help, "OAuth 2.0 Username-Password Flow", "OAuth 2.0
JWT Bearer Flow for Server-to-Server Integration", "OAuth 2.0 Client Credentials Flow"):
form-encoded requests, a JSON answer with ``access_token``, ``instance_url``, ``id``,
``token_type`` ``Bearer``, ``issued_at`` (milliseconds, a string) and ``signature``
(base64 HMAC-SHA256 of ``id`` + ``issued_at`` keyed with the client secret). Failures are
400 ``{"error", "error_description"}``. Token requests never count against API limits.

The ``authorization_code`` grant (the web server flow with PKCE) is in
routes_web_login.py, beside the authorize page.

SOAP ``login()`` (SOAP API Developer Guide, "login()", "LoginResult"): the partner
envelope with ``metadataServerUrl``, ``passwordExpired``, ``sandbox``, ``serverUrl``,
``sessionId``, ``userId`` and ``userInfo``. It is not available from API version 65.0;
the fault text there is what clients report (forcedotcom/wsc#363).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

import jwt
from aiohttp import web

from relay.localorg.auth import Session, load_jwt_public_key
from relay.localorg.state import SOAP_LOGIN_LAST_VERSION, OrgState, state_of

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Audiences Salesforce accepts for a JWT bearer assertion: the login hosts, or the org's
# own (My Domain) URL (Salesforce Help, "OAuth 2.0 JWT Bearer Flow": aud).
LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
_PARTNER_NS = "urn:partner.soap.sforce.com"


def oauth_error(error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=400)


async def token(request: web.Request) -> web.Response:
    state = state_of(request)
    form = await request.post()
    grant = str(form.get("grant_type", ""))
    creds = state.credentials
    if grant == "password":
        if form.get("client_id") != creds.client_id:
            return oauth_error("invalid_client_id", "client identifier invalid")
        if form.get("client_secret") != creds.client_secret:
            return oauth_error("invalid_client", "invalid client credentials")
        username = str(form.get("username", ""))
        password = str(form.get("password", ""))
        if username.lower() != creds.username.lower() or password not in (
            creds.password,
            creds.password + creds.security_token,
        ):
            return oauth_error("invalid_grant", "authentication failure")
        return token_response(state, _issue(state, username), signed=True)
    if grant == "authorization_code":
        from relay.localorg.routes_web_login import authorization_code_grant

        return authorization_code_grant(state, form)
    if grant == JWT_GRANT:
        return _jwt_grant(state, str(form.get("assertion", "")))
    if grant == "client_credentials":
        if form.get("client_id") != creds.client_id:
            return oauth_error("invalid_client_id", "client identifier invalid")
        if form.get("client_secret") != creds.client_secret:
            return oauth_error("invalid_client", "invalid client credentials")
        return token_response(state, _issue(state, creds.run_as_username), signed=True)
    return oauth_error("unsupported_grant_type", "grant type not supported")


def _jwt_grant(state: OrgState, assertion: str) -> web.Response:
    key = load_jwt_public_key(state.data_dir)
    if key is None:
        # No certificate registered for the connected app (see auth.JWT_CERT_FILE).
        return oauth_error("invalid_client", "invalid client credentials")
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            key,  # type: ignore[arg-type]
            algorithms=["RS256"],
            options={"require": ["exp", "iss", "sub", "aud"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        return oauth_error("invalid_grant", "expired authorization code")
    except jwt.PyJWTError:
        return oauth_error("invalid_grant", "invalid assertion")
    if claims["iss"] != state.credentials.client_id:
        return oauth_error("invalid_client_id", "client identifier invalid")
    audience = claims["aud"]
    audiences = audience if isinstance(audience, list) else [audience]
    allowed = (*LOGIN_AUDIENCES, state.instance_url)
    if not any(str(a).rstrip("/") in allowed for a in audiences):
        return oauth_error("invalid_grant", "audience is invalid")
    username = str(claims["sub"])
    if username.lower() != state.credentials.username.lower():
        return oauth_error("invalid_grant", "user hasn't approved this consumer")
    # The JWT bearer answer carries no refresh token, issued_at or signature (the
    # example in "OAuth 2.0 JWT Bearer Flow").
    return token_response(state, _issue(state, username), signed=False)


def _issue(state: OrgState, username: str) -> Session:
    user = state.data.find_user(username)
    user_id = str(user["Id"]) if user else ""
    return state.sessions.issue(user_id, username)


def identity_url(state: OrgState, session: Session) -> str:
    return f"{state.instance_url}/id/{state.org_id}/{session.user_id}"


def token_response(
    state: OrgState, session: Session, signed: bool, scope: str = "api"
) -> web.Response:
    body: dict[str, Any] = {
        "access_token": session.token,
        "instance_url": state.instance_url,
        "id": identity_url(state, session),
        "token_type": "Bearer",
        "scope": scope,
    }
    if signed:
        issued_at = str(int(session.issued_at * 1000))
        digest = hmac.new(
            state.credentials.client_secret.encode(),
            (body["id"] + issued_at).encode(),
            hashlib.sha256,
        ).digest()
        body["issued_at"] = issued_at
        body["signature"] = base64.b64encode(digest).decode()
    return web.json_response(body)


# --- SOAP login() ----------------------------------------------------------------------


async def soap_login(request: web.Request) -> web.Response:
    state = state_of(request)
    version_text = request.match_info["version"]
    try:
        version = float(version_text)
    except ValueError:
        raise web.HTTPNotFound() from None
    if version > SOAP_LOGIN_LAST_VERSION:
        return _soap_fault(
            "INVALID_OPERATION",
            f"The SOAP Login operation is not available in the API version specified "
            f"({version_text}). Refer to the documentation for supported versions.",
            "UnexpectedErrorFault",  # guess: the fault element for this code
        )
    try:
        # Loopback-only server; CPython's expat refuses entity-expansion bombs.
        envelope = ET.fromstring(await request.read())  # noqa: S314
    except ET.ParseError:
        return _soap_fault(
            "INVALID_LOGIN", "Invalid username, password, security token; or user locked out."
        )
    username = envelope.findtext(f".//{{{_PARTNER_NS}}}username") or ""
    password = envelope.findtext(f".//{{{_PARTNER_NS}}}password") or ""
    creds = state.credentials
    if username.lower() != creds.username.lower() or password not in (
        creds.password,
        creds.password + creds.security_token,
    ):
        return _soap_fault(
            "INVALID_LOGIN", "Invalid username, password, security token; or user locked out."
        )
    user = state.data.find_user(username) or {}
    session = state.sessions.issue(str(user.get("Id", "")), username)
    return web.Response(
        body=_login_envelope(state, session, user, version_text).encode(),
        content_type="text/xml",
        charset="UTF-8",
    )


def _login_envelope(state: OrgState, session: Session, user: dict[str, Any], version: str) -> str:
    org15 = state.org_id[:15]
    base = state.instance_url
    info = {
        "accessibilityMode": "false",
        "chatterExternal": "false",
        "currencySymbol": "$",
        "orgAttachmentFileSizeLimit": "5242880",
        "orgDefaultCurrencyIsoCode": "USD",
        "orgDefaultCurrencyLocale": "en_US",
        "orgDisallowHtmlAttachments": "false",
        "orgHasPersonAccounts": "false",
        "organizationId": state.org_id,
        "organizationMultiCurrency": "false",
        "organizationName": "Relay Local Org",
        "profileId": str(user.get("ProfileId", "")),
        "sessionSecondsValid": str(int(state.sessions.ttl_seconds)),
        "userEmail": str(user.get("Email", "")),
        "userFullName": " ".join(
            str(p) for p in (user.get("FirstName"), user.get("LastName")) if p
        ),
        "userId": session.user_id,
        "userLanguage": str(user.get("LanguageLocaleKey", "en_US")),
        "userLocale": str(user.get("LocaleSidKey", "en_US")),
        "userName": session.username,
        "userTimeZone": str(user.get("TimeZoneSidKey", "America/Los_Angeles")),
        "userType": "Standard",
        "userUiSkin": "Theme3",
    }
    info_xml = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in info.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns="{_PARTNER_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><loginResponse><result>"
        f"<metadataServerUrl>{base}/services/Soap/m/{version}/{org15}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired>"
        "<sandbox>false</sandbox>"
        f"<serverUrl>{base}/services/Soap/u/{version}/{org15}</serverUrl>"
        f"<sessionId>{escape(session.token)}</sessionId>"
        f"<userId>{session.user_id}</userId>"
        f"<userInfo>{info_xml}</userInfo>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )


def _soap_fault(code: str, message: str, fault_type: str = "LoginFault") -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>sf:{code}</faultcode>"
        f"<faultstring>{code}: {escape(message)}</faultstring>"
        f'<detail><sf:{fault_type} xsi:type="sf:{fault_type}">'
        f"<sf:exceptionCode>{code}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage>"
        f"</sf:{fault_type}></detail>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    # SOAP faults travel with HTTP 500 (SOAP 1.1 §6.2).
    return web.Response(status=500, body=body.encode(), content_type="text/xml", charset="UTF-8")
