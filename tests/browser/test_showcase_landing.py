"""The landing page with real showcase results (the seeded demo renders) in
Chromium: an Arabic phone (390×844) and an English laptop (1366×768), no
horizontal overflow, every picture loaded, videos with their poster, sound
in a player."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from generation.models import ShowcaseItem
from tests.factories import UserFactory
from tests.support.accounts import with_totp
from tests.support.catalogue import install_seeded_catalogue

NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(
    ("prefix", "width", "height", "direction"), [("/ar", 390, 844, "rtl"), ("", 1366, 768, "ltr")], ids=["ar", "en"]
)
def test_the_landing_page_shows_the_showcase_without_overflow(page, live_server, prefix, width, height, direction):
    install_seeded_catalogue()
    admin = with_totp(UserFactory(email="admin@mirsam.local", is_staff=True, is_superuser=True))
    call_command("seed_showcase", owner=admin.email)
    items = ShowcaseItem.public().count()
    assert items >= 4

    page.set_viewport_size({"width": width, "height": height})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_server.url}{prefix}/", wait_until="networkidle")
    assert page.get_attribute("html", "dir") == direction
    assert page.evaluate(NO_OVERFLOW), page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert page.locator(".showcase-grid .showcase-item").count() == items
    assert page.locator(".service-card video[poster]").count() == 1
    assert page.locator(".service-card audio").count() == 1
    # Pictures load (lazy ones once scrolled into view); no <img> points at a video file.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_load_state("networkidle")
    assert page.evaluate(
        "Array.from(document.querySelectorAll('main img')).every(i => i.complete && i.naturalWidth > 0)"
    )
    assert page.evaluate(NO_OVERFLOW)
    posters = page.evaluate("Array.from(document.querySelectorAll('main video')).map(v => v.poster)")
    assert posters and all(p.endswith("/poster/") for p in posters)
    assert problems == []
