"""The console in a real browser (Chromium through Playwright), end to end with real SMTP,
`relay serve` and the local org: sign in with Salesforce (PKCE), the settings cards,
Email to Salesforce activated then mail forwarded, a held email fixed with Check again
and released by an admin, tasks added, completed and deleted, an unresolved email
assigned to an Opportunity, 403 for another rep's item, the admin page and a POST without
the CSRF token, and hostile subjects shown as text."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from relay.importing.run import imported_envelope
from relay.localorg.seed import REPS, rep_email
from relay.reps.directory import load_address_secret, personal_address
from relay.reps.reminders import local_date
from relay.store import open_store
from relay.store.imports import ImportedMessage
from relay.store.leases import this_host
from relay.tasksync.engine import reminder_key
from tests.console.browser import browser, chromium_path, screenshot, sign_in
from tests.console.console_helpers import ALICE, BOB, REP_PASSWORD, set_rep_passwords
from tests.delivery.e2s_helpers import e2s_address
from tests.importing.mail_files import message
from tests.support.localorg import RunningOrg, start_org
from tests.support.pipeline import email, seed_pipeline
from tests.support.serve import DOMAIN, RelayServe
from tests.support.smtp_sink import CaptureSmtp, capture_sink

SYNC_INTERVAL = 1.0


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_path()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, chromium: str
) -> Iterator[tuple[RunningOrg, RelayServe, CaptureSmtp]]:
    org = start_org(tmp_path_factory.mktemp("browser-org"), seed_pipeline)
    set_rep_passwords(org)
    with capture_sink() as capture:
        relay = RelayServe(
            tmp_path_factory.mktemp("browser-relay"),
            env={
                **org.env(),
                "RELAY_SMARTHOST": capture.smarthost,
                "RELAY_PIPELINE_REP_SYNC_SECONDS": "1",
                # Held mail waits for a person here: the admin's Release is what frees it.
                "RELAY_PIPELINE_HELD_RECHECK_SECONDS": "3600",
                # The Task sync's cycle (2 minutes by default): the sync tests wait for one.
                "RELAY_TASK_SYNC_INTERVAL": str(SYNC_INTERVAL),
            },
            args=("--workers", "1"),
        )
        relay.start()
        try:
            yield org, relay, capture
        finally:
            relay.stop()
            org.stop()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("RELAY_TEST_SCREENSHOTS") or tmp_path / "screenshots")


def base(relay: RelayServe) -> str:
    return f"http://127.0.0.1:{relay.http_port}"


async def until(predicate: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    """Poll ``predicate`` in a thread (it may run the CLI) without blocking the browser."""
    deadline = time.monotonic() + seconds
    while True:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def queued(relay: RelayServe, subject: str) -> dict[str, Any] | None:
    listed = json.loads(relay.cli("queue", "list", "--state", "all", "--json").stdout)
    return next((m for m in listed if m["subject"] == subject), None)


def in_state(relay: RelayServe, subject: str, *states: str) -> Callable[[], Any]:
    return lambda: (m := queued(relay, subject)) is not None and m["state"] in states and m


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


def test_sign_in_and_the_settings_cards(stack: Any, chromium: str, shots: Path) -> None:
    """Sign in through the org (PKCE); the three cards, "Do not sync" chosen, the BCC
    address with its copy button."""
    org, relay, _ = stack

    async def scenario() -> None:
        async with browser(chromium) as context:
            page = await context.new_page()
            await page.goto(base(relay) + "/settings")
            assert page.url.startswith(org.info.instance_url + "/services/oauth2/authorize?")
            assert "code_challenge=" in page.url
            await expect(page.locator("button[type=submit]")).to_have_count(1)
            await page.get_by_label("Username").fill(BOB)
            await page.get_by_label("Password").fill(REP_PASSWORD)
            await page.get_by_role("button", name="Log In").click()
            await page.wait_for_url(base(relay) + "/settings")
            for name in ("Sync settings", "Your BCC address", "Log email activity to Salesforce",
                         "Email to Salesforce (BCC)",
                         "Sync tasks/reminders with Salesforce Tasks"):  # fmt: skip
                await expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
            await expect(page.get_by_label("Do not sync")).to_be_checked()
            await expect(page.get_by_text("last 24 hours")).to_be_visible()
            user_id = org.sample.users[BOB]
            bcc = personal_address(user_id, load_address_secret(relay.home), DOMAIN)
            await expect(page.get_by_role("textbox", name="BCC address")).to_have_value(bcc)
            await expect(page.get_by_role("button", name="Copy")).to_be_visible()
            # Bob has no Email-to-Salesforce address: the steps and Check again.
            await expect(page.get_by_role("heading", name="What your admin does")).to_be_visible()
            await expect(page.get_by_role("button", name="Check again")).to_be_visible()
            await screenshot(page, shots, "settings")

    run(scenario)


def test_activate_email_to_salesforce_then_mail_is_forwarded(stack: Any, chromium: str) -> None:
    """Alice has an address: Activate, then her email over SMTP goes to it."""
    org, relay, capture = stack
    target = e2s_address(org, ALICE)
    assert target is not None

    async def scenario() -> None:
        async with browser(chromium) as context:
            page = await context.new_page()
            await sign_in(page, base(relay), ALICE, REP_PASSWORD)
            await expect(page.get_by_text(target)).to_be_visible()
            await page.get_by_role("button", name="Activate").click()
            await expect(page.get_by_role("status").first).to_contain_text(
                "Email to Salesforce is active"
            )
        settings = json.loads(relay.cli("settings", "show", "--user", ALICE, "--json").stdout)
        assert settings["settings"]["logging"] == "email_to_salesforce"
        await asyncio.sleep(1.5)  # every process reads the change within a second
        await asyncio.to_thread(
            relay.send, email(["hank@globex.example"], "Console: forwarded", sender=ALICE)
        )
        await until(lambda: any(m.rcpt_tos == (target,) for m in capture.messages), "the forward")

    try:
        run(scenario)
    finally:
        relay.cli("settings", "set", "--user", ALICE, "logging", "api")


def test_held_then_check_again_then_an_admin_releases_it(
    stack: Any, chromium: str, shots: Path
) -> None:
    """Bob on Email to Salesforce without an address: his email is held with the steps;
    once the address exists Check again finds it, and the admin's Release forwards it."""
    org, relay, capture = stack
    assert (
        relay.cli("settings", "set", "--user", BOB, "logging", "email_to_salesforce").returncode
        == 0
    )
    time.sleep(1.5)
    relay.send(email(["hank@globex.example"], "Console: Bob held", sender=BOB))
    held = asyncio.run(until(in_state(relay, "Console: Bob held", "held"), "the hold"))

    async def scenario() -> None:
        async with browser(chromium) as context:
            page = await context.new_page()
            await sign_in(page, base(relay), BOB, REP_PASSWORD, start="/activity")
            await expect(page.get_by_role("heading", name="Held (1)")).to_be_visible()
            await expect(page.locator("pre").first).to_contain_text("Email to Salesforce")
            await page.goto(base(relay) + "/settings")
            await page.get_by_role("button", name="Check again").click()
            await expect(page.get_by_role("alert").first).to_contain_text("still has no")
            function = org.sf().query("SELECT Id FROM EmailServicesFunction")["records"][0]["Id"]
            org.sf().EmailServicesAddress.create(
                {"LocalPart": "bobconsole", "RunAsUserId": org.sample.users[BOB],
                 "FunctionId": function}
            )  # fmt: skip
            await page.get_by_role("button", name="Check again").click()
            await expect(page.get_by_role("status").first).to_contain_text(
                "Salesforce has your Email to Salesforce address"
            )
        target = e2s_address(org, BOB)
        await asyncio.sleep(2)  # a rep sync (1 s here) learns the new address
        async with browser(chromium) as context:
            page = await context.new_page()
            await sign_in(page, base(relay), org.info.username, org.info.password, "/admin")
            await expect(page.get_by_text(held["id"])).to_be_visible()
            await screenshot(page, shots, "admin")
            await page.get_by_role("button", name=f"Release {held['id']}").click()
            await expect(page.get_by_role("status").first).to_contain_text("release done")
            await until(
                lambda: any(m.rcpt_tos == (target,) for m in capture.messages), "the forward"
            )
            await expect(page.get_by_role("cell", name="queue_release")).to_be_visible()

    try:
        run(scenario)
    finally:
        relay.cli("settings", "set", "--user", BOB, "logging", "api")


