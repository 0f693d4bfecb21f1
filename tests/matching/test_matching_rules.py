"""Table tests: one row per matching rule, with Email to Salesforce's behaviour as the
expected value (Salesforce Help: "How Does Email to Salesforce Work?", "Considerations for
Using Email to Salesforce", "Guidelines for Using Email to Salesforce")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest

from relay.matching import Directory, MatchPolicy, RecordRef, match
from relay.matching.model import relay_domain_predicate
from relay.parsing.model import Email, ForwardedOriginal, JournalReport
from tests.support.matching_builders import (
    REP,
    addr,
    contact,
    directory,
    email,
    lead,
    opportunity,
    rid,
)

ALICE = "alice@customer.test"
BOB = "bob@customer.test"
C1, C2, C3 = rid("003", 1), rid("003", 2), rid("003", 3)
L1 = rid("00Q", 1)
O1, O2, O3 = rid("006", 1), rid("006", 2), rid("006", 3)
RELAY_POLICY = MatchPolicy(is_relay_address=relay_domain_predicate("relay.test"))


@dataclass(frozen=True)
class Row:
    name: str
    email: Email
    directory: Directory
    records: set[str]
    outcome: str = "matched"
    policy: MatchPolicy = RELAY_POLICY
    dropped: set[str] = field(default_factory=set)
    """Subjects (addresses or ids) that must appear among the dropped, with a reason."""


def _forward(source: str = "rfc822") -> Email:
    return email(
        to=("log@relay.test",),
        subject="Fwd: pricing",
        forwarded=ForwardedOriginal(
            source=source,
            from_=addr(ALICE),
            to=(addr(REP.email),),
            cc=(addr(BOB),),
            subject="pricing",
            date=None,
        ),
    )


def _journal() -> Email:
    return email(
        from_="journal@acme.test",
        to=("log@relay.test",),
        journal=JournalReport(sender=addr(REP.email), recipients=(addr(ALICE), addr(BOB))),
    )


def _inbound() -> Email:
    """A customer's email to the rep, copied to Relay by the mail server."""
    return email(from_=ALICE, to=(REP.email,), cc=(BOB,))


def _inbound_journal() -> Email:
    return email(
        from_="journal@acme.test",
        to=("log@relay.test",),
        journal=JournalReport(sender=addr(ALICE), recipients=(addr(REP.email), addr(BOB))),
    )


SIXTY = tuple(f"p{i:02d}@customer.test" for i in range(60))

