"""Pure parts of Salesforce access: the API budget and choosing the auth flow."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from relay.config import SalesforceConfig, load_config
from relay.errors import ConfigError
from relay.salesforce.auth import Credentials, Flow, jwt_audience, soap_login_url
from relay.salesforce.budget import ApiBudget, LimitInfo, Usage, parse_limit_info


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("api-usage=18/5000", LimitInfo(Usage(18, 5000))),
        (
            "api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)",
            LimitInfo(Usage(25, 5000), Usage(17, 250), "sample-connected-app"),
        ),
        ("api-usage=110018/100000; api-bursts=1/750", LimitInfo(Usage(110018, 100000))),
        ("per-app-api-usage=3/10(appName=x)", LimitInfo(None, Usage(3, 10), "x")),
        ("garbage", LimitInfo(None)),
    ],
)
def test_parse_limit_info(header: str, expected: LimitInfo) -> None:
    """Sforce-Limit-Info values from the REST API guide parse to used/limit pairs."""
    assert parse_limit_info(header) == expected


def test_pressure_is_usage_over_the_share() -> None:
    """Pressure is org usage over share x allocation; pausing starts at the budget."""
    budget = ApiBudget(share=0.5)
    assert budget.pressure() == 0.0
    assert not budget.should_pause()
    budget.update(parse_limit_info("api-usage=2000/10000"))
    assert budget.pressure() == pytest.approx(0.4)
    assert not budget.should_pause()
    budget.update(parse_limit_info("api-usage=5000/10000"))
    assert budget.pressure() == pytest.approx(1.0)
    assert budget.should_pause()


def test_per_app_cap_counts_in_full() -> None:
    """A connected app's own cap is not shared, so reaching it pauses whatever the org."""
    budget = ApiBudget(share=0.8)
    budget.update(parse_limit_info("api-usage=10/100000; per-app-api-usage=250/250(appName=r)"))
    assert budget.should_pause()


def test_unrelated_header_keeps_the_last_figures() -> None:
    """A header without usage does not wipe what we knew."""
    budget = ApiBudget(share=0.5)
    budget.update(parse_limit_info("api-usage=5000/10000"))
    budget.update(parse_limit_info("api-bursts=1/750"))
    assert budget.should_pause()


def test_gauges_in_the_given_registry() -> None:
    """The budget reports used, limit and pressure in the daemon's registry."""
    registry = CollectorRegistry()
    budget = ApiBudget(share=0.5, registry=registry)
    budget.update(parse_limit_info("api-usage=250/1000"))
    assert registry.get_sample_value("relay_salesforce_api_used") == 250
    assert registry.get_sample_value("relay_salesforce_api_limit") == 1000
    assert registry.get_sample_value("relay_salesforce_api_budget_pressure") == 0.5


def test_budget_share_setting() -> None:
    """RELAY_SF_API_BUDGET_SHARE is read, and a value outside (0, 1] is refused."""
    assert (
        load_config(environ={"RELAY_SF_API_BUDGET_SHARE": "0.3"}).salesforce.api_budget_share == 0.3
    )
    with pytest.raises(ConfigError, match="RELAY_SF_API_BUDGET_SHARE"):
        load_config(environ={"RELAY_SF_API_BUDGET_SHARE": "1.5"})


URL = "https://login.example.test/services/oauth2/token"


@pytest.mark.parametrize(
    ("config", "flow"),
    [
        (
            SalesforceConfig(
                token_url=URL, client_id="c", username="u", private_key_file=Path("k")
            ),
            Flow.JWT_BEARER,
        ),
        (
            SalesforceConfig(
                token_url=URL, client_id="c", client_secret="s", username="u", password="p"
            ),
            Flow.PASSWORD,
        ),
        (
            SalesforceConfig(token_url=URL, client_id="c", client_secret="s"),
            Flow.CLIENT_CREDENTIALS,
        ),
        (SalesforceConfig(instance_url="https://x.test", access_token="t"), Flow.DIRECT_SESSION),
        (
            SalesforceConfig(
                token_url="https://login.example.test/services/Soap/u/64.0",
                username="u",
                password="p",
            ),
            Flow.SOAP,
        ),
    ],
)
def test_flow_follows_the_settings(config: SalesforceConfig, flow: Flow) -> None:
    """The flow is chosen from which RELAY_SF_* settings are present."""
    credentials = Credentials.from_config(config)
    assert credentials.flow is flow
    assert credentials.can_refresh is (flow is not Flow.DIRECT_SESSION)


def test_missing_settings_are_named() -> None:
    """An incomplete flow names every missing variable."""
    with pytest.raises(ConfigError) as caught:
        Credentials.from_config(SalesforceConfig(token_url=URL, password="p"))
    assert any("RELAY_SF_CLIENT_ID" in p for p in caught.value.problems)
    assert any("RELAY_SF_USERNAME" in p for p in caught.value.problems)


def test_secrets_stay_out_of_repr() -> None:
    """Credentials print without their password, secret or token."""
    config = SalesforceConfig(
        token_url=URL, client_id="c", client_secret="s3cr3t", username="u", password="pa55"
    )
    text = repr(Credentials.from_config(config))
    assert "s3cr3t" not in text
    assert "pa55" not in text


@pytest.mark.parametrize(
    ("token_url", "audience"),
    [
        ("https://login.salesforce.com/services/oauth2/token", "https://login.salesforce.com"),
        ("https://acme.my.salesforce.com/services/oauth2/token", "https://login.salesforce.com"),
        ("https://test.salesforce.com/services/oauth2/token", "https://test.salesforce.com"),
        (
            "https://acme--uat.sandbox.my.salesforce.com/services/oauth2/token",
            "https://test.salesforce.com",
        ),
        ("https://127.0.0.1:8443/services/oauth2/token", "https://127.0.0.1:8443"),
    ],
)
def test_jwt_audience(token_url: str, audience: str) -> None:
    """aud is Salesforce's login host for its servers, else the token URL's origin."""
    assert jwt_audience(token_url) == audience


def test_soap_login_never_asks_for_a_version_without_login() -> None:
    """SOAP login() does not exist from API 65.0: the URL is capped at 64.0."""
    assert soap_login_url("https://h.test/x", "66.0") == "https://h.test/services/Soap/u/64.0"
    assert soap_login_url("https://h.test/x", "62.0") == "https://h.test/services/Soap/u/62.0"