def test_a_post_without_the_csrf_token_gets_403(stack: Any, chromium: str) -> None:
    _org, relay, _ = stack

    async def scenario() -> None:
        async with browser(chromium) as context:
            page = await context.new_page()
            await sign_in(page, base(relay), ALICE, REP_PASSWORD)
            refused = await page.request.post(
                base(relay) + "/settings/logging",
                form={"body": "none", "attachments": "names", "confirmations": "off"},
            )
            assert refused.status == 403
            shown = json.loads(relay.cli("settings", "show", "--user", ALICE, "--json").stdout)
            assert shown["settings"]["body"] == "full"

    run(scenario)


def test_a_rep_gets_403_for_the_admin_page_and_another_reps_items(
    stack: Any, chromium: str
) -> None:
    _org, relay, _ = stack
    added = relay.cli("tasks", "add", "--user", BOB, "Bob's own reminder", "--due", "tomorrow")
    assert added.returncode == 0, added.stderr
    bobs = added.stdout.strip()

    async def scenario() -> None:
        async with browser(chromium) as context:
            page = await context.new_page()
            await sign_in(page, base(relay), ALICE, REP_PASSWORD)
            for path in ("/admin", f"/tasks/{bobs}/edit"):
                response = await page.goto(base(relay) + path)
                assert response is not None
                assert response.status == 403, path
                await expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
            refused = await page.request.post(
                base(relay) + f"/tasks/{bobs}/delete",
                headers={"X-CSRF-Token": await _csrf(page)},
            )
            assert refused.status == 403
        listed = json.loads(relay.cli("tasks", "list", "--user", BOB, "--json").stdout)
        assert any(t["id"] == bobs for t in listed)

    run(scenario)


