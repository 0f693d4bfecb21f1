"""SMTP AUTH (RFC 4954) and TLS client certificates name an inbound source on the session."""

from __future__ import annotations

import base64
import hashlib
import logging
import smtplib
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from structlog.testing import capture_logs

from relay.config import SmtpConfig, load_config
from relay.errors import ConfigError
from relay.smtp import replies
from relay.smtp.credentials import Credentials, check_hash, hash_password
from relay.smtp.tls import server_tls_context
from tests.smtp.smtp_edge import HOSTNAME, LOG, message, running_edge
from tests.support.tls_certificates import Certificate, make_certificate

PASSWORD = "correct horse battery staple"


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return make_certificate(tmp_path / "tls", HOSTNAME)


def client_context(server: Certificate, client: Certificate | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(server.cert_file))
    if client is not None:
        context.load_cert_chain(client.cert_file, client.key_file)
    return context


def tls_settings(certificate: Certificate) -> dict[str, object]:
    return {"tls_cert_file": certificate.cert_file, "tls_key_file": certificate.key_file}


def plain(user: str, password: str) -> str:
    return "PLAIN " + base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def test_without_users_auth_is_not_offered(tmp_path: Path, certificate: Certificate):
    """No users configured: EHLO after STARTTLS lists no AUTH, and AUTH gets 503 5.5.1."""
    with (
        running_edge(tmp_path, **tls_settings(certificate)) as edge,
        smtplib.SMTP("127.0.0.1", edge.port, timeout=10) as client,
    ):
        client.starttls(context=client_context(certificate))
        client.ehlo("client.example")
        assert not client.has_extn("auth")
        code, text = client.docmd("AUTH", plain("alice", PASSWORD))
        assert f"{code} {text.decode()}" == replies.AUTH_NOT_ENABLED


def test_auth_only_over_tls_and_names_the_user(tmp_path: Path, certificate: Certificate):
    """AUTH is hidden and refused (538) before TLS; after it, PLAIN and LOGIN log the user in
    and the next message's session says auth:<user>."""
    users = (("alice", hash_password(PASSWORD)),)
    with running_edge(tmp_path, auth_users=users, **tls_settings(certificate)) as edge:
        for mechanism in ("PLAIN", "LOGIN"):
            with smtplib.SMTP("127.0.0.1", edge.port, timeout=10) as client:
                client.ehlo("client.example")
                assert not client.has_extn("auth")
                assert client.docmd("AUTH", plain("alice", PASSWORD))[0] == 538
                client.starttls(context=client_context(certificate))
                client.ehlo("client.example")
                assert client.esmtp_features["auth"].split() == ["LOGIN", "PLAIN"]
                client.user, client.password = "alice", PASSWORD
                authenticate = client.auth_plain if mechanism == "PLAIN" else client.auth_login
                assert client.auth(mechanism, authenticate)[0] == 235
                client.sendmail("rep@x.example", [LOG], message(mechanism))
    assert [seen.inbound_source for seen in edge.seen] == ["auth:alice", "auth:alice"]


def test_failed_logins_are_counted_then_the_session_is_closed(
    tmp_path: Path, certificate: Certificate, caplog: pytest.LogCaptureFixture
):
    """535 for each wrong password (unknown users alike); the third gets 421 and the close.
    Neither the password nor its base64 appears in any log."""
    caplog.set_level(logging.DEBUG)
    users = (("alice", hash_password(PASSWORD)),)
    with running_edge(tmp_path, auth_users=users, **tls_settings(certificate)) as edge:
        with capture_logs() as logs, smtplib.SMTP("127.0.0.1", edge.port, timeout=10) as client:
            client.starttls(context=client_context(certificate))
            client.ehlo("client.example")
            assert client.docmd("AUTH", plain("alice", "wrong"))[0] == 535
            assert client.docmd("AUTH", plain("mallory", PASSWORD))[0] == 535
            code, text = client.docmd("AUTH", plain("alice", "guess"))
            assert (code, text) == (535, b"5.7.8 Authentication credentials invalid")
            assert client.getreply() == (421, b"4.7.0 Too many failed authentication attempts")
            with pytest.raises(smtplib.SMTPServerDisconnected):
                client.noop()
            # A successful login's secret stays out of the logs too.
        with smtplib.SMTP("127.0.0.1", edge.port, timeout=10) as client:
            client.starttls(context=client_context(certificate))
            client.login("alice", PASSWORD)
    failures = [entry for entry in logs if entry["event"] == "smtp_auth_failed"]
    assert [entry["failures"] for entry in failures] == [1, 2, 3]
    secrets = {PASSWORD, "guess", base64.b64encode(f"\0alice\0{PASSWORD}".encode()).decode()}
    logged = [str(entry) for entry in logs] + [record.getMessage() for record in caplog.records]
    assert not [line for line in logged if any(secret in line for secret in secrets)]


