"""Reads of the API app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from .models import ApiKey

if TYPE_CHECKING:
    from accounts.models import User


def api_keys_for_user(*, user: User) -> QuerySet[ApiKey]:
    """The user's keys, newest first, revoked ones included (they show as revoked)."""
    return ApiKey.objects.filter(user=user).order_by("-created_at", "-id")
