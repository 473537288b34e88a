from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def wallet(request: HttpRequest) -> dict:
    """The signed-in user's wallet for the header balance: one query, only if
    a template reads it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from .services import wallet_for

    return {"wallet": SimpleLazyObject(lambda: wallet_for(user))}
