"""Each way of logging in, against the local org over HTTPS, and what happens on expiry."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from structlog.testing import capture_logs

from relay.config import SalesforceConfig
from relay.errors import NeedsAttention
from relay.salesforce.auth import Flow
from tests.salesforce.sfclient_helpers import admin, client_for, password_config
from tests.support.localorg import running_org


def _usernames(records: list[dict[str, Any]]) -> set[str]:
    return {str(r["Username"]).lower() for r in records}


def test_password_flow(org: Any) -> None:
    """Username-password: the client logs in and queries as the integration user."""
    with client_for(password_config(org)) as client:
        assert client.credentials.flow is Flow.PASSWORD
        records = client.query_all("SELECT Id, Username FROM User")
    assert org.username.lower() in _usernames(records)


def test_client_credentials_flow(org: Any) -> None:
    """Client credentials: consumer key and secret alone get a session."""
    config = SalesforceConfig(
        token_url=org.token_url,
        client_id=org.client_id,
        client_secret=org.client_secret,
        ca_file=Path(org.ca_file),
    )
    with client_for(config) as client:
        assert client.credentials.flow is Flow.CLIENT_CREDENTIALS
        assert client.query("SELECT Id FROM User")["totalSize"] >= 1


def _key_and_certificate(tmp_path: Path, name: str) -> tuple[Path, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_file = tmp_path / f"{name}.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return key_file, cert.public_bytes(serialization.Encoding.PEM)


def _jwt_config(org: Any, key_file: Path, username: str | None = None) -> SalesforceConfig:
    return SalesforceConfig(
        token_url=org.token_url,
        client_id=org.client_id,
        username=username or org.username,
        private_key_file=key_file,
        ca_file=Path(org.ca_file),
    )


def test_jwt_bearer_flow(org: Any, tmp_path: Path) -> None:
    """JWT bearer: an assertion signed with the key whose certificate the app holds."""
    key_file, cert = _key_and_certificate(tmp_path, "app")
    admin(org, "PUT", "/_localorg/connected-app", data=cert)
    with client_for(_jwt_config(org, key_file)) as client:
        assert client.credentials.flow is Flow.JWT_BEARER
        assert client.query("SELECT Id FROM User")["totalSize"] >= 1


def test_jwt_certificate_mismatch_says_what_to_check(org: Any, tmp_path: Path) -> None:
    """An assertion the app's certificate cannot verify is held with what to check."""
    _, cert = _key_and_certificate(tmp_path, "registered")
    other_key, _ = _key_and_certificate(tmp_path, "other")
    admin(org, "PUT", "/_localorg/connected-app", data=cert)
    with client_for(_jwt_config(org, other_key)) as client, pytest.raises(NeedsAttention) as caught:
        client.query("SELECT Id FROM User")
    assert "invalid_grant" in caught.value.reason
    assert "certificate" in caught.value.reason
    assert "pre-authorized" in caught.value.reason


def test_jwt_unapproved_user_says_how_to_pre_authorize(org: Any, tmp_path: Path) -> None:
    """'user hasn't approved this consumer' explains pre-authorizing the user."""
    key_file, cert = _key_and_certificate(tmp_path, "app")
    admin(org, "PUT", "/_localorg/connected-app", data=cert)
    config = _jwt_config(org, key_file, username="someone.else@example.com")
    with client_for(config) as client, pytest.raises(NeedsAttention) as caught:
        client.query("SELECT Id FROM User")
    assert "Admin approved users are pre-authorized" in caught.value.reason


def test_wrong_password_is_held_without_leaking_it(org: Any) -> None:
    """A refused password login says what to check and never repeats the password."""
    config = password_config(org, password="not-the-password-42")
    with (
        capture_logs() as logs,
        client_for(config) as client,
        pytest.raises(NeedsAttention) as caught,
    ):
        client.query("SELECT Id FROM User")
    assert "security token" in caught.value.reason
    assert "not-the-password-42" not in caught.value.reason
    assert "not-the-password-42" not in repr(logs)


