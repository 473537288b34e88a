from __future__ import annotations

import logging

from celery import shared_task

from . import services

log = logging.getLogger(__name__)


@shared_task
def expire_credits_task() -> int:
    """Beat: tell users a week ahead about credits that will expire, and
    expire the lots whose time has come. Returns the credits expired."""
    told = services.lots_notify_expiring()
    expired = services.credits_expire()
    if told or expired:
        log.info("credit expiry: %d lot(s) noticed, %d credit(s) expired", told, expired)
    return expired
