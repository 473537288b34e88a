"""Housekeeping: the sweeper that ends stuck jobs, and deleting a creation."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..errors import GenerationError
from ..models import FINAL_JOB_STATUSES, Job
from .pipeline import asset_files_delete, job_fail, job_poll, owner_language

log = logging.getLogger(__name__)

TIMEOUT_MESSAGE = gettext_lazy("The provider did not finish in time. Your credits were returned.")


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


def job_delete(*, job: Job) -> None:
    """Delete a finished job and its files. Raises :class:`GenerationError`
    while the job is still running (its hold is still open)."""
    if not job.is_final:
        raise GenerationError(_("A job can be deleted once it has finished."), code="running")
    with transaction.atomic():
        assets = list(job.assets.all())
        job.delete()

        def delete_files() -> None:
            for asset in assets:
                asset_files_delete(asset=asset)

        transaction.on_commit(delete_files)
