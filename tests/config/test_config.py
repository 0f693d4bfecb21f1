"""Configuration: defaults, TOML, environment overrides and actionable errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from relay.config import DEFAULT_MAX_MESSAGE_BYTES, load_config, unknown_variables
from relay.errors import ConfigError


def test_defaults_follow_the_design_contract() -> None:
    """With nothing set, the values are the contract's defaults (docs/design.md §8)."""
    config = load_config(environ={})
    assert config.home == Path("./var")
    assert (config.smtp.host, config.smtp.port) == ("127.0.0.1", 2525)
    assert config.domain == "relay.localhost"
    assert config.internal_domains == ()
    assert config.http_port == 8025
    assert config.smarthost is None
    assert config.smtp.max_message_bytes == DEFAULT_MAX_MESSAGE_BYTES == 35 * 1024 * 1024
    assert config.effective_store_url == "sqlite:///var/relay.db"
    assert not config.salesforce.configured


def test_environment_overrides_toml(tmp_path: Path) -> None:
    """RELAY_* variables win over the file, and the file wins over defaults."""
    path = tmp_path / "relay.toml"
    path.write_text(
        'domain = "bcc.example.com"\ninternal_domains = ["example.com"]\n'
        "[smtp]\nport = 2600\nmax_recipients = 10\n"
    )
    config = load_config(path, environ={"RELAY_SMTP_PORT": "2700"})
    assert config.domain == "bcc.example.com"
    assert config.internal_domains == ("example.com",)
    assert config.smtp.port == 2700
    assert config.smtp.max_recipients == 10
    assert config.smtp.hostname == "bcc.example.com"


def test_relay_config_variable_names_the_file(tmp_path: Path) -> None:
    """RELAY_CONFIG is read when no path is passed."""
    path = tmp_path / "relay.toml"
    path.write_text('domain = "crm.example.org"\n')
    assert load_config(environ={"RELAY_CONFIG": str(path)}).domain == "crm.example.org"


def test_comma_separated_internal_domains() -> None:
    """RELAY_INTERNAL_DOMAINS is a comma-separated list, normalised to lower case."""
    config = load_config(environ={"RELAY_INTERNAL_DOMAINS": "Example.com, corp.example.net,"})
    assert config.internal_domains == ("example.com", "corp.example.net")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RELAY_SMTP_PORT", "abc", "RELAY_SMTP_PORT='abc': not a port number (1-65535)"),
        ("RELAY_HTTP_PORT", "70000", "RELAY_HTTP_PORT='70000': not a port number (1-65535)"),
        ("RELAY_DOMAIN", "not a domain", "RELAY_DOMAIN='not a domain': not a mail domain"),
        ("RELAY_STORE_URL", "mysql://x", "RELAY_STORE_URL='mysql://x': not a store URL"),
        (
            "RELAY_SMARTHOST",
            "mail.example.com",
            "RELAY_SMARTHOST='mail.example.com': not host:port",
        ),
        ("RELAY_SF_INSTANCE_URL", "example.com", "not an http(s) URL"),
        ("RELAY_SMTP_REQUIRE_TLS", "maybe", "not a boolean"),
        (
            "RELAY_SMTP_TRUSTED_NETWORKS",
            "10.0.0.0/8,garbage",
            "'garbage' is not an IP network (CIDR such as 10.0.0.0/8, or 'none')",
        ),
        ("RELAY_SMTP_TRUSTED_NETWORKS", "10.0.0.0/33", "'10.0.0.0/33' is not an IP network"),
    ],
)
def test_invalid_values_name_the_variable_and_the_rule(name: str, value: str, message: str) -> None:
    """Each invalid value is reported as NAME=value: what is allowed."""
    with pytest.raises(ConfigError) as info:
        load_config(environ={name: value})
    assert any(message in problem for problem in info.value.problems)


def test_trusted_networks_take_cidr_a_bare_address_or_none() -> None:
    config = load_config(environ={"RELAY_SMTP_TRUSTED_NETWORKS": "10.0.0.0/8, 192.0.2.7,::1"})
    assert config.smtp.trusted_networks == ("10.0.0.0/8", "192.0.2.7", "::1")
    none = load_config(environ={"RELAY_SMTP_TRUSTED_NETWORKS": "none"})
    assert none.smtp.trusted_networks == ()


def test_a_mistyped_variable_is_named_with_the_closest_setting() -> None:
    """A typo is not an error (other tools share the environment) but never silent."""
    warnings = unknown_variables(
        {"RELAY_SMTP_PROT": "2626", "RELAY_HOME": "/x", "RELAY_TEST_POSTGRES_URL": "x"}
    )
    assert warnings == [
        "RELAY_SMTP_PROT is not a Relay setting and is ignored (did you mean RELAY_SMTP_PORT?)"
    ]
    assert unknown_variables({"RELAY_CONFIG": "r.toml", "RELAY_READY_FILE": "r.json"}) == []


