"""Celery tasks of the providers app (beat's housekeeping, default queue)."""

from __future__ import annotations

import logging

from celery import shared_task

from . import services

log = logging.getLogger(__name__)


@shared_task
def purge_provider_calls_task() -> int:
    """Beat: delete provider calls past ``PROVIDER_CALL_RETENTION_DAYS``."""
    deleted = services.provider_calls_purge()
    if deleted:
        log.info("purged %d provider call(s) from the log", deleted)
    return deleted
