"""The whole pipeline (generation.services + Celery in eager mode) with the kie
adapter against a local server that answers like kie.ai (docs/kie.md §1, §2.1)."""

from __future__ import annotations

import io
import json
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from werkzeug import Response

from credits.models import EntryKind, Hold, HoldStatus, LedgerEntry, Wallet
from generation import services
from generation.models import Job, JobStatus, TaskStatus
from generation.tasks import SUBMIT_MAX_RETRIES
from providers.models import ProviderCall
from tests.factories import OfferFactory, UserFactory
from tests.support.kie import (
    CREATE,
    KIE_KEY,
    RECORD,
    TASK_ID,
    created,
    envelope,
    kie_configure,
    own_server,
    png_bytes,
    record,
    requests_to,
    serve_png,
)

pytestmark = pytest.mark.django_db

PRICE = 2  # OfferFactory's price_credits, one output
START = 100  # the alice fixture's funding


@pytest.fixture
def kie(settings, httpserver):
    return kie_configure(settings, httpserver)


@pytest.fixture
def kie_offer(db):
    return OfferFactory(
        slug="test-kie",
        adapter="kie",
        provider_model="google/nano-banana",
        options={
            "params": {"aspect_ratio": {"choices": ["1:1", "16:9"], "default": "1:1"}},
            "constants": {"output_format": "png"},
            "max_outputs": 4,
        },
    )


@pytest.fixture
def run(alice, kie_offer, django_capture_on_commit_callbacks):
    """Submit a one-image job for alice and let the eager Celery tasks run it."""

    def _run(prompt: str = "a red fox in the snow") -> Job:
        with django_capture_on_commit_callbacks(execute=True):
            job = services.job_submit(user=alice, offer=kie_offer, params={"prompt": prompt, "aspect_ratio": "16:9"})
        job.refresh_from_db()
        return job

    return _run


@pytest.fixture
def celery_retries():
    """Let eager Celery run a task's retries, as a worker would.

    With ``task_eager_propagates`` (tests/conftest.py) the first ``self.retry()``
    escapes to the caller as ``celery.exceptions.Retry`` and no retry runs.
    Without it, ``Task.apply`` re-applies the retry signature inline (countdown
    ignored) until ``max_retries``; a failing task then shows in the job's
    state, which these tests assert.
    """
    from config.celery import app

    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


def wallet_of(user) -> tuple[int, int]:
    wallet = Wallet.objects.get(user=user)
    return wallet.balance, wallet.held


def assert_failed_and_refunded(job: Job, user, *, code: str) -> None:
    assert job.status == JobStatus.FAILED
    assert job.error_code == code
    assert job.error_message.strip()
    assert not job.error_message.startswith(("{", "<", "Traceback"))
    assert job.charged_credits == 0
    assert job.assets.count() == 0
    assert wallet_of(user) == (START, 0)
    assert Hold.objects.get(pk=job.hold_id).status == HoldStatus.RELEASED
    assert not LedgerEntry.objects.filter(reference=f"job:{job.pk}", kind=EntryKind.CAPTURE).exists()
    call_command("check_ledger")


def test_a_kie_job_runs_to_done_stores_the_image_and_charges_its_price(kie, run, alice):
    kie.expect_request(CREATE, method="POST").respond_with_json(created())
    png_url = serve_png(kie, png_bytes((40, 30)))
    kie.expect_request(RECORD, query_string={"taskId": TASK_ID}).respond_with_json(
        envelope(record("success", urls=[png_url]))
    )

    job = run()

    assert job.status == JobStatus.SUCCEEDED
    assert job.error_message == ""
    (asset,) = job.assets.all()
    assert (asset.content_type, asset.width, asset.height) == ("image/png", 40, 30)
    with asset.file.open("rb") as f:
        assert f.read() == png_bytes((40, 30))
    (task,) = job.tasks.all()
    assert (task.task_id, task.status, task.output_urls) == (TASK_ID, TaskStatus.SUCCEEDED, [png_url])
    assert job.charged_credits == PRICE
    assert wallet_of(alice) == (START - PRICE, 0)
    assert Hold.objects.get(pk=job.hold_id).status == HoldStatus.CAPTURED
    (create_request,) = requests_to(kie, CREATE)
    assert create_request.get_json()["input"] == {
        "prompt": "a red fox in the snow",
        "aspect_ratio": "16:9",
        "output_format": "png",
    }
    assert create_request.headers["Authorization"] == f"Bearer {KIE_KEY}"
    call_command("check_ledger")


