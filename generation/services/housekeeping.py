"""Housekeeping: the watchdog that revives stalled jobs, the sweeper that
ends stuck ones, the release of holds whose job is gone, deleting a
creation and its owner canceling a running one."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from credits.models import Hold, HoldStatus
from credits.services import credits_release

from ..errors import GenerationError
from ..models import FINAL_JOB_STATUSES, JOB_HOLD_PREFIX, UNFINISHED_TASK_STATUSES, Job, JobInput, TaskStatus
from ..queues import queue_for
from .pipeline import (
    CANCELED_CODE,
    asset_files_delete,
    job_fail,
    job_poll,
    job_try_finish,
    owner_language,
    poll_chain_restart,
    task_finish_failed,
)

log = logging.getLogger(__name__)

TIMEOUT_MESSAGE = gettext_lazy("The provider did not finish in time. Your credits were returned.")
ORPHANED_HOLD_REASON = gettext_lazy("The job was removed; its credits were returned.")


def sweep_stuck_jobs() -> int:
    """Fail jobs older than ``MIRSAM_JOB_TIMEOUT_SECONDS`` that are not final,
    after asking the provider one last time. Returns how many were failed."""
    deadline = timezone.now() - timedelta(seconds=settings.MIRSAM_JOB_TIMEOUT_SECONDS)
    failed = 0
    for job_id in (
        Job.objects.exclude(status__in=FINAL_JOB_STATUSES).filter(created_at__lt=deadline).values_list("pk", flat=True)
    ):
        with owner_language(job_id=job_id):
            try:
                if job_poll(job_id=job_id).is_final:
                    continue
            except Exception:  # a broken provider must not stop the sweep
                log.exception("last poll of stuck job %s failed", job_id)
            job_fail(job_id=job_id, code="timeout", message=str(TIMEOUT_MESSAGE))
        failed += 1
    return failed


def jobs_revive() -> int:
    """Send again the pipeline messages of jobs that stopped moving: not final,
    younger than ``MIRSAM_JOB_TIMEOUT_SECONDS`` (older ones are the
    sweeper's) and unchanged for ``MIRSAM_JOB_STALL_SECONDS``. A message is
    lost when Redis restarts without persistence, when a task dies on a
    dropped database connection, or until the broker's visibility timeout
    when a whole worker is killed; every step is idempotent, so sending one
    again is safe.

    A job with tasks never sent gets its submit message again; one with
    running tasks a new chain of polls (the old chain, if it still lives,
    stops); one whose only unfinished tasks are ``submitting`` waits for the
    provider's callback. Each revival moves the job's ``updated_at``, so a job
    is revived at most once per stall period. Returns how many were revived.
    """
    from ..tasks import poll_job_task, submit_job_task

    now = timezone.now()
    stalled = (
        Job.objects.exclude(status__in=FINAL_JOB_STATUSES)
        .filter(updated_at__lt=now - timedelta(seconds=settings.MIRSAM_JOB_STALL_SECONDS))
        .filter(created_at__gte=now - timedelta(seconds=settings.MIRSAM_JOB_TIMEOUT_SECONDS))
    )
    revived = 0
    for job in stalled.only("pk", "service"):
        statuses = set(job.tasks.values_list("status", flat=True))
        if TaskStatus.PENDING in statuses:
            poll_chain_restart(job_id=job.pk)
            submit_job_task.apply_async((job.pk,), queue=queue_for(job))
        elif TaskStatus.RUNNING in statuses:
            chain = poll_chain_restart(job_id=job.pk)
            # A revived job is not new: a fixed schedule goes on at its longest
            # gap; the fitted one reads the time since the job was sent anyway.
            attempt = max(0, len(settings.MIRSAM_POLL_SCHEDULE) - 1)
            poll_job_task.apply_async((job.pk, attempt), {"chain": chain}, queue=queue_for(job))
        else:
            continue
        revived += 1
    return revived


def holds_release_orphaned() -> int:
    """Release open holds of jobs that no longer exist (a row deleted outside
    :func:`job_delete`, which refuses running jobs): their credits would stay
    held forever. A hold younger than a minute is left alone (its job may be
    in a transaction not yet committed). Returns how many were released."""
    cutoff = timezone.now() - timedelta(minutes=1)
    released = 0
    orphans = Hold.objects.filter(
        status=HoldStatus.OPEN, reference__startswith=JOB_HOLD_PREFIX, job__isnull=True, created_at__lt=cutoff
    ).select_related("wallet__user")
    for hold in orphans:
        with translation.override(hold.wallet.user.preferred_language or settings.LANGUAGE_CODE):
            credits_release(hold=hold, reason=str(ORPHANED_HOLD_REASON))
        log.warning("released the open hold %s of a job that no longer exists (%s)", hold.pk, hold.reference)
        released += 1
    return released


def job_delete(*, job: Job) -> None:
    """Delete a finished job and its files. Raises :class:`GenerationError`
    while the job is still running (its hold is still open), or while an
    unfinished job still works from one of its results (an upscale of it:
    the provider needs the file). Jobs made from its results stay, their
    inputs pointing at no result."""
    if not job.is_final:
        raise GenerationError(_("A job can be deleted once it has finished."), code="running")
    if JobInput.objects.filter(asset__job=job).exclude(job__status__in=FINAL_JOB_STATUSES).exists():
        raise GenerationError(
            _("A running job still uses this result; delete it when that job has finished."), code="in_use"
        )
    with transaction.atomic():
        assets = list(job.assets.all())
        job.delete()

        def delete_files() -> None:
            for asset in assets:
                asset_files_delete(asset=asset)

        transaction.on_commit(delete_files)


def job_cancel(*, job: Job) -> Job:
    """The owner cancels a job that has not finished (the API's cancel; an
    MCP tool may call it too): every unfinished task fails with
    :data:`CANCELED_CODE`, and the job finishes as any job does
    (``job_try_finish``): outputs already delivered are charged, the rest of
    the hold is released, so credits are neither lost nor counted twice. A
    result that arrives later finds its task final and changes nothing
    (``task_complete`` claims only unfinished tasks). A job that is final
    already is returned unchanged. Returns the job as it is now."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.is_final:
            return job
        with owner_language(job_id=job.pk):
            message = _("Canceled by you.")
        for task in job.tasks.filter(status__in=UNFINISHED_TASK_STATUSES):
            task_finish_failed(task_pk=task.pk, code=CANCELED_CODE, message=message)
        return job_try_finish(job_id=job.pk)
