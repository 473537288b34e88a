"""A worker may die at any point of a job (docs/architecture.md, "Why
repeating any step is safe"): the create request is never sent twice for one
output, a task whose create answer was lost is adopted from kie.ai's
callback, and a job whose messages were lost is revived by the watchdog.
The real kills, against real workers, are in tests/test_faults.py."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from credits.models import Wallet
from generation import services, tasks
from generation.models import Job, JobStatus, ProviderTask, TaskStatus
from providers.kie.client import Client
from tests.factories import OfferFactory
from tests.support.env import ROOT
from tests.support.kie import (
    CREATE,
    RECORD,
    TASK_ID,
    callback_body,
    created,
    envelope,
    kie_configure,
    record,
    requests_to,
    serve_png,
)

pytestmark = pytest.mark.django_db
PRICE = 2


class WorkerDied(BaseException):
    """Stands for SIGKILL: nothing after it runs, not even ``except Exception``."""


@pytest.fixture
def kie(settings, httpserver):
    server = kie_configure(settings, httpserver)
    settings.KIE_CALLBACK_BASE_URL = "https://mirsam.example"
    return server


@pytest.fixture
def queued(alice) -> Job:
    """A kie job of alice's, queued: its submit message was not run (no commit here)."""
    offer = OfferFactory(slug="test-kie", adapter="kie", provider_model="google/nano-banana", price_credits=PRICE)
    return services.job_submit(user=alice, offer=offer, params={"prompt": "a lighthouse at dusk"})


@pytest.fixture
def sent(monkeypatch):
    """The pipeline's ``apply_async`` calls, as (task name, args, kwargs); nothing runs."""
    calls: list[tuple[str, tuple, dict]] = []
    for task in (tasks.submit_job_task, tasks.poll_job_task):
        name = task.name.rsplit(".", 1)[-1]
        monkeypatch.setattr(
            task, "apply_async", lambda args=None, kwargs=None, _n=name, **o: calls.append((_n, args, kwargs or {}))
        )
    return calls


def _die_after(monkeypatch, operation: str) -> None:
    """The kie call ``operation`` reaches kie.ai and answers, and the worker dies before reading it."""
    real = Client.call

    def call(self, **kwargs):
        answer = real(self, **kwargs)
        if kwargs["operation"] == operation:
            raise WorkerDied
        return answer

    monkeypatch.setattr(Client, "call", call)


def test_a_create_whose_answer_died_with_the_worker_is_never_sent_again(kie, queued, alice, monkeypatch):
    kie.expect_request(CREATE).respond_with_json(created())
    _die_after(monkeypatch, "create")
    with pytest.raises(WorkerDied):
        services.job_dispatch(job_id=queued.pk)
    monkeypatch.undo()
    task = queued.tasks.get()
    assert (task.status, task.task_id) == (TaskStatus.SUBMITTING, "")
    assert task.create_sent_at is not None

    job = services.job_dispatch(job_id=queued.pk)  # the message, delivered again

    assert len(requests_to(kie, CREATE)) == 1
    assert not job.is_final and queued.tasks.get().status == TaskStatus.SUBMITTING


def test_kie_s_callback_names_the_task_whose_create_answer_was_lost_and_the_job_ends_once(
    kie, queued, alice, monkeypatch, client, django_capture_on_commit_callbacks
):
    kie.expect_request(CREATE).respond_with_json(created())
    _die_after(monkeypatch, "create")
    with pytest.raises(WorkerDied):
        services.job_dispatch(job_id=queued.pk)
    monkeypatch.undo()
    url = serve_png(kie)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("provider_callback", kwargs={"token": queued.callback_token}),
            data=callback_body("success", urls=[url]),
            content_type="application/json",
        )

    assert response.status_code == 200
    job = Job.objects.get(pk=queued.pk)
    task = job.tasks.get()
    assert (job.status, job.charged_credits, job.assets.count()) == (JobStatus.SUCCEEDED, PRICE, 1)
    assert (task.status, task.task_id) == (TaskStatus.SUCCEEDED, TASK_ID)
    wallet = Wallet.objects.get(user=alice)
    assert (wallet.balance, wallet.held) == (100 - PRICE, 0)
    assert len(requests_to(kie, CREATE)) == 1
    call_command("check_ledger")


