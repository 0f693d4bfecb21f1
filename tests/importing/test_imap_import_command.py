"""`relay import imap://... --folder NAME`, end to end: a real Dovecot (tests/support/
dovecot.py), the import as a real process, `relay serve` delivering to the local org
over HTTPS. Each folder is an import of its own with its own UIDVALIDITY/UID cursor, so
running the same command again reads only what is new in each folder."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relay.importing.imap_protocol import Cursor
from tests.importing.mail_files import message, write_mbox
from tests.support.dovecot import PASSWORD, Dovecot, running_dovecot
from tests.support.localorg import RunningOrg
from tests.support.pipeline import REP
from tests.support.serve import RelayServe

CUSTOMER = "hank@globex.example"
RECEIVED = dt.datetime(2026, 9, 1, 12, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        for folder in ("Sent", "Archive"):
            server.create(folder)
        for folder, n in (("INBOX", 3), ("Sent", 2), ("Archive", 1)):
            for i in range(n):
                raw = message(i, sender=REP, to=CUSTOMER, tag=f"folder-{folder}")
                server.append(folder, raw.replace(b"\n", b"\r\n"), RECEIVED)
        yield server


def relay_import(
    serve: RelayServe, dovecot: Dovecot, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relay", "import", *args, "--user", REP],
        env=serve.full_env()
        | {"RELAY_IMAP_PASSWORD": PASSWORD, "RELAY_IMAP_CA_FILE": str(dovecot.ca_file)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def listed(serve: RelayServe) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in serve.cli("import", "list", "--json").stdout.splitlines()]
    return {row["source"]: row for row in rows}


def subjects(org: RunningOrg, folder: str) -> set[str]:
    """The emails of ``folder`` logged in the org, each once (one relay key a Task)."""
    found = org.tasks(f"Subject LIKE '%Imported folder-{folder} %'")
    keys = Counter(task["Relay_Key__c"] for task in found)
    assert [key for key, count in keys.items() if count > 1] == []
    return {str(task["Subject"]).removeprefix("Email: ") for task in found}


def test_a_dry_run_reads_every_folder_and_writes_nothing(
    serve: RelayServe, dovecot: Dovecot
) -> None:
    before = listed(serve)
    done = relay_import(
        serve,
        dovecot,
        dovecot.url(),
        "--folder",
        "INBOX",
        "--folder",
        "Sent",
        "--dry-run",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert (report["dry_run"], report["read"]) == (True, 5)
    assert listed(serve) == before


def test_each_folder_is_imported_and_resumed_on_its_own(
    serve: RelayServe, org: RunningOrg, dovecot: Dovecot
) -> None:
    url = dovecot.url("Archive")
    done = relay_import(serve, dovecot, url, "--folder", "INBOX", "--folder", "Sent", "--json")
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout.splitlines()[-1])
    inbox, sent = dovecot.url("INBOX"), dovecot.url("Sent")
    assert (last["state"], last["read"], last["logged"], last["pending"]) == ("done", 5, 5, 0)
    assert last["sources"] == [inbox, sent]
    rows = listed(serve)
    assert (rows[inbox]["state"], rows[inbox]["logged"]) == ("done", 3)
    assert (rows[sent]["state"], rows[sent]["logged"]) == ("done", 2)
    assert url not in rows  # --folder replaces the URL's folder
    assert subjects(org, "INBOX") == {f"Imported folder-INBOX {i}" for i in range(3)}
    assert subjects(org, "Archive") == set()

    # New mail in Sent only: the same command reads just that one, from Sent's cursor.
    later = message(2, sender=REP, to=CUSTOMER, tag="folder-Sent")
    dovecot.append("Sent", later.replace(b"\n", b"\r\n"), RECEIVED)
    done = relay_import(serve, dovecot, url, "--folder", "INBOX", "--folder", "Sent", "--json")
    assert done.returncode == 0, done.stderr
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    finals = [o for o in objects if "import" in o]
    assert [(o["read"], o["queued"]) for o in finals] == [(3, 3), (3, 3)]
    assert "resuming import" in done.stderr
    rows = listed(serve)
    assert Cursor.decode(_cursor(serve, rows[sent]["id"])).folder == "Sent"
    assert Cursor.decode(_cursor(serve, rows[inbox]["id"])).folder == "INBOX"
    assert subjects(org, "Sent") == {f"Imported folder-Sent {i}" for i in range(3)}
    assert subjects(org, "INBOX") == {f"Imported folder-INBOX {i}" for i in range(3)}

    # Without --folder, the URL's folder is the one imported.
    done = relay_import(serve, dovecot, url, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["logged"] == 1
    assert subjects(org, "Archive") == {"Imported folder-Archive 0"}


def _cursor(serve: RelayServe, import_id: str) -> str:
    from relay.store import open_store

    store = open_store(serve.store_url)
    try:
        record = store.get_import(import_id)
        assert record is not None
        assert record.cursor is not None
        return record.cursor
    finally:
        store.close()


def test_a_missing_folder_is_one_line_and_nothing_is_imported(
    serve: RelayServe, dovecot: Dovecot
) -> None:
    before = listed(serve)
    done = relay_import(serve, dovecot, dovecot.url(), "--folder", "Archive", "--folder", "Nope")
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith(
        f"relay: folder 'Nope' does not exist on localhost:{dovecot.starttls_port}"
    )
    assert listed(serve) == before  # checked before any folder was imported


def test_folder_is_refused_for_a_file_source(serve: RelayServe, tmp_path: Path) -> None:
    path = write_mbox(tmp_path / "mail.mbox", [message(0, sender=REP, to=CUSTOMER)])
    done = serve.cli("import", str(path), "--user", REP, "--folder", "INBOX")
    assert done.returncode == 2
    assert "--folder is for IMAP sources" in done.stderr
    assert str(path.resolve()) not in listed(serve)
