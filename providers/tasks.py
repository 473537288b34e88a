"""Celery tasks of the providers app: beat's housekeeping and the demo
provider's callbacks (default queue)."""

from __future__ import annotations

import logging
from typing import Any

import requests
from celery import shared_task

from . import services
from .base import TaskResult
from .demo import callback_send

log = logging.getLogger(__name__)

#: Attempts after the first for a demo callback that got no answer (the web
#: server restarting); polling delivers the result if all fail.
DEMO_CALLBACK_RETRIES = 2


@shared_task
def purge_provider_calls_task() -> int:
    """Beat: delete provider calls past ``PROVIDER_CALL_RETENTION_DAYS``."""
    deleted = services.provider_calls_purge()
    if deleted:
        log.info("purged %d provider call(s) from the log", deleted)
    return deleted


@shared_task(
    autoretry_for=(requests.ConnectionError, requests.Timeout),
    max_retries=DEMO_CALLBACK_RETRIES,
    retry_backoff=True,
    retry_jitter=False,
)
def demo_callback_task(
    url: str, result: dict[str, Any], provider_model: str = "", params: dict[str, Any] | None = None, job_ref: int = 0
) -> int:
    """POST the demo's signed callback of a done task (``result``:
    :meth:`TaskResult.as_dict`) to ``url``, our callback endpoint; sent by
    :meth:`providers.demo.DemoAdapter.submit` due when the task is done.
    Retried (1 s, then 2 s later) when the endpoint gives no answer; an
    answer that is not 200 is logged, not retried. Returns the HTTP status."""
    return callback_send(
        url=url,
        result=TaskResult.from_dict(result),
        provider_model=provider_model,
        params=params or {},
        job_ref=job_ref,
    )
