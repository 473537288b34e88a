from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from modeltranslation.admin import TranslationAdmin

from .models import CreditPack, Offering, PaymentIssue, Plan, Purchase, Revocation, StripePrice
from .tasks import offering_sync_task

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

_OfferingT = TypeVar("_OfferingT", bound=Offering)


class OfferingAdmin(TranslationAdmin[_OfferingT]):
    """Packs and plans. Saving one pushes it to Stripe after the commit
    (billing.tasks.offering_sync_task); until Stripe has a Price for the row
    as it is now, it is not for sale and the list says so."""

    list_display: tuple[str, ...] = ("slug", "name", "price_amount", "currency", "is_active", "stripe_state")
    list_filter = ("is_active", "currency")
    search_fields = ("slug", "name_en", "name_ar", "stripe_price_id")
    readonly_fields = ("stripe_state", "stripe_product_id", "stripe_price_id", "stripe_synced_at", "stripe_sync_error")
    actions = ["push_to_stripe"]

    @admin.display(description=_("Stripe"))
    def stripe_state(self, obj: _OfferingT) -> str:
        if obj.stripe_price() is not None:
            return str(_("In step: for sale"))
        if obj.stripe_sync_error:
            return format_html("{}: {}", _("Not for sale: the push to Stripe failed"), obj.stripe_sync_error)
        return str(_("Not for sale until it is pushed to Stripe"))

    def save_model(self, request: HttpRequest, obj: _OfferingT, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        self._push_after_commit(obj)

    def _push_after_commit(self, obj: _OfferingT) -> None:
        kind = "plan" if isinstance(obj, Plan) else "pack"
        pk = obj.pk
        transaction.on_commit(lambda: offering_sync_task.delay(kind, pk))

    @admin.action(description=_("Push the selected to Stripe now"), permissions=["change"])
    def push_to_stripe(self, request: HttpRequest, queryset: QuerySet[_OfferingT]) -> None:
        for obj in queryset:
            self._push_after_commit(obj)
        messages.info(request, _("Sent to Stripe; refresh in a moment to see the result."))


@admin.register(CreditPack)
class CreditPackAdmin(OfferingAdmin[CreditPack]):
    list_display = ("slug", "name", "credits", "price_amount", "currency", "is_active", "stripe_state")


@admin.register(Plan)
class PlanAdmin(OfferingAdmin[Plan]):
    list_display = ("slug", "name", "credits_per_period", "price_amount", "currency", "is_active", "stripe_state")


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


@admin.register(StripePrice)
class StripePriceAdmin(admin.ModelAdmin[StripePrice]):
    """Every Stripe Price we created and what it sold (read-only): the grant of
    a payment at any of them, old or current, reads its credits here."""

    list_display = ("stripe_id", "kind", "pack", "plan", "credits", "amount", "currency", "created_at", "archived_at")
    list_filter = ("kind", "currency")
    search_fields = ("stripe_id", "pack__slug", "plan__slug")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: StripePrice | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: StripePrice | None = None) -> bool:
        return False


class OpenFilter(admin.SimpleListFilter):
    title = _("resolved")
    parameter_name = "open"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, StrPromise]]:
        return [("yes", _("Needs attention")), ("no", _("Resolved"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[PaymentIssue]) -> QuerySet[PaymentIssue]:
        if self.value() == "yes":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(PaymentIssue)
class PaymentIssueAdmin(admin.ModelAdmin[PaymentIssue]):
    """Payments that need attention. Staff write what they did (e.g. "credits
    added by adjustment", "refunded in Stripe") in ``resolution``; saving it
    marks the row resolved by them. Nothing else is editable."""

    list_display = ("created_at", "kind", "stripe_id", "user", "amount", "currency", "detail", "resolved_at")
    list_filter = (OpenFilter, "kind")
    search_fields = ("stripe_id", "user__email", "detail")
    list_select_related = ("user",)
    fields = (
        "kind",
        "stripe_id",
        "user",
        "amount",
        "currency",
        "detail",
        "created_at",
        "resolution",
        "resolved_by",
        "resolved_at",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: PaymentIssue | None = None) -> list[str]:
        names = [f for f in self.fields if f != "resolution"]
        if obj is not None and obj.resolved_at is not None:
            names.append("resolution")
        return names

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PaymentIssue | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: PaymentIssue, form: Any, change: bool) -> None:
        if obj.resolution.strip() and obj.resolved_at is None:
            obj.resolved_at = timezone.now()
            obj.resolved_by = request.user  # type: ignore[assignment]  # admin requests are signed in
        super().save_model(request, obj, form, change)
