"""Personal API keys and the answers kept for idempotent requests.

A key's secret is shown once, when it is made; only its SHA-256 is stored
(the secret has 256 bits of randomness, so a plain hash suffices) with a
visible ``prefix`` that names it on the account page and in the admin.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


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
