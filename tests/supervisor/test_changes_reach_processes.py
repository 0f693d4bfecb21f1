"""A change made with the CLI reaches every process of `relay serve` at once
(docs/design.md §2): the store's change version wakes each process's rep watcher, each
delivery batch checks it first, and the edge confirms a 550 against the store before
sending it. So an alias added, or a rep's logging setting changed, applies to the very
next email, whichever process handles it; before, the edge refused an alias for up to a
directory refresh.

Real `relay serve --workers 2` (edge, two workers), the CLI as a subprocess on the same
home, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest

from relay.store import State, open_store
from tests.supervisor.queue_reads import WAIT_SECONDS, email
from tests.support.localorg import RunningOrg
from tests.support.pipeline import REP, wait_for
from tests.support.serve import DOMAIN, LOG, RelayServe

ALIAS = "alice.home@mail.example"
FORGED_TOKEN = f"log+aaaaaaaaaaaa@{DOMAIN}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """RELAY_STORE_URL of the backend: none for SQLite (the file in RELAY_HOME)."""
    if request.param == "sqlite":
        return {}
    return {"RELAY_STORE_URL": request.getfixturevalue("postgres_schema_url")}


@pytest.fixture
def relay(
    supervised: Callable[..., RelayServe], org: RunningOrg, store_env: dict[str, str]
) -> RelayServe:
    """`relay serve --workers 2` with the trial trust (loopback trusted, sender auth
    ``trusted_only``), once its edge knows the reps."""
    serve = supervised("--workers", "2", **org.env(), **store_env)
    roles = sorted(str(role) for role in serve.children().values() if role != "local-org")
    assert roles == ["edge", "worker", "worker"]
    wait_for(
        lambda: len(serve.events("reps_synced")) >= 2,
        timeout=WAIT_SECONDS,
        what="both workers synced reps",
    )
    wait_for(lambda: _edge_knows_reps(serve), timeout=WAIT_SECONDS, what="the edge's reps")
    return serve


def _edge_knows_reps(serve: RelayServe) -> bool:
    """The edge has read the synced reps: a personal address that is nobody's is refused
    at RCPT (before the first sync it cannot tell, and defers). Nothing is queued."""
    with smtplib.SMTP("127.0.0.1", serve.smtp_port, timeout=WAIT_SECONDS) as smtp:
        smtp.ehlo("client.test.example")
        smtp.mail(REP)
        code, _ = smtp.rcpt(FORGED_TOKEN)
    return code == 550


def _send_when_committed(relay: RelayServe, args: list[str], message: EmailMessage) -> str:
    """Run `relay ARGS` and send ``message`` (DATA on a session opened before) the moment
    the command's change is committed, i.e. the store's ``reps`` version moves: the email
    reaches a worker before a rep watcher polling the version (every 250 ms on SQLite)
    would have re-read the reps, so only the check before each batch can see the change.
    Returns the queue id."""
    store = open_store(relay.store_url)
    try:
        before = store.change_versions().reps
        with smtplib.SMTP("127.0.0.1", relay.smtp_port, timeout=WAIT_SECONDS) as smtp:
            smtp.ehlo("client.test.example")
            smtp.mail(str(message["From"]))
            code, text = smtp.rcpt(LOG)
            assert code == 250, text
            command = subprocess.Popen(
                [sys.executable, "-m", "relay", *args],
                env=relay.full_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                deadline = time.monotonic() + WAIT_SECONDS
                while store.change_versions().reps == before:
                    assert command.poll() is None, command.communicate()
                    assert time.monotonic() < deadline, f"relay {args} changed nothing"
                    time.sleep(0.002)
                code, text = smtp.data(message.as_bytes())
            finally:
                _, errors = command.communicate(timeout=60)
        assert command.returncode == 0, errors
    finally:
        store.close()
    assert code == 250, text
    return text.decode().rsplit(" ", 1)[1]


def _shown(serve: RelayServe, queue_id: str) -> dict[str, Any]:
    done = serve.cli("queue", "show", queue_id, "--json")
    assert done.returncode == 0, done.stderr
    shown: dict[str, Any] = json.loads(done.stdout)
    return shown


def _final(serve: RelayServe, queue_id: str) -> dict[str, Any]:
    """`relay queue show --json` once the message is logged, rejected or unresolved."""
    final = {State.LOGGED.value, State.REJECTED.value, State.UNRESOLVED.value}
    shown: dict[str, Any] = wait_for(
        lambda: (found := _shown(serve, queue_id))["state"] in final and found,
        timeout=WAIT_SECONDS,
        what=f"{queue_id} final",
    )
    return shown


def test_an_alias_added_with_the_cli_is_accepted_by_the_next_email(
    relay: RelayServe, org: RunningOrg
) -> None:
    """`relay senders add ALIAS --user REP`, then at once an email from ALIAS: 250, and
    it is logged as REP's (a Task REP owns)."""
    with pytest.raises(smtplib.SMTPResponseException) as refused:
        relay.send_queued(email("From the alias, unknown", sender=ALIAS))
    assert refused.value.smtp_code == 550, refused.value.smtp_error

    added = relay.cli("senders", "add", ALIAS, "--user", REP)
    assert added.returncode == 0, added.stderr
    queue_id = relay.send_queued(email("From the alias, added", sender=ALIAS))

    shown = _final(relay, queue_id)
    assert shown["state"] == State.LOGGED.value, shown
    (task,) = org.tasks("Subject = 'Email: From the alias, added'")
    assert task["OwnerId"] == org.sample.users[REP]


def test_a_logging_setting_changed_with_the_cli_applies_to_the_next_email(
    relay: RelayServe, org: RunningOrg
) -> None:
    """`relay settings set --user REP logging off`, and an email from REP the moment it is
    committed: rejected ("logging is off for ..."); `logging api` again, and the next one
    is logged. Twice over, so each worker may be the one that takes the email."""
    setting = ["settings", "set", "--user", REP, "logging"]
    for round_ in range(2):
        off_id = _send_when_committed(relay, [*setting, "off"], email(f"Logging off {round_}"))
        off = _final(relay, off_id)
        assert off["state"] == State.REJECTED.value, off
        assert str(off["reason"]).startswith("logging is off for "), off

        on_id = _send_when_committed(relay, [*setting, "api"], email(f"Logging on {round_}"))
        on = _final(relay, on_id)
        assert on["state"] == State.LOGGED.value, on

    subjects = org.task_subjects()
    assert sorted(s for s in subjects if s.startswith("Logging on")) == [
        "Logging on 0",
        "Logging on 1",
    ]
    assert [s for s in subjects if s.startswith("Logging off")] == []
