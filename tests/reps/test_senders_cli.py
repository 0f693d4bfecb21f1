"""`relay senders`, `relay settings` and `relay address` against the local org (HTTPS)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from relay.reps.directory import load_address_secret, personal_address
from tests.support.localorg import RunningOrg

RelayCli = Callable[..., Result]
DOMAIN = "relay.acme-widgets.example"


def test_senders_add_list_remove_round_trip(relay_cli: RelayCli) -> None:
    """An alias added for a Username is listed with the User's id, then removed."""
    added = relay_cli(
        "senders", "add", "Bob.Home@Example.ORG", "--user", "bob@acme-widgets.example"
    )
    assert added.exit_code == 0, added.output
    listed = relay_cli("senders", "list", "--json")
    [alias] = json.loads(listed.output)
    assert alias["alias"] == "bob.home@example.org"
    assert alias["username"] == "bob@acme-widgets.example"
    assert alias["user_id"].startswith("005")
    assert relay_cli("senders", "remove", "bob.home@example.org").exit_code == 0
    assert json.loads(relay_cli("senders", "list", "--json").output) == []
    again = relay_cli("senders", "remove", "bob.home@example.org")
    assert again.exit_code == 1
    assert "not a registered alias" in again.output


def test_senders_list_reps_shows_the_synced_reps_beside_the_aliases(relay_cli: RelayCli) -> None:
    """`--reps`: who is a rep at all (a sync runs at `senders add`)."""
    added = relay_cli(
        "senders", "add", "bob.home@example.org", "--user", "bob@acme-widgets.example"
    )
    assert added.exit_code == 0, added.output
    document = json.loads(relay_cli("senders", "list", "--reps", "--json").output)
    emails = {rep["email"] for rep in document["reps"]}
    assert {"alice@acme-widgets.example", "bob@acme-widgets.example"} <= emails
    assert [a["alias"] for a in document["aliases"]] == ["bob.home@example.org"]
    assert document["reps_synced_at"] is not None
    text = relay_cli("senders", "list", "--reps").output
    assert "alice@acme-widgets.example" in text
    assert "bob.home@example.org" in text


def test_senders_add_for_an_unknown_user_fails_with_a_reason(relay_cli: RelayCli) -> None:
    """A Username the org does not have: exit 1, naming it; nothing is stored."""
    result = relay_cli("senders", "add", "x@example.org", "--user", "nobody@acme-widgets.example")
    assert result.exit_code == 1
    assert "no Salesforce User with Username 'nobody@acme-widgets.example'" in result.output
    assert json.loads(relay_cli("senders", "list", "--json").output) == []


def test_settings_set_and_show_for_org_and_rep(relay_cli: RelayCli) -> None:
    """RunningOrg and rep overrides layer over the config defaults, each with its source."""
    assert relay_cli("settings", "set", "body", "none").exit_code == 0
    user = "alice@acme-widgets.example"
    assert (
        relay_cli("settings", "set", "--user", user, "logging", "email_to_salesforce").exit_code
        == 0
    )
    org = json.loads(relay_cli("settings", "show", "--json").output)
    assert org["settings"]["body"] == "none"
    assert org["sources"]["body"] == "org"
    assert org["settings"]["logging"] == "api"
    rep = json.loads(relay_cli("settings", "show", "--user", user, "--json").output)
    assert rep["settings"]["logging"] == "email_to_salesforce"
    assert rep["sources"]["logging"] == "user"
    assert rep["settings"]["body"] == "none"
    assert rep["sources"]["multiple_matches"] == "config"
    configured = relay_cli("settings", "show", "--json", RELAY_SYNC_MULTIPLE_MATCHES="oldest")
    assert json.loads(configured.output)["settings"]["multiple_matches"] == "oldest"


