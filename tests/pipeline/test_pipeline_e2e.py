"""End to end: SMTP -> store -> runners -> the local org over HTTPS, read back as a client."""

from __future__ import annotations

import json
import smtplib
from email.message import EmailMessage

import pytest
import requests

from tests.support.localorg import RunningOrg
from tests.support.pipeline import BIG_CUSTOMERS, REP, email, wait_for
from tests.support.serve import INBOUND_LOG, LOG, RelayServe


def _subject(org: RunningOrg, subject: str, count: int = 1) -> list[dict[str, object]]:
    where = f"Subject = 'Email: {subject}'"
    wait_for(lambda: len(org.tasks(where)) >= count, what=f"{count} task(s) for {subject}")
    return org.tasks(where)


def _queue(serve: RelayServe) -> list[dict[str, object]]:
    result = serve.cli("queue", "list", "--state", "all", "--json")
    assert result.returncode == 0, result.stderr
    listed: list[dict[str, object]] = json.loads(result.stdout)
    return listed


def _state_of(serve: RelayServe, message_id: str) -> object:
    for item in _queue(serve):
        if item["message_id"] == message_id:
            return item["state"]
    return None


def test_contact_with_two_open_opportunities_and_a_closed_one(
    org: RunningOrg, serve: RelayServe
) -> None:
    """An email to Hank is logged on Hank and his two open opportunities, not the closed one."""
    seeded = org.seeded
    hank = seeded.sample.contacts["hank@globex.example"]
    serve.send(email(["hank@globex.example"], "Rollout plan"))
    tasks = _subject(org, "Rollout plan", 2)
    assert sorted(t["WhatId"] for t in tasks) == sorted(seeded.hank_open_opportunities)
    assert [t["WhoId"] for t in tasks].count(hank) == 1
    assert all(t["OwnerId"] == seeded.sample.users[REP] for t in tasks)


def test_lead_and_converted_lead(org: RunningOrg, serve: RelayServe) -> None:
    """A lead gets its own Task; a converted lead's email lands on its contact instead."""
    sample = org.seeded.sample
    serve.send(email(["jane@newco.example"], "Lead intro"))
    (task,) = _subject(org, "Lead intro")
    assert task["WhoId"] == sample.leads["jane@newco.example"]
    serve.send(email(["lee@convertco.example"], "Converted hello"))
    (task,) = _subject(org, "Converted hello")
    converted = org.sf().query(
        f"SELECT ConvertedContactId FROM Lead WHERE Id = '{sample.leads['lee@convertco.example']}'"
    )["records"][0]["ConvertedContactId"]
    assert task["WhoId"] == converted


def test_unmatched_email_is_unresolved_then_assigned(org: RunningOrg, serve: RelayServe) -> None:
    """No match: an open Task with no Who/What and an unresolved item; assign moves it."""
    message = email(["stranger@nowhere.example"], "Who is this")
    serve.send(message)
    (task,) = _subject(org, "Who is this")
    assert task["WhoId"] is None
    assert task["WhatId"] is None
    assert task["Status"] == "Not Started"
    listed = wait_for(
        lambda: json.loads(serve.cli("unresolved", "list", "--json").stdout), what="item"
    )
    item = next(i for i in listed if i["task_id"] == task["Id"])
    assert item["subject"] == "Who is this"
    assert item["state"] == "open"
    peter = org.seeded.sample.contacts["peter@initech.example"]
    assigned = serve.cli("unresolved", "assign", item["id"], peter)
    assert assigned.returncode == 0, assigned.stderr
    (moved,) = org.tasks(f"Id = '{task['Id']}'")
    assert moved["WhoId"] == peter
    again = serve.cli("unresolved", "assign", item["id"], peter)
    assert again.returncode == 1
    assert "already assigned" in again.stderr
    # A reply in the thread follows the assignment.
    serve.send(email(["stranger@nowhere.example"], "Re Who", in_reply_to=message["Message-ID"]))
    (reply,) = _subject(org, "Re Who")
    assert reply["WhoId"] == peter


