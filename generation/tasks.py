"""Celery tasks of the pipeline: each takes ids, loads, calls one service.

All run with ``acks_late`` (settings), so a crashed worker's message is
delivered again; the services they call are idempotent. Each runs in the job
owner's language, so the failure reasons it stores read in that language; the
pipeline's messages carry it (``language``, a code of ``LANGUAGES``), and a
message without it (an older one) reads it from the database.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import requests
from celery import Task, shared_task
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from providers.base import ProviderError, TaskResult
from providers.ratelimit import RateLimited

from . import services
from .models import Job, JobStatus, ProviderTask
from .polling import next_poll_delay
from .queues import queue_for, queue_for_job_id

log = logging.getLogger(__name__)

SUBMIT_MAX_RETRIES = 5


def _poll_later(job: Job, attempt: int, *, language: str, chain: int | None) -> None:
    """Send the job's ``attempt``-th poll when its model's schedule says
    (``generation.polling``); none once polling is over (the sweeper's then)."""
    delay = next_poll_delay(job=job, attempt=attempt)
    if delay is None:
        return
    poll_job_task.apply_async(
        (job.pk, attempt), {"language": language, "chain": chain}, countdown=delay, queue=queue_for(job)
    )


@shared_task(bind=True, max_retries=SUBMIT_MAX_RETRIES)
def submit_job_task(self: Task, job_id: int, language: str = "") -> None:
    """Submit the job's tasks; retry transient provider errors with backoff,
    then fail the job (releasing its hold) once retries are spent.

    No slot of the provider's rate limit within its wait bound is our own
    queueing, not a failure: the job is sent again (a fresh message, so it
    spends none of its retries) once a slot may be free, spread over a window
    so a deferred burst does not come back at once. The sweeper still ends a
    job that waits past its deadline."""
    with services.owner_language(job_id=job_id, language=language):
        try:
            job = services.job_dispatch(job_id=job_id)
        except RateLimited as exc:
            countdown = exc.retry_after + random.uniform(0, settings.KIE_RATE_LIMIT_WINDOW_SECONDS)
            submit_job_task.apply_async(
                (job_id,), {"language": language}, countdown=countdown, queue=queue_for_job_id(job_id)
            )
            return
        except (ProviderError, requests.RequestException) as exc:
            if self.request.retries < SUBMIT_MAX_RETRIES:
                raise self.retry(exc=exc, countdown=min(60, 2 ** (self.request.retries + 1))) from exc
            message = str(getattr(exc, "message", "")) or _("The provider could not be reached.")
            services.job_fail(job_id=job_id, code=getattr(exc, "code", "unreachable"), message=message)
            return
    waiting = job.status == JobStatus.QUEUED and bool(job.params.get("after_job"))  # for its speech
    if not job.is_final and not waiting:
        _poll_later(job, 0, language=language, chain=job.poll_chain)


@shared_task
def poll_job_task(job_id: int, attempt: int = 0, language: str = "", chain: int | None = None) -> None:
    """Poll until the job is final; the sweeper catches what polling gives up
    on. A poll of a superseded ``chain`` (the job's messages were sent again)
    stops; a message without one (sent before chains existed) polls on.

    A poll that finds no slot of the provider's poll limit in its short wait
    asked nothing: it is sent again (the same ``attempt``) once a slot may be
    free, spread over the limit's window; the job's deadline still bounds it."""
    with services.owner_language(job_id=job_id, language=language):
        try:
            job = services.job_poll(job_id=job_id, chain=chain)
        except RateLimited as exc:
            countdown = exc.retry_after + random.uniform(0, settings.KIE_POLL_RATE_LIMIT_WINDOW_SECONDS)
            poll_job_task.apply_async(
                (job_id, attempt),
                {"language": language, "chain": chain},
                countdown=countdown,
                queue=queue_for_job_id(job_id),
            )
            return
    if chain is not None and job.poll_chain != chain:
        return
    if not job.is_final:
        _poll_later(job, attempt + 1, language=language, chain=chain)


@shared_task(bind=True, autoretry_for=(requests.RequestException,), retry_backoff=True, max_retries=3)
def complete_task_task(self: Task, task_pk: int, result: dict[str, Any], language: str = "") -> None:
    """Record a final result a callback delivered."""
    if not language:
        language = ProviderTask.objects.values_list("job__user__preferred_language", flat=True).get(pk=task_pk)
    with translation.override(language or settings.LANGUAGE_CODE):
        services.task_complete(task_pk=task_pk, result=TaskResult.from_dict(result))


@shared_task
def sweep_stuck_jobs_task() -> int:
    """Beat: fail jobs past their deadline, release holds whose job is gone."""
    failed = services.sweep_stuck_jobs()
    if failed:
        log.warning("sweeper failed %d stuck job(s)", failed)
    services.holds_release_orphaned()
    return failed


@shared_task
def revive_stalled_jobs_task() -> int:
    """Beat: send again the messages of jobs that stopped moving (a lost message)."""
    revived = services.jobs_revive()
    if revived:
        log.warning("watchdog revived %d stalled job(s)", revived)
    return revived


@shared_task
def purge_uploads_task() -> int:
    """Beat: delete uploads past ``MIRSAM_UPLOAD_RETENTION_DAYS`` (results stay)."""
    return services.uploads_purge()
