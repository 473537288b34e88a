"""Jobs (what a creator asked for), their provider tasks, and assets (files made).

A job of N outputs runs as N provider tasks (kie.ai's image models make one
image per task). The job holds ``price_credits`` when submitted and, once
every task is final, captures the price of the outputs delivered and
releases the rest (``generation.services``).
"""

from __future__ import annotations

import secrets
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from config.pagecache import Stamped
from providers.models import Offer, Service
from providers.tools import tool_spec

from .stored_text import in_active_language


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SUBMITTED = "submitted", _("Submitted")
    PROCESSING = "processing", _("Processing")
    SUCCEEDED = "succeeded", _("Done")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Canceled")


FINAL_JOB_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})


class TaskStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    # The create request is on its way to the provider, or its answer was lost
    # with the worker that sent it: the task may exist there, so it is never
    # created again; the provider's callback names it (generation.services.callbacks).
    SUBMITTING = "submitting", _("Submitting")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


FINAL_TASK_STATUSES = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED})
#: ``credits.Hold.reference`` of a job's hold: ``"job:<job id>"``.
JOB_HOLD_PREFIX = "job:"
UNFINISHED_TASK_STATUSES = (TaskStatus.PENDING, TaskStatus.SUBMITTING, TaskStatus.RUNNING)


def _new_token() -> str:
    return secrets.token_urlsafe(32)


