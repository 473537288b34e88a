from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def studio(request: HttpRequest) -> dict[str, int | bool]:
    """Site-wide figures the pages mention: the sign-up bonus (credits) and
    whether it waits for a confirmed e-mail address."""
    return {
        "signup_credits": settings.MIRSAM_SIGNUP_CREDITS,
        "signup_bonus_after_verification": settings.MIRSAM_SIGNUP_BONUS_AFTER_VERIFICATION,
    }
