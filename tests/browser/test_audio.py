"""Audio and talking portraits in Debian's Chromium, with a real Celery worker
on the demo provider: a voice-over is made and plays, in English and Arabic;
a demo portrait speaks a demo speech and the clip plays with its sound; the
Audio and "Make it speak" pages fit a phone and a desktop in both languages."""

from __future__ import annotations

import time

import pytest

from generation import services
from generation.models import Job, JobStatus
from providers.models import Offer
from tests.factories import UserFactory
from tests.support.accounts import fund
from tests.support.browser import sign_in
from tests.support.catalogue import install_seeded_catalogue

PASSWORD = "pass-word-123"


def finished(job: Job, timeout: float = 90) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_final:
            assert job.status == JobStatus.SUCCEEDED, job.error_message
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job.pk} did not finish")


def plays(page, selector: str) -> None:
    """The first element at ``selector`` loads its media and has a length."""
    page.evaluate(f"document.querySelector('{selector}').load()")
    page.wait_for_function(f"document.querySelector('{selector}').readyState >= 2", timeout=30_000)
    assert page.evaluate(f"document.querySelector('{selector}').duration") > 0


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(("prefix", "text"), [("", "Welcome to Mirsam, the studio."), ("/ar", "أهلًا بكم في مرسم")])
def test_a_voice_over_is_made_and_plays(page, live_server, worker, prefix, text):
    install_seeded_catalogue()
    fund(UserFactory(email="voice@example.com", preferred_language=prefix.strip("/") or "en"), 20)
    sign_in(page, live_server.url, "voice@example.com", PASSWORD, prefix=prefix)
    page.goto(f"{live_server.url}{prefix}/audio/?kind=speech")
    assert page.evaluate("document.documentElement.dir") == ("rtl" if prefix else "ltr")
    page.fill("textarea[name=prompt]", text)
    page.locator("#audio-form [type=submit]").click()
    page.locator("#jobs audio").first.wait_for(timeout=90_000)
    plays(page, "#jobs audio")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("prefix", ["", "/ar"])
def test_a_demo_portrait_speaks_and_the_clip_plays(page, live_server, worker, prefix):
    install_seeded_catalogue()
    user = UserFactory(email="speak@example.com", preferred_language=prefix.strip("/") or "en")
    fund(user, 40)
    portrait = services.job_submit(
        user=user, offer=Offer.objects.get(slug="demo-image"), params={"prompt": "a friendly face", "outputs": 1}
    )
    speech = services.job_submit(
        user=user,
        offer=Offer.objects.get(slug="demo-speech"),
        params={"prompt": "Hello, I am speaking to you from a picture.", "voice": "EkK5I93UQWFDigLMpZcX"},
    )
    picture, sound = finished(portrait).assets.get(), finished(speech).assets.get()

    sign_in(page, live_server.url, "speak@example.com", PASSWORD, prefix=prefix)
    page.goto(f"{live_server.url}{prefix}/speak/?picture={picture.pk}&speech={sound.pk}")
    assert page.locator("input[name=picture]:checked").get_attribute("value") == str(picture.pk)
    assert page.locator("input[name=speech]:checked").get_attribute("value") == str(sound.pk)
    page.locator("#speak-form [type=submit]").click()
    page.locator("#jobs video").first.wait_for(timeout=120_000)
    plays(page, "#jobs video")
    job = Job.objects.filter(user=user, offer__slug="demo-talking-portrait").get()
    assert job.params["duration"] == str(int(-(-sound.duration_seconds // 1)))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("width", [390, 1366])
@pytest.mark.parametrize("prefix", ["", "/ar"])
def test_the_audio_pages_fit_phone_and_desktop_in_both_languages(page, live_server, width, prefix):
    install_seeded_catalogue()
    UserFactory(email="fit@example.com", preferred_language=prefix.strip("/") or "en")
    page.set_viewport_size({"width": width, "height": 844 if width < 500 else 768})
    sign_in(page, live_server.url, "fit@example.com", PASSWORD, prefix=prefix)
    for path in ("/audio/", "/audio/?kind=dialogue", "/audio/?kind=music", "/audio/?kind=sound_effect", "/speak/"):
        page.goto(f"{live_server.url}{prefix}{path}")
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{prefix}{path} is {wide} px wide at {width} px"
        if prefix:
            assert page.evaluate("document.documentElement.dir") == "rtl"
