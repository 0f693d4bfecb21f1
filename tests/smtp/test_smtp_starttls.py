"""STARTTLS on the listener (RFC 3207) with a self-signed certificate made in the test."""

from __future__ import annotations

import os
import shutil
import smtplib
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from structlog.testing import capture_logs

from relay.config import SmtpConfig
from relay.errors import ConfigError
from relay.smtp.tls import server_tls_context
from tests.smtp.smtp_session_helpers import LOG, message
from tests.support.tls_certificates import Certificate, make_certificate

HOSTNAME = "mx.relay.example"


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return make_certificate(tmp_path / "tls", HOSTNAME)


def trusting(certificate: Certificate) -> ssl.SSLContext:
    """A client context that trusts only the test's certificate (hostname checked)."""
    return ssl.create_default_context(cafile=str(certificate.cert_file))


def tls_daemon(start_daemon, certificate: Certificate, require_tls: bool = False):
    return start_daemon(
        tls_cert_file=certificate.cert_file,
        tls_key_file=certificate.key_file,
        require_tls=require_tls,
    )


def test_starttls_is_advertised_and_mail_is_queued_over_tls(start_daemon, certificate):
    """EHLO lists STARTTLS; after it, a message is queued and the event names the TLS version."""
    relay = tls_daemon(start_daemon, certificate)
    raw = message("over-tls")
    with capture_logs() as logs, smtplib.SMTP("127.0.0.1", relay.smtp_port, timeout=10) as client:
        client.ehlo("client.test.example")
        assert client.has_extn("starttls")
        code, _ = client.starttls(context=trusting(certificate))  # verified against 127.0.0.1
        assert code == 220
        client.ehlo("client.test.example")
        assert not client.has_extn("starttls")  # RFC 3207 §4.2: not offered again
        refused = client.sendmail("rep@x.example", [LOG], raw)
        assert refused == {}
    assert relay.stored() == [raw]
    queued = [entry for entry in logs if entry["event"] == "message_queued"]
    assert queued
    assert queued[0]["tls_version"] in {"TLSv1.2", "TLSv1.3"}
    assert queued[0]["tls_cipher"]


def test_require_tls_refuses_mail_before_starttls(start_daemon, certificate):
    """With require_tls, plain MAIL gets 530 5.7.0 (RFC 3207 §4); after STARTTLS it works."""
    relay = tls_daemon(start_daemon, certificate, require_tls=True)
    with smtplib.SMTP("127.0.0.1", relay.smtp_port, timeout=10) as client:
        client.ehlo("client.test.example")
        assert client.mail("rep@x.example") == (530, b"5.7.0 Must issue a STARTTLS command first")
        client.starttls(context=trusting(certificate))  # verified against 127.0.0.1
        client.ehlo("client.test.example")
        assert client.mail("rep@x.example")[0] == 250
        assert client.rcpt(LOG)[0] == 250
        code, text = client.data(message("after-starttls"))
    assert code == 250
    assert text.startswith(b"2.0.0 Ok: queued as ")
    assert len(relay.stored()) == 1


def test_without_a_certificate_starttls_is_not_offered(start_daemon):
    """No TLS files configured: EHLO does not advertise STARTTLS."""
    relay = start_daemon()
    with smtplib.SMTP("127.0.0.1", relay.smtp_port, timeout=10) as client:
        client.ehlo("client.test.example")
        assert not client.has_extn("starttls")


def smtp_config(cert: Path, key: Path) -> SmtpConfig:
    return SmtpConfig(tls_cert_file=cert, tls_key_file=key)


def test_bad_certificate_files_are_config_errors(tmp_path: Path, certificate: Certificate):
    """Missing, not PEM, mismatched or encrypted: a ConfigError naming the file, no traceback."""
    other = make_certificate(tmp_path / "other", HOSTNAME, "other")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    encrypted = tmp_path / "encrypted.key"
    key = serialization.load_pem_private_key(certificate.key_file.read_bytes(), None)
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    cases = [
        (smtp_config(tmp_path / "missing.crt", certificate.key_file), "not found"),
        (smtp_config(certificate.cert_file, tmp_path), "is a directory"),
        (smtp_config(garbage, certificate.key_file), "not a PEM certificate"),
        (smtp_config(certificate.cert_file, other.key_file), "does not match"),
        (smtp_config(certificate.cert_file, encrypted), "encrypted"),
    ]
    for config, expected in cases:
        with pytest.raises(ConfigError) as caught:
            server_tls_context(config)
        assert expected in caught.value.reason, caught.value.reason
    assert server_tls_context(smtp_config(certificate.cert_file, certificate.key_file))


def test_relay_serve_stops_with_a_readable_message_on_a_missing_certificate(tmp_path: Path):
    """`relay serve` with a missing certificate exits 2 with the file named, no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")} | {
        "RELAY_HOME": str(tmp_path / "home"),
        "RELAY_SMTP_TLS_CERT_FILE": str(tmp_path / "missing.crt"),
        "RELAY_SMTP_TLS_KEY_FILE": str(tmp_path / "missing.key"),
        "RELAY_SF_INSTANCE_URL": "https://127.0.0.1:9",  # no embedded org: nothing to start
        "RELAY_SF_ACCESS_TOKEN": "unused",
    }
    done = subprocess.run(
        [sys.executable, "-m", "relay", "serve", "--smtp-port", "0", "--http-port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "missing.crt: not found" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_swaks_tls_delivers(start_daemon, certificate):
    """swaks --tls (an independent client) negotiates STARTTLS and gets 250 when TLS is required."""
    relay = tls_daemon(start_daemon, certificate, require_tls=True)
    done = subprocess.run(
        [
            *("swaks", "--server", f"127.0.0.1:{relay.smtp_port}", "--from", "rep@x.example"),
            *("--to", LOG, "--tls", "--header", "Subject: swaks over tls"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "STARTTLS" in done.stdout
    assert "250 2.0.0 Ok: queued as" in done.stdout
    assert len(relay.stored()) == 1