async def _csrf(page: Page) -> str:
    value = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert value
    return value


HOSTILE = (
    "<script>alert('xss')</script>",
    '"><img src=x onerror=alert(1)>',
    "invoice \u202egpj.exe\u202c final",
)


def test_hostile_subjects_are_shown_as_text(stack: Any, chromium: str, shots: Path) -> None:
    _org, relay, _ = stack
    for subject in HOSTILE:
        relay.send(email(["hank@globex.example"], subject, sender=ALICE))
    for subject in HOSTILE:
        asyncio.run(until(lambda s=subject: queued(relay, s), f"{subject!r} stored"))

    async def scenario() -> None:
        async with browser(chromium) as context:
            page = await context.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: dialogs.append(dialog.message))
            await sign_in(page, base(relay), ALICE, REP_PASSWORD, start="/activity")
            for subject in HOSTILE[:2]:
                await expect(page.get_by_text(subject, exact=True).first).to_be_visible()
            # The bidi override is shown as an escape, never obeyed (as the CLI shows it).
            shown = "invoice \\u202egpj.exe\\u202c final"
            await expect(page.get_by_text(shown, exact=True).first).to_be_visible()
            assert "\u202e" not in await page.locator("main").inner_text()
            assert await page.locator("main img").count() == 0
            assert await page.locator("main script").count() == 0
            await screenshot(page, shots, "activity")
            assert dialogs == []

    run(scenario)


def test_tasks_add_complete_delete_and_bad_input(stack: Any, chromium: str, shots: Path) -> None:
    _org, relay, _ = stack

    def mine() -> list[dict[str, Any]]:
        out = relay.cli("tasks", "list", "--user", ALICE, "--all", "--json").stdout
        return list(json.loads(out))

    async def scenario() -> None:
        async with browser(chromium) as context:
            page = await context.new_page()
            await sign_in(page, base(relay), ALICE, REP_PASSWORD, start="/tasks")
            await expect(page.get_by_text("none: the sync is off")).to_be_visible()
            before = len(mine())
            await page.get_by_role("textbox", name="Subject", exact=True).fill("Call Hank back")
            await page.get_by_role("textbox", name="Due", exact=True).fill("31/02/2027")
            await page.get_by_role("button", name="Add").click()
            await expect(page.get_by_role("alert").first).to_contain_text("is not a date")
            await page.get_by_role("textbox", name="Subject", exact=True).fill("Call Hank back")
            await page.get_by_label("Record (optional)").fill("003000000000000AAA")
            await page.get_by_role("button", name="Add").click()
            await expect(page.get_by_role("alert").first).to_contain_text("not a Contact")
            assert len(mine()) == before
            for subject, due in (("Call Hank back", "tomorrow"), ("Send the quote", "today")):
                await page.get_by_role("textbox", name="Subject", exact=True).fill(subject)
                await page.get_by_role("textbox", name="Due", exact=True).fill(due)
                await page.get_by_role("button", name="Add").click()
                await expect(page.get_by_role("status").first).to_contain_text("Added")
            await expect(page.get_by_role("heading", name="Tomorrow (1)")).to_be_visible()
            await screenshot(page, shots, "tasks")
            await page.get_by_role("button", name="Done: Send the quote").click()
            await expect(page.get_by_role("status").first).to_contain_text("Done")
            await page.get_by_role("button", name="Delete: Call Hank back").click()
            await expect(page.get_by_role("status").first).to_contain_text("Deleted")
        stored = {t["subject"]: t for t in mine()}
        assert stored["Send the quote"]["status"] == "complete"
        assert "Call Hank back" not in stored

    run(scenario)


