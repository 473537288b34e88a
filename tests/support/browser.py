"""Driving Debian's Chromium through Playwright (never a downloaded browser).
The ``page`` fixture in tests/browser/conftest.py launches it with these."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def csp_safe_wait_for_function(page: Any) -> Callable[..., Any]:
    """``page.wait_for_function(expression)`` that works under our CSP.

    Playwright's own compiles the expression with eval inside the page and
    polls it from page timers, which script-src 'self' (no 'unsafe-eval')
    refuses once the first check is false. ``page.evaluate`` goes through the
    DevTools protocol, which the page's CSP does not govern: poll with it.
    ``timeout`` and ``polling`` are milliseconds, as Playwright's; a timeout
    raises AssertionError."""

    def wait_for_function(expression: str, *, arg=None, timeout: float | None = None, polling: float = 100):
        deadline = time.monotonic() + (timeout if timeout is not None else 30_000) / 1000
        while True:
            value = page.evaluate(expression, arg)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression!r}")
            page.wait_for_timeout(polling)

    return wait_for_function


def sign_in(page: Any, base: str, email: str, password: str, prefix: str = "") -> None:
    """Sign in through the login form at ``base + prefix`` (``prefix`` "/ar"
    for Arabic) and wait for the dashboard."""
    page.goto(f"{base}{prefix}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.locator("main form [type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/dashboard/$"))


def open_settings(page) -> None:
    """Unfold the studio form's settings where they are folded (the dock on a
    phone, generation/studio.html); nothing on a desktop."""
    toggle = page.locator("[data-dock-toggle]")
    if toggle.count() and toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false":
        toggle.click()
