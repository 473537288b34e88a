from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.models import User

from .models import CreditLot, Hold, LedgerEntry, Wallet

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise


class ReadOnlyMixin:
    """Ledger rows are immutable: nobody adds, edits or deletes them here."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class CreditLotInline(ReadOnlyMixin, admin.TabularInline[CreditLot, Wallet]):
    """The wallet's lots: where each came from, what was paid, what is left, when it expires."""

    model = CreditLot
    fields = ("created_at", "source", "credits", "remaining", "money_minor", "currency", "expires_at")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    extra = 0


class LedgerEntryInline(ReadOnlyMixin, admin.TabularInline[LedgerEntry, Wallet]):
    model = LedgerEntry
    fields = (
        "created_at",
        "kind",
        "amount",
        "held_delta",
        "balance_after",
        "held_after",
        "reason",
        "reference",
        "actor",
    )
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    extra = 0
    show_change_link = True


class WalletInline(ReadOnlyMixin, admin.StackedInline[Wallet, User]):
    model = Wallet
    fields = ("balance", "held", "updated_at")
    readonly_fields = fields
    can_delete = False


class OwesFilter(admin.SimpleListFilter):
    title = _("owes credits")
    parameter_name = "owes"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, StrPromise]]:
        return [("yes", _("Yes"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Wallet]) -> QuerySet[Wallet]:
        return queryset.filter(owed__gt=0) if self.value() == "yes" else queryset


@admin.register(Wallet)
class WalletAdmin(ReadOnlyMixin, admin.ModelAdmin[Wallet]):
    list_display = ("user", "balance", "held", "available", "owed", "updated_at")
    list_filter = (OwesFilter,)
    search_fields = ("user__email",)
    readonly_fields = ("user", "balance", "held", "owed", "updated_at")
    inlines = [CreditLotInline, LedgerEntryInline]

    def has_view_permission(self, request: HttpRequest, obj: Wallet | None = None) -> bool:
        return request.user.is_staff


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyMixin, admin.ModelAdmin[LedgerEntry]):
    list_display = ("created_at", "wallet", "kind", "amount", "held_delta", "balance_after", "reference", "actor")
    list_filter = ("kind", "created_at")
    search_fields = ("wallet__user__email", "reference", "idempotency_key", "reason")
    date_hierarchy = "created_at"
    list_select_related = ("wallet__user", "actor")

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # The user page links here as ?wallet__user__id__exact=<id> (one user's
        # ledger); it is not a list filter, so Django would refuse it with a 400.
        return lookup == "wallet__user__id__exact" or super().lookup_allowed(lookup, value, request)


@admin.register(Hold)
class HoldAdmin(ReadOnlyMixin, admin.ModelAdmin[Hold]):
    list_display = ("reference", "wallet", "amount", "captured_amount", "status", "created_at", "closed_at")
    list_filter = ("status",)
    search_fields = ("reference", "wallet__user__email")
    list_select_related = ("wallet__user",)