def test_assign_an_unresolved_email_to_an_opportunity(stack: Any, chromium: str) -> None:
    """An email that matched nothing is assigned from Activity; its Task moves."""
    org, relay, _ = stack
    subject = "Console: who is this"
    relay.send(email(["stranger@nowhere.example"], subject, sender=ALICE))
    asyncio.run(until(in_state(relay, subject, "unresolved", "logged"), "the outcome"))
    opportunity = org.sample.opportunities["Globex - Widget Rollout"]
    listed = json.loads(relay.cli("unresolved", "list", "--json").stdout)
    item_id = next(i["id"] for i in listed if i["subject"] == subject)

    async def scenario() -> None:
        async with browser(chromium) as context:
            page = await context.new_page()
            await sign_in(page, base(relay), ALICE, REP_PASSWORD, start="/activity")
            row = page.get_by_role("row").filter(has_text=subject)
            await row.get_by_role("link", name="Assign").click()
            await page.get_by_label("Search your Contacts, Leads and Opportunities").fill("Widget")
            htmx: list[str] = []
            page.on("request", lambda r: htmx.append(r.headers.get("hx-request", "")))
            await page.get_by_role("button", name="Search").click()
            # htmx swaps the results in place (and pushes the search's URL).
            await page.wait_for_url("**/assign?q=Widget")
            assert "true" in htmx
            await page.get_by_role("button", name="Assign to Globex - Widget Rollout").click()
            await expect(page.get_by_role("status").first).to_contain_text(
                "Assigned to Opportunity"
            )
            await page.goto(base(relay) + "/activity")
            await expect(page.get_by_role("row").filter(has_text=subject)
                         .get_by_role("link", name="Assign")).to_have_count(0)  # fmt: skip
            # The record link opens the record in the org (the local org's record page).
            row = page.get_by_role("row").filter(has_text=subject)
            await row.get_by_role("link", name="Opportunity: Globex - Widget Rollout").click()
            await page.wait_for_url(f"**/lightning/r/Opportunity/{opportunity}/view")
            await expect(
                page.get_by_role("heading", name="Globex - Widget Rollout")
            ).to_be_visible()
        async with browser(chromium) as context:
            page = await context.new_page()
            await sign_in(page, base(relay), BOB, REP_PASSWORD)
            response = await page.goto(base(relay) + f"/activity/unresolved/{item_id}/assign")
            assert response is not None
            assert response.status == 403  # Alice's email

    run(scenario)
    tasks = org.tasks(f"Subject LIKE '%{subject}%'")
    assert [t["WhatId"] for t in tasks] == [opportunity]
    assert tasks[0]["Status"] == "Completed"


# --- the sync with Salesforce Tasks, joined to the console -------------------------------

CARMEN = rep_email(REPS[2])
"""The sync tests' rep: Alice and Bob's reminders and settings belong to the tests above."""
REP_ZONE = "America/New_York"
"""The sample reps' User.TimeZoneSidKey (relay/localorg/seed.py)."""


def _carmen(org: RunningOrg) -> str:
    """Carmen's password set as an admin would; her User id."""
    user_id = org.sample.users[CARMEN]
    sf = org.sf()
    sf.restful(f"sobjects/User/{user_id}/password", method="POST",
               json={"NewPassword": REP_PASSWORD})  # fmt: skip
    sf.session.close()
    return user_id


def _tasks_of(org: RunningOrg, where: str) -> list[dict[str, Any]]:
    soql = ("SELECT Id, Subject, Status, ActivityDate, IsDeleted, LastModifiedDate FROM Task "
            f"WHERE {where}")  # fmt: skip
    return list(org.sf().query_all(soql, include_deleted=True)["records"])


