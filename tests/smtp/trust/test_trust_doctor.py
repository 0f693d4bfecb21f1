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


@pytest.mark.parametrize("network", ["127.0.0.1/32", "::1/128", "192.0.2.10/32"])
def test_the_one_address_of_postfix_beside_relay_is_not_the_fix(network: str) -> None:
    """Postfix on this host is trusted by exactly the /32 docs/operations.md §13 says to
    set: the fix must say what reduces the risk (only Postfix reaches Relay's port), not
    ask for that same /32 again."""
    (check,) = check_trust([network], "either", ["192.0.2.10"])
    assert check.status == "warn"
    (fix,) = check.fix
    assert "/32" not in fix
    assert "only the mail server in front can reach Relay's port" in fix
    assert "container network" in fix
    assert "firewall" in fix


def test_a_wide_network_is_told_to_narrow_and_isolate() -> None:
    (check,) = check_trust(["10.0.0.0/8"], "either")
    (fix,) = check.fix
    assert "Trust only the mail server in front of Relay (its one address)" in fix
    assert "can reach Relay's port" in fix


def test_trusted_only_without_a_trusted_network_fails() -> None:
    """Every client is then refused: that is a failure, with the fix."""
    checks = run_checks(Facts(sender_auth="trusted_only"))
    (check,) = [c for c in checks if c.name == "sender authentication"]
    assert check.status == "fail"
    assert "every message is refused" in check.detail
    assert "RELAY_SMTP_TRUSTED_NETWORKS" in check.fix[0]
    assert "RELAY_SMTP_SENDER_AUTH=either" in check.fix[0]
    (trusted,) = [
        c
        for c in run_checks(Facts(sender_auth="trusted_only", trusted_networks=("192.0.2.25/32",)))
        if c.name == "sender authentication"
    ]
    assert trusted.status == "ok"


def test_relay_doctor_exits_1_for_trusted_only_without_a_trusted_network(
    tmp_path: object,
) -> None:
    env = {"RELAY_HOME": str(tmp_path), "RELAY_SMTP_SENDER_AUTH": "trusted_only"}
    result = CliRunner().invoke(cli, ["doctor", "--json"], env=env)
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    checks = document["checks"] if isinstance(document, dict) else document
    (check,) = [c for c in checks if c["name"] == "sender authentication"]
    assert check["status"] == "fail"
