"""Video jobs through the whole pipeline (eager Celery) with the kie adapter
against a local server answering like kie.ai's Veo (docs/kie.md §2.2) and Runway
(§2.3) families: outputs land in our storage with a poster; every failure
fails the job with a reason and releases the hold."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from credits.models import Wallet
from generation import services
from generation.models import Job, JobStatus
from providers.demo_media import render_mp4
from tests.factories import OfferFactory
from tests.support.kie import (
    RUNWAY_GENERATE,
    RUNWAY_RECORD,
    RUNWAY_TASK_ID,
    UPLOAD,
    VEO_GENERATE,
    VEO_RECORD,
    VEO_TASK_ID,
    created,
    envelope,
    kie_configure,
    png_bytes,
    runway_callback_body,
    runway_record,
    serve_mp4,
    uploaded,
    veo_record,
)

pytestmark = pytest.mark.django_db
START = 100


@pytest.fixture
def kie(settings, httpserver):
    return kie_configure(settings, httpserver)


def _real_mp4() -> bytes:
    out = io.BytesIO()
    render_mp4(prompt="a fox", aspect_ratio="16:9", duration_seconds=1, out=out)
    return out.getvalue()


def _video_offer(slug: str, provider_model: str, **options) -> object:
    return OfferFactory(
        slug=slug,
        service="video",
        adapter="kie",
        provider_model=provider_model,
        price_credits=10,
        options={
            "params": {
                "duration": {"choices": ["5", "8"], "default": "5"},
                "aspect_ratio": {"choices": ["16:9"], "default": "16:9"},
                "resolution": {"choices": ["720p"], "default": "720p"},
            },
            "max_outputs": 1,
            "inputs": {"min": 0, "max": 2, "roles": ["first_frame", "last_frame"]},
            # 10 credits at the defaults (the override); an extend costs 0.8 of an output: 8 credits.
            "cost": {"usd": "0.10", "extend_usd": "0.08"},
            **options,
        },
    )


def _run(user, offer, capture, **kw) -> Job:
    with capture(execute=True):
        job = services.job_submit(user=user, offer=offer, params={"prompt": "a fox running", "outputs": 1}, **kw)
    job.refresh_from_db()
    return job


def _assert_failed_and_returned(job: Job, user) -> None:
    assert job.status == JobStatus.FAILED
    assert job.error_message.strip()
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.held) == (START, 0)
    call_command("check_ledger")


def test_a_veo_video_is_stored_with_a_poster_and_charged(kie, alice, django_capture_on_commit_callbacks):
    offer = _video_offer("test-veo", "veo3_fast")
    url = serve_mp4(kie, _real_mp4())
    kie.expect_request(VEO_GENERATE, method="POST").respond_with_json(created(VEO_TASK_ID))
    kie.expect_request(VEO_RECORD).respond_with_json(envelope(veo_record(1, urls=[url])))

    job = _run(alice, offer, django_capture_on_commit_callbacks)

    assert job.status == JobStatus.SUCCEEDED, job.error_message
    asset = job.assets.get()
    assert asset.content_type == "video/mp4" and asset.file.read(8)[4:8] == b"ftyp"
    assert asset.poster and asset.poster.read(4) == b"\x89PNG"  # first frame, Veo sends no poster
    assert Wallet.objects.get(user=alice).balance == START - 10


def test_a_veo_job_with_two_frames_uploads_them_first(kie, alice, django_capture_on_commit_callbacks):
    offer = _video_offer("test-veo", "veo3_fast")
    first = services.upload_create(user=alice, file=io.BytesIO(png_bytes((512, 288))))
    last = services.upload_create(user=alice, file=io.BytesIO(png_bytes((512, 288))))
    kie.expect_request(UPLOAD, method="POST").respond_with_json(uploaded(kie.url_for("/cdn/frame.png")))
    kie.expect_request(VEO_GENERATE, method="POST").respond_with_json(created(VEO_TASK_ID))
    kie.expect_request(VEO_RECORD).respond_with_json(envelope(veo_record(0)))

    job = _run(alice, offer, django_capture_on_commit_callbacks, uploads=[first, last])

    body = json.loads([r for r, _ in kie.log if r.path == VEO_GENERATE][0].get_data())
    assert body["generationType"] == "FIRST_AND_LAST_FRAMES_2_VIDEO"
    assert len(body["imageUrls"]) == 2 and body["duration"] == 5
    assert sum(1 for r, _ in kie.log if r.path == UPLOAD) == 2
    assert job.status in (JobStatus.SUBMITTED, JobStatus.PROCESSING)


@pytest.mark.parametrize("flag", [2, 3])
def test_a_failed_veo_generation_returns_the_credits(kie, alice, flag, django_capture_on_commit_callbacks):
    offer = _video_offer("test-veo", "veo3_fast")
    kie.expect_request(VEO_GENERATE, method="POST").respond_with_json(created(VEO_TASK_ID))
    kie.expect_request(VEO_RECORD).respond_with_json(
        envelope(veo_record(flag, error_code=400, error_message="Prompt flagged by the safety system."))
    )
    job = _run(alice, offer, django_capture_on_commit_callbacks)
    _assert_failed_and_returned(job, alice)
    assert "safety" in job.error_message


@pytest.mark.parametrize(
    ("code", "msg"),
    [(400, "Your prompt violates the content policy."), (451, "Failed to fetch the image."), (501, "failed")],
)
def test_a_runway_create_refused_returns_the_credits(kie, alice, code, msg, django_capture_on_commit_callbacks):
    offer = _video_offer("test-runway", "runway", cost={"usd": "0.10", "extend_usd": "0.04"})
    kie.expect_request(RUNWAY_GENERATE, method="POST").respond_with_json(envelope(None, code=code, msg=msg))
    job = _run(alice, offer, django_capture_on_commit_callbacks)
    _assert_failed_and_returned(job, alice)
    assert job.error_code == str(code)


def test_a_runway_result_too_big_returns_the_credits(kie, alice, settings, django_capture_on_commit_callbacks):
    settings.MIRSAM_OUTPUT_MAX_BYTES = 2048
    offer = _video_offer("test-runway", "runway")
    url = serve_mp4(kie, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 10_000)
    kie.expect_request(RUNWAY_GENERATE, method="POST").respond_with_json(created(RUNWAY_TASK_ID))
    kie.expect_request(RUNWAY_RECORD).respond_with_json(envelope(runway_record("success", video_url=url)))
    job = _run(alice, offer, django_capture_on_commit_callbacks)
    _assert_failed_and_returned(job, alice)
    assert job.error_code == "too_large"


def test_a_runway_result_that_is_not_a_video_returns_the_credits(kie, alice, django_capture_on_commit_callbacks):
    offer = _video_offer("test-runway", "runway")
    kie.expect_request("/cdn/fake.mp4").respond_with_data(b"<html>gone</html>" * 10, content_type="video/mp4")
    kie.expect_request(RUNWAY_GENERATE, method="POST").respond_with_json(created(RUNWAY_TASK_ID))
    kie.expect_request(RUNWAY_RECORD).respond_with_json(
        envelope(runway_record("success", video_url=kie.url_for("/cdn/fake.mp4")))
    )
    job = _run(alice, offer, django_capture_on_commit_callbacks)
    _assert_failed_and_returned(job, alice)
    assert job.error_code == "bad_output"


def test_a_runway_callback_completes_the_job_once(kie, alice, client, django_capture_on_commit_callbacks):
    offer = _video_offer("test-runway", "runway")
    kie.expect_request(RUNWAY_GENERATE, method="POST").respond_with_json(created(RUNWAY_TASK_ID))
    kie.expect_request(RUNWAY_RECORD).respond_with_json(envelope(runway_record("generating")))
    job = _run(alice, offer, django_capture_on_commit_callbacks)
    assert not job.is_final
    url = serve_mp4(kie, _real_mp4())
    body = runway_callback_body(video_url=url)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("provider_callback", kwargs={"token": job.callback_token}),
                body,
                content_type="application/json",
            )
        assert response.status_code == 200
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.assets.count() == 1
    assert Wallet.objects.get(user=alice).balance == START - 10
