"""``/imports``: each `relay import` with its source, rep, state, times and counts, and
``/imports/{id}``: one of them (docs/design.md §10, §11). A rep sees the imports of their
own addresses (their Salesforce Email and their aliases, as ``/activity``); an admin sees
all; another rep's import is 403.

Every row is the store's ``import_summary``, the very dict `relay import list --json`
prints: the same counts and the same state, where a running import whose process is gone
shows ``stopped`` with why (relay/store/imports.py ``shown_state``). While one shown is
running, the list polls itself with htmx every ``POLL_SECONDS``; when none is, the
swapped-in section carries no trigger and the polling stops. The source never holds a
password: the IMAP URL parser refuses one (relay/importing/imap_protocol.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from relay.console.context import console_of, render, require_user
from relay.console.oauth import SignedInUser
from relay.console.pages_activity import senders_of
from relay.store.imports import RUNNING

POLL_SECONDS = 2
COUNTS = (
    ("read", "read from the source"),
    ("queued", "queued for delivery"),
    ("filtered", "outside --since/--until"),
    ("skipped", "skipped: bad input, machine mail, unmatched"),
    ("logged", "logged to Salesforce"),
    ("duplicate", "logged before (not twice)"),
    ("unresolved", "matched no record"),
    ("failed", "held or quarantined: see the queue"),
    ("pending", "waiting for delivery"),
)


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    """The summary with its times readable (UTC, to the second; the list's to the
    minute)."""
    shown = dict(row)
    for key in ("created_at", "updated_at", "finished_at"):
        value = row[key]
        shown[key] = (
            datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""
        )
    shown["updated_short"] = datetime.fromisoformat(row["updated_at"]).strftime("%Y-%m-%d %H:%M")
    return shown


async def _reps(request: web.Request, user: SignedInUser) -> list[str] | None:
    """The addresses whose imports ``user`` may see; None: all (an admin)."""
    return None if user.is_admin else await senders_of(request, user)


async def imports_page(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    console = console_of(request)
    reps = await _reps(request, user)
    rows = [_shown(row) for row in await console.run(console.store.import_summaries, reps)]
    rows.reverse()  # newest first, as the other lists
    return await render(
        request,
        "imports.html",
        {
            "title": "Imports",
            "rows": rows,
            "every_rep": reps is None,
            "running": any(row["state"] == RUNNING for row in rows),
            "poll_seconds": POLL_SECONDS,
        },
    )


async def import_page(request: web.Request) -> web.StreamResponse:
    user = await require_user(request)
    console = console_of(request)
    summary = await console.run(console.store.summarize_import, request.match_info["id"])
    if summary is None:
        raise web.HTTPNotFound()
    reps = await _reps(request, user)
    if reps is not None and summary["user"] not in {r.lower() for r in reps}:
        raise web.HTTPForbidden(reason="This import is another rep's.")
    row = _shown(summary)
    return await render(
        request,
        "import.html",
        {
            "title": "Import",
            "row": row,
            "counts": COUNTS,
            "running": row["state"] == RUNNING,
            "poll_seconds": POLL_SECONDS,
        },
    )
