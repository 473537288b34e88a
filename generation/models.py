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
from django.db import models
from django.utils.translation import gettext_lazy as _

from providers.models import Offer, Service


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
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


FINAL_TASK_STATUSES = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED})


def _new_token() -> str:
    return secrets.token_urlsafe(32)


class Job(models.Model):
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
    hold = models.OneToOneField(
        "credits.Hold", on_delete=models.PROTECT, null=True, blank=True, related_name="job", verbose_name=_("hold")
    )
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
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"]), models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.service} {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_JOB_STATUSES

    @property
    def prompt(self) -> str:
        return str(self.params.get("prompt", ""))

    @property
    def outputs(self) -> int:
        return int(self.params.get("outputs", 1))

    @property
    def output_slots(self) -> range:
        """One slot per requested output (placeholders while the job runs)."""
        return range(self.outputs)

    @property
    def credits_returned(self) -> int:
        return self.price_credits - self.charged_credits if self.is_final else 0


class ProviderTask(models.Model):
    """One task at the provider, making one output of a job."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("job"))
    index = models.PositiveSmallIntegerField(_("index"))
    task_id = models.CharField(_("provider task id"), max_length=128, blank=True, db_index=True)
    status = models.CharField(_("status"), max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error_message = models.TextField(_("error"), blank=True)
    output_urls = models.JSONField(_("provider output URLs"), default=list, blank=True)
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
    content_type = models.CharField(_("content type"), max_length=100)
    size_bytes = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("asset")
        verbose_name_plural = _("assets")
        ordering = ["job", "index"]

    def __str__(self) -> str:
        return self.file.name

    @property
    def download_name(self) -> str:
        return f"mirsam-{self.job_id}-{self.index + 1}{PurePosixPath(self.file.name).suffix}"
