from __future__ import annotations

import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import djstripe.admin  # noqa: F401 - registers dj-stripe's ModelAdmins, made read-only below
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from modeltranslation.admin import TranslationAdmin

from config.admin_audit import ChangeValuesAdmin

from . import services
from .models import CreditPack, Offering, PaymentIssue, Plan, Purchase, Revocation, StripePrice
from .money import format_money, to_major, to_minor
from .stripe_admin import make_stripe_admin_read_only
from .tasks import offering_sync_task

if TYPE_CHECKING:
    # A stub-only alias (django-stubs): the shape ModelAdmin.get_fields returns.
    from django.contrib.admin.options import _FieldGroups
    from django_stubs_ext import StrPromise

    from accounts.http import AuthedRequest

_OfferingT = TypeVar("_OfferingT", bound=Offering)


class OfferingAdmin(ChangeValuesAdmin[_OfferingT], TranslationAdmin[_OfferingT]):
    """Packs and plans; every change is logged with its old and new values
    (History). Saving one pushes it to Stripe after the commit
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


REFUND_TOKEN_SALT = "billing.purchase-refund"  # noqa: S105 - a signing salt, not a secret
# Stripe keeps an Idempotency-Key's result for at least 24 hours; a form older
# than this asks again, so a replay always meets Stripe's memory of the first post.
REFUND_TOKEN_MAX_AGE = 3600


def refund_token(purchase: Purchase) -> str:
    """A fresh one-time token for ``purchase``'s refund form (signed, so it
    names the purchase and expires after ``REFUND_TOKEN_MAX_AGE`` seconds)."""
    return signing.dumps([purchase.pk, secrets.token_urlsafe(16)], salt=REFUND_TOKEN_SALT)


class PurchaseRefundForm(forms.Form):
    """Amount in major units of the purchase's currency (at most what Stripe
    says is left), a reason for the audit list, and the form's token."""

    amount = forms.DecimalField(label=_("Amount"))
    reason = forms.CharField(label=_("Reason"), max_length=200, help_text=_("Required; kept in the audit list."))
    token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, purchase: Purchase, refundable: services.RefundableCharge, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.purchase = purchase
        self.refundable = refundable
        amount = self.fields["amount"]
        amount.label = _("Amount (%(currency)s)") % {"currency": refundable.currency.upper()}
        amount.help_text = _("Up to %(remaining)s is left to refund.") % {
            "remaining": format_money(refundable.remaining, refundable.currency)
        }

    def clean_amount(self) -> int:
        """The amount in minor units, above zero and at most what is left."""
        major: Decimal = self.cleaned_data["amount"]
        currency = self.refundable.currency
        if major <= 0:
            raise forms.ValidationError(_("Enter an amount above zero."))
        try:
            minor = to_minor(major, currency)
        except ValueError:
            raise forms.ValidationError(_("Too many decimals for this currency.")) from None
        if minor > self.refundable.remaining:
            raise forms.ValidationError(
                _("At most %(remaining)s is left to refund.")
                % {"remaining": format_money(self.refundable.remaining, currency)}
            )
        return minor

    def clean_token(self) -> str:
        """The token's random part (the Idempotency-Key is made from it)."""
        try:
            purchase_pk, nonce = signing.loads(
                self.cleaned_data["token"], salt=REFUND_TOKEN_SALT, max_age=REFUND_TOKEN_MAX_AGE
            )
        except (signing.BadSignature, ValueError, TypeError):
            raise forms.ValidationError(_("This form has expired. Open the refund again.")) from None
        if purchase_pk != self.purchase.pk:
            raise forms.ValidationError(_("This form has expired. Open the refund again."))
        return str(nonce)


