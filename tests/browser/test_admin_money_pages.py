"""The admin's money pages (credit adjustments: the form, the review, the
approval page, the list) fit a 390 px phone and a desktop, in English and in
Arabic (right to left), with nothing wider than the screen."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client

from accounts.models import CreditAdjustment
from tests.factories import UserFactory
from tests.support.accounts import fund, with_totp

SHOTS = None  # set to a directory (e.g. "/tmp/shots") to keep screenshots while working on these pages


def _sign_in_as(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": cookie.key, "value": cookie.value, "url": live_server.url, "httpOnly": True, "sameSite": "Lax"}]
    )


def _fits(page, what: str) -> None:
    width = page.evaluate("document.documentElement.clientWidth")
    widest = page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
    assert widest <= width, f"{what}: {widest}px wide on a {width}px screen"
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{what.replace('/', '_')}.png", full_page=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("prefix", ["", "/ar"])
def test_the_adjustment_pages_fit_phone_and_desktop_in_both_languages(page, live_server, width, prefix):
    staff = with_totp(UserFactory(email="staff@example.com", is_staff=True, is_superuser=True))
    customer = UserFactory(email="a-long-address.for-the-phone@example.com")
    fund(customer, 100)
    pending = CreditAdjustment.objects.create(
        user=customer,
        amount=5000,
        reason="enterprise trial",
        requested_by=UserFactory(email="other@example.com", is_staff=True),
        form_token="x" * 22,
        status=CreditAdjustment.Status.PENDING,
    )
    page.set_viewport_size({"width": width, "height": 800})
    _sign_in_as(page, live_server, staff)
    base = f"{live_server.url}{prefix}/admin"
    tag = f"{width}{prefix or '/en'}"

    page.goto(f"{base}/accounts/user/{customer.pk}/adjust-credits/")
    assert page.evaluate("document.documentElement.dir") == ("rtl" if prefix else "ltr")
    _fits(page, f"{tag}/adjust-form")
    page.fill("input[name=amount]", "25")
    page.fill("input[name=reason]", "apology for a slow job")
    page.locator("#content form [type=submit]").click()
    page.wait_for_selector("input[name=confirm]")
    _fits(page, f"{tag}/adjust-review")
    page.locator("input[name=confirm]").click()
    page.wait_for_url(f"**/accounts/user/{customer.pk}/change/")
    _fits(page, f"{tag}/user-page")

    page.goto(f"{base}/accounts/creditadjustment/{pending.pk}/decide/")
    assert page.locator("input[name=approve]").is_visible()
    _fits(page, f"{tag}/decide")
    page.goto(f"{base}/accounts/creditadjustment/")
    _fits(page, f"{tag}/adjustment-list")
