"""`relay doctor`: each failure is reported with its fix (pure checks and the local org)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import requests
from click.testing import Result

from relay.doctor import check_external_id, check_picklists, check_rep, check_sending
from relay.reps.e2s_addresses import E2sAddresses
from relay.reps.settings import SyncSettings
from relay.store.model import Rep
from tests.support.localorg import RunningOrg

RelayCli = Callable[..., Result]
BOB = Rep("005B", "bob@acme-widgets.example", "bob@acme-widgets.example")


def task_describe(**fields: dict[str, Any]) -> dict[str, Any]:
    return {"createable": True, "fields": [{"name": n, **f} for n, f in fields.items()]}


def test_missing_external_id_field_warns_with_deploy_steps() -> None:
    """No Relay_Key__c on Task: a warning (recommended), pointing at deploy/salesforce/."""
    check = check_external_id(task_describe(Subject={}), "Relay_Key__c")
    assert check.status == "warn"
    assert "no field Relay_Key__c" in check.detail
    assert any("deploy/salesforce/" in step for step in check.fix)
    assert (
        check_external_id(task_describe(Relay_Key__c={"externalId": True}), "Relay_Key__c").status
        == "ok"
    )


def test_missing_picklist_value_fails() -> None:
    """A Task without TaskSubtype 'Email' fails and names the missing value."""
    describe = task_describe(
        TaskSubtype={"picklistValues": [{"value": "Task"}]},
        Status={"picklistValues": [{"value": "Completed"}]},
    )
    check = check_picklists(describe)
    assert check.status == "fail"
    assert "TaskSubtype has no value 'Email'" in check.detail


def test_rep_without_e2s_address_fails_with_rep_and_admin_steps() -> None:
    """logging=email_to_salesforce and no address: fail, with both people's steps."""
    settings = SyncSettings(logging="email_to_salesforce")
    check = check_rep(BOB, ("bob@acme-widgets.example",), settings, E2sAddresses({}, True))
    assert check.status == "fail"
    assert any(s.startswith("rep: Log in to Salesforce") for s in check.fix)
    assert any("Setup → Email Administration" in s for s in check.fix)
    found = E2sAddresses({"005B": "e2s@x.le.salesforce.com"}, True)
    assert check_rep(BOB, ("bob@acme-widgets.example",), settings, found).status == "ok"
    inactive = check_rep(BOB, ("bob@acme-widgets.example",), settings, E2sAddresses({}, False))
    assert "not active" in inactive.detail


def test_unset_smarthost_is_reported() -> None:
    """No RELAY_SMARTHOST: sending is disabled, with the variable to set."""
    check = check_sending(None)
    assert check.status == "warn"
    assert "RELAY_SMARTHOST" in " ".join(check.fix)


def doctor(relay_cli: RelayCli, **env: str) -> tuple[int, dict[str, dict[str, Any]]]:
    result = relay_cli("doctor", "--json", **env)
    document = json.loads(result.output)
    return result.exit_code, {check["name"]: check for check in document["checks"]}


def test_doctor_against_the_local_org(relay_cli: RelayCli) -> None:
    """A healthy org passes; Bob on Email to Salesforce without an address fails (exit 1)."""
    code, checks = doctor(relay_cli)
    assert code == 0, checks
    assert checks["salesforce"]["status"] == "ok"
    assert checks["api access"]["status"] == "ok"
    assert checks["task picklists"]["status"] == "ok"
    assert checks["external id"]["status"] == "ok"
    assert checks["sending"]["status"] == "warn"
    user = "bob@acme-widgets.example"
    assert (
        relay_cli("settings", "set", "--user", user, "logging", "email_to_salesforce").exit_code
        == 0
    )
    code, checks = doctor(relay_cli, RELAY_SMARTHOST="127.0.0.1:2525")
    assert code == 1
    assert checks[f"rep {user}"]["status"] == "fail"
    assert "Email-to-Salesforce address" in checks[f"rep {user}"]["detail"]
    assert checks["rep alice@acme-widgets.example"]["status"] == "ok"
    assert checks["sending"]["status"] == "ok"


def test_doctor_reports_api_disabled_with_guidance(
    relay_cli: RelayCli, sample_org: RunningOrg
) -> None:
    """API_DISABLED_FOR_ORG: 'api access' fails with the editions and E2S steps."""
    admin = requests.Session()
    admin.trust_env = False
    admin.verify = str(sample_org.info.ca_file)
    admin.headers["Authorization"] = f"Bearer {sample_org.info.access_token}"
    url = f"{sample_org.info.instance_url}/_localorg/settings"
    assert admin.put(url, json={"api_enabled": False}).status_code == 200
    try:
        code, checks = doctor(relay_cli)
    finally:
        assert admin.put(url, json={"api_enabled": True}).status_code == 200
    assert code == 1
    assert checks["api access"]["status"] == "fail"
    assert "Enterprise/Unlimited" in checks["api access"]["detail"]
    assert any("My Email to Salesforce" in step for step in checks["api access"]["fix"])


def test_doctor_without_any_org_fails_with_steps(relay_cli: RelayCli) -> None:
    """No credentials and no embedded org: 'salesforce' fails with how to configure one."""
    code, checks = doctor(relay_cli, RELAY_SF_INSTANCE_URL="", RELAY_SF_ACCESS_TOKEN="")
    assert code == 1
    assert checks["salesforce"]["status"] == "fail"
    assert "RELAY_SF_TOKEN_URL" in checks["salesforce"]["fix"][0]
