"""Read queries for the studio pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, NullIf
from django.utils import translation

from providers.models import Service

from .models import Asset, Job, StylePreset

if TYPE_CHECKING:
    from accounts.models import User


def _preset_name() -> Subquery:
    # The style's name in the active language (English when not translated),
    # so portrait cards need no query each.
    language = translation.get_language() or "en"
    field = f"name_{language}" if language in ("en", "ar") else "name_en"
    names = StylePreset.objects.filter(slug=OuterRef("preset_slug")).annotate(
        shown=Coalesce(NullIf(field, models.Value("")), "name_en", output_field=models.CharField())
    )
    return Subquery(names.values("shown")[:1])


def jobs_for_user(*, user: User, service: str | None = None, status: str | None = None) -> QuerySet[Job]:
    """The user's jobs, newest first, with their model and assets loaded in
    a fixed number of queries whatever the history's size."""
    jobs = (
        Job.objects.filter(user=user)
        .select_related("offer")
        .prefetch_related(Prefetch("assets", queryset=Asset.objects.order_by("index")))
    )
    if service in (None, Service.AVATAR):  # only portraits show a style's name
        jobs = jobs.annotate(preset_slug=KeyTextTransform("preset", "params")).annotate(preset_name=_preset_name())
    if service:
        jobs = jobs.filter(service=service)
    if status:
        jobs = jobs.filter(status=status)
    return jobs.order_by("-created_at", "-id")
