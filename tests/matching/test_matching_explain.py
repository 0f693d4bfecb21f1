"""`relay explain`: real .eml bytes through parse, match and draft, and the command's
answer when no org is reachable."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from relay.cli.explain import build_report, envelope_for
from relay.cli.main import cli
from relay.matching import MatchPolicy
from relay.matching.model import relay_domain_predicate
from relay.parsing import parse
from tests.support.matching_builders import REP, contact, directory, lead, opportunity, rid

RAW = b"""\
From: Rep <rep@acme.test>
To: Alice <Alice@Customer.test>, log@relay.test
Cc: bob@customer.test, eve@acme.test
Subject: Quote for Q3
Message-ID: <x1@acme.test>
Date: Mon, 06 May 2024 23:30:00 -0400

Hello, here is the quote.
"""

POLICY = MatchPolicy(
    internal_domains=("acme.test",), is_relay_address=relay_domain_predicate("relay.test")
)


def _email(raw: bytes = RAW):  # type: ignore[no-untyped-def]
    return parse(
        raw,
        envelope_for(raw, "relay.test"),
        datetime(2024, 5, 7, tzinfo=UTC),
        relay_addresses=relay_domain_predicate("relay.test"),
    )


def test_envelope_is_from_header_and_log_address() -> None:
    """The dry-run envelope is MAIL FROM the From header, RCPT TO log@RELAY_DOMAIN."""
    envelope = envelope_for(RAW, "relay.test")
    assert (envelope.mail_from, envelope.rcpt_tos) == ("rep@acme.test", ("log@relay.test",))


def test_report_lists_records_tasks_and_every_drop() -> None:
    """The JSON report has records with reasons, Task drafts, and the drops in the trace."""
    dir_ = directory(
        contact(1, "alice@customer.test"),
        lead(1, "bob@customer.test"),
        contact(2, "eve@acme.test"),
        roles=[(rid("003", 1), opportunity(1))],
    )
    report = build_report(
        _email(), dir_, POLICY, org_timezone="America/New_York", shared_activities=True
    )
    assert report["outcome"] == "matched"
    assert {(r["type"], r["id"]) for r in report["records"]} == {
        ("Contact", rid("003", 1)),
        ("Lead", rid("00Q", 1)),
        ("Opportunity", rid("006", 1)),
    }
    assert all(r["reason"] for r in report["records"])
    assert len(report["tasks"]) == 2
    assert {t["ActivityDate"] for t in report["tasks"]} == {"2024-05-06"}
    assert {t["OwnerId"] for t in report["tasks"]} == {REP.id}
    trace = "\n".join(report["trace"])
    assert "dropped eve@acme.test: internal domain" in trace
    assert "dropped log@relay.test: Relay's own address" in trace
    json.dumps(report)  # one JSON document


def test_report_for_mail_that_is_not_logged() -> None:
    """Machine mail: empty records and tasks, and the trace says why."""
    raw = RAW.replace(b"Subject:", b"Auto-Submitted: auto-replied\nSubject:")
    report = build_report(
        _email(raw),
        directory(contact(1, "alice@customer.test")),
        POLICY,
        org_timezone="UTC",
        shared_activities=False,
    )
    assert (report["records"], report["tasks"]) == ([], [])
    assert any("machine mail" in line for line in report["trace"])


def test_report_says_which_header_could_not_be_read() -> None:
    """A broken To header: no candidates, and the trace says why before anything else."""
    raw = RAW.replace(b"To: Alice <Alice@Customer.test>, log@relay.test", b"To: =?x <alice@c")
    report = build_report(
        _email(raw), directory(), POLICY, org_timezone="UTC", shared_activities=False
    )
    assert any("to[0]" in defect for defect in report["defects"])
    assert report["trace"][0].startswith("parse defect: ")


def test_explain_without_org_says_what_is_missing(tmp_path: Path) -> None:
    """With no org configured, explain exits 1 and names the settings to provide."""
    message = tmp_path / "m.eml"
    message.write_bytes(RAW)
    env = {"RELAY_HOME": str(tmp_path), "RELAY_SF_INSTANCE_URL": "", "RELAY_SF_TOKEN_URL": ""}
    result = CliRunner().invoke(cli, ["explain", str(message), "--json"], env=env)
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert (document["records"], document["tasks"]) == ([], [])
    assert "RELAY_SF_INSTANCE_URL" in document["error"]
    assert "--org-json" in document["error"]


def test_known_threads_come_from_the_store(tmp_path: Path) -> None:
    """A reply to an email Relay logged inherits its records, as the runners do."""
    from relay.cli.explain import _known_threads
    from relay.config import load_config
    from relay.store import open_store
    from relay.store.model import WRITTEN, Delivery

    config = load_config(environ={"RELAY_HOME": str(tmp_path)})
    reply = _email(RAW.replace(b"Message-ID: <x1@acme.test>", b"In-Reply-To: <x0@acme.test>"))
    known, note = _known_threads(config, reply)
    assert known == {}
    assert "no store yet" in note
    assert not (tmp_path / "relay.db").exists()  # explain writes nothing

    store = open_store(config.effective_store_url)
    contact_id = rid("003", 7)
    store.record_delivery(
        Delivery("k0", "x0@acme.test", contact_id, (contact_id,), "Q0", state=WRITTEN)
    )
    store.close()
    known, note = _known_threads(config, reply)
    assert known == {"x0@acme.test": (contact_id,)}
    assert "1 earlier email(s)" in note


def test_the_trace_says_the_rep_is_not_the_daemons_attribution() -> None:
    """A saved .eml carries no envelope and no sender proof: the trace says so, and that
    the daemon attributes by what the edge proved, so explain's rep is not taken for it."""
    report = build_report(
        _email(), directory(), POLICY, org_timezone="UTC", shared_activities=False
    )
    (note,) = [line for line in report["trace"] if line.startswith("sender proof: ")]
    assert "sees neither the envelope" in note
    assert "the daemon attributes by what the edge proved" in note
    assert "a personal address's owner" in note
    assert "a DMARC-proven From" in note
