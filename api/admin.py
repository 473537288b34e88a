"""Staff see every API key (never its secret: only a hash is stored) and can
revoke any of them; each revocation is written to the audit list. Webhook
endpoints (without their signing secret), events and deliveries are read-only."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import ApiKey, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .services import api_key_revoke


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    list_display = ("name", "prefix", "user", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__email")
    readonly_fields = (
        "user",
        "name",
        "prefix",
        "scopes",
        "created_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    )
    exclude = ("key_hash",)
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are made by their owner, whose secret is shown only to them

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoked keys stay, as the audit list refers to them

    @admin.action(description=_("Revoke the selected API keys (audited)"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        keys = [key for key in queryset if key.is_active]
        for key in keys:
            api_key_revoke(key=key, actor=request.user)  # type: ignore[arg-type]  # staff are signed in
        self.message_user(
            request,
            ngettext("%(count)d key revoked.", "%(count)d keys revoked.", len(keys)) % {"count": len(keys)},
            messages.SUCCESS,
        )


class _ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    """Webhook records are written by the delivery service only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_ReadOnly):
    list_display = ("url", "user", "created_at", "consecutive_failures", "disabled_at")
    list_filter = ("disabled_at",)
    search_fields = ("url", "user__email")
    exclude = ("secret",)  # it signs the owner's events; staff have no use for it


@admin.register(WebhookEvent)
class WebhookEventAdmin(_ReadOnly):
    list_display = ("__str__", "endpoint", "job", "status", "attempts", "created_at", "finished_at")
    list_filter = ("status", "type")
    search_fields = ("endpoint__url", "endpoint__user__email")
    list_select_related = ("endpoint", "job")
    raw_id_fields = ("endpoint", "job")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnly):
    list_display = ("event", "attempt", "attempted_at", "status_code", "latency_ms", "succeeded", "error")
    list_filter = ("succeeded",)
    search_fields = ("event__endpoint__url",)
    list_select_related = ("event",)
    raw_id_fields = ("event",)
