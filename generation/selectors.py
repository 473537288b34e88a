"""Read queries for the studio pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Case, F, OuterRef, Prefetch, QuerySet, Subquery, Sum, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone, translation

from providers.models import Offer, Service
from providers.tools import tool_spec, tools_for

from .models import FINAL_JOB_STATUSES, Asset, Job, JobStatus, Project, ShowcaseItem, StylePreset, Upload

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


def image_results_for_user(*, user: User) -> QuerySet[Asset]:
    """The user's finished images (any service, upscales too), newest first,
    with their jobs: what the Image page offers to pick as references."""
    return (
        Asset.objects.filter(user=user, job__status=JobStatus.SUCCEEDED, content_type__startswith="image/")
        .select_related("job")
        .order_by("-created_at", "-id")
    )


def results_by_ids(*, user: User, ids: list[str]) -> list[Asset] | None:
    """The user's own finished results with these ids (as a form sends them),
    in the order given, with their jobs and models; None when any id is not
    a number or not one of the user's results (the view answers 404: the
    form is never trusted with someone else's file)."""
    try:
        wanted = [int(i) for i in ids]
    except (TypeError, ValueError):
        return None
    found = {
        a.pk: a
        for a in Asset.objects.filter(user=user, pk__in=wanted, job__status=JobStatus.SUCCEEDED).select_related(
            "job__offer"
        )
    }
    if any(pk not in found for pk in wanted):
        return None
    return [found[pk] for pk in dict.fromkeys(wanted)]


def tools_for_job(*, job: Job, tools: list[Offer]) -> list[Offer]:
    """Of ``tools`` (``generation.services.tools_available``), the ones a
    finished ``job`` offers on its results: one per action, a tool limited to
    the job's model before a generic one (``providers.tools.tools_for``).
    Empty for a job that did not succeed."""
    if job.status != JobStatus.SUCCEEDED:
        return []
    return tools_for(tools=tools, service=job.service, model_slug=job.offer.slug)


def tool_sources(*, job: Job, tool: Offer) -> list[Asset]:
    """The results of ``job`` that ``tool`` works on: its videos for a video
    tool, its images otherwise."""
    spec = tool_spec(tool)
    wants_video = spec is not None and spec.source == Service.VIDEO
    return [a for a in job.assets.all() if a.is_video == wants_video]


#: The content type prefix of each kind of result.
KIND_TYPES = {"image": "image/", "video": "video/", "audio": "audio/"}


def results_of_kind(*, user: User, kind: str) -> QuerySet[Asset]:
    """The user's finished results of ``kind`` ("image", "video", "audio"),
    newest first, with their jobs: what the "Make it speak" page offers."""
    return (
        Asset.objects.filter(user=user, job__status=JobStatus.SUCCEEDED, content_type__startswith=KIND_TYPES[kind])
        .select_related("job__offer")
        .order_by("-created_at", "-id")
    )


def speaking_jobs_for_user(*, user: User) -> QuerySet[Job]:
    """The user's talking portraits and lip-syncs, newest first (the feed of
    the "Make it speak" page)."""
    return jobs_for_user(user=user, service=Service.VIDEO).filter(offer__options__has_key="speaks")


#: Most showcase items the landing page shows.
SHOWCASE_LIMIT = 12
#: Most pictures in the landing page's hero.
SHOWCASE_HERO = 4


@dataclass(frozen=True)
class Showcase:
    """What the landing page shows of the showcase: ``items`` (public, in
    their order), ``by_service`` (the first item of each service: "image",
    "video", "avatar", "audio"), ``hero`` (up to :data:`SHOWCASE_HERO`
    items that have a picture: images, and videos with a poster) and
    ``version`` (changes with any of them, for the page's fragment cache)."""

    items: list[ShowcaseItem]
    by_service: dict[str, ShowcaseItem]
    hero: list[ShowcaseItem]
    version: str