def test_the_callback_url_of_the_job_is_sent_to_kie(kie, run, settings):
    settings.KIE_CALLBACK_BASE_URL = "https://mirsam.example/"
    kie.expect_request(CREATE).respond_with_json(created())
    kie.expect_request(RECORD).respond_with_json(envelope(record("generating")))

    job = run()

    (create_request,) = requests_to(kie, CREATE)
    assert create_request.get_json()["callBackUrl"] == f"https://mirsam.example/callbacks/{job.callback_token}/"


def test_a_401_fails_the_job_and_returns_the_credits(kie, run, alice):
    kie.expect_request(CREATE).respond_with_json({"code": 401, "msg": "You do not have access permissions"}, status=401)

    job = run()

    assert_failed_and_refunded(job, alice, code="401")
    assert job.error_message == "The provider rejected our credentials."
    assert len(requests_to(kie, CREATE)) == 1


def test_a_402_fails_the_job_and_returns_the_credits(kie, run, alice):
    kie.expect_request(CREATE).respond_with_json(envelope(None, code=402, msg="Credits insufficient"))

    job = run()

    assert_failed_and_refunded(job, alice, code="402")
    assert job.error_message == "The provider account is out of credits; please try later."


def test_a_429_then_success_runs_the_job_to_done(kie, run, alice):
    kie.expect_oneshot_request(CREATE).respond_with_json(envelope(None, code=429, msg="Too many"), status=429)
    kie.expect_request(CREATE).respond_with_json(created())
    png_url = serve_png(kie)
    kie.expect_request(RECORD).respond_with_json(envelope(record("success", urls=[png_url])))

    job = run()

    assert job.status == JobStatus.SUCCEEDED
    assert job.assets.count() == 1
    assert len(requests_to(kie, CREATE)) == 2
    assert wallet_of(alice) == (START - PRICE, 0)
    call_command("check_ledger")


def test_a_500_that_persists_fails_the_job_after_the_retries_and_returns_the_credits(
    kie, run, alice, settings, celery_retries
):
    kie.expect_request(CREATE).respond_with_json(envelope(None, code=500, msg="Server error"), status=500)

    job = run()

    assert_failed_and_refunded(job, alice, code="500")
    assert job.error_message == "The provider had an internal error; please try again."
    assert job.tasks.get().task_id == ""
    # Every Celery attempt of submit_job_task made 1 + KIE_MAX_RETRIES HTTP attempts.
    assert len(requests_to(kie, CREATE)) == (SUBMIT_MAX_RETRIES + 1) * (settings.KIE_MAX_RETRIES + 1)


def test_a_501_in_an_http_200_fails_the_job_and_returns_the_credits(kie, run, alice):
    kie.expect_request(CREATE).respond_with_json(envelope(None, code=501, msg="Generation failed"), status=200)

    job = run()

    assert_failed_and_refunded(job, alice, code="501")
    assert "could not generate" in job.error_message


def test_a_task_kie_reports_as_failed_fails_the_job_and_returns_the_credits(kie, run, alice):
    kie.expect_request(CREATE).respond_with_json(created())
    kie.expect_request(RECORD).respond_with_json(
        envelope(record("fail", fail_code="400", fail_msg="Your prompt was flagged by the safety system."))
    )

    job = run()

    assert_failed_and_refunded(job, alice, code="400")
    assert job.error_message == "The provider could not make this: Your prompt was flagged by the safety system."


def test_a_create_that_times_out_fails_the_job_and_returns_the_credits(run, alice, settings, celery_retries):
    def slow(_request):
        time.sleep(0.4)
        return Response(json.dumps(created()), content_type="application/json")

    with own_server() as server:
        kie_configure(settings, server)
        settings.KIE_TIMEOUT_SECONDS = 0.2
        server.expect_request(CREATE).respond_with_handler(slow)

        job = run()

        # The task may exist at kie.ai: the create is sent once, never again.
        calls = ProviderCall.objects.filter(adapter="kie", job_ref=job.pk, url__startswith=server.url_for("/"))
        assert [(c.operation, c.status_code) for c in calls] == [("create", None)]

    assert_failed_and_refunded(job, alice, code="timeout")
    assert job.error_message == "The provider did not answer in time."


def test_a_create_answer_that_is_not_json_fails_the_job_and_returns_the_credits(kie, run, alice):
    kie.expect_request(CREATE).respond_with_data("<html>502 bad gateway</html>", content_type="text/html")

    job = run()

    assert_failed_and_refunded(job, alice, code="bad_response")
    assert job.error_message == "The provider sent an answer we could not read."