def test_cli_warns_about_a_mistyped_variable(tmp_path: Path) -> None:
    result = _config_show(tmp_path, {"RELAY_SMTP_PROT": "2626"})
    assert result.returncode == 0
    assert "WARNING: RELAY_SMTP_PROT is not a Relay setting" in result.stderr


def test_every_problem_is_reported_at_once() -> None:
    """Two bad values give two lines, not one error at a time."""
    with pytest.raises(ConfigError) as info:
        load_config(environ={"RELAY_SMTP_PORT": "x", "RELAY_HTTP_PORT": "0"})
    assert len(info.value.problems) == 2


def test_unknown_toml_keys_and_bad_toml_are_errors(tmp_path: Path) -> None:
    """A typo in the file is an error, not silently ignored."""
    path = tmp_path / "relay.toml"
    path.write_text("[smtp]\nprot = 25\n")
    with pytest.raises(ConfigError, match=r"unknown key \[smtp\] prot"):
        load_config(path, environ={})
    path.write_text("domain = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml", environ={})


def test_incomplete_salesforce_credentials_are_explained() -> None:
    """An instance URL without a token says what else to set."""
    with pytest.raises(ConfigError, match="RELAY_SF_ACCESS_TOKEN"):
        load_config(environ={"RELAY_SF_INSTANCE_URL": "https://example.my.salesforce.com"})


def test_redacted_hides_secrets_and_store_password() -> None:
    """`relay config show` material never contains a secret."""
    config = load_config(
        environ={
            "RELAY_SF_INSTANCE_URL": "https://example.my.salesforce.com",
            "RELAY_SF_ACCESS_TOKEN": "00Dxx!secret-token",
            "RELAY_STORE_URL": "postgresql://relay:hunter2@db.internal/relay",
        }
    )
    text = repr(config.redacted())
    assert "secret-token" not in text
    assert "hunter2" not in text
    assert "postgresql://relay:********@db.internal/relay" in text


def test_cli_reports_bad_config_with_exit_2(tmp_path: Path) -> None:
    """`relay config show` with a bad variable exits 2 and prints the problem."""
    result = _config_show(tmp_path, {"RELAY_SMTP_PORT": "abc"})
    assert result.returncode == 2
    assert "RELAY_SMTP_PORT='abc': not a port number (1-65535)" in result.stderr


def test_cli_config_show_json_redacts(tmp_path: Path) -> None:
    """`relay config show --json` prints one JSON document with the token redacted."""
    import json

    result = _config_show(
        tmp_path,
        {
            "RELAY_SF_INSTANCE_URL": "https://example.my.salesforce.com",
            "RELAY_SF_ACCESS_TOKEN": "tok-123456",
        },
        "--json",
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["salesforce"]["access_token"] == "********"
    assert document["salesforce"]["mode"] == "configured org"
    assert "tok-123456" not in result.stdout + result.stderr


def test_cli_config_show_hides_the_store_password(tmp_path: Path) -> None:
    """The PostgreSQL password in RELAY_STORE_URL is never printed."""
    result = _config_show(
        tmp_path, {"RELAY_STORE_URL": "postgresql://relay:hunter2@db.internal/relay"}, "--json"
    )
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout
    assert "postgresql://relay:********@db.internal/relay" in result.stdout


def _config_show(
    tmp_path: Path, env: dict[str, str], *flags: str
) -> subprocess.CompletedProcess[str]:
    """`relay config show` in a subprocess with only ``env`` (plus PATH and HOME)."""
    return subprocess.run(
        [sys.executable, "-m", "relay", "config", "show", *flags],
        env=env | {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )


def test_console_settings_from_the_environment_and_redacted() -> None:
    """RELAY_PUBLIC_URL, RELAY_ADMINS and the console's connected app; its secret is
    never shown, and a public URL that is not http(s) is refused."""
    config = load_config(
        environ={
            "RELAY_PUBLIC_URL": "https://relay.example.com/",
            "RELAY_ADMINS": "ops@example.com, Admin@Example.com",
            "RELAY_CONSOLE_CLIENT_ID": "3MVG9console",
            "RELAY_CONSOLE_CLIENT_SECRET": "console-secret-value",
        }
    )
    assert config.console.public_url == "https://relay.example.com"
    assert config.console.admins == ("ops@example.com", "Admin@Example.com")
    assert config.console.client_id == "3MVG9console"
    assert "console-secret-value" not in repr(config.redacted())
    with pytest.raises(ConfigError) as refused:
        load_config(environ={"RELAY_PUBLIC_URL": "relay.example.com"})
    assert "RELAY_PUBLIC_URL" in refused.value.reason
