"""Personal API keys and the answers kept for idempotent requests.

A key's secret is shown once, when it is made; only its SHA-256 is stored
(the secret has 256 bits of randomness, so a plain hash suffices) with a
visible ``prefix`` that names it on the account page and in the admin.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from generation.stored_text import in_active_language


class Scope(models.TextChoices):
    READ = "read", _("Read (models, prices, jobs, balance)")
    GENERATE = "generate", _("Generate (upload, create and cancel jobs)")


class ApiKey(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=80)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class IdempotencyRecord(models.Model):
    """The first answer to a POST sent with an ``Idempotency-Key``, kept per
    API key for ``MIRSAM_API_IDEMPOTENCY_HOURS``; the unique constraint makes
    concurrent requests with one key wait for the first and answer as it did."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    body_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(default=0)
    # The JSON text as first sent, byte for byte (jsonb would reorder its keys).
    response_body = models.TextField(default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_per_api_key")]

    def __str__(self) -> str:
        return f"{self.api_key_id}:{self.key}"


# --- webhooks out (docs/api.md "Webhooks") -----------------------------------------------


class WebhookEndpoint(models.Model):
    """A URL of a creator's that Mirsam POSTs signed events to. ``secret``
    signs every delivery (HMAC-SHA256), so it is kept in clear; its owner sees
    it once, when the endpoint is made. ``consecutive_failures`` counts failed
    events in a row (a success resets it); at ``MIRSAM_WEBHOOK_DISABLE_AFTER``
    the endpoint is turned off (``disabled_at``, ``disabled_reason``) until
    its owner turns it back on."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints", verbose_name=_("user")
    )
    url = models.CharField(_("URL"), max_length=500)  # checked by api.outbound.url_check, not a form field
    description = models.CharField(_("description"), max_length=200, blank=True)
    secret = models.CharField(_("signing secret"), max_length=80, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    consecutive_failures = models.PositiveIntegerField(_("failed events in a row"), default=0)
    disabled_at = models.DateTimeField(_("turned off"), null=True, blank=True)
    disabled_reason = models.CharField(_("why it was turned off"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "disabled_at"], name="webhook_endpoint_user_active")]

    def __str__(self) -> str:
        return self.url

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    @property
    def disabled_reason_text(self) -> str:
        """``disabled_reason`` (written in the owner's language then) in the active language, where it can be."""
        return in_active_language(self.disabled_reason)


class WebhookEventType(models.TextChoices):
    JOB_SUCCEEDED = "job.succeeded", _("Job succeeded")
    JOB_FAILED = "job.failed", _("Job failed")
    JOB_CANCELED = "job.canceled", _("Job canceled")
    PING = "ping", _("Test event")


class WebhookEventStatus(models.TextChoices):
    PENDING = "pending", _("Sending")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookEvent(models.Model):
    """One event for one endpoint, with the body every attempt sends. A job's
    event of a type is made once per endpoint (unique), so a job that finishes
    is never announced twice; test events (``ping``) have no job."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="events", verbose_name=_("endpoint")
    )
    job = models.ForeignKey(
        "generation.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("job")
    )
    type = models.CharField(_("type"), max_length=32, choices=WebhookEventType.choices)
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(
        _("status"), max_length=16, choices=WebhookEventStatus.choices, default=WebhookEventStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "job", "type"],
                condition=models.Q(job__isnull=False),
                name="webhook_event_once_per_job",
            )
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type}"

    @property
    def public_id(self) -> str:
        return f"evt_{self.pk}"


class WebhookDelivery(models.Model):
    """One attempt to deliver an event: what the receiver answered (status
    code, the first ``RESPONSE_EXCERPT`` characters of its body) or why
    nothing was answered (``error``), and how long it took (milliseconds)."""

    RESPONSE_EXCERPT = 1000

    event = models.ForeignKey(
        WebhookEvent, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event")
    )
    attempt = models.PositiveSmallIntegerField(_("attempt"))
    attempted_at = models.DateTimeField(_("sent"), auto_now_add=True, db_index=True)
    succeeded = models.BooleanField(_("succeeded"), default=False)
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)
    response_excerpt = models.TextField(_("response"), blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_id} #{self.attempt}"

    @property
    def error_text(self) -> str:
        """``error`` (written in the owner's language then) in the active language, where it can be."""
        return in_active_language(self.error)
