"""Read queries for the studio pages."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from .models import Asset, Job


def jobs_for_user(*, user, service: str | None = None, status: str | None = None) -> QuerySet[Job]:  # noqa: ANN001
    """The user's jobs, newest first, with their model and assets loaded in
    a fixed number of queries whatever the history's size."""
    jobs = (
        Job.objects.filter(user=user)
        .select_related("offer")
        .prefetch_related(Prefetch("assets", queryset=Asset.objects.order_by("index")))
    )
    if service:
        jobs = jobs.filter(service=service)
    if status:
        jobs = jobs.filter(status=status)
    return jobs.order_by("-created_at", "-id")
