"""``/settings``: the three cards of Salesforce's sync settings page, the rep's BCC
address and the reminder address forms (docs/design.md §10).

1. *Log email activity to Salesforce* (via the API): body, attachments, confirmations,
   and the rep's acceptable addresses; Save.
2. *Email to Salesforce (BCC)*: the rep's Email-to-Salesforce address with Activate
   (``logging = email_to_salesforce``), or the rep's and the admin's steps (the texts of
   ``relay doctor``, relay/reps/guidance.py) and Check again.
3. *Sync tasks/reminders with Salesforce Tasks*: "Do not sync" (``task_sync = off``, the
   default) or "Sync", with the first-sync rules in words.

Every change goes through the store API `relay settings set` uses (``set_setting``, which
bumps the ``reps`` change version in the same transaction, so every process of every
node applies it at once) and is logged with the User who made it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from relay.console.context import (
    Console,
    audit,
    console_of,
    flash_and_redirect,
    render,
    require_user,
)
from relay.console.oauth import SignedInUser
from relay.reps.directory import address_token, personal_address
from relay.reps.e2s_addresses import find_e2s_addresses
from relay.reps.guidance import ADMIN_E2S_STEPS, REP_E2S_STEPS
from relay.reps.settings import InvalidSetting, settings_for, stored_text, validate

LOGGING_KEYS = ("body", "attachments", "confirmations")
CHOICES = {
    "body": (("full", "The full email body"), ("none", "No body (subject and people only)")),
    "attachments": (
        ("names", "Attachment names in the Task"),
        ("upload", "Upload attachments as files"),
    ),
    "confirmations": (
        ("off", "No confirmation emails"),
        ("on", "Email me a confirmation for each logged email"),
    ),
    "task_sync": (("off", "Do not sync"), ("on", "Sync")),
}
FIRST_SYNC_RULES = (
    "The first sync imports your Salesforce Tasks of the last 24 hours as reminders.",
    "Your existing reminders are not pushed to Salesforce.",
    "After that, a reminder you add, complete or delete here changes its Salesforce Task, "
    "and the other way round.",
)


def _reminder_forms(domain: str, token: str) -> list[dict[str, str]]:
    return [
        {"address": f"log+{token}+remind@{domain}", "means": "in 3 business days"},
        {"address": f"log+{token}+remind-tomorrow@{domain}", "means": "tomorrow"},
        {"address": f"log+{token}+remind-2d@{domain}", "means": "in 2 days (any N: Nd)"},
        {"address": f"log+{token}+remind-1w@{domain}", "means": "in a week (Nw)"},
        {"address": f"log+{token}+remind-5bd@{domain}", "means": "in 5 business days (Nbd)"},
        {"address": f"log+{token}+remind-mon@{domain}", "means": "next Monday (mon…sun)"},
        {"address": f"log+{token}+remind-2027-01-15@{domain}", "means": "on that date"},
    ]


async def _e2s_address(
    console: Console, user: SignedInUser
) -> tuple[str | None, bool | None, str | None]:
    """The rep's Email-to-Salesforce address, whether the org's function is active, and a
    problem reaching the org (then the first two are None)."""

    def look() -> tuple[str | None, bool | None]:
        # Relay's own client, as the rep sync reads it: a rep's own session may not be
        # allowed to read EmailServicesAddress (a setup object).
        found = find_e2s_addresses(console.integration(), [user.user_id])
        return found.by_user.get(user.user_id), found.function_active

    try:
        address, active = await console.run(look)
    except Exception as error:  # shown on the card; the page still works
        return None, None, f"Salesforce could not be asked: {type(error).__name__}"
    return address, active, None


async def settings_page(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    console = console_of(request)
    overrides = await console.run(console.store.setting_overrides)
    effective = settings_for(console.config.sync, overrides, user.user_id)
    senders = await console.run(console.store.list_senders, user.user_id)
    e2s, e2s_active, e2s_problem = await _e2s_address(console, user)
    override = effective.e2s_address
    secret, domain = console.address_secret, console.config.domain
    return await render(
        request,
        "settings.html",
        {
            "title": "Sync settings",
            "settings": effective.to_dict(),
            "choices": CHOICES,
            "aliases": [s.alias for s in senders if s.alias != user.email.lower()],
            "e2s_address": override or e2s,
            "e2s_function_active": e2s_active,
            "e2s_problem": e2s_problem,
            "rep_steps": REP_E2S_STEPS,
            "admin_steps": ADMIN_E2S_STEPS,
            "first_sync_rules": FIRST_SYNC_RULES,
            "bcc_address": personal_address(user.user_id, secret, domain),
            "reminder_forms": _reminder_forms(domain, address_token(user.user_id, secret)),
        },
    )


async def _save(
    request: web.Request, user: SignedInUser, values: dict[str, str], done: str
) -> web.StreamResponse:
    """Validate every value first; store them only if all are valid (nothing changes
    otherwise), then log the change with the User."""
    console = console_of(request)
    parsed: dict[str, Any] = {}
    for key, value in values.items():
        try:
            parsed[key] = validate(key, value, per_user=True)
        except InvalidSetting as error:
            raise await flash_and_redirect(request, str(error), "/settings", error=True) from None
    for key, value in parsed.items():
        await console.run(console.store.set_setting, user.user_id, key, stored_text(value))
    shown = {k: stored_text(v) for k, v in parsed.items()}
    await audit(request, user, "settings_set", user.user_id, settings=shown)
    raise await flash_and_redirect(request, done, "/settings")


async def save_logging(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    form = await request.post()
    values = {key: str(form.get(key, "")) for key in LOGGING_KEYS}
    return await _save(request, user, values, "Logging preferences saved.")


async def save_task_sync(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    form = await request.post()
    value = str(form.get("task_sync", ""))
    every = f"{console_of(request).config.task_sync_interval:g} s"
    done = {
        "on": f"Task sync is on: the next cycle (within {every}) imports your Salesforce "
        "Tasks of the last 24 hours; your existing reminders stay in Relay only.",
        "off": "Task sync is off: nothing syncs either way, and nothing was deleted.",
    }.get(value, "Task sync saved.")
    return await _save(request, user, {"task_sync": value}, done)


async def activate_e2s(request: web.Request) -> web.StreamResponse:
    """Activate: only when the org has the rep's address (else the card's steps apply)."""
    user = await require_user(request)
    console = console_of(request)
    overrides = await console.run(console.store.setting_overrides)
    effective = settings_for(console.config.sync, overrides, user.user_id)
    address, _active, problem = await _e2s_address(console, user)
    if not (address or effective.e2s_address):
        text = (
            problem
            or "Salesforce has no Email to Salesforce address for you yet: follow the steps "
            "below, then Check again."
        )
        raise await flash_and_redirect(request, text, "/settings", error=True)
    done = "Email to Salesforce is active: your email now goes to your Email to Salesforce address."
    return await _save(request, user, {"logging": "email_to_salesforce"}, done)


async def check_e2s(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    address, _active, problem = await _e2s_address(console_of(request), user)
    if address:
        text, error = f"Salesforce has your Email to Salesforce address: {address}.", False
    else:
        text, error = (
            problem or "Salesforce still has no Email to Salesforce address for you.",
            True,
        )
    raise await flash_and_redirect(request, text, "/settings", error=error)
