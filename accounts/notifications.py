"""What the bell tells and what is e-mailed: a job that ended (succeeded or
failed; a job its owner canceled is not news), a payment received (a pack, a
plan's first payment or its renewal: the receipt, with the amount, the
credits and the invoice), a plan's renewal payment that failed, and a balance
that fell below the owner's ``low_balance_threshold`` (once, until it is back
above it). Every event makes one :class:`~accounts.models.Notification` (a
unique key) and at most one e-mail, in the owner's language.

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
from django.utils.translation import ngettext

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
    """Did a job card of ``user_id`` poll within ``MIRSAM_NOTIFY_WATCHING_SECONDS``,
    or is a page of theirs holding a push stream now (a card waiting on
    push does not poll: generation/push.py)?"""
    from generation.push import watching  # generation builds on accounts

    since = timezone.now() - datetime.timedelta(seconds=settings.MIRSAM_NOTIFY_WATCHING_SECONDS)
    return Presence.objects.filter(user_id=user_id, seen_at__gte=since).exists() or watching(user_id=user_id)


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


def _notify(*, user: User, kind: str, key: str, params: dict[str, Any], email: bool) -> Notification | None:
    """Make the notification ``key`` (``None`` if it exists: told before) and
    e-mail it when ``email`` and the user has an address."""
    try:
        with transaction.atomic():
            notification = Notification.objects.create(user=user, kind=kind, key=key, params=params)
    except IntegrityError:
        return None
    if email and user.email and user.is_active:
        _email(notification, user)
    return notification


def notify_job_finished(*, job_id: int) -> Notification | None:
    """Make job ``job_id``'s notification and e-mail it if wanted; returns
    the notification made now, ``None`` when it existed already (the event
    was told before) or the job is not news (canceled, unfinished, or its
    account deleted). Then checks the owner's balance (:func:`low_balance_check`)."""
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
    wanted = job.user.email_job_updates and not is_watching(user_id=job.user_id)
    notification = _notify(user=job.user, kind=kind, key=f"job:{job.pk}:final", params=params, email=wanted)
    if job.charged_credits:
        low_balance_check(user=job.user)
    return notification


def purchase_made(*, purchase: Any, invoice_url: str = "") -> None:
    """Called by billing where a purchase is first recorded: after commit,
    queue the receipt (:func:`notify_purchase`)."""
    purchase_id = purchase.pk

    def after_commit() -> None:
        from .tasks import notify_purchase_task

        notify_purchase_task.delay(purchase_id, invoice_url)

    transaction.on_commit(after_commit, robust=True)


def notify_purchase(*, purchase_id: int, invoice_url: str = "") -> Notification | None:
    """The receipt of purchase ``purchase_id``: what was paid (minor units
    and currency, as Stripe reported it), the credits granted, and a link to
    Stripe's invoice when there is one (else the billing page). A plan's
    renewal (Stripe's ``billing_reason`` ``subscription_cycle``) says so.
    A balance back above the threshold may be told low again later."""
    from billing.models import Purchase

    purchase = Purchase.objects.select_related("user", "pack", "plan").filter(pk=purchase_id).first()
    if purchase is None or purchase.user.deleted_at is not None:
        return None
    offering = purchase.pack or purchase.plan
    renewal = purchase.billing_reason == "subscription_cycle"
    params = {
        "amount": purchase.amount,
        "currency": purchase.currency,
        "credits": purchase.credits,
        "name": getattr(offering, "name_en", "") or (offering.name if offering else ""),
        "name_ar": getattr(offering, "name_ar", "") or "",
        "invoice_url": invoice_url,
    }
    kind = Notification.Kind.PLAN_RENEWED if renewal else Notification.Kind.PURCHASE
    notification = _notify(
        user=purchase.user, kind=kind, key=f"purchase:{purchase.stripe_id}", params=params, email=True
    )
    low_balance_check(user=purchase.user)
    return notification


def notify_renewal_failed(
    *, user: User, invoice_id: str, amount: int, currency: str, invoice_url: str
) -> Notification | None:
    """A plan's renewal payment failed (Stripe's ``invoice.payment_failed``):
    tell the owner, once per invoice, with Stripe's page to pay it."""
    params = {"amount": amount, "currency": currency, "invoice_url": invoice_url}
    return _notify(
        user=user, kind=Notification.Kind.RENEWAL_FAILED, key=f"invoice:{invoice_id}:failed", params=params, email=True
    )


