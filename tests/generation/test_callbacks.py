"""kie.ai callbacks (docs/kie.md §1 Callbacks, §2.1 Callback body) through
``POST /callbacks/<job token>/`` and the pipeline behind it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from credits.models import EntryKind, Hold, HoldStatus, LedgerEntry, Wallet
from generation import services
from generation.models import Job, JobStatus, TaskStatus
from tests.factories import OfferFactory
from tests.support.kie import (
    CREATE,
    HMAC_KEY,
    RECORD,
    TASK_ID,
    callback_body,
    created,
    envelope,
    kie_configure,
    record,
    requests_to,
    serve_png,
    signed_headers,
)

pytestmark = pytest.mark.django_db

PRICE = 2
START = 100


@pytest.fixture
def kie(settings, httpserver):
    server = kie_configure(settings, httpserver)
    settings.KIE_CALLBACK_BASE_URL = "https://mirsam.example"
    return server


@pytest.fixture
def job(kie, alice, django_capture_on_commit_callbacks) -> Job:
    """A kie job of alice's that kie is still generating (polling gave up)."""
    offer = OfferFactory(slug="test-kie", adapter="kie", provider_model="google/nano-banana")
    kie.expect_request(CREATE).respond_with_json(created())
    kie.expect_request(RECORD).respond_with_json(envelope(record("generating")))
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=offer, params={"prompt": "a lighthouse at dusk"})
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING
    assert job.tasks.get().task_id == TASK_ID
    return job


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST a callback as kie.ai would, running what it queues (eager Celery)."""

    def _post(token: str, body: bytes, headers: dict[str, str] | None = None):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                reverse("provider_callback", kwargs={"token": token}),
                data=body,
                content_type="application/json",
                headers=headers or {},
            )

    return _post


def wallet_of(user) -> tuple[int, int]:
    wallet = Wallet.objects.get(user=user)
    return wallet.balance, wallet.held


def assert_untouched(job: Job, user) -> None:
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING
    assert job.tasks.get().status == TaskStatus.RUNNING
    assert job.assets.count() == 0
    assert Hold.objects.get(pk=job.hold_id).status == HoldStatus.OPEN
    assert wallet_of(user) == (START, PRICE)


def test_the_callback_url_kie_got_is_the_one_this_endpoint_serves(job, kie):
    (create_request,) = requests_to(kie, CREATE)
    url = create_request.get_json()["callBackUrl"]

    assert url == "https://mirsam.example" + reverse("provider_callback", kwargs={"token": job.callback_token})


def test_a_success_callback_delivered_twice_stores_and_charges_once(job, kie, post, alice):
    png_url = serve_png(kie)
    body = callback_body("success", urls=[png_url])

    first = post(job.callback_token, body)
    second = post(job.callback_token, body)

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == {"ok": True, "taskId": TASK_ID}
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.assets.count() == 1
    assert LedgerEntry.objects.filter(reference=f"job:{job.pk}", kind=EntryKind.CAPTURE).count() == 1
    assert wallet_of(alice) == (START - PRICE, 0)
    assert len(requests_to(kie, "/cdn/out.png")) == 1  # the duplicate downloaded nothing
    task = job.tasks.get()
    assert task.billed_credits == 4  # what kie.ai says it billed (creditsConsumed), for the margin
    assert task.billed_usd == Decimal("0.0200")  # at KIE_CREDIT_USD = 0.005
    call_command("check_ledger")


def test_a_callback_with_an_unknown_token_is_a_404_and_changes_nothing(job, kie, post, alice):
    body = callback_body("success", urls=[serve_png(kie)])

    response = post("not-the-token", body)

    assert response.status_code == 404
    assert_untouched(job, alice)


def test_a_wrongly_signed_callback_is_refused_and_changes_nothing(job, kie, post, alice, settings):
    settings.KIE_WEBHOOK_HMAC_KEY = HMAC_KEY
    body = callback_body("success", urls=[serve_png(kie)])

    response = post(job.callback_token, body, signed_headers(body, key="not-our-key"))

    assert response.status_code == 400
    assert response.json()["error"] == "bad_signature"
    assert_untouched(job, alice)


def test_an_unsigned_callback_is_refused_when_a_hmac_key_is_set(job, kie, post, alice, settings):
    settings.KIE_WEBHOOK_HMAC_KEY = HMAC_KEY
    body = callback_body("success", urls=[serve_png(kie)])

    assert post(job.callback_token, body).status_code == 400
    assert_untouched(job, alice)


def test_a_correctly_signed_callback_finishes_the_job(job, kie, post, alice, settings):
    settings.KIE_WEBHOOK_HMAC_KEY = HMAC_KEY
    body = callback_body("success", urls=[serve_png(kie)])

    response = post(job.callback_token, body, signed_headers(body))

    assert response.status_code == 200
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.assets.count() == 1
    assert wallet_of(alice) == (START - PRICE, 0)


def test_a_callback_for_a_task_of_another_job_is_refused(job, kie, post, alice):
    body = callback_body("success", task_id="task_someone_else", urls=[serve_png(kie)])

    response = post(job.callback_token, body)

    assert response.status_code == 400
    assert response.json()["error"] == "unknown_task"
    assert_untouched(job, alice)


def test_a_callback_kie_cannot_have_sent_is_refused(job, post, alice):
    response = post(job.callback_token, b'{"code": 200, "msg": "ok", "data": {"taskId": "' + TASK_ID.encode() + b'"}}')

    assert response.status_code == 400
    assert response.json()["error"] == "bad_callback"
    assert_untouched(job, alice)


def test_a_fail_callback_fails_the_job_and_returns_the_credits(job, post, alice):
    body = callback_body("fail", fail_code="500", fail_msg="Internal server error")

    response = post(job.callback_token, body)

    assert response.status_code == 200
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "500"
    assert job.error_message == "The provider could not make this: Internal server error"
    assert Hold.objects.get(pk=job.hold_id).status == HoldStatus.RELEASED
    assert wallet_of(alice) == (START, 0)
    assert not LedgerEntry.objects.filter(reference=f"job:{job.pk}", kind=EntryKind.CAPTURE).exists()
    call_command("check_ledger")


def test_a_fail_callback_of_an_arabic_user_is_recorded_in_arabic(job, post, alice, monkeypatch):
    """The callback's Celery message carries the owner's language (read with the job)."""
    from generation import tasks

    alice.preferred_language = "ar"
    alice.save()
    sent: list[dict] = []
    real = tasks.complete_task_task.apply_async

    def apply_async(args=None, kwargs=None, **options):
        sent.append(kwargs)
        return real(args, kwargs, **options)

    monkeypatch.setattr(tasks.complete_task_task, "apply_async", apply_async)

    post(job.callback_token, callback_body("fail", fail_code="500", fail_msg="Internal server error"))

    job.refresh_from_db()
    assert sent == [{"language": "ar"}]
    assert job.status == JobStatus.FAILED
    assert any("\u0600" <= ch <= "\u06ff" for ch in job.error_message)


def test_a_late_success_callback_after_a_failure_changes_nothing(job, kie, post, alice):
    post(job.callback_token, callback_body("fail", fail_code="500", fail_msg="Internal server error"))

    response = post(job.callback_token, callback_body("success", urls=[serve_png(kie)]))

    assert response.status_code == 200
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.assets.count() == 0
    assert wallet_of(alice) == (START, 0)
