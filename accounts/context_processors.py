from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def studio(request: HttpRequest) -> dict[str, int]:
    """Site-wide figures the pages mention (the sign-up bonus, in credits)."""
    return {"signup_credits": settings.MIRSAM_SIGNUP_CREDITS}
