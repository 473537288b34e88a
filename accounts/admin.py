from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from credits.admin import WalletInline
from credits.models import LedgerEntry
from credits.services import CreditsError

from .http import AuthedRequest
from .models import StaffAction, User
from .services import staff_credits_adjust

if TYPE_CHECKING:
    # A stub-only alias (django-stubs): the shape ModelAdmin.get_fieldsets returns.
    from django.contrib.admin.options import _FieldsetSpec
    from django_stubs_ext import StrPromise


class HasPaidFilter(admin.SimpleListFilter):
    title = _("has paid")
    parameter_name = "paid"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, StrPromise]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        from billing.models import Purchase

        paid = Exists(Purchase.objects.filter(user=OuterRef("pk")))
        if self.value() == "yes":
            return queryset.filter(paid)
        if self.value() == "no":
            return queryset.exclude(paid)
        return queryset


class HasPlanFilter(admin.SimpleListFilter):
    title = _("has a plan")
    parameter_name = "plan"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, StrPromise]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        from djstripe.models import Subscription

        from billing.selectors import LIVE_SUBSCRIPTION_STATUSES

        live = Exists(
            Subscription.objects.filter(
                customer__subscriber=OuterRef("pk"), stripe_data__status__in=LIVE_SUBSCRIPTION_STATUSES
            )
        )
        if self.value() == "yes":
            return queryset.filter(live)
        if self.value() == "no":
            return queryset.exclude(live)
        return queryset


class AdjustCreditsForm(forms.Form):
    amount = forms.IntegerField(
        label=_("Credits"), help_text=_("Whole credits: positive to add, negative to take away.")
    )
    reason = forms.CharField(label=_("Reason"), max_length=255, help_text=_("Required; the customer sees it."))

    def clean_amount(self) -> int:
        amount: int = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(_("An adjustment must change the balance."))
        return amount


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    list_display = ("email", "preferred_language", "is_staff", "is_active", "date_joined")
    list_filter = (
        "is_staff",
        "is_superuser",
        "is_active",
        HasPaidFilter,
        HasPlanFilter,
        "preferred_language",
        "date_joined",
    )
    search_fields = ("email", "username", "first_name", "last_name")
    ordering = ("-date_joined",)
    inlines = [WalletInline]
    readonly_fields = ("credits_summary",)
    fieldsets = (
        (_("Credits"), {"fields": ("credits_summary",)}),
        *(BaseUserAdmin.fieldsets or ()),
        (_("Mirsam"), {"fields": ("preferred_language",)}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: User | None = None) -> _FieldsetSpec:
        # The add form has no credits yet.
        return super().get_fieldsets(request, obj) if obj else self.add_fieldsets

    @admin.display(description=_("Credits"))
    def credits_summary(self, obj: User) -> str:
        entries = LedgerEntry.objects.filter(wallet__user=obj).order_by("-created_at", "-id")[:15]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    e.created_at.strftime("%Y-%m-%d %H:%M"),
                    e.get_kind_display(),
                    f"{e.amount:+d}",
                    e.balance_after,
                    e.reason,
                    e.actor or "",
                )
                for e in entries
            ),
        )
        links = format_html(
            '<p><a class="button" href="{}">{}</a> · <a href="{}">{}</a> · <a href="{}">{}</a> · <a href="{}">{}</a>'
            ' · <a href="{}">{}</a></p>',
            reverse("admin:accounts_user_adjust_credits", args=[obj.pk]),
            _("Adjust credits"),
            reverse("admin:credits_ledgerentry_changelist") + f"?wallet__user__id__exact={obj.pk}",
            _("Full ledger"),
            reverse("admin:generation_job_changelist") + f"?user__id__exact={obj.pk}",
            _("Jobs"),
            reverse("admin:billing_purchase_changelist") + f"?user__id__exact={obj.pk}",
            _("Payments"),
            reverse("admin:djstripe_customer_changelist") + f"?subscriber__id__exact={obj.pk}",
            _("Stripe customer"),
        )
        table = format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _("Time"),
            _("Kind"),
            _("Amount"),
            _("Balance after"),
            _("Reason"),
            _("Actor"),
            rows,
        )
        return links + table

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/adjust-credits/",
                self.admin_site.admin_view(self.adjust_credits_view),
                name="accounts_user_adjust_credits",
            ),
            *super().get_urls(),
        ]

    def adjust_credits_view(self, request: AuthedRequest, object_id: str) -> HttpResponse:
        """Staff add or take credits, with a reason, through the credits
        service; the ledger row and the audit row carry the staff member."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        user = get_object_or_404(User, pk=object_id)
        form = AdjustCreditsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                staff_credits_adjust(
                    actor=request.user,
                    user=user,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                )
            except CreditsError as exc:
                form.add_error("amount", exc.message)
            else:
                messages.success(request, _("Credits adjusted."))
                return HttpResponseRedirect(reverse("admin:accounts_user_change", args=[user.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Adjust credits for %(email)s") % {"email": user.email},
            "form": form,
            "customer": user,
            "wallet": getattr(user, "wallet", None),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/accounts/user/adjust_credits.html", context)


@admin.register(StaffAction)
class StaffActionAdmin(admin.ModelAdmin[StaffAction]):
    """The audit list of staff money actions (read-only)."""

    list_display = ("created_at", "actor", "kind", "user", "credits", "reason", "reference")
    list_filter = ("kind", "created_at", "actor")
    search_fields = ("user__email", "actor__email", "reason", "reference")
    date_hierarchy = "created_at"
    list_select_related = ("actor", "user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: StaffAction | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: StaffAction | None = None) -> bool:
        return False
