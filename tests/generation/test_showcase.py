"""The showcase: a creator allows Mirsam to feature a finished result (and
withdraws it at any time), staff pick results (only their own, or ones whose
owner allowed it), the landing page shows picked results at once, and
``/showcase/<item id>/`` serves a file only while its item is public."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from generation import services, showcase
from generation.errors import GenerationError
from generation.models import Asset, Job, JobStatus, ShowcaseItem
from tests.factories import OfferFactory, UserFactory
from tests.support.accounts import with_totp
from tests.support.catalogue import install_seeded_catalogue

pytestmark = pytest.mark.django_db

PRIVATE = b"\x89PNG private bytes of a result nobody allowed"
PNG_HEADER = b"\x89PNG"


def _result(user, *, service="image", content_type="image/png", data=b"", poster=False, status=JobStatus.SUCCEEDED):
    """A finished job of ``user`` with one result (the bytes given)."""
    offer = OfferFactory(service=service)
    job = Job.objects.create(
        user=user, offer=offer, service=service, status=status, params={"prompt": "a red lighthouse"}, price_credits=0
    )
    asset = Asset(job=job, user=user, content_type=content_type)
    suffix = {"image/png": "png", "video/mp4": "mp4", "audio/mpeg": "mp3"}[content_type]
    asset.file.save(f"r.{suffix}", ContentFile(data or f"{service}-{job.pk}-bytes".encode()), save=False)
    if poster:
        asset.poster.save("p.png", ContentFile(b"\x89PNG poster"), save=False)
    asset.size_bytes = asset.file.size
    asset.save()
    return asset


def _allow(asset) -> ShowcaseItem:
    return services.showcase_permit(user=asset.user, asset=asset, version=showcase.CURRENT_VERSION)


def _shown(asset, staff, **fields) -> ShowcaseItem:
    """``asset`` allowed by its owner and picked by ``staff``."""
    item = _allow(asset)
    for name, value in fields.items():
        setattr(item, name, value)
    return services.showcase_pick(staff=staff, item=item)


def _landing(client: Client, prefix: str = "") -> str:
    response = client.get(f"{prefix}/")
    assert response.status_code == 200
    return response.content.decode()


# --- the owner's permission -----------------------------------------------------


def test_the_owner_allows_and_withdraws_a_result_from_the_jobs_page(alice_client, alice):
    asset = _result(alice)
    page = alice_client.get(reverse("job_detail", args=[asset.job_id])).content.decode()
    assert "Allow Mirsam to feature this in the showcase" in page and 'aria-checked="false"' in page
    assert str(showcase.current_wording()) in page, "the wording is shown with the switch"

    url = reverse("job_showcase", args=[asset.job_id, asset.pk])
    response = alice_client.post(url, {"allow": "1", "version": showcase.CURRENT_VERSION}, follow=True)
    assert "Mirsam may feature this result" in response.content.decode()
    item = ShowcaseItem.objects.get(asset=asset)
    assert item.permission_by == alice and item.permission_version == showcase.CURRENT_VERSION
    assert item.permission_at is not None and item.withdrawn_at is None and item.picked_at is None
    assert 'aria-checked="true"' in response.content.decode()

    response = alice_client.post(url, {"allow": "0"}, follow=True)
    assert "no longer shown publicly" in response.content.decode()
    item.refresh_from_db()
    assert item.withdrawn_at is not None and not item.owner_allows
    assert item.permission_at is not None, "the record of the first permission stays"

    alice_client.post(url, {"allow": "1", "version": showcase.CURRENT_VERSION})
    item.refresh_from_db()
    assert item.owner_allows, "allowing again clears the withdrawal"


def test_a_permission_without_the_current_wording_is_refused(alice_client, alice):
    asset = _result(alice)
    url = reverse("job_showcase", args=[asset.job_id, asset.pk])
    for version in ("", "2020-01-01"):
        response = alice_client.post(url, {"allow": "1", "version": version}, follow=True)
        assert "The wording of the permission has changed" in response.content.decode()
    assert not ShowcaseItem.objects.exists()


def test_only_the_owner_can_allow_or_withdraw(alice, charlie, charlie_client, alice_client):
    asset = _result(alice)
    url = reverse("job_showcase", args=[asset.job_id, asset.pk])
    assert charlie_client.post(url, {"allow": "1", "version": showcase.CURRENT_VERSION}).status_code == 404
    # Charlie's own job with Alice's result in the URL: still nothing.
    theirs = _result(charlie)
    other = reverse("job_showcase", args=[theirs.job_id, asset.pk])
    assert charlie_client.post(other, {"allow": "1", "version": showcase.CURRENT_VERSION}).status_code == 404
    assert alice_client.get(url).status_code == 405, "POST only"
    with pytest.raises(GenerationError) as refused:
        services.showcase_permit(user=charlie, asset=asset, version=showcase.CURRENT_VERSION)
    assert refused.value.code == "not_owner"
    with pytest.raises(GenerationError):
        services.showcase_withdraw(user=charlie, asset=asset)
    assert not ShowcaseItem.objects.exists()


def test_an_unfinished_result_cannot_be_allowed_and_its_page_has_no_switch(alice, alice_client):
    asset = _result(alice, status=JobStatus.PROCESSING)
    with pytest.raises(GenerationError) as refused:
        _allow(asset)
    assert refused.value.code == "not_finished"
    page = alice_client.get(reverse("job_detail", args=[asset.job_id])).content.decode()
    assert "Allow Mirsam to feature this" not in page


# --- staff picks ------------------------------------------------------------------


def test_staff_cannot_pick_a_result_its_owner_did_not_allow(alice, staff):
    asset = _result(alice)
    with pytest.raises(GenerationError) as refused:
        services.showcase_pick(staff=staff, item=ShowcaseItem(asset=asset))
    assert refused.value.code == "pick_refused"
    assert "has not allowed" in refused.value.message
    assert not ShowcaseItem.objects.exists()
    # The model's own check says the same for a pick made around the service.
    item = ShowcaseItem(asset=asset, picked_by=staff, picked_at=timezone.now())
    with pytest.raises(ValidationError, match="has not allowed"):
        item.full_clean()


def test_staff_pick_an_allowed_result_and_a_withdrawal_takes_it_down(alice, staff):
    asset = _result(alice)
    item = _shown(asset, staff)
    assert item.picked_by == staff and item.picked_at is not None
    assert list(ShowcaseItem.public()) == [item]
    services.showcase_withdraw(user=alice, asset=asset)
    assert not ShowcaseItem.public().exists()
    with pytest.raises(GenerationError, match="withdrew"):
        services.showcase_pick(staff=staff, item=ShowcaseItem.objects.get(pk=item.pk))
    item.refresh_from_db()
    with pytest.raises(ValidationError, match="withdrew"):
        item.full_clean()


def test_staff_may_pick_their_own_result_which_records_their_permission(staff):
    asset = _result(staff)
    item = services.showcase_pick(staff=staff, item=ShowcaseItem(asset=asset))
    assert item.permission_by == staff and item.permission_version == showcase.CURRENT_VERSION
    assert item.is_public


def test_only_staff_pick_and_only_finished_results(alice, staff):
    own = _result(alice)
    with pytest.raises(GenerationError, match="Only staff"):
        services.showcase_pick(staff=alice, item=ShowcaseItem(asset=own))
    running = _result(staff, status=JobStatus.PROCESSING)
    with pytest.raises(GenerationError, match="finished"):
        services.showcase_pick(staff=staff, item=ShowcaseItem(asset=running))


def test_a_pick_reads_the_owners_latest_answer_not_the_one_the_form_saw(alice, staff):
    asset = _result(alice)
    stale = _allow(asset)  # the form was shown while it was allowed
    services.showcase_withdraw(user=alice, asset=asset)
    with pytest.raises(GenerationError, match="withdrew"):
        services.showcase_pick(staff=staff, item=stale)
    assert not ShowcaseItem.public().exists()


# --- the admin --------------------------------------------------------------------


def _add_form(asset, **extra):
    return {
        "asset": asset.pk,
        "position": 0,
        "caption_en": "A lighthouse",
        "caption_ar": "منارة",
        "is_active": "on",
        "featured": "on",
        **extra,
    }


def test_the_admin_refuses_to_feature_a_result_without_its_owners_permission(staff_client, alice):
    asset = _result(alice)
    response = staff_client.post(reverse("admin:generation_showcaseitem_add"), _add_form(asset))
    assert response.status_code == 200, "the form comes back with the error"
    assert "Its owner has not allowed Mirsam to feature this result." in response.content.decode()
    assert not ShowcaseItem.objects.exists()


def test_the_admin_features_the_staff_members_own_result(staff_client, staff):
    asset = _result(staff)
    response = staff_client.post(reverse("admin:generation_showcaseitem_add"), _add_form(asset))
    assert response.status_code == 302
    item = ShowcaseItem.objects.get(asset=asset)
    assert item.is_public and item.picked_by == staff and item.caption_ar == "منارة"


def test_the_admin_features_an_allowed_result_from_its_row(staff_client, staff, alice):
    asset = _result(alice)
    item = _allow(asset)
    # Adding it again names the row it already has.
    response = staff_client.post(reverse("admin:generation_showcaseitem_add"), _add_form(asset))
    assert f"already in the showcase list (item {item.pk})" in response.content.decode()
    change = reverse("admin:generation_showcaseitem_change", args=[item.pk])
    assert staff_client.get(change).status_code == 200
    form = _add_form(asset)
    del form["asset"]
    assert staff_client.post(change, form).status_code == 302
    item.refresh_from_db()
    assert item.is_public and item.picked_by == staff
    # Unticking "featured" takes it down; the owner's permission stays.
    del form["featured"]
    staff_client.post(change, form)
    item.refresh_from_db()
    assert item.picked_at is None and item.owner_allows and not item.is_public


def test_the_admin_action_refuses_withdrawn_results_with_a_clear_message(staff_client, staff, alice):
    allowed = _allow(_result(alice))
    withdrawn_asset = _result(alice)
    withdrawn = _allow(withdrawn_asset)
    services.showcase_withdraw(user=alice, asset=withdrawn_asset)
    response = staff_client.post(
        reverse("admin:generation_showcaseitem_changelist"),
        {"action": "feature_selected", "_selected_action": [allowed.pk, withdrawn.pk]},
        follow=True,
    )
    body = response.content.decode()
    assert f"#{withdrawn.pk}: Its owner withdrew their permission to feature this result." in body
    assert list(ShowcaseItem.public()) == [ShowcaseItem.objects.get(pk=allowed.pk)]


def test_the_admin_list_filters_and_previews_only_allowed_results(staff_client, staff, alice):
    shown = _shown(_result(alice), staff)
    waiting = _allow(_result(alice))
    url = reverse("admin:generation_showcaseitem_changelist")
    for state in ("", "shown", "waiting", "withdrawn"):
        assert staff_client.get(url, {"state": state} if state else {}).status_code == 200
    preview = reverse("admin:generation_showcaseitem_preview", args=[waiting.pk])
    assert staff_client.get(preview).status_code == 200
    services.showcase_withdraw(user=alice, asset=waiting.asset)
    assert staff_client.get(preview).status_code == 404, "withdrawn: staff see it no more"
    assert staff_client.get(reverse("admin:generation_showcaseitem_preview", args=[shown.pk])).status_code == 200


def test_the_admin_pages_are_translated(staff_client, staff):
    _shown(_result(staff), staff)
    body = staff_client.get("/ar" + reverse("admin:generation_showcaseitem_changelist")).content.decode()
    assert "عناصر المعرض" in body
    assert "عرض النتائج المحددة" in body  # the action


# --- public files -------------------------------------------------------------------


def test_a_public_item_is_served_to_anyone(alice, staff):
    item = _shown(_result(alice, data=b"\x89PNG shown bytes"), staff)
    response = Client().get(reverse("showcase_file", args=[item.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"\x89PNG shown bytes"
    assert response["Content-Type"] == "image/png"
    assert "public" not in response["Cache-Control"], "never kept by a shared cache"
    download = Client().get(reverse("showcase_file", args=[item.pk]), {"download": "1"})
    assert "attachment" not in download.get("Content-Disposition", "")
    ranged = Client().get(reverse("showcase_file", args=[item.pk]), HTTP_RANGE="bytes=0-3")
    assert ranged.status_code == 206 and b"".join(ranged.streaming_content) == PNG_HEADER


def test_no_id_reaches_a_result_that_is_not_showcased(alice, staff):
    private = _result(alice, data=PRIVATE)
    allowed_only = _allow(_result(alice, data=b"allowed, never picked"))
    shown = _shown(_result(alice, data=b"shown"), staff)
    visitor = Client()
    top = max(private.pk, allowed_only.asset_id, shown.asset_id, shown.pk) + 3
    for pk in range(0, top):
        for name in ("showcase_file", "showcase_poster"):
            response = visitor.get(reverse(name, args=[pk]))
            if response.status_code == 200:
                assert pk == shown.pk and name == "showcase_file", (name, pk)
                assert b"".join(response.streaming_content) == b"shown"
            else:
                assert response.status_code == 404, (name, pk)
    # The owner's own file route stays private.
    assert visitor.get(reverse("asset_file", args=[shown.asset_id])).status_code == 302  # to the login page


def test_a_withdrawn_inactive_or_unpicked_item_404s(alice, staff):
    asset = _result(alice, content_type="video/mp4", poster=True)
    item = _shown(asset, staff)
    visitor = Client()
    for name in ("showcase_file", "showcase_poster"):
        assert visitor.get(reverse(name, args=[item.pk])).status_code == 200
    services.showcase_withdraw(user=alice, asset=asset)
    for name in ("showcase_file", "showcase_poster"):
        assert visitor.get(reverse(name, args=[item.pk])).status_code == 404

    other = _shown(_result(alice), staff)
    ShowcaseItem.objects.filter(pk=other.pk).update(is_active=False)
    assert visitor.get(reverse("showcase_file", args=[other.pk])).status_code == 404
    ShowcaseItem.objects.filter(pk=other.pk).update(is_active=True)
    services.showcase_unpick(item=ShowcaseItem.objects.get(pk=other.pk))
    assert visitor.get(reverse("showcase_file", args=[other.pk])).status_code == 404
    assert visitor.get(reverse("showcase_poster", args=[other.pk])).status_code == 404, "an image has no poster"


def test_deleting_the_creation_deletes_its_showcase_item(alice, staff, django_capture_on_commit_callbacks):
    item = _shown(_result(alice), staff)
    with django_capture_on_commit_callbacks(execute=True):
        services.job_delete(job=item.asset.job)
    assert not ShowcaseItem.objects.exists()
    assert Client().get(reverse("showcase_file", args=[item.pk])).status_code == 404


# --- the landing page -----------------------------------------------------------------


def test_the_landing_page_shows_picked_results_each_as_its_kind(alice, staff):
    image = _shown(_result(alice), staff, caption_en="A lighthouse", caption_ar="منارة")
    video = _shown(_result(alice, service="video", content_type="video/mp4", poster=True), staff)
    audio = _shown(_result(alice, service="audio", content_type="audio/mpeg"), staff)
    avatar = _shown(_result(alice, service="avatar"), staff)
    not_picked = _allow(_result(alice))
    body = _landing(Client())
    assert f'src="/showcase/{image.pk}/"' in body and "A lighthouse" in body
    assert re.search(rf'<video [^>]*src="/showcase/{video.pk}/"[^>]*poster="/showcase/{video.pk}/poster/"', body)
    assert not re.search(rf'<img [^>]*src="/showcase/{video.pk}/"', body), "never an <img> of a video file"
    assert re.search(rf'<audio [^>]*src="/showcase/{audio.pk}/"', body)
    assert not re.search(rf'<img [^>]*src="/showcase/{audio.pk}/"', body)
    assert f"/showcase/{avatar.pk}/" in body
    assert f"/showcase/{not_picked.pk}/" not in body
    assert "alice@example.com" not in body and "a red lighthouse" not in body, "no owner, no prompt"
    # Each service's card shows its own example.
    cards = re.findall(r'<article class="card service-card">.*?</article>', body, flags=re.S)
    assert len(cards) == 4
    arabic = _landing(Client(), "/ar")
    assert "منارة" in arabic


def test_without_items_the_landing_page_shows_no_fake_work(alice):
    _allow(_result(alice))  # allowed but not picked: not shown
    body = _landing(Client())
    assert "/showcase/" not in body
    assert "hero__art" not in body and "showcase-grid" not in body
    assert "frame--" not in body, "no gradient placeholders"
    assert "hero__grid--solo" in body
    assert body.count('class="card card-link service-card"') == 4


# --- the page cache -----------------------------------------------------------------


def test_picks_and_withdrawals_show_at_once_on_the_kept_landing_page(alice, alice_client, staff):
    visitor = Client()
    assert "/showcase/" not in _landing(visitor)  # kept, empty
    assert "/showcase/" not in _landing(alice_client)
    asset = _result(alice)
    item = _shown(asset, staff, caption_en="First caption")
    for reader in (visitor, alice_client):
        assert f"/showcase/{item.pk}/" in _landing(reader)
    ShowcaseItem.objects.filter(pk=item.pk).update(caption_en="Second caption")
    assert "Second caption" in _landing(visitor)
    services.showcase_withdraw(user=alice, asset=asset)
    for reader in (visitor, alice_client):
        assert f"/showcase/{item.pk}/" not in _landing(reader)


def test_the_kept_anonymous_landing_page_costs_one_query(alice, staff, django_assert_num_queries):
    _shown(_result(alice), staff)
    _landing(Client())
    with django_assert_num_queries(1):  # the showcase's (and catalogue's) version
        _landing(Client())


# --- seeding ------------------------------------------------------------------------


@pytest.fixture
def catalogue(db):
    install_seeded_catalogue()


def test_seeding_makes_real_demo_examples_once(catalogue, settings):
    admin = with_totp(UserFactory(email="admin@mirsam.local", is_staff=True, is_superuser=True))
    call_command("seed_showcase", owner=admin.email)
    items = list(ShowcaseItem.public().select_related("asset__job"))
    assert {i.asset.job.service for i in items} == {"image", "avatar", "video", "audio"}
    assert all(i.asset.user == admin and i.picked_by == admin and i.caption_ar for i in items)
    for item in items:
        asset = item.asset
        head = asset.file.open("rb").read(12)
        asset.file.close()
        if asset.is_video:
            assert head[4:8] == b"ftyp" and asset.poster
        elif asset.is_audio:
            assert head[:3] == b"ID3" or head[:2] == b"\xff\xfb"
        else:
            assert head.startswith(PNG_HEADER) and asset.width and asset.height
    jobs = Job.objects.filter(user=admin).count()
    # A second run makes nothing new and leaves staff's own changes alone.
    services.showcase_unpick(item=items[0])
    call_command("seed_showcase", owner=admin.email)
    assert Job.objects.filter(user=admin).count() == jobs
    assert ShowcaseItem.objects.count() == len(items)
    assert ShowcaseItem.public().count() == len(items) - 1
    body = _landing(Client())
    assert body.count("/showcase/") >= len(items) - 1


def test_seeding_needs_a_staff_owner(alice):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("seed_showcase", owner=alice.email)


# --- the studio's empty feed ------------------------------------------------------


def test_an_empty_studio_feed_shows_showcase_examples_of_its_service_until_the_first_job(
    alice_client, alice, charlie, staff
):
    image = _shown(_result(charlie), staff)
    video = _shown(_result(charlie, service="video", content_type="video/mp4", poster=True), staff)
    page = alice_client.get(reverse("image")).content.decode()
    assert reverse("showcase_file", args=[image.pk]) in page
    assert reverse("showcase_file", args=[video.pk]) not in page  # another service's example
    assert (
        f'poster="{reverse("showcase_poster", args=[video.pk])}"' in alice_client.get(reverse("video")).content.decode()
    )
    services.showcase_withdraw(user=charlie, asset=image.asset)  # the kept page follows at once
    assert reverse("showcase_file", args=[image.pk]) not in alice_client.get(reverse("image")).content.decode()
    _shown(_result(charlie), staff)
    _result(alice)  # alice's own work now fills her feed
    assert "showcase-grid" not in alice_client.get(reverse("image")).content.decode()