ROWS = [
    Row(
        "to and cc match, bcc header never does",
        email(to=(ALICE,), cc=(BOB,), bcc=("carol@customer.test",)),
        directory(contact(1, ALICE), contact(2, BOB), contact(3, "carol@customer.test")),
        {C1, C2},
        dropped={"carol@customer.test"},
    ),
    Row(
        "address matched case-insensitively",
        email(to=("Alice@Customer.TEST",)),
        directory(contact(1, "ALICE@customer.test")),
        {C1},
    ),
    Row(
        "the sender (the rep) is never a candidate",
        email(to=(ALICE, "r@acme.test"), from_=REP.email),
        directory(contact(1, ALICE), contact(2, "r@acme.test"), contact(3, REP.email)),
        {C1},
        dropped={"r@acme.test"},
    ),
    Row(
        "relay's own address is not a candidate",
        email(to=(ALICE, "log@relay.test")),
        directory(contact(1, ALICE), contact(2, "log@relay.test")),
        {C1},
        dropped={"log@relay.test"},
    ),
    Row(
        "internal domains (and subdomains) are dropped",
        email(to=(ALICE, "eve@acme.test", "max@eu.acme.test")),
        directory(contact(1, ALICE), contact(2, "eve@acme.test"), contact(3, "max@eu.acme.test")),
        {C1},
        policy=MatchPolicy(internal_domains=("acme.test",)),
        dropped={"eve@acme.test", "max@eu.acme.test"},
    ),
    Row(
        "excluded addresses and domains are dropped",
        email(to=(ALICE, BOB, "x@spam.test")),
        directory(contact(1, ALICE), contact(2, BOB), contact(3, "x@spam.test")),
        {C1},
        policy=MatchPolicy(excluded_addresses=frozenset({BOB}), excluded_domains=("spam.test",)),
        dropped={BOB, "x@spam.test"},
    ),
    Row(
        "only the first 50 unique addresses are matched",
        email(to=SIXTY[:30] + SIXTY[:5], cc=SIXTY[30:]),
        directory(*(contact(i, a) for i, a in enumerate(SIXTY))),
        {rid("003", i) for i in range(50)},
        dropped=set(SIXTY[50:]),
    ),
    Row(
        "a contact and a lead on different addresses both match",
        email(to=(ALICE, BOB)),
        directory(contact(1, ALICE), lead(1, BOB)),
        {C1, L1},
    ),
    Row(
        "a converted lead does not count",
        email(to=(ALICE,)),
        directory(lead(1, ALICE, converted=True)),
        set(),
        outcome="unresolved",
        dropped={L1},
    ),
    Row(
        "several records for one address: all (E2S default)",
        email(to=(ALICE,)),
        directory(contact(1, ALICE), contact(2, ALICE), lead(1, ALICE)),
        {C1, C2, L1},
    ),
    Row(
        "several records for one address: oldest by CreatedDate",
        email(to=(ALICE,)),
        directory(
            contact(1, ALICE, created=datetime(2022, 1, 1, tzinfo=UTC)),
            contact(2, ALICE, created=datetime(2021, 1, 1, tzinfo=UTC)),
            lead(1, ALICE, created=datetime(2023, 1, 1, tzinfo=UTC)),
        ),
        {C2},
        policy=MatchPolicy(multiple_matches="oldest"),
        dropped={C1, L1},
    ),
    Row(
        "several records for one address: most activity by LastActivityDate",
        email(to=(ALICE,)),
        directory(
            contact(1, ALICE, activity=date(2024, 1, 1)),
            contact(2, ALICE, activity=date(2024, 3, 1)),
            contact(3, ALICE),
        ),
        {C2},
        policy=MatchPolicy(multiple_matches="most_activity"),
        dropped={C1, C3},
    ),
    Row(
        "most activity ties break to the oldest record",
        email(to=(ALICE,)),
        directory(
            contact(1, ALICE, activity=date(2024, 1, 1), created=datetime(2023, 1, 1, tzinfo=UTC)),
            contact(2, ALICE, activity=date(2024, 1, 1), created=datetime(2022, 1, 1, tzinfo=UTC)),
        ),
        {C2},
        policy=MatchPolicy(multiple_matches="most_activity"),
        dropped={C1},
    ),
    Row(
        "every open opportunity with a contact role is added; closed ones are not",
        email(to=(ALICE,)),
        directory(
            contact(1, ALICE),
            roles=[(C1, opportunity(1)), (C1, opportunity(2)), (C1, opportunity(3, closed=True))],
        ),
        {C1, O1, O2},
        dropped={O3},
    ),
    Row(
        "opportunity policy most_recent_open keeps the latest modified open one",
        email(to=(ALICE,)),
        directory(
            contact(1, ALICE),
            roles=[
                (C1, opportunity(1, modified=datetime(2024, 1, 1, tzinfo=UTC))),
                (C1, opportunity(2, modified=datetime(2024, 2, 1, tzinfo=UTC))),
            ],
        ),
        {C1, O2},
        policy=MatchPolicy(opportunities="most_recent_open"),
        dropped={O1},
    ),
    Row(
        "opportunity policy none adds no opportunity",
        email(to=(ALICE,)),
        directory(contact(1, ALICE), roles=[(C1, opportunity(1))]),
        {C1},
        policy=MatchPolicy(opportunities="none"),
        dropped={O1},
    ),
    Row(
        "leads bring no opportunities (contact roles are for contacts)",
        email(to=(ALICE,)),
        directory(lead(1, ALICE), roles=[(L1, opportunity(1))]),
        {L1},
    ),
    Row(
        "a reply inherits the records of the logged email it answers",
        email(to=("new@other.test",), in_reply_to=("<old@acme.test>",), references=()),
        directory(known_threads={"old@acme.test": [RecordRef(O1, "Opportunity")]}),
        {O1},
    ),
    Row(
        "thread ids compare with the id-right lower-cased, brackets ignored",
        email(to=("new@other.test",), references=("<x@y.test>", "<old@ACME.test>")),
        directory(known_threads={"old@acme.test": [RecordRef(C1, "Contact")]}),
        {C1},
    ),
    Row(
        "a forward whose original cannot be found matches nothing (only Relay in To)",
        email(to=("log@relay.test",), is_forward=True),
        directory(contact(1, REP.email)),
        set(),
        outcome="unresolved",
        dropped={"log@relay.test"},
    ),
    Row(
        "references to unknown emails add nothing",
        email(to=(ALICE,), references=("nobody@acme.test",)),
        directory(contact(1, ALICE)),
        {C1},
    ),
    Row(
        "a ref: id that exists is added (15 characters accepted)",
        email(to=("x@other.test",), record_refs=(O1[:15],)),
        directory(records=[RecordRef(O1, "Opportunity")]),
        {O1},
    ),
    Row(
        "a ref: id that does not exist is ignored",
        email(to=(ALICE,), record_refs=(O2,)),
        directory(contact(1, ALICE)),
        {C1},
        dropped={O2},
    ),
    Row(
        "a forward matches the original's From, To and Cc, not the forwarder",
        _forward(),
        directory(contact(1, ALICE), contact(2, BOB), contact(3, REP.email)),
        {C1, C2},
        dropped={REP.email},
    ),
    Row(
        "a journal report matches its sender and all recipients, Bcc included",
        _journal(),
        directory(contact(1, ALICE), contact(2, BOB)),
        {C1, C2},
        dropped={REP.email},
    ),
    Row(
        "an inbound copy (the rep in To) matches its From and the other recipients",
        _inbound(),
        directory(contact(1, ALICE), contact(2, BOB), contact(3, REP.email)),
        {C1, C2},
        dropped={REP.email},
    ),
    Row(
        "a journal report of a customer's email to the rep matches the customer",
        _inbound_journal(),
        directory(contact(1, ALICE), contact(2, BOB)),
        {C1, C2},
        dropped={REP.email},
    ),
    Row(
        "a forward by someone who is no rep stays unattributed, whoever it was sent to",
        email(
            from_="x@other.test",
            to=("log@relay.test",),
            forwarded=ForwardedOriginal(
                source="rfc822",
                from_=addr(ALICE),
                to=(addr(REP.email),),
                cc=(),
                subject="s",
                date=None,
            ),
        ),
        directory(contact(1, ALICE)),
        {C1},
    ),
    Row(
        "machine mail is never logged",
        email(to=(ALICE,), machine_reason="Auto-Submitted: auto-replied"),
        directory(contact(1, ALICE)),
        set(),
        outcome="machine",
    ),
    Row(
        "unmatched with unresolved_task (E2S default) is unresolved",
        email(to=("nobody@other.test",)),
        directory(),
        set(),
        outcome="unresolved",
    ),
    Row(
        "unmatched with hold is held",
        email(to=("nobody@other.test",)),
        directory(),
        set(),
        outcome="hold",
        policy=MatchPolicy(unmatched="hold"),
    ),
    Row(
        "unmatched with drop is dropped",
        email(to=("nobody@other.test",)),
        directory(),
        set(),
        outcome="drop",
        policy=MatchPolicy(unmatched="drop"),
    ),
    Row(
        "a custom email field is ignored by default (E2S matches Email only)",
        email(to=(ALICE,)),
        directory(contact(1, "a2@customer.test", other=(("Work_Email__c", ALICE),))),
        set(),
        outcome="unresolved",
        dropped={C1},
    ),
    Row(
        "a custom email field matches when the policy adds it",
        email(to=(ALICE,)),
        directory(contact(1, "a2@customer.test", other=(("Work_Email__c", ALICE),))),
        {C1},
        policy=MatchPolicy(extra_email_fields=("Work_Email__c",)),
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_match_rule(row: Row) -> None:
    """Each E2S rule yields exactly the expected records, outcome and drops."""
    plan = match(row.email, row.directory, row.policy)
    assert {r.id for r in plan.records} == row.records, plan.trace
    assert plan.outcome == row.outcome
    dropped = {d.subject for d in plan.dropped}
    assert row.dropped <= dropped, plan.trace
    for subject in row.dropped:
        assert any(subject in line for line in plan.trace)


def test_fifty_limit_keeps_order_and_traces_the_rest() -> None:
    """The 50 kept are the first 50 unique in To-then-Cc order; each extra one is traced."""
    plan = match(email(to=SIXTY), directory(), MatchPolicy())
    assert plan.candidates == SIXTY[:50]
    assert sum("beyond the first 50" in line for line in plan.trace) == 10


def test_records_carry_their_reason() -> None:
    """Every record says which rule and which address chose it."""
    plan = match(
        email(to=(ALICE,)),
        directory(contact(1, ALICE), roles=[(C1, opportunity(1))]),
        MatchPolicy(),
    )
    reasons = {r.id: str(r.reason) for r in plan.records}
    assert reasons[C1] == f"address: {ALICE} (Contact Email)"
    assert reasons[O1].startswith(f"opportunity_role: {C1}")


def test_ambiguity_is_a_value() -> None:
    """With a one-record policy, an address with several records is recorded as Ambiguous."""
    plan = match(
        email(to=(ALICE,)),
        directory(contact(1, ALICE), contact(2, ALICE)),
        MatchPolicy(multiple_matches="oldest"),
    )
    assert len(plan.ambiguities) == 1
    assert plan.ambiguities[0].candidates == (C1, C2)
    assert plan.ambiguities[0].chosen == (C1,)


def test_record_found_twice_listed_once() -> None:
    """A record reached by address, thread and ref: is listed once, with its first reason."""
    plan = match(
        email(to=(ALICE,), in_reply_to=("old@acme.test",), record_refs=(C1,)),
        directory(contact(1, ALICE), known_threads={"old@acme.test": [RecordRef(C1, "Contact")]}),
        MatchPolicy(),
    )
    assert [r.id for r in plan.records] == [C1]
    assert plan.records[0].reason.rule == "address"


def test_machine_mail_says_why() -> None:
    """A machine mail plan has no records and names the reason in its trace."""
    plan = match(
        email(to=(ALICE,), machine_reason="DSN"), directory(contact(1, ALICE)), MatchPolicy()
    )
    assert plan.records == ()
    assert any("machine mail (DSN)" in line for line in plan.trace)


def test_policy_from_config_drops_relay_and_internal_addresses() -> None:
    """MatchPolicy.from_config treats RELAY_DOMAIN as Relay's own and keeps internal domains."""
    from relay.config import Config

    policy = MatchPolicy.from_config(
        Config(domain="relay.test", internal_domains=("acme.test",)), unmatched="drop"
    )
    plan = match(
        email(to=("log+abc@relay.test", "eve@acme.test", ALICE)),
        directory(contact(1, ALICE), contact(2, "eve@acme.test")),
        policy,
    )
    assert [r.id for r in plan.records] == [C1]
    assert {d.subject: d.reason for d in plan.dropped} == {
        "log+abc@relay.test": "Relay's own address",
        "eve@acme.test": "internal domain",
    }
    assert policy.unmatched == "drop"


def test_an_inbound_copy_names_the_rep_who_received_it() -> None:
    """The rep is the recipient, the plan says it is inbound, and the trace says why."""
    plan = match(_inbound(), directory(contact(1, ALICE)), RELAY_POLICY)
    assert plan.rep == REP
    assert plan.inbound
    assert plan.to_dict()["inbound"] is True
    assert any("inbound copy" in line for line in plan.trace)


def test_a_reps_own_email_is_not_inbound_even_to_another_rep() -> None:
    """From a rep: the sender is the rep (E2S), whoever else is a recipient."""
    plan = match(email(to=(ALICE,), cc=(REP.email,)), directory(contact(1, ALICE)), RELAY_POLICY)
    assert plan.rep == REP
    assert not plan.inbound


def test_no_rep_anywhere_has_no_rep() -> None:
    plan = match(email(from_=BOB, to=(ALICE,)), directory(contact(1, ALICE)), RELAY_POLICY)
    assert plan.rep is None
    assert not plan.inbound