def test_unresolved_unknown_ids_exit_1(org: RunningOrg, serve: RelayServe) -> None:
    """Unknown item ids and malformed record ids are refused with exit 1 and a reason."""
    unknown = serve.cli("unresolved", "assign", "01NOPE", "003000000000001AAA")
    assert unknown.returncode == 1
    assert "no unresolved item" in unknown.stderr
    bad = serve.cli("unresolved", "assign", "01NOPE", "not-an-id")
    assert bad.returncode == 1
    assert "not a Salesforce record id" in bad.stderr
    assert serve.cli("unresolved", "discard", "01NOPE").returncode == 1


def test_forward_is_logged_on_the_original_parties(org: RunningOrg, serve: RelayServe) -> None:
    """A forward to the relay is logged on the original sender (the customer)."""
    forward = EmailMessage()
    forward["From"] = REP
    forward["To"] = LOG
    forward["Subject"] = "Fwd: Budget question"
    forward["Message-ID"] = "<fwd-1@acme-widgets.example>"
    forward.set_content(
        "FYI\n\n---------- Forwarded message ---------\n"
        "From: Mindy Simmons <mindy@globex.example>\n"
        "Date: Mon, Jan 6, 2025 at 9:00 AM\n"
        "Subject: Budget question\n"
        f"To: <{REP}>\n\nWhat is the budget?\n"
    )
    serve.send(forward)
    (task,) = _subject(org, "Fwd: Budget question")
    assert task["WhoId"] == org.seeded.sample.contacts["mindy@globex.example"]


def test_duplicates_make_one_task_per_record(org: RunningOrg, serve: RelayServe) -> None:
    """The same Message-ID twice (a client retry) leaves one Task per record."""
    message = email(["peter@initech.example"], "Twice please", message_id="<dup-1@acme.example>")
    serve.send(message)
    serve.send(message)
    wait_for(lambda: _queue_states(serve, "<dup-1@acme.example>") == ["logged", "logged"])
    assert len(org.tasks("Subject = 'Email: Twice please'")) == 1


def _queue_states(serve: RelayServe, message_id: str) -> list[object]:
    return sorted(i["state"] for i in _queue(serve) if i["message_id"] == message_id)


def test_message_to_sixty_customers_logs_the_first_fifty(
    org: RunningOrg, serve: RelayServe
) -> None:
    """E2S processes the first 50 unique To/Cc addresses: 50 contacts, no more."""
    serve.send(email(BIG_CUSTOMERS[:30], "Big announcement", cc=BIG_CUSTOMERS[30:]))
    tasks = _subject(org, "Big announcement")
    ids = {org.seeded.big_contacts[a] for a in BIG_CUSTOMERS[:50]}
    relations = org.sf().query_all(
        "SELECT RelationId FROM TaskRelation WHERE TaskId = '" + str(tasks[0]["Id"]) + "'"
    )["records"]
    assert {r["RelationId"] for r in relations} == ids
    assert len(tasks) == 1


def test_unknown_sender_is_refused_with_guidance(org: RunningOrg, serve: RelayServe) -> None:
    """Mail from an address that is no Salesforce user is refused in the session, saying
    what to do: the trusted server in front vouches only for reps (trusted_only)."""
    wait_for(lambda: serve.events("reps_synced"), what="the first rep sync")
    message = email(["peter@initech.example"], "Not a rep", sender="intruder@else.example")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        serve.send(message)
    assert refused.value.smtp_code == 550
    reply = refused.value.smtp_error.decode()
    assert "<intruder@else.example> is not a Salesforce user known" in reply
    assert "relay senders add intruder@else.example" in reply


