"""Property tests: match is deterministic, never lists a record twice, and the drafts show
every matched record exactly once."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from relay.matching import MatchPolicy, draft_tasks, match
from tests.support.matching_builders import (
    OURS,
    REP,
    contact,
    directory,
    email,
    lead,
    opportunity,
    rid,
)

ADDRESSES = [f"u{i}@d{i % 3}.test" for i in range(12)]

people = st.lists(
    st.tuples(
        st.sampled_from(["contact", "lead", "converted"]),
        st.integers(0, 30),
        st.sampled_from(ADDRESSES),
    ),
    max_size=25,
)
roles = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 8), st.booleans()), max_size=20)
recipients = st.lists(st.sampled_from(ADDRESSES), max_size=15)
policies = st.builds(
    MatchPolicy,
    multiple_matches=st.sampled_from(["all", "oldest", "most_activity"]),
    opportunities=st.sampled_from(["all_open", "most_recent_open", "none"]),
    unmatched=st.sampled_from(["unresolved_task", "hold", "drop"]),
    internal_domains=st.sampled_from([(), ("d0.test",)]),
    max_candidates=st.integers(1, 50),
)


def _directory(people_spec, role_spec):  # type: ignore[no-untyped-def]
    records = {}
    for kind, n, address in people_spec:
        if kind == "contact":
            records[rid("003", n)] = contact(n, address)
        else:
            records[rid("00Q", n)] = lead(n, address, converted=kind == "converted")
    role_pairs = [(rid("003", c), opportunity(o, closed=closed)) for c, o, closed in role_spec]
    # One opportunity id has one IsClosed value: keep the first spelling of each.
    first = {}
    for _, opp in role_pairs:
        first.setdefault(opp.id, opp)
    return directory(*records.values(), roles=[(c, first[o.id]) for c, o in role_pairs])


@settings(max_examples=150, deadline=None)
@given(people, roles, recipients, recipients, policies, st.booleans())
def test_match_is_deterministic_and_lists_each_record_once(  # type: ignore[no-untyped-def]
    people_spec, role_spec, to, cc, policy, shared
) -> None:
    """Matching twice gives equal plans; no record is listed twice; drafts show each once."""
    dir_ = _directory(people_spec, role_spec)
    mail = email(to=tuple(to), cc=tuple(cc))
    first = match(mail, dir_, policy)
    assert first == match(mail, dir_, policy)
    ids = [r.id for r in first.records]
    assert len(ids) == len(set(ids))
    assert len(first.candidates) <= policy.max_candidates

    drafts = draft_tasks(
        mail, first, REP.id, org_timezone="UTC", shared_activities=shared, is_relay_address=OURS
    )
    if first.outcome == "matched":
        seen: Counter[str] = Counter()
        for draft in drafts:
            seen.update(draft.task_who_ids)
            if draft.what_id:
                seen[draft.what_id] += 1
            assert len(draft.task_who_ids) <= (50 if shared else 1)
        assert seen == Counter(ids)
    else:
        assert all(d.who_id is None and d.what_id is None for d in drafts)
