"""Account operations."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Abs
from django.utils import timezone
from django.utils.translation import gettext as _

from credits.models import LotSource, Wallet
from credits.services import CreditsError, InsufficientCredits, credits_adjust, credits_grant

from .models import CreditAdjustment, StaffAction, User


def user_onboard(*, user: User) -> None:
    """Give a new user the sign-up bonus (``MIRSAM_SIGNUP_CREDITS``, may be 0),
    once: the ledger key is per user."""
    amount = settings.MIRSAM_SIGNUP_CREDITS
    if amount > 0:
        with transaction.atomic():
            credits_grant(
                user=user,
                amount=amount,
                idempotency_key=f"signup:{user.pk}",
                reason=_("Sign-up bonus"),
                reference="signup",
                source=LotSource.SIGNUP,
            )


def user_signed_up(*, user: User) -> None:
    """A new account: its sign-up bonus now, or, when
    ``MIRSAM_SIGNUP_BONUS_AFTER_VERIFICATION`` is on and no address of the
    user is verified yet, once one is (:func:`user_email_verified`)."""
    if settings.MIRSAM_SIGNUP_BONUS_AFTER_VERIFICATION and not _has_verified_email(user):
        return
    user_onboard(user=user)


def user_email_verified(*, user: User) -> None:
    """The user confirmed an e-mail address: the sign-up bonus, if it waited
    for that (at most once: :func:`user_onboard` is keyed per user)."""
    if settings.MIRSAM_SIGNUP_BONUS_AFTER_VERIFICATION:
        user_onboard(user=user)


def _has_verified_email(user: User) -> bool:
    from allauth.account.models import EmailAddress

    return bool(EmailAddress.objects.filter(user=user, verified=True).exists())


def user_language_set(*, user: User, language: str) -> None:
    """Remember the user's interface language (one of ``LANGUAGES``)."""
    if language in dict(settings.LANGUAGES) and user.preferred_language != language:
        user.preferred_language = language
        user.save(update_fields=["preferred_language"])


def user_notifications_set(*, user: User, email_job_updates: bool, low_balance_threshold: int | None = None) -> None:
    """Settings → Notifications: whether the user is e-mailed when a job of
    theirs ends, and below how many available credits they are told their
    balance is low (0: never; ``None`` leaves it; at most 1,000,000)."""
    fields = []
    if user.email_job_updates != email_job_updates:
        user.email_job_updates = email_job_updates
        fields.append("email_job_updates")
    if low_balance_threshold is not None:
        threshold = max(0, min(low_balance_threshold, 1_000_000))
        if threshold != user.low_balance_threshold:
            user.low_balance_threshold, user.low_balance_notified = threshold, False
            fields += ["low_balance_threshold", "low_balance_notified"]
    if fields:
        user.save(update_fields=fields)


def staff_action_record(
    *, actor: User, kind: str, user: User, credits: int = 0, reason: str, reference: str = ""
) -> StaffAction:
    """Write one audit row; call inside the transaction of the action."""
    return StaffAction.objects.create(
        actor=actor, kind=kind, user=user, credits=credits, reason=reason[:255], reference=reference[:128]
    )