def showcase_public(*, limit: int = SHOWCASE_LIMIT) -> Showcase:
    """The public showcase (``ShowcaseItem.public()``), in one query."""
    items = list(ShowcaseItem.public().select_related("asset__job")[:limit])
    by_service: dict[str, ShowcaseItem] = {}
    for item in items:
        by_service.setdefault(item.asset.job.service, item)
    hero = [i for i in items if not i.asset.is_audio and (not i.asset.is_video or i.asset.poster)][:SHOWCASE_HERO]
    version = ",".join(f"{i.pk}:{i.updated_at.timestamp()}" for i in items)
    return Showcase(items=items, by_service=by_service, hero=hero, version=version)


def showcase_examples(*, service: str, limit: int = 3) -> list[ShowcaseItem]:
    """Up to ``limit`` public showcase items of ``service``: the examples an
    empty studio feed shows."""
    return list(ShowcaseItem.public().filter(asset__job__service=service).select_related("asset__job")[:limit])


def showcase_for_job(*, job: Job) -> dict[int, ShowcaseItem]:
    """The showcase items of ``job``'s results, by asset id (its owner's page)."""
    return {item.asset_id: item for item in ShowcaseItem.objects.filter(asset__job=job)}


#: The roles of a photo of a person: an Avatar job's photos, a talking portrait's picture.
PORTRAIT_ROLES = ("photo", "portrait")


def image_uploads_for_user(*, user: User) -> QuerySet[Upload]:
    """The user's uploaded images (photos, frames, references; not
    recordings), newest first: what the Video page offers to pick as a frame."""
    return Upload.objects.filter(user=user, content_type__startswith="image/").order_by("-created_at", "-id")


def portrait_uploads_for_user(*, user: User) -> QuerySet[Upload]:
    """The user's uploaded photos of people, newest first: images used as an
    Avatar job's photos or a talking portrait's picture (``PORTRAIT_ROLES``),
    or given with consent to the photo wording (on the Avatar page, before
    any job used them). A video's frame or an image's reference is not one."""
    portraits = models.Q(job_inputs__role__in=PORTRAIT_ROLES) | models.Q(
        job_inputs__isnull=True, consents__isnull=False
    )
    return image_uploads_for_user(user=user).filter(portraits).distinct()


def uploads_by_ids(*, user: User, ids: list[str]) -> list[Upload] | None:
    """The user's own uploads with these ids (as a form sends them), in the
    order given, repeats dropped; None when any id is not a number or not
    one of the user's uploads (the view answers 404)."""
    try:
        wanted = [int(i) for i in ids]
    except (TypeError, ValueError):
        return None
    found = {u.pk: u for u in Upload.objects.filter(user=user, pk__in=wanted)}
    if any(pk not in found for pk in wanted):
        return None
    return [found[pk] for pk in dict.fromkeys(wanted)]


# --- My creations as a library ---------------------------------------------------


@dataclass(frozen=True)
class LibraryFilters:
    """What the library shows: ``q`` a case-insensitive substring of the
    prompt (``Job.prompt_text``, Arabic or English as typed), ``service``,
    ``offer`` (a model's id), ``status``, ``date_from`` / ``date_to`` (days in
    the reader's time zone, both included), ``favourites`` only, ``project``
    (a project's id, or ``UNFILED`` for jobs in none). Empty values filter
    nothing."""

    q: str = ""
    service: str = ""
    offer: int | None = None
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    favourites: bool = False
    project: int | None = None

    @property
    def active(self) -> bool:
        """Whether any filter or a search is set."""
        return any((self.q, self.service, self.offer, self.status, self.date_from, self.date_to, self.favourites)) or (
            self.project is not None
        )


