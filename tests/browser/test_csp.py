"""The Content Security Policy in Chromium: every page loads with no violation
(no inline script, style attribute or injected <style> of ours or htmx's), in
production mode and in DEBUG, where django-htmx's debug script loads too."""

from __future__ import annotations

import pytest

from generation import services
from tests.factories import OfferFactory, UserFactory
from tests.support.accounts import fund
from tests.support.browser import sign_in

SIGNED_IN_PAGES = [
    "/dashboard/",
    "/image/",
    "/video/",
    "/avatar/",
    "/audio/",
    "/audio/?kind=music",
    "/speak/",
    "/creations/",
    "/pricing/",
    "/billing/",
    "/credits/history/",
    "/account/settings/",
    "/ar/dashboard/",
    "/ar/creations/",
]


def _watch(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return problems


def _visit(page, url: str) -> None:
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, url
    page.wait_for_timeout(150)  # let htmx initialise (DOMContentLoaded) and settle


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_every_page_loads_without_a_csp_violation(page, live_server, settings, debug):
    settings.DEBUG = debug  # the live server renders in this process
    user = UserFactory(email="csp@example.com")
    fund(user, 30)
    offer = OfferFactory(slug="csp-demo", adapter="demo", price_credits=2, name="CSP demo")
    job = services.job_submit(user=user, offer=offer, params={"prompt": "a lighthouse", "outputs": 1})
    problems = _watch(page)

    _visit(page, f"{live_server.url}/")
    _visit(page, f"{live_server.url}/accounts/login/")
    sign_in(page, live_server.url, "csp@example.com", "pass-word-123")
    for path in [*SIGNED_IN_PAGES, f"/jobs/{job.pk}/"]:
        _visit(page, f"{live_server.url}{path}")
        assert page.evaluate("typeof window.htmx") == "object", path
        assert page.evaluate("document.querySelectorAll('head style').length") == 0, path
        assert page.evaluate("getComputedStyle(document.querySelector('svg.icon-sprite')).position") == "absolute"

    _visit(page, f"{live_server.url}/creations/")
    assert page.evaluate("Array.from(document.querySelectorAll('main img')).every(i => i.naturalWidth > 0)")
    _visit(page, f"{live_server.url}/dashboard/")
    min_width = "getComputedStyle(document.querySelector('.grid--min-220')).getPropertyValue('--min')"
    assert page.evaluate(min_width).strip() == "220px"  # a class now, not style=""

    # django-htmx's debug helper: a file of ours ('self'), present in DEBUG only.
    debug_scripts = page.locator("script[src*='django-htmx.js']").count()
    assert debug_scripts >= 1 if debug else debug_scripts == 0
    assert problems == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_dj_stripes_admin_pages_load_without_a_csp_violation_and_show_the_spinner(page, live_server, settings):
    """Our overrides of dj-stripe's admin templates (templates/djstripe/admin/):
    styled from static files, and the "Working…" spinner driven by admin.js."""
    from django.test import Client
    from djstripe.models import Product

    from tests.support.accounts import with_totp

    staff = with_totp(UserFactory(email="csp-staff@example.com", is_staff=True, is_superuser=True))
    product = Product.objects.create(id="prod_csp", livemode=False, stripe_data={"name": "Pack"})
    client = Client()
    client.force_login(staff)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    problems = _watch(page)

    _visit(page, f"{live_server.url}/admin/djstripe/product/{product.pk}/change/")
    warning = "getComputedStyle(document.querySelector('.stripe-confirmation-warning')).paddingTop"
    assert page.evaluate(warning) == "16px"

    _visit(page, f"{live_server.url}/admin/djstripe/product/")
    page.select_option("select[name=action]", "_sync_all_instances")
    page.click("button[name=index]")
    page.wait_for_selector("#form_custom_action")
    assert page.is_hidden("#div_spinner") and page.is_visible("#main_content")
    page.evaluate("document.getElementById('form_custom_action').dispatchEvent(new Event('submit'))")
    assert page.is_visible("#div_spinner") and page.is_hidden("#main_content")
    assert problems == []
