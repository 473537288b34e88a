from __future__ import annotations

from typing import TypeVar

import djstripe.admin  # noqa: F401 - registers dj-stripe's ModelAdmins, made read-only below
from django.contrib import admin
from django.http import HttpRequest
from modeltranslation.admin import TranslationAdmin

from config.admin_audit import ChangeValuesAdmin

from .models import CreditPack, Offering, Plan, Purchase, Revocation
from .stripe_admin import make_stripe_admin_read_only

_OfferingT = TypeVar("_OfferingT", bound=Offering)


class OfferingAdmin(ChangeValuesAdmin[_OfferingT], TranslationAdmin[_OfferingT]):
    """Packs and plans; every change is logged with its old and new values (History)."""

    list_display: tuple[str, ...] = ("slug", "name", "price_amount", "currency", "is_active", "stripe_price_id")
    list_filter = ("is_active", "currency")
    search_fields = ("slug", "name_en", "name_ar", "stripe_price_id")
    readonly_fields = ("stripe_product_id", "stripe_price_id")


@admin.register(CreditPack)
class CreditPackAdmin(OfferingAdmin[CreditPack]):
    list_display = ("slug", "name", "credits", "price_amount", "currency", "is_active", "stripe_price_id")


@admin.register(Plan)
class PlanAdmin(OfferingAdmin[Plan]):
    list_display = ("slug", "name", "credits_per_period", "price_amount", "currency", "is_active", "stripe_price_id")


class RevocationInline(admin.TabularInline[Revocation, Purchase]):
    model = Revocation
    fields = ("created_at", "kind", "stripe_key", "amount", "credits_due", "credits_taken", "shortfall")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Purchase | None = None) -> bool:
        return False


@admin.register(Purchase)
class PurchaseAdmin(admin.ModelAdmin[Purchase]):
    list_display = ("created_at", "user", "kind", "credits", "amount", "currency", "stripe_id")
    list_filter = ("kind", "currency", "created_at")
    search_fields = ("user__email", "stripe_id", "payment_intent_id")
    readonly_fields = [f.name for f in Purchase._meta.fields]
    list_select_related = ("user",)
    inlines = [RevocationInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Purchase | None = None) -> bool:
        return False


@admin.register(Revocation)
class RevocationAdmin(admin.ModelAdmin[Revocation]):
    list_display = ("created_at", "purchase", "kind", "credits_due", "credits_taken", "shortfall")
    list_filter = ("kind", "created_at")
    search_fields = ("stripe_key", "purchase__stripe_id", "purchase__user__email")
    readonly_fields = [f.name for f in Revocation._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Revocation | None = None) -> bool:
        return False


# dj-stripe's ModelAdmins (imported above, so registered whatever the order of
# INSTALLED_APPS) become a read-only mirror, the webhook endpoint's excepted.
make_stripe_admin_read_only()
