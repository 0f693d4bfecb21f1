"""What the pipeline and scale benches share: the chaos harness (tests/chaos), the
tests' launchers (tests/support), relay's /metrics, and the 250-to-Task latencies.

The latency of an email is the Task's CreatedDate (stamped by the org, in milliseconds,
when it commits the record, after which a query finds it) minus the wall-clock time the
client read the 250 reply; client and org share this machine's clock.
"""

from __future__ import annotations

import statistics
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from simple_salesforce import format_soql

# The repository root, so the benches import the tests' helpers as tests.* (a script's
# sys.path starts at bench/).
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.chaos.chaos_harness import (  # noqa: E402
    TASK_SUBJECT_PREFIX,
    Node,
    Outgoing,
    SendLog,
    make_messages,
    org_tasks,
    postgres_schema,
    running_nodes,
    seed_customers,
    send_messages,
)
from tests.support.localorg import OrgProcess, RunningOrg  # noqa: E402
from tests.support.pipeline import REP  # noqa: E402
from tests.support.serve import LOG  # noqa: E402

__all__ = [
    "LOG",
    "REP",
    "Node",
    "OrgProcess",
    "Outgoing",
    "RunningOrg",
    "SendLog",
    "api_calls",
    "make_messages",
    "percentile",
    "postgres_schema",
    "running_nodes",
    "seed_customers",
    "send_messages",
    "task_times",
    "wait_for_tasks",
]


def api_calls(node: Node) -> float:
    """relay_salesforce_api_calls from the node's /metrics (calls it made to Salesforce)."""
    url = f"http://127.0.0.1:{node.serve.http_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("relay_salesforce_api_calls_total")
    )


def task_times(org: RunningOrg, messages: Sequence[Outgoing], prefix: str) -> dict[int, float]:
    """Message number -> the epoch time its Task was created, for the Tasks that exist."""
    by_subject = {TASK_SUBJECT_PREFIX + m.subject: m.n for m in messages}
    times: dict[int, float] = {}
    for task in org_tasks_with_dates(org, prefix):
        n = by_subject.get(task["Subject"])
        if n is not None:
            created = datetime.strptime(task["CreatedDate"], "%Y-%m-%dT%H:%M:%S.%f%z")
            times[n] = min(times.get(n, float("inf")), created.timestamp())
    return times


def org_tasks_with_dates(org: RunningOrg, prefix: str) -> list[dict[str, object]]:
    soql = "SELECT Id, Subject, CreatedDate FROM Task"
    wanted = TASK_SUBJECT_PREFIX + prefix
    return [t for t in org.sf().query_all(soql)["records"] if t["Subject"].startswith(wanted)]


def wait_for_tasks(
    org: RunningOrg, messages: Sequence[Outgoing], prefix: str, timeout: float, poll: float = 0.5
) -> dict[int, float]:
    """Poll the org until every message has a Task (or ``timeout``); returns task_times.

    The poll is a COUNT() of this run's Tasks, not the Tasks themselves: reading every
    Task each half second grew with the org and took CPU from the run being measured."""
    soql = format_soql(
        "SELECT COUNT() FROM Task WHERE Subject LIKE '{:like}%'", TASK_SUBJECT_PREFIX + prefix
    )
    sf = org.sf()
    deadline = time.monotonic() + timeout
    while sf.query(soql)["totalSize"] < len(messages) and time.monotonic() < deadline:
        time.sleep(poll)
    return task_times(org, messages, prefix)


def percentile(values: Sequence[float], share: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def latencies(acked_epoch: Mapping[int, float], created: Mapping[int, float]) -> list[float]:
    return [created[n] - acked_epoch[n] for n in acked_epoch if n in created]


_ = org_tasks  # re-exported for the benches' audits
