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
from generation.models import Job, JobStatus, StylePreset

pytestmark = pytest.mark.django_db
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _done_job(user, offer, django_capture_on_commit_callbacks) -> Job:
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=user, offer=offer, params={"prompt": "a red lighthouse", "outputs": 1})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    return job


def _renders(monkeypatch) -> list[str]:  # noqa: ANN001
    """The template names generation.fragments renders from now on."""
    seen: list[str] = []
    real = fragments.get_template

    def counting(name: str):  # noqa: ANN202
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


def test_a_running_job_is_rendered_every_time(alice_client, alice, demo_offer, monkeypatch):
    job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "slow", "outputs": 1})
    renders = _renders(monkeypatch)
    for _ in range(2):
        body = alice_client.get(reverse("job_card", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
        assert 'hx-trigger="every 2s"' in body
    assert renders == [fragments.CARD, fragments.CARD]


def test_every_reader_gets_a_csrf_token_of_their_own_that_works(alice, demo_offer, django_capture_on_commit_callbacks):
    job = _done_job(alice, demo_offer, django_capture_on_commit_callbacks)
    for _ in range(2):  # the second browser gets the card from the cache
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(alice)
        page = browser.get(reverse("image")).content.decode()
        token = TOKEN.findall(page[page.index(f'id="job-{job.pk}"') :])[0]
        assert fragments._CSRF not in page
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
    assert fragments._WHEN not in body
    assert Job.objects.get(pk=job.pk).updated_at == job.updated_at  # same version: served from the cache


class _FrozenDatetime:
    """Stands in for the datetime class humanize reads "now" from."""

    def __init__(self, now) -> None:  # noqa: ANN001
        self._now = now

    def now(self, tz=None):  # noqa: ANN001, ANN201
        return self._now if tz is None else self._now.astimezone(tz)

    def __getattr__(self, name: str):  # noqa: ANN204
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
    preset = StylePreset.objects.filter(is_active=True).first()
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