class Project(Stamped):
    """A creator's folder of jobs (My creations' "Projects"), with an optional
    budget in credits: ``generation.selectors.project_budget`` says how much
    of it the project's jobs have used, and ``job_submit`` refuses a job that
    would take it past 100 %. Deleting a project keeps its jobs, unfiled."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=80)
    budget_credits = models.PositiveIntegerField(_("budget (credits)"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        ordering = ["name", "id"]
        # config.pagecache reads a user's newest change and project count from the index alone.
        indexes = [models.Index(fields=["user", "updated_at"])]

    def __str__(self) -> str:
        return self.name


def search_text(*, service: str, params: dict[str, object], preset_names: tuple[str, ...] = ()) -> str:
    """What My creations' search looks in for a job (``Job.prompt_text``): the
    creator's own words — the prompt, a song's title and style — or, for a
    portrait made from a style, the style's names and the details typed (the
    prompt sent is staff text)."""
    if service == Service.AVATAR and "preset" in params:
        parts = [*preset_names, str(params.get("details") or "")]
    else:
        parts = [str(params.get(name) or "") for name in ("prompt", "title", "style")]
    return "\n".join(p.strip() for p in parts if p and p.strip())


class Job(Stamped):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs", verbose_name=_("user")
    )
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="jobs", verbose_name=_("model"))
    service = models.CharField(_("service"), max_length=16, choices=Service.choices, db_index=True)
    status = models.CharField(
        _("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    # Validated by generation.forms / services: prompt, aspect_ratio, outputs.
    params = models.JSONField(_("parameters"), default=dict)
    price_credits = models.PositiveIntegerField(_("price (credits)"))
    charged_credits = models.PositiveIntegerField(_("charged (credits)"), default=0)
    refunded_credits = models.PositiveIntegerField(_("refunded by staff (credits)"), default=0)
    hold = models.OneToOneField(
        "credits.Hold", on_delete=models.PROTECT, null=True, blank=True, related_name="job", verbose_name=_("hold")
    )
    # What made this job, unique per user: the one-time token of the form that
    # asked for it, with the action ("generate:<token>"); empty when none was sent.
    # A replayed POST finds the job it made instead of making another.
    submission_key = models.CharField(_("submission key"), max_length=100, blank=True, default="", editable=False)
    # Which chain of poll messages may poll this job: the watchdog
    # (generation.services.housekeeping.jobs_revive) starts a new chain when a
    # job's messages were lost, and a poll of an older chain stops.
    poll_chain = models.PositiveIntegerField(_("poll chain"), default=0, editable=False)
    # Secret part of this job's callback URL (kie.ai posts results there).
    callback_token = models.CharField(max_length=64, unique=True, default=_new_token, editable=False)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error_message = models.TextField(_("error"), blank=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("regenerated from"),
    )
    # What My creations searches (search_text), written when the job is made;
    # PostgreSQL serves the substring search from a trigram index (migration 0015).
    prompt_text = models.TextField(_("prompt (searchable)"), blank=True, default="", editable=False)
    favourite = models.BooleanField(_("favourite"), default=False)
    project = models.ForeignKey(
        Project,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="jobs",
        verbose_name=_("project"),
        db_index=False,  # the (project, -created_at, -id) index below serves it
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        ordering = ["-created_at", "-id"]
        indexes = [
            # My creations' page and count (generation.selectors.library_jobs): the
            # id breaks ties, so the index gives the whole order and a page needs no sort.
            models.Index(fields=["user", "-created_at", "-id"], name="job_user_created_idx"),
            models.Index(fields=["status", "created_at"]),
            # config.pagecache reads a user's newest change and job count from the index alone.
            models.Index(fields=["user", "updated_at"]),
            models.Index(fields=["user", "favourite", "-created_at", "-id"], name="job_user_favourite_idx"),
            models.Index(fields=["project", "-created_at", "-id"], name="job_project_created_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "submission_key"],
                condition=~models.Q(submission_key=""),
                name="job_one_per_submission",
            )
        ]

    @property
    def error_text(self) -> str:
        """``error_message`` (written in the owner's language when the job
        failed) in the active language, where the catalogue has it."""
        return in_active_language(self.error_message)

    def __str__(self) -> str:
        return f"#{self.pk} {self.service} {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_JOB_STATUSES

    @property
    def prompt(self) -> str:
        return str(self.params.get("prompt", ""))

    @property
    def summary(self) -> str:
        """What the creator asked for, as shown on cards: the prompt, or for a
        portrait the style name and the creator's own details (the provider
        prompt template is staff text, not theirs)."""
        if self.service != Service.AVATAR or "preset" not in self.params:
            if not self.prompt and self.tool_action:
                # A tool takes no prompt: its name and options ("Demo upscaler · ×4").
                specs = self.offer.param_specs
                values = [f"×{v}" if k == "factor" else str(v) for k, v in self.params.items() if k in specs]
                return " · ".join([self.offer.name, *values])
            return self.prompt
        name = self.__dict__.get("preset_name")  # annotated by selectors.jobs_for_user
        if name is None:  # looked up once per instance: a card reads the summary several times
            preset = StylePreset.objects.filter(slug=self.params["preset"]).first()
            name = self.__dict__["preset_name"] = preset.name if preset else str(self.params["preset"])
        details = str(self.params.get("details", "")).strip()
        return f"{name} · {details}" if details else name

    @property
    def tool_action(self) -> str:
        """The action of the tool this job ran (``providers.tools``: "upscale",
        "remove_background", …), or "" for a job of an ordinary model."""
        spec = tool_spec(self.offer)
        return spec.action if spec else ""

    @property
    def outputs(self) -> int:
        return int(self.params.get("outputs", 1))

    @property
    def can_extend(self) -> bool:
        """A finished video whose model can continue it (Veo, Runway, demo)."""
        from providers.registry import get_adapter

        return (
            self.status == JobStatus.SUCCEEDED
            and self.service == Service.VIDEO
            and self.offer.extend_price_credits is not None
            and get_adapter(self.offer.adapter).supports_extend(self.offer.provider_model)
        )

    @property
    def output_slots(self) -> range:
        """One slot per requested output (placeholders while the job runs)."""
        return range(self.outputs)

    @property
    def slots_left(self) -> range:
        """One slot per output not delivered yet: a running job's card shows
        the results its tasks delivered and placeholders for the rest."""
        return range(max(0, self.outputs - len(self.assets.all())))

    @property
    def version_us(self) -> int:
        """``updated_at`` in whole microseconds since the Unix epoch: what a
        push event's ``at`` is compared with (generation/push.py)."""
        from .push import micros  # push builds on the models

        return micros(self.updated_at)

    @property
    def credits_returned(self) -> int:
        return self.price_credits - self.charged_credits if self.is_final else 0


