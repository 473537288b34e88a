"""Real pages in Debian's Chromium (Playwright), with a real Celery worker:
sign in, generate images, watch the job card finish without a reload, and
the same studio in Arabic, right to left."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import sign_in
from tests.conftest import fund
from tests.factories import OfferFactory, UserFactory


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_creator_generates_images_and_watches_the_card_finish(page, live_server, worker):
    user = UserFactory(email="browser@example.com")
    fund(user, 30)
    OfferFactory(slug="browser-demo", adapter="demo", price_credits=2, name="Browser demo")

    sign_in(page, live_server.url, "browser@example.com", "pass-word-123")
    page.goto(f"{live_server.url}/image/")
    page.fill("textarea[name=prompt]", "a paper boat on a calm sea")
    page.select_option("select[name=outputs]", "2")
    page.wait_for_function("document.querySelector('#options').innerText.includes('4')")
    page.locator("#image-form [type=submit]").click()

    card = page.locator("#jobs [id^=job-]").first
    card.wait_for()
    # Queued/processing first, then done with two images, no reload.
    card.locator("img").nth(1).wait_for(timeout=60_000)
    assert card.locator("img").count() == 2
    assert page.evaluate("Array.from(document.querySelectorAll('#jobs img')).every(i => i.naturalWidth > 0)")
    page.wait_for_function("document.querySelector('#balance').innerText.includes('26')")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_arabic_studio_is_right_to_left_and_translated(page, live_server):
    UserFactory(email="arabic@example.com", preferred_language="ar")
    sign_in(page, live_server.url, "arabic@example.com", "pass-word-123", prefix="/ar")
    assert page.url.endswith("/ar/dashboard/")
    page.goto(f"{live_server.url}/ar/image/")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("html", "lang") == "ar"
    # Our own catalogue, not a library's: the labels are Arabic, no Latin left.
    for selector in ("#image-form [type=submit]", "h1", "nav"):
        text = page.locator(selector).first.inner_text()
        assert text.strip() and re.search(r"[\u0600-\u06ff]", text), selector
    assert not re.search(r"[A-Za-z]{3,}", page.locator("#image-form [type=submit]").inner_text())
    assert "إنشاء" in page.locator("#image-form [type=submit]").inner_text()
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
