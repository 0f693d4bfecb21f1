"""API calls and seconds per Task-sync cycle at scale, against the local org over HTTPS.

    .venv/bin/python bench/tasksync.py [--reps 1000] [--tasks 20000] [--cycles 5]
                                       [--change 0.01] [--store-url URL]

The org gets ``--reps`` Users and ``--tasks`` Tasks (TaskSubtype Task, owned round
robin), stamped over the last 20 hours with the org's movable clock, as a day of work
would be; Relay's store (SQLite in a temporary directory unless ``--store-url``) gets the
reps with the org default ``task_sync = on``. The first cycle imports every Task (the
first enable's last 24 hours; timed and shown, not judged). Then, side by side in one
run:

- quiet: two cycles with nothing changed;
- busy: ``--cycles`` cycles, before each of which ``--change`` of the Tasks change in
  Salesforce (Status, ActivityDate) and as many reminders change in Relay (details), so
  each cycle pulls Salesforce's changes and the echo of its previous pushes and pushes
  Relay's;
- 200 changes: one cycle with 200 Relay changes and nothing else.

Prints calls (query pages + Composite calls), records pushed, rows pulled and seconds per
cycle, and judges the targets: a quiet cycle is 1 call, a cycle with 200 changes at most
4 calls, every cycle at most 5 s. Exit status 0 when met, 1 when not. A script, not a
test: the seconds depend on the machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from relay.config import load_config  # noqa: E402
from relay.localorg.data import OrgData  # noqa: E402
from relay.localorg.seed import LATEST_VERSION  # noqa: E402
from relay.salesforce.client import SalesforceClient  # noqa: E402
from relay.store import SqlStore, open_store  # noqa: E402
from relay.store.model import Rep  # noqa: E402
from relay.tasksync.engine import CycleReport, TaskSyncEngine  # noqa: E402
from tests.support.localorg import RunningOrg, start_org  # noqa: E402

CHUNKS = 40
SPREAD_HOURS = 20


def seed_users(org: RunningOrg, count: int) -> list[str]:
    admin = org.info.user_id

    def make(data: OrgData) -> list[str]:
        result = data.query("SELECT Id FROM Profile WHERE Name = 'Standard User'",
                            include_deleted=False, api_version=LATEST_VERSION)  # fmt: skip
        profile = result.records[0]
        ids = []
        with data.transaction():
            for n in range(count):
                email = f"rep{n:04d}@bench.example"
                ids.append(data.create("User", {
                    "Username": email, "Email": email, "LastName": f"Rep {n}",
                    "Alias": f"r{n:04d}", "TimeZoneSidKey": "America/New_York",
                    "LocaleSidKey": "en_US", "EmailEncodingKey": "UTF-8",
                    "LanguageLocaleKey": "en_US", "ProfileId": profile["Id"],
                }, user_id=admin))  # fmt: skip
        return ids

    return org.call(make)


def seed_tasks(org: RunningOrg, users: list[str], count: int) -> list[str]:
    """``count`` Tasks in CHUNKS batches, each stamped at its own moment of the last
    SPREAD_HOURS (the org's clock moved back for it)."""
    admin = org.info.user_id
    ids: list[str] = []
    per_chunk = max(1, count // CHUNKS)
    for chunk in range(CHUNKS):
        hours_back = SPREAD_HOURS * (1 - chunk / CHUNKS)
        org.admin("/_localorg/clock", {"offset_seconds": -hours_back * 3600})
        start = chunk * per_chunk
        end = count if chunk == CHUNKS - 1 else start + per_chunk

        def make(data: OrgData, start: int = start, end: int = end) -> list[str]:
            made = []
            with data.transaction():
                for n in range(start, end):
                    due = date(2026, 12, 1) + timedelta(days=n % 60)
                    made.append(data.create("Task", {
                        "OwnerId": users[n % len(users)], "Subject": f"Task {n}",
                        "TaskSubtype": "Task", "ActivityDate": due.isoformat(),
                    }, user_id=admin))  # fmt: skip
            return made

        ids.extend(org.call(make))
    org.admin("/_localorg/clock", {"offset_seconds": 0})
    return ids


def change_in_salesforce(org: RunningOrg, task_ids: list[str], round_number: int) -> None:
    admin = org.info.user_id

    def change(data: OrgData) -> None:
        with data.transaction():
            for n, task_id in enumerate(task_ids):
                status = "Completed" if (n + round_number) % 2 else "Not Started"
                due = date(2027, 1, 1) + timedelta(days=(n + round_number) % 30)
                data.update("Task", task_id, {"Status": status, "ActivityDate": due.isoformat()},
                            user_id=admin)  # fmt: skip

    org.call(change)


def timed(engine: TaskSyncEngine) -> tuple[CycleReport, float]:
    started = time.perf_counter()
    report = engine.cycle()
    seconds = time.perf_counter() - started
    if report.error is not None:
        raise SystemExit(f"a cycle failed: {report.error.reason}")
    return report, seconds


def line(name: str, report: CycleReport, seconds: float) -> str:
    composite = report.calls - report.pages
    return (
        f"{name:<22} {report.calls:>5} {report.pages:>5} {composite:>9} {report.pushed:>7} "
        f"{report.pulled:>7} {report.imported:>8} {report.to_relay:>8} {seconds:>8.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--change", type=float, default=0.01)
    parser.add_argument("--store-url", default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-tasksync-") as tmp:
        base = Path(tmp)
        org = start_org(base / "org")
        store: SqlStore | None = None
        try:
            started = time.perf_counter()
            users = seed_users(org, args.reps)
            task_ids = seed_tasks(org, users, args.tasks)
            print(f"seeded {len(users)} users and {len(task_ids)} tasks in "
                  f"{time.perf_counter() - started:.1f} s")  # fmt: skip
            url = args.store_url or f"sqlite:///{base / 'relay.db'}"
            store = open_store(url)  # type: ignore[assignment]
            assert isinstance(store, SqlStore)
            store.replace_reps(
                [Rep(u, f"rep{n:04d}@bench.example", f"rep{n:04d}@bench.example", None, True,
                     "America/New_York") for n, u in enumerate(users)],
                datetime.now(UTC),
            )  # fmt: skip
            store.set_setting("org", "task_sync", "on")
            config = load_config(environ=org.relay_env(base / "home"))
            client = SalesforceClient(config.salesforce)
            engine = TaskSyncEngine(store, client, config.sync)
            header = (f"{'cycle':<22} {'calls':>5} {'pages':>5} {'composite':>9} {'pushed':>7} "
                      f"{'pulled':>7} {'imported':>8} {'to_relay':>8} {'seconds':>8}")  # fmt: skip
            print(header)
            report, seconds = timed(engine)
            print(line("first enable (import)", report, seconds))
            results: list[tuple[str, CycleReport, float]] = []
            for n in range(2):
                report, seconds = timed(engine)
                results.append(("quiet", report, seconds))
                print(line(f"quiet {n + 1}", report, seconds))
            changes = max(1, int(args.tasks * args.change))
            reminders = store.list_reminders()
            for n in range(args.cycles):
                picked = task_ids[n * changes : (n + 1) * changes]
                change_in_salesforce(org, picked, n)
                for reminder in reminders[-(n + 1) * changes :][:changes]:
                    store.edit_reminder(reminder.id, details=f"round {n}")
                report, seconds = timed(engine)
                results.append(("busy", report, seconds))
                print(line(f"busy {n + 1} ({changes}+{changes})", report, seconds))
            timed(engine)  # settle the last echo
            for reminder in reminders[:200]:
                store.edit_reminder(reminder.id, details="two hundred")
            report, seconds = timed(engine)
            results.append(("200", report, seconds))
            print(line("200 changes", report, seconds))
            client.close()
        finally:
            if store is not None:
                store.close()
            org.stop()

    quiet_ok = all(r.calls == 1 for kind, r, _ in results if kind == "quiet")
    two_hundred_ok = all(r.calls <= 4 for kind, r, _ in results if kind == "200")
    slowest = max(s for _, _, s in results)
    print(f"quiet cycle 1 call: {'met' if quiet_ok else 'NOT met'}; 200 changes <= 4 calls: "
          f"{'met' if two_hundred_ok else 'NOT met'}; slowest cycle {slowest:.2f} s (target 5 s): "
          f"{'met' if slowest <= 5 else 'NOT met'}")  # fmt: skip
    return 0 if quiet_ok and two_hundred_ok and slowest <= 5 else 1


_: Any = None

if __name__ == "__main__":
    raise SystemExit(main())
