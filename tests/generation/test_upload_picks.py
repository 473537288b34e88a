"""Earlier uploads and results picked again as a job's inputs: a Video
frame from the creator's finished images or uploaded images, the Avatar
page's earlier photos (consent asked again), each id checked to be the
creator's own; and the Avatar page lists only photos of people."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from credits.models import Wallet
from generation import services
from generation.consent import CURRENT_VERSION
from generation.models import Consent, Job, JobStatus, StylePreset, Upload
from tests.factories import OfferFactory
from tests.support.uploads import photo

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def video_offer(db):
    """A demo video model that starts on a first frame and may end on a last one."""
    return OfferFactory(
        slug="t-picks-video",
        service="video",
        adapter="demo",
        provider_model="demo/video",
        price_credits=3,
        options={
            "params": {"duration": {"choices": ["2", "4"], "default": "2"}},
            "cost": {"usd": "0.10", "times": {"duration": {"4": "2"}}},
            "max_outputs": 1,
            "inputs": {"min": 0, "max": 2, "roles": ["first_frame", "last_frame"]},
        },
    )


@pytest.fixture
def avatar_offer(db):
    return OfferFactory(
        slug="t-picks-avatar",
        service="avatar",
        adapter="demo",
        provider_model="demo/avatar",
        price_credits=1,
        options={"params": {}, "max_outputs": 4, "inputs": {"min": 1, "max": 3, "roles": ["photo"]}},
    )


@pytest.fixture
def preset(db):
    return StylePreset.objects.create(slug="t-pick-style", name="Cartoon", prompt_template="Cartoon. {details}")


@pytest.fixture
def earlier_image(alice, demo_offer, django_capture_on_commit_callbacks):
    """One of alice's finished images (a demo picture)."""
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a red door", "outputs": 1})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    return job.assets.get()


def _video(client, offer, **data):
    body = {"service": "video", "offer": offer.pk, "prompt": "the door opens", "outputs": 1, "duration": "4"}
    return client.post(reverse("job_create"), {**body, **data}, **HX)


def _held(user):
    return Wallet.objects.get(user=user).held


def test_an_earlier_result_is_the_first_frame_and_the_models_price_is_held(
    alice_client, alice, video_offer, earlier_image
):
    uploads_before = Upload.objects.count()
    response = _video(alice_client, video_offer, first_frame_asset=str(earlier_image.pk))
    assert response.status_code == 200
    job = Job.objects.get(offer=video_offer)
    assert [(i.role, i.upload_id, i.asset_id) for i in job.inputs.all()] == [("first_frame", None, earlier_image.pk)]
    assert job.price_credits == video_offer.price_for(outputs=1, params={"duration": "4"}) == 6
    assert job.hold.amount == 6 and _held(alice) == 6
    assert Upload.objects.count() == uploads_before  # nothing was uploaded anew


def test_an_earlier_upload_is_used_again_as_the_first_frame_and_the_clip_is_made(
    alice_client, alice, video_offer, django_capture_on_commit_callbacks
):
    frame = services.upload_create(user=alice, file=photo("frame.png", (640, 360), "PNG"))
    with django_capture_on_commit_callbacks(execute=True):
        _video(alice_client, video_offer, first_frame_upload=str(frame.pk), duration="2")
    job = Job.objects.get(offer=video_offer)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert [(i.role, i.upload_id) for i in job.inputs.all()] == [("first_frame", frame.pk)]
    assert job.price_credits == 3 and job.charged_credits == 3
    assert list(Upload.objects.values_list("pk", flat=True)) == [frame.pk]  # the stored copy, not a new one


def test_a_picked_first_frame_comes_before_an_uploaded_last_frame(alice_client, alice, video_offer, earlier_image):
    _video(alice_client, video_offer, first_frame_asset=str(earlier_image.pk), last_frame=photo("end.jpg"))
    job = Job.objects.get(offer=video_offer)
    inputs = [(i.position, i.role, i.asset_id is not None, i.upload_id is not None) for i in job.inputs.all()]
    assert inputs == [(0, "first_frame", True, False), (1, "last_frame", False, True)]


@pytest.mark.parametrize("field", ["first_frame_asset", "first_frame_upload"])
def test_someone_elses_result_or_upload_is_a_404_and_nothing_is_held(
    charlie_client, charlie, alice, video_offer, earlier_image, field
):
    theirs = earlier_image.pk if field.endswith("asset") else services.upload_create(user=alice, file=photo()).pk
    jobs_before = Job.objects.count()
    response = _video(charlie_client, video_offer, **{field: str(theirs)})
    assert response.status_code == 404
    assert Job.objects.count() == jobs_before and _held(charlie) == 0


def test_an_id_that_is_not_a_number_is_a_404(alice_client, alice, video_offer):
    assert _video(alice_client, video_offer, first_frame_upload="1 OR 1=1").status_code == 404
    assert not Job.objects.filter(offer=video_offer).exists() and _held(alice) == 0


def test_a_recording_forged_as_a_frame_is_refused_clearly(alice_client, alice, video_offer):
    recording = Upload(user=alice, content_type="audio/mpeg", size_bytes=3, sha256="0" * 64, duration_seconds=2)
    recording.file.save("voice.mp3", ContentFile(b"ID3"), save=True)
    response = _video(alice_client, video_offer, first_frame_upload=str(recording.pk))
    assert response["HX-Retarget"] == "#form-errors"
    assert "This needs an image." in response.content.decode()
    assert not Job.objects.exists() and _held(alice) == 0


