"""The embedded local org is never mistaken for production: with no RELAY_SF_* credentials,
`relay queue list|show` and `relay unresolved list` say where email was logged; JSON
keeps its values."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from relay.store import SqlStore, State
from relay.store.model import Outcome, new_unresolved
from tests.support.terminal_output import run_on_terminal

RunRelay = Callable[..., Any]
BANNER_START = "LOCAL ORG: no RELAY_SF_* credentials are set"
# A configured org (the listings never contact it).
CONFIGURED = {
    "RELAY_SF_INSTANCE_URL": "https://example.my.salesforce.com",
    "RELAY_SF_ACCESS_TOKEN": "not-contacted",
}


def logged_and_unresolved(store: SqlStore, add_message: Callable[..., str]) -> tuple[str, str]:
    """One message logged, one unresolved with its open item; their queue ids."""
    logged, unresolved = add_message("Logged one"), add_message("Unresolved one")
    store.claim(2, "w", 60)
    item = new_unresolved(
        queue_id=unresolved,
        message_key="<Unresolved.one@mail.example.com>",
        relay_key="k1",
        task_id="00T000000000001AAA",
        owner_id="005000000000001AAA",
        subject="Unresolved one",
        mail_from="rep@example.com",
        reason="no record matched",
    )
    store.finish_many(
        [
            Outcome(logged, State.LOGGED, "logged to 1 record(s) in 1 Task(s)"),
            Outcome(unresolved, State.UNRESOLVED, "no record matched"),
        ],
        unresolved_items=[item],
    )
    return logged, unresolved


def test_listings_say_local_org_without_credentials(
    run_relay: RunRelay,
    relay_home: Path,
    queue_store: SqlStore,
    add_message: Callable[..., str],
) -> None:
    """No credentials: `logged (local org)`, `unresolved (local org)`, `open (local org)`
    and the banner in every listing; `--json` keeps the plain state."""
    logged, _unresolved = logged_and_unresolved(queue_store, add_message)
    listing = run_relay("queue", "list", "--state", "all")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.startswith(BANNER_START)
    assert "logged (local org)" in listing.stdout
    assert "unresolved (local org)" in listing.stdout
    shown = run_relay("queue", "show", logged)
    assert shown.returncode == 0, shown.stderr
    assert BANNER_START in shown.stdout
    assert "logged (local org)" in shown.stdout
    # On a wide terminal: piped, the unresolved table folds its cells at 80 columns.
    items = run_on_terminal("unresolved", "list", env={"RELAY_HOME": str(relay_home)})
    assert items.returncode == 0, items.stderr
    assert BANNER_START in items.output
    assert "open (local org)" in items.output
    as_json = json.loads(run_relay("queue", "list", "--state", "all", "--json").stdout)
    assert {item["state"] for item in as_json} == {"logged", "unresolved"}
    [item] = json.loads(run_relay("unresolved", "list", "--json").stdout)
    assert item["state"] == "open"


def test_listings_with_a_configured_org_carry_no_mark(
    relay_home: Path, queue_store: SqlStore, add_message: Callable[..., str]
) -> None:
    """Credentials set: the same listings show plain states and no banner."""
    logged, _unresolved = logged_and_unresolved(queue_store, add_message)
    env = {"RELAY_HOME": str(relay_home), **CONFIGURED}
    for args in (("queue", "list", "--state", "all"), ("queue", "show", logged)):
        shown = run_on_terminal(*args, env=env)
        assert shown.returncode == 0, shown.stderr
        assert "logged" in shown.output
        assert "local org" not in shown.output.lower()
    items = run_on_terminal("unresolved", "list", env=env)
    assert items.returncode == 0, items.stderr
    assert "Unresolved one" in items.output
    assert "local org" not in items.output.lower()
