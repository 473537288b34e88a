"""Celery tasks of accounts: each takes plain values and calls one function."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings

log = logging.getLogger(__name__)

#: How many times a stored file of a deleted account (or upload) is tried.
STORAGE_DELETE_ATTEMPTS = 5


@shared_task
def storage_files_delete_task(names: list[str], attempt: int) -> None:
    """Try again to delete stored files that failed (accounts.deletion.storage_files_delete)."""
    from .deletion import storage_files_delete

    storage_files_delete(names=names, attempt=attempt)


@shared_task(bind=True, max_retries=None)
def mail_send_task(self: Any, parts: dict[str, Any]) -> bool:
    """Send one e-mail (``accounts.mail.message_parts``); on a failure try
    again after ``MIRSAM_MAIL_RETRY_SECONDS × 2ⁿ``, ``MIRSAM_MAIL_RETRIES``
    times, then log it as lost. Returns whether it was sent."""
    from .mail import message_build

    try:
        message_build(parts).send()
    except Exception as exc:  # SMTP errors, refused connections, an ESP's API errors
        if self.request.retries >= settings.MIRSAM_MAIL_RETRIES:
            log.error("e-mail to %s lost after %d attempts: %s", parts["to"], self.request.retries + 1, exc)
            return False
        log.warning("e-mail to %s failed (attempt %d), will retry: %s", parts["to"], self.request.retries + 1, exc)
        self.retry(exc=exc, countdown=settings.MIRSAM_MAIL_RETRY_SECONDS * 2**self.request.retries, throw=False)
        return False
    return True


@shared_task
def notify_job_finished_task(job_id: int) -> bool:
    """Tell the owner of final job ``job_id`` (accounts.notifications); True if told now."""
    from .notifications import notify_job_finished

    return notify_job_finished(job_id=job_id) is not None


@shared_task
def notify_purchase_task(purchase_id: int, invoice_url: str = "") -> bool:
    """The receipt of purchase ``purchase_id`` (accounts.notifications); True if told now."""
    from .notifications import notify_purchase

    return notify_purchase(purchase_id=purchase_id, invoice_url=invoice_url) is not None


@shared_task
def data_export_build_task(export_id: int) -> None:
    """Build a requested export of a user's data (accounts.export.export_build)."""
    from .export import export_build

    export_build(export_id=export_id)


@shared_task
def exports_purge_task() -> int:
    """Delete expired exports of users' data (accounts.export.exports_purge), on beat."""
    from .export import exports_purge

    return exports_purge()
