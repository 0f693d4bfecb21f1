"""A rep's acceptable addresses on ``/settings``: add one (an admin directly; a rep by a
confirmation link sent to the address, when sending is configured), confirm it, remove
one of their own. Writes are `relay senders add|remove`'s store calls (each bumps the
``reps`` change version), logged with the User (docs/design.md §10)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from aiohttp import web

from relay.console.context import (
    audit,
    console_of,
    flash_and_redirect,
    require_user,
)
from relay.console.sender_confirmation import confirmation_link, link_is_valid, message_text
from relay.errors import RelayError
from relay.outbound import Outbound
from relay.reps.settings import parse_e2s_address

RESEND_INTERVAL = timedelta(minutes=10)  # one link per address per 10 minutes: no mail bomb


async def add(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    console = console_of(request)
    address = str((await request.post()).get("address", "")).strip().lower()
    try:
        if not parse_e2s_address(address):
            raise ValueError("empty")
    except ValueError:
        raise await flash_and_redirect(
            request, f"“{address}” is not an email address. Nothing was changed.", "/settings",
            error=True,
        ) from None  # fmt: skip
    taken = {s.alias: s for s in await console.run(console.store.list_senders)}
    if address == user.email.lower() or taken.get(address) is not None:
        owner = taken[address].username if address in taken else user.username
        text = (
            "That address is already yours."
            if owner == user.username
            else "That address is another rep's: ask your admin."
        )
        raise await flash_and_redirect(request, text, "/settings", error=True)
    if user.is_admin:
        await console.run(console.store.add_sender, address, user.user_id, user.username)
        await audit(request, user, "sender_added", address, rep=user.username)
        raise await flash_and_redirect(request, f"{address} is now yours.", "/settings")
    outbound = Outbound(console.config)
    if not outbound.enabled:
        raise await flash_and_redirect(
            request,
            "Relay cannot send the confirmation email (sending is not configured): ask your "
            "admin to add the address.",
            "/settings",
            error=True,
        )
    claimed = await console.run(
        console.store.claim_notice, user.user_id, f"confirm:{address}", datetime.now(UTC),
        RESEND_INTERVAL,
    )  # fmt: skip
    if not claimed:
        raise await flash_and_redirect(
            request, f"A link was sent to {address} a few minutes ago: open it.", "/settings"
        )
    link = confirmation_link(
        console.base_url, console.session_key, user.user_id, address, time.time()
    )
    try:
        await console.run(
            outbound.send_notice, address, "Confirm your address for Relay",
            message_text(user.name, address, link),
        )  # fmt: skip
    except RelayError as error:
        raise await flash_and_redirect(
            request, f"The confirmation email could not be sent: {error.reason}", "/settings",
            error=True,
        ) from None  # fmt: skip
    await audit(request, user, "sender_confirmation_sent", address)
    raise await flash_and_redirect(
        request, f"We sent a link to {address}. Open it while signed in here to add it.",
        "/settings",
    )  # fmt: skip


async def confirm(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    console = console_of(request)
    query = request.query
    address = query.get("address", "").lower()
    if not link_is_valid(console.session_key, user.user_id, address, query.get("expires", ""),
                         query.get("sig", ""), time.time()):  # fmt: skip
        raise web.HTTPForbidden(
            reason="This link is not yours, or it has expired: add the address again."
        )
    await console.run(console.store.add_sender, address, user.user_id, user.username)
    await audit(request, user, "sender_added", address, rep=user.username, confirmed=True)
    raise await flash_and_redirect(request, f"{address} is now yours.", "/settings")


async def remove(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    console = console_of(request)
    address = str((await request.post()).get("address", "")).lower()
    mine = {s.alias for s in await console.run(console.store.list_senders, user.user_id)}
    if address not in mine:
        raise web.HTTPForbidden(reason="That address is not one of your acceptable addresses.")
    await console.run(console.store.remove_sender, address)
    await audit(request, user, "sender_removed", address)
    raise await flash_and_redirect(request, f"{address} removed.", "/settings")
