"""``/activity``: the rep's recent emails with their state, subject and the records each
was logged to (linked to ``{instance}/lightning/r/{Object}/{Id}/view``), held ones with
their reason and fix, and unresolved ones with Assign (search the rep's Contacts, Leads
and Opportunities) and Discard (docs/design.md §10).

A rep's emails are those whose envelope sender is one of their acceptable addresses (their
Salesforce Email and their aliases), newest first, one keyset page at a time. Assign and
Discard use the rep's own Salesforce session (they can only touch what Salesforce lets
them), then the same ledger steps as `relay unresolved` (relay/unresolved_actions.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from simple_salesforce.exceptions import SalesforceResourceNotFound

from relay.console.context import (
    Console,
    audit,
    console_of,
    flash_and_redirect,
    log,
    render,
    require_user,
)
from relay.console.oauth import SignedInUser
from relay.console.user_org import UserOrg
from relay.matching.model import object_for_id
from relay.store.model import State, UnresolvedItem
from relay.unresolved_actions import assigned_delivery, task_changes

PAGE = 25
MIN_SEARCH = 2


def record_link(instance_url: str, record_id: str) -> dict[str, str]:
    sobject = object_for_id(record_id) or "Record"
    return {
        "id": record_id,
        "type": sobject,
        "url": f"{instance_url}/lightning/r/{sobject}/{record_id}/view",
    }


async def _name_records(
    console: Console, user: SignedInUser, records: dict[str, list[dict[str, str]]]
) -> None:
    """Put each record's Name on its link, as the rep sees it in Salesforce; the ids stay
    when Salesforce cannot be asked."""
    ids = [link["id"] for links in records.values() for link in links]
    if not ids:
        return
    org = UserOrg(console.config.salesforce, user)
    try:
        names = await console.run(org.record_names, ids)
    except Exception as error:  # the page still shows the links, by id
        log.warning("console_record_names_failed", reason=type(error).__name__)
        return
    finally:
        org.close()
    for links in records.values():
        for link in links:
            link["name"] = names.get(link["id"], "")


async def senders_of(request: web.Request, user: SignedInUser) -> list[str]:
    """The rep's acceptable addresses: their Salesforce Email and their aliases (what
    their activity and their imports are found by)."""
    console = console_of(request)
    aliases = await console.run(console.store.list_senders, user.user_id)
    addresses = {user.email, user.email.lower(), *(a.alias for a in aliases)}
    return sorted(a for a in addresses if a)


async def activity_page(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    console = console_of(request)
    before = request.query.get("before") or None
    senders = await senders_of(request, user)
    recent = await console.run(console.store.recent_messages, senders, PAGE + 1, before)
    more = len(recent) > PAGE
    recent = recent[:PAGE]
    delivered = await console.run(console.store.deliveries_for_queue_ids, [m.id for m in recent])
    records: dict[str, list[dict[str, str]]] = {}
    for delivery in delivered:
        if delivery.task_id:
            links = records.setdefault(delivery.queue_id, [])
            for record_id in delivery.records:
                if all(link["id"] != record_id for link in links):
                    links.append(record_link(user.instance_url, record_id))
    await _name_records(console, user, records)
    unresolved = await console.run(console.store.unresolved_for_owner, user.user_id, PAGE)
    rows: list[dict[str, Any]] = [
        {
            "id": m.id,
            "received_at": m.received_at,
            "state": m.state.value,
            "subject": m.subject or "(no subject)",
            "records": records.get(m.id, []),
            "reason": m.reason if m.state in (State.HELD, State.DEFERRED, State.QUARANTINED,
                                              State.REJECTED) else None,
        }
        for m in recent
    ]  # fmt: skip
    return await render(
        request,
        "activity.html",
        {
            "title": "Activity",
            "rows": rows,
            "held": [r for r in rows if r["state"] == "held"],
            "unresolved": unresolved,
            "next_before": recent[-1].id if more and recent else None,
        },
    )


async def _own_item(request: web.Request, user: SignedInUser) -> UnresolvedItem:
    console = console_of(request)
    item = await console.run(console.store.get_unresolved, request.match_info["id"])
    if item is None:
        raise web.HTTPNotFound()
    if item.owner_id != user.user_id and not user.is_admin:
        raise web.HTTPForbidden(reason="This email is another rep's.")
    return item


async def assign_page(request: web.Request) -> web.StreamResponse:
    """Search the rep's records by name or email; each result has an Assign button."""
    user = await require_user(request)
    item = await _own_item(request, user)
    console = console_of(request)
    text = request.query.get("q", "").strip()
    results: list[dict[str, str]] = []
    problem = None
    if len(text) >= MIN_SEARCH:
        org = UserOrg(console.config.salesforce, user)
        try:
            results = await console.run(org.search, text)
        except Exception as error:
            problem = f"Salesforce could not be searched: {type(error).__name__}"
        finally:
            org.close()
    elif text:
        problem = f"Type at least {MIN_SEARCH} characters."
    return await render(
        request,
        "assign.html",
        {"title": "Assign an email", "item": item, "q": text, "results": results,
         "problem": problem},
    )  # fmt: skip


async def assign(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    item = await _own_item(request, user)
    console = console_of(request)
    record = str((await request.post()).get("record", "")).strip()
    back = f"/activity/unresolved/{item.id}/assign"
    if item.state != "open" or not item.task_id:
        raise await flash_and_redirect(request, "This email is no longer unresolved.", "/activity")
    org = UserOrg(console.config.salesforce, user)
    try:
        sobject = await console.run(org.record_type, record)
        if sobject is None:
            raise await flash_and_redirect(
                request,
                f"“{record}” is not a Contact, Lead or Opportunity you can see. "
                "Nothing was changed.",
                back, error=True,
            )  # fmt: skip
        await console.run(org.update, "Task", item.task_id, task_changes(sobject, record))
    finally:
        org.close()
    await console.run(console.store.record_delivery, assigned_delivery(item, record))
    await console.run(console.store.resolve_unresolved, item.id, "assigned", record)
    await audit(request, user, "unresolved_assigned", item.id, record=record)
    raise await flash_and_redirect(request, f"Assigned to {sobject} {record}.", "/activity")


async def discard(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    item = await _own_item(request, user)
    console = console_of(request)
    if item.state != "open" or not item.task_id:
        raise await flash_and_redirect(request, "This email is no longer unresolved.", "/activity")
    org = UserOrg(console.config.salesforce, user)
    try:
        await console.run(org.delete, "Task", item.task_id)
    except SalesforceResourceNotFound:
        pass  # deleted in Salesforce already: closing the item is all that is left
    finally:
        org.close()
    await console.run(console.store.resolve_unresolved, item.id, "discarded")
    await audit(request, user, "unresolved_discarded", item.id)
    raise await flash_and_redirect(request, "Discarded: its Task was deleted.", "/activity")
