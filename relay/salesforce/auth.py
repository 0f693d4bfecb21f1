"""Getting a Salesforce session: OAuth 2.0 flows, a direct session, or legacy SOAP login.

Relay does OAuth itself because simple-salesforce only reaches ``*.salesforce.com``
token endpoints, and the local org lives elsewhere. Which flow runs follows from the
``RELAY_SF_*`` settings (docs/design.md §8):

=====================  =================================================================
flow                   settings
=====================  =================================================================
JWT bearer (advised)   RELAY_SF_TOKEN_URL, _CLIENT_ID, _USERNAME, _PRIVATE_KEY_FILE
username-password      RELAY_SF_TOKEN_URL, _CLIENT_ID, _CLIENT_SECRET, _USERNAME, _PASSWORD
client credentials     RELAY_SF_TOKEN_URL, _CLIENT_ID, _CLIENT_SECRET (no username)
direct session         RELAY_SF_INSTANCE_URL, _ACCESS_TOKEN (cannot refresh)
SOAP login (legacy)    RELAY_SF_TOKEN_URL ending ``/services/Soap/u/NN.N``, _USERNAME,
                       _PASSWORD
=====================  =================================================================

Tokens, passwords, secrets and assertions are never logged or put in a reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import jwt
import requests
import structlog
from simple_salesforce.util import getUniqueElementValueFromXmlString

from relay.config import SalesforceConfig
from relay.errors import ConfigError, NeedsAttention, RateLimited, RelayError, TemporaryError
from relay.salesforce.classify import classify_exception

log = structlog.get_logger(__name__)

JWT_LIFETIME_SECONDS = 3 * 60
"""OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration (Salesforce Help): ``exp``
must be within 3 minutes."""

SOAP_LOGIN_LAST_VERSION = "64.0"
"""SOAP API ``login()`` is not available from API version 65.0 and is retired in Summer '27
(SOAP API Developer Guide, "SOAP API End-of-Life Policy")."""

_SOAP_DEPRECATION = (
    "SOAP login is deprecated: Salesforce removed login() from API 65.0 and retires it in "
    "Summer '27. Switch to the OAuth JWT bearer flow (see deploy/salesforce/)"
)
_DIRECT_SESSION_EXPIRED = (
    "the access token in RELAY_SF_ACCESS_TOKEN has expired or was revoked; set a new one "
    "or configure OAuth (JWT bearer recommended: see deploy/salesforce/)"
)


class Flow(StrEnum):
    JWT_BEARER = "jwt_bearer"
    PASSWORD = "password"  # noqa: S105 (the name of an OAuth flow, not a secret)
    CLIENT_CREDENTIALS = "client_credentials"
    DIRECT_SESSION = "direct_session"
    SOAP = "soap"


@dataclass(frozen=True)
class Credentials:
    """How to get a session; secrets are kept out of ``repr``."""

    flow: Flow
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    private_key_file: Path | None = None
    instance_url: str | None = None
    access_token: str | None = field(default=None, repr=False)

    @property
    def can_refresh(self) -> bool:
        return self.flow is not Flow.DIRECT_SESSION

    @classmethod
    def from_config(cls, config: SalesforceConfig) -> Credentials:
        """The credentials the settings describe, or ConfigError saying what is missing."""
        c = config
        if c.token_url:
            if "/services/soap/" in urlsplit(c.token_url).path.lower():
                _require(c, "username", "password", flow="SOAP login")
                return cls(Flow.SOAP, c.token_url, c.client_id, None, c.username, c.password)
            if c.private_key_file:
                _require(c, "client_id", "username", flow="the JWT bearer flow")
                return cls(
                    Flow.JWT_BEARER,
                    c.token_url,
                    c.client_id,
                    username=c.username,
                    private_key_file=c.private_key_file,
                )
            if c.username or c.password:
                _require(
                    c, "client_id", "client_secret", "username", "password", flow="password flow"
                )
                return cls(
                    Flow.PASSWORD, c.token_url, c.client_id, c.client_secret, c.username, c.password
                )
            _require(c, "client_id", "client_secret", flow="the client credentials flow")
            return cls(Flow.CLIENT_CREDENTIALS, c.token_url, c.client_id, c.client_secret)
        if c.instance_url and c.access_token:
            return cls(
                Flow.DIRECT_SESSION, instance_url=c.instance_url, access_token=c.access_token
            )
        raise ConfigError(
            [
                "no Salesforce credentials: set RELAY_SF_TOKEN_URL with OAuth credentials "
                "(JWT bearer recommended), or RELAY_SF_INSTANCE_URL and RELAY_SF_ACCESS_TOKEN"
            ]
        )


def _require(config: SalesforceConfig, *names: str, flow: str) -> None:
    missing = [n for n in names if not getattr(config, n)]
    if missing:
        raise ConfigError(
            [f"{flow} needs RELAY_SF_{n.upper()}" for n in missing],
        )


@dataclass(frozen=True)
class Session:
    """A live session: where to send calls and the bearer token to send."""

    instance_url: str
    access_token: str = field(repr=False)
    issued_at: datetime


def authenticate(
    config: SalesforceConfig,
    session: requests.Session,
    credentials: Credentials | None = None,
) -> Session:
    """Get a new session with the configured flow.

    Raises NeedsAttention when a person must fix something (the reason says what),
    TemporaryError when the token endpoint is unreachable or failing.
    """
    creds = credentials or Credentials.from_config(config)
    timeout = (config.connect_timeout_seconds, config.read_timeout_seconds)
    if creds.flow is Flow.DIRECT_SESSION:
        return Session(
            (creds.instance_url or "").rstrip("/"), creds.access_token or "", datetime.now(UTC)
        )
    if creds.flow is Flow.SOAP:
        return _soap_login(creds, session, timeout)
    form = _token_form(creds)
    token_url = creds.token_url or ""
    try:
        response = session.post(token_url, data=form, timeout=timeout)
    except requests.RequestException as exc:
        raise _as_temporary(classify_exception(exc)) from None
    if response.status_code != 200:
        raise _token_error(creds, response)
    try:
        body = response.json()
        access_token = str(body["access_token"])
    except (ValueError, KeyError, TypeError):
        raise TemporaryError("the token endpoint answered 200 without an access token") from None
    issued = _issued_at(body.get("issued_at"))
    instance_url = str(body.get("instance_url") or _origin(token_url)).rstrip("/")
    log.info("salesforce_authenticated", flow=creds.flow.value, instance_url=instance_url)
    return Session(instance_url, access_token, issued)


def expired_direct_session() -> NeedsAttention:
    """What to raise when a direct session's token stops working (it cannot refresh)."""
    return NeedsAttention(_DIRECT_SESSION_EXPIRED)


