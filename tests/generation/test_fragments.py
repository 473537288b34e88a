"""Job cards and tiles are rendered once per version of a job (generation.fragments):
what differs per request (the CSRF token, "… ago") and what changes elsewhere
(the job itself, the language, the model's name) must still come out right."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from generation import fragments, services
from generation.models import Job, JobStatus
from tests.factories import StylePresetFactory

pytestmark = pytest.mark.django_db
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PRIVATE_USE = re.compile("[\ue000-\uf8ff]")  # the markers of what is filled in per request


def _done_job(user, offer, django_capture_on_commit_callbacks) -> Job:
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=user, offer=offer, params={"prompt": "a red lighthouse", "outputs": 1})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    return job


def _renders(monkeypatch) -> list[str]:
    """The template names generation.fragments renders from now on."""
    seen: list[str] = []
    real = fragments.get_template

    def counting(name: str):
        seen.append(name)
        return real(name)

    monkeypatch.setattr(fragments, "get_template", counting)
    return seen


def test_a_final_jobs_card_is_rendered_once_and_then_served_from_the_cache(
    alice_client, alice, demo_offer, django_capture_on_commit_callbacks, monkeypatch
):
    _done_job(alice, demo_offer, django_capture_on_commit_callbacks)
    renders = _renders(monkeypatch)
    first = alice_client.get(reverse("image")).content.decode()
    second = alice_client.get(reverse("image")).content.decode()
    assert renders == [fragments.CARD]
    assert "a red lighthouse" in first and "a red lighthouse" in second


def test_a_running_jobs_card_is_rendered_once_per_step_of_the_job(alice_client, alice, demo_offer, monkeypatch):
    job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "slow", "outputs": 1})
    renders = _renders(monkeypatch)

    def poll() -> str:
        body = alice_client.get(reverse("job_card", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
        assert 'hx-trigger="every 2s, mirsam:job"' in body
        return body

    assert all("Waiting for a free slot" in poll() for _ in range(3))
    assert renders == [fragments.CARD]
    services.job_mark_processing(job_id=job.pk)
    assert all("Creating your image" in poll() for _ in range(2))
    assert renders == [fragments.CARD, fragments.CARD]


def test_every_reader_gets_a_csrf_token_of_their_own_that_works(alice, demo_offer, django_capture_on_commit_callbacks):
    job = _done_job(alice, demo_offer, django_capture_on_commit_callbacks)
    for _ in range(2):  # the second browser gets the card from the cache
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(alice)
        page = browser.get(reverse("image")).content.decode()
        token = TOKEN.findall(page[page.index(f'id="job-{job.pk}"') :])[0]
        assert not PRIVATE_USE.search(page)
        with django_capture_on_commit_callbacks(execute=True):
            response = browser.post(reverse("job_regenerate", args=[job.pk]), {"csrfmiddlewaretoken": token})
        assert response.status_code == 302, "the token in the cached card was refused"
    assert Job.objects.filter(parent=job).count() == 2


def test_the_relative_time_is_computed_on_every_request(
    alice_client, alice, demo_offer, django_capture_on_commit_callbacks, monkeypatch
):
    job = _done_job(alice, demo_offer, django_capture_on_commit_callbacks)
    alice_client.get(reverse("dashboard"))  # rendered and kept
    later = timezone.now() + timedelta(hours=3)
    monkeypatch.setattr("django.contrib.humanize.templatetags.humanize.datetime", _FrozenDatetime(later))
    body = alice_client.get(reverse("dashboard")).content.decode()
    assert "3\xa0hours ago" in body or "3 hours ago" in body
    assert not PRIVATE_USE.search(body)
    assert Job.objects.get(pk=job.pk).updated_at == job.updated_at  # same version: served from the cache


class _FrozenDatetime:
    """Stands in for the datetime class humanize reads "now" from."""

    def __init__(self, now) -> None:
        self._now = now

    def now(self, tz=None):
        return self._now if tz is None else self._now.astimezone(tz)

    def __getattr__(self, name: str):
        import datetime

        return getattr(datetime.datetime, name)


def test_a_changed_job_the_language_and_a_renamed_model_each_render_anew(
    alice_client, alice, demo_offer, django_capture_on_commit_callbacks
):
    job = _done_job(alice, demo_offer, django_capture_on_commit_callbacks)
    assert "Regenerate" in alice_client.get(reverse("image")).content.decode()

    job.error_message = "one of two images was not delivered"
    job.save()
    assert "one of two images was not delivered" in alice_client.get(reverse("image")).content.decode()

    arabic = alice_client.get("/ar" + reverse("image")).content.decode()
    assert "Regenerate" not in arabic and "إعادة" in arabic

    demo_offer.name_en = "Renamed demo model"
    demo_offer.save()
    assert "Renamed demo model" in alice_client.get(reverse("image")).content.decode()


def test_a_portraits_style_name_is_looked_up_once_per_job(alice, demo_offer, django_assert_num_queries):
    preset = StylePresetFactory()
    job = Job.objects.create(
        user=alice,
        offer=demo_offer,
        service="avatar",
        params={"prompt": "staff template", "preset": preset.slug, "details": "red scarf", "outputs": 1},
        price_credits=2,
    )
    job = Job.objects.get(pk=job.pk)  # no annotation: the card poll loads a job like this
    with django_assert_num_queries(1):
        summaries = {job.summary for _ in range(3)}
    assert summaries == {f"{preset.name} · red scarf"}


def test_a_polling_card_is_answered_304_while_nothing_on_it_changed(
    alice_client, alice, demo_offer, django_assert_num_queries
):
    job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "slow", "outputs": 1})
    url = reverse("job_card", args=[job.pk])
    first = alice_client.get(url, HTTP_HX_REQUEST="true")
    etag = first["ETag"]
    assert first.status_code == 200 and "no-cache" in first["Cache-Control"] and "private" in first["Cache-Control"]
    with django_assert_num_queries(3):  # the session, the user, card_etag()
        again = alice_client.get(url, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and not again.content

    services.job_mark_processing(job_id=job.pk)  # the job moved on: the full card again
    moved = alice_client.get(url, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=etag)
    assert moved.status_code == 200 and "Creating your image" in moved.content.decode()
    assert moved["ETag"] != etag

    arabic = alice_client.get("/ar" + url, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=moved["ETag"])
    assert arabic.status_code == 200, "another language is another card"

    later = timezone.now() + timedelta(hours=3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("django.contrib.humanize.templatetags.humanize.datetime", _FrozenDatetime(later))
        aged = alice_client.get(url, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=moved["ETag"])
    assert aged.status_code == 200 and "3\xa0hours ago" in aged.content.decode().replace(" hours", "\xa0hours")


def test_someone_elses_card_is_404_whatever_the_etag(alice, charlie_client, demo_offer):
    job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "slow", "outputs": 1})
    response = charlie_client.get(reverse("job_card", args=[job.pk]), HTTP_IF_NONE_MATCH='"anything"')
    assert response.status_code == 404


def test_outputs_carry_the_element_timing_name_the_latency_benchmark_watches(
    alice_client, alice, demo_offer, django_capture_on_commit_callbacks
):
    """bench/latency.py times the first paint of ``elementtiming="job-output"``:
    an image output's ``<img>`` and a video (its poster) carry it."""
    job = _done_job(alice, demo_offer, django_capture_on_commit_callbacks)
    card = reverse("job_card", args=[job.pk])
    html = alice_client.get(card).content.decode()
    image = re.search(r"<img [^>]*>", html[html.index("gallery") :])
    assert image is not None and 'elementtiming="job-output"' in image.group(0)

    asset = job.assets.get()
    asset.content_type, asset.poster = "video/mp4", f"outputs/{alice.pk}/{job.pk}/poster.png"
    asset.save()
    job.save()  # a new version of the job: its card is rendered again
    video = re.search(r"<video [^>]*>", alice_client.get(card).content.decode())
    assert video is not None and 'poster="' in video.group(0) and 'elementtiming="job-output"' in video.group(0)
