"""Talking portraits and lip-syncs on the demo provider, through the whole
pipeline: picked results and uploads, the price per second of the speech
measured from the file, consent, outsiders, and the two jobs of a speech
made on the spot (speech kept and charged when the video fails)."""

from __future__ import annotations

import io
import math
import subprocess

import imageio_ffmpeg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from credits.models import Wallet
from generation import consent, services
from generation.errors import GenerationError
from generation.models import Job, JobStatus, Upload
from providers.base import TaskResult, TaskState
from providers.demo import DemoAdapter
from providers.models import Offer
from tests.support.catalogue import install_seeded_catalogue

pytestmark = pytest.mark.django_db

JAMES = "EkK5I93UQWFDigLMpZcX"


@pytest.fixture(autouse=True)
def catalogue(db):
    install_seeded_catalogue()


def seeded_offer(slug: str) -> Offer:
    """The seeded row ``slug``, as the migrations write it."""
    return Offer.objects.get(slug=slug)


def made(user, slug: str, params: dict, capture) -> Job:
    with capture(execute=True):
        job = services.job_submit(user=user, offer=seeded_offer(slug), params=params)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    return job


@pytest.fixture
def picture(alice, django_capture_on_commit_callbacks):
    return made(
        alice, "demo-image", {"prompt": "a calm face", "outputs": 1}, django_capture_on_commit_callbacks
    ).assets.get()


@pytest.fixture
def speech(alice, django_capture_on_commit_callbacks):
    text = "Marhaba, welcome to Mirsam, the studio."  # 39 characters: about 3 s of demo speech
    job = made(alice, "demo-speech", {"prompt": text, "voice": JAMES, "outputs": 1}, django_capture_on_commit_callbacks)
    return job.assets.get()


def mp3(seconds: float) -> bytes:
    done = subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=330:duration={seconds}",
            "-c:a",
            "libmp3lame",
            "-f",
            "mp3",
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (512, 512), (180, 120, 90)).save(out, format="PNG")
    return out.getvalue()


def held(user) -> tuple[int, int]:
    wallet = Wallet.objects.get(user=user)
    return wallet.balance, wallet.held


def test_a_speech_result_is_an_mp3_with_its_duration(speech):
    assert speech.content_type == "audio/mpeg" and speech.is_audio
    assert 2 <= speech.duration_seconds <= 4


def test_a_portrait_speaks_a_picked_speech_priced_by_its_seconds(
    alice, picture, speech, django_capture_on_commit_callbacks
):
    offer = seeded_offer("demo-talking-portrait")
    before, _ = held(alice)
    seconds = math.ceil(speech.duration_seconds)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_speak(user=alice, offer=offer, params={"prompt": ""}, picture=picture, speech=speech)
    job.refresh_from_db()

    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.params["duration"] == str(seconds)
    assert job.price_credits == offer.unit_price({"duration": str(seconds)})
    assert sorted(job.inputs.values_list("role", flat=True)) == ["portrait", "speech"]
    video = job.assets.get()
    assert video.content_type == "video/mp4" and video.poster
    assert abs(video.duration_seconds - speech.duration_seconds) < 0.5
    assert held(alice) == (before - job.price_credits, 0)


def test_a_forged_price_or_duration_is_ignored(alice, picture, speech):
    offer = seeded_offer("demo-talking-portrait")
    job = services.job_speak(
        user=alice, offer=offer, params={"prompt": "", "duration": "1", "price": "0"}, picture=picture, speech=speech
    )
    assert job.params["duration"] == str(math.ceil(speech.duration_seconds))
    assert job.price_credits == offer.unit_price({"duration": job.params["duration"]})


def test_a_speech_longer_than_the_model_takes_is_refused_and_nothing_is_held(alice, picture, speech):
    offer = seeded_offer("demo-talking-portrait")
    offer.options = {**offer.options, "speech_max_seconds": 1}
    offer.save()
    with pytest.raises(GenerationError) as refused:
        services.job_speak(user=alice, offer=offer, params={}, picture=picture, speech=speech)
    assert refused.value.code == "speech_length"
    assert held(alice)[1] == 0 and not Job.objects.filter(offer=offer).exists()


