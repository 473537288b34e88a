"""Browser fixtures: Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import copy
import os
import re
import time
from pathlib import Path

import pytest

from tests.conftest import need

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def page():
    need(Path(CHROMIUM).exists(), f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        need(False, "the playwright package is not installed")
    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # the test makes between page actions are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        pg.wait_for_function = _csp_safe_wait_for_function(pg)
        yield pg
        context.close()
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _csp_safe_wait_for_function(page):
    """``page.wait_for_function(expression)`` that works under our CSP.

    Playwright's own compiles the expression with eval inside the page and
    polls it from page timers, which script-src 'self' (no 'unsafe-eval')
    refuses once the first check is false. ``page.evaluate`` goes through the
    DevTools protocol, which the page's CSP does not govern: poll with it."""

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


def sign_in(page, base: str, email: str, password: str, prefix: str = "") -> None:
    page.goto(f"{base}{prefix}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.locator("main form [type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/dashboard/$"))


@pytest.fixture(autouse=True)
def _form_action_allows_the_stripe_standin(request, settings):
    """Our buy and portal forms are answered with a 303 to Stripe's hosted pages,
    which the CSP's form-action allows by origin (config/settings.py); Chromium
    enforces form-action on that redirect, so the stand-in's origin takes their place."""
    if "stripe_standin" not in request.fixturenames:
        return
    standin = request.getfixturevalue("stripe_standin")
    policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    policy["DIRECTIVES"]["form-action"] = [*policy["DIRECTIVES"]["form-action"], standin.url]
    settings.CONTENT_SECURITY_POLICY = policy