def _reminders_of(relay: RelayServe, email: str) -> list[dict[str, Any]]:
    out = relay.cli("tasks", "list", "--user", email, "--all", "--json").stdout
    return list(json.loads(out))


async def _reload_until(page: Page, text: str, seconds: float = 30) -> None:
    """Reload the page until ``text`` shows (a sync cycle lands between two loads)."""
    deadline = time.monotonic() + seconds
    while await page.get_by_text(text, exact=True).count() == 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never showed on {page.url}")
        await asyncio.sleep(0.3)
        await page.reload()


def test_sync_on_the_card_then_the_first_import_shows_on_tasks(
    stack: Any, chromium: str, shots: Path
) -> None:
    """ "Sync" on the tasks card: the next cycle imports Carmen's Tasks of the last 24
    hours (the org's clock), not an older one, and /tasks shows them and the sync's
    state."""
    org, relay, _ = stack
    carmen = _carmen(org)
    sf = org.sf()
    today = local_date(datetime.now(UTC), REP_ZONE).isoformat()
    task = {"OwnerId": carmen, "TaskSubtype": "Task", "ActivityDate": today}
    # The org's clock 25 hours back while this Task is made: it was last changed before
    # the 24 hours of the first import.
    org.admin("/_localorg/clock", {"offset_seconds": -25 * 3600})
    try:
        old = sf.Task.create({**task, "Subject": "Sync: changed 25 hours ago"})["id"]
    finally:
        org.admin("/_localorg/clock", {"offset_seconds": 0})
    recent = sf.Task.create({**task, "Subject": "Sync: made this morning"})["id"]
    [stamped] = _tasks_of(org, f"Id = '{old}'")
    stamped_at = datetime.fromisoformat(stamped["LastModifiedDate"].replace("+0000", "+00:00"))
    assert datetime.now(UTC) - stamped_at > timedelta(hours=24)

    async def scenario() -> None:
        async with browser(chromium) as context:
            page = await context.new_page()
            await sign_in(page, base(relay), CARMEN, REP_PASSWORD, start="/settings")
            card = page.locator("form[action='/settings/task-sync']")
            await expect(card.get_by_label("Do not sync")).to_be_checked()
            await card.get_by_label("Sync", exact=True).check()
            await card.get_by_role("button", name="Save").click()
            await expect(page.get_by_role("status").first).to_contain_text("Task sync is on")
            await expect(page.get_by_text("Your existing reminders are not pushed")).to_be_visible()
            await page.goto(base(relay) + "/tasks")
            await _reload_until(page, "Sync: made this morning")
            await expect(page.get_by_text("Sync: changed 25 hours ago")).to_have_count(0)
            state = page.locator("section[aria-labelledby=sync-state]")
            await expect(state).to_contain_text("On (Sync)")
            await expect(state).to_contain_text("First import")
            await expect(state.locator("dd").nth(1)).to_contain_text(" UTC (the sync runs")
            await expect(state.locator("dd").last).to_have_text("none")
            await screenshot(page, shots, "tasks-sync")

    try:
        run(scenario)
        shown = json.loads(relay.cli("settings", "show", "--user", CARMEN, "--json").stdout)
        assert shown["settings"]["task_sync"] == "on"
        paired = {r["sf_task_id"]: r for r in _reminders_of(relay, CARMEN)}
        assert paired[recent]["source"] == "salesforce"
        assert old not in paired
    finally:
        relay.cli("settings", "set", "--user", CARMEN, "task_sync", "off")


