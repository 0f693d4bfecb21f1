"""The directory lookup against the local org over real HTTPS, through simple-salesforce:
one composite call, escaped values, chunked IN lists, and the short-TTL cache."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from simple_salesforce.api import Salesforce

from relay.cli.main import cli
from relay.localorg.runner import LocalOrgInfo
from relay.salesforce.directory import (
    MAX_QUERIES_PER_COMPOSITE,
    DirectoryCache,
    _queries,
    fetch_directory,
)
from tests.support.localorg import running_org

VERSION = "62.0"


class Counting:
    """Counts the REST calls a session makes, and the subrequests of each composite."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.subrequests: list[int] = []

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.calls.append(response.request.path_url)
        if response.request.path_url.endswith("/composite") and response.request.body:
            body = json.loads(response.request.body)
            self.subrequests.append(len(body["compositeRequest"]))


def _client(info: LocalOrgInfo, counting: Counting | None = None) -> Salesforce:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would beat verify
    session.verify = info.ca_file
    if counting is not None:
        session.hooks["response"].append(counting.hook)
    return Salesforce(
        instance_url=info.instance_url,
        session_id=info.access_token,
        session=session,
        version=VERSION,
    )


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOrgInfo]:
    with running_org(tmp_path_factory.mktemp("matching-org")) as running:
        yield running.info


@pytest.fixture(scope="module")
def seeded(org: LocalOrgInfo) -> dict[str, str]:
    """An account with two contacts (one ' and one \\ address), a lead, and one open and
    one closed opportunity on the first contact."""
    sf = _client(org)
    ids: dict[str, str] = {}
    ids["account"] = sf.Account.create({"Name": "Customer Inc"})["id"]
    ids["obrien"] = sf.Contact.create(
        {"LastName": "O'Brien", "Email": "O'Brien@Customer.test", "AccountId": ids["account"]}
    )["id"]
    ids["backslash"] = sf.Contact.create(
        {"LastName": "Slash", "Email": "back\\slash@customer.test", "AccountId": ids["account"]}
    )["id"]
    ids["lead"] = sf.Lead.create(
        {"LastName": "Lee", "Company": "Prospect Ltd", "Email": "lee@prospect.test"}
    )["id"]
    for key, stage in (("open", "Prospecting"), ("closed", "Closed Won")):
        ids[key] = sf.Opportunity.create(
            {
                "Name": key,
                "StageName": stage,
                "CloseDate": "2025-01-31",
                "AccountId": ids["account"],
            }
        )["id"]
        sf.OpportunityContactRole.create({"OpportunityId": ids[key], "ContactId": ids["obrien"]})
    return ids


def test_one_composite_call_finds_every_kind_of_record(
    org: LocalOrgInfo, seeded: dict[str, str]
) -> None:
    """Contacts (with ' and \\ in the address, any case), a lead, contact roles, the rep
    and ref: ids all come back from a single composite call."""
    counting = Counting()
    directory = fetch_directory(
        _client(org, counting),
        ["o'brien@customer.test", "BACK\\slash@customer.test", "lee@prospect.test", "no@one.test"],
        record_ids=[seeded["open"][:15], seeded["open"][:3] + "0" * 12],
        sender_addresses=[org.username],
    )
    assert counting.calls == [f"/services/data/v{VERSION}/composite"]
    assert [p.id for p in directory.people_by_email["o'brien@customer.test"]] == [seeded["obrien"]]
    assert [p.id for p in directory.people_by_email["back\\slash@customer.test"]] == [
        seeded["backslash"]
    ]
    [lead] = directory.people_by_email["lee@prospect.test"]
    assert (lead.id, lead.type, lead.is_converted) == (seeded["lead"], "Lead", False)
    assert directory.people_by_email.get("no@one.test", ()) == ()
    opportunities = {
        o.id: o.is_closed for o in directory.opportunities_by_contact[seeded["obrien"]]
    }
    assert opportunities == {seeded["open"]: False, seeded["closed"]: True}
    assert seeded["open"] in directory.records_by_id
    assert seeded["open"][:3] + "0" * 12 + "AAA" not in directory.records_by_id
    assert directory.user_for(org.username).id == org.user_id  # type: ignore[union-attr]


