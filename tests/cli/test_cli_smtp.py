"""`relay smtp hash-password` makes a hash that RELAY_SMTP_AUTH_USERS accepts and verifies."""

from __future__ import annotations

from click.testing import CliRunner

from relay.cli.main import cli
from relay.config import load_config
from relay.smtp.credentials import Credentials


def test_hash_password_output_configures_a_user() -> None:
    """The printed USER:HASH loads as a config value, and only the password verifies."""
    result = CliRunner().invoke(
        cli, ["smtp", "hash-password", "--user", "journal"], input="s3cret pw\n"
    )
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert line.startswith("journal:scrypt:")
    assert "s3cret" not in line
    config = load_config(
        environ={
            "RELAY_SMTP_AUTH_USERS": line,
            "RELAY_SMTP_TLS_CERT_FILE": "c.pem",
            "RELAY_SMTP_TLS_KEY_FILE": "k.pem",
        }
    )
    credentials = Credentials(config.smtp.auth_users)
    assert credentials.verify("journal", b"s3cret pw")
    assert not credentials.verify("journal", b"s3cret")


def test_hash_password_refuses_an_empty_password_and_a_bad_user() -> None:
    """Exit 2 for an empty password, or a user name that would break USER:HASH,..."""
    runner = CliRunner()
    assert runner.invoke(cli, ["smtp", "hash-password"], input="\n").exit_code == 2
    bad_user = runner.invoke(cli, ["smtp", "hash-password", "--user", "a:b"], input="pw\n")
    assert bad_user.exit_code == 2
