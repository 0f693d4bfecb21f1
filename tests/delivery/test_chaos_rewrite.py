"""The crash the chaos test found: Salesforce committed a Task but Relay did not record
it (SIGKILL, or a reset after the commit). The retry's upsert on Relay_Key__c then takes
the update path, which refuses the create-only TaskSubtype; the writer must record the
existing Task as written, not hold the message."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from relay.config import SalesforceConfig
from relay.delivery.write import Job, TaskWriter
from relay.localorg.data import OrgData
from relay.matching import TaskDraft
from relay.salesforce.client import SalesforceClient
from relay.store import open_store
from tests.support.localorg import start_org


def _contact(data: OrgData) -> tuple[str, str]:
    contact = data.create(
        "Contact", {"LastName": "Rewrite", "Email": "rewrite@chaos-customer.example"},
        user_id=data.admin_user_id,
    )  # fmt: skip
    return contact, data.admin_user_id


def test_rewrite_after_uncommitted_write_finds_the_task(tmp_path: Path) -> None:
    """A second writer with an empty ledger (the crashed attempt) gets the same Task."""
    org = start_org(tmp_path / "org")
    info = org.info
    try:
        contact, owner = org.call(_contact)
        draft = TaskDraft(
            relay_key="0123456789abcdef0123456789abcdef",
            subject="Email: Rewrite",
            description="body",
            status="Completed",
            priority="Normal",
            task_subtype="Email",
            activity_date=date(2025, 1, 6),
            owner_id=owner,
            who_id=contact,
            what_id=None,
            task_who_ids=(contact,),
            record_ids=(contact,),
        )
        job = Job("q1", "message-key", (draft,))
        config = SalesforceConfig(
            instance_url=info.instance_url,
            access_token=info.access_token,
            ca_file=Path(info.ca_file),
        )
        with SalesforceClient(config) as client:
            results = []
            for attempt in ("first", "after-crash"):
                store = open_store(f"sqlite:///{tmp_path / attempt / 'relay.db'}")
                try:
                    results.append(TaskWriter(store, client).write([job], "Relay_Key__c"))
                    ledger = store.deliveries_for_keys([draft.relay_key])
                finally:
                    store.close()
            tasks = client.query_all("SELECT Id FROM Task WHERE Relay_Key__c != null")
    finally:
        org.stop()
    first, again = (r[draft.relay_key] for r in results)
    assert first.error is None
    assert again.error is None, again.error
    assert again.task_id == first.task_id
    assert ledger[draft.relay_key].task_id == first.task_id
    assert len(tasks) == 1
