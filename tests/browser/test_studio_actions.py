"""Studio details in Debian's Chromium: the Video form shows only the frames
the chosen model takes, a video's Download button stays clear of its
controls, and Regenerate on a feed card puts the new card on top without
leaving the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from generation import services
from generation.models import Job
from providers.models import Offer
from tests.factories import UserFactory
from tests.support.accounts import fund
from tests.support.browser import sign_in
from tests.support.catalogue import install_seeded_catalogue

PASSWORD = "pass-word-123"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_video_form_shows_only_the_frames_the_model_takes(page, live_server, settings):
    install_seeded_catalogue()
    settings.KIE_API_KEY = "kie-test-key"  # the kie.ai models are offered (nothing is sent)
    UserFactory(email="frames@example.com")
    sign_in(page, live_server.url, "frames@example.com", PASSWORD)
    page.goto(f"{live_server.url}/video/")
    last = page.locator("[data-last-frame]")
    first = page.locator("input[name=first_frame]")

    page.select_option("select[name=offer]", str(Offer.objects.get(slug="runway").pk))
    expect(last).to_be_hidden()
    expect(first).to_be_visible()
    page.select_option("select[name=offer]", str(Offer.objects.get(slug="veo3-fast").pk))
    expect(last).to_be_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("width", [390, 1366])
def test_a_videos_download_stays_clear_of_its_controls_and_regenerate_stays_in_place(page, live_server, worker, width):
    install_seeded_catalogue()
    user = UserFactory(email="clip@example.com")
    fund(user, 40)
    job = services.job_submit(user=user, offer=Offer.objects.get(slug="demo-video"), params={"prompt": "a lighthouse"})
    page.set_viewport_size({"width": width, "height": 844 if width < 500 else 768})
    sign_in(page, live_server.url, "clip@example.com", PASSWORD)
    page.goto(f"{live_server.url}/video/")
    video = page.locator(f"#job-{job.pk} video")
    video.wait_for(timeout=90_000)
    button = page.locator(f"#job-{job.pk} .tile__btn")
    box, clip = button.bounding_box(), video.bounding_box()
    assert box is not None and clip is not None
    # The player's controls are its bottom 48 px; the button sits in the top half.
    assert box["y"] + box["height"] <= clip["y"] + clip["height"] / 2

    page.locator(f"#job-{job.pk} form[action$='/regenerate/'] button").click()
    expect(page.locator("#jobs > article").first).not_to_have_id(f"job-{job.pk}")
    assert page.url.endswith("/video/")
    new = Job.objects.filter(user=user).exclude(pk=job.pk).get()
    expect(page.locator(f"#job-{new.pk}")).to_be_visible()
