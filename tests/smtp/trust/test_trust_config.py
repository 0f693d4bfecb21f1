"""The trust settings: safe defaults, and values checked at start-up."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from relay.config import load_config
from relay.errors import ConfigError
from relay.logs import redact_text
from relay.privacy import mask_inbound_secret, mask_tokens


def test_the_defaults_trust_no_network_and_prove_every_sender() -> None:
    """Nothing is trusted unless the admin says so; either (DMARC or personal address)."""
    smtp = load_config(environ={}).smtp
    assert smtp.trusted_networks == ()
    assert smtp.sender_auth == "either"
    assert smtp.authserv_id is None
    assert (smtp.inbound_networks, smtp.inbound_secret) == ((), None)
    assert load_config(environ={}).dns_nameservers == ()


def test_every_trust_setting_reads_its_variable() -> None:
    config = load_config(
        environ={
            "RELAY_SMTP_SENDER_AUTH": "Personal_Address",
            "RELAY_SMTP_AUTHSERV_ID": "mx.acme.example",
            "RELAY_SMTP_INBOUND_NETWORKS": "40.92.0.0/15, 2a01:111:f400::/48",
            "RELAY_SMTP_INBOUND_SECRET": "0123456789abcdef-_x",
            "RELAY_DNS_NAMESERVERS": "192.0.2.53, 192.0.2.54:5353, [2001:db8::53]:53, ::1",
        }
    )
    assert config.smtp.sender_auth == "personal_address"
    assert config.smtp.authserv_id == "mx.acme.example"
    assert config.smtp.inbound_networks == ("40.92.0.0/15", "2a01:111:f400::/48")
    assert config.dns_nameservers == (
        "192.0.2.53",
        "192.0.2.54:5353",
        "[2001:db8::53]:53",
        "::1",
    )
    assert config.redacted()["smtp"]["inbound_secret"] == "********"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RELAY_SMTP_SENDER_AUTH", "spf", "not one of either, dmarc, personal_address"),
        ("RELAY_DNS_NAMESERVERS", "dns.example", "'dns.example' is not a DNS server"),
        ("RELAY_DNS_NAMESERVERS", "192.0.2.53:99999", "is not a DNS server"),
        ("RELAY_SMTP_INBOUND_SECRET", "short", "at least 16 letters"),
        ("RELAY_SMTP_INBOUND_SECRET", "has spaces in it ok?", "at least 16 letters"),
    ],
)
def test_a_bad_value_stops_start_up(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(environ={variable: value})
    assert any(variable in p and message in p for p in error.value.problems), error.value.problems


def test_an_inbound_network_without_its_secret_is_refused() -> None:
    """The network alone proves nothing (Microsoft 365's ranges are every tenant's)."""
    with pytest.raises(ConfigError) as error:
        load_config(environ={"RELAY_SMTP_INBOUND_NETWORKS": "40.92.0.0/15"})
    assert "needs both RELAY_SMTP_INBOUND_NETWORKS and RELAY_SMTP_INBOUND_SECRET" in str(
        error.value.problems
    )


def test_the_inbound_secret_is_masked_in_any_log_text() -> None:
    """Belt and braces: even a library line quoting the recipient shows no secret."""
    text = "RCPT TO:<log+inbound-s3cret-inbound-0123456789@relay.example> refused"
    assert redact_text(text) == "RCPT TO:<log+inbound-[redacted]@relay.example> refused"


@pytest.mark.parametrize("mask", [mask_tokens, mask_inbound_secret, redact_text])
def test_no_part_of_the_inbound_secret_survives_a_mask(mask: Callable[[str], str]) -> None:
    """Every mask shows the inbound address by its kind only: not one character of the
    secret, not even a prefix (an admin pastes log lines into tickets)."""
    secret = "Zq8xW2vK9mLp4Rt7"
    shown = mask(f"To: <log+inbound-{secret}@relay.example>, log+INBOUND-{secret}@relay.example")
    assert "log+inbound-[redacted]@" in shown.lower()
    assert all(secret[i : i + 4] not in shown for i in range(len(secret) - 3))
