"""My creations as a library in Debian's Chromium, in Arabic on a 390 × 844
phone: an Arabic search, the star (htmx), "select all on this page", and a
page no wider than the screen."""

from __future__ import annotations

import io
import os

import pytest
from django.core.files.base import ContentFile
from PIL import Image
from playwright.sync_api import expect

from generation.models import Asset, Job, JobStatus, Project
from tests.factories import OfferFactory, UserFactory
from tests.support.browser import sign_in

PASSWORD = "pass-word-123"
#: Set to a folder to keep the screenshots this test takes (for a person to look at).
SHOTS = os.environ.get("MIRSAM_SCREENSHOTS", "")


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "PNG")
    return out.getvalue()


def _creation(user, offer, prompt: str, *, colour=(180, 90, 60), kind="image", **fields) -> Job:
    job = Job.objects.create(
        user=user,
        offer=offer,
        service=kind,
        status=JobStatus.SUCCEEDED,
        params={"prompt": prompt, "outputs": 1},
        prompt_text=prompt,
        price_credits=2,
        charged_credits=2,
        **fields,
    )
    asset = Asset(job=job, user=user, content_type="audio/mpeg" if kind == "audio" else "image/png", size_bytes=1)
    asset.file.save("r.mp3" if kind == "audio" else "r.png", ContentFile(b"ID3" if kind == "audio" else _png(colour)))
    return job


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width}px wide"
    # Every control of the filter bar stays inside the bar.
    outside = page.evaluate(
        """() => {
        const bar = document.querySelector('.library-filters').getBoundingClientRect();
        return [...document.querySelectorAll('.library-filters input, .library-filters select')]
            .map(e => e.getBoundingClientRect())
            .filter(r => r.left < bar.left - 0.5 || r.right > bar.right + 0.5).length;
    }"""
    )
    assert outside == 0, f"{outside} filter controls stick out of the filter bar"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_library_in_arabic_on_a_phone(page, live_server):
    user = UserFactory(email="library@example.com")
    offer = OfferFactory(slug="lib-browser", name="Demo image")
    audio = OfferFactory(slug="lib-browser-audio", name="Demo voice", service="audio")
    project = Project.objects.create(user=user, name="حملة رمضان", budget_credits=10)
    cat = _creation(user, offer, "قطة تجلس على سطح المنزل عند الغروب", project=project)
    _creation(user, offer, "A lighthouse in the storm", colour=(40, 80, 160), project=project)
    _creation(user, offer, "منارة قديمة على شاطئ البحر", colour=(60, 140, 90), project=project)
    _creation(user, audio, "مرحبًا بكم في مرسم", kind="audio", project=project)  # 8 of 10 credits: a warning

    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server.url, "library@example.com", PASSWORD, "/ar")
    page.goto(f"{live_server.url}/ar/creations/")
    assert page.locator("html").get_attribute("dir") == "rtl"
    expect(page.locator(".budget-alert")).to_contain_text("80")
    expect(page.locator("article.creation")).to_have_count(4)
    expect(page.locator("article.creation audio[controls]")).to_have_count(1)
    _fits(page)
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/library-ar-390.png", full_page=True)

    page.fill("input[name=q]", "سطح المنزل")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**q=*")
    expect(page.locator("article.creation")).to_have_count(1)
    expect(page.locator(f"#creation-{cat.pk}")).to_be_visible()

    star = page.locator(f"#creation-{cat.pk} .fav-btn")
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(page.locator(f"#creation-{cat.pk} .fav-btn")).to_have_attribute("aria-pressed", "true")
    cat.refresh_from_db()
    assert cat.favourite

    page.goto(f"{live_server.url}/ar/creations/?favourites=1")
    expect(page.locator("article.creation")).to_have_count(1)
    page.goto(f"{live_server.url}/ar/creations/")
    page.check("[data-bulk-all]")
    for box in page.locator("input[data-bulk-item]").all():
        expect(box).to_be_checked()
    expect(page.locator("[data-bulk-count]")).not_to_be_empty()
    _fits(page)
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/library-ar-390-selected.png", full_page=True)
        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto(f"{live_server.url}/creations/")
        page.screenshot(path=f"{SHOTS}/library-en-1366.png", full_page=True)
        page.goto(f"{live_server.url}/ar/projects/")
        page.screenshot(path=f"{SHOTS}/projects-ar-1366.png", full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{live_server.url}/creations/?project={project.pk}")
        page.screenshot(path=f"{SHOTS}/library-en-390-project.png", full_page=True)
        page.goto(f"{live_server.url}/ar/image/")
        page.screenshot(path=f"{SHOTS}/studio-ar-390.png", full_page=True)