def test_an_added_sender_is_released_at_once_not_held_again(
    org: RunningOrg, serve: RelayServe
) -> None:
    """`relay senders add` then `relay queue release`: logged on that release, although
    the runners' rep snapshot is refreshed from the store only every minute."""
    alias = "alice.home@personal.example"
    message = email([alias], "From home", sender="peter@initech.example")
    # A customer's mail to the rep's other mailbox, copied by a named inbound source: no
    # known rep among its recipients yet, so the runner holds it as an unknown sender.
    serve.send(message, rcpt=(INBOUND_LOG,))
    wait_for(lambda: _state_of(serve, message["Message-ID"]) == "held", what="held")
    (item,) = [i for i in _queue(serve) if i["message_id"] == message["Message-ID"]]
    added = serve.cli("senders", "add", alias, "--user", REP)
    assert added.returncode == 0, added.stderr
    assert "within a minute" in added.stdout
    released = serve.cli("queue", "release", str(item["id"]))
    assert released.returncode == 0, released.stderr
    wait_for(lambda: _state_of(serve, message["Message-ID"]) == "logged", what="logged")
    shown = json.loads(serve.cli("queue", "show", str(item["id"]), "--json").stdout)
    states = [t["to"] for t in shown["transitions"]]
    assert states.count("held") == 1, states  # never held again after the release


def test_customers_email_to_a_rep_copied_by_the_mail_server_is_the_reps(
    org: RunningOrg, serve: RelayServe
) -> None:
    """An inbound copy (Postfix recipient_bcc_maps as the named inbound source: localhost
    with the secret address): the customer wrote to the rep, so the Tasks are the rep's
    and on the customer."""
    seeded = org.seeded
    hank = seeded.sample.contacts["hank@globex.example"]
    reply = email([REP], "Re: Rollout plan", sender="hank@globex.example")
    serve.send(reply, rcpt=(INBOUND_LOG,))
    tasks = _subject(org, "Re: Rollout plan", 2)
    assert sorted(t["WhatId"] for t in tasks) == sorted(seeded.hank_open_opportunities)
    assert [t["WhoId"] for t in tasks].count(hank) == 1
    assert all(t["OwnerId"] == seeded.sample.users[REP] for t in tasks)
    wait_for(lambda: _state_of(serve, reply["Message-ID"]) == "logged", what="logged")


def test_bcc_and_journal_copy_make_one_task(org: RunningOrg, serve: RelayServe) -> None:
    """A customer's email to a rep, copied by the mail server (recipient_bcc_maps) and by
    an Exchange journal report, both named inbound sources: one Task, the rep's."""
    original = email(
        [REP], "Journaled", sender="mindy@globex.example", message_id="<jr-1@acme.example>"
    )
    serve.send(original, rcpt=(INBOUND_LOG,))
    report = EmailMessage()
    report["From"] = "journal@acme-widgets.example"
    report["To"] = LOG
    report["Subject"] = "Journaled"
    report["Message-ID"] = "<journal-wrapper-1@acme.example>"
    report["X-MS-Journal-Report"] = ""
    report.set_content(
        "Sender: mindy@globex.example\nSubject: Journaled\nMessage-Id: <jr-1@acme.example>\n"
        f"To: {REP}\n"
    )
    report.add_attachment(original)
    serve.send(report, rcpt=(INBOUND_LOG,))  # journaling is a named inbound source
    wait_for(
        lambda: (
            [i["state"] for i in _queue(serve) if i["subject"] == "Journaled"]
            == ["logged", "logged"]
        ),
        what="both copies logged",
    )
    assert len(org.tasks("Subject = 'Email: Journaled'")) == 1


def test_single_email_on_an_idle_relay_costs_two_api_calls(
    org: RunningOrg, serve: RelayServe
) -> None:
    """Directory lookup + upsert: two calls for one email (org profile is cached)."""

    def api_calls() -> float:
        text = requests.get(f"http://127.0.0.1:{serve.http_port}/metrics", timeout=5).text
        line = next(
            x for x in text.splitlines() if x.startswith("relay_salesforce_api_calls_total")
        )
        return float(line.split()[-1])

    serve.send(email(["mindy@globex.example"], "Counting calls"))
    _subject(org, "Counting calls")
    wait_for(lambda: _queue_states_by_subject(serve, "Counting calls") == ["logged"])
    before = api_calls()
    serve.send(email(["o'brien@initech.example"], "Counting again"))
    _subject(org, "Counting again")
    wait_for(lambda: _queue_states_by_subject(serve, "Counting again") == ["logged"])
    assert api_calls() - before <= 2


def _queue_states_by_subject(serve: RelayServe, subject: str) -> list[object]:
    return [i["state"] for i in _queue(serve) if i["subject"] == subject]
