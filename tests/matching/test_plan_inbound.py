"""relay/runners/plan.py on inbound copies (a customer's email with a rep among the
recipients only): logged as the rep's when a trusted network sent it, held otherwise,
since anyone can put a rep in To."""

from __future__ import annotations

from matching_builders import REP, T0, contact, directory, email, rid

from relay.envelope import Envelope
from relay.matching import MatchPolicy
from relay.runners.plan import Planned, lookup_keys, plan_message
from relay.store.model import Outcome, State, StoredMessage

CUSTOMER = "alice@customer.test"
INBOUND = email(from_=CUSTOMER, to=(REP.email,))


def _stored() -> StoredMessage:
    return StoredMessage(
        id="01INBOUND",
        state=State.PROCESSING,
        received_at=T0,
        envelope=Envelope(CUSTOMER, ("log@relay.test",), peer="192.0.2.7:4242"),
        message_id="m1@acme.test",
        subject="Quote for Q3",
        size=100,
        attempts=0,
        reason=None,
        not_before=None,
        updated_at=T0,
    )


def _plan(vouched: bool) -> Planned | Outcome:
    return plan_message(
        _stored(),
        INBOUND,
        directory(contact(1, CUSTOMER)),
        MatchPolicy(),
        org_timezone="UTC",
        shared_activities=True,
        vouched=vouched,
    )


def test_a_vouched_inbound_copy_is_the_recipient_reps_task_on_the_customer() -> None:
    planned = _plan(vouched=True)
    assert isinstance(planned, Planned)
    assert {d.owner_id for d in planned.drafts} == {REP.id}
    assert {r.id for r in planned.plan.records} == {rid("003", 1)}


def test_an_inbound_copy_nobody_vouched_for_is_held_as_an_unknown_sender() -> None:
    outcome = _plan(vouched=False)
    assert isinstance(outcome, Outcome)
    assert outcome.state is State.HELD
    assert CUSTOMER in (outcome.reason or "")


def test_the_directory_lookup_includes_the_from() -> None:
    assert CUSTOMER in lookup_keys(INBOUND, MatchPolicy()).addresses
