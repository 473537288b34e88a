"""Housekeeping of the provider call log (:class:`~providers.models.ProviderCall`)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .models import ProviderCall

PURGE_BATCH = 5000


def provider_calls_purge(*, older_than_days: int | None = None, batch: int = PURGE_BATCH) -> int:
    """Delete provider calls older than ``PROVIDER_CALL_RETENTION_DAYS`` (0 =
    keep them all). Deletes ``batch`` rows per statement, each its own
    transaction, so a large backlog never holds a long lock. Returns how many
    were deleted."""
    days = settings.PROVIDER_CALL_RETENTION_DAYS if older_than_days is None else older_than_days
    if days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    while True:
        ids = list(
            ProviderCall.objects.filter(created_at__lt=cutoff).order_by("pk").values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        deleted += ProviderCall.objects.filter(pk__in=ids).delete()[0]
