"""Writes of webhooks out: endpoints (make, turn back on, delete), events for
a finished job or a test, and the attempts to deliver them.

How a finished job is announced: ``generation.services.pipeline`` calls
:func:`job_finished_notify` in the transaction that makes the job final. It
registers an after-commit step that asks one indexed question — does the
owner have an endpoint that is on? — and only then queues
``api.tasks.webhook_job_events_task``, which makes one event per endpoint
(:func:`webhook_events_for_job`: unique per endpoint, job and type, so a job
is announced once) and queues one ``webhook_deliver_task`` per event. Each
attempt (:func:`webhook_attempt`) POSTs through :mod:`api.outbound` and
writes a :class:`~api.models.WebhookDelivery`; a 2xx ends the event, anything
else is tried again with backoff (:func:`retry_delay`) until
``MIRSAM_WEBHOOK_MAX_ATTEMPTS``; an event whose attempts are spent counts one
failure of its endpoint, and ``MIRSAM_WEBHOOK_DISABLE_AFTER`` of those in a
row turn the endpoint off.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from generation.models import Job, JobStatus

from . import outbound
from .models import WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookEventStatus, WebhookEventType

if TYPE_CHECKING:
    from accounts.models import User

log = logging.getLogger(__name__)

#: Every signing secret starts with this (as Stripe's ``whsec_``), so a leaked one is easy to recognise.
SECRET_PREFIX = "mwhsec_"  # noqa: S105  # a marker, not a secret
#: The longest wait between two attempts, seconds: below the Redis broker's
#: visibility timeout (600 s), or a waiting message would be handed out twice.
MAX_RETRY_DELAY = 300

#: The event type announcing a job that ended with this status.
EVENT_FOR_STATUS = {
    JobStatus.SUCCEEDED: WebhookEventType.JOB_SUCCEEDED,
    JobStatus.FAILED: WebhookEventType.JOB_FAILED,
    JobStatus.CANCELED: WebhookEventType.JOB_CANCELED,
}


class WebhookError(Exception):
    """A refused change to an endpoint; ``message`` is for its owner."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- endpoints --------------------------------------------------------------------------


def webhook_endpoint_create(*, user: User, url: str, description: str = "") -> WebhookEndpoint:
    """Register ``url`` (at most 500 characters, https, a public host:
    :func:`api.outbound.url_check`) for ``user``, with a ``description`` of at
    most 200 characters. The endpoint's ``secret`` (``mwhsec_`` + 43 URL-safe
    characters, 256 bits) is for the answer page only. Raises
    :class:`WebhookError` for a refused URL or when the user already has
    ``MIRSAM_WEBHOOK_MAX_ENDPOINTS``."""
    url = url.strip()
    description = " ".join(description.split())
    if not url or len(url) > 500:
        raise WebhookError(_("Give a URL of at most 500 characters."))
    if len(description) > 200:
        raise WebhookError(_("The description is at most 200 characters."))
    try:
        outbound.url_check(url)
    except outbound.UnsafeAddress as exc:
        raise WebhookError(exc.message) from exc
    with transaction.atomic():
        # Counted under the user's row lock, so two forms sent at once cannot pass the limit.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        limit = settings.MIRSAM_WEBHOOK_MAX_ENDPOINTS
        if WebhookEndpoint.objects.filter(user=user).count() >= limit:
            raise WebhookError(_("You can have at most %(count)d webhook endpoints.") % {"count": limit})
        return WebhookEndpoint.objects.create(
            user=user, url=url, description=description, secret=SECRET_PREFIX + secrets.token_urlsafe(32)
        )


