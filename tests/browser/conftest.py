"""Browser fixtures: Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from tests.support.browser import ARGS, CHROMIUM, csp_safe_wait_for_function
from tests.support.env import need


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
        pg.wait_for_function = csp_safe_wait_for_function(pg)
        yield pg
        context.close()
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


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
