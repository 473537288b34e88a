"""Deleting an account (issue 19): what goes, what stays and why.

Goes: every file the user has in storage (uploads, results and their
posters, exports of their data), the rows that point at them (uploads, assets, job inputs, showcase
picks of their results), projects, API keys, allauth e-mail addresses and
second factors, sessions, the prompts and provider payloads of their jobs,
and any other row that belongs to the user through a foreign key with
``on_delete=CASCADE`` (:func:`_cascading_relations`: a model added later, such
as the API's webhook endpoints, is covered without changing this module),
except those in :data:`KEPT_RELATIONS`. An active Stripe subscription is
canceled first; running jobs are canceled (their holds released, what was
delivered captured once).

Stays, anonymised: the ``User`` row itself (username and e-mail replaced by
``deleted-<id>``, names blank, no usable password, inactive, ``deleted_at``
set), because the wallet, its ledger entries, lots and holds, the purchases
and Stripe's records point at it: ``check_ledger`` stays clean and every
revenue figure is unchanged. The jobs stay as the record of what was charged
(model, status, credits, provider cost), without their prompts. Consent
records stay (which wording was accepted, when) without their photo.

Storage is changed only after the transaction commits (rows never point at a
deleted file); a file that cannot be deleted then is logged and retried by
:func:`accounts.tasks.storage_files_delete_task`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import ForeignObjectRel
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import DataExport, StaffAction, User
from .services import staff_action_record

if TYPE_CHECKING:
    from generation.models import Upload

log = logging.getLogger(__name__)

#: Relations to the user with ``on_delete=CASCADE`` whose rows stay when the
#: account is deleted ("app_label.Model.field"), and why.
KEPT_RELATIONS = frozenset(
    {
        "credits.Wallet.user",  # the ledger: entries, lots and holds hang off the wallet
        "generation.Job.user",  # what was made and charged (the operator figures read jobs)
        "generation.Consent.user",  # proof of the consent given (its photo goes)
        "accounts.StaffAction.user",  # the staff audit list
        "accounts.CreditAdjustment.user",  # staff adjustments of the ledger
        "admin.LogEntry.user",  # what a staff member changed in the admin
    }
)

#: Keys of ``Job.params`` that hold what the creator wrote (not the options
#: a price depends on): emptied on deletion.
TEXT_PARAMS = frozenset({"prompt", "negative_prompt", "multi_prompt", "title", "style_text", "lyrics", "script"})


class AccountDeletionError(Exception):
    """The account could not be deleted and nothing was changed; ``message``
    is safe to show (e.g. Stripe refused to cancel the subscription)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def deleted_email(user_id: int) -> str:
    """The e-mail a deleted account keeps: unique, and at a reserved domain
    (``.invalid``, RFC 2606) that can receive no mail."""
    return f"deleted-{user_id}@deleted.invalid"


def account_delete(*, user: User, actor: User | None = None, reason: str = "") -> bool:
    """Delete ``user``'s account as described in this module's docstring.

    ``actor`` is the staff member doing it (an ``account_delete`` audit row with
    ``reason``), or ``None`` when the user deletes their own. Returns ``True``,
    or ``False`` when the account was deleted already (then nothing changes).
    Raises :class:`AccountDeletionError` when Stripe cannot cancel an active
    subscription (then nothing is deleted: no account is left paying)."""
    if User.objects.filter(pk=user.pk, deleted_at__isnull=False).exists():
        return False
    # An HTTP call, before the transaction: if Stripe refuses, nothing is deleted.
    subscriptions = _subscriptions_cancel(user)
    with transaction.atomic():
        # The wallet first, then the user: job_submit takes the wallet's lock
        # and then inserts the job, whose foreign key share-locks the user
        # row; the other order deadlocks with it (seen on PostgreSQL).
        from credits.models import Wallet

        Wallet.objects.select_for_update().filter(user_id=user.pk).first()
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.deleted_at is not None:
            return False
        counts = _delete_locked(user)
        if actor is not None:
            staff_action_record(
                actor=actor,
                kind=StaffAction.Kind.ACCOUNT_DELETE,
                user=user,
                reason=reason or _("Account deleted by staff"),
                reference=f"user:{user.pk}",
            )
    log.info(
        "account %s deleted by %s: %d jobs canceled, %d files, %d subscriptions canceled, %s",
        user.pk,
        f"staff {actor.pk}" if actor is not None else "its owner",
        counts.pop("jobs_canceled"),
        counts.pop("files"),
        subscriptions,
        ", ".join(f"{n} {label}" for label, n in sorted(counts.items()) if n),
    )
    return True


