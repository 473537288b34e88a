"""Read queries for the pricing and billing pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from .models import CreditPack, Plan, Purchase, Revocation, StripePrice

if TYPE_CHECKING:
    from accounts.models import User
    from providers.models import Offer

LIVE_SUBSCRIPTION_STATUSES = ("active", "trialing", "past_due")


def _priced(credits_field: str) -> Exists:
    """A Stripe Price of ours sells the row as it is now (Offering.stripe_price, in SQL)."""
    return Exists(
        StripePrice.objects.filter(
            stripe_id=OuterRef("stripe_price_id"),
            amount=OuterRef("price_amount"),
            currency=OuterRef("currency"),
            credits=OuterRef(credits_field),
        )
    )


def packs_for_sale(*, in_step_with_stripe: bool) -> QuerySet[CreditPack]:
    """Active packs; with ``in_step_with_stripe`` only those Checkout can sell
    now (a pack edited and not yet pushed to Stripe is left out)."""
    packs = CreditPack.objects.filter(is_active=True)
    return packs.filter(_priced("credits")) if in_step_with_stripe else packs


def plans_for_sale(*, in_step_with_stripe: bool) -> QuerySet[Plan]:
    """Active plans; ``in_step_with_stripe`` as :func:`packs_for_sale`."""
    plans = Plan.objects.filter(is_active=True)
    return plans.filter(_priced("credits_per_period")) if in_step_with_stripe else plans


def purchases_for_user(*, user: User) -> QuerySet[Purchase]:
    return (
        Purchase.objects.filter(user=user)
        .select_related("pack", "plan")
        .prefetch_related(Prefetch("revocations", queryset=Revocation.objects.order_by("created_at")))
    )


@dataclass(frozen=True)
class SubscriptionInfo:
    """The user's plan as Stripe last told dj-stripe: ``renews_at`` is the
    end of the current period (dahlia moved it onto the subscription item;
    dj-stripe 2.11 still reads the old field, docs/stack.md §7)."""

    plan: Plan | None
    status: str
    renews_at: datetime | None
    cancel_at_period_end: bool


def subscription_for_user(*, user: User) -> SubscriptionInfo | None:
    from djstripe.models import Subscription

    sub = (
        Subscription.objects.filter(customer__subscriber=user, stripe_data__status__in=LIVE_SUBSCRIPTION_STATUSES)
        .order_by("-created")
        .first()
    )
    if sub is None:
        return None
    data = sub.stripe_data or {}
    items = (data.get("items") or {}).get("data") or [{}]
    price = items[0].get("price")
    price_id = price.get("id") if isinstance(price, dict) else price
    period_end = items[0].get("current_period_end") or data.get("current_period_end")
    return SubscriptionInfo(
        plan=Plan.objects.filter(stripe_price_id=price_id).first() if price_id else None,
        status=data.get("status", ""),
        renews_at=datetime.fromtimestamp(period_end, tz=UTC) if period_end else None,
        cancel_at_period_end=bool(data.get("cancel_at_period_end")),
    )


class InvoiceRow(TypedDict):
    """One invoice on the billing page; ``amount_paid`` in minor units of
    ``currency``, ``amount_major`` the same as text ("9.99")."""

    number: str
    created: datetime
    amount_paid: int
    amount_major: str
    currency: str
    status: str
    hosted_invoice_url: str


def invoices_for_user(*, user: User, limit: int = 24) -> list[InvoiceRow]:
    """The user's Stripe invoices as dj-stripe stored them, newest first."""
    from djstripe.models import Invoice

    rows: list[InvoiceRow] = []
    for inv in Invoice.objects.filter(customer__subscriber=user).order_by("-created")[:limit]:
        data = inv.stripe_data or {}
        rows.append(
            {
                "number": data.get("number") or inv.id,
                "created": inv.created,
                "amount_paid": data.get("amount_paid") or 0,
                "amount_major": f"{(data.get('amount_paid') or 0) / 100:.2f}",
                "currency": data.get("currency", ""),
                "status": data.get("status", ""),
                "hosted_invoice_url": data.get("hosted_invoice_url") or "",
            }
        )
    return rows


@dataclass(frozen=True)
class CheapestCredit:
    """The least anyone can pay for one credit: ``usd`` (USD, unrounded) in
    the pack or plan ``offering``."""

    usd: Decimal
    offering: CreditPack | Plan


def cheapest_credit() -> CheapestCredit | None:
    """The cheapest credit among the active packs and plans priced in USD
    (``price_amount`` cents / credits sold); ``None`` when none is. Two queries.
    Packs and plans in other currencies are left out: costs are in USD."""
    offerings: list[CreditPack | Plan] = [
        *CreditPack.objects.filter(is_active=True, currency="usd"),
        *Plan.objects.filter(is_active=True, currency="usd"),
    ]
    if not offerings:
        return None
    best = min(offerings, key=lambda o: Decimal(o.price_amount) / o.credits_sold)
    return CheapestCredit(usd=Decimal(best.price_amount) / 100 / best.credits_sold, offering=best)


@dataclass(frozen=True)
class ModelPrice:
    """A model on the Pricing page: ``price`` in credits per output with its
    default settings, ``settings`` those defaults of the options that change
    the price (option → value, display order), ``lowest`` / ``highest`` the
    cheapest and dearest price of one output over every offered setting;
    ``per_second`` a tool priced per second of the video it works on (the
    prices are then those of one second). Tools (``providers.tools``) are
    listed with the models of their service."""

    offer: Offer
    price: int
    settings: dict[str, str]
    lowest: int
    highest: int
    per_second: bool = False
    #: Characters the price is counted per (1,000 for speech), or None.
    per_chars: int | None = None


def model_prices() -> list[ModelPrice]:
    """The models and tools a visitor could use on this site now (active,
    their adapter configured: ``generation.services.offers_available`` and
    ``tools_available``), by
    service then catalogue order, with their prices. One query per service."""
    from generation.services import offers_available, tools_available
    from providers import pricing
    from providers.models import Service

    tools = tools_available()
    rows = []
    for service in Service:
        offers = [*offers_available(service=service), *(t for t in tools if t.service == service)]
        for offer in sorted(offers, key=lambda o: (o.sort_order, o.slug)):
            prices = [row.price_credits for row in pricing.price_table(offer) if not row.extend]
            defaults = pricing.settings_of(offer)
            price = offer.unit_price()
            rows.append(
                ModelPrice(
                    offer=offer,
                    price=price,
                    settings={name: defaults[name] for name in pricing.priced_params(offer)},
                    lowest=min(prices, default=price),
                    highest=max(prices, default=price),
                    per_second=pricing.per_source_second(offer),
                    per_chars=pricing.per_characters(offer),
                )
            )
    return rows
