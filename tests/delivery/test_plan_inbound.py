"""relay/delivery/plan.py on inbound copies (a customer's email with a rep among the
recipients only): logged as the rep's when a trusted network sent it, held otherwise,
since anyone can put a rep in To."""

from __future__ import annotations

from relay.delivery.plan import Planned, lookup_keys, plan_message
from relay.envelope import Envelope
from relay.matching import Directory, MatchPolicy
from relay.matching.model import Person, User
from relay.parsing.model import Email
from relay.store.model import Outcome, State, StoredMessage
from tests.support.matching_builders import REP, T0, contact, email, rid

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


def _plan(
    vouched: bool,
    email: Email = INBOUND,
    people: tuple[Person, ...] = (contact(1, CUSTOMER),),
    attribution: tuple[User, bool] | None = (REP, True),
    users: tuple[User, ...] = (),
) -> Planned | Outcome:
    return plan_message(
        _stored(),
        email,
        Directory.build(people=people, users=[*users, REP]),
        MatchPolicy(),
        org_timezone="UTC",
        shared_activities=True,
        vouched=vouched,
        attribution=attribution,
    )


def test_a_vouched_inbound_copy_is_the_recipient_reps_task_on_the_customer() -> None:
    planned = _plan(vouched=True)
    assert isinstance(planned, Planned)
    assert {d.owner_id for d in planned.drafts} == {REP.id}
    assert {r.id for r in planned.plan.records} == {rid("003", 1)}


def test_an_inbound_copy_nobody_vouched_for_is_held_with_its_own_reason() -> None:
    """Not "unknown sender": its fix (add the sender) would let the customer log as the
    rep; the reason names the trusted networks instead."""
    for attribution in ((REP, True), None):
        outcome = _plan(vouched=False, attribution=attribution)
        assert isinstance(outcome, Outcome)
        assert outcome.state is State.HELD
        assert (outcome.reason or "").startswith("untrusted_inbound_copy:")
        assert "RELAY_SMTP_INBOUND_NETWORKS" in (outcome.reason or "")
        assert "relay senders add" not in (outcome.reason or "")


def test_an_inbound_copy_that_matches_nothing_is_rejected_not_unresolved() -> None:
    """A stranger's email to a rep (spam, a cold inquiry) is not logged."""
    outcome = _plan(vouched=True, people=())
    assert isinstance(outcome, Outcome)
    assert outcome.state is State.REJECTED


def test_the_runners_attribution_wins_over_the_matchers_guess() -> None:
    """A portal User as the From, another User before the rep in To: the Tasks are still
    the rep's, and the From is still the customer to match."""
    portal = User(id=rid("005", 7), email=CUSTOMER)
    other = User(id=rid("005", 8), email="ops@acme.test")
    inbound = email(from_=CUSTOMER, to=("ops@acme.test", REP.email))
    planned = _plan(vouched=True, email=inbound, users=(portal, other))
    assert isinstance(planned, Planned)
    assert {d.owner_id for d in planned.drafts} == {REP.id}
    assert {r.id for r in planned.plan.records} == {rid("003", 1)}


def test_the_directory_lookup_includes_the_from() -> None:
    assert CUSTOMER in lookup_keys(INBOUND, MatchPolicy()).addresses
