from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

if TYPE_CHECKING:
    from .models import Wallet


def wallet(request: HttpRequest) -> dict[str, SimpleLazyObject[Wallet]]:
    """The signed-in user's wallet for the header balance: one query, only if
    a template reads it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from .services import wallet_for

    return {"wallet": SimpleLazyObject(lambda: wallet_for(user))}