def test_soap_login_works_and_warns(org: Any) -> None:
    """Legacy SOAP login still works (capped at API 64.0) but warns it is going away."""
    config = SalesforceConfig(
        token_url=f"{org.instance_url}/services/Soap/u/66.0",
        username=org.username,
        password=org.password,
        ca_file=Path(org.ca_file),
    )
    with capture_logs() as logs, client_for(config) as client:
        assert client.query("SELECT Id FROM User")["totalSize"] >= 1
    warnings = [e for e in logs if e["event"] == "salesforce_soap_login_deprecated"]
    assert warnings
    assert "Summer '27" in warnings[0]["advice"]
    assert org.password not in repr(logs)


def test_direct_session_that_stopped_working_is_held(org: Any) -> None:
    """A direct session cannot refresh: a rejected token holds with guidance."""
    config = SalesforceConfig(
        instance_url=org.instance_url,
        access_token=org.access_token[:16] + "expired0000000000000000000000",
        ca_file=Path(org.ca_file),
    )
    with client_for(config) as client, pytest.raises(NeedsAttention) as caught:
        client.query("SELECT Id FROM User")
    assert "RELAY_SF_ACCESS_TOKEN has expired or was revoked" in caught.value.reason


def test_direct_session_works(org: Any) -> None:
    """A live direct session (instance URL + token) needs no login."""
    config = SalesforceConfig(
        instance_url=org.instance_url, access_token=org.access_token, ca_file=Path(org.ca_file)
    )
    with client_for(config) as client:
        assert client.query("SELECT Id FROM User")["totalSize"] >= 1


def test_untrusted_certificate_points_at_the_ca_setting(org: Any) -> None:
    """Without RELAY_SF_CA_FILE the local org's certificate is refused, with the fix."""
    with (
        client_for(password_config(org, ca_file=None)) as client,
        pytest.raises(NeedsAttention, match="RELAY_SF_CA_FILE"),
    ):
        client.query("SELECT Id FROM User")


# --- expiry: an org whose sessions last one second -------------------------------------

SESSION_TTL = 1.0


@pytest.fixture(scope="module")
def short_session_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_org(tmp_path_factory.mktemp("short-org"), session_ttl_seconds=SESSION_TTL) as org:
        yield org.info


def test_expired_session_is_renewed_once_and_the_call_replayed(short_session_org: Any) -> None:
    """INVALID_SESSION_ID: the client logs in again once and the call succeeds."""
    with client_for(password_config(short_session_org)) as client:
        client.query("SELECT Id FROM User")
        time.sleep(SESSION_TTL + 0.2)
        with capture_logs() as logs:
            result = client.query("SELECT Id FROM User")
    assert result["totalSize"] >= 1
    assert [e["event"] for e in logs].count("salesforce_session_expired") == 1


def test_concurrent_calls_share_one_renewal(short_session_org: Any) -> None:
    """Threads that all find the session expired log in again only once."""
    with client_for(password_config(short_session_org)) as client:
        client.query("SELECT Id FROM User")
        time.sleep(SESSION_TTL + 0.2)
        results: list[int] = []
        start = threading.Barrier(6)

        def call() -> None:
            start.wait()
            results.append(client.query("SELECT Id FROM User")["totalSize"])

        with capture_logs() as logs:
            threads = [threading.Thread(target=call) for _ in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    assert len(results) == 6
    assert [e["event"] for e in logs].count("salesforce_session_expired") == 1


def test_expired_direct_session_is_held(short_session_org: Any) -> None:
    """A direct session's token that expires mid-run holds with guidance."""
    config = SalesforceConfig(
        instance_url=short_session_org.instance_url,
        access_token=short_session_org.access_token,
        ca_file=Path(short_session_org.ca_file),
    )
    time.sleep(SESSION_TTL + 0.2)  # the token printed at start-up has expired by now
    with client_for(config) as client, pytest.raises(NeedsAttention, match="ACCESS_TOKEN"):
        client.query("SELECT Id FROM User")
