"""Account operations."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from credits.models import LedgerEntry
from credits.services import credits_adjust, credits_grant

from .models import StaffAction, User


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


def staff_action_record(
    *, actor: User, kind: str, user: User, credits: int = 0, reason: str, reference: str = ""
) -> StaffAction:
    """Write one audit row; call inside the transaction of the action."""
    return StaffAction.objects.create(
        actor=actor, kind=kind, user=user, credits=credits, reason=reason[:255], reference=reference[:128]
    )


def staff_credits_adjust(*, actor: User, user: User, amount: int, reason: str) -> LedgerEntry:
    """A staff member changes a user's credits by ``amount`` (whole credits,
    positive or negative) for ``reason`` (required). One ledger entry with the
    actor and reason, one audit row. Raises ``credits.services.CreditsError``
    (``InsufficientCredits`` when a negative amount exceeds what is available)."""
    with transaction.atomic():
        entry = credits_adjust(user=user, amount=amount, reason=reason, actor=actor)
        staff_action_record(
            actor=actor,
            kind=StaffAction.Kind.ADJUST_CREDITS,
            user=user,
            credits=amount,
            reason=reason,
            reference=f"ledger:{entry.pk}",
        )
        return entry
