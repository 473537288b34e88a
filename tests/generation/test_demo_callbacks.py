"""The demo provider calls back as kie.ai does (issue 21 part 4), through the
real endpoint ``POST /callbacks/<job token>/`` on a live server and its
signature check, with polling as the fallback: whichever comes first, a task
is stored and charged once. The last test runs it as the embedded default
does: a real worker counts down the delay and calls back."""

from __future__ import annotations

import json
import time

import pytest
import requests
from django.core.management import call_command
from django.urls import reverse

from credits.models import EntryKind, Hold, HoldStatus, LedgerEntry, Wallet
from generation import services
from generation.models import Job, JobStatus, TaskStatus
from generation.services import pipeline
from providers.base import TaskResult
from providers.demo import DemoAdapter, callback_body, callback_headers
from providers.models import ProviderCall
from providers.tasks import demo_callback_task

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PRICE = 2  # demo_offer's
START = 100  # alice's


@pytest.fixture
def site(settings, live_server):
    """The demo calls back to this live server (as the embedded default does to runserver)."""
    settings.DEMO_CALLBACKS = True
    settings.MIRSAM_SITE_URL = live_server.url
    return live_server


@pytest.fixture
def callbacks(site, settings, monkeypatch):
    """The callbacks the demo schedules, held back: [(args, kwargs, countdown)].
    Its tasks run long (DEMO_DELAY_SECONDS), so the polls that eager Celery
    runs at submit find them running and only a callback can deliver them."""
    settings.DEMO_DELAY_SECONDS = 60
    held: list[tuple[tuple, dict, float]] = []
    monkeypatch.setattr(
        demo_callback_task, "apply_async", lambda args, kwargs, countdown: held.append((args, kwargs, countdown))
    )
    return held


def call_back(scheduled: tuple[tuple, dict, float]) -> int:
    """Send one held callback as the worker would: the real sender, over HTTP."""
    args, kwargs, _countdown = scheduled
    return demo_callback_task.apply(args, kwargs).get()


def submit(user, offer, outputs: int = 1) -> Job:
    job = services.job_submit(user=user, offer=offer, params={"prompt": "a harbour at night", "outputs": outputs})
    job.refresh_from_db()
    return job


def wallet_of(user) -> tuple[int, int]:
    wallet = Wallet.objects.get(user=user)
    return wallet.balance, wallet.held


def captures(job: Job) -> int:
    return LedgerEntry.objects.filter(reference=f"job:{job.pk}", kind=EntryKind.CAPTURE).count()


def assert_waiting(job: Job, user, outputs: int = 1) -> None:
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING
    assert [task.status for task in job.tasks.all()] == [TaskStatus.RUNNING] * outputs
    assert job.assets.count() == 0
    assert Hold.objects.get(pk=job.hold_id).status == HoldStatus.OPEN
    assert wallet_of(user) == (START, PRICE * outputs)


def test_a_callback_delivers_the_outputs_and_a_later_poll_adds_nothing(alice, demo_offer, callbacks, settings):
    job = submit(alice, demo_offer, outputs=2)
    assert_waiting(job, alice, outputs=2)
    endpoint = settings.MIRSAM_SITE_URL + reverse("provider_callback", kwargs={"token": job.callback_token})
    assert [args[0] for args, _kwargs, _countdown in callbacks] == [endpoint, endpoint]
    assert all(55 < countdown <= 60 for _args, _kwargs, countdown in callbacks)  # due when the task is done

    assert [call_back(scheduled) for scheduled in callbacks] == [200, 200]

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.assets.count() == 2
    assert captures(job) == 1
    assert wallet_of(alice) == (START - 2 * PRICE, 0)
    # The poll that comes next, and one that fetched before the callback was recorded.
    settings.DEMO_DELAY_SECONDS = 0
    services.job_poll(job_id=job.pk)
    for task in job.tasks.all():
        late = DemoAdapter().fetch(task.task_id, pipeline._task_request(job, task))
        assert services.task_complete(task_pk=task.pk, result=late) is None
    assert call_back(callbacks[0]) == 200  # and a duplicate callback
    assert job.assets.count() == 2
    assert captures(job) == 1
    assert wallet_of(alice) == (START - 2 * PRICE, 0)
    call_command("check_ledger")