def test_an_uploaded_photo_needs_consent_and_a_refusal_stores_nothing(alice, speech):
    offer = seeded_offer("demo-talking-portrait")
    photo = SimpleUploadedFile("me.png", png(), content_type="image/png")
    with pytest.raises(GenerationError) as refused:
        services.job_speak(user=alice, offer=offer, params={}, picture_file=photo, speech=speech)
    assert refused.value.code == "consent"
    assert not Upload.objects.filter(user=alice).exists()


def test_an_uploaded_photo_and_audio_file_make_a_talking_portrait(alice, django_capture_on_commit_callbacks):
    offer = seeded_offer("demo-talking-portrait")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_speak(
            user=alice,
            offer=offer,
            params={},
            picture_file=SimpleUploadedFile("me.png", png(), content_type="image/png"),
            speech_file=SimpleUploadedFile("hello.mp3", mp3(2.5), content_type="audio/mpeg"),
            consent_version=consent.CURRENT_VERSION,
        )
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.params["duration"] == "3"
    speech_upload = job.inputs.get(role="speech").upload
    assert speech_upload.content_type == "audio/mpeg" and 2.3 < speech_upload.duration_seconds < 2.8
    assert job.inputs.get(role="portrait").upload.consents.filter(version=consent.CURRENT_VERSION).exists()


def test_a_text_file_named_mp3_is_refused_and_leaves_no_photo(alice):
    offer = seeded_offer("demo-talking-portrait")
    with pytest.raises(GenerationError):
        services.job_speak(
            user=alice,
            offer=offer,
            params={},
            picture_file=SimpleUploadedFile("me.png", png(), content_type="image/png"),
            speech_file=SimpleUploadedFile("hello.mp3", b"not audio at all\n" * 50, content_type="audio/mpeg"),
            consent_version=consent.CURRENT_VERSION,
        )
    assert not Upload.objects.filter(user=alice).exists()
    assert held(alice)[1] == 0


def test_an_outsiders_picture_or_speech_cannot_be_used(alice, charlie, picture, speech):
    offer = seeded_offer("demo-talking-portrait")
    for kwargs in ({"picture": picture, "speech": speech},):
        with pytest.raises(GenerationError) as refused:
            services.job_speak(user=charlie, offer=offer, params={}, **kwargs)
        assert refused.value.code == "not_found"


def test_the_page_answers_404_for_an_outsiders_result(charlie_client, picture, speech):
    assert charlie_client.get(reverse("speak"), {"picture": picture.pk}).status_code == 404
    assert charlie_client.get(reverse("speak"), {"speech": speech.pk}).status_code == 404
    offer = seeded_offer("demo-talking-portrait")
    response = charlie_client.post(
        reverse("speak_create"), {"offer": offer.pk, "picture": picture.pk, "speech": speech.pk}
    )
    assert response.status_code == 404


def test_the_page_prices_the_picked_speech(alice_client, picture, speech):
    offer = seeded_offer("demo-talking-portrait")
    response = alice_client.get(reverse("speak"), {"offer": offer.pk, "picture": picture.pk, "speech": speech.pk})
    assert response.status_code == 200
    price = offer.unit_price({"duration": str(math.ceil(speech.duration_seconds))})
    assert f"{price} credits" in response.content.decode()


def test_a_lip_sync_moves_a_video_to_a_speech(alice, speech, django_capture_on_commit_callbacks):
    clip = made(
        alice,
        "demo-video",
        {"prompt": "a person talking", "outputs": 1},
        django_capture_on_commit_callbacks,
    ).assets.get()
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_speak(
            user=alice, offer=seeded_offer("demo-lip-sync"), params={}, picture=clip, speech=speech
        )
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert sorted(job.inputs.values_list("role", flat=True)) == ["speech", "video"]


def test_a_lip_sync_refuses_an_image(alice, picture, speech):
    with pytest.raises(GenerationError) as refused:
        services.job_speak(user=alice, offer=seeded_offer("demo-lip-sync"), params={}, picture=picture, speech=speech)
    assert refused.value.code == "inputs"


# --- a speech made on the spot: two jobs ----------------------------------------------


def speak_text(alice, picture, capture, text="Hello, this is my portrait speaking to you today."):
    with capture(execute=True):
        video = services.job_speak_text(
            user=alice,
            offer=seeded_offer("demo-talking-portrait"),
            params={"prompt": ""},
            speech_offer=seeded_offer("demo-speech"),
            text=text,
            voice=JAMES,
            picture=picture,
        )
    video.refresh_from_db()
    return Job.objects.get(pk=video.params["after_job"]), video