def low_balance_check(*, user: User) -> Notification | None:
    """Tell ``user`` once that their available credits fell below their
    ``low_balance_threshold`` (0: never); re-arm when they are back above it."""
    from credits.services import wallet_for

    threshold = user.low_balance_threshold
    if not threshold:
        return None
    wallet = wallet_for(user)
    available = wallet.balance - wallet.held
    if available >= threshold:
        User.objects.filter(pk=user.pk, low_balance_notified=True).update(low_balance_notified=False)
        return None
    if not User.objects.filter(pk=user.pk, low_balance_notified=False).update(low_balance_notified=True):
        return None  # told already, and not back above since
    stamp = timezone.now().strftime("%Y%m%d%H%M%S%f")
    params = {"available": available, "threshold": threshold}
    return _notify(
        user=user, kind=Notification.Kind.LOW_BALANCE, key=f"low_balance:{user.pk}:{stamp}", params=params, email=True
    )


@dataclass(frozen=True)
class Shown:
    """A notification in the reader's language."""

    notification: Notification
    title: str
    body: str
    url: str


def _money(params: dict[str, Any]) -> str:
    from billing.money import format_money

    return format_money(int(params.get("amount") or 0), str(params.get("currency") or ""))


def _named(params: dict[str, Any], key: str) -> str:
    return str((params.get(f"{key}_ar") if translation.get_language() == "ar" else "") or params.get(key, ""))


def shown(notification: Notification) -> Shown:
    """``notification`` in the active language: its title, a sentence and where it leads."""
    params, kind = notification.params, notification.kind
    if kind in (Notification.Kind.JOB_SUCCEEDED, Notification.Kind.JOB_FAILED):
        url = reverse("job_detail", args=[params["job_id"]])
        if kind == Notification.Kind.JOB_SUCCEEDED:
            title = _("Your creation is ready")
            body = _("The %(model)s job you started is done. Open it to see, download or keep iterating.")
        else:
            title = _("A job could not be made")
            body = _("The %(model)s job you started failed; its credits were returned to you.")
        return Shown(notification, title, body % {"model": _named(params, "model")}, url)
    if kind in (Notification.Kind.PURCHASE, Notification.Kind.PLAN_RENEWED):
        url = params.get("invoice_url") or reverse("billing")
        values = {"amount": _money(params), "credits": params.get("credits", 0), "name": _named(params, "name")}
        if kind == Notification.Kind.PLAN_RENEWED:
            title = _("Your plan renewed")
            body = ngettext(
                "%(name)s renewed: %(amount)s paid, %(credits)d credit added to your balance.",
                "%(name)s renewed: %(amount)s paid, %(credits)d credits added to your balance.",
                values["credits"],
            )
        else:
            title = _("Payment received")
            body = ngettext(
                "Thank you: %(amount)s paid for %(name)s, %(credits)d credit added to your balance.",
                "Thank you: %(amount)s paid for %(name)s, %(credits)d credits added to your balance.",
                values["credits"],
            )
        return Shown(notification, title, body % values, url)
    if kind == Notification.Kind.RENEWAL_FAILED:
        url = params.get("invoice_url") or reverse("billing")
        body = _(
            "We could not take %(amount)s for your plan. "
            "Pay the invoice or update your card to keep its credits coming."
        ) % {"amount": _money(params)}
        return Shown(notification, _("Your plan's payment failed"), body, url)
    available, threshold = int(params.get("available", 0)), int(params.get("threshold", 0))
    body = ngettext(
        "You have %(available)d credit left to spend, below the %(threshold)d you asked to be told about.",
        "You have %(available)d credits left to spend, below the %(threshold)d you asked to be told about.",
        available,
    ) % {"available": available, "threshold": threshold}
    return Shown(notification, _("Your balance is low"), body, reverse("pricing"))


def _email(notification: Notification, user: User) -> None:
    with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
        item = shown(notification)
        url = item.url if item.url.startswith("http") else settings.MIRSAM_SITE_URL + item.url
        job_mail = notification.kind in (Notification.Kind.JOB_SUCCEEDED, Notification.Kind.JOB_FAILED)
        context = {
            "title": item.title,
            "body": item.body,
            "url": url,
            "job_mail": job_mail,
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
