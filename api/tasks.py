"""Celery tasks of the API app; each takes ids, loads, calls one service."""

from __future__ import annotations

from celery import shared_task

from . import services, webhooks


@shared_task
def idempotency_purge_task() -> int:
    """Beat: delete idempotent answers older than ``MIRSAM_API_IDEMPOTENCY_HOURS``;
    returns how many."""
    return services.idempotency_purge()


@shared_task
def webhook_job_events_task(job_id: int) -> list[int]:
    """Make the events announcing final job ``job_id`` and queue their
    delivery (:func:`api.webhooks.webhook_events_for_job`); returns their ids."""
    return webhooks.webhook_events_for_job(job_id=job_id)


@shared_task
def webhook_deliver_task(event_id: int, attempt: int = 1) -> None:
    """Attempt ``attempt`` to deliver event ``event_id``; when the receiver did
    not take it, queue the next attempt after :func:`api.webhooks.retry_delay`
    (30 s, 60 s, 120 s, … by default) until ``MIRSAM_WEBHOOK_MAX_ATTEMPTS``.
    The attempt's number travels in the message (a fresh one each time, as
    the submit task's deferrals), so a message delivered twice makes no
    second attempt of that number: the service checks it."""
    outcome = webhooks.webhook_attempt(event_id=event_id, attempt=attempt)
    if outcome.retry:
        webhook_deliver_task.apply_async((event_id,), {"attempt": attempt + 1}, countdown=webhooks.retry_delay(attempt))
