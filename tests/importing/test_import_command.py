"""`relay import` end to end: a real `relay serve` delivering to the local org over
HTTPS, the import as a real process (killed with real signals), and live mail over real
SMTP. Each Task is checked in the org by its relay key: never two for one email."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from relay.store import open_store
from relay.store.imports import GONE
from tests.importing.mail_files import message, write_maildir, write_mbox, zip_tree
from tests.support.localorg import RunningOrg
from tests.support.pipeline import REP, email, wait_for
from tests.support.serve import RelayServe

CUSTOMER = "hank@globex.example"
FINAL_KEYS = {"read", "logged", "duplicate", "unresolved", "skipped", "failed"}


def mailbox_of(tmp_path: Path, tag: str, n: int, name: str = "mail.mbox") -> Path:
    raws = [message(i, sender=REP, to=CUSTOMER, tag=tag) for i in range(n)]
    return write_mbox(tmp_path / name, raws)


def lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def run_import(serve: RelayServe, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    done = serve.cli("import", *args, "--user", REP, "--json")
    return done.returncode, lines(done.stdout), done.stderr


def tasks_of(org: RunningOrg, tag: str) -> list[dict[str, Any]]:
    return org.tasks(f"Subject LIKE '%Imported {tag} %'")


def assert_one_task_per_email(org: RunningOrg, tag: str, n: int) -> None:
    found = tasks_of(org, tag)
    keys = Counter(task["Relay_Key__c"] for task in found)
    assert [key for key, count in keys.items() if count > 1] == []
    subjects = Counter(str(task["Subject"]).removeprefix("Email: ") for task in found)
    assert sorted(subjects) == sorted(f"Imported {tag} {i}" for i in range(n))


def popen_import(serve: RelayServe, path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "relay", "import", str(path), "--user", REP, "--json", *args],
        env=serve.full_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_until(process: subprocess.Popen[str], enough: int) -> dict[str, Any]:
    """The import's JSON lines until ``read`` reaches ``enough``."""
    assert process.stdout is not None
    for line in process.stdout:
        document = json.loads(line)
        if document["read"] >= enough:
            return document
    raise AssertionError(f"the import ended first: {process.stderr and process.stderr.read()}")


def test_an_mbox_is_logged_once_per_email_and_a_rerun_logs_nothing_more(
    serve: RelayServe, org: RunningOrg, tmp_path: Path
) -> None:
    path = mailbox_of(tmp_path, "once", 30)
    status, output, stderr = run_import(serve, str(path))
    assert status == 0, stderr
    final = output[-1]
    assert final.keys() >= FINAL_KEYS
    assert (final["state"], final["read"], final["logged"], final["pending"]) == ("done", 30, 30, 0)
    assert_one_task_per_email(org, "once", 30)
    # The same command again: nothing after the cursor; nothing new in the org.
    status, output, _ = run_import(serve, str(path))
    assert status == 0
    assert (output[-1]["read"], output[-1]["logged"], output[-1]["state"]) == (30, 30, "done")
    assert_one_task_per_email(org, "once", 30)
    listed = [
        json.loads(line) for line in serve.cli("import", "list", "--json").stdout.splitlines()
    ]
    (mine,) = [item for item in listed if item["source"] == str(path.resolve())]
    assert (mine["state"], mine["logged"], mine["user"]) == ("done", 30, REP)


def test_sigkill_then_the_same_command_resumes_with_no_duplicates(
    serve: RelayServe, org: RunningOrg, tmp_path: Path
) -> None:
    n = 400
    path = mailbox_of(tmp_path, "killed", n)
    with popen_import(serve, path, "--window", "40") as process:
        try:
            seen = read_until(process, 60)
        finally:
            process.kill()
            process.communicate(timeout=30)
    assert seen["read"] < n
    store = open_store(serve.store_url)
    try:
        (record,) = [r for r in store.list_imports() if r.source == str(path.resolve())]
        assert record.state == "running"  # killed: nobody recorded an end
        assert record.cursor is not None
        read_before = record.counts["read"]
    finally:
        store.close()
    # ...but every reader tells the truth: its process is gone.
    listed = serve.cli("import", "list", "--json")
    (mine,) = [item for item in lines(listed.stdout) if item["source"] == str(path.resolve())]
    assert (mine["state"], mine["read"]) == ("stopped", read_before)
    assert "run the same command again" in mine["note"]
    status, output, stderr = run_import(serve, str(path))
    assert status == 0, stderr
    assert "resuming import" in stderr
    final = output[-1]
    assert (final["state"], final["read"], final["pending"]) == ("done", n, 0)
    assert final["logged"] == n  # each message was queued exactly once
    assert read_before > 0
    assert_one_task_per_email(org, "killed", n)


