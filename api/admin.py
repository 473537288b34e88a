"""Staff see every API key (never its secret: only a hash is stored) and can
revoke any of them; each revocation is written to the audit list."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import ApiKey
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
