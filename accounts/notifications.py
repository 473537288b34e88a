"""What the bell tells and what is e-mailed: a job that ended (succeeded or
failed; a job its owner canceled is not news).

The pipeline calls :func:`job_finished` in the transaction that made a job
final; after commit a Celery task (:func:`notify_job_finished`) makes the
:class:`~accounts.models.Notification` (once: its key is unique) and, when the
owner wants job e-mails (``User.email_job_updates``) and is not watching
(no job card of theirs polled in the last ``MIRSAM_NOTIFY_WATCHING_SECONDS``,
:class:`~accounts.models.Presence`), e-mails it in their language through
``accounts.mail`` (after commit, retried, never failing the caller).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .mail import mail_queue
from .models import Notification, Presence, User

log = logging.getLogger(__name__)

#: How often one process writes a user's presence at most (seconds).
PRESENCE_WRITE_SECONDS = 10
_written: dict[int, float] = {}


def presence_seen(*, user_id: int) -> None:
    """A job card of ``user_id`` just polled: they are watching. Written at
    most every :data:`PRESENCE_WRITE_SECONDS` per process."""
    now = timezone.now()
    last = _written.get(user_id)
    if last is not None and now.timestamp() - last < PRESENCE_WRITE_SECONDS:
        return
    _written[user_id] = now.timestamp()
    Presence.objects.update_or_create(user_id=user_id, defaults={"seen_at": now})


def is_watching(*, user_id: int) -> bool:
    """Did a job card of ``user_id`` poll within ``MIRSAM_NOTIFY_WATCHING_SECONDS``?"""
    since = timezone.now() - datetime.timedelta(seconds=settings.MIRSAM_NOTIFY_WATCHING_SECONDS)
    return Presence.objects.filter(user_id=user_id, seen_at__gte=since).exists()


def job_finished(*, job: Any) -> None:
    """Called by the pipeline where ``job`` became final: after commit, queue
    :func:`notify_job_finished` (a broker hiccup is logged, never raised)."""
    if job.status not in ("succeeded", "failed"):
        return
    job_id = job.pk

    def after_commit() -> None:
        from .tasks import notify_job_finished_task

        notify_job_finished_task.delay(job_id)

    transaction.on_commit(after_commit, robust=True)


def notify_job_finished(*, job_id: int) -> Notification | None:
    """Make job ``job_id``'s notification and e-mail it if wanted; returns
    the notification made now, ``None`` when it existed already (the event
    was told before) or the job is not news (canceled, unfinished, or its
    account deleted)."""
    from generation.models import Job

    job = Job.objects.select_related("user", "offer").filter(pk=job_id).first()
    if job is None or job.status not in ("succeeded", "failed") or job.user.deleted_at is not None:
        return None
    kind = Notification.Kind.JOB_SUCCEEDED if job.status == "succeeded" else Notification.Kind.JOB_FAILED
    offer = job.offer  # the model's name in both languages (modeltranslation's name_en / name_ar)
    params = {
        "job_id": job.pk,
        "model": getattr(offer, "name_en", "") or offer.name,
        "model_ar": getattr(offer, "name_ar", "") or "",
    }
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                user=job.user, kind=kind, key=f"job:{job.pk}:final", params=params
            )
    except IntegrityError:
        return None
    if job.user.email_job_updates and job.user.email and not is_watching(user_id=job.user_id):
        _email(notification, job)
    return notification


@dataclass(frozen=True)
class Shown:
    """A notification in the reader's language."""

    notification: Notification
    title: str
    body: str
    url: str


def shown(notification: Notification) -> Shown:
    """``notification`` in the active language: its title, a sentence and where it leads."""
    params = notification.params
    model = (params.get("model_ar") if translation.get_language() == "ar" else "") or params.get("model", "")
    url = reverse("job_detail", args=[params["job_id"]]) if "job_id" in params else reverse("dashboard")
    if notification.kind == Notification.Kind.JOB_SUCCEEDED:
        title = _("Your creation is ready")
        body = _("The %(model)s job you started is done. Open it to see, download or keep iterating.") % {
            "model": model
        }
    else:
        title = _("A job could not be made")
        body = _("The %(model)s job you started failed; its credits were returned to you.") % {"model": model}
    return Shown(notification, title, body, url)


def _email(notification: Notification, job: Any) -> None:
    user: User = job.user
    with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
        item = shown(notification)
        context = {
            "title": item.title,
            "body": item.body,
            "url": settings.MIRSAM_SITE_URL + item.url,
            "settings_url": settings.MIRSAM_SITE_URL + reverse("account_settings") + "#notifications",
        }
        subject = f"{_('Mirsam')} · {item.title}"
        text = render_to_string("accounts/email/notification.txt", context)
        html = render_to_string("accounts/email/notification.html", context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [user.email])
    message.attach_alternative(html, "text/html")
    mail_queue(message)
    Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())


def notifications_for(*, user: User) -> QuerySet[Notification]:
    """The user's notifications, newest first."""
    return Notification.objects.filter(user=user)


def unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notifications_mark_read(*, user: User, ids: list[int]) -> int:
    """Mark the user's notifications ``ids`` read (another user's are left alone); returns how many."""
    return Notification.objects.filter(user=user, pk__in=ids, read_at__isnull=True).update(read_at=timezone.now())