def test_ctrl_c_stops_cleanly_and_the_same_command_goes_on(
    serve: RelayServe, org: RunningOrg, tmp_path: Path
) -> None:
    n = 400
    path = mailbox_of(tmp_path, "interrupted", n)
    with popen_import(serve, path, "--window", "40") as process:
        try:
            read_until(process, 60)
            # The same import again while this one runs is refused, in one line.
            second = serve.cli("import", str(path), "--user", REP)
            assert second.returncode == 1
            assert "this import is already running" in second.stderr
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
    assert process.returncode == 130, stderr
    stopped = lines(stdout)[-1]
    assert stopped["state"] == "stopped"
    assert stopped["read"] < n
    assert "run the same command again" in stderr
    status, output, stderr = run_import(serve, str(path))
    assert status == 0, stderr
    assert (output[-1]["state"], output[-1]["read"], output[-1]["logged"]) == ("done", n, n)
    assert_one_task_per_email(org, "interrupted", n)


def test_dry_run_writes_nothing(serve: RelayServe, org: RunningOrg, tmp_path: Path) -> None:
    path = mailbox_of(tmp_path, "dry", 12)
    store = open_store(serve.store_url)
    try:
        before = (store.counts(), len(store.list_imports()))
    finally:
        store.close()
    tasks_before = len(org.tasks())
    done = serve.cli("import", str(path), "--user", REP, "--dry-run", "--json")
    assert done.returncode == 0, done.stderr
    report = lines(done.stdout)[-1]
    assert report["dry_run"] is True
    assert report["outcomes"] == {"logged": 12}
    assert report["estimated_api_calls"] >= 1
    # The share of the org's daily allocation (its /limits), the estimate over its Max.
    assert report["daily_api_max"] > report["daily_api_remaining"] > 0
    assert report["allocation_share"] == pytest.approx(
        report["estimated_api_calls"] / report["daily_api_max"], abs=1e-6
    )
    assert sum(report["top_accounts"].values()) >= 12
    store = open_store(serve.store_url)
    try:
        assert (store.counts(), len(store.list_imports())) == before
    finally:
        store.close()
    assert len(org.tasks()) == tasks_before
    human = serve.cli("import", str(path), "--user", REP, "--dry-run")
    assert "nothing written" in human.stdout
    assert "estimated API calls" in human.stdout
    assert "of the org's daily allocation of" in human.stdout


def test_email_logged_live_over_smtp_is_a_duplicate_when_imported(
    serve: RelayServe, org: RunningOrg, tmp_path: Path
) -> None:
    live = [
        email([CUSTOMER], f"Imported live {i}", message_id=f"<live-{i}@acme-widgets.example>")
        for i in range(3)
    ]
    for item in live:
        serve.send(item)
    wait_for(lambda: len({t["Subject"] for t in tasks_of(org, "live")}) == 3, 30, "the live Tasks")
    older = [message(i, sender=REP, to=CUSTOMER, tag="live") for i in range(3, 5)]
    path = write_mbox(tmp_path / "sent.mbox", [item.as_bytes() for item in live] + older)
    status, output, stderr = run_import(serve, str(path))
    assert status == 0, stderr
    final = output[-1]
    assert (final["duplicate"], final["logged"], final["read"]) == (3, 2, 5)
    assert_one_task_per_email(org, "live", 5)