def _delete_locked(user: User) -> dict[str, int]:
    """Everything :func:`account_delete` does in its transaction, on the locked user."""
    from credits.models import Wallet
    from generation.models import FINAL_JOB_STATUSES, Asset, Job, JobInput, ProviderTask, Upload
    from generation.services import job_cancel
    from providers.models import ProviderCall

    # Jobs are made under the wallet's lock: none starts while this runs.
    Wallet.objects.select_for_update().filter(user=user).first()
    unfinished = list(Job.objects.filter(user=user).exclude(status__in=FINAL_JOB_STATUSES))
    for job in unfinished:
        job_cancel(job=job)

    counts: dict[str, int] = {"jobs_canceled": len(unfinished)}
    names: list[str] = []
    for asset in Asset.objects.filter(user=user).only("file", "poster", "preview"):
        names += [f.name for f in (asset.file, asset.poster, asset.preview) if f.name]
    names += [name for name in Upload.objects.filter(user=user).values_list("file", flat=True) if name]
    names += [name for name in DataExport.objects.filter(user=user).values_list("file", flat=True) if name]
    counts["files"] = len(names)

    job_ids = Job.objects.filter(user=user).values("pk")
    counts["job inputs"] = JobInput.objects.filter(job__in=job_ids).delete()[0]
    counts["assets"] = _delete(Asset.objects.filter(user=user))
    counts["uploads"] = _delete(Upload.objects.filter(user=user))
    jobs = Job.objects.filter(user=user)
    for job in jobs.only("params"):
        scrubbed = {k: ("" if k in TEXT_PARAMS else v) for k, v in (job.params or {}).items()}
        if scrubbed != job.params:
            Job.objects.filter(pk=job.pk).update(params=scrubbed)
    jobs.update(prompt_text="", favourite=False, project=None)
    ProviderTask.objects.filter(job__user=user).update(output_urls=[])
    ProviderCall.objects.filter(job_ref__in=job_ids).update(request_body="", response_body="")

    for related in _cascading_relations():
        counts[related.related_model._meta.label] = _delete(
            related.related_model._default_manager.filter(**{related.field.name: user})
        )
    counts["sessions"] = _sessions_delete(user)

    user.username = f"deleted-{user.pk}"
    user.email = deleted_email(user.pk)
    user.first_name = user.last_name = ""
    user.set_unusable_password()  # also ends every session elsewhere: their auth hash no longer matches
    user.is_active = user.is_staff = user.is_superuser = False
    user.last_login = None
    user.deleted_at = timezone.now()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()

    transaction.on_commit(lambda: storage_files_delete(names=names))
    return counts


def _delete(queryset: models.QuerySet[Any]) -> int:
    """Delete the rows (and what cascades from them); how many of the queryset's own model."""
    _total, per_model = queryset.delete()
    return per_model.get(queryset.model._meta.label, 0)


def _cascading_relations() -> list[ForeignObjectRel]:
    """The reverse relations of rows that belong to a user and go with their
    account: every foreign key (or one-to-one) to the user model with
    ``on_delete=CASCADE``, less :data:`KEPT_RELATIONS`. Files are handled
    before (uploads and assets are gone by then)."""
    found = []
    # include_hidden: a foreign key with related_name="+" points at the user too.
    for related in User._meta.get_fields(include_hidden=True):
        if not isinstance(related, ForeignObjectRel) or related.related_model is None:
            continue
        # Seen from the user: a foreign key to it is one-to-many.
        if not (related.one_to_many or related.one_to_one) or related.on_delete is not models.CASCADE:
            continue
        if f"{related.related_model._meta.label}.{related.field.name}" in KEPT_RELATIONS:
            continue
        found.append(related)
    return found


