from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from modeltranslation.admin import TranslationAdmin

from config.admin_audit import ChangeValuesAdmin

from .models import Offer, ProviderCall


@admin.register(Offer)
class OfferAdmin(ChangeValuesAdmin[Offer], TranslationAdmin[Offer]):
    """The catalogue: prices in credits and the provider's cost; every change
    is logged with its old and new values (History)."""

    list_display = (
        "slug",
        "name",
        "service",
        "adapter",
        "provider_model",
        "price_credits",
        "provider_cost_usd",
        "is_active",
    )
    list_filter = ("service", "adapter", "is_active")
    list_editable = ("price_credits", "is_active")
    search_fields = ("slug", "name_en", "name_ar", "provider_model")


@admin.register(ProviderCall)
class ProviderCallAdmin(admin.ModelAdmin[ProviderCall]):
    list_display = (
        "created_at",
        "adapter",
        "operation",
        "method",
        "status_code",
        "latency_ms",
        "task_id",
        "job_ref",
        "error",
    )
    list_filter = ("adapter", "operation", "status_code", "created_at")
    search_fields = ("task_id", "url", "error")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in ProviderCall._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ProviderCall | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ProviderCall | None = None) -> bool:
        # The call log is the evidence of what we sent and were answered; only
        # the retention purge (PROVIDER_CALL_RETENTION_DAYS) removes calls.
        return False
