"""The Video and Avatar pages: uploads, consent, options, extend, privacy."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from credits.models import Wallet
from generation import services
from generation.consent import CURRENT_VERSION
from generation.models import Consent, Job, JobStatus, ProviderTask, StylePreset, Upload
from providers.models import ProviderCall
from tests.factories import OfferFactory
from tests.support.uploads import photo

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def avatar_offer(db):
    return OfferFactory(
        slug="t-avatar",
        service="avatar",
        adapter="demo",
        provider_model="demo/avatar",
        price_credits=1,
        options={"params": {}, "max_outputs": 4, "inputs": {"min": 1, "max": 3, "roles": ["photo"]}},
    )


@pytest.fixture
def video_offer(db):
    return OfferFactory(
        slug="t-video",
        service="video",
        adapter="demo",
        provider_model="demo/video",
        price_credits=2,
        options={
            "params": {
                "duration": {"choices": ["4", "6"], "default": "4"},
                "aspect_ratio": {"choices": ["16:9", "9:16"], "default": "16:9"},
            },
            # 2 credits at the defaults (the override): 6 s costs 1.5 times as much (3 credits), so does an extend.
            "cost": {"usd": "0.10", "times": {"duration": {"6": "1.5"}}, "extend_usd": "0.15"},
            "max_outputs": 1,
            "inputs": {"min": 0, "max": 1, "roles": ["first_frame"]},
        },
    )


@pytest.fixture
def preset(db):
    return StylePreset.objects.create(
        slug="t-cartoon", name="Cartoon", prompt_template="Cartoon of the person. {details}", demo_style="cartoon"
    )


def _avatar_post(client, offer, preset, files, *, consent=True, outputs=2, **extra):
    data = {
        "offer": offer.pk,
        "preset": preset.pk,
        "outputs": outputs,
        "details": "red scarf",
        "consent_version": CURRENT_VERSION,
        "photos": files,
        **extra,
    }
    if consent:
        data["consent"] = "on"
    return client.post(reverse("avatar_create"), data, **HX)


def test_the_avatar_page_shows_limits_presets_and_the_consent_wording(alice_client, avatar_offer, preset):
    body = alice_client.get(reverse("avatar")).content.decode()
    assert "Cartoon" in body and "256" in body and "JPEG, PNG or WebP" in body
    assert 'name="consent"' in body and "I am the person in these photos" in body
    assert f'value="{CURRENT_VERSION}"' in body
    assert reverse("privacy") + "#photos" in body


def test_portraits_are_made_from_a_photo_with_consent_recorded(
    alice_client, alice, avatar_offer, preset, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _avatar_post(alice_client, avatar_offer, preset, [photo()])
    assert response.status_code == 200
    job = Job.objects.get(user=alice)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.assets.count() == 2
    assert job.params["prompt"] == "Cartoon of the person. red scarf"
    upload = Upload.objects.get(user=alice)
    consent = Consent.objects.get(user=alice)
    assert (consent.upload, consent.version) == (upload, CURRENT_VERSION)
    assert job.inputs.get().upload == upload
    variant = Image.open(job.assets.first().file)
    assert variant.size[0] * 5 == variant.size[1] * 4  # the photo's 4:5 shape


def test_without_consent_nothing_is_stored_or_sent(alice_client, alice, avatar_offer, preset):
    response = _avatar_post(alice_client, avatar_offer, preset, [photo()], consent=False)
    assert response["HX-Retarget"] == "#form-errors"
    assert "consent" in response.content.decode().lower()
    assert not Upload.objects.exists() and not Job.objects.exists() and not Consent.objects.exists()


def test_a_changed_consent_wording_must_be_confirmed_again(alice_client, avatar_offer, preset):
    response = _avatar_post(alice_client, avatar_offer, preset, [photo()], consent_version="1999-01-01")
    assert response["HX-Retarget"] == "#form-errors"
    assert not Upload.objects.exists()


def _big_file():
    class Big(io.BytesIO):
        size = 60 * 1024 * 1024

    f = SimpleUploadedFile("huge.jpg", b"\xff\xd8\xff" + b"0" * 1024, content_type="image/jpeg")
    f.size = 60 * 1024 * 1024
    return f


def _bomb():
    buf = io.BytesIO()
    Image.new("1", (12000, 12000)).save(buf, "PNG")
    return SimpleUploadedFile("bomb.png", buf.getvalue(), content_type="image/png")


def _truncated():
    data = photo().read()
    return SimpleUploadedFile("cut.jpg", data[: len(data) // 2], content_type="image/jpeg")


@pytest.mark.parametrize(
    "make",
    [
        lambda: SimpleUploadedFile("notes.jpg", b"just some text, not an image", content_type="image/jpeg"),
        _truncated,
        _bomb,
        lambda: SimpleUploadedFile(
            "x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', content_type="image/svg+xml"
        ),
        _big_file,
        lambda: photo("anim.gif", fmt="GIF"),
        lambda: photo("tiny.jpg", size=(100, 100)),
    ],
    ids=["text renamed .jpg", "truncated jpeg", "decompression bomb", "svg", "60 MB", "gif", "too small"],
)
def test_a_refused_file_gets_a_clear_message_and_nothing_reaches_the_provider(
    alice_client, alice, avatar_offer, preset, make
):
    response = _avatar_post(alice_client, avatar_offer, preset, [photo("ok.jpg"), make()])
    assert response["HX-Retarget"] == "#form-errors"
    assert len(response.content.decode().strip()) > 20
    assert not Upload.objects.exists()  # the good photo of the batch is not kept either
    assert not Job.objects.exists() and not ProviderCall.objects.exists()
    assert Wallet.objects.get(user=alice).held == 0


def test_a_cmyk_photo_with_gps_is_normalised_and_stripped(alice_client, alice, avatar_offer, preset, settings):
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x8825] = {2: (24.0, 42.0, 0.0), 1: "N"}  # GPSInfo
    Image.new("CMYK", (400, 400), (0, 80, 80, 0)).save(buf, "JPEG", exif=exif.tobytes())
    assert b"Exif" in buf.getvalue()
    f = SimpleUploadedFile("cmyk.jpg", buf.getvalue(), content_type="image/jpeg")
    _avatar_post(alice_client, avatar_offer, preset, [f])
    stored = Upload.objects.get().file.read()
    assert b"Exif" not in stored and b"GPS" not in stored
    assert Image.open(io.BytesIO(stored)).mode == "RGB"


def test_a_short_balance_keeps_no_photos(client, avatar_offer, preset):
    from tests.factories import UserFactory

    poor = UserFactory()
    client.force_login(poor)
    response = _avatar_post(client, avatar_offer, preset, [photo()], outputs=4)
    assert reverse("pricing") in response.content.decode()
    assert not Upload.objects.exists()


def test_too_many_photos_are_refused(alice_client, avatar_offer, preset):
    response = _avatar_post(alice_client, avatar_offer, preset, [photo(f"{i}.jpg") for i in range(4)])
    assert response["HX-Retarget"] == "#form-errors"
    assert not Upload.objects.exists()


def test_an_outsider_gets_404_for_uploads_and_their_deletion(alice_client, charlie_client, alice, avatar_offer, preset):
    _avatar_post(alice_client, avatar_offer, preset, [photo()])
    upload = Upload.objects.get()
    assert alice_client.get(reverse("upload_file", args=[upload.pk])).status_code == 200
    assert charlie_client.get(reverse("upload_file", args=[upload.pk])).status_code == 404
    assert charlie_client.post(reverse("upload_delete", args=[upload.pk])).status_code == 404
    assert Upload.objects.filter(pk=upload.pk).exists()


def test_the_owner_deletes_a_photo_and_the_portraits_stay(
    alice_client, alice, avatar_offer, preset, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _avatar_post(alice_client, avatar_offer, preset, [photo()])
    upload = Upload.objects.get()
    path = settings.MEDIA_ROOT / upload.file.name
    assert alice_client.get(reverse("upload_delete", args=[upload.pk])).status_code == 200  # asks first
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("upload_delete", args=[upload.pk]))
    assert not Upload.objects.exists() and not path.exists()
    assert Job.objects.get().assets.count() == 2
    assert Consent.objects.get().upload is None  # the acceptance record stays


def test_old_uploads_are_purged_but_not_while_a_job_needs_them(alice, avatar_offer, preset, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.CELERY_TASK_ALWAYS_EAGER = False
    old = services.upload_create(user=alice, file=photo())
    busy = services.upload_create(user=alice, file=photo())
    services.job_submit(user=alice, offer=avatar_offer, params={"prompt": "x", "outputs": 1}, uploads=[busy])
    Upload.objects.update(created_at=timezone.now() - timedelta(days=settings.MIRSAM_UPLOAD_RETENTION_DAYS + 1))
    assert services.uploads_purge() == 1
    assert list(Upload.objects.values_list("pk", flat=True)) == [busy.pk]
    assert not Upload.objects.filter(pk=old.pk).exists()


def test_someone_elses_upload_cannot_be_used_in_a_job(alice, charlie, avatar_offer):
    theirs = services.upload_create(user=charlie, file=photo())
    with pytest.raises(services.GenerationError):
        services.job_submit(user=alice, offer=avatar_offer, params={"prompt": "x", "outputs": 1}, uploads=[theirs])


def test_the_video_price_follows_the_options(alice_client, video_offer):
    url = reverse("studio_options", args=["video"])
    assert alice_client.get(url, {"offer": video_offer.pk, "duration": "4"}, **HX).context["price"] == 2
    assert alice_client.get(url, {"offer": video_offer.pk, "duration": "6"}, **HX).context["price"] == 3


def test_a_demo_video_with_a_first_frame_plays_and_can_be_extended(
    alice_client, alice, video_offer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(
            reverse("job_create"),
            {
                "service": "video",
                "offer": video_offer.pk,
                "prompt": "waves",
                "duration": "6",
                "aspect_ratio": "9:16",
                "outputs": 1,
                "first_frame": photo(),
            },
            **HX,
        )
    job = Job.objects.get()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert (job.price_credits, job.params["duration"], job.inputs.get().role) == (3, "6", "first_frame")
    asset = job.assets.get()
    assert asset.content_type == "video/mp4" and asset.poster
    card = alice_client.get(reverse("job_card", args=[job.pk])).content.decode()
    assert "<video" in card and reverse("asset_poster", args=[asset.pk]) in card
    assert reverse("job_extend", args=[job.pk]) in card

    partial = alice_client.get(reverse("asset_file", args=[asset.pk]), HTTP_RANGE="bytes=0-99")
    assert partial.status_code == 206 and len(b"".join(partial.streaming_content)) == 100
    assert partial["Content-Range"].startswith("bytes 0-99/")

    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("job_extend", args=[job.pk]), {"prompt": "then a storm"})
    extension = Job.objects.exclude(pk=job.pk).get()
    assert (extension.parent, extension.price_credits) == (job, 3)
    assert extension.params["extend_task_id"] == ProviderTask.objects.get(job=job).task_id
    assert Wallet.objects.get(user=alice).balance == 100 - 3 - 3


def test_an_outsider_gets_404_for_videos_posters_and_extend(
    alice_client, charlie_client, alice, video_offer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=video_offer, params={"prompt": "x", "outputs": 1})
    asset = job.assets.get()
    for url in (reverse("asset_file", args=[asset.pk]), reverse("asset_poster", args=[asset.pk])):
        assert charlie_client.get(url).status_code == 404
    assert charlie_client.post(reverse("job_extend", args=[job.pk]), {"prompt": "y"}).status_code == 404
    assert Job.objects.count() == 1


def test_a_video_model_refuses_a_forbidden_combination():
    offer = OfferFactory.build(
        options={
            "params": {"duration": {"choices": ["5", "10"]}, "resolution": {"choices": ["720p", "1080p"]}},
            "forbid": [{"duration": "10", "resolution": "1080p"}],
        }
    )
    with pytest.raises(services.GenerationError):
        services.job_params_clean(offer=offer, params={"prompt": "x", "duration": "10", "resolution": "1080p"})
    assert services.job_params_clean(offer=offer, params={"prompt": "x", "duration": "5", "resolution": "1080p"})


def test_portrait_cards_show_the_style_not_the_prompt_template_in_a_fixed_number_of_queries(
    alice_client,
    alice,
    avatar_offer,
    preset,
    settings,
    django_assert_max_num_queries,
    django_capture_on_commit_callbacks,
):
    from credits.services import credits_grant

    credits_grant(user=alice, amount=100, idempotency_key="more", reason="t")
    for _ in range(6):
        with django_capture_on_commit_callbacks(execute=True):
            _avatar_post(alice_client, avatar_offer, preset, [photo()], outputs=1)
    with django_assert_max_num_queries(12):
        body = alice_client.get(reverse("creations")).content.decode()
    assert "Cartoon · red scarf" in body and "Cartoon of the person" not in body
    with django_assert_max_num_queries(12):
        alice_client.get("/ar/creations/")


def test_deleting_a_video_job_removes_its_poster_too(alice, video_offer, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=video_offer, params={"prompt": "x", "outputs": 1})
    asset = job.assets.get()
    paths = [settings.MEDIA_ROOT / asset.file.name, settings.MEDIA_ROOT / asset.poster.name]
    assert all(p.exists() for p in paths)
    with django_capture_on_commit_callbacks(execute=True):
        services.job_delete(job=Job.objects.get(pk=job.pk))
    assert not any(p.exists() for p in paths)
