"""Which Celery queue each pipeline task goes to.

Video jobs take minutes and image jobs seconds; on one queue a burst of
videos would hold every worker and image jobs would wait behind them. So the
sender routes by the job's service: image and avatar jobs to
``MIRSAM_QUEUE_IMAGES``, video jobs to ``MIRSAM_QUEUE_VIDEOS``. Housekeeping
(the sweeper, the upload purge, Stripe reconciliation) is sent by beat to
``CELERY_TASK_DEFAULT_QUEUE``. Production runs separate workers with
``-Q images``, ``-Q videos`` and ``-Q celery``; the embedded default runs one
worker that consumes :func:`all_queues`.

A retried task keeps its queue (Celery re-sends it with the same delivery
info), so only first sends need to name it.
"""

from __future__ import annotations

from django.conf import settings

from providers.models import Service

from .models import Job


def queue_for(job: Job) -> str:
    """The queue of ``job``'s pipeline tasks (submit, poll, complete)."""
    return queue_for_service(job.service)


def queue_for_service(service: str) -> str:
    if service == Service.VIDEO:
        return settings.MIRSAM_QUEUE_VIDEOS
    return settings.MIRSAM_QUEUE_IMAGES


def queue_for_job_id(job_id: int) -> str:
    """As :func:`queue_for`, for a task that only has the id (a missing job
    goes to the images queue, where its task finds nothing to do)."""
    service = Job.objects.filter(pk=job_id).values_list("service", flat=True).first()
    return queue_for_service(service or Service.IMAGE)


def all_queues() -> list[str]:
    """Every queue Mirsam sends to, default first, without repeats."""
    names = [settings.CELERY_TASK_DEFAULT_QUEUE, settings.MIRSAM_QUEUE_IMAGES, settings.MIRSAM_QUEUE_VIDEOS]
    return list(dict.fromkeys(names))