def test_a_configured_client_certificate_names_the_source(tmp_path: Path, certificate: Certificate):
    """A client certificate whose fingerprint is configured: cert:<16 hex>; another verified
    certificate, or none, leaves the source unnamed (and still delivers)."""
    known = make_certificate(tmp_path / "known", "journal.example", "known")
    other = make_certificate(tmp_path / "other", "other.example", "other")
    ca_file = tmp_path / "clients.pem"
    ca_file.write_bytes(known.cert_file.read_bytes() + other.cert_file.read_bytes())
    der = x509.load_pem_x509_certificate(known.cert_file.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    fingerprint = hashlib.sha256(der).hexdigest()
    with running_edge(
        tmp_path,
        tls_client_ca_file=ca_file,
        inbound_cert_fingerprints=(fingerprint,),
        **tls_settings(certificate),
    ) as edge:
        for client_cert in (known, other, None):
            with smtplib.SMTP("127.0.0.1", edge.port, timeout=10) as client:
                client.starttls(context=client_context(certificate, client_cert))
                client.sendmail("rep@x.example", [LOG], message("cert"))
    assert [seen.inbound_source for seen in edge.seen] == [f"cert:{fingerprint[:16]}", None, None]


def test_auth_users_and_fingerprints_are_checked_at_load(tmp_path: Path):
    """Hashes and fingerprints are validated at start-up; AUTH without TLS is a config error."""
    hashed = hash_password("pw", n=2**4)
    assert check_hash(hashed) is None
    colons = ":".join(["AB"] * 32)
    config = load_config(
        environ={
            "RELAY_SMTP_AUTH_USERS": f"journal:{hashed}, backup:{hashed}",
            "RELAY_SMTP_TLS_CERT_FILE": "c.pem",
            "RELAY_SMTP_TLS_KEY_FILE": "k.pem",
            "RELAY_SMTP_TLS_CLIENT_CA_FILE": "ca.pem",
            "RELAY_SMTP_INBOUND_CERT_FINGERPRINTS": colons,
        }
    )
    assert config.smtp.auth_users == (("journal", hashed), ("backup", hashed))
    assert config.smtp.inbound_cert_fingerprints == ("ab" * 32,)
    assert config.redacted()["smtp"]["auth_users"] == "********"
    assert Credentials(config.smtp.auth_users).verify("journal", b"pw")
    assert not Credentials(config.smtp.auth_users).verify("journal", b"pw2")
    with pytest.raises(ConfigError) as caught:
        load_config(environ={"RELAY_SMTP_AUTH_USERS": "journal:plaintext"})
    assert "relay smtp hash-password" in caught.value.reason
    with pytest.raises(ConfigError) as caught:
        load_config(environ={"RELAY_SMTP_AUTH_USERS": f"journal:{hashed}"})
    assert "RFC 4954" in caught.value.reason
    with pytest.raises(ConfigError) as caught:
        load_config(environ={"RELAY_SMTP_INBOUND_CERT_FINGERPRINTS": "abc"})
    assert "not a SHA-256 fingerprint" in caught.value.reason


def test_an_unreadable_client_ca_file_stops_start_up(tmp_path: Path, certificate: Certificate):
    """A missing or non-PEM client CA file is a ConfigError naming it, not a traceback."""
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    for ca_file, expected in ((tmp_path / "missing.pem", "not found"), (garbage, "not PEM")):
        smtp = SmtpConfig(
            tls_cert_file=certificate.cert_file,
            tls_key_file=certificate.key_file,
            tls_client_ca_file=ca_file,
        )
        with pytest.raises(ConfigError) as caught:
            server_tls_context(smtp)
        assert f"TLS client CA file {ca_file}: {expected}" in caught.value.reason


def test_stored_hashes_are_checked():
    """Only well-formed scrypt hashes with sane costs are accepted."""
    assert check_hash("plaintext") == "not a hash in the form scrypt:N:r:p:SALT:KEY"
    assert check_hash("bcrypt:16384:8:1:c2FsdA:a2V5") == "not a scrypt hash"
    assert "power of two" in (check_hash("scrypt:1000:8:1:c2FsdA:a2V5") or "")
    assert "power of two" in (check_hash("scrypt:4194304:8:1:c2FsdA:a2V5") or "")
    assert "32-byte key" in (check_hash("scrypt:16384:8:1:c2FsdA:a2V5") or "")