#: ``LibraryFilters.project`` for jobs filed in no project.
UNFILED = 0


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def library_jobs(*, user: User, filters: LibraryFilters) -> QuerySet[Job]:
    """The user's jobs that ``filters`` keep, newest first, loaded as
    :func:`jobs_for_user` loads them. Every condition is on the job row and
    starts with the user, so the count and the page are read through the
    ``(user, -created_at)`` index (``(user, favourite, -created_at)`` for
    favourites); dates are compared as moments (no per-row date function),
    the search with ``icontains`` (a trigram index on PostgreSQL)."""
    jobs = jobs_for_user(user=user, service=filters.service or None, status=filters.status or None)
    if filters.q:
        jobs = jobs.filter(prompt_text__icontains=filters.q)
    if filters.offer:
        jobs = jobs.filter(offer_id=filters.offer)
    if filters.date_from:
        jobs = jobs.filter(created_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        jobs = jobs.filter(created_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    if filters.favourites:
        jobs = jobs.filter(favourite=True)
    if filters.project == UNFILED:
        jobs = jobs.filter(project__isnull=True)
    elif filters.project is not None:
        jobs = jobs.filter(project_id=filters.project)
    return jobs


def library_offers() -> list[Offer]:
    """The models the library's model filter offers: the whole catalogue (a
    few dozen rows; old jobs may be of a model no longer active), by service
    and order."""
    return list(Offer.objects.order_by("service", "sort_order", "slug"))


#: A project's budget is "nearly used" from this share on (library and studio warn).
BUDGET_WARN_PERCENT = 80


@dataclass(frozen=True)
class ProjectBudget:
    """A project with what its jobs used: ``spent`` credits (charged, less
    staff refunds, for finished jobs; the price still held for running ones),
    ``budget`` (None: no budget), ``percent`` of the budget used (whole,
    rounded down; None without a budget), ``warn`` from
    :data:`BUDGET_WARN_PERCENT`, ``full`` at 100 % or more."""

    project: Project
    spent: int
    jobs: int

    @property
    def budget(self) -> int | None:
        return self.project.budget_credits

    @property
    def percent(self) -> int | None:
        if not self.budget:
            return None
        return self.spent * 100 // self.budget

    @property
    def warn(self) -> bool:
        return self.percent is not None and self.percent >= BUDGET_WARN_PERCENT

    @property
    def full(self) -> bool:
        return self.budget is not None and self.spent >= self.budget

    @property
    def left(self) -> int | None:
        return None if self.budget is None else max(0, self.budget - self.spent)


def spent_expression() -> Sum:
    """Credits a set of jobs used, as an aggregate over ``jobs``' rows (see
    :class:`ProjectBudget`)."""
    return Sum(
        Case(
            When(jobs__status__in=FINAL_JOB_STATUSES, then=F("jobs__charged_credits") - F("jobs__refunded_credits")),
            default=F("jobs__price_credits"),
            output_field=models.IntegerField(),
        )
    )


def project_budgets(*, user: User) -> list[ProjectBudget]:
    """The user's projects by name, each with its budget state; one query."""
    projects = Project.objects.filter(user=user).annotate(
        spent_total=Coalesce(spent_expression(), 0, output_field=models.IntegerField()), job_count=models.Count("jobs")
    )
    return [ProjectBudget(project=p, spent=p.spent_total, jobs=p.job_count) for p in projects]


def project_spent(*, project: Project) -> int:
    """Credits ``project``'s jobs used (:class:`ProjectBudget`), read now."""
    spent = Job.objects.filter(project=project).aggregate(
        total=Coalesce(
            Sum(
                Case(
                    When(status__in=FINAL_JOB_STATUSES, then=F("charged_credits") - F("refunded_credits")),
                    default=F("price_credits"),
                    output_field=models.IntegerField(),
                )
            ),
            0,
        )
    )["total"]
    return int(spent)


def jobs_by_ids(*, user: User, ids: list[int]) -> QuerySet[Job]:
    """The user's own jobs among ``ids`` (others' ids and unknown ones are
    simply not there), newest first, with their model and results."""
    return jobs_for_user(user=user).filter(pk__in=ids)
