from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.pagecache import form_token, form_token_sent
from credits.admin import WalletInline
from credits.models import LedgerEntry
from credits.services import CreditsError

from .deletion import AccountDeletionError, account_delete
from .http import AuthedRequest
from .models import CreditAdjustment, DataExport, StaffAction, User
from .services import (
    AdjustmentRefused,
    adjustment_allowance,
    adjustment_check,
    adjustment_needs_approval,
    staff_adjustment_approve,
    staff_adjustment_reject,
    staff_adjustment_request,
)

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
    actions = ["delete_accounts"]
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
    readonly_fields = ("credits_summary", "deleted_at")
    fieldsets = (
        (_("Credits"), {"fields": ("credits_summary",)}),
        *(BaseUserAdmin.fieldsets or ()),
        (_("Mirsam"), {"fields": ("preferred_language", "deleted_at")}),
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
            '<div class="mirsam-scroll"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>'
            "<th>{}</th></tr></thead><tbody>{}</tbody></table></div>",
            _("Time"),
            _("Kind"),
            _("Amount"),
            _("Balance after"),
            _("Reason"),
            _("Actor"),
            rows,
        )
        wallet = getattr(obj, "wallet", None)
        if wallet is not None and wallet.owed:
            links += format_html(
                '<p class="warning">{}</p>',
                ngettext(
                    "Owes %(owed)d credit after a refund or lost dispute: new credits pay it first, and no job"
                    " can start until then.",
                    "Owes %(owed)d credits after a refund or lost dispute: new credits pay them first, and no job"
                    " can start until then.",
                    wallet.owed,
                )
                % {"owed": wallet.owed},
            )
        pending = CreditAdjustment.objects.filter(user=obj, status=CreditAdjustment.Status.PENDING).count()
        if pending:
            links += format_html(
                '<p class="warning"><a href="{}">{}</a></p>',
                reverse("admin:accounts_creditadjustment_changelist")
                + f"?user__id__exact={obj.pk}&status__exact={CreditAdjustment.Status.PENDING}",
                ngettext(
                    "%(count)d adjustment waits for approval",
                    "%(count)d adjustments wait for approval",
                    pending,
                )
                % {"count": pending},
            )
        return links + table

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        # A user row is never removed (the ledger and payments point at it):
        # staff delete an account with the "Delete accounts" action instead.
        return False

    def has_account_delete_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("accounts.delete_user"))

    @admin.action(
        description=_("Delete the accounts (files, keys, sessions; the books stay anonymised)"),
        permissions=["account_delete"],
    )
    def delete_accounts(self, request: AuthedRequest, queryset: QuerySet[User]) -> HttpResponse | None:
        """The "Delete my account" of accounts.deletion for each selected user,
        after a confirmation page with a reason (kept in the audit row). The
        staff member's own account and accounts deleted already are skipped."""
        users = list(queryset.exclude(pk=request.user.pk).filter(deleted_at__isnull=True))
        reason = request.POST.get("reason", "").strip()
        if "confirm" in request.POST and reason:
            done = 0
            for user in users:
                try:
                    done += account_delete(user=user, actor=request.user, reason=reason)
                except AccountDeletionError as exc:
                    messages.error(request, f"{user.email}: {exc.message}")
            messages.success(
                request,
                ngettext("%(count)d account was deleted.", "%(count)d accounts were deleted.", done) % {"count": done},
            )
            return None
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": _("Delete accounts"),
            "users": users,
            "skipped": queryset.count() - len(users),
            "reason": reason,
            "missing_reason": "confirm" in request.POST,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/accounts/user/delete_accounts.html", context)

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
        """Staff add or take credits in two steps: the form, then a review of
        the balance before → after that carries the form's one-time token, so
        confirming twice is one adjustment (accounts.services)."""
        if not request.user.has_perm("accounts.adjust_credits"):
            raise PermissionDenied
        user = get_object_or_404(User, pk=object_id)
        form = AdjustCreditsForm(request.POST or None)
        token = form_token_sent(request) or form_token(request)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": _("Adjust credits for %(email)s") % {"email": user.email},
            "form": form,
            "token": token,
            "customer": user,
            "wallet": getattr(user, "wallet", None),
            "allowance": adjustment_allowance(actor=request.user),
            "approval_threshold": settings.MIRSAM_ADJUSTMENT_APPROVAL_CREDITS,
            "opts": self.model._meta,
        }
        if request.method == "POST" and form.is_valid() and "edit" not in request.POST:
            amount: int = form.cleaned_data["amount"]
            try:
                if "confirm" in request.POST:
                    return self._adjust_credits_confirmed(request, user, form, token)
                adjustment_check(actor=request.user, user=user, amount=amount, reason=form.cleaned_data["reason"])
            except (AdjustmentRefused, CreditsError) as exc:
                form.add_error("amount", exc.message)
            else:
                balance = context["wallet"].balance if context["wallet"] else 0
                held = context["wallet"].held if context["wallet"] else 0
                context.update(
                    title=_("Review the adjustment for %(email)s") % {"email": user.email},
                    amount=amount,
                    reason=form.cleaned_data["reason"],
                    balance_after=balance + amount,
                    available_before=balance - held,
                    available_after=balance - held + amount,
                    needs_approval=adjustment_needs_approval(amount),
                )
                return TemplateResponse(request, "admin/accounts/user/adjust_credits_review.html", context)
        return TemplateResponse(request, "admin/accounts/user/adjust_credits.html", context)

    def _adjust_credits_confirmed(
        self, request: AuthedRequest, user: User, form: AdjustCreditsForm, token: str
    ) -> HttpResponse:
        adjustment, created = staff_adjustment_request(
            actor=request.user,
            user=user,
            amount=form.cleaned_data["amount"],
            reason=form.cleaned_data["reason"],
            form_token=form_token_sent(request),
        )
        if not created:
            messages.warning(request, _("This adjustment was already submitted; it was not made again."))
        elif adjustment.status == CreditAdjustment.Status.APPLIED:
            messages.success(request, _("Credits adjusted."))
        else:
            messages.warning(request, _("The adjustment waits for a second staff member's approval."))
        return HttpResponseRedirect(reverse("admin:accounts_user_change", args=[user.pk]))


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