def _sessions_delete(user: User) -> int:
    """Delete the user's sessions where the session engine keeps them in the
    database (``django.contrib.sessions``' db and cached_db engines: found by
    decoding, as sessions carry no user column). For other engines the
    unusable password ends them: Django drops a session whose auth hash no
    longer matches the user's on its next request."""
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.models import Session

    if settings.SESSION_ENGINE not in {
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
    }:
        return 0
    from importlib import import_module

    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    doomed = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator(chunk_size=2000):
        if str(session.get_decoded().get(SESSION_KEY, "")) == str(user.pk):
            doomed.append(session.session_key)
    for key in doomed:
        store_class(key).delete()  # the cached_db engine also drops its cache entry
    return len(doomed)


def _subscriptions_cancel(user: User) -> int:
    """Cancel, now, every subscription of ``user`` that Stripe may still
    charge (as dj-stripe last synced it: not canceled or expired), through
    dj-stripe's ``Subscription.cancel`` (DELETE /v1/subscriptions/{id}) with
    the configured key. Returns how many; raises :class:`AccountDeletionError`."""
    import stripe
    from djstripe.models import Subscription

    from billing.services import BillingError, _api_key

    live = list(
        Subscription.objects.filter(customer__subscriber=user).exclude(
            stripe_data__status__in=["canceled", "incomplete_expired"]
        )
    )
    if not live:
        return 0
    try:
        key = _api_key()
        for subscription in live:
            subscription.cancel(at_period_end=False, api_key=key)
    except (stripe.StripeError, BillingError) as exc:
        log.warning("account %s: could not cancel its subscription at Stripe: %s", user.pk, exc)
        raise AccountDeletionError(
            _(
                "Your subscription could not be canceled at our payment provider, so nothing was deleted."
                " Please try again later."
            )
        ) from exc
    return len(live)


def storage_files_delete(*, names: Iterable[str], attempt: int = 0) -> list[str]:
    """Delete these files from the default storage; a missing one counts as
    deleted. A file that fails is logged and retried later by
    :func:`accounts.tasks.storage_files_delete_task` (with backoff, a few
    times). Returns the names that failed now."""
    from django.core.files.storage import default_storage

    failed = []
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:
            log.warning("could not delete the stored file %s (attempt %d)", name, attempt + 1, exc_info=True)
            failed.append(name)
    if failed:
        from .tasks import STORAGE_DELETE_ATTEMPTS, storage_files_delete_task

        if attempt + 1 < STORAGE_DELETE_ATTEMPTS:
            storage_files_delete_task.apply_async((failed, attempt + 1), countdown=60 * 2**attempt)
        else:
            log.error("gave up deleting %d stored files: %s", len(failed), ", ".join(failed))
    return failed


def uploads_delete_all(*, user: User) -> tuple[int, int]:
    """Delete all of ``user``'s uploads (photos and recordings): the files
    from storage after commit, the rows now. Jobs and results made from them
    stay, their inputs pointing at no upload; consent records stay without
    their photo. An upload a running job still needs is kept (the provider
    is reading it). Returns (deleted, kept because in use)."""
    from generation.models import FINAL_JOB_STATUSES, JobInput, Upload

    with transaction.atomic():
        busy = set(
            JobInput.objects.filter(upload__user=user)
            .exclude(job__status__in=FINAL_JOB_STATUSES)
            .values_list("upload_id", flat=True)
        )
        doomed: list[Upload] = [u for u in Upload.objects.filter(user=user).only("pk", "file") if u.pk not in busy]
        names = [u.file.name for u in doomed if u.file.name]
        Upload.objects.filter(pk__in=[u.pk for u in doomed]).delete()
        transaction.on_commit(lambda: storage_files_delete(names=names))
    log.info("user %s deleted %d uploads (%d in use kept)", user.pk, len(doomed), len(busy))
    return len(doomed), len(busy)
