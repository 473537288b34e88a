"""The studio in Debian's Chromium (issue 17, parts 1 and 2): results first
and the form at hand — a column beside the feed on a desktop, a dock at the
bottom of a phone whose settings fold away — and a card's actions work in
place: Reuse settings fills the form without leaving the page (Back goes
back), Delete asks and then removes the card."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from generation import services
from generation.models import Job, JobStatus
from providers.models import Offer
from tests.factories import UserFactory
from tests.support.accounts import fund
from tests.support.browser import sign_in
from tests.support.catalogue import install_seeded_catalogue

PASSWORD = "pass-word-123"


def _finished(user, prompt):
    job = services.job_submit(user=user, offer=Offer.objects.get(slug="demo-image"), params={"prompt": prompt})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    return job


def _fits(page, width):
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= width, f"{page.url} is {wide} px wide at {width} px"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_on_a_desktop_the_results_come_first_and_the_form_stays_beside_them(page, live_server):
    install_seeded_catalogue()
    user = UserFactory(email="desk@example.com")
    fund(user, 40)
    for n in range(4):  # a feed longer than the screen
        _finished(user, f"a red fox in the snow, take {n}")
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, live_server.url, "desk@example.com", PASSWORD)
    page.goto(f"{live_server.url}/image/")
    feed, panel = page.locator(".studio__feed").bounding_box(), page.locator("#studio-panel").bounding_box()
    assert feed and panel
    assert feed["x"] < panel["x"] and feed["width"] > panel["width"] * 1.5  # wide, and at the start
    expect(page.locator("[data-dock-toggle]")).to_be_hidden()  # nothing folded on a desktop
    expect(page.locator("select[name=offer]")).to_be_visible()
    page.mouse.wheel(0, 1200)
    page.wait_for_timeout(300)
    assert page.evaluate("window.scrollY") > 600
    panel_after = page.locator("#studio-panel").bounding_box()
    assert panel_after and panel_after["y"] >= 0  # sticky: still in view
    _fits(page, 1366)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_on_an_arabic_phone_the_form_is_a_dock_whose_settings_fold(page, live_server):
    install_seeded_catalogue()
    user = UserFactory(email="dock@example.com", preferred_language="ar")
    fund(user, 40)
    job = _finished(user, "ثعلب أحمر في الثلج")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server.url, "dock@example.com", PASSWORD, prefix="/ar")
    page.goto(f"{live_server.url}/ar/image/")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    card, panel = page.locator(f"#job-{job.pk}").bounding_box(), page.locator("#studio-panel").bounding_box()
    assert card and panel
    assert card["y"] < panel["y"]  # the result first
    assert panel["y"] + panel["height"] <= 844 + 1  # the dock is on screen
    expect(page.locator("textarea[name=prompt]")).to_be_visible()
    expect(page.locator("#image-form [type=submit]")).to_be_visible()
    expect(page.locator("select[name=offer]")).to_be_hidden()  # folded
    toggle = page.locator("[data-dock-toggle]")
    assert "الإعدادات" in toggle.inner_text()
    toggle.click()
    expect(page.locator("select[name=offer]")).to_be_visible()
    assert toggle.get_attribute("aria-expanded") == "true"
    _fits(page, 390)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("width", [390, 1366])
def test_reuse_fills_the_form_in_place_and_delete_removes_the_card(page, live_server, width):
    install_seeded_catalogue()
    user = UserFactory(email="again@example.com")
    fund(user, 40)
    keep = _finished(user, "a lighthouse at dusk")
    gone = _finished(user, "a paper boat")
    page.set_viewport_size({"width": width, "height": 844 if width < 500 else 768})
    sign_in(page, live_server.url, "again@example.com", PASSWORD)
    page.goto(f"{live_server.url}/image/")
    page.evaluate("window.stillHere = true")

    page.locator(f"#job-{keep.pk} a[data-action-form]", has_text="Reuse settings").click()
    expect(page.locator("textarea[name=prompt]")).to_have_value("a lighthouse at dusk")
    assert page.evaluate("window.stillHere === true")  # the same page, not a new one
    assert page.url.endswith(f"/image/?reuse={keep.pk}")
    page.go_back()
    expect(page.locator("textarea[name=prompt]")).to_have_value("")
    assert page.url.endswith("/image/")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#job-{gone.pk} .job-card__more > summary").click()
    page.locator(f"#job-{gone.pk} .menu__item", has_text="Delete").click()
    expect(page.locator(f"#job-{gone.pk}")).to_have_count(0)
    assert not Job.objects.filter(pk=gone.pk).exists()
    expect(page.locator(f"#job-{keep.pk}")).to_be_visible()
    _fits(page, width)
