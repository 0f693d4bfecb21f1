"""Retention and erasure end to end: a copy arriving after the original's raw bytes were
purged is still recognised by the ledger (no second Task), and `relay forget` prints the
Task Relay logged in the org."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.localorg import RunningOrg
from tests.support.pipeline import email, wait_for
from tests.support.serve import RelayServe

PETER = "peter@initech.example"


@pytest.fixture
def ledger_only(tmp_path: Path, org: RunningOrg) -> Iterator[RelayServe]:
    """`relay serve` without the Task external id (create, not upsert): only the ledger
    stands between a late copy and a second Task."""
    process = RelayServe(
        tmp_path / "relay", env=org.env() | {"RELAY_PIPELINE_EXTERNAL_ID_FIELD": "none"}
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _cli_json(serve: RelayServe, *args: str) -> Any:
    result = serve.cli(*args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _states(serve: RelayServe, message_id: str) -> list[str]:
    listed = _cli_json(serve, "queue", "list", "--state", "all", "--json")
    return sorted(item["state"] for item in listed if item["message_id"] == message_id)


def test_a_late_copy_of_a_purged_email_is_not_logged_twice_and_forget_names_its_task(
    org: RunningOrg, ledger_only: RelayServe
) -> None:
    """Logged, purged (--older-than 0), the same email again: still one Task. Then
    forget removes both copies and prints that Task's id and records."""
    serve = ledger_only
    message_id = "<kept-after-purge@acme.example>"
    message = email([PETER], "Kept after purge", message_id=message_id)
    serve.send(message)
    wait_for(lambda: _states(serve, message_id) == ["logged"], what="the first copy logged")
    (task,) = org.tasks("Subject = 'Email: Kept after purge'")

    purged = _cli_json(serve, "queue", "purge", "--older-than", "0", "--json")
    assert purged["by_state"].get("logged", 0) >= 1

    serve.send(message)  # a late journal copy, a client's retry: the same email
    wait_for(lambda: _states(serve, message_id) == ["logged", "logged"], what="the copy done")
    assert [t["Id"] for t in org.tasks("Subject = 'Email: Kept after purge'")] == [task["Id"]]

    forgotten = _cli_json(serve, "forget", PETER, "--json")
    assert forgotten["messages"] == 2
    (reported,) = forgotten["tasks"]
    assert reported["task_id"] == task["Id"]
    assert task["WhoId"] in reported["records"]
    assert _states(serve, message_id) == []
