"""Whole studio pages are kept per version of what they show (generation.pages):
an unchanged page costs one query beyond the session, and every change a
reader could see on it (balance, jobs, catalogue, e-mail, language, flash
messages) shows at once; what differs per request (CSRF token, "… ago")
never comes from the cache."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from credits.services import credits_grant
from generation import pages, services
from generation.models import Job, JobStatus, StylePreset
from tests.support.uploads import photo

pytestmark = pytest.mark.django_db
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
ANY_TOKEN = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+')
STUDIO_PAGES = ["dashboard", "image", "video", "avatar", "creations", "landing"]


def _done_job(user, offer, capture, prompt: str = "a red lighthouse") -> Job:  # noqa: ANN001
    with capture(execute=True):
        job = services.job_submit(user=user, offer=offer, params={"prompt": prompt, "outputs": 1})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    return job


def _page(client: Client, name: str, prefix: str = "") -> str:
    response = client.get(prefix + reverse(name))
    assert response.status_code == 200
    body = response.content.decode()
    assert not PRIVATE_USE.search(body), "a marker was left in the page"
    return body


@pytest.mark.parametrize("name", STUDIO_PAGES)
def test_an_unchanged_page_is_served_from_the_cache_for_one_query(
    name, alice_client, alice, demo_offer, django_capture_on_commit_callbacks, django_assert_num_queries
):
    _done_job(alice, demo_offer, django_capture_on_commit_callbacks)
    first = _page(alice_client, name)
    with django_assert_num_queries(3):  # the session, the user, studio_version()
        second = _page(alice_client, name)
    assert ANY_TOKEN.sub(r"\1", first) == ANY_TOKEN.sub(r"\1", second)
    assert "alice@example.com" in second


def test_a_page_is_rendered_again_for_every_change_a_reader_could_see(
    alice_client, alice, demo_offer, django_capture_on_commit_callbacks
):
    job = _done_job(alice, demo_offer, django_capture_on_commit_callbacks)
    for name in STUDIO_PAGES:
        _page(alice_client, name)  # kept

    newer = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a blue harbour", "outputs": 1})
    for name in ("dashboard", "image", "creations"):
        assert "a blue harbour" in _page(alice_client, name)
    assert 'hx-trigger="every 2s"' in _page(alice_client, "image"), "the new job's card polls"

    services.job_mark_processing(job_id=newer.pk)
    assert "Creating your image" in _page(alice_client, "image")

    services.job_delete(job=job)
    assert "a red lighthouse" not in _page(alice_client, "creations")

    demo_offer.name_en = "Renamed demo model"
    demo_offer.save()
    assert "Renamed demo model" in _page(alice_client, "image")

    alice.email = "alice.new@example.com"
    alice.save()
    assert "alice.new@example.com" in _page(alice_client, "dashboard")


def test_a_renamed_style_shows_on_the_portraits_in_every_page(alice_client, alice, demo_offer):
    preset = StylePreset.objects.filter(is_active=True).first()
    Job.objects.create(
        user=alice,
        offer=demo_offer,
        service="avatar",
        status=JobStatus.FAILED,
        params={"prompt": "staff template", "preset": preset.slug, "details": "red scarf", "outputs": 1},
        price_credits=2,
    )
    assert f"{preset.name} · red scarf" in _page(alice_client, "dashboard")
    preset.name_en = "Renamed style"
    preset.save()
    assert "Renamed style · red scarf" in _page(alice_client, "dashboard")


def test_the_balance_on_the_page_follows_the_wallet(alice_client, alice):
    assert 'class="num">100<' in _page(alice_client, "dashboard")
    credits_grant(user=alice, amount=7, idempotency_key="test-more", reason="test")
    body = _page(alice_client, "dashboard")
    assert 'class="num">107<' in body
    assert "107" in body[body.index('id="balance"') :][:400], "the header's balance"


def test_pages_are_per_user(alice_client, charlie_client, alice, demo_offer, django_capture_on_commit_callbacks):
    _done_job(alice, demo_offer, django_capture_on_commit_callbacks, prompt="the secret lighthouse of alice")
    for name in ("dashboard", "image", "creations"):
        assert "the secret lighthouse of alice" in _page(alice_client, name)
        theirs = _page(charlie_client, name)
        assert "the secret lighthouse of alice" not in theirs and "charlie@example.com" in theirs


def test_each_language_has_its_own_page(alice_client):
    assert 'dir="ltr"' in _page(alice_client, "dashboard")
    arabic = _page(alice_client, "dashboard", prefix="/ar")
    assert 'dir="rtl"' in arabic and "Welcome back" not in arabic
    translation.activate("en")  # the Arabic request left Arabic active in this thread (reverse() would prefix)
    assert "Welcome back" in _page(alice_client, "dashboard")


def test_flash_messages_are_shown_once_and_such_a_page_is_not_kept(
    alice_client, alice, demo_offer, django_capture_on_commit_callbacks
):
    job = _done_job(alice, demo_offer, django_capture_on_commit_callbacks)
    _page(alice_client, "creations")  # kept
    response = alice_client.post(reverse("job_delete", args=[job.pk]), follow=True)
    assert "The creation was deleted." in response.content.decode()
    again = _page(alice_client, "creations")
    assert "The creation was deleted." not in again, "the message came back from a kept page"
    assert "a red lighthouse" not in again


@pytest.mark.parametrize("name", ["dashboard", "image", "landing"])
def test_every_reader_gets_a_csrf_token_of_their_own_that_works(name, alice):
    tokens = []
    for _ in range(2):  # the second browser gets the page from the cache
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(alice)
        page = _page(browser, name)
        token = TOKEN.findall(page)[0]
        assert f'"X-CSRFToken": "{token}"' in page, "the page's htmx header carries the same token"
        response = browser.post(reverse("language_set"), {"language": "ar", "csrfmiddlewaretoken": token})
        assert response.status_code == 302, "the token in the kept page was refused"
        tokens.append(token)
    assert tokens[0] != tokens[1]


def test_the_anonymous_landing_page_is_kept_and_its_forms_work(django_assert_num_queries):
    browser = Client(enforce_csrf_checks=True)
    assert "Sign up" in _page(browser, "landing")
    second = Client(enforce_csrf_checks=True)
    with django_assert_num_queries(0):  # no session, no user, nothing of theirs to look up
        page = _page(second, "landing")
    token = TOKEN.findall(page)[0]
    response = second.post(reverse("language_set"), {"language": "ar", "csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_htmx_requests_are_never_answered_from_the_cache(alice_client, monkeypatch):
    _page(alice_client, "image")
    looked_up = []
    real = pages.studio_version
    monkeypatch.setattr(pages, "studio_version", lambda user, **kw: looked_up.append(user) or real(user, **kw))
    response = alice_client.get(reverse("image"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and looked_up == []
    _page(alice_client, "image")
    assert len(looked_up) == 1


def test_the_avatar_page_shows_a_new_or_deleted_upload_at_once(alice_client, alice, django_capture_on_commit_callbacks):
    assert "Your uploaded photos" not in _page(alice_client, "avatar")  # kept without uploads
    upload = services.upload_create(user=alice, file=photo())
    first_url = reverse("upload_file", args=[upload.pk])
    assert first_url in _page(alice_client, "avatar")
    second_url = reverse("upload_file", args=[services.upload_create(user=alice, file=photo()).pk])
    body = _page(alice_client, "avatar")
    assert first_url in body and second_url in body
    with django_capture_on_commit_callbacks(execute=True):
        services.upload_delete(upload=upload)
    body = _page(alice_client, "avatar")
    assert first_url not in body and second_url in body
