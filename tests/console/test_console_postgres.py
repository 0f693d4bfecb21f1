"""The console on PostgreSQL: `relay serve` on a private schema, a rep signs in, saves a
setting and adds a reminder; the admin's pages read the same store."""

from __future__ import annotations

import json
from pathlib import Path

from tests.console.console_helpers import BOB, REP_PASSWORD, sign_in
from tests.support.localorg import RunningOrg
from tests.support.serve import RelayServe


def test_the_console_on_postgresql(
    tmp_path: Path, console_org: RunningOrg, postgres_schema_url: str
) -> None:
    env = {**console_org.env(), "RELAY_STORE_URL": postgres_schema_url}
    relay = RelayServe(tmp_path / "relay", env=env, args=("--workers", "1"))
    relay.start()
    try:
        bob = sign_in(relay, console_org, BOB, REP_PASSWORD)
        saved = bob.post("/settings/logging", {"body": "none", "attachments": "names",
                                               "confirmations": "off"})  # fmt: skip
        added = bob.post("/tasks", {"subject": "Call Hank", "due": "tomorrow",
                                    "priority": "high"})  # fmt: skip
        activity = bob.get("/activity")
        admin = sign_in(relay, console_org, console_org.info.username, console_org.info.password)
        admin_page = admin.get("/admin?state=logged")
        shown = json.loads(relay.cli("settings", "show", "--user", BOB, "--json").stdout)
        tasks = json.loads(relay.cli("tasks", "list", "--user", BOB, "--all", "--json").stdout)
    finally:
        relay.stop()
    assert saved.status_code == 302
    assert added.status_code == 302
    assert activity.status_code == 200
    assert admin_page.status_code == 200
    assert "settings_set" in admin_page.text  # the audit list, from the same store
    assert shown["settings"]["body"] == "none"
    assert [(t["subject"], t["priority"]) for t in tasks] == [("Call Hank", "high")]
