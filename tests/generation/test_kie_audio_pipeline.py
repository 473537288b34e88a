"""Audio jobs through the whole pipeline (eager Celery) with the kie adapter
against a local server answering like kie.ai: Suno's two tracks from its
staged callbacks or its record (docs/kie.md §2.7), stored as two results with
their covers and charged once; an ElevenLabs voice-over priced by its text."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from credits.models import Wallet
from generation import services
from generation.models import Job, JobStatus
from providers.demo_media import render_speech
from providers.kie.suno import GENERATE_PATH, RECORD_PATH
from providers.models import Offer
from tests.support.catalogue import install_seeded_catalogue
from tests.support.kie import CREATE, created, envelope, kie_configure, png_bytes

pytestmark = pytest.mark.django_db
START = 100
TASK = "task_suno_7"


@pytest.fixture
def kie(settings, httpserver):
    install_seeded_catalogue()
    server = kie_configure(settings, httpserver)
    settings.KIE_CALLBACK_BASE_URL = "https://mirsam.test"
    return server


def mp3(text: str) -> bytes:
    out = io.BytesIO()
    render_speech(text=text, voice="EkK5I93UQWFDigLMpZcX", out=out)
    return out.getvalue()


def serve_tracks(kie) -> list[tuple[str, str]]:
    """Two real MP3 tracks and their covers on the local CDN: ``[(audio URL, cover URL)]``."""
    urls = []
    for n in range(2):
        kie.expect_request(f"/cdn/{n}.mp3").respond_with_data(
            mp3(f"track number {n} " * (n + 1)), content_type="audio/mpeg"
        )
        kie.expect_request(f"/cdn/{n}.jpeg").respond_with_data(png_bytes((64, 64)), content_type="image/png")
        urls.append((kie.url_for(f"/cdn/{n}.mp3"), kie.url_for(f"/cdn/{n}.jpeg")))
    return urls


def submit_music(user, capture) -> Job:
    with capture(execute=True):
        job = services.job_submit(
            user=user, offer=Offer.objects.get(slug="suno-v5"), params={"prompt": "a calm oud melody", "outputs": 1}
        )
    job.refresh_from_db()
    return job


def callback(client, job: Job, body: dict, capture) -> int:
    with capture(execute=True):
        response = client.post(
            reverse("provider_callback", kwargs={"token": job.callback_token}),
            json.dumps(body),
            content_type="application/json",
        )
    return response.status_code


def test_suno_stage_callbacks_store_two_tracks_once(kie, alice, client, django_capture_on_commit_callbacks):
    kie.expect_request(GENERATE_PATH, method="POST").respond_with_json(created(TASK))
    kie.expect_request(RECORD_PATH).respond_with_json(envelope({"taskId": TASK, "status": "PENDING"}))
    job = submit_music(alice, django_capture_on_commit_callbacks)
    assert not job.is_final
    (sent,) = [r for r, _ in kie.log if r.path == GENERATE_PATH]
    assert sent.get_json()["callBackUrl"].startswith("https://mirsam.test/")

    tracks = serve_tracks(kie)
    items = [{"id": f"t{n}", "audio_url": a, "image_url": c, "duration": 3.0} for n, (a, c) in enumerate(tracks)]
    for stage in ("text", "first"):
        body = {"code": 200, "msg": "ok", "data": {"callbackType": stage, "task_id": TASK, "data": items[:1]}}
        assert callback(client, job, body, django_capture_on_commit_callbacks) == 200
        job.refresh_from_db()
        assert job.status == JobStatus.PROCESSING and not job.assets.exists()
    complete = {
        "code": 200,
        "msg": "All generated successfully.",
        "data": {"callbackType": "complete", "task_id": TASK, "data": items},
    }
    for _ in range(2):  # a duplicate callback stores and charges nothing more
        assert callback(client, job, complete, django_capture_on_commit_callbacks) == 200

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assets = list(job.assets.order_by("index"))
    assert [a.index for a in assets] == [0, 1]
    assert all(a.content_type == "audio/mpeg" and a.poster and a.duration_seconds for a in assets)
    assert assets[0].duration_seconds < assets[1].duration_seconds  # two different tracks
    assert job.charged_credits == job.price_credits == Offer.objects.get(slug="suno-v5").unit_price()
    assert Wallet.objects.get(user=alice).balance == START - job.charged_credits
    call_command("check_ledger")


def test_suno_error_callback_returns_the_credits(kie, alice, client, django_capture_on_commit_callbacks):
    kie.expect_request(GENERATE_PATH, method="POST").respond_with_json(created(TASK))
    kie.expect_request(RECORD_PATH).respond_with_json(envelope({"taskId": TASK, "status": "PENDING"}))
    job = submit_music(alice, django_capture_on_commit_callbacks)
    body = {
        "code": 531,
        "msg": "Generation failed, credits refunded",
        "data": {"callbackType": "error", "task_id": TASK, "data": None},
    }

    assert callback(client, job, body, django_capture_on_commit_callbacks) == 200

    job.refresh_from_db()
    assert (job.status, job.error_code, job.charged_credits) == (JobStatus.FAILED, "531", 0)
    wallet = Wallet.objects.get(user=alice)
    assert (wallet.balance, wallet.held) == (START, 0)


def test_without_a_callback_address_suno_is_not_offered_and_a_forged_request_holds_nothing(
    kie, alice, alice_client, settings
):
    settings.KIE_CALLBACK_BASE_URL = ""
    suno = Offer.objects.get(slug="suno-v5")

    page = alice_client.get(reverse("audio"), {"kind": "music"}).content.decode()
    with pytest.raises(services.GenerationError) as refused:
        services.job_submit(user=alice, offer=suno, params={"prompt": "a song"})

    assert f'value="{suno.pk}"' not in page and "Demo composer" in page
    assert refused.value.code == "unavailable"
    assert not Job.objects.filter(user=alice).exists() and not kie.log
    assert Wallet.objects.get(user=alice).balance == START


def test_suno_polled_record_stores_both_tracks(kie, alice, django_capture_on_commit_callbacks):
    tracks = serve_tracks(kie)
    data = [{"id": f"t{n}", "audioUrl": a, "imageUrl": c, "duration": 3.0} for n, (a, c) in enumerate(tracks)]
    kie.expect_request(GENERATE_PATH, method="POST").respond_with_json(created(TASK))
    kie.expect_request(RECORD_PATH).respond_with_json(
        envelope({"taskId": TASK, "status": "SUCCESS", "response": {"taskId": TASK, "sunoData": data}})
    )

    job = submit_music(alice, django_capture_on_commit_callbacks)

    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.assets.count() == 2


def test_a_voice_over_is_priced_by_its_arabic_text_on_the_server(
    kie, alice, client, django_capture_on_commit_callbacks
):
    offer = Offer.objects.get(slug="elevenlabs-v2")
    text = "مرحبًا بكم في مرسم، استوديو الإبداع." * 40  # 1,440 characters, diacritics counted one each
    kie.expect_request(CREATE, method="POST").respond_with_json(created("task_tts_1"))
    kie.expect_request("/api/v1/jobs/recordInfo").respond_with_json(
        envelope({"taskId": "task_tts_1", "state": "generating"})
    )
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("job_create"),
            {
                "service": "audio",
                "kind": "speech",
                "offer": offer.pk,
                "prompt": text,
                "outputs": "1",
                "voice": "EkK5I93UQWFDigLMpZcX",
                "speed": "1.0",
                "stability": "0.5",
                "price_credits": "1",
            },
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    job = Job.objects.get(user=alice)
    # $0.06 per 1,000 characters × 1.44 = $0.0864 → ceil(0.0864 × 1.3 / 0.0333) = 4 credits
    assert len(text) == 1440 and job.price_credits == offer.unit_price({"prompt": text}) == 4
    (sent,) = [r for r, _ in kie.log if r.path == CREATE]
    assert sent.get_json()["input"]["text"] == text
