"""``/imports`` over plain HTTP: real `relay import` runs (the CLI, as an admin runs it)
for two reps, then what each rep and an admin may see, 403 for another rep's import,
and a source path with markup in it shown as text."""

from __future__ import annotations

import html
import json
import subprocess
from pathlib import Path

from relay.store import open_store
from relay.store.imports import GONE
from relay.store.leases import this_host
from tests.console.console_helpers import ALICE, BOB, REP_PASSWORD, sign_in
from tests.importing.mail_files import message, write_mbox
from tests.support.localorg import RunningOrg
from tests.support.serve import RelayServe

CUSTOMER = "hank@globex.example"
HOSTILE_NAME = "<script>alert('imports')</script>.mbox"
"""A folder ``<script>alert('imports')<`` holding ``script>.mbox``: the path reads as a
script element."""


def imported(relay: RelayServe, path: Path, user: str) -> dict[str, object]:
    done = relay.cli("import", str(path), "--user", user, "--json")
    assert done.returncode == 0, done.stderr
    final: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return final


def test_a_rep_sees_their_imports_an_admin_all_and_another_reps_is_403(
    console_relay: RelayServe, console_org: RunningOrg, tmp_path: Path
) -> None:
    (tmp_path / HOSTILE_NAME.partition("/")[0]).mkdir()
    alices = write_mbox(
        tmp_path / HOSTILE_NAME,
        [message(i, sender=ALICE, to=CUSTOMER, tag="console-alice") for i in range(3)],
    )
    bobs = write_mbox(
        tmp_path / "bob.mbox",
        [message(i, sender=BOB, to=CUSTOMER, tag="console-bob") for i in range(2)],
    )
    assert imported(console_relay, alices, ALICE)["logged"] == 3
    assert imported(console_relay, bobs, BOB)["logged"] == 2
    listed = [
        json.loads(line)
        for line in console_relay.cli("import", "list", "--json").stdout.splitlines()
    ]
    ids = {item["source"]: item["id"] for item in listed}
    alice_id, bob_id = ids[str(alices.resolve())], ids[str(bobs.resolve())]

    rep = sign_in(console_relay, console_org, ALICE, REP_PASSWORD)
    page = rep.get("/imports")
    assert page.status_code == 200
    assert "bob.mbox" not in page.text  # only her own
    assert f'href="/imports/{alice_id}"' in page.text
    # The markup in the file name is text: escaped, never a script element.
    assert "&lt;script&gt;alert(&#39;imports&#39;)&lt;/script&gt;.mbox" in page.text
    assert "<script>alert(" not in page.text
    assert 'hx-trigger="every' not in page.text  # nothing running: no polling
    mine = rep.get(f"/imports/{alice_id}")
    assert mine.status_code == 200
    assert '<td class="n" data-count="read">3</td>' in mine.text
    assert '<td class="n" data-count="logged">3</td>' in mine.text
    assert '<span class="state" id="import-state">done</span>' in mine.text
    refused = rep.get(f"/imports/{bob_id}")
    assert refused.status_code == 403
    assert "console-bob" not in refused.text
    assert "bob.mbox" not in refused.text
    assert rep.get("/imports/01JNOSUCHIMPORT0000000000").status_code == 404

    admin = sign_in(
        console_relay, console_org, console_org.info.username, console_org.info.password
    )
    every = admin.get("/imports").text
    assert f'href="/imports/{alice_id}"' in every
    assert f'href="/imports/{bob_id}"' in every
    assert "All imports" in every
    theirs = admin.get(f"/imports/{bob_id}")
    assert theirs.status_code == 200
    assert '<td class="n" data-count="logged">2</td>' in theirs.text


def test_an_import_whose_process_was_killed_shows_stopped_with_why(
    console_relay: RelayServe, console_org: RunningOrg
) -> None:
    """Its row still says running (nobody recorded an end); the page says stopped."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    store = open_store(console_relay.store_url)
    try:
        record = store.start_import(
            "/mail/killed.mbox", ALICE, {}, f"{this_host()}:{dead.pid}:import"
        )
    finally:
        store.close()
    assert record.state == "running"
    rep = sign_in(console_relay, console_org, ALICE, REP_PASSWORD)
    page = rep.get("/imports").text
    row = page[page.index(f'<tr data-import="{record.id}">') :]
    row = row[: row.index("</tr>")]
    assert '<span class="state">stopped</span>' in row
    assert html.escape(GONE) in row
    assert 'hx-trigger="every' not in page  # nothing is running: no polling
    detail = rep.get(f"/imports/{record.id}").text
    assert '<span class="state" id="import-state">stopped</span>' in detail