class AdjustmentRefused(Exception):
    """A staff credit adjustment that may not be requested, approved or
    rejected; ``message`` is safe to show staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def adjustment_needs_approval(amount: int) -> bool:
    """True when an adjustment of ``amount`` credits (either sign) is larger
    than ``MIRSAM_ADJUSTMENT_APPROVAL_CREDITS``."""
    return abs(amount) > settings.MIRSAM_ADJUSTMENT_APPROVAL_CREDITS


def adjustment_allowance(*, actor: User) -> int:
    """Credits (either sign) ``actor`` may still request in adjustments:
    ``MIRSAM_ADJUSTMENT_DAILY_LIMIT_CREDITS`` minus the size of their
    requests of the last 24 hours that were not rejected. Never negative."""
    since = timezone.now() - timedelta(hours=24)
    requested = (
        CreditAdjustment.objects.filter(requested_by=actor, created_at__gte=since)
        .exclude(status=CreditAdjustment.Status.REJECTED)
        .aggregate(total=Sum(Abs("amount")))["total"]
        or 0
    )
    return max(0, settings.MIRSAM_ADJUSTMENT_DAILY_LIMIT_CREDITS - requested)


def adjustment_check(*, actor: User, user: User, amount: int, reason: str) -> None:
    """Raise what would refuse ``actor``'s adjustment of ``user``'s credits by
    ``amount`` now: ``CreditsError`` (zero, no reason), :class:`AdjustmentRefused`
    (over :func:`adjustment_allowance`) or ``InsufficientCredits`` (a negative
    amount larger than the available credits; checked again under the
    wallet's lock when it is applied). The review step shows these early."""
    if amount == 0:
        raise CreditsError(_("An adjustment must change the balance."))
    if not reason.strip():
        raise CreditsError(_("An adjustment needs a reason."))
    allowance = adjustment_allowance(actor=actor)
    if abs(amount) > allowance:
        raise AdjustmentRefused(
            _(
                "This is over your daily limit for adjustments: you may adjust %(allowance)d more credits"
                " in the next 24 hours."
            )
            % {"allowance": allowance}
        )
    if amount < 0:
        wallet = Wallet.objects.filter(user=user).first()
        available = wallet.available if wallet is not None else 0
        if -amount > available:
            raise InsufficientCredits(needed=-amount, available=available)


def staff_adjustment_request(
    *, actor: User, user: User, amount: int, reason: str, form_token: str
) -> tuple[CreditAdjustment, bool]:
    """``actor`` (staff with ``accounts.adjust_credits``) asks to change
    ``user``'s credits by ``amount`` (whole credits, either sign) for
    ``reason``. Applied at once (one ledger entry with the actor and reason,
    one audit row) unless :func:`adjustment_needs_approval`, then pending.

    ``form_token`` is the confirmed form's one-time token: a repeat returns
    the first adjustment and ``False``. Raises :class:`AdjustmentRefused` over
    the actor's :func:`adjustment_allowance`, and ``credits.services.CreditsError``
    (``InsufficientCredits``: more taken than is available) with nothing written.
    """
    if not form_token:
        raise AdjustmentRefused(_("This form has expired. Open it again."))
    with transaction.atomic():
        # One staff member's requests one at a time: the allowance is read and used under this lock.
        User.objects.select_for_update().filter(pk=actor.pk).first()
        existing = CreditAdjustment.objects.filter(form_token=form_token).first()
        if existing is not None:
            return existing, False
        adjustment_check(actor=actor, user=user, amount=amount, reason=reason)
        adjustment = CreditAdjustment.objects.create(
            user=user,
            amount=amount,
            reason=reason[:255],
            requested_by=actor,
            form_token=form_token,
            status=CreditAdjustment.Status.PENDING,
        )
        if not adjustment_needs_approval(amount):
            _adjustment_apply(adjustment)
    return adjustment, True


def staff_adjustment_approve(*, actor: User, adjustment: CreditAdjustment) -> CreditAdjustment:
    """A second staff member (``accounts.approve_creditadjustment``) approves a
    pending adjustment: it is applied as if its requester had made it, and an
    audit row records the approval. Raises :class:`AdjustmentRefused` (not
    pending any more, or ``actor`` requested it) and ``CreditsError`` (the
    customer no longer has the credits a negative one takes; it stays pending)."""
    with transaction.atomic():
        adjustment = _pending(adjustment, actor)
        _adjustment_apply(adjustment, approver=actor)
        staff_action_record(
            actor=actor,
            kind=StaffAction.Kind.APPROVE_ADJUSTMENT,
            user=adjustment.user,
            credits=adjustment.amount,
            reason=adjustment.reason,
            reference=f"adjustment:{adjustment.pk}",
        )
    return adjustment


def staff_adjustment_reject(*, actor: User, adjustment: CreditAdjustment) -> CreditAdjustment:
    """A second staff member rejects a pending adjustment: nothing changes
    but its status, and an audit row records who. Raises :class:`AdjustmentRefused`
    as :func:`staff_adjustment_approve` does."""
    with transaction.atomic():
        adjustment = _pending(adjustment, actor)
        adjustment.status = CreditAdjustment.Status.REJECTED
        adjustment.decided_by = actor
        adjustment.decided_at = timezone.now()
        adjustment.save(update_fields=["status", "decided_by", "decided_at"])
        staff_action_record(
            actor=actor,
            kind=StaffAction.Kind.REJECT_ADJUSTMENT,
            user=adjustment.user,
            reason=adjustment.reason,
            reference=f"adjustment:{adjustment.pk}",
        )
    return adjustment


def _pending(adjustment: CreditAdjustment, actor: User) -> CreditAdjustment:
    """``adjustment`` locked, when ``actor`` may decide it; call in a transaction."""
    locked = CreditAdjustment.objects.select_for_update().select_related("user", "requested_by").get(pk=adjustment.pk)
    if locked.status != CreditAdjustment.Status.PENDING:
        raise AdjustmentRefused(_("This adjustment was already decided."))
    if locked.requested_by_id == actor.pk:
        raise AdjustmentRefused(_("A second staff member must approve or reject your own adjustment."))
    return locked


def _adjustment_apply(adjustment: CreditAdjustment, *, approver: User | None = None) -> None:
    """The ledger entry (keyed on the adjustment, so never twice) and the
    requester's audit row; call in a transaction."""
    entry = credits_adjust(
        user=adjustment.user,
        amount=adjustment.amount,
        reason=adjustment.reason,
        actor=adjustment.requested_by,
        idempotency_key=f"adjustment:{adjustment.pk}",
    )
    staff_action_record(
        actor=adjustment.requested_by,
        kind=StaffAction.Kind.ADJUST_CREDITS,
        user=adjustment.user,
        credits=adjustment.amount,
        reason=adjustment.reason,
        reference=f"ledger:{entry.pk}",
    )
    adjustment.status = CreditAdjustment.Status.APPLIED
    adjustment.entry = entry
    adjustment.decided_by = approver
    adjustment.decided_at = timezone.now()
    adjustment.save(update_fields=["status", "entry", "decided_by", "decided_at"])