def test_a_second_unknown_task_is_still_refused_once_nothing_waits_for_adoption(
    kie, queued, monkeypatch, client, django_capture_on_commit_callbacks
):
    kie.expect_request(CREATE).respond_with_json(created())
    _die_after(monkeypatch, "create")
    with pytest.raises(WorkerDied):
        services.job_dispatch(job_id=queued.pk)
    monkeypatch.undo()
    url = reverse("provider_callback", kwargs={"token": queued.callback_token})
    body = callback_body("generating", task_id="task_adopted")
    assert client.post(url, data=body, content_type="application/json").status_code == 200

    stranger = callback_body("success", task_id="task_someone_else", urls=["https://cdn.example/x.png"])
    response = client.post(url, data=stranger, content_type="application/json")

    assert response.status_code == 400 and response.json()["error"] == "unknown_task"
    assert queued.tasks.get().task_id == "task_adopted"


def test_a_transient_create_failure_leaves_the_task_to_be_sent_again(kie, queued, settings):
    kie.expect_request(CREATE).respond_with_data("busy", status=503)
    with pytest.raises(Exception, match="provider"):
        services.job_dispatch(job_id=queued.pk)
    task = queued.tasks.get()
    assert (task.status, task.create_sent_at) == (TaskStatus.PENDING, None)

    kie.clear()
    kie.expect_request(CREATE).respond_with_json(created())
    services.job_dispatch(job_id=queued.pk)
    assert queued.tasks.get().status == TaskStatus.RUNNING


# --- chains of polls ------------------------------------------------------------


def test_a_redelivered_submit_starts_a_new_chain_and_the_old_chain_stops(kie, queued, sent):
    kie.expect_request(CREATE).respond_with_json(created())
    kie.expect_request(RECORD).respond_with_json(envelope(record("generating")))
    tasks.submit_job_task.run(queued.pk)
    first = sent[-1]
    assert first[0] == "poll_job_task" and first[2]["chain"] == 1

    tasks.submit_job_task.run(queued.pk)  # delivered again
    assert sent[-1][2]["chain"] == 2 and len(requests_to(kie, CREATE)) == 1

    before = len(sent)
    tasks.poll_job_task.run(queued.pk, 0, chain=1)  # the first chain's poll
    assert len(sent) == before and requests_to(kie, RECORD) == []  # asked nothing, sent nothing
    tasks.poll_job_task.run(queued.pk, 0, chain=2)
    assert len(requests_to(kie, RECORD)) == 1 and sent[-1][2]["chain"] == 2


# --- the watchdog ----------------------------------------------------------------


def _age(job: Job, seconds: int) -> None:
    """The job last changed ``seconds`` ago."""
    Job.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(seconds=seconds))


def test_the_watchdog_sends_a_stalled_job_its_messages_again(kie, queued, alice, sent, settings):
    settings.MIRSAM_JOB_STALL_SECONDS = 60
    _age(queued, 61)
    assert services.jobs_revive() == 1
    assert sent[-1][0] == "submit_job_task" and sent[-1][1] == (queued.pk,)
    assert services.jobs_revive() == 0, "revived once per stall period"

    kie.expect_request(CREATE).respond_with_json(created())
    services.job_dispatch(job_id=queued.pk)
    _age(queued, 61)
    assert services.jobs_revive() == 1
    name, args, kwargs = sent[-1]
    assert name == "poll_job_task" and args[0] == queued.pk
    assert kwargs["chain"] == Job.objects.get(pk=queued.pk).poll_chain


def test_the_watchdog_leaves_alone_fresh_overdue_and_adoption_waiting_jobs(kie, queued, sent, settings):
    settings.MIRSAM_JOB_STALL_SECONDS = 60
    assert services.jobs_revive() == 0  # fresh
    ProviderTask.objects.filter(job=queued).update(status=TaskStatus.SUBMITTING)
    _age(queued, 61)
    assert services.jobs_revive() == 0  # waits for kie.ai's callback
    ProviderTask.objects.filter(job=queued).update(status=TaskStatus.PENDING)
    Job.objects.filter(pk=queued.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.MIRSAM_JOB_TIMEOUT_SECONDS + 1)
    )
    _age(queued, 61)
    assert services.jobs_revive() == 0  # the sweeper's now
    assert sent == []


def test_redis_is_given_a_visibility_timeout_of_minutes():
    code = (
        "import django; django.setup(); from django.conf import settings as s; print(s.CELERY_BROKER_TRANSPORT_OPTIONS)"
    )
    env = {"DJANGO_SETTINGS_MODULE": "config.settings", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/9", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "{'visibility_timeout': 600}"
