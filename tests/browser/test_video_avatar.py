"""Video and Avatar in Debian's Chromium, with a real Celery worker: the demo
video plays in the page's player, a real photo becomes portrait variants,
and the Arabic pages are right to left."""

from __future__ import annotations

import re

import pytest
from PIL import Image, ImageDraw

from generation.models import StylePreset
from tests.factories import OfferFactory, UserFactory
from tests.support.accounts import fund
from tests.support.browser import sign_in


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_demo_video_plays_in_the_player(page, live_server, worker):
    fund(UserFactory(email="video@example.com"), 20)
    OfferFactory(
        slug="browser-video",
        service="video",
        adapter="demo",
        provider_model="demo/video",
        price_credits=2,
        name="Demo motion",
        options={
            "params": {"duration": {"choices": ["4"], "default": "4"}},
            "max_outputs": 1,
            "inputs": {"min": 0, "max": 1, "roles": ["first_frame"]},
        },
    )
    sign_in(page, live_server.url, "video@example.com", "pass-word-123")
    page.goto(f"{live_server.url}/video/")
    page.fill("textarea[name=prompt]", "a lighthouse beam sweeping over the sea")
    page.locator("#video-form [type=submit]").click()
    video = page.locator("#jobs video").first
    video.wait_for(timeout=90_000)
    page.wait_for_function("document.querySelector('#jobs video').readyState >= 2", timeout=30_000)
    assert page.evaluate("document.querySelector('#jobs video').duration") > 3
    assert page.evaluate("document.querySelector('#jobs video').videoWidth") > 0


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_photo_becomes_portrait_variants(page, live_server, worker, tmp_path):
    fund(UserFactory(email="avatar@example.com"), 20)
    OfferFactory(
        slug="browser-avatar",
        service="avatar",
        adapter="demo",
        provider_model="demo/avatar",
        price_credits=1,
        name="Demo stylist",
        options={"params": {}, "max_outputs": 4, "inputs": {"min": 1, "max": 3, "roles": ["photo"]}},
    )
    StylePreset.objects.create(slug="b-cartoon", name="Cartoon hero", prompt_template="Cartoon. {details}")
    img = Image.new("RGB", (480, 600), (235, 200, 170))
    draw = ImageDraw.Draw(img)
    draw.ellipse([140, 120, 340, 380], fill=(200, 150, 120))
    draw.rectangle([120, 400, 360, 600], fill=(40, 60, 140))
    path = tmp_path / "me.jpg"
    img.save(path, "JPEG")

    sign_in(page, live_server.url, "avatar@example.com", "pass-word-123")
    page.goto(f"{live_server.url}/avatar/")
    page.set_input_files("input[name=photos]", str(path))
    page.select_option("select[name=outputs]", "3")
    page.locator("#avatar-form [type=submit]").click()
    assert (
        "consent" in page.locator("#form-errors").inner_text().lower()
        or page.locator("input[name=consent]:invalid").count() == 1
    )  # the browser or the server asks for consent first
    page.check("input[name=consent]")
    page.locator("#avatar-form [type=submit]").click()
    card = page.locator("#jobs [id^=job-]").first
    card.locator("img").nth(2).wait_for(timeout=90_000)
    assert card.locator("img").count() == 3
    assert page.evaluate("Array.from(document.querySelectorAll('#jobs img')).every(i => i.naturalWidth > 0)")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("path", ["/ar/video/", "/ar/avatar/"])
def test_the_arabic_video_and_avatar_pages_are_right_to_left(page, live_server, path):
    UserFactory(email="rtl@example.com", preferred_language="ar")
    sign_in(page, live_server.url, "rtl@example.com", "pass-word-123", prefix="/ar")
    page.goto(f"{live_server.url}{path}")
    assert page.get_attribute("html", "dir") == "rtl"
    assert re.search(r"[\u0600-\u06ff]", page.locator("h1").inner_text())