def test_long_address_lists_take_several_calls_of_five_queries(
    org: LocalOrgInfo, seeded: dict[str, str]
) -> None:
    """3,000 addresses need more than five queries: several composite calls, none with
    more than five subrequests, and the real records are still found."""
    addresses = [f"nobody.{i:05d}.with-a-long-name@example-customer.test" for i in range(3000)]
    addresses.append("o'brien@customer.test")
    expected_queries = len(list(_queries(sorted(addresses), [], [], [], VERSION)))
    counting = Counting()
    directory = fetch_directory(_client(org, counting), addresses)
    assert expected_queries > MAX_QUERIES_PER_COMPOSITE
    assert len(counting.calls) == math.ceil(expected_queries / MAX_QUERIES_PER_COMPOSITE)
    assert max(counting.subrequests) == MAX_QUERIES_PER_COMPOSITE
    assert [p.id for p in directory.people_by_email["o'brien@customer.test"]] == [seeded["obrien"]]


def test_cache_answers_repeats_and_remembers_misses_until_ttl(
    org: LocalOrgInfo, seeded: dict[str, str]
) -> None:
    """Within the TTL a repeat lookup (hit or miss) costs no call; after it, a record
    created since is found."""
    now = [0.0]
    cache = DirectoryCache(ttl_seconds=30, clock=lambda: now[0])
    counting = Counting()
    sf = _client(org, counting)
    addresses = ["o'brien@customer.test", "late@customer.test"]
    first = cache.fetch(sf, addresses)
    assert first.people_by_email.get("late@customer.test", ()) == ()
    again = cache.fetch(sf, addresses)
    assert len(counting.calls) == 1
    assert again == first

    late = sf.Contact.create({"LastName": "Late", "Email": "late@customer.test"})["id"]
    calls_before = len(counting.calls)
    assert cache.fetch(sf, addresses).people_by_email.get("late@customer.test", ()) == ()
    assert len(counting.calls) == calls_before  # the miss is cached
    now[0] = 31.0
    refreshed = cache.fetch(sf, addresses)
    assert [p.id for p in refreshed.people_by_email["late@customer.test"]] == [late]
    assert len(counting.calls) == calls_before + 1


def test_cache_only_asks_for_what_it_lacks(org: LocalOrgInfo, seeded: dict[str, str]) -> None:
    """A lookup mixing cached and new addresses queries only the new ones, and merges."""
    cache = DirectoryCache(ttl_seconds=60)
    counting = Counting()
    sf = _client(org, counting)
    cache.fetch(sf, ["o'brien@customer.test"])
    merged = cache.fetch(sf, ["o'brien@customer.test", "lee@prospect.test"])
    assert len(counting.subrequests) == 2
    second_call_queries = counting.subrequests[1]
    assert second_call_queries == 3  # Contact, Lead and contact roles for one new address
    assert set(merged.people_by_email) >= {"o'brien@customer.test", "lee@prospect.test"}
    assert seeded["obrien"] in merged.opportunities_by_contact


