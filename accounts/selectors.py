"""Read queries about accounts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from credits.models import LedgerEntry

if TYPE_CHECKING:
    from .models import User


def signup_bonus_pending(*, user: User) -> int:
    """The sign-up bonus (credits) that waits for ``user`` to confirm an
    e-mail address, or 0: none is set, it is not held back
    (``MIRSAM_SIGNUP_BONUS_AFTER_VERIFICATION``), or it was granted."""
    amount: int = settings.MIRSAM_SIGNUP_CREDITS
    if amount <= 0 or not settings.MIRSAM_SIGNUP_BONUS_AFTER_VERIFICATION:
        return 0
    if LedgerEntry.objects.filter(idempotency_key=f"signup:{user.pk}").exists():
        return 0
    return amount
