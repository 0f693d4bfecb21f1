"""`relay doctor` warns about trust that others can use, and about sender_auth=none."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from relay.cli.main import cli
from relay.doctor import Facts, check_trust, run_checks


@pytest.mark.parametrize(
    ("network", "covers"),
    [
        ("127.0.0.0/8", "loopback"),
        ("127.0.0.1/32", "loopback"),
        ("::1/128", "loopback"),
        ("0.0.0.0/0", "every address"),
        ("::/0", "every address"),
        ("10.0.0.0/8", "16777216 addresses"),
        ("172.16.0.0/12", "addresses, not one mail server"),
        ("192.0.2.0/25", "this host's own address 192.0.2.10"),
    ],
)
def test_a_trusted_network_others_can_use_is_warned(network: str, covers: str) -> None:
    (check,) = check_trust([network], "either", ["192.0.2.10", "2001:db8::10"])
    assert check.status == "warn"
    assert covers in check.detail
    assert "Security model" in check.fix[0]


def test_the_mail_server_in_front_alone_is_fine() -> None:
    (check,) = check_trust(["192.0.2.25/32", "2001:db8::25/128"], "either", ["192.0.2.10"])
    assert (check.name, check.status) == ("sender authentication", "ok")


def test_sender_auth_none_is_warned() -> None:
    checks = run_checks(Facts(sender_auth="none"))
    (check,) = [c for c in checks if c.name == "sender authentication"]
    assert check.status == "warn"
    assert "logged as that rep" in check.detail


def test_relay_doctor_reports_the_trust_checks(tmp_path: object) -> None:
    """The command itself: the quick start's trial trust is named as a warning."""
    env = {
        "RELAY_HOME": str(tmp_path),
        "RELAY_SMTP_TRUSTED_NETWORKS": "127.0.0.1/32",
        "RELAY_SMTP_SENDER_AUTH": "none",
    }
    result = CliRunner().invoke(cli, ["doctor", "--json"], env=env)
    document = json.loads(result.stdout)
    checks = document["checks"] if isinstance(document, dict) else document
    trust = [c for c in checks if c["name"] in ("trusted networks", "sender authentication")]
    assert [(c["name"], c["status"]) for c in trust] == [
        ("trusted networks", "warn"),
        ("sender authentication", "warn"),
    ]