def webhook_endpoint_enable(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Turn a turned-off endpoint back on, its count of failures at zero.
    Events made while it was off are not sent again."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.disabled_at = None
        endpoint.disabled_reason = ""
        endpoint.consecutive_failures = 0
        endpoint.save(update_fields=["disabled_at", "disabled_reason", "consecutive_failures"])
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its events and deliveries; an attempt already
    queued then finds nothing and sends nothing."""
    endpoint.delete()


# --- events -----------------------------------------------------------------------------


def _absolute(path: str) -> str:
    base: str = settings.MIRSAM_SITE_URL
    return base.rstrip("/") + path


def _envelope(event: WebhookEvent, data: Mapping[str, object]) -> dict[str, object]:
    return {
        "id": event.public_id,
        "type": event.type,
        "created": int(event.created_at.timestamp()),
        **data,
    }


def _queue_deliveries(event_ids: list[int]) -> None:
    from .tasks import webhook_deliver_task

    def send() -> None:
        for pk in event_ids:
            webhook_deliver_task.delay(pk)

    if event_ids:
        transaction.on_commit(send)


def job_finished_notify(*, job: Job) -> None:
    """Called by the pipeline in the transaction that made ``job`` final:
    after commit, if the owner has an endpoint that is on (one indexed
    query), queue the task that makes and sends the events. Nothing is
    queried inside the job's transaction, and an error after commit is
    logged, not raised into the pipeline."""
    user_id, job_id = job.user_id, job.pk

    def after_commit() -> None:
        if WebhookEndpoint.objects.filter(user_id=user_id, disabled_at__isnull=True).exists():
            from .tasks import webhook_job_events_task

            webhook_job_events_task.delay(job_id)

    # robust: a broker or database hiccup here is logged, never the pipeline's failure.
    transaction.on_commit(after_commit, robust=True)


def webhook_events_for_job(*, job_id: int) -> list[int]:
    """Make the event announcing final job ``job_id`` for each endpoint of its
    owner that is on, and queue their delivery. Returns the ids of the events
    made now: an endpoint that already has this job's event gets none (so
    running this twice announces the job once). A job that is not final, or
    gone, gets none."""
    job = Job.objects.select_related("offer", "hold", "user").filter(pk=job_id).first()
    if job is None or job.status not in EVENT_FOR_STATUS:
        return []
    event_type = EVENT_FOR_STATUS[JobStatus(job.status)]
    endpoints = list(WebhookEndpoint.objects.filter(user_id=job.user_id, disabled_at__isnull=True))
    if not endpoints:
        return []
    from .v1 import job_dict

    with translation.override(job.user.preferred_language or settings.LANGUAGE_CODE):
        data = {"job": job_dict(job, absolute=_absolute)}
    made: list[int] = []
    with transaction.atomic():
        for endpoint in endpoints:
            try:
                with transaction.atomic():
                    event = WebhookEvent.objects.create(endpoint=endpoint, job=job, type=event_type)
            except IntegrityError:
                continue  # announced already (a repeated task)
            event.payload = _envelope(event, data)
            event.save(update_fields=["payload"])
            made.append(event.pk)
        _queue_deliveries(made)
    return made


def webhook_ping(*, endpoint: WebhookEndpoint) -> WebhookEvent:
    """Make a test event (``ping``) for the endpoint, on or off, and queue its
    delivery: one attempt, which does not count towards turning it off."""
    with transaction.atomic():
        event = WebhookEvent.objects.create(endpoint=endpoint, type=WebhookEventType.PING)
        event.payload = _envelope(
            event, {"job": None, "message": "A test event from Mirsam: your endpoint receives events."}
        )
        event.save(update_fields=["payload"])
        _queue_deliveries([event.pk])
    return event


# --- delivering -------------------------------------------------------------------------


def retry_delay(attempt: int) -> int:
    """Seconds to wait after failed attempt ``attempt`` (1, 2, …):
    ``MIRSAM_WEBHOOK_RETRY_SECONDS`` × 2^(attempt−1), at most 300."""
    return int(min(MAX_RETRY_DELAY, settings.MIRSAM_WEBHOOK_RETRY_SECONDS * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class AttemptOutcome:
    """What :func:`webhook_attempt` did: ``retry`` is True when the event is
    still pending and should be tried again (after :func:`retry_delay`)."""

    delivery: WebhookDelivery | None
    retry: bool


def _finish(event: WebhookEvent, *, status: str) -> None:
    event.status = status
    event.finished_at = timezone.now()
    event.save(update_fields=["status", "finished_at", "attempts"])


def webhook_attempt(*, event_id: int, attempt: int) -> AttemptOutcome:
    """Try to deliver event ``event_id`` once, as attempt number ``attempt``
    (1-based). Does nothing (``delivery`` None) when the event is gone or
    final, its endpoint is off (a job event), or this attempt was already made
    (a message delivered twice). Otherwise POSTs the event's body and records
    the delivery; a 2xx delivers the event and resets its endpoint's
    failures. Any other answer, or none, leaves the event pending for another
    attempt, unless it was the last one (``MIRSAM_WEBHOOK_MAX_ATTEMPTS``; a
    ``ping`` has one): then the event fails and, for a job event, its endpoint
    counts one more failure, turned off at ``MIRSAM_WEBHOOK_DISABLE_AFTER``.

    The event's row stays locked during the POST (bounded by
    ``MIRSAM_WEBHOOK_TIMEOUT_SECONDS``), so two workers never send one attempt."""
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update(of=("self",))
            .select_related("endpoint", "endpoint__user")
            .filter(pk=event_id)
            .first()
        )
        if event is None or event.status != WebhookEventStatus.PENDING or event.attempts >= attempt:
            return AttemptOutcome(delivery=None, retry=False)
        endpoint = event.endpoint
        is_ping = event.type == WebhookEventType.PING
        if not endpoint.is_active and not is_ping:
            _finish(event, status=WebhookEventStatus.FAILED)
            return AttemptOutcome(delivery=None, retry=False)
        body = json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode()
        with translation.override(endpoint.user.preferred_language or settings.LANGUAGE_CODE):
            answer = outbound.post_signed(
                url=endpoint.url,
                secret=endpoint.secret,
                body=body,
                headers={"Mirsam-Event-Id": event.public_id, "Mirsam-Event-Type": event.type},
            )
            error = answer.error or (
                "" if answer.ok else _("The receiver answered HTTP %(code)s.") % {"code": answer.status_code}
            )
            delivery = WebhookDelivery.objects.create(
                event=event,
                attempt=attempt,
                succeeded=answer.ok,
                status_code=answer.status_code,
                latency_ms=answer.latency_ms,
                response_excerpt=answer.body_excerpt[: WebhookDelivery.RESPONSE_EXCERPT],
                error=error[:300],
            )
            event.attempts = attempt
            if answer.ok:
                _finish(event, status=WebhookEventStatus.SUCCEEDED)
                if not is_ping and endpoint.consecutive_failures:
                    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
                return AttemptOutcome(delivery=delivery, retry=False)
            last = 1 if is_ping else settings.MIRSAM_WEBHOOK_MAX_ATTEMPTS
            if attempt < last:
                event.save(update_fields=["attempts"])
                return AttemptOutcome(delivery=delivery, retry=True)
            _finish(event, status=WebhookEventStatus.FAILED)
            if not is_ping:
                _count_failure(endpoint_id=endpoint.pk, last_error=error)
    return AttemptOutcome(delivery=delivery, retry=False)


def _count_failure(*, endpoint_id: int, last_error: str) -> None:
    """One more failed event for the endpoint; turn it off at the limit.
    Runs in the caller's transaction and language."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    endpoint.consecutive_failures += 1
    fields = ["consecutive_failures"]
    limit = settings.MIRSAM_WEBHOOK_DISABLE_AFTER
    if endpoint.is_active and endpoint.consecutive_failures >= limit:
        endpoint.disabled_at = timezone.now()
        endpoint.disabled_reason = (
            _("%(count)d events in a row could not be delivered. The last error: %(error)s")
            % {"count": endpoint.consecutive_failures, "error": last_error}
        )[:300]
        fields += ["disabled_at", "disabled_reason"]
        log.warning("webhook endpoint %s turned off after %d failed events", endpoint.pk, endpoint.consecutive_failures)
    endpoint.save(update_fields=fields)
