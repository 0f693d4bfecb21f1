"""Logging in to the local org: OAuth grants, SOAP login, sessions and their expiry."""

from __future__ import annotations

import datetime as dt
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession

from tests.support.localorg import RunningOrg, https_session, start_org

PARTNER = "{urn:partner.soap.sforce.com}"
SOAP_LOGIN = """<?xml version="1.0" encoding="utf-8" ?>
<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:urn="urn:partner.soap.sforce.com">
  <env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">
    <n1:username>{username}</n1:username><n1:password>{password}</n1:password>
  </n1:login></env:Body>
</env:Envelope>"""


def _token(org: RunningOrg, **form: str) -> tuple[int, dict[str, str]]:
    with https_session(org.info) as http:
        response = http.post(org.info.token_url, data=form)
    return response.status_code, response.json()


def _client(org: RunningOrg, token: str) -> Salesforce:
    return Salesforce(
        instance_url=org.info.instance_url,
        session_id=token,
        session=https_session(org.info),
        version="62.0",
    )


def test_password_grant_issues_a_working_token(local_org: RunningOrg) -> None:
    """The username-password flow answers Salesforce's token shape and the token works."""
    info = local_org.info
    status, body = _token(
        local_org,
        grant_type="password",
        client_id=info.client_id,
        client_secret=info.client_secret,
        username=info.username,
        password=info.password + info.security_token,
    )
    assert status == 200
    assert set(body) == {
        "access_token", "instance_url", "id", "token_type", "issued_at", "signature", "scope",
    }  # fmt: skip
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == info.instance_url
    assert body["issued_at"].isdigit()
    assert body["id"].endswith(f"/{info.org_id}/{info.user_id}")
    assert "DailyApiRequests" in _client(local_org, body["access_token"]).limits()


@pytest.mark.parametrize(
    ("change", "error", "description"),
    [
        ({"password": "wrong"}, "invalid_grant", "authentication failure"),
        ({"client_id": "3MVG9nope"}, "invalid_client_id", "client identifier invalid"),
        ({"client_secret": "nope"}, "invalid_client", "invalid client credentials"),
        ({"grant_type": "refresh"}, "unsupported_grant_type", "grant type not supported"),
    ],
)
def test_token_errors_use_salesforce_shape(
    local_org: RunningOrg, change: dict[str, str], error: str, description: str
) -> None:
    """Bad credentials answer 400 with {"error", "error_description"}."""
    info = local_org.info
    form = {
        "grant_type": "password",
        "client_id": info.client_id,
        "client_secret": info.client_secret,
        "username": info.username,
        "password": info.password,
    } | change
    assert _token(local_org, **form) == (400, {"error": error, "error_description": description})


def test_client_credentials_grant_runs_as_the_integration_user(local_org: RunningOrg) -> None:
    """client_credentials issues a token for the configured run-as user."""
    info = local_org.info
    status, body = _token(
        local_org,
        grant_type="client_credentials",
        client_id=info.client_id,
        client_secret=info.client_secret,
    )
    assert status == 200
    assert body["id"].endswith(f"/{info.user_id}")
    result = _client(local_org, body["access_token"]).query("SELECT Id FROM User")
    assert result["totalSize"] >= 1


@pytest.fixture(scope="module")
def jwt_key(local_org: RunningOrg) -> rsa.RSAPrivateKey:
    """An RSA key whose certificate is registered on the connected app."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay-jwt")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    response = local_org.admin.put(
        local_org.url("/_localorg/connected-app"),
        data=cert.public_bytes(serialization.Encoding.PEM),
    )
    assert response.status_code == 200
    return key


def _assertion(org: RunningOrg, key: rsa.RSAPrivateKey, **claims: object) -> str:
    base: dict[str, object] = {
        "iss": org.info.client_id,
        "sub": org.info.username,
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 180,
    }
    return jwt.encode(base | claims, key, algorithm="RS256")


def test_jwt_bearer_grant_verifies_the_assertion(
    local_org: RunningOrg, jwt_key: rsa.RSAPrivateKey
) -> None:
    """A signed assertion for the org's own URL or the login host gets a working token."""
    for audience in ("https://login.salesforce.com", local_org.info.instance_url):
        status, body = _token(
            local_org,
            grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
            assertion=_assertion(local_org, jwt_key, aud=audience),
        )
        assert status == 200, body
        assert set(body) == {"access_token", "instance_url", "id", "token_type", "scope"}
        assert _client(local_org, body["access_token"]).limits()


@pytest.mark.parametrize(
    ("claims", "error", "description"),
    [
        ({"aud": "https://evil.example"}, "invalid_grant", "audience is invalid"),
        ({"exp": 1}, "invalid_grant", "expired authorization code"),
        ({"iss": "3MVG9other"}, "invalid_client_id", "client identifier invalid"),
        ({"sub": "nobody@example.com"}, "invalid_grant", "user hasn't approved this consumer"),
    ],
)
def test_jwt_bearer_rejects_bad_claims(
    local_org: RunningOrg,
    jwt_key: rsa.RSAPrivateKey,
    claims: dict[str, object],
    error: str,
    description: str,
) -> None:
    """aud, exp, iss and sub are each checked."""
    status, body = _token(
        local_org,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=_assertion(local_org, jwt_key, **claims),
    )
    assert (status, body) == (400, {"error": error, "error_description": description})


