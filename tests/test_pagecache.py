"""Whole studio pages are kept per version of what they show (config.pagecache):
an unchanged page costs one query beyond the session, and every change a
reader could see on it (balance, jobs, catalogue, e-mail, language, flash
messages) shows at once; what differs per request (CSRF token, "… ago")
never comes from the cache."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import F, QuerySet
from django.test import Client
from django.urls import reverse
from django.utils import translation

from config import pagecache
from credits.models import Wallet
from credits.services import credits_grant
from generation import services
from generation.consent import CURRENT_VERSION
from generation.models import Asset, Job, JobStatus, Project, ShowcaseItem
from tests.factories import OfferFactory, StylePresetFactory
from tests.support.uploads import photo

pytestmark = pytest.mark.django_db
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
ANY_TOKEN = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": "|form_token" value="|form-token" value=")[^"]+')
STUDIO_PAGES = ["dashboard", "image", "video", "avatar", "creations", "landing"]


def _done_job(user, offer, capture, prompt: str = "a red lighthouse") -> Job:
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
    assert 'hx-trigger="every 2s, mirsam:job"' in _page(alice_client, "image"), "the new job's card polls"

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
    preset = StylePresetFactory()
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
    assert 'dir="rtl"' in arabic and "Welcome to Mirsam" not in arabic  # a first visit: no creation yet
    translation.activate("en")  # the Arabic request left Arabic active in this thread (reverse() would prefix)
    assert "Welcome to Mirsam" in _page(alice_client, "dashboard")


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
    # No session, no user, nothing of theirs to look up: one statement reads the
    # version of what everyone sees (the showcase, so a pick shows at once).
    with django_assert_num_queries(1):
        page = _page(second, "landing")
    token = TOKEN.findall(page)[0]
    response = second.post(reverse("language_set"), {"language": "ar", "csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_htmx_requests_are_never_answered_from_the_cache(alice_client, monkeypatch):
    _page(alice_client, "image")
    looked_up = []
    real = pagecache.page_version
    monkeypatch.setattr(pagecache, "page_version", lambda user, names: looked_up.append(user) or real(user, names))
    response = alice_client.get(reverse("image"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and looked_up == []
    _page(alice_client, "image")
    assert len(looked_up) == 1


def test_the_avatar_page_shows_a_new_or_deleted_upload_at_once(alice_client, alice, django_capture_on_commit_callbacks):
    assert "Your uploaded photos" not in _page(alice_client, "avatar")  # kept without uploads
    # Photos given with consent, as the Avatar page takes them (it lists only photos of people).
    upload = services.upload_create(user=alice, file=photo(), consent_version=CURRENT_VERSION)
    first_url = reverse("upload_file", args=[upload.pk])
    assert first_url in _page(alice_client, "avatar")
    second = services.upload_create(user=alice, file=photo(), consent_version=CURRENT_VERSION)
    second_url = reverse("upload_file", args=[second.pk])
    body = _page(alice_client, "avatar")
    assert first_url in body and second_url in body
    with django_capture_on_commit_callbacks(execute=True):
        services.upload_delete(upload=upload)
    body = _page(alice_client, "avatar")
    assert first_url not in body and second_url in body


# --- every write to a tracked model moves its version ---------------------------


def _make_wallet(user, offer):
    credits_grant(user=user, amount=5, idempotency_key="pagecache-test", reason="test")
    return Wallet.objects.get(user=user)


def _make_job(user, offer):
    return Job.objects.create(user=user, offer=offer, service=offer.service, params={"prompt": "x"}, price_credits=2)


def _make_upload(user, offer):
    return services.upload_create(user=user, file=photo())


def _make_project(user, offer):
    return Project.objects.create(user=user, name="Ramadan campaign")


def _make_style_preset(user, offer):
    return StylePresetFactory()


def _make_offer(user, offer):
    return OfferFactory()


def _make_showcase(user, offer):
    job = _make_job(user, offer)
    asset = Asset.objects.create(job=job, user=user, file="outputs/x.png", content_type="image/png")
    return ShowcaseItem.objects.create(asset=asset, caption="x")


#: How to make a row of each part the apps declare (their versions.TRACKED).
MAKERS = {
    "wallet": _make_wallet,
    "jobs": _make_job,
    "uploads": _make_upload,
    "projects": _make_project,
    "style_presets": _make_style_preset,
    "offers": _make_offer,
    "showcase": _make_showcase,
}


def test_every_tracked_part_has_a_maker_here():
    assert set(MAKERS) == set(pagecache.tracked()), "add a maker for the new part, so its writes are tested"


def _plain_field(model) -> str:
    """A field a write can name that is neither the key, a stamp nor a relation."""
    stamps = set(pagecache.stamp_fields(model))
    return next(
        f.name
        for f in model._meta.concrete_fields
        if not (f.primary_key or f.is_relation or f.name in stamps or getattr(f, "auto_now_add", False))
    )


def _writes(obj):
    """Every way code writes a row: (description, write)."""
    model = type(obj)
    field = _plain_field(model)
    return [
        ("save()", lambda: obj.save()),
        (f"save(update_fields=[{field!r}])", lambda: obj.save(update_fields=[field])),
        (f"update({field}=...)", lambda: model.objects.filter(pk=obj.pk).update(**{field: F(field)})),
        (f"bulk_update([...], [{field!r}])", lambda: model.objects.bulk_update([obj], [field])),
    ]


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_every_write_to_a_tracked_model_changes_its_version(name, alice, demo_offer):
    part = pagecache.tracked()[name]
    obj = MAKERS[name](alice, demo_offer)
    version = pagecache.page_version(alice, [name])
    if part.columns:  # read as they are: changing any of them is a new version
        for column in part.columns:
            moment = isinstance(part.model._meta.get_field(column), models.DateTimeField)
            part.model.objects.filter(pk=obj.pk).update(**{column: F(column) + (timedelta(seconds=1) if moment else 1)})
            assert pagecache.page_version(alice, [name]) != version, f"{column} changed, the version did not"
            version = pagecache.page_version(alice, [name])
        return
    for label, write in [("create", lambda: MAKERS[name](alice, demo_offer)), *_writes(obj), ("delete", obj.delete)]:
        time.sleep(0.002)  # stamps are compared by time; let the clock move
        write()
        now = pagecache.page_version(alice, [name])
        assert now != version, f"{part.model.__name__}: {label} did not change the page version"
        version = now


def test_the_guard_above_catches_a_write_that_skips_the_stamp(alice, demo_offer):
    """The guard can fail: an update through Django's own QuerySet.update (no
    stamp) leaves the version as it was, which the test above would report."""
    job = _make_job(alice, demo_offer)
    version = pagecache.page_version(alice, ["jobs"])
    time.sleep(0.002)
    QuerySet.update(Job.objects.filter(pk=job.pk), service=F("service"))
    assert pagecache.page_version(alice, ["jobs"]) == version


def test_a_page_naming_an_undeclared_part_is_refused(alice):
    with pytest.raises(ImproperlyConfigured):
        pagecache.page_version(alice, ["no-such-part"])


# --- user text is never read as a marker ----------------------------------------

FORGED = [
    "cat \ue001" + "9" * 400 + "\ue001",  # the old "… ago" marker with a timestamp that overflows
    "a \ue000csrf\ue000 b",  # the old CSRF marker
    "x \ue0011700000000.0\ue001 y",  # a well-formed old "… ago" marker
]


@pytest.mark.parametrize("prompt", FORGED)
def test_user_text_that_looks_like_a_marker_is_shown_as_written(
    prompt, alice_client, alice, demo_offer, django_capture_on_commit_callbacks
):
    job = _done_job(alice, demo_offer, django_capture_on_commit_callbacks, prompt=prompt)
    urls = [reverse(name) for name in ("image", "dashboard", "creations")]
    urls += [reverse("job_card", args=[job.pk]), reverse("job_detail", args=[job.pk])]
    for url in urls * 2:  # rendered, then kept
        response = alice_client.get(url)
        assert response.status_code == 200, url
        assert prompt[:30] in response.content.decode(), f"{url} changed the prompt"  # tiles shorten it
    assert prompt in alice_client.get(reverse("job_detail", args=[job.pk])).content.decode()


def test_markers_hold_a_key_derived_from_the_secret_key(settings):
    assert "csrf" in pagecache.csrf_marker() and "\ue000csrf\ue000" not in pagecache.csrf_marker()
    key = pagecache._marker_key()
    assert len(key) == 24 and key in pagecache.csrf_marker()