def test_a_file_that_is_not_an_image_is_refused_and_not_kept(alice_client, alice, video_offer):
    forged = SimpleUploadedFile("frame.png", b"<?php echo 'hi'; ?>" * 20, content_type="image/png")
    response = _video(alice_client, video_offer, first_frame=forged)
    assert response["HX-Retarget"] == "#form-errors"
    assert "not an image we can read" in response.content.decode()
    assert not Job.objects.exists() and not Upload.objects.exists() and _held(alice) == 0


def test_a_file_and_a_pick_for_one_frame_are_refused(alice_client, alice, video_offer, earlier_image):
    response = _video(alice_client, video_offer, first_frame=photo(), first_frame_asset=str(earlier_image.pk))
    assert "Choose one first frame" in response.content.decode()
    assert not Job.objects.filter(offer=video_offer).exists() and not Upload.objects.exists()


def test_a_picked_last_frame_needs_a_first(alice_client, alice, video_offer, earlier_image):
    response = _video(alice_client, video_offer, last_frame_asset=str(earlier_image.pk))
    assert "Add a first frame to end on a last frame." in response.content.decode()
    assert not Job.objects.filter(offer=video_offer).exists()


def test_the_video_page_offers_earlier_images_and_uploads_as_frames(alice_client, alice, video_offer, earlier_image):
    frame = services.upload_create(user=alice, file=photo())
    body = alice_client.get(reverse("video")).content.decode()
    assert f'name="first_frame_asset" value="{earlier_image.pk}"' in body
    assert f'name="first_frame_upload" value="{frame.pk}"' in body
    assert f'name="last_frame_upload" value="{frame.pk}"' in body


def _avatar(client, offer, preset, *, files=(), again=(), consent=True):
    data = {
        "offer": offer.pk,
        "preset": preset.pk,
        "outputs": 1,
        "details": "",
        "consent_version": CURRENT_VERSION,
        "photos": list(files),
        "photo_upload": [str(pk) for pk in again],
    }
    if consent:
        data["consent"] = "on"
    return client.post(reverse("avatar_create"), data, **HX)


def test_an_earlier_photo_is_picked_again_with_consent_asked_again(
    alice_client, alice, avatar_offer, preset, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _avatar(alice_client, avatar_offer, preset, files=[photo()])
    first = Upload.objects.get()
    refused = _avatar(alice_client, avatar_offer, preset, again=[first.pk], consent=False)
    assert "consent" in refused.content.decode().lower()
    assert Job.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        _avatar(alice_client, avatar_offer, preset, again=[first.pk])
    job = Job.objects.latest("id")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert [(i.role, i.upload_id) for i in job.inputs.all()] == [("photo", first.pk)]
    assert Upload.objects.count() == 1
    assert Consent.objects.filter(upload=first, version=CURRENT_VERSION).count() == 2  # one per job


def test_a_new_photo_and_an_earlier_one_count_together(alice_client, alice, avatar_offer, preset):
    earlier = [
        services.upload_create(user=alice, file=photo(f"{i}.jpg"), consent_version=CURRENT_VERSION) for i in "ab"
    ]
    response = _avatar(
        alice_client, avatar_offer, preset, files=[photo("c.jpg"), photo("d.jpg")], again=[u.pk for u in earlier]
    )
    assert "at most 3" in response.content.decode()
    assert Upload.objects.count() == 2 and not Job.objects.exists()


def test_someone_elses_photo_cannot_be_picked(charlie_client, charlie, alice, avatar_offer, preset):
    theirs = services.upload_create(user=alice, file=photo(), consent_version=CURRENT_VERSION)
    assert _avatar(charlie_client, avatar_offer, preset, again=[theirs.pk]).status_code == 404
    assert not Job.objects.exists() and _held(charlie) == 0


def test_the_avatar_page_lists_photos_of_people_not_video_frames(
    alice_client, alice, avatar_offer, preset, video_offer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _avatar(alice_client, avatar_offer, preset, files=[photo("me.jpg")])
        _video(alice_client, video_offer, first_frame=photo("frame.jpg"), duration="2")
    portrait = Upload.objects.get(original_name="me.jpg")
    frame = Upload.objects.get(original_name="frame.jpg")
    given = services.upload_create(user=alice, file=photo("new.jpg"), consent_version=CURRENT_VERSION)
    body = alice_client.get(reverse("avatar")).content.decode()
    assert reverse("upload_file", args=[portrait.pk]) in body
    assert reverse("upload_file", args=[given.pk]) in body  # given with consent, no job yet
    assert reverse("upload_file", args=[frame.pk]) not in body
    assert f'name="photo_upload" value="{portrait.pk}"' in body


def test_a_deleted_upload_is_no_longer_offered_as_a_frame(alice_client, alice, video_offer):
    frame = services.upload_create(user=alice, file=photo())
    offered = f'name="first_frame_upload" value="{frame.pk}"'
    assert offered in alice_client.get(reverse("video")).content.decode()
    services.upload_delete(upload=frame)
    assert offered not in alice_client.get(reverse("video")).content.decode()  # the kept page follows uploads


def test_a_new_photo_and_an_earlier_one_make_one_job_each_with_its_consent(alice_client, alice, avatar_offer, preset):
    earlier = services.upload_create(user=alice, file=photo("a.jpg"), consent_version=CURRENT_VERSION)
    _avatar(alice_client, avatar_offer, preset, files=[photo("b.jpg")], again=[earlier.pk])
    job = Job.objects.get()
    new = Upload.objects.get(original_name="b.jpg")
    assert [i.upload_id for i in job.inputs.all()] == [new.pk, earlier.pk]
    assert Consent.objects.filter(upload=earlier).count() == 2 and Consent.objects.filter(upload=new).count() == 1
