from __future__ import annotations

import logging

from celery import shared_task

from . import services

log = logging.getLogger(__name__)


@shared_task
def reconcile_checkouts_task() -> int:
    """Beat: grant paid Checkout Sessions whose webhook never arrived."""
    if not services.payments_configured():
        return 0
    return services.checkouts_reconcile()
