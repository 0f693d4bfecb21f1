"""End to end: a reminder address over real SMTP -> `relay serve` -> the local org, and
the reminder read back with `relay tasks list --json` (docs/design.md §9)."""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from relay.reps.directory import load_address_secret, personal_address
from relay.reps.reminders import add_business_days, local_date
from tests.support.localorg import RunningOrg
from tests.support.pipeline import REP, email, wait_for
from tests.support.serve import DOMAIN, RelayServe

REP_ZONE = "America/New_York"
"""The sample org's reps' User.TimeZoneSidKey (relay/localorg/seed.py)."""


def _reminders(serve: RelayServe, *args: str) -> list[dict[str, Any]]:
    result = serve.cli("tasks", "list", "--json", *args)
    assert result.returncode == 0, result.stderr
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


def _subject(org: RunningOrg, subject: str, count: int = 1) -> list[dict[str, Any]]:
    where = f"Subject = 'Email: {subject}'"
    wait_for(lambda: len(org.tasks(where)) >= count, what=f"{count} task(s) for {subject}")
    return org.tasks(where)


def _reminder_for(serve: RelayServe, subject: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        wanted = f"Follow up: {subject}"
        return next((r for r in _reminders(serve, "--all") if r["subject"] == wanted), None)

    found: dict[str, Any] = wait_for(find, what=f"the reminder for {subject}")
    return found


def _rep_today() -> set[date]:
    """The rep's today (both sides of a midnight that may pass during the test)."""
    now = datetime.now(UTC)
    return {local_date(now, REP_ZONE), local_date(now + timedelta(seconds=30), REP_ZONE)}


def test_remind_tomorrow_is_logged_and_listed_on_the_same_records(
    org: RunningOrg, serve: RelayServe
) -> None:
    hank = org.seeded.sample.contacts["hank@globex.example"]
    message = email(["hank@globex.example"], "Reminder rollout", body="Line one\nLine two\n")
    serve.send(message, rcpt=(f"log+remind-tomorrow@{DOMAIN}",))
    tasks = _subject(org, "Reminder rollout", 2)
    reminder = _reminder_for(serve, "Reminder rollout")
    assert reminder["owner"] == REP
    assert date.fromisoformat(reminder["due"]) in {d + timedelta(days=1) for d in _rep_today()}
    logged_on = {t["WhoId"] for t in tasks} | {t["WhatId"] for t in tasks}
    assert set(reminder["records"]) == logged_on - {None}
    assert reminder["who_id"] == hank
    assert reminder["what_id"] in set(org.seeded.hank_open_opportunities)
    assert reminder["status"] == "open"
    assert reminder["priority"] == "normal"
    assert reminder["source"] == "email"
    assert reminder["sf_task_id"] is None
    assert "hank@globex.example" in reminder["details"]
    assert "Line one" in reminder["details"]
    # Due tomorrow: the default list (today and tomorrow) shows it.
    assert reminder["id"] in {r["id"] for r in _reminders(serve)}
    # The Task itself never names the reminder address.
    assert all("remind" not in str(t["Subject"]) for t in tasks)


def test_one_reminder_per_email_however_often_it_comes(org: RunningOrg, serve: RelayServe) -> None:
    message = email(["hank@globex.example"], "Reminder twice")
    serve.send(message, rcpt=(f"log+remind-2bd@{DOMAIN}",))
    _subject(org, "Reminder twice", 2)
    first = _reminder_for(serve, "Reminder twice")
    serve.send(message, rcpt=(f"log+remind-2bd@{DOMAIN}",))
    wait_for(
        lambda: (
            sum(1 for item in _queue(serve) if item["subject"] == "Reminder twice") == 2
            and all(
                item["state"] == "logged"
                for item in _queue(serve)
                if item["subject"] == "Reminder twice"
            )
        ),
        what="the second copy logged",
    )
    same = [r for r in _reminders(serve, "--all") if r["subject"] == "Follow up: Reminder twice"]
    assert [r["id"] for r in same] == [first["id"]]
    assert date.fromisoformat(first["due"]) in {add_business_days(d, 2) for d in _rep_today()}


def _queue(serve: RelayServe) -> list[dict[str, Any]]:
    result = serve.cli("queue", "list", "--state", "all", "--json")
    assert result.returncode == 0, result.stderr
    listed: list[dict[str, Any]] = json.loads(result.stdout)
    return listed


def test_an_email_that_matched_nothing_gets_its_reminder_without_records(
    org: RunningOrg, serve: RelayServe
) -> None:
    serve.send(email(["stranger@nowhere.example"], "Reminder stranger"), rcpt=(
        f"log+remind@{DOMAIN}",))  # fmt: skip
    _subject(org, "Reminder stranger")
    reminder = _reminder_for(serve, "Reminder stranger")
    assert reminder["records"] == []
    assert reminder["who_id"] is None
    assert date.fromisoformat(reminder["due"]) in {add_business_days(d, 3) for d in _rep_today()}


def test_the_personal_token_with_a_reminder(org: RunningOrg, serve: RelayServe) -> None:
    alice = org.seeded.sample.users[REP]
    personal = personal_address(alice, load_address_secret(serve.home), DOMAIN)
    remind = personal.replace("@", "+remind-1w@")
    serve.send(email(["hank@globex.example"], "Reminder personal"), rcpt=(remind,))
    _subject(org, "Reminder personal", 2)
    reminder = _reminder_for(serve, "Reminder personal")
    assert reminder["owner"] == REP
    assert date.fromisoformat(reminder["due"]) in {d + timedelta(weeks=1) for d in _rep_today()}


@pytest.mark.parametrize(
    ("rcpt", "says"),
    [
        (f"log+remind-3x@{DOMAIN}", "remind-3x: not a reminder SPEC"),
        (f"log+remind-2020-01-01@{DOMAIN}", "that date is past"),
    ],
)
def test_a_bad_spec_is_refused_at_rcpt_with_the_grammar(
    serve: RelayServe, rcpt: str, says: str
) -> None:
    with smtplib.SMTP("127.0.0.1", serve.smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail(REP)
        code, reply = smtp.rcpt(rcpt)
    text = reply.decode()
    assert code == 550
    assert text.startswith("5.1.3 ")
    assert says in text
    assert "log+remind[-SPEC]@" in text
    assert "Nbd" in text


def test_a_forged_token_with_a_reminder_is_still_refused(serve: RelayServe) -> None:
    wait_for(lambda: serve.cli("senders", "list", "--reps", "--json").returncode == 0)
    with smtplib.SMTP("127.0.0.1", serve.smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail(REP)
        code, reply = smtp.rcpt(f"log+aaaaaaaaaaaa+remind-3d@{DOMAIN}")
    assert code == 550, reply
    assert b"5.7.1" in reply
    assert b"is not anyone's personal Relay address" in reply


def test_mail_relay_cannot_attribute_gets_no_reminder(serve: RelayServe) -> None:
    """A sender who is no rep: refused at DATA once the reps are synced (§4), or held
    (unknown_sender) while they are not; never reminded either way."""
    message = email(["hank@globex.example"], "Reminder stranger sender", sender="eve@evil.example")
    refused = 0
    try:
        serve.send(message, rcpt=(f"log+remind-tomorrow@{DOMAIN}",))
    except smtplib.SMTPDataError as error:
        refused = error.smtp_code
    assert refused in {0, 550}
    if not refused:
        wait_for(
            lambda: any(
                item["subject"] == "Reminder stranger sender" and item["state"] == "held"
                for item in _queue(serve)
            ),
            what="the message held",
        )
    assert all("Reminder stranger sender" not in r["subject"] for r in _reminders(serve, "--all"))