def test_bad_inputs_get_one_readable_line(serve: RelayServe, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not mail\n")
    done = serve.cli("import", str(notes), "--user", REP)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(f"relay: {notes}: not a mailbox")
    path = mailbox_of(tmp_path, "who", 1)
    done = serve.cli("import", str(path), "--user", "nobody@elsewhere.example")
    assert done.returncode == 1
    assert "nobody@elsewhere.example is not a rep Relay knows" in done.stderr


def test_a_message_over_the_store_limit_is_reported_and_skipped(
    serve: RelayServe, org: RunningOrg, tmp_path: Path
) -> None:
    big = message(1, sender=REP, to=CUSTOMER, tag="big", body="x" * 80 + "\n" * 4000)
    small = [message(i, sender=REP, to=CUSTOMER, tag="big") for i in (0, 2)]
    path = write_mbox(tmp_path / "big.mbox", [small[0], big, small[1]])
    done = subprocess.run(
        [sys.executable, "-m", "relay", "import", str(path), "--user", REP, "--json"],
        env=serve.full_env() | {"RELAY_SMTP_MAX_MESSAGE_BYTES": "3000"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    final = lines(done.stdout)[-1]
    assert (final["read"], final["logged"], final["skipped"]) == (3, 2, 1)
    (line,) = [x for x in done.stderr.splitlines() if "over the store's limit" in x]
    assert line.startswith(f"relay import: skipped {path.resolve()} at byte ")
    assert "3000" in line
    subjects = {str(t["Subject"]).removeprefix("Email: ") for t in tasks_of(org, "big")}
    assert subjects == {"Imported big 0", "Imported big 2"}


def test_since_and_until_keep_the_days_between(
    serve: RelayServe, org: RunningOrg, tmp_path: Path
) -> None:
    # message(i) is dated 2026-09-01 12:00 UTC plus i hours: days 1, 2 and 3 of September.
    path = mailbox_of(tmp_path, "dated", 60)
    status, output, stderr = run_import(
        serve, str(path), "--since", "2026-09-02", "--until", "2026-09-02"
    )
    assert status == 0, stderr
    final = output[-1]
    assert (final["read"], final["filtered"], final["logged"]) == (60, 36, 24)
    subjects = {str(t["Subject"]).removeprefix("Email: ") for t in tasks_of(org, "dated")}
    assert subjects == {f"Imported dated {i}" for i in range(12, 36)}


def test_live_mail_is_claimed_before_imported_mail_already_waiting(
    serve: RelayServe, org: RunningOrg, tmp_path: Path
) -> None:
    """Ordering, not timing (bench/import.py measures the latency): a live email sent
    while hundreds of imported ones wait is claimed before the rest of them."""
    n = 600
    path = mailbox_of(tmp_path, "lane", n)
    # Each org call takes 0.5 s here, so the lane's six slices of 100 take seconds
    # whatever the machine's load: the imported mail is still waiting when the live
    # email arrives (at 20 ms a loaded machine could deliver most of it first).
    org.set_latency(500)
    with popen_import(serve, path, "--window", str(n)) as process:
        try:
            read_until(process, n)  # all of them queued, most not yet delivered
            live = email([CUSTOMER], "Imported lane live", message_id="<lane-live@x.example>")
            live_id = serve.send_queued(live)
            stdout, stderr = process.communicate(timeout=300)
        finally:
            process.kill()
            org.set_latency(20)
    assert process.returncode == 0, stderr
    assert lines(stdout)[-1]["logged"] == n
    store = open_store(serve.store_url)
    try:

        def claimed_at(queue_id: str) -> Any:
            return next(
                t.at for t in store.transitions(queue_id) if t.to_state.value == "processing"
            )

        (record,) = [r for r in store.list_imports() if r.source == str(path.resolve())]
        imported = [m.id for m in store.list() if m.import_id == record.id]
        assert len(imported) == n
        live_claimed = claimed_at(live_id)
        after = [queue_id for queue_id in imported if claimed_at(queue_id) > live_claimed]
    finally:
        store.close()
    # Queued last, claimed before a good part of the import that was already waiting.
    assert len(after) >= n // 4


def test_only_matched_is_the_default_and_can_be_turned_off(
    serve: RelayServe, org: RunningOrg, tmp_path: Path
) -> None:
    stranger = "someone@unknown-company.example"
    raws = [message(i, sender=REP, to=stranger, tag="nomatch") for i in range(2)]
    default = write_mbox(tmp_path / "default.mbox", raws)
    status, output, stderr = run_import(serve, str(default))
    assert status == 0, stderr
    assert (output[-1]["skipped"], output[-1]["unresolved"], output[-1]["logged"]) == (2, 0, 0)
    assert tasks_of(org, "nomatch") == []
    others = [message(i, sender=REP, to=stranger, tag="nomatch") for i in range(2, 4)]
    kept = write_mbox(tmp_path / "kept.mbox", others)
    status, output, stderr = run_import(serve, str(kept), "--not-only-matched")
    assert status == 0, stderr
    assert (output[-1]["skipped"], output[-1]["unresolved"]) == (0, 2)
    listed = serve.cli("unresolved", "list", "--json")
    subjects = {item["subject"] for item in json.loads(listed.stdout)}
    assert {"Imported nomatch 2", "Imported nomatch 3"} <= subjects
    assert not {"Imported nomatch 0", "Imported nomatch 1"} & subjects


def test_a_zip_of_a_maildir_is_imported_and_listed(
    serve: RelayServe, org: RunningOrg, tmp_path: Path
) -> None:
    root = tmp_path / "tree" / "export"
    root.mkdir(parents=True)
    raws = [message(i, sender=REP, to=CUSTOMER, tag="zipped") for i in range(5)]
    write_maildir(root / "Maildir", raws[:3], subfolder=raws[3:])
    path = zip_tree(tmp_path / "export.zip", root)
    status, output, stderr = run_import(serve, str(path))
    assert status == 0, stderr
    assert (output[-1]["read"], output[-1]["logged"], output[-1]["state"]) == (5, 5, "done")
    assert_one_task_per_email(org, "zipped", 5)
    status, output, _ = run_import(serve, str(path))  # resumes after the last member
    assert (status, output[-1]["read"], output[-1]["logged"]) == (0, 5, 5)
    table = subprocess.run(
        [sys.executable, "-m", "relay", "import", "list"],
        env=serve.full_env() | {"COLUMNS": "300"},  # rich folds long cells at 80
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert table.returncode == 0
    (row,) = [line for line in table.stdout.splitlines() if "export.zip" in line]
    assert "done" in row


def test_usage_errors_and_an_unreachable_imap_server(serve: RelayServe, tmp_path: Path) -> None:
    path = mailbox_of(tmp_path, "usage", 1)
    done = serve.cli(
        "import", str(path), "--user", REP, "--since", "2026-10-01", "--until", "2026-09-01"
    )
    assert done.returncode == 2
    assert "--since is after --until" in done.stderr
    done = serve.cli("import", str(path), "--user", REP, "--since", "last week")
    assert done.returncode == 2
    assert "not a date (YYYY-MM-DD)" in done.stderr
    # An IMAP URL, plain (STARTTLS) or implicit TLS, goes to the IMAP source: nothing
    # listens on port 1, which is one line, not a file named "imaps://...".
    for scheme in ("imap", "imaps"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "relay",
                "import",
                f"{scheme}://alice@127.0.0.1:1/INBOX",
                "--user",
                REP,
            ],
            env=serve.full_env() | {"RELAY_IMAP_PASSWORD": "x"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1
        assert done.stderr.startswith("relay: cannot connect to IMAP server 127.0.0.1:1:")
        assert len(done.stderr.strip().splitlines()) == 1


def test_a_store_that_fails_mid_import_is_one_line(serve: RelayServe, tmp_path: Path) -> None:
    """The store stops taking writes while the import runs (an admin's session holds
    SQLite's write lock past the busy timeout): one line, exit 1, and the same command
    later goes on with nothing lost or doubled."""
    n = 400
    path = mailbox_of(tmp_path, "locked", n)
    database = serve.home / "relay.db"
    command = [sys.executable, "-m", "relay", "import", str(path), "--user", REP, "--json"]
    env = serve.full_env() | {"RELAY_STORE_URL": f"sqlite:///{database}?timeout=0.5"}
    admin = sqlite3.connect(database, isolation_level=None)
    try:
        with subprocess.Popen(
            [*command, "--window", "40"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            try:
                read_until(process, 60)
                admin.execute("BEGIN EXCLUSIVE")
                _, stderr = process.communicate(timeout=60)
            finally:
                process.kill()
        admin.execute("ROLLBACK")
    finally:
        admin.close()
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("relay: ")
    assert "locked" in last
    assert last.endswith("run the same command again to go on")
    status, output, stderr = run_import(serve, str(path))
    assert status == 0, stderr
    assert (output[-1]["read"], output[-1]["logged"]) == (n, n)


def test_a_running_import_keeps_its_heartbeat_and_shows_stopped_once_killed(
    serve: RelayServe, tmp_path: Path
) -> None:
    """On a copy of the store that no `relay serve` delivers from, the import queues its
    mail and waits: its heartbeat must keep advancing (another host tells it is alive by
    that alone), and once it is SIGKILLed, `relay import list` says it stopped."""
    live = open_store(serve.store_url)
    try:  # the copy must know the rep: after `relay serve`'s first rep sync
        wait_for(lambda: live.reps_synced_at() is not None, what="the first rep sync")
    finally:
        live.close()
    copy = tmp_path / "copy.db"
    source = sqlite3.connect(serve.store_url.removeprefix("sqlite:///"))
    try:
        with sqlite3.connect(copy) as target:
            source.backup(target)
    finally:
        source.close()
    env = serve.full_env() | {"RELAY_STORE_URL": f"sqlite:///{copy.as_posix()}"}
    path = mailbox_of(tmp_path, "heartbeat", 20)

    def listed() -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "relay", "import", "list", "--json"],
            env=env, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        (mine,) = [item for item in lines(done.stdout) if item["source"] == str(path.resolve())]
        return mine

    def heartbeat() -> str | None:
        with sqlite3.connect(copy) as db:
            row = db.execute(
                "SELECT heartbeat_at FROM imports WHERE source = ?", (str(path.resolve()),)
            ).fetchone()
        return None if row is None else str(row[0])

    command = [sys.executable, "-m", "relay", "import", str(path), "--user", REP, "--json"]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as process:
        try:
            wait_for(lambda: heartbeat() is not None, what="the import started")
            first = heartbeat()
            wait_for(lambda: heartbeat() != first, timeout=15, what="a later heartbeat")
            assert listed()["state"] == "running"
            assert listed()["pending"] == 20  # queued, waiting for a delivery
        finally:
            process.kill()
            process.communicate(timeout=30)
    gone = listed()
    assert (gone["state"], gone["note"]) == ("stopped", GONE)
