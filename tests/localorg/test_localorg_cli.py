"""``relay org seed --sample`` and ``relay org serve``, run as an admin would."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests
from click.testing import CliRunner
from simple_salesforce import Salesforce

from relay.cli.main import cli
from relay.config import Config
from relay.localorg.runner import embedded_org
from relay.localorg.seed import COMPANY_DOMAIN, seed_sample
from tests.support.localorg import RunningOrg, start_org

SAMPLE_COUNTS = {"users": 3, "accounts": 2, "contacts": 4, "leads": 2, "opportunities": 2}


def _count(sf: Salesforce, soql: str) -> int:
    return int(sf.query(soql)["totalSize"])


def test_seed_sample_is_idempotent(tmp_path: Path) -> None:
    """Seeding twice loads the sample org once, with the records the docs promise."""
    data_dir = tmp_path / "org"
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(cli, ["org", "seed", "--sample", "--data", str(data_dir)])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == SAMPLE_COUNTS
    org = start_org(data_dir)
    try:
        sf = org.client()
        assert _count(sf, f"SELECT COUNT() FROM User WHERE Email LIKE '%@{COMPANY_DOMAIN}'") == 3
        assert _count(sf, "SELECT COUNT() FROM Account") == 2 + 1  # + the converted lead's
        assert _count(sf, "SELECT COUNT() FROM Lead WHERE IsConverted = true") == 1
        assert _count(sf, "SELECT COUNT() FROM Opportunity WHERE IsClosed = true") == 1
        assert _count(sf, "SELECT COUNT() FROM OpportunityContactRole") == 2
        address = sf.query(
            "SELECT LocalPart, EmailDomainName, RunAsUser.Email FROM EmailServicesAddress "
            "WHERE Function.FunctionName = 'EmailToSalesforce'"
        )["records"]
        assert [a["RunAsUser"]["Email"] for a in address] == [f"alice@{COMPANY_DOMAIN}"]
        assert _count(sf, "SELECT COUNT() FROM Contact WHERE Email = 'o\\'brien@initech.example'")
    finally:
        org.org.stop()


def test_org_serve_prints_one_json_line_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`relay org serve` prints the connection JSON line, serves, and exits 0 on SIGTERM."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "relay", "org", "serve", "--data", str(tmp_path / "org")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        info = json.loads(line)
        for key in (
            "instance_url", "access_token", "ca_file", "token_url",
            "client_id", "client_secret", "username", "password",
        ):  # fmt: skip
            assert info[key], key
        with requests.Session() as http:
            http.trust_env = False
            http.verify = info["ca_file"]
            response = http.get(
                f"{info['instance_url']}/services/data/v62.0/limits",
                headers={"Authorization": f"Bearer {info['access_token']}"},
                timeout=10,
            )
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr


def test_org_serve_refuses_a_bad_fault_spec(tmp_path: Path) -> None:
    """A bad --faults SPEC is a usage error (exit 2) that names the problem."""
    result = CliRunner().invoke(
        cli, ["org", "serve", "--data", str(tmp_path), "--faults", "503:lots"]
    )
    assert result.exit_code == 2
    assert "not a number" in result.output


def test_embedded_org_points_the_daemon_config_at_itself(tmp_path: Path) -> None:
    """embedded_org (relay serve without credentials) yields a config that reaches the org."""
    config = Config(home=tmp_path)

    async def scenario() -> dict[str, object]:
        async with embedded_org(config) as pointed:
            sf_config = pointed.salesforce
            assert sf_config.configured
            assert sf_config.ca_file is not None
            session = requests.Session()
            session.trust_env = False
            session.verify = str(sf_config.ca_file)
            client = Salesforce(
                instance_url=sf_config.instance_url,
                session_id=sf_config.access_token,
                session=session,
                version="62.0",
            )
            limits: dict[str, object] = await asyncio.to_thread(client.limits)
            session.close()
            return limits

    assert "DailyApiRequests" in asyncio.run(scenario())
    assert (tmp_path / "localorg" / "org.db").exists()


def test_call_runs_on_the_org_thread(fresh_org: RunningOrg) -> None:
    """LocalOrg.call(fn) runs fn(data) where the store lives: seed a running org."""
    sample = fresh_org.org.call(seed_sample)
    assert sample.summary() == SAMPLE_COUNTS
    sf = fresh_org.client()
    assert _count(sf, "SELECT COUNT() FROM Opportunity") == 2
