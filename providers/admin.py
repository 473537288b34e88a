from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from modeltranslation.admin import TranslationAdmin

from config.admin_audit import ChangeValuesAdmin

from . import pricing
from .models import Offer, ProviderCall


def _percent(value: Decimal | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _cheapest_credit_usd() -> Decimal | None:
    from billing.selectors import cheapest_credit

    cheapest = cheapest_credit()
    return None if cheapest is None else cheapest.usd


class OfferForm(forms.ModelForm[Offer]):
    def clean_options(self) -> Any:
        options = self.cleaned_data.get("options")
        if isinstance(options, dict):
            problems = pricing.cost_problems(options)
            if problems:
                raise forms.ValidationError([forms.ValidationError(p) for p in problems])
        return options


@admin.register(Offer)
class OfferAdmin(ChangeValuesAdmin[Offer], TranslationAdmin[Offer]):
    """The catalogue. Prices follow from the provider cost in ``options``
    (``providers.pricing``) unless staff set an override; the list shows the
    default settings' price and its margin at the cheapest credit sold, a
    model's page every price it sells at. Every change is logged with its
    old and new values (History)."""

    form = OfferForm
    list_display = (
        "slug",
        "name",
        "service",
        "adapter",
        "provider_model",
        "price_credits",
        "is_active",
    )
    list_filter = ("service", "adapter", "is_active")
    list_editable = ("price_credits", "is_active")
    search_fields = ("slug", "name_en", "name_ar", "provider_model")
    readonly_fields = ("price_table",)

    def get_list_display(self, request: HttpRequest) -> list[str | Callable[[Offer], str | bool]]:
        # The cheapest credit is read once per list, not once per row.
        cheapest = _cheapest_credit_usd()

        @admin.display(description=_("price (default settings)"))
        def default_price(obj: Offer) -> str:
            return str(obj.unit_price())

        @admin.display(description=_("margin at the cheapest credit sold"))
        def default_margin(obj: Offer) -> str:
            cost = pricing.cost_usd(obj)
            if cheapest is None:
                return "—"
            return _percent(pricing.margin(price_credits=obj.unit_price(), cost=cost, credit_usd=cheapest))

        display = list(super().get_list_display(request))
        at = display.index("price_credits")
        return [*display[:at], default_price, default_margin, *display[at:]]

    @admin.display(description=_("prices"))
    def price_table(self, obj: Offer) -> SafeString:
        """Every combination of the options that change the cost, and the
        extend: cost in USD, price in credits, margin over cost at
        ``MIRSAM_PRICE_CREDIT_USD`` and at the cheapest credit sold."""
        if obj.pk is None:
            return format_html("{}", gettext("Save the model to see its prices."))
        listed = pricing.price_credit_usd()
        cheapest = _cheapest_credit_usd()
        least = pricing.min_margin()
        rows = pricing.price_table(obj)

        def settings_text(row: pricing.PriceRow) -> str:
            if row.extend:
                return gettext("one extend of a result")
            if not row.settings:
                return gettext("every setting")
            return " · ".join(f"{name} {value}" for name, value in row.settings.items())

        def flag(row: pricing.PriceRow) -> str:
            if row.cost_usd <= 0:
                return gettext("no cost: set options.cost")
            if cheapest is not None and row.below(credit_usd=cheapest, least_margin=least):
                return gettext("below the least margin (MIRSAM_MIN_MARGIN)")
            return ""

        body = format_html_join(
            "",
            # <bdi>: amounts and option values keep their left-to-right order on the Arabic admin.
            "<tr><td><bdi>{}</bdi></td><td><bdi>{}</bdi></td><td>{}</td><td><bdi>{}</bdi></td><td><bdi>{}</bdi></td>"
            "<td>{}</td></tr>",
            (
                (
                    settings_text(row),
                    f"{row.cost_usd.quantize(Decimal('0.0001'))}",
                    row.price_credits,
                    _percent(row.margin_at(listed)),
                    _percent(row.margin_at(cheapest)),
                    flag(row),
                )
                for row in rows
            ),
        )
        return format_html(
            '<div class="mirsam-scroll"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>'
            "<th></th></tr></thead><tbody>{}</tbody></table></div><p>{}</p>",
            gettext("settings"),
            gettext("cost (USD per output)"),
            gettext("price (credits per output)"),
            gettext("margin at $%(usd)s a credit (MIRSAM_PRICE_CREDIT_USD)") % {"usd": listed},
            gettext("margin at the cheapest credit sold ($%(usd)s)")
            % {"usd": "—" if cheapest is None else cheapest.quantize(Decimal("0.0001"))},
            body,
            gettext(
                "Margin: what the price brings in over what it costs us, as a share of the cost. Options not"
                " listed do not change the price. A derived price is cost × (1 + %(margin)s) ÷ $%(usd)s,"
                " rounded up; an override prices the default settings and the rest scale with their cost."
            )
            % {"margin": settings.MIRSAM_PRICE_MARGIN, "usd": listed},
        )


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