def test_jwt_signed_by_another_key_is_refused(
    local_org: RunningOrg, jwt_key: rsa.RSAPrivateKey
) -> None:
    """An assertion not signed by the registered certificate's key fails."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    status, body = _token(
        local_org,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=_assertion(local_org, other),
    )
    assert (status, body["error"]) == (400, "invalid_grant")


def test_soap_login_returns_the_partner_envelope(local_org: RunningOrg) -> None:
    """SOAP login() below 65.0 returns sessionId, serverUrl and userInfo; the session works."""
    info = local_org.info
    with https_session(info) as http:
        response = http.post(
            local_org.url("/services/Soap/u/59.0"),
            data=SOAP_LOGIN.format(username=info.username, password=info.password),
            headers={"content-type": "text/xml", "SOAPAction": "login"},
        )
    assert response.status_code == 200
    result = ET.fromstring(response.content).find(f".//{PARTNER}result")
    assert result is not None
    assert result.findtext(f"{PARTNER}passwordExpired") == "false"
    assert result.findtext(f"{PARTNER}serverUrl", "").startswith(info.instance_url)
    assert result.findtext(f"{PARTNER}userId") == info.user_id
    assert result.findtext(f"{PARTNER}userInfo/{PARTNER}organizationId") == info.org_id
    assert result.findtext(f"{PARTNER}userInfo/{PARTNER}userName") == info.username
    session_id = result.findtext(f"{PARTNER}sessionId")
    assert session_id
    assert _client(local_org, session_id).limits()


@pytest.mark.parametrize(
    ("version", "password", "code"),
    [("65.0", None, "INVALID_OPERATION"), ("59.0", "wrong", "INVALID_LOGIN")],
)
def test_soap_login_faults(
    local_org: RunningOrg, version: str, password: str | None, code: str
) -> None:
    """SOAP login() is gone from 65.0; a bad password is INVALID_LOGIN; both are faults."""
    info = local_org.info
    with https_session(info) as http:
        response = http.post(
            local_org.url(f"/services/Soap/u/{version}"),
            data=SOAP_LOGIN.format(username=info.username, password=password or info.password),
            headers={"content-type": "text/xml", "SOAPAction": "login"},
        )
    assert response.status_code == 500
    fault_ns = "{urn:fault.partner.soap.sforce.com}"
    root = ET.fromstring(response.content)
    assert root.findtext(".//faultcode") == f"sf:{code}"
    assert root.findtext(f".//{fault_ns}exceptionCode") == code


def test_missing_or_unknown_token_is_invalid_session(local_org: RunningOrg) -> None:
    """No Authorization, or a token the org never issued, answers 401 INVALID_SESSION_ID."""
    expected = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    with https_session(local_org.info) as http:
        url = local_org.url("/services/data/v62.0/limits")
        assert http.get(url).json() == expected
        response = http.get(url, headers={"Authorization": "Bearer 00Dnope!nope"})
        assert (response.status_code, response.json()) == (401, expected)
        admin = http.get(local_org.url("/_localorg/settings"))
        assert (admin.status_code, admin.json()) == (401, expected)


def test_sessions_expire_after_the_ttl(tmp_path: Path) -> None:
    """After the session TTL every call answers 401, which simple-salesforce reports."""
    org = start_org(tmp_path / "org", session_ttl_seconds=0.5)
    try:
        client = org.client()
        assert client.limits()
        time.sleep(0.6)
        with pytest.raises(SalesforceExpiredSession):
            client.limits()
    finally:
        org.org.stop()


def test_sessions_and_records_survive_a_restart(tmp_path: Path) -> None:
    """A token issued before a restart still works after it, and so do the records."""
    first = start_org(tmp_path / "org")
    client = first.client()
    account = client.Account.create({"Name": "Persistent Inc"})
    token = first.info.access_token
    first.org.stop()
    second = start_org(tmp_path / "org")
    try:
        again = Salesforce(
            instance_url=second.info.instance_url,
            session_id=token,
            session=https_session(second.info),
            version="62.0",
        )
        assert again.Account.get(account["id"])["Name"] == "Persistent Inc"
        assert second.info.client_secret == first.info.client_secret
    finally:
        second.org.stop()


def test_credentials_and_keys_are_private_files(local_org: RunningOrg) -> None:
    """Secrets in the data directory are 0600; the CA is reused, not rewritten."""
    data_dir = Path(local_org.info.data_dir)
    for name in ("credentials.json", "server-key.pem", "ca-key.pem", "sessions.json"):
        assert (data_dir / name).stat().st_mode & 0o777 == 0o600, name
