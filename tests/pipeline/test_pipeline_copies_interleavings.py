"""Two copies of one email, written in the interleavings that matter, one at a time and
deterministically: the real TaskWriter, a real store (SQLite and PostgreSQL) and the
local org over HTTPS. One copy's whole write runs inside the other's Salesforce call,
before or after the request reaches the org (docs/delivery-guarantees.md, "Copies at
the same moment"). Every interleaving ends with one Task, which both copies record.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest

from relay.config import SalesforceConfig
from relay.delivery.plan import Planned
from relay.delivery.write import Job, KeyResult, TaskWriter, outcome_after_write
from relay.envelope import Envelope
from relay.matching import TaskDraft
from relay.matching.model import MatchedRecord, MatchPlan, Reason
from relay.parsing import parse
from relay.salesforce.client import SalesforceClient
from relay.store import SqlStore, State
from relay.store.model import WRITTEN
from tests.support.localorg import RunningOrg
from tests.support.pipeline import REP

KEY_FIELD = "Relay_Key__c"


class Interleaved:
    """The client one copy uses: its next upsert runs ``before`` first (the other copy's
    whole write, done while this request is on its way), or ``after`` (done once the
    org has answered, before this copy records it). ``answer`` replaces the org's
    answer: what Salesforce says to the loser of two inserts at the same moment, which
    the local org (it runs one write at a time) cannot produce."""

    def __init__(
        self,
        client: SalesforceClient,
        *,
        before: Callable[[], object] | None = None,
        after: Callable[[], object] | None = None,
        answer: Callable[[Sequence[Mapping[str, Any]]], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.client = client
        self.before, self.after, self.answer = before, after, answer
        self.upserted: list[int] = []

    def upsert_collection(
        self, sobject: str, field: str, records: Sequence[Mapping[str, Any]], **kwargs: Any
    ) -> list[dict[str, Any]]:
        self.upserted.append(len(records))
        if self.before is not None:
            self.before()
        if self.answer is not None:
            return self.answer(records)
        answers = self.client.upsert_collection(sobject, field, records, **kwargs)
        if self.after is not None:
            self.after()
        return answers

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.fixture
def client(org: RunningOrg) -> Any:
    info = org.info
    config = SalesforceConfig(
        instance_url=info.instance_url, access_token=info.access_token, ca_file=info.ca_file
    )
    with SalesforceClient(config) as sf:
        yield sf


def _draft(org: RunningOrg, subject: str) -> TaskDraft:
    contact = org.seeded.sample.contacts["peter@initech.example"]
    return TaskDraft(
        relay_key=uuid.uuid4().hex,
        subject=f"Email: {subject}",
        description="Additional To: peter@initech.example",
        status="Completed",
        priority="Normal",
        task_subtype="Email",
        activity_date=date(2025, 1, 6),
        owner_id=org.seeded.sample.users[REP],
        who_id=contact,
        what_id=None,
        task_who_ids=(contact,),
        record_ids=(contact,),
    )


def _job(queue_id: str, draft: TaskDraft) -> Job:
    return Job(queue_id, "copies@acme-widgets.example", (draft,))


def _tasks(client: SalesforceClient, key: str) -> list[str]:
    return [
        str(t["Id"]) for t in client.query_all(f"SELECT Id FROM Task WHERE {KEY_FIELD} = '{key}'")
    ]


def _one_task_both_recorded(
    client: SalesforceClient, store: SqlStore, key: str, first: KeyResult, second: KeyResult
) -> None:
    tasks = _tasks(client, key)
    assert len(tasks) == 1, tasks
    assert (first.error, second.error) == (None, None), (first, second)
    assert first.task_id == second.task_id == tasks[0]
    row = store.deliveries_for_keys([key])[key]
    assert (row.state, row.task_id) == (WRITTEN, tasks[0])


def test_other_copy_writes_while_this_copy_is_in_flight(
    org: RunningOrg, client: SalesforceClient, store: SqlStore
) -> None:
    """A has committed its intent; B writes the Task before A's upsert reaches the org;
    A's upsert meets B's Task (update path) and records it."""
    draft = _draft(org, "In flight")
    results: dict[str, dict[str, KeyResult]] = {}

    def copy_b() -> None:
        results["b"] = TaskWriter(store, client).write([_job("b", draft)], KEY_FIELD)

    a_client = Interleaved(client, before=copy_b)
    results["a"] = TaskWriter(store, a_client).write([_job("a", draft)], KEY_FIELD)  # type: ignore[arg-type]
    key = draft.relay_key
    _one_task_both_recorded(client, store, key, results["a"][key], results["b"][key])


def test_other_copy_reads_after_the_commit_before_the_ledger_says_so(
    org: RunningOrg, client: SalesforceClient, store: SqlStore
) -> None:
    """A's Task is committed in the org but A has not marked it written: B sees only
    A's intent, writes the key itself and finds A's Task; nothing assumes the other."""
    draft = _draft(org, "Committed not recorded")
    results: dict[str, dict[str, KeyResult]] = {}

    def copy_b() -> None:
        assert store.deliveries_for_keys([draft.relay_key])[draft.relay_key].state == "intent"
        results["b"] = TaskWriter(store, client).write([_job("b", draft)], KEY_FIELD)

    a_client = Interleaved(client, after=copy_b)
    results["a"] = TaskWriter(store, a_client).write([_job("a", draft)], KEY_FIELD)  # type: ignore[arg-type]
    key = draft.relay_key
    _one_task_both_recorded(client, store, key, results["a"][key], results["b"][key])


def test_insert_refused_by_the_unique_key_records_the_other_copys_task(
    org: RunningOrg, client: SalesforceClient, store: SqlStore
) -> None:
    """Salesforce ran both upserts at once and refused A's insert with DUPLICATE_VALUE
    (B's insert won): A records B's Task instead of failing the copy."""
    draft = _draft(org, "Duplicate value")
    results: dict[str, dict[str, KeyResult]] = {}

    def copy_b() -> None:
        results["b"] = TaskWriter(store, client).write([_job("b", draft)], KEY_FIELD)

    def loser(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        [winner] = _tasks(client, draft.relay_key)
        message = f"duplicate value found: {KEY_FIELD} duplicates value on record with id: {winner}"
        error = {"statusCode": "DUPLICATE_VALUE", "message": message, "fields": []}
        return [{"success": False, "errors": [error], "created": False} for _ in records]

    a_client = Interleaved(client, before=copy_b, answer=loser)
    results["a"] = TaskWriter(store, a_client).write([_job("a", draft)], KEY_FIELD)  # type: ignore[arg-type]
    key = draft.relay_key
    _one_task_both_recorded(client, store, key, results["a"][key], results["b"][key])


def test_two_copies_in_one_batch_send_the_key_once(
    org: RunningOrg, client: SalesforceClient, store: SqlStore
) -> None:
    """Both copies in one batch: one record in one upsert, one result both copies read."""
    draft = _draft(org, "One batch")
    counting = Interleaved(client)
    results = TaskWriter(store, counting).write(  # type: ignore[arg-type]
        [_job("a", draft), _job("b", draft)], KEY_FIELD
    )
    assert counting.upserted == [1]
    assert _tasks(client, draft.relay_key) == [results[draft.relay_key].task_id]


def test_a_draft_without_a_write_result_is_never_logged(store: SqlStore) -> None:
    """``logged`` needs a result for every draft: a missing one defers the copy."""
    raw = b"From: rep@acme.test\r\nTo: a@customer.test\r\nSubject: s\r\nMessage-ID: <m@x>\r\n\r\nhi"
    envelope = Envelope(mail_from="rep@acme.test", rcpt_tos=("log@relay.test",))
    store.enqueue(raw, envelope, datetime.now(UTC))
    [message] = store.claim(1, "test", 60)
    records = [
        MatchedRecord(f"003{n:012d}AAA", "Contact", Reason("address", f"c{n}@customer.test"))
        for n in (1, 2)
    ]
    drafts = tuple(
        TaskDraft(f"key{n}", "Email: s", "", "Completed", "Normal", "Email", date(2025, 1, 6),
                  "005000000000001AAA", r.id, None, (r.id,), (r.id,))
        for n, r in enumerate(records)
    )  # fmt: skip
    planned = Planned(
        message,
        parse(raw, envelope, datetime.now(UTC)),
        MatchPlan(tuple(records), "matched"),
        drafts,
    )
    outcome = outcome_after_write(planned, {"key0": KeyResult("00T000000000001AAA")})
    assert not (hasattr(outcome, "state") and outcome.state is State.LOGGED), outcome
    complete = {"key0": KeyResult("00T1"), "key1": KeyResult("00T2")}
    assert outcome_after_write(planned, complete).state is State.LOGGED  # type: ignore[union-attr]