def test_text_makes_the_speech_then_the_video_charged_for_the_real_seconds(
    alice, picture, django_capture_on_commit_callbacks
):
    before, _ = held(alice)
    speech_job, video = speak_text(alice, picture, django_capture_on_commit_callbacks)

    assert speech_job.status == JobStatus.SUCCEEDED and speech_job.offer.slug == "demo-speech"
    assert video.status == JobStatus.SUCCEEDED, video.error_message
    seconds = math.ceil(speech_job.assets.get().duration_seconds)
    assert video.params["duration"] == str(seconds)
    assert video.charged_credits == seeded_offer("demo-talking-portrait").unit_price({"duration": str(seconds)})
    assert video.inputs.get(role="speech").asset == speech_job.assets.get()
    assert held(alice) == (before - speech_job.charged_credits - video.charged_credits, 0)


def test_when_the_video_fails_its_credits_come_back_and_the_speech_stays_charged(
    alice, picture, django_capture_on_commit_callbacks, monkeypatch
):
    real_fetch = DemoAdapter.fetch

    def fetch(self, task_id, request):
        if request.provider_model == "demo/talking-portrait":
            return TaskResult(task_id=task_id, state=TaskState.FAILED, error_code="501", error_message="no face")
        return real_fetch(self, task_id, request)

    monkeypatch.setattr(DemoAdapter, "fetch", fetch)
    before, _ = held(alice)
    speech_job, video = speak_text(alice, picture, django_capture_on_commit_callbacks)

    assert (speech_job.status, video.status) == (JobStatus.SUCCEEDED, JobStatus.FAILED)
    assert video.charged_credits == 0 and video.credits_returned == video.price_credits
    assert speech_job.charged_credits > 0 and speech_job.assets.exists()
    assert held(alice) == (before - speech_job.charged_credits, 0)


def test_when_the_speech_fails_the_video_never_starts_and_both_return_their_credits(
    alice, picture, django_capture_on_commit_callbacks, monkeypatch
):
    real_fetch = DemoAdapter.fetch

    def fetch(self, task_id, request):
        if request.provider_model == "demo/speech":
            return TaskResult(task_id=task_id, state=TaskState.FAILED, error_code="501", error_message="voice busy")
        return real_fetch(self, task_id, request)

    monkeypatch.setattr(DemoAdapter, "fetch", fetch)
    before, _ = held(alice)
    speech_job, video = speak_text(alice, picture, django_capture_on_commit_callbacks)

    assert (speech_job.status, video.status) == (JobStatus.FAILED, JobStatus.FAILED)
    assert video.error_code == "speech_failed" and not video.tasks.exclude(task_id="").exists()
    assert held(alice) == (before, 0)


def test_a_text_too_long_for_the_model_even_read_quickly_is_refused_up_front(alice, picture):
    with pytest.raises(GenerationError) as refused:
        services.job_speak_text(
            user=alice,
            offer=seeded_offer("demo-talking-portrait"),
            params={},
            speech_offer=seeded_offer("demo-speech"),
            text="word " * 300,  # 1500 characters: at least 75 s, the demo takes 60
            voice=JAMES,
            picture=picture,
        )
    assert refused.value.code == "speech_length"
    assert Job.objects.filter(user=alice).count() == 1  # the picture's job only: no speech job either


def test_a_waiting_job_revived_by_the_watchdog_waits_again(alice, picture, django_capture_on_commit_callbacks):
    """The submit message of a job waiting for its speech may arrive before the
    speech is made (a revival, a redelivery): it submits nothing."""
    speech_job = services.job_submit(
        user=alice, offer=seeded_offer("demo-speech"), params={"prompt": "hello there", "voice": JAMES}
    )
    video = services.speak._job_speak_after(
        user=alice,
        offer=seeded_offer("demo-talking-portrait"),
        params={},
        speech_job=speech_job,
        seconds=3,
        picture=picture,
        picture_file=None,
        consent_version=None,
        submission_key="",
    )
    job = services.job_dispatch(job_id=video.pk)
    assert job.status == JobStatus.QUEUED and not job.tasks.exclude(task_id="").exists()
