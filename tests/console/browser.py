"""A real browser for the console's tests: Debian's chromium driven by Playwright's async
API, inside each test's own ``asyncio.run`` (never pytest-playwright, whose event loop
lives for the whole session and breaks the suite's ``asyncio.run`` tests).

``RELAY_CHROMIUM`` names the browser (default ``/usr/bin/chromium``; Playwright's own
browsers cannot be downloaded here). Without it the tests skip and say why, except
under ``CI=true``, where a missing browser is a failure (``.ci/run`` installs it).
Each browser starts with a fresh user-data directory and no background traffic.

Screenshots go to ``RELAY_TEST_SCREENSHOTS`` (default: the test's temporary directory).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium_path() -> str:
    """The browser to drive; skip (fail on CI) when it is not installed."""
    path = os.environ.get("RELAY_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).exists():
        reason = (
            f"no Chromium at {path} (RELAY_CHROMIUM): install Debian's chromium package "
            "(`apt-get install chromium`) to run the console's browser tests"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@asynccontextmanager
async def browser(executable: str) -> AsyncIterator[BrowserContext]:
    """A fresh Chromium (its own user-data directory), closed at the end."""
    with tempfile.TemporaryDirectory(prefix="relay-chromium-") as profile:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=executable,
                headless=True,
                args=list(CHROMIUM_ARGS),
                ignore_https_errors=True,  # the local org's own CA
                viewport={"width": 1200, "height": 900},
            )
            try:
                yield context
            finally:
                await context.close()


async def sign_in(
    page: Page, base: str, username: str, password: str, start: str = "/settings"
) -> None:
    """Open a console page, get sent to the org's login page, log in, come back."""
    await page.goto(base + start)
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log In").click()
    await page.wait_for_url(base + start)


async def screenshot(page: Page, directory: Path, name: str) -> Path:
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