def jwt_audience(token_url: str) -> str:
    """The ``aud`` claim for a token URL.

    Salesforce wants ``https://login.salesforce.com`` (production) or
    ``https://test.salesforce.com`` (sandbox) even when the token is requested from a
    My Domain URL (OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration, "aud");
    any other server (the local org) is addressed by its own origin.
    """
    host = (urlsplit(token_url).hostname or "").lower()
    if host.endswith(".sandbox.my.salesforce.com") or host == "test.salesforce.com":
        return "https://test.salesforce.com"
    if host.endswith(".salesforce.com"):
        return "https://login.salesforce.com"
    return _origin(token_url)


def _token_form(creds: Credentials) -> dict[str, str]:
    if creds.flow is Flow.JWT_BEARER:
        try:
            key = Path(creds.private_key_file or "").read_bytes()
        except OSError as exc:
            raise NeedsAttention(
                f"cannot read RELAY_SF_PRIVATE_KEY_FILE ({exc.strerror}): point it at the "
                "PEM private key whose certificate is uploaded to the connected app"
            ) from None
        claims = {
            "iss": creds.client_id,
            "sub": creds.username,
            "aud": jwt_audience(creds.token_url or ""),
            "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
        }
        try:
            assertion = jwt.encode(claims, key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError):
            raise NeedsAttention(
                "RELAY_SF_PRIVATE_KEY_FILE is not an RSA private key in PEM form (unencrypted)"
            ) from None
        return {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
    if creds.flow is Flow.PASSWORD:
        return {
            "grant_type": "password",
            "client_id": creds.client_id or "",
            "client_secret": creds.client_secret or "",
            "username": creds.username or "",
            "password": creds.password or "",
        }
    return {
        "grant_type": "client_credentials",
        "client_id": creds.client_id or "",
        "client_secret": creds.client_secret or "",
    }


# What to check, by flow and by what Salesforce said (OAuth 2.0 JWT Bearer Flow for
# Server-to-Server Integration; OAuth 2.0 Client Credentials Flow; OAuth 2.0
# Username-Password Flow; "OAuth 2.0 Authorization Errors", all Salesforce Help).
_HINTS: dict[Flow, tuple[tuple[str, str], ...]] = {
    Flow.JWT_BEARER: (
        (
            "approved",
            "the user is not pre-authorized for the connected app: in Setup > Connected "
            'Apps > Manage, set Permitted Users to "Admin approved users are '
            "pre-authorized\" and add the integration user's profile or permission set",
        ),
        (
            "audience",
            "the token URL is wrong: use https://login.salesforce.com/services/oauth2/token "
            "(https://test.salesforce.com/... for a sandbox) in RELAY_SF_TOKEN_URL",
        ),
        (
            "expired",
            "the assertion arrived expired: check this machine's clock (NTP)",
        ),
        (
            "",
            "check that the user has been pre-authorized for the connected app (Permitted "
            "Users: admin approved, with the user's profile or permission set added), that "
            'the certificate uploaded under "Use digital signatures" matches '
            "RELAY_SF_PRIVATE_KEY_FILE, and that RELAY_SF_USERNAME is an active user of this "
            "org (sandbox usernames carry the sandbox suffix)",
        ),
    ),
    Flow.CLIENT_CREDENTIALS: (
        (
            "domain",
            "the client credentials flow needs the org's My Domain token URL: set "
            "RELAY_SF_TOKEN_URL to https://YOURDOMAIN.my.salesforce.com/services/oauth2/token",
        ),
        (
            "",
            'check that the connected app has "Enable Client Credentials Flow" on with a '
            "Run As user that has API access, and that RELAY_SF_CLIENT_ID and "
            "RELAY_SF_CLIENT_SECRET are the app's consumer key and secret",
        ),
    ),
    Flow.PASSWORD: (
        (
            "",
            "check RELAY_SF_USERNAME and RELAY_SF_PASSWORD (append the user's security token "
            "to the password unless the IP is trusted), that the org allows the OAuth "
            "username-password flow (Setup > OAuth and OpenID Connect Settings), and the "
            "connected app's consumer key and secret",
        ),
    ),
}

_BY_ERROR = {
    "invalid_client_id": "RELAY_SF_CLIENT_ID is not the consumer key of a connected app in "
    "this org (new apps take up to 10 minutes to become usable)",
    "invalid_client": "RELAY_SF_CLIENT_ID or RELAY_SF_CLIENT_SECRET is wrong: copy both from "
    "the connected app (Setup > App Manager > View > Manage Consumer Details)",
    "unsupported_grant_type": "the connected app does not allow this OAuth flow: enable it in "
    "the app's OAuth settings",
    "inactive_user": "RELAY_SF_USERNAME is inactive in Salesforce: reactivate the user",
    "inactive_org": "the org is locked, closed or suspended: contact its administrator",
}


def _token_error(creds: Credentials, response: requests.Response) -> RelayError:
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = {}
    error = str(body.get("error", "")) if isinstance(body, dict) else ""
    description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
    said = f"Salesforce said {error or status}: {description or response.reason}"
    if status >= 500 or status == 429:
        return TemporaryError(f"the Salesforce token endpoint failed ({said}); Relay retries")
    if error == "rate_limit_exceeded":
        return RateLimited(f"too many logins ({said}); Relay retries later", retry_after=300.0)
    advice = _BY_ERROR.get(error)
    if advice is None:
        text = description.lower()
        advice = next(
            (hint for needle, hint in _HINTS.get(creds.flow, ()) if needle in text),
            "check the OAuth settings (RELAY_SF_TOKEN_URL, RELAY_SF_CLIENT_ID and the "
            "connected app)",
        )
    return NeedsAttention(
        f"Salesforce refused to log in with the {creds.flow} flow ({said}): {advice}"
    )


def _soap_login(
    creds: Credentials, session: requests.Session, timeout: tuple[float, float]
) -> Session:
    log.warning("salesforce_soap_login_deprecated", advice=_SOAP_DEPRECATION)
    token_url = creds.token_url or ""
    envelope = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:urn="urn:partner.soap.sforce.com"><env:Body><urn:login>'
        f"<urn:username>{escape(creds.username or '')}</urn:username>"
        f"<urn:password>{escape(creds.password or '')}</urn:password>"
        "</urn:login></env:Body></env:Envelope>"
    )
    headers = {"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login"}
    url = soap_login_url(token_url, token_url.rstrip("/").rsplit("/", 1)[-1])
    try:
        response = session.post(url, data=envelope.encode(), headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise _as_temporary(classify_exception(exc)) from None
    text = response.text
    if response.status_code != 200:
        if response.status_code >= 500 and "faultcode" not in text:
            raise TemporaryError(f"SOAP login failed (HTTP {response.status_code}); Relay retries")
        fault = getUniqueElementValueFromXmlString(text, "faultstring") or response.reason
        raise NeedsAttention(
            f"SOAP login refused ({fault}): check RELAY_SF_USERNAME and RELAY_SF_PASSWORD "
            f"(with the security token appended). {_SOAP_DEPRECATION}"
        )
    token = getUniqueElementValueFromXmlString(text, "sessionId")
    server_url = getUniqueElementValueFromXmlString(text, "serverUrl")
    if not token or not server_url:
        raise TemporaryError("SOAP login answered without a session; Relay retries")
    instance_url = _origin(server_url)
    log.info("salesforce_authenticated", flow=Flow.SOAP.value, instance_url=instance_url)
    return Session(instance_url, token, datetime.now(UTC))


def soap_login_url(login_url: str, api_version: str) -> str:
    """The SOAP login endpoint for a login host, capped at the last version with login()."""
    try:
        usable = float(api_version) <= float(SOAP_LOGIN_LAST_VERSION)
    except ValueError:
        usable = False
    version = api_version if usable else SOAP_LOGIN_LAST_VERSION
    return f"{_origin(login_url)}/services/Soap/u/{version}"


def _as_temporary(error: RelayError) -> RelayError:
    # Logging in twice is harmless, so an unknown outcome is just a temporary failure.
    if isinstance(error, TemporaryError):
        return TemporaryError(error.reason)
    return error


def _issued_at(raw: object) -> datetime:
    # The token response's issued_at is milliseconds since the epoch, as a string.
    try:
        return datetime.fromtimestamp(int(str(raw)) / 1000, UTC)
    except ValueError:
        return datetime.now(UTC)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
