"""``/admin``: the queue by state with retry, hold, release and delete; held messages
with their guidance; the doctor's checks this process can make without Salesforce; the
reps with their settings and overrides and the org defaults; acceptable addresses added
directly; and who changed what (docs/design.md §10). Admins only (403 otherwise).

Every action is the store call `relay queue`, `relay senders` or `relay settings` makes
(each bumps its change version in its transaction, so every process of every node acts
on it at once), logged with the admin who made it.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from aiohttp import web

from relay.console.context import (
    audit,
    console_of,
    flash_and_redirect,
    render,
    require_admin,
)
from relay.doctor import Check, check_held, check_sending
from relay.errors import RelayError
from relay.reps.settings import ALLOWED, InvalidSetting, settings_for, stored_text, validate
from relay.store.lifecycle import ALLOWED_FROM
from relay.store.model import ORG_SCOPE, State

PAGE = 50
ACTIONS = ("retry", "hold", "release", "delete")


def _state(text: str | None) -> State:
    try:
        return State(text or State.HELD.value)
    except ValueError:
        raise web.HTTPNotFound() from None


async def admin_page(request: web.Request) -> web.StreamResponse:
    await require_admin(request)
    console = console_of(request)
    store = console.store
    state = _state(request.query.get("state"))
    before = request.query.get("before") or None
    counts = await console.run(store.counts)
    listed = await console.run(store.messages_in_state, state, PAGE + 1, before)
    held = (
        listed
        if state is State.HELD
        else await console.run(store.messages_in_state, State.HELD, PAGE)
    )
    reasons = Counter((m.reason or "held") for m in held)
    synced_at = await console.run(store.reps_synced_at)
    checks = [check_sending(console.config.smarthost), _reps_synced(synced_at)]
    checks += [check_held(reason, count) for reason, count in reasons.most_common()]
    if counts.get(State.QUARANTINED, 0):
        checks.append(_quarantined(counts[State.QUARANTINED]))
    reps = await console.run(store.list_reps)
    overrides = await console.run(store.setting_overrides)
    senders = await console.run(store.list_senders)
    audit_entries = await console.run(store.audit_entries, PAGE)
    org_settings = settings_for(console.config.sync, overrides, None).to_dict()
    rep_rows: list[dict[str, Any]] = [
        {
            "rep": rep,
            "overrides": overrides.get(rep.user_id, {}),
            "aliases": [s.alias for s in senders if s.user_id == rep.user_id],
        }
        for rep in reps
    ]
    return await render(
        request,
        "admin.html",
        {
            "title": "Admin",
            "state": state.value,
            "states": [(s.value, counts.get(s, 0)) for s in State],
            "messages": listed[:PAGE],
            "next_before": listed[PAGE - 1].id if len(listed) > PAGE else None,
            # Only what the queue's state table allows from this state (lifecycle.py).
            "actions": [a for a in ACTIONS if state in ALLOWED_FROM[a]],
            "checks": [c.to_dict() for c in checks],
            "reps": rep_rows,
            "org_settings": {k: stored_text(v) for k, v in org_settings.items()},
            "org_overrides": overrides.get(ORG_SCOPE, {}),
            "allowed": ALLOWED,
            "audit": audit_entries,
        },
    )


def _reps_synced(synced_at: datetime | None) -> Check:
    if synced_at is None:
        return Check("reps", "warn", "the rep sync has not run yet", (
            "Check that Relay reaches Salesforce (`relay doctor`); mail from senders it "
            "cannot attribute is held until the reps are known.",
        ))  # fmt: skip
    return Check("reps", "ok", f"synced {synced_at:%Y-%m-%d %H:%M} UTC")


def _quarantined(count: int) -> Check:
    return Check("quarantined", "warn", f"{count} message(s) cannot be processed as they are", (
        "`relay queue list --state quarantined`, then `relay queue show ID` for the reason; "
        "retry or delete each here.",
    ))  # fmt: skip


async def queue_action(request: web.Request) -> web.StreamResponse:
    user = await require_admin(request)
    console = console_of(request)
    queue_id, action = request.match_info["id"], request.match_info["action"]
    if action not in ACTIONS:
        raise web.HTTPNotFound()
    store = console.store
    message = await console.run(store.get, queue_id)
    back = f"/admin?state={message.state.value}" if message else "/admin"
    if message is None:
        raise await flash_and_redirect(request, f"No message {queue_id}.", back, error=True)
    try:
        if action == "retry":
            await console.run(store.retry, queue_id)
        elif action == "hold":
            await console.run(store.hold, queue_id, f"held by {user.username}")
        elif action == "release":
            await console.run(store.release, queue_id)
        else:
            await console.run(store.delete, queue_id)
    except (RelayError, ValueError, KeyError) as error:
        reason = getattr(error, "reason", None) or str(error)
        raise await flash_and_redirect(
            request, f"{queue_id}: cannot {action}: {reason}. Nothing was changed.", back,
            error=True,
        ) from None  # fmt: skip
    await audit(request, user, f"queue_{action}", queue_id)
    raise await flash_and_redirect(request, f"{queue_id}: {action} done.", back)


async def add_sender(request: web.Request) -> web.StreamResponse:
    """An admin adds an acceptable address to a rep directly (`relay senders add`)."""
    user = await require_admin(request)
    console = console_of(request)
    form = await request.post()
    address = str(form.get("address", "")).strip()
    rep_id = str(form.get("rep", ""))
    reps = {rep.user_id: rep for rep in await console.run(console.store.list_reps)}
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in address):
        raise await flash_and_redirect(
            request, f"“{address}” is not an email address. Nothing was changed.", "/admin",
            error=True,
        )  # fmt: skip
    rep = reps.get(rep_id)
    if rep is None:
        raise await flash_and_redirect(request, "Choose a rep. Nothing was changed.", "/admin",
                                       error=True)  # fmt: skip
    alias = await console.run(console.store.add_sender, address, rep.user_id, rep.username)
    await audit(request, user, "sender_added", alias.alias, rep=rep.username)
    raise await flash_and_redirect(request, f"{alias.alias} is now {rep.username}'s.", "/admin")


async def set_org_setting(request: web.Request) -> web.StreamResponse:
    user = await require_admin(request)
    console = console_of(request)
    form = await request.post()
    key, value = str(form.get("key", "")), str(form.get("value", ""))
    try:
        parsed = validate(key, value, per_user=False)
    except InvalidSetting as error:
        raise await flash_and_redirect(
            request, f"{error}. Nothing was changed.", "/admin", error=True
        ) from None
    await console.run(console.store.set_setting, ORG_SCOPE, key, stored_text(parsed))
    await audit(request, user, "settings_set", ORG_SCOPE, settings={key: stored_text(parsed)})
    raise await flash_and_redirect(request, f"Org default {key} = {stored_text(parsed)}.", "/admin")
