"""Fault injection, latency and org switches: each one observable by a real client."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
)

from relay.localorg.faults import FaultSpecError, parse_fault_spec
from tests.support.localorg import RunningOrg, start_org


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("503", 503, "SERVER_UNAVAILABLE"),
        ("SERVER_UNAVAILABLE", 503, "SERVER_UNAVAILABLE"),
        ("500", 500, "UNKNOWN_EXCEPTION"),
        ("REQUEST_LIMIT_EXCEEDED", 403, "REQUEST_LIMIT_EXCEEDED"),
    ],
)
def test_status_faults(fresh_org: RunningOrg, kind: str, status: int, code: str) -> None:
    """At rate 1 every data call fails with the fault's status and error code."""
    fresh_org.set_faults({kind: 1.0})
    sf = fresh_org.client()
    with pytest.raises(SalesforceError) as caught:
        sf.Account.create({"Name": "x"})
    assert caught.value.status == status
    assert caught.value.content[0]["errorCode"] == code
    fresh_org.set_faults({})
    assert sf.Account.create({"Name": "x"})["success"] is True


def test_invalid_session_fault(fresh_org: RunningOrg) -> None:
    """INVALID_SESSION_ID answers 401, which simple-salesforce reports as expired."""
    fresh_org.set_faults({"INVALID_SESSION_ID": 1.0})
    with pytest.raises(SalesforceExpiredSession):
        fresh_org.client().query("SELECT Id FROM User")


def test_lock_row_fault_hits_writes_only(fresh_org: RunningOrg) -> None:
    """UNABLE_TO_LOCK_ROW fails writes (400, or per row in a collection); reads pass."""
    sf = fresh_org.client()
    account = sf.Account.create({"Name": "Locked"})["id"]
    fresh_org.set_faults({"UNABLE_TO_LOCK_ROW": 1.0})
    assert sf.Account.get(account)["Name"] == "Locked"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.update(account, {"Name": "Changed"})
    assert caught.value.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    records = [{"attributes": {"type": "Task"}, "Subject": "t"}] * 2
    results = sf.restful("composite/sobjects", method="POST", json={"records": records})
    assert [r["errors"][0]["statusCode"] for r in results] == ["UNABLE_TO_LOCK_ROW"] * 2


def test_timeout_fault_never_answers(fresh_org: RunningOrg) -> None:
    """timeout: the server holds the request past the client's read timeout."""
    fresh_org.set_faults({"timeout": 1.0})
    session = fresh_org.client().session
    url = fresh_org.url("/services/data/v62.0/limits")
    headers = {"Authorization": f"Bearer {fresh_org.info.access_token}"}
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(url, headers=headers, timeout=(5, 0.3))


def test_reset_fault_drops_the_connection(fresh_org: RunningOrg) -> None:
    """reset: the connection is closed abruptly, with no HTTP answer."""
    fresh_org.set_faults({"reset": 1.0})
    session = fresh_org.client().session
    url = fresh_org.url("/services/data/v62.0/limits")
    headers = {"Authorization": f"Bearer {fresh_org.info.access_token}"}
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(url, headers=headers, timeout=5)


def test_faults_never_touch_admin_or_token_routes(fresh_org: RunningOrg) -> None:
    """With every call faulted, /_localorg and the token endpoint still answer."""
    fresh_org.set_faults({"503": 1.0})
    assert fresh_org.admin.get(fresh_org.url("/_localorg/faults")).json() == {"503": 1.0}
    info = fresh_org.info
    token = fresh_org.admin.post(
        info.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": info.client_id,
            "client_secret": info.client_secret,
        },
    )
    assert token.status_code == 200


def test_bad_fault_settings_are_refused(fresh_org: RunningOrg) -> None:
    """PUT /_localorg/faults validates kinds and rates and keeps the old settings."""
    fresh_org.set_faults({"503": 0.5})
    for bad in ({"bogus": 0.1}, {"503": 2}, {"503": "often"}, {"503": 0.6, "timeout": 0.6}):
        response = fresh_org.admin.put(fresh_org.url("/_localorg/faults"), json=bad)
        assert response.status_code == 400, bad
        assert response.json()[0]["message"]
    assert fresh_org.admin.get(fresh_org.url("/_localorg/faults")).json() == {"503": 0.5}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("503", "expected KIND:RATE"),
        ("nope:0.1", "unknown fault kind"),
        ("503:x", "not a number"),
        ("503:1.5", "outside 0..1"),
        ("503:0.7,reset:0.7", "add up to"),
    ],
)
def test_fault_spec_errors_name_the_problem(spec: str, message: str) -> None:
    """--faults SPEC errors say what is wrong."""
    with pytest.raises(FaultSpecError, match=message):
        parse_fault_spec(spec)


def test_fault_spec_parses_the_documented_example() -> None:
    """A ``--faults`` spec of several kinds (docs/localorg.md) parses to its rates."""
    spec = parse_fault_spec("503:0.05,UNABLE_TO_LOCK_ROW:0.05,INVALID_SESSION_ID:0.01,timeout:0.01")
    assert spec.as_dict() == {
        "503": 0.05,
        "UNABLE_TO_LOCK_ROW": 0.05,
        "INVALID_SESSION_ID": 0.01,
        "timeout": 0.01,
    }


def test_latency_is_added_to_data_calls(tmp_path: Path) -> None:
    """--latency-ms delays each data call by at least that much."""
    org = start_org(tmp_path / "org", latency_ms=150)
    try:
        sf = org.client()
        sf.limits()  # warm the connection
        started = time.monotonic()
        sf.limits()
        assert time.monotonic() - started >= 0.15
    finally:
        org.org.stop()


def test_api_disabled_switch(fresh_org: RunningOrg) -> None:
    """api_enabled off: every data call answers 403 API_DISABLED_FOR_ORG."""
    assert fresh_org.set_settings({"api_enabled": False})["api_enabled"] is False
    with pytest.raises(SalesforceError) as caught:
        fresh_org.client().query("SELECT Id FROM User")
    assert caught.value.status == 403
    assert caught.value.content == [
        {
            "message": "The REST API is not enabled for this Organization.",
            "errorCode": "API_DISABLED_FOR_ORG",
        }
    ]


def test_daily_limit_is_enforced(fresh_org: RunningOrg) -> None:
    """Past daily_api_limit every data call answers 403 REQUEST_LIMIT_EXCEEDED."""
    sf = fresh_org.client()
    used = sf.limits()["DailyApiRequests"]
    fresh_org.set_settings({"daily_api_limit": used["Max"] - used["Remaining"] + 2})
    sf.limits()
    sf.limits()
    with pytest.raises(SalesforceError) as caught:
        sf.limits()
    assert caught.value.status == 403
    assert caught.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]


def test_every_answer_carries_limit_info(fresh_org: RunningOrg) -> None:
    """Sforce-Limit-Info: api-usage=N/M is on successes and errors alike."""
    ok = fresh_org.admin.get(fresh_org.url("/services/data/v62.0/limits"))
    missing = fresh_org.admin.get(fresh_org.url("/services/data/v62.0/sobjects/Nope"))
    for response in (ok, missing):
        assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")
    used, limit = ok.headers["Sforce-Limit-Info"].removeprefix("api-usage=").split("/")
    assert (int(used), int(limit)) == (1, 100_000)