@admin.register(CreditAdjustment)
class CreditAdjustmentAdmin(admin.ModelAdmin[CreditAdjustment]):
    """Staff credit adjustments, read-only: they are requested from the user
    page and, above the approval threshold, approved or rejected here by a
    second staff member (``accounts.approve_creditadjustment``)."""

    list_display = ("created_at", "user", "amount", "status", "requested_by", "decided_by", "reason")
    list_filter = ("status", "created_at")
    search_fields = ("user__email", "requested_by__email", "reason")
    list_select_related = ("user", "requested_by", "decided_by")
    fields = (
        "decision",
        "user",
        "amount",
        "reason",
        "status",
        "requested_by",
        "created_at",
        "decided_by",
        "decided_at",
        "entry",
    )
    readonly_fields = ("decision",)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # The user page links here as ?user__id__exact=<id>&status__exact=pending.
        return lookup == "user__id__exact" or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CreditAdjustment | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CreditAdjustment | None = None) -> bool:
        return False

    @admin.display(description=_("Decision"))
    def decision(self, obj: CreditAdjustment) -> str:
        if obj.status != CreditAdjustment.Status.PENDING:
            return obj.get_status_display()
        return format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:accounts_creditadjustment_decide", args=[obj.pk]),
            _("Approve or reject"),
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:object_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="accounts_creditadjustment_decide",
            ),
            *super().get_urls(),
        ]

    def decide_view(self, request: AuthedRequest, object_id: int) -> HttpResponse:
        """A second staff member approves or rejects a pending adjustment
        (a page with both buttons; the decision is a POST)."""
        if not request.user.has_perm("accounts.approve_creditadjustment"):
            raise PermissionDenied
        adjustment = get_object_or_404(CreditAdjustment.objects.select_related("user", "requested_by"), pk=object_id)
        back = reverse("admin:accounts_creditadjustment_change", args=[adjustment.pk])
        if request.method == "POST":
            try:
                if "approve" in request.POST:
                    staff_adjustment_approve(actor=request.user, adjustment=adjustment)
                    messages.success(request, _("The adjustment was approved and applied."))
                else:
                    staff_adjustment_reject(actor=request.user, adjustment=adjustment)
                    messages.success(request, _("The adjustment was rejected."))
            except (AdjustmentRefused, CreditsError) as exc:
                messages.error(request, exc.message)
            return HttpResponseRedirect(back)
        wallet = getattr(adjustment.user, "wallet", None)
        balance = wallet.balance if wallet is not None else 0
        context = {
            **self.admin_site.each_context(request),
            "title": _("Approve or reject an adjustment for %(email)s") % {"email": adjustment.user.email},
            "adjustment": adjustment,
            "balance": balance,
            "balance_after": balance + adjustment.amount,
            "own": adjustment.requested_by_id == request.user.pk,
            "back": back,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/accounts/creditadjustment/decide.html", context)


@admin.register(DataExport)
class DataExportAdmin(admin.ModelAdmin):
    """Users' data exports, to read (why one failed): made and deleted by
    ``accounts.export`` only, never edited here."""

    list_display = ["id", "user", "status", "size_bytes", "created_at", "finished_at", "expires_at"]
    list_filter = ["status"]
    search_fields = ["user__email"]
    readonly_fields = ["user", "status", "file", "size_bytes", "error", "created_at", "finished_at", "expires_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: DataExport | None = None) -> bool:
        return False