@admin.register(Purchase)
class PurchaseAdmin(admin.ModelAdmin[Purchase]):
    """Purchases, read-only, with "Refund via Stripe" for staff holding
    ``billing.refund_purchase`` (:func:`billing.services.purchase_refund`)."""

    list_display = ("created_at", "user", "kind", "credits", "amount", "currency", "stripe_id")
    list_filter = ("kind", "currency", "created_at")
    search_fields = ("user__email", "stripe_id", "payment_intent_id")
    readonly_fields = ["stripe_refund", *(f.name for f in Purchase._meta.fields)]
    list_select_related = ("user",)
    inlines = [RevocationInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Purchase | None = None) -> bool:
        return False

    def has_refund_permission(self, request: HttpRequest) -> bool:
        """``billing.refund_purchase`` (Purchase.Meta.permissions)."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('refund', opts)}")

    def get_fields(self, request: HttpRequest, obj: Purchase | None = None) -> _FieldGroups:
        names: list[str | list[str] | tuple[str, ...]] = [f.name for f in Purchase._meta.fields]
        return ["stripe_refund", *names] if obj is not None and self.has_refund_permission(request) else names

    @admin.display(description=_("Refund"))
    def stripe_refund(self, obj: Purchase) -> str:
        return format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:billing_purchase_refund", args=[obj.pk]),
            _("Refund via Stripe"),
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/refund/", self.admin_site.admin_view(self.refund_view), name="billing_purchase_refund"
            ),
            *super().get_urls(),
        ]

    def refund_view(self, request: AuthedRequest, object_id: str) -> HttpResponse:
        """GET: the amount (default: all that Stripe says is left) and a
        reason. POST: the confirmation; POST with ``confirmed``: the refund at
        Stripe. An error keeps the form and its token, so submitting it again
        can never refund twice."""
        if not self.has_refund_permission(request):
            raise PermissionDenied
        purchase = get_object_or_404(Purchase.objects.select_related("user"), pk=object_id)
        change_url = reverse("admin:billing_purchase_change", args=[purchase.pk])
        try:
            refundable = services.purchase_refundable(purchase=purchase)
        except services.BillingError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(change_url)
        confirming = False
        if request.method == "POST":
            form = PurchaseRefundForm(request.POST, purchase=purchase, refundable=refundable)
            if form.is_valid() and request.POST.get("confirmed") != "yes":
                confirming = True
            elif form.is_valid():
                try:
                    result = services.purchase_refund(
                        actor=request.user,
                        purchase=purchase,
                        amount=form.cleaned_data["amount"],
                        reason=form.cleaned_data["reason"],
                        token=form.cleaned_data["token"],
                    )
                except services.BillingError as exc:
                    messages.error(request, exc.message)
                else:
                    values = {"amount": format_money(result.amount, result.currency), "refund": result.refund_id}
                    if result.created:
                        messages.success(
                            request,
                            _(
                                "Stripe refunded %(amount)s (%(refund)s). The credits come back when Stripe "
                                "reports the refund (charge.refunded)."
                            )
                            % values,
                        )
                    else:
                        messages.info(request, _("This refund was sent already: %(amount)s (%(refund)s).") % values)
                    return HttpResponseRedirect(change_url)
        else:
            if refundable.remaining <= 0:
                messages.error(request, _("This payment has been refunded in full already."))
                return HttpResponseRedirect(change_url)
            form = PurchaseRefundForm(
                initial={
                    "amount": to_major(refundable.remaining, refundable.currency),
                    "token": refund_token(purchase),
                },
                purchase=purchase,
                refundable=refundable,
            )
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": _("Refund via Stripe"),
            "purchase": purchase,
            "refundable": refundable,
            "paid": format_money(refundable.amount, refundable.currency),
            "refunded": format_money(refundable.refunded, refundable.currency),
            "form": form,
            "confirming": confirming,
            "opts": self.opts,
        }
        if confirming:
            amount: int = form.cleaned_data["amount"]
            context["amount"] = format_money(amount, refundable.currency)
            context["credits_due"] = services.refund_credits_due(
                purchase=purchase, charge_amount=refundable.amount, refunded=refundable.refunded + amount
            )
        return TemplateResponse(request, "admin/billing/purchase/refund.html", context)


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


# dj-stripe's ModelAdmins (imported above, so registered whatever the order of
# INSTALLED_APPS) become a read-only mirror, the webhook endpoint's excepted.
make_stripe_admin_read_only()