def test_explain_against_the_local_org(
    org: LocalOrgInfo, seeded: dict[str, str], tmp_path: Path
) -> None:
    """`relay explain --json` reads the org and prints records, tasks and trace; it
    writes nothing (the org's Task count is unchanged)."""
    org_json = tmp_path / "org.json"
    org_json.write_text(json.dumps(org.as_json()))
    message = tmp_path / "m.eml"
    message.write_bytes(
        f"From: Admin <{org.username}>\n"
        "To: O'Brien <o'brien@customer.test>\n"
        "Cc: nobody@elsewhere.test\n"
        "Subject: Renewal\n"
        "Message-ID: <renewal-1@localorg.test>\n"
        "Date: Mon, 06 May 2024 10:00:00 +0000\n\nSee you soon.\n".encode()
    )
    sf = _client(org)
    tasks_before = sf.query("SELECT COUNT() FROM Task")["totalSize"]
    env = {
        "RELAY_HOME": str(tmp_path),
        "RELAY_DOMAIN": "relay.test",
        # requests lets these beat the session's CA (relay/salesforce/client.py builds a
        # session that trusts the environment); the org's CA comes from --org-json.
        "REQUESTS_CA_BUNDLE": None,
        "CURL_CA_BUNDLE": None,
    }
    result = CliRunner().invoke(
        cli,
        ["explain", str(message), "--json", "--org-json", str(org_json), "--org-timezone", "UTC"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {(r["type"], r["id"]) for r in report["records"]} == {
        ("Contact", seeded["obrien"]),
        ("Opportunity", seeded["open"]),
    }
    [task] = report["tasks"]
    assert (task["WhatId"], task["WhoId"], task["OwnerId"]) == (
        seeded["open"],
        seeded["obrien"],
        org.user_id,
    )
    assert any(seeded["closed"] in line and "closed" in line for line in report["trace"])
    assert sf.query("SELECT COUNT() FROM Task")["totalSize"] == tasks_before


def test_explain_uses_the_embedded_sample_org(tmp_path: Path) -> None:
    """Without credentials, explain reads the embedded local org in RELAY_HOME (loaded by
    `relay org seed --sample`): a contact, its open opportunity and a lead are matched,
    and the converted lead is dropped with its reason."""
    from relay.localorg.seed import COMPANY_DOMAIN, CONVERTED_LEAD_EMAIL

    env = {
        "RELAY_HOME": str(tmp_path),
        "RELAY_DOMAIN": "relay.test",
        "RELAY_SF_INSTANCE_URL": "",
        "RELAY_SF_TOKEN_URL": "",
        "REQUESTS_CA_BUNDLE": None,  # see test_explain_against_the_local_org
        "CURL_CA_BUNDLE": None,
    }
    runner = CliRunner()
    seeded = runner.invoke(cli, ["org", "seed", "--sample"], env=env)
    assert seeded.exit_code == 0, seeded.output
    message = tmp_path / "m.eml"
    message.write_bytes(
        f"From: Alice <alice@{COMPANY_DOMAIN}>\n"
        f"To: hank@globex.example, log@relay.test\n"
        f"Cc: jane@newco.example, {CONVERTED_LEAD_EMAIL}\n"
        "Subject: Widgets\nMessage-ID: <w1@relay.test>\n"
        "Date: Mon, 06 May 2024 10:00:00 +0000\n\nHello\n".encode()
    )
    result = runner.invoke(cli, ["explain", str(message), "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    types = sorted(r["type"] for r in report["records"] if r["type"] != "Contact")
    assert types == ["Lead", "Opportunity"]
    assert any("hank@globex.example" in r["reason"] for r in report["records"])
    assert any("converted Lead" in line for line in report["trace"])
    assert any("embedded local org" in line for line in report["trace"])
    assert report["tasks"]
    assert all(t["OwnerId"] != "(unknown rep)" for t in report["tasks"])


def test_explain_human_output_shows_outcome_records_and_trace(
    org: LocalOrgInfo, seeded: dict[str, str], tmp_path: Path
) -> None:
    """Without --json, explain prints the outcome, each record with its reason, and the
    trace, including the Bcc recipient it ignored."""
    org_json = tmp_path / "org.json"
    org_json.write_text(json.dumps(org.as_json()))
    message = tmp_path / "m.eml"
    message.write_bytes(
        f"From: {org.username}\nTo: lee@prospect.test\nBcc: o'brien@customer.test\n"
        "Subject: Hi\nMessage-ID: <h1@localorg.test>\n\nHi\n".encode()
    )
    env = {"RELAY_HOME": str(tmp_path), "REQUESTS_CA_BUNDLE": None, "CURL_CA_BUNDLE": None}
    result = CliRunner().invoke(
        cli, ["explain", str(message), "--org-json", str(org_json)], env=env
    )
    assert result.exit_code == 0, result.output
    assert "outcome: matched" in result.output
    assert seeded["lead"] in result.output
    assert "dropped o'brien@customer.test: in the Bcc header" in result.output
