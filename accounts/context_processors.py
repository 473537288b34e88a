from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def studio(request: HttpRequest) -> dict[str, int | bool | str]:
    """Site-wide figures the pages mention: the sign-up bonus (credits) and
    whether it waits for a confirmed e-mail address; and where a signed-in
    page opens its push stream (``MIRSAM_PUSH_URL``, generation/push.py)."""
    return {
        "signup_credits": settings.MIRSAM_SIGNUP_CREDITS,
        "signup_bonus_after_verification": settings.MIRSAM_SIGNUP_BONUS_AFTER_VERIFICATION,
        "push_url": settings.MIRSAM_PUSH_URL,
    }