def test_a_poll_answer_that_is_not_json_keeps_the_job_running_until_the_sweeper(kie, run, alice, settings):
    kie.expect_request(CREATE).respond_with_json(created())
    kie.expect_request(RECORD).respond_with_data("<html>oops</html>", content_type="text/html")

    job = run()

    assert job.status == JobStatus.SUBMITTED  # a garbled poll is asked again, not a verdict
    assert wallet_of(alice) == (START, PRICE)
    Job.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.MIRSAM_JOB_TIMEOUT_SECONDS + 1)
    )
    assert services.sweep_stuck_jobs() == 1
    job.refresh_from_db()
    assert_failed_and_refunded(job, alice, code="timeout")


def test_an_image_kie_says_is_ready_but_is_not_an_image_fails_the_job(kie, run, alice):
    kie.expect_request(CREATE).respond_with_json(created())
    kie.expect_request("/cdn/page.html").respond_with_data("<html>expired</html>", content_type="text/html")
    kie.expect_request(RECORD).respond_with_json(envelope(record("success", urls=[kie.url_for("/cdn/page.html")])))

    job = run()

    assert_failed_and_refunded(job, alice, code="bad_output")


def test_a_task_that_never_finishes_is_failed_by_the_sweeper_and_refunded(kie, run, alice, settings):
    kie.expect_request(CREATE).respond_with_json(created())
    kie.expect_request(RECORD).respond_with_json(envelope(record("generating")))

    job = run()

    # Polling gave up (MIRSAM_POLL_MAX_ATTEMPTS) with the task still generating.
    assert job.status == JobStatus.PROCESSING
    assert len(requests_to(kie, RECORD)) == settings.MIRSAM_POLL_MAX_ATTEMPTS
    assert wallet_of(alice) == (START, PRICE)
    assert services.sweep_stuck_jobs() == 0  # not past its deadline yet

    Job.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.MIRSAM_JOB_TIMEOUT_SECONDS + 1)
    )
    assert services.sweep_stuck_jobs() == 1

    job.refresh_from_db()
    assert_failed_and_refunded(job, alice, code="timeout")
    assert job.error_message == str(services.TIMEOUT_MESSAGE)
    # The sweeper asked kie one last time before giving up.
    assert len(requests_to(kie, RECORD)) == settings.MIRSAM_POLL_MAX_ATTEMPTS + 1


def _noise_png(size: tuple[int, int], mode: str = "RGB") -> bytes:
    """A PNG of random pixels: as large in bytes as a photo-like output gets."""
    import os

    from PIL import Image

    img = Image.frombytes(mode, size, os.urandom(size[0] * size[1] * len(mode)))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_a_large_image_gets_a_preview_that_its_card_shows_and_the_original_stays(
    kie, run, alice, client, django_capture_on_commit_callbacks
):
    from PIL import Image

    original = _noise_png((2048, 1365))
    assert len(original) > 2_000_000
    kie.expect_request(CREATE, method="POST").respond_with_json(created())
    png_url = serve_png(kie, original)
    kie.expect_request(RECORD).respond_with_json(envelope(record("success", urls=[png_url])))

    job = run()

    (asset,) = job.assets.all()
    with asset.file.open("rb") as f:
        assert f.read() == original  # the download is the original, untouched
    with asset.preview.open("rb") as f:
        preview = f.read()
    assert len(preview) < len(original) / 2
    with Image.open(io.BytesIO(preview)) as img:
        assert (img.format, img.size) == ("JPEG", (1280, 853))
    client.force_login(alice)
    card = client.get(reverse("job_card", args=[job.pk])).content.decode()
    assert f'src="{reverse("asset_preview", args=[asset.pk])}"' in card
    assert f'href="{reverse("asset_file", args=[asset.pk])}"' in card  # "Open full size"
    answer = client.get(reverse("asset_preview", args=[asset.pk]))
    assert answer["Content-Type"] == "image/jpeg" and b"".join(answer.streaming_content) == preview

    outsider = Client()
    outsider.force_login(UserFactory(email="other@example.com"))
    assert outsider.get(reverse("asset_preview", args=[asset.pk])).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        services.job_delete(job=job)
    assert not asset.preview.storage.exists(asset.preview.name)  # deleted with its original


def test_an_image_no_larger_than_a_card_has_no_preview_and_a_transparent_one_keeps_its_alpha():
    from PIL import Image

    from generation.media import image_preview

    assert image_preview(io.BytesIO(png_bytes((40, 30)))) is None
    assert image_preview(io.BytesIO(_noise_png((1280, 700)))) is None  # 2.7 MB, but no more pixels than a card shows
    data, extension = image_preview(io.BytesIO(_noise_png((1600, 1600), mode="RGBA")))
    with Image.open(io.BytesIO(data)) as img:
        assert (extension, img.format, img.mode, img.size) == ("webp", "WEBP", "RGBA", (1280, 1280))
    assert image_preview(io.BytesIO(b"not an image" * 50_000)) is None
