"""A Task-sync engine on a real store against the local org over HTTPS, with the org's
clock as the engine's Salesforce clock, and the helpers the tests drive both sides with.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from simple_salesforce import Salesforce

from relay.config import Config
from relay.salesforce.client import RetryPolicy, SalesforceClient
from relay.store import SqlStore
from relay.store.model import Rep
from relay.tasksync.engine import CycleReport, TaskSyncEngine
from tests.support.localorg import RunningOrg

TASK_FIELDS = (
    "Id, OwnerId, Subject, Status, Priority, ActivityDate, Description, WhoId, WhatId, "
    "IsDeleted, Relay_Key__c, SystemModstamp"
)


@dataclass
class Harness:
    org: RunningOrg
    store: SqlStore
    config: Config
    engine: TaskSyncEngine = field(init=False)
    client: SalesforceClient = field(init=False)
    sf: Salesforce = field(init=False)

    def __post_init__(self) -> None:
        # No waits between retries: a fault costs the cycle, the next cycle tries again.
        retry = RetryPolicy(attempts=2, initial_wait_seconds=0.0, max_wait_seconds=0.0,
                            jitter_seconds=0.0)  # fmt: skip
        self.client = SalesforceClient(self.config.salesforce, retry=retry)
        self.engine = TaskSyncEngine(
            self.store, self.client, self.config.sync, org_clock=self.org_now
        )
        self.sf = self.org.client()

    def close(self) -> None:
        self.client.close()
        self.sf.session.close()

    # --- the org's clock ----------------------------------------------------------------

    def org_now(self) -> datetime:
        response = self.org.admin.get(self.org.url("/_localorg/clock"))
        assert response.status_code == 200, response.text
        return datetime.fromisoformat(response.json()["now"]).astimezone(UTC)

    def move_clock(self, offset_seconds: float) -> datetime:
        body = self.org.admin("/_localorg/clock", {"offset_seconds": offset_seconds})
        return datetime.fromisoformat(body["now"]).astimezone(UTC)

    # --- reps -----------------------------------------------------------------------------

    def reps(self, *emails: str, time_zone: str = "UTC") -> list[Rep]:
        users = self.org.sample.users
        found = [Rep(users[e], e, e, e.split("@")[0], True, time_zone) for e in emails]
        self.store.replace_reps(found, datetime.now(UTC))
        return found

    def sync(self, rep: Rep, on: bool) -> None:
        self.store.set_setting(rep.user_id, "task_sync", "on" if on else "off")

    def cycle(self) -> CycleReport:
        return self.engine.cycle()

    # --- Salesforce's side ------------------------------------------------------------------

    def create_task(self, owner: Rep, subject: str, due: date | None, **fields: Any) -> str:
        values: dict[str, Any] = {"OwnerId": owner.user_id, "Subject": subject,
                                  "TaskSubtype": "Task", **fields}  # fmt: skip
        if due is not None:
            values["ActivityDate"] = due.isoformat()
        result = self.sf.Task.create(values)
        return str(result["id"])

    def update_task(self, task_id: str, **fields: Any) -> None:
        self.sf.Task.update(task_id, fields)

    def delete_task(self, task_id: str) -> None:
        self.sf.Task.delete(task_id)

    def undelete(self, *task_ids: str) -> Any:
        response = self.org.admin.post(
            self.org.url("/_localorg/undelete"), json={"ids": list(task_ids)}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def purge(self, *task_ids: str) -> Any:
        body: dict[str, Any] = {"ids": list(task_ids)} if task_ids else {}
        response = self.org.admin.post(self.org.url("/_localorg/recycleBin/empty"), json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def tasks(self, where: str = "", *, deleted: bool = False) -> list[dict[str, Any]]:
        soql = f"SELECT {TASK_FIELDS} FROM Task" + (f" WHERE {where}" if where else "")
        return list(self.sf.query_all(soql, include_deleted=deleted)["records"])

    def task(self, task_id: str) -> dict[str, Any]:
        return dict(self.sf.Task.get(task_id))


def config_for(org: RunningOrg, home: Path, store_url: str) -> Config:
    config = org.config(home)
    return dataclasses.replace(config, store_url=store_url)