def test_add_complete_and_delete_on_tasks_reach_salesforce_within_a_cycle(
    stack: Any, chromium: str
) -> None:
    """With Carmen's sync on, a reminder added on /tasks becomes her Task, Done completes
    it and Delete deletes it, each within one cycle (RELAY_TASK_SYNC_INTERVAL)."""
    org, relay, _ = stack
    _carmen(org)
    assert relay.cli("settings", "set", "--user", CARMEN, "task_sync", "on").returncode == 0
    done, deleted = "Sync: send Carmen's quote", "Sync: book the demo room"

    def task_of(reminder_id: str) -> dict[str, Any] | None:
        found = _tasks_of(org, f"Relay_Key__c = '{reminder_key(reminder_id)}'")
        assert len(found) <= 1, found  # never a second Task for one reminder
        return found[0] if found else None

    async def within_a_cycle(predicate: Callable[[], Any], what: str) -> Any:
        started = time.monotonic()
        value = await until(predicate, what)
        # One cycle, plus the time a cycle and the query take on a loaded machine.
        assert time.monotonic() - started < SYNC_INTERVAL + 5, what
        return value

    async def scenario() -> None:
        async with browser(chromium) as context:
            page = await context.new_page()
            await sign_in(page, base(relay), CARMEN, REP_PASSWORD, start="/tasks")
            ids = {}
            for subject in (done, deleted):
                await page.get_by_role("textbox", name="Subject", exact=True).fill(subject)
                await page.get_by_role("textbox", name="Due", exact=True).fill("tomorrow")
                await page.get_by_role("button", name="Add").click()
                await expect(page.get_by_role("status").first).to_contain_text("Added")
                [mine] = [r for r in _reminders_of(relay, CARMEN) if r["subject"] == subject]
                ids[subject] = mine["id"]
                task = await within_a_cycle(lambda m=mine: task_of(m["id"]), f"{subject}'s Task")
                assert (task["Subject"], task["Status"]) == (subject, "Not Started")
                assert task["ActivityDate"] == mine["due"]

            await page.get_by_role("button", name=f"Done: {done}").click()
            await expect(page.get_by_role("status").first).to_contain_text("Done")
            await within_a_cycle(
                lambda: (t := task_of(ids[done])) and t["Status"] == "Completed",
                "the Task completed",
            )
            await page.get_by_role("button", name=f"Delete: {deleted}").click()
            await expect(page.get_by_role("status").first).to_contain_text("Deleted")
            await within_a_cycle(
                lambda: (t := task_of(ids[deleted])) and t["IsDeleted"], "the Task deleted"
            )
            # Neither came back as a change from Salesforce: the completed one is complete,
            # the deleted one stays deleted.
            listed = {r["id"]: r for r in _reminders_of(relay, CARMEN)}
            assert listed[ids[done]]["status"] == "complete"
            assert ids[deleted] not in listed

    try:
        run(scenario)
    finally:
        relay.cli("settings", "set", "--user", CARMEN, "task_sync", "off")


def test_a_running_import_refreshes_itself_on_the_imports_page(
    stack: Any, chromium: str, shots: Path
) -> None:
    """An import this test runs (its row owned by this live process, as `relay import`
    would own it) queues three messages the relay's worker delivers: the page, opened
    once, shows the counts rise and the import end without a reload."""
    _org, relay, _ = stack
    store = open_store(relay.store_url)
    owner = f"{this_host()}:{os.getpid()}:import"
    source = "/mail/<script>alert('import')</script>.mbox"
    record = store.start_import(source, ALICE, {"since": None, "until": None}, owner)
    raws = [message(i, sender=ALICE, to="hank@globex.example", tag="browser-import")
            for i in range(3)]  # fmt: skip
    items = [ImportedMessage(raw, imported_envelope(record.id, ALICE, raw)) for raw in raws]

    async def scenario() -> None:
        async with browser(chromium) as context:
            page = await context.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: dialogs.append(dialog.message))
            await sign_in(page, base(relay), ALICE, REP_PASSWORD, start="/imports")
            row = page.locator(f'tr[data-import="{record.id}"]')
            await expect(row.get_by_text(source, exact=True)).to_be_visible()
            await expect(row.locator("td").nth(1)).to_have_text("running")
            assert await page.locator("main script").count() == 0
            await page.evaluate("window.relayNotReloaded = true")
            await asyncio.to_thread(
                store.enqueue_imported, record.id, items, "3", {"read": 3, "queued": 3}
            )
            # Read, then Logged: the worker delivers them; the list polls.
            read, logged = row.locator('[data-count="read"]'), row.locator('[data-count="logged"]')
            await expect(read).to_have_text("3", timeout=20_000)
            await expect(logged).to_have_text("3", timeout=30_000)
            await asyncio.to_thread(store.end_import, record.id, "done", {"read": 3, "queued": 3})
            await expect(row.locator("td").nth(1)).to_have_text("done", timeout=10_000)
            assert await page.evaluate("window.relayNotReloaded") is True
            await screenshot(page, shots, "imports")
            await row.get_by_role("link").click()
            await page.wait_for_url(base(relay) + f"/imports/{record.id}")
            await expect(page.locator('[data-count="logged"]')).to_have_text("3")
            await expect(page.locator('[data-count="pending"]')).to_have_text("0")
            await expect(page.locator("#import-state")).to_have_text("done")
            assert dialogs == []

    try:
        run(scenario)
    finally:
        store.close()
