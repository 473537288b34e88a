"""Account operations."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from credits.services import credits_grant


def user_onboard(*, user) -> None:  # noqa: ANN001
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


def user_language_set(*, user, language: str) -> None:  # noqa: ANN001
    """Remember the user's interface language (one of ``LANGUAGES``)."""
    if language in dict(settings.LANGUAGES) and user.preferred_language != language:
        user.preferred_language = language
        user.save(update_fields=["preferred_language"])
