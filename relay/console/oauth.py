"""Signing in with Salesforce: the OAuth 2.0 web server flow with PKCE, client side.

Pure parts first (the verifier, its S256 challenge, the authorize URL, who is an
admin), then the two calls to the org (the code exchange and userinfo) and the admin
check, made with the signed-in User's own token.

Salesforce Help, "OAuth 2.0 Web Server Flow for Web App Integration": redirect to
``{login}/services/oauth2/authorize`` with ``response_type=code``, ``client_id``,
``redirect_uri``, ``state`` and ``code_challenge`` (base64url SHA-256 of the verifier,
RFC 7636 §4.2); exchange the code at ``/services/oauth2/token`` with ``client_secret``
and ``code_verifier``; learn the User from ``/services/oauth2/userinfo`` (Salesforce
Help, "Query for User Information": ``user_id``, ``preferred_username``, ``email``,
``zoneinfo``). An admin of the console is a User whose profile has "Modify All Data"
(``Profile.PermissionsModifyAllData``, Object Reference: Profile) or one listed in
``RELAY_ADMINS`` (docs/design.md §10).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import ssl
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from simple_salesforce.format import format_soql

from relay.errors import RelayError

AUTHORIZE_PATH = "/services/oauth2/authorize"
TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 - a path, not a secret
USERINFO_PATH = "/services/oauth2/userinfo"
REVOKE_PATH = "/services/oauth2/revoke"
CALLBACK_PATH = "/auth/callback"
_TIMEOUT = aiohttp.ClientTimeout(total=20)


def new_verifier() -> str:
    """RFC 7636 §4.1: 43-128 characters of [A-Za-z0-9-._~]; 64 random bytes, base64url."""
    return secrets.token_urlsafe(64)[:128]


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(
    login_url: str, client_id: str, redirect_uri: str, state: str, verifier: str
) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "scope": "api id",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    return f"{login_url}{AUTHORIZE_PATH}?{urlencode(query)}"


def login_url_of(token_url: str | None, instance_url: str | None) -> str:
    """The org's login URL: the token URL without its path (login.salesforce.com, a My
    Domain, or the local org), else the instance URL."""
    if token_url and token_url.endswith(TOKEN_PATH):
        return token_url[: -len(TOKEN_PATH)]
    if instance_url:
        return instance_url.rstrip("/")
    raise RelayError("no Salesforce login URL: set RELAY_SF_TOKEN_URL")


def is_listed_admin(admins: Collection[str], username: str, email: str) -> bool:
    listed = {item.strip().lower() for item in admins if item.strip()}
    return username.lower() in listed or (bool(email) and email.lower() in listed)


@dataclass(frozen=True)
class SignedInUser:
    """Who signed in, as the console's session keeps it."""

    user_id: str
    username: str
    email: str
    name: str
    time_zone: str
    is_admin: bool
    access_token: str
    instance_url: str


class SignInFailed(RelayError):
    """The org refused the code or the token: the reason is for the person signing in."""


class OrgSignIn:
    """The calls of the flow, on one connected app."""

    def __init__(
        self,
        login_url: str,
        client_id: str,
        client_secret: str,
        ca_file: str | None,
        admins: Collection[str],
        api_version: str,
    ) -> None:
        self.login_url = login_url
        self.client_id = client_id
        self._client_secret = client_secret
        self._ssl = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self._admins = tuple(admins)
        self._api_version = api_version

    def authorize_url(self, redirect_uri: str, state: str, verifier: str) -> str:
        return authorize_url(self.login_url, self.client_id, redirect_uri, state, verifier)

    async def sign_in(self, code: str, redirect_uri: str, verifier: str) -> SignedInUser:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        async with aiohttp.ClientSession(timeout=_TIMEOUT, trust_env=False) as http:
            token = await self._json(http, "POST", self.login_url + TOKEN_PATH, data=form)
            access, instance = str(token["access_token"]), str(token["instance_url"])
            headers = {"Authorization": f"Bearer {access}"}
            info = await self._json(http, "GET", instance + USERINFO_PATH, headers=headers)
            user_id = str(info["user_id"])
            soql = format_soql(
                "SELECT Profile.PermissionsModifyAllData FROM User WHERE Id = {}", user_id
            )
            found = await self._json(
                http,
                "GET",
                f"{instance}/services/data/v{self._api_version}/query",
                headers=headers,
                params={"q": soql},
            )
        username, email = str(info["preferred_username"]), str(info.get("email") or "")
        records = found.get("records") or [{}]
        profile = records[0].get("Profile") or {}
        modify_all = bool(profile.get("PermissionsModifyAllData"))
        return SignedInUser(
            user_id=user_id,
            username=username,
            email=email,
            name=str(info.get("name") or username),
            time_zone=str(info.get("zoneinfo") or "UTC"),
            is_admin=modify_all or is_listed_admin(self._admins, username, email),
            access_token=access,
            instance_url=instance,
        )

    async def revoke(self, user: SignedInUser) -> bool:
        """End the User's Salesforce session at sign-out (Salesforce Help, "Revoke OAuth
        Tokens Programmatically": POST ``token``, 200 when revoked). False when the org
        refused or could not be reached: the cookie is gone either way."""
        try:
            async with (
                aiohttp.ClientSession(timeout=_TIMEOUT, trust_env=False) as http,
                http.post(
                    user.instance_url + REVOKE_PATH, data={"token": user.access_token},
                    ssl=self._ssl,
                ) as response,
            ):  # fmt: skip
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def _json(
        self, http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
    ) -> dict[str, Any]:
        try:
            async with http.request(method, url, ssl=self._ssl, **kwargs) as response:
                body: Any = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise SignInFailed(f"Salesforce could not be reached: {error}") from None
        if status >= 400 or not isinstance(body, dict):
            detail = body.get("error_description") if isinstance(body, dict) else None
            raise SignInFailed(f"Salesforce refused the sign-in: {detail or f'HTTP {status}'}")
        return body