def test_settings_set_rejects_bad_keys_and_values_with_exit_2(relay_cli: RelayCli) -> None:
    """Unknown key, bad value, task_sync maybe, e2s_address org-wide: exit 2 and what is allowed."""
    unknown = relay_cli("settings", "set", "colour", "blue")
    assert unknown.exit_code == 2
    assert "unknown setting 'colour'" in unknown.output
    assert "multiple_matches" in unknown.output
    bad = relay_cli("settings", "set", "logging", "fax")
    assert bad.exit_code == 2
    assert "allowed: api, email_to_salesforce, off" in bad.output
    assert relay_cli("settings", "set", "task_sync", "maybe").exit_code == 2
    org_wide = relay_cli("settings", "set", "e2s_address", "a@b.example")
    assert org_wide.exit_code == 2
    assert "--user" in org_wide.output
    assert (
        json.loads(relay_cli("settings", "show", "--json").output)["sources"]["logging"] == "config"
    )


def test_address_prints_the_personal_address(
    relay_cli: RelayCli, sample_org: RunningOrg, tmp_path: Path
) -> None:
    """A known rep gets log+TOKEN@DOMAIN, keyed by the secret in RELAY_HOME (0600)."""
    result = relay_cli("address", "alice@acme-widgets.example", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    home = tmp_path / "relay-home"
    alice = sample_org.sample.users["alice@acme-widgets.example"]
    expected = personal_address(alice, load_address_secret(home), DOMAIN)
    assert document["personal_address"] == expected
    assert document["shared_address"] == f"log@{DOMAIN}"
    assert (home / "address.key").stat().st_mode & 0o777 == 0o600
    text = relay_cli("address", "alice@acme-widgets.example")
    assert expected in text.output


def test_address_of_an_unknown_sender_prints_the_steps(relay_cli: RelayCli) -> None:
    """An address that is no rep's: exit 1 with the admin's step (`relay senders add`)."""
    result = relay_cli("address", "stranger@example.org")
    assert result.exit_code == 1
    assert "not a Salesforce user known to Relay" in result.output
    assert "relay senders add stranger@example.org --user <username>" in result.output


def test_address_says_when_the_e2s_address_is_missing(relay_cli: RelayCli) -> None:
    """Bob forwards to Email to Salesforce but has no address: the rep's and admin's steps."""
    user = "bob@acme-widgets.example"
    assert (
        relay_cli("settings", "set", "--user", user, "logging", "email_to_salesforce").exit_code
        == 0
    )
    result = relay_cli("address", user)
    assert result.exit_code == 1
    assert "My Settings → Email → My Email to Salesforce" in result.output
    assert "Setup → Email Administration → Email to Salesforce → Edit" in result.output
    alice = relay_cli("address", "alice@acme-widgets.example", "--json")
    assert json.loads(alice.output).get("e2s_address") is None  # alice logs via the API
    override = relay_cli("settings", "set", "--user", user, "e2s_address", "bob@e2s.example")
    assert override.exit_code == 0
    fixed = relay_cli("address", user, "--json")
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(fixed.output)["e2s_address"] == "bob@e2s.example"


def test_address_says_when_the_shared_address_works(relay_cli: RelayCli) -> None:
    """The shared log@ is named with the condition the edge's sender check sets: refused
    under personal_address (and trusted_only with no trusted network), only through the
    mail server in front under trusted_only, only with a DMARC pass under either/dmarc."""
    user = "alice@acme-widgets.example"
    cases = {
        "either": (True, "works only when acme-widgets.example's mail passes DMARC"),
        "dmarc": (True, "works only when acme-widgets.example's mail passes DMARC"),
        "personal_address": (False, "not accepted here"),
        "trusted_only": (False, "not accepted here"),
    }
    for sender_auth, (accepted, when) in cases.items():
        result = relay_cli("address", user, "--json", RELAY_SMTP_SENDER_AUTH=sender_auth)
        assert result.exit_code == 0, result.output
        document = json.loads(result.output)
        assert document["shared_address_accepted"] is accepted, sender_auth
        assert when in document["shared_address_when"]
        shown = relay_cli("address", user, RELAY_SMTP_SENDER_AUTH=sender_auth).output
        (line,) = [row for row in shown.splitlines() if "shared address:" in row]
        assert when in line
    behind = relay_cli(
        "address",
        user,
        "--json",
        RELAY_SMTP_SENDER_AUTH="trusted_only",
        RELAY_SMTP_TRUSTED_NETWORKS="192.0.2.25/32",
    )
    document = json.loads(behind.output)
    assert document["shared_address_accepted"] is True
    assert "only through the mail server in front" in document["shared_address_when"]
