from __future__ import annotations

from celery import shared_task

from . import services


@shared_task
def idempotency_purge_task() -> int:
    """Beat: delete idempotent answers older than ``MIRSAM_API_IDEMPOTENCY_HOURS``;
    returns how many."""
    return services.idempotency_purge()
