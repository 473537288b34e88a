"""Real pages in Debian's Chromium (Playwright), with a real Celery worker:
sign in, generate images, watch the job card finish without a reload, and
the same studio in Arabic, right to left."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import OfferFactory, UserFactory
from tests.support.accounts import fund
from tests.support.browser import sign_in


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
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
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
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


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_polling_card_is_revalidated_not_downloaded_again(page, live_server, monkeypatch):
    """The browser keeps the card and asks with If-None-Match; while the job
    is unchanged the server answers 304 and the card stays on the page."""
    from django.views.decorators import http

    from generation.models import Job

    answered = []  # what the server answered each poll (the browser shows a revalidated copy as 200)
    real = http.get_conditional_response

    def recording(request, *args, **kwargs):
        response = real(request, *args, **kwargs)
        answered.append(304 if response is not None and response.status_code == 304 else 200)
        return response

    monkeypatch.setattr(http, "get_conditional_response", recording)

    user = UserFactory(email="poller@example.com")
    offer = OfferFactory(slug="poll-demo", adapter="demo", price_credits=2, name="Poll demo")
    job = Job.objects.create(
        user=user,
        offer=offer,
        service="image",
        status="processing",
        params={"prompt": "slow", "outputs": 1},
        price_credits=2,
    )
    # Ten minutes old: "10 minutes ago" reads the same for a minute ("… seconds ago" would not).
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    polls = []
    page.on(
        "response",
        lambda r: (
            polls.append((r.status, r.request.all_headers().get("if-none-match")))
            if f"/jobs/{job.pk}/card/" in r.url
            else None
        ),
    )
    sign_in(page, live_server.url, "poller@example.com", "pass-word-123")
    page.goto(f"{live_server.url}/jobs/{job.pk}/")
    page.wait_for_timeout(7_000)  # three or four polls, one every 2 s
    assert len(polls) >= 3, polls
    assert polls[0][1] is None and all(etag == polls[1][1] for _, etag in polls[1:]), polls
    assert answered[0] == 200 and set(answered[1:]) == {304}, answered
    assert page.locator(f"#job-{job.pk}").get_attribute("data-status") == "processing"

    Job.objects.filter(pk=job.pk).update(status="failed", error_message="gave up", updated_at=timezone.now())
    page.locator(f"#job-{job.pk}[data-status=failed]").wait_for(timeout=10_000)
    assert "gave up" in page.locator(f"#job-{job.pk}").inner_text()