def test_a_callback_after_the_poll_delivered_changes_nothing(alice, demo_offer, site, settings, monkeypatch):
    held: list[tuple[tuple, dict, float]] = []
    monkeypatch.setattr(
        demo_callback_task, "apply_async", lambda args, kwargs, countdown: held.append((args, kwargs, 0))
    )
    settings.DEMO_DELAY_SECONDS = 0  # done at once: the first poll delivers it

    job = submit(alice, demo_offer)
    assert job.status == JobStatus.SUCCEEDED
    asset = job.assets.get()

    assert call_back(held[0]) == 200

    assert list(job.assets.all()) == [asset]
    assert captures(job) == 1
    assert wallet_of(alice) == (START - PRICE, 0)
    (call,) = ProviderCall.objects.filter(adapter="demo", operation="callback", job_ref=job.pk)
    assert call.status_code == 200 and job.callback_token not in call.url


def test_a_failure_callback_fails_the_job_and_releases_its_hold(alice, demo_offer, callbacks, settings):
    settings.DEMO_FAILURE_RATE = 1.0
    job = submit(alice, demo_offer)
    assert_waiting(job, alice)

    assert call_back(callbacks[0]) == 200

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    task = job.tasks.get()
    assert (task.status, task.error_code) == (TaskStatus.FAILED, "demo_failure")
    assert job.assets.count() == 0
    assert Hold.objects.get(pk=job.hold_id).status == HoldStatus.RELEASED
    assert captures(job) == 0
    assert wallet_of(alice) == (START, 0)
    call_command("check_ledger")


def _body(scheduled: tuple[tuple, dict, float]) -> dict:
    args, kwargs, _countdown = scheduled
    return callback_body(
        TaskResult.from_dict(args[1]), provider_model=kwargs["provider_model"], params=kwargs["params"]
    )


def _other_task() -> str:
    return f"demo-{int(time.time() * 1000)}-ffffffffffff"


@pytest.mark.parametrize(
    "spoil",
    [
        # Another task id under the signature of this one.
        pytest.param(
            lambda body, headers: ({**body, "data": {**body["data"], "taskId": _other_task()}}, headers), id="id"
        ),
        # Outputs that are not this task's: the signature covers the task id only (kie.ai's
        # scheme, docs/kie.md §1 Callbacks); the parser refuses them.
        pytest.param(
            lambda body, headers: (
                {
                    **body,
                    "data": {**body["data"], "resultJson": json.dumps({"resultUrls": ["https://x.example/a.png"]})},
                },
                headers,
            ),
            id="outputs",
        ),
        pytest.param(lambda body, headers: (body, {**headers, "X-Webhook-Signature": "c2lnbmF0dXJl"}), id="signature"),
        pytest.param(lambda body, headers: (body, {"Content-Type": "application/json"}), id="unsigned"),
    ],
)
def test_a_tampered_or_unsigned_callback_is_refused_with_400_and_changes_nothing(alice, demo_offer, callbacks, spoil):
    job = submit(alice, demo_offer)
    args, _kwargs, _countdown = callbacks[0]
    task_id = args[1]["task_id"]
    body, headers = spoil(_body(callbacks[0]), callback_headers(task_id))

    response = requests.post(args[0], data=json.dumps(body).encode(), headers=headers, timeout=15)

    assert response.status_code == 400
    assert response.json()["ok"] is False
    assert_waiting(job, alice)
    assert call_back(callbacks[0]) == 200  # the genuine one still goes through
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and captures(job) == 1


def test_a_callback_to_another_jobs_address_is_refused(alice, demo_offer, callbacks):
    first = submit(alice, demo_offer)
    second = submit(alice, demo_offer)
    args, kwargs, countdown = callbacks[0]  # first's task
    elsewhere = args[0].replace(first.callback_token, second.callback_token)

    assert call_back(((elsewhere, args[1]), kwargs, countdown)) == 400  # not one of second's tasks

    for job in (first, second):
        job.refresh_from_db()
        assert job.status == JobStatus.PROCESSING and job.assets.count() == 0


@pytest.mark.services
@pytest.mark.parametrize("worker", [{"MIRSAM_POLL_SCHEDULE": "30"}], indirect=True)
def test_the_embedded_default_path_a_real_worker_calls_back_before_any_poll(site, worker, demo_offer, alice):
    """A worker with DEMO_CALLBACKS on, as the embedded default runs it: its
    first poll is 30 s away, so a job done in far less came by callback."""
    started = time.monotonic()
    job = submit(alice, demo_offer, outputs=2)

    while not Job.objects.get(pk=job.pk).is_final and time.monotonic() - started < 25:
        time.sleep(0.3)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, (job.status, worker.log.read_text()[-3000:])
    assert job.assets.count() == 2
    assert captures(job) == 1
    assert wallet_of(alice) == (START - 2 * PRICE, 0)
    calls = ProviderCall.objects.filter(adapter="demo", operation="callback", job_ref=job.pk)
    assert sorted(call.status_code for call in calls) == [200, 200]
