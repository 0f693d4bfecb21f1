"""Put the console on the HTTP listener Relay already runs (relay/health.py).

``add_console(app, console)`` adds the middlewares (relay/console/security.py), the
templates (Jinja2 with autoescaping: every subject and name is escaped), the static files
(the stylesheet, a small script, htmx 2 vendored with its licence: nothing is fetched
from elsewhere at run time) and the routes. Health endpoints are left as they are.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from relay.console import (
    pages_activity,
    pages_admin,
    pages_imports,
    pages_senders,
    pages_settings,
    pages_signin,
    pages_tasks,
)
from relay.console.context import CONSOLE_KEY, Console
from relay.console.security import csrf, load_session_key, pages, session_layer
from relay.terminal_text import inert

HERE = Path(__file__).parent

# aiohttp 3.14 warns when a library keys the app with a plain string; aiohttp-session
# and aiohttp-jinja2 still do in places. Scoped to those two modules.
warnings.filterwarnings("ignore", category=web.NotAppKeyWarning, module="aiohttp_session")
warnings.filterwarnings("ignore", category=web.NotAppKeyWarning, module="aiohttp_jinja2")


def add_console(app: web.Application, console: Console) -> None:
    key = load_session_key(console.config.home)
    console.session_key = key
    app.middlewares.extend([session_layer(key, console.secure_cookies), pages, csrf])
    app[CONSOLE_KEY] = console
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        # Email text shows its controls (bidi overrides, zero-width characters) as visible
        # escapes, as the CLI does: escaping stops markup, this stops reordering.
        filters={"inert": inert, "inert_lines": lambda text: inert(text, keep="\n")},
    )
    app.router.add_static("/static/", HERE / "static", append_version=False)
    routes = app.router
    routes.add_get("/", pages_signin.home)
    routes.add_get("/login", pages_signin.login)
    routes.add_get("/auth/callback", pages_signin.callback)
    routes.add_post("/logout", pages_signin.logout)
    routes.add_get("/signed-out", pages_signin.signed_out)
    routes.add_get("/settings", pages_settings.settings_page)
    routes.add_post("/settings/logging", pages_settings.save_logging)
    routes.add_post("/settings/task-sync", pages_settings.save_task_sync)
    routes.add_post("/settings/e2s/activate", pages_settings.activate_e2s)
    routes.add_post("/settings/e2s/check", pages_settings.check_e2s)
    routes.add_post("/settings/senders", pages_senders.add)
    routes.add_get("/settings/senders/confirm", pages_senders.confirm)
    routes.add_post("/settings/senders/remove", pages_senders.remove)
    routes.add_get("/tasks", pages_tasks.tasks_page)
    routes.add_post("/tasks", pages_tasks.add_task)
    routes.add_post("/tasks/{id}/done", pages_tasks.done_task)
    routes.add_post("/tasks/{id}/snooze", pages_tasks.snooze_task)
    routes.add_post("/tasks/{id}/delete", pages_tasks.delete_task)
    routes.add_get("/tasks/{id}/edit", pages_tasks.edit_task_page)
    routes.add_post("/tasks/{id}/edit", pages_tasks.edit_task)
    routes.add_get("/activity", pages_activity.activity_page)
    routes.add_get("/activity/unresolved/{id}/assign", pages_activity.assign_page)
    routes.add_post("/activity/unresolved/{id}/assign", pages_activity.assign)
    routes.add_post("/activity/unresolved/{id}/discard", pages_activity.discard)
    routes.add_get("/imports", pages_imports.imports_page)
    routes.add_get("/imports/{id}", pages_imports.import_page)
    routes.add_get("/admin", pages_admin.admin_page)
    routes.add_post("/admin/queue/{id}/{action}", pages_admin.queue_action)
    routes.add_post("/admin/senders", pages_admin.add_sender)
    routes.add_post("/admin/settings", pages_admin.set_org_setting)
