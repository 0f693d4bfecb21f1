"""`relay doctor` on the embedded local org (no RELAY_SF_* credentials): a failure unless
RELAY_SF_LOCAL says the trial is intended, and always said in a banner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relay.localorg.data import OrgData
from relay.localorg.runner import DATA_FILE
from relay.localorg.seed import seed_sample
from tests.support.terminal_output import run_on_terminal

BANNER_START = "LOCAL ORG: no RELAY_SF_* credentials are set"


@pytest.fixture(scope="module")
def local_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A RELAY_HOME whose embedded local org holds the sample org (`relay org seed`)."""
    home = tmp_path_factory.mktemp("relay-home")
    (home / "localorg").mkdir()
    org_data = OrgData(home / "localorg" / DATA_FILE)
    try:
        seed_sample(org_data)
    finally:
        org_data.close()
    return home


def test_doctor_fails_on_the_local_org_unless_intended(local_home: Path) -> None:
    """No RELAY_SF_LOCAL: the salesforce check fails with both ways out, exit 1."""
    shown = run_on_terminal("doctor", "--json", env={"RELAY_HOME": str(local_home)})
    assert shown.returncode == 1, shown.output + shown.stderr
    document = json.loads(shown.output)
    assert document["local_org"] is True
    [salesforce] = [c for c in document["checks"] if c["name"] == "salesforce"]
    assert salesforce["status"] == "fail"
    assert "NOT A REAL SALESFORCE ORG" in salesforce["detail"]
    assert any("RELAY_SF_LOCAL=1" in step for step in salesforce["fix"])
    assert any("RELAY_SF_" in step and "credentials" in step for step in salesforce["fix"])


@pytest.mark.parametrize("value", ["1", "true"])
def test_doctor_on_an_intended_local_org_warns_and_passes(local_home: Path, value: str) -> None:
    """RELAY_SF_LOCAL=1 (or true): the banner comes first and the check warns; exit 0."""
    env = {"RELAY_HOME": str(local_home), "RELAY_SF_LOCAL": value}
    shown = run_on_terminal("doctor", env=env)
    assert shown.returncode == 0, shown.output + shown.stderr
    assert shown.output.startswith(BANNER_START)
    [line] = [line for line in shown.output.splitlines() if " salesforce: " in line]
    assert "warn" in line
    assert "NOT A REAL SALESFORCE ORG" in line


def test_doctor_with_an_invalid_local_flag_is_a_config_problem(local_home: Path) -> None:
    """RELAY_SF_LOCAL=maybe is refused like any invalid setting, naming the variable."""
    env = {"RELAY_HOME": str(local_home), "RELAY_SF_LOCAL": "maybe"}
    shown = run_on_terminal("doctor", "--json", env=env)
    assert shown.returncode == 1
    [configuration] = json.loads(shown.output)["checks"]
    assert configuration["status"] == "fail"
    assert any("RELAY_SF_LOCAL" in problem for problem in configuration["fix"])