class ProviderTask(Stamped):
    """One task at the provider, making one output of a job."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("job"))
    index = models.PositiveSmallIntegerField(_("index"))
    task_id = models.CharField(_("provider task id"), max_length=128, blank=True, db_index=True)
    status = models.CharField(_("status"), max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    # When the create request was sent (status submitting and after).
    create_sent_at = models.DateTimeField(_("create sent"), null=True, blank=True)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error_message = models.TextField(_("error"), blank=True)
    output_urls = models.JSONField(_("provider output URLs"), default=list, blank=True)
    # What the provider says the task cost in its credits (kie.ai creditsConsumed), when it says.
    billed_credits = models.PositiveIntegerField(_("billed (provider credits)"), null=True, blank=True)
    # USD, 4 decimals: the catalogue's estimate when the job was submitted
    # (providers.pricing), and what the provider billed (billed_credits ×
    # KIE_CREDIT_USD, docs/kie.md §2.1 creditsConsumed) once it says.
    estimate_usd = models.DecimalField(
        _("estimated cost (USD)"), max_digits=10, decimal_places=4, null=True, blank=True
    )
    billed_usd = models.DecimalField(_("billed (USD)"), max_digits=10, decimal_places=4, null=True, blank=True)
    # Seconds the provider says it worked on the task (kie.ai costTime, docs/kie.md
    # §2.1), when it says; and when we recorded its final result. Polling learns
    # each model's duration from them (generation.polling).
    cost_seconds = models.FloatField(_("run time at the provider (seconds)"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("provider task")
        verbose_name_plural = _("provider tasks")
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="task_unique_index_per_job")]

    def __str__(self) -> str:
        return f"{self.job_id}/{self.index} {self.task_id} {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_TASK_STATUSES


def asset_upload_to(asset: Asset, filename: str) -> str:
    # Unguessable, but privacy rests on the ownership-checked view, not on names.
    suffix = PurePosixPath(filename).suffix.lower() or ".bin"
    return f"outputs/{asset.user_id}/{asset.job_id}/{secrets.token_hex(8)}{suffix}"


class Asset(models.Model):
    """A file a job produced, copied into our storage."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="assets", verbose_name=_("job"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assets", verbose_name=_("user")
    )
    task = models.ForeignKey(
        ProviderTask, on_delete=models.SET_NULL, null=True, blank=True, related_name="assets", verbose_name=_("task")
    )
    index = models.PositiveSmallIntegerField(_("index"), default=0)
    file = models.FileField(_("file"), upload_to=asset_upload_to, max_length=255)
    poster = models.FileField(_("poster"), upload_to=asset_upload_to, max_length=255, blank=True)
    # A large image's smaller copy the cards show (generation.media.image_preview); the file is the original.
    preview = models.FileField(_("preview"), upload_to=asset_upload_to, max_length=255, blank=True)
    content_type = models.CharField(_("content type"), max_length=100)
    size_bytes = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    # Sound and video: the length the container's header gives (generation.media.output_check).
    duration_seconds = models.FloatField(_("duration (seconds)"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("asset")
        verbose_name_plural = _("assets")
        ordering = ["job", "index"]

    def __str__(self) -> str:
        return self.file.name or ""

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def is_video(self) -> bool:
        return self.content_type.startswith("video/")

    @property
    def is_audio(self) -> bool:
        return self.content_type.startswith("audio/")

    @property
    def download_name(self) -> str:
        return f"mirsam-{self.job_id}-{self.index + 1}{PurePosixPath(self.file.name or '').suffix}"


def upload_to(upload: Upload, filename: str) -> str:
    suffix = PurePosixPath(filename).suffix.lower() or ".bin"
    return f"uploads/{upload.user_id}/{secrets.token_hex(12)}{suffix}"


class Upload(Stamped):
    """A photo, reference image or recording a user gave us, checked and
    re-encoded with its metadata stripped: images by
    ``generation.uploads.image_clean`` (``width``/``height`` in pixels),
    recordings by ``generation.audio.audio_clean`` (an MP3; no width or
    height, ``duration_seconds`` instead). Private: served only to its owner;
    deleted by its owner or after ``MIRSAM_UPLOAD_RETENTION_DAYS`` (the
    results made from it stay)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads", verbose_name=_("user")
    )
    file = models.FileField(_("file"), upload_to=upload_to, max_length=255)
    original_name = models.CharField(_("original name"), max_length=255, blank=True)
    content_type = models.CharField(_("content type"), max_length=100)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    duration_seconds = models.FloatField(_("duration (seconds)"), null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("upload")
        verbose_name_plural = _("uploads")
        ordering = ["-created_at", "-id"]
        # config.pagecache reads a user's newest change and upload count from the index alone.
        indexes = [models.Index(fields=["user", "updated_at"])]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.original_name or self.file.name}"

    @property
    def is_audio(self) -> bool:
        return self.content_type.startswith("audio/")


class Consent(models.Model):
    """A user's acceptance of the photo-consent wording (``version`` names the
    exact text in ``generation.consent``) for one upload. Kept when the
    upload itself is deleted."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents", verbose_name=_("user")
    )
    upload = models.ForeignKey(
        Upload, on_delete=models.SET_NULL, null=True, blank=True, related_name="consents", verbose_name=_("upload")
    )
    version = models.CharField(_("wording version"), max_length=32)
    accepted_at = models.DateTimeField(_("accepted"), auto_now_add=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-accepted_at"]

    def __str__(self) -> str:
        return f"{self.user_id} · {self.version} · {self.accepted_at:%Y-%m-%d}"


class JobInput(models.Model):
    """A file a job uses, in order, with its role (first frame, photo,
    reference, source…): one of the user's uploads, or one of their own
    earlier results (``asset``: a reference picked from their images, the
    source of a tool such as an upscale). Exactly one of the two is set when
    the job is made; either becomes empty when its file is deleted later, and
    the job stays as the record of what was made and charged (deleting is
    refused while an unfinished job still needs the file)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="inputs", verbose_name=_("job"))
    upload = models.ForeignKey(
        Upload, on_delete=models.SET_NULL, null=True, related_name="job_inputs", verbose_name=_("upload")
    )
    # SET_NULL, not PROTECT: a creator may always delete a result (their
    # data); a job made from it keeps its own record, charge and results.
    asset = models.ForeignKey(
        "Asset",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="job_inputs",
        verbose_name=_("earlier result"),
    )
    role = models.CharField(_("role"), max_length=16)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("job input")
        verbose_name_plural = _("job inputs")
        ordering = ["job", "position"]

    def __str__(self) -> str:
        return f"{self.job_id}/{self.position} {self.role}"


class StylePreset(Stamped):
    """An avatar character style. Names in English and Arabic; the prompt
    template (staff-editable, sent to the provider) may use ``{details}`` for
    the user's own words. ``demo_style`` is the offline demo's transformation."""

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=128)
    description = models.CharField(_("description"), max_length=255, blank=True)
    prompt_template = models.TextField(_("prompt template"))
    demo_style = models.CharField(_("demo style"), max_length=32, default="cartoon")
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveIntegerField(_("order"), default=0)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("style preset")
        verbose_name_plural = _("style presets")
        ordering = ["sort_order", "slug"]

    def __str__(self) -> str:
        return self.name

    def prompt(self, details: str = "") -> str:
        """The provider prompt: the template with ``{details}`` filled."""
        text = self.prompt_template.replace("{details}", details.strip())
        return " ".join(text.split())


class ShowcaseItem(Stamped):
    """One finished result Mirsam may show publicly (the landing page,
    ``/showcase/<id>/``), and the record of who allowed it and who picked it.

    Its owner allows it from the job's page (``permission_by``/``_at`` and
    the ``permission_version`` of the wording in ``generation.showcase`` they
    were shown) and may withdraw at any time (``withdrawn_at``; allowing again
    clears it). Staff pick it (``picked_by``/``_at``) only if it is their own
    result (picking it records their own permission) or its owner's
    permission is in force: :meth:`pick_refusal`, checked by :meth:`clean`
    and by ``generation.services.showcase_pick``. It is public while
    :meth:`public` says so; deleting the result deletes it."""

    asset = models.OneToOneField(Asset, on_delete=models.CASCADE, related_name="showcase", verbose_name=_("result"))
    permission_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("allowed by"),
    )
    permission_at = models.DateTimeField(_("allowed"), null=True, blank=True)
    permission_version = models.CharField(_("permission wording version"), max_length=32, blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    picked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("picked by"),
    )
    picked_at = models.DateTimeField(_("picked"), null=True, blank=True)
    position = models.PositiveIntegerField(_("order"), default=0)
    caption = models.CharField(_("caption"), max_length=160, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("showcase item")
        verbose_name_plural = _("showcase items")
        ordering = ["position", "-picked_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} · {self.asset_id}"

    @classmethod
    def public(cls) -> models.QuerySet[ShowcaseItem]:
        """Items the public may see: picked by staff, active, their owner's
        permission recorded and not withdrawn, and the result's job finished."""
        return cls.objects.filter(
            is_active=True,
            picked_at__isnull=False,
            permission_at__isnull=False,
            withdrawn_at__isnull=True,
            asset__job__status=JobStatus.SUCCEEDED,
        )

    @property
    def owner_allows(self) -> bool:
        """The owner's permission is recorded and not withdrawn."""
        return self.permission_at is not None and self.withdrawn_at is None

    @property
    def is_public(self) -> bool:
        return (
            self.is_active
            and self.picked_at is not None
            and self.owner_allows
            and self.asset.job.status == JobStatus.SUCCEEDED
        )

    def pick_refusal(self, staff: object) -> str | None:
        """Why ``staff`` may not pick this result for the showcase (a message
        safe to show), or None: only staff pick, only a finished result, and
        only their own result or one whose owner's permission is in force."""
        if not getattr(staff, "is_staff", False):
            return str(_("Only staff pick results for the showcase."))
        if self.asset.job.status != JobStatus.SUCCEEDED:
            return str(_("Only a finished result can be featured."))
        if self.asset.user_id == getattr(staff, "pk", None) or self.owner_allows:
            return None
        if self.withdrawn_at is not None:
            return str(_("Its owner withdrew their permission to feature this result."))
        return str(_("Its owner has not allowed Mirsam to feature this result."))

    def clean(self) -> None:
        """A picked, active item must satisfy :meth:`pick_refusal` for the
        staff member who picked it (their own result counts as permitted)."""
        if self.picked_at is None or not self.is_active or not self.asset_id:
            return
        if self.picked_by is None:
            raise ValidationError(_("A picked result needs the staff member who picked it."))
        refusal = self.pick_refusal(self.picked_by)
        if refusal:
            raise ValidationError(refusal)
