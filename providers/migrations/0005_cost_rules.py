"""Prices follow from costs (issue 16, part 6).

Every seeded model gets ``options["cost"]`` from kie.ai's price list
(shared/kie/API.md §2.8, snapshot 2026-06-30), loses ``surcharges`` and
``extend_price_credits`` (credits) and gets ``price_credits = NULL``, so its
prices are derived (``providers.pricing``); ``provider_cost_usd`` goes.

Veo 3.1 is priced per clip (720p / 1080p / 4K), its extend per §2.8
"extend" (Fast $0.30, Quality $1.25). Runway's extend is sent at the
parent's quality and the price list names no separate price: it is priced
as its dearest generate ($0.15), so no extend sells below cost. The demo
models cost us nothing; they get the cost of the real model they stand in
for (Nano Banana, Nano Banana Edit, about Kling 2.6's $0.055 a second), so
their prices look like real ones.

A model staff added (not seeded) keeps its price as an override:
``cost.usd`` is its old ``provider_cost_usd``, each surcharge becomes the
multiplier that gives back that price, and the extend price an
``extend_usd`` that scales back to it (one that cost nothing keeps one
flat price: there is no cost to scale by).
"""

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import django.core.validators
from django.db import migrations, models

COSTS = {
    "demo-image": {"usd": "0.02"},
    "nano-banana": {"usd": "0.02"},
    "demo-video": {"usd": "0.05", "per_second": "duration", "extend_usd": "0.20"},
    "veo3-fast": {"usd": "0.30", "by": {"resolution": {"1080p": "0.325", "4k": "0.90"}}, "extend_usd": "0.30"},
    "veo3-quality": {"usd": "1.25", "by": {"resolution": {"1080p": "1.275", "4k": "1.85"}}, "extend_usd": "1.25"},
    "runway": {"usd": "0.06", "by": {"resolution": {"1080p": "0.15"}}, "times": {"duration": {"10": "2.5"}},
               "extend_usd": "0.15"},
    "kling-2-6": {"usd": "0.275", "times": {"sound": {"on": "2"}, "duration": {"10": "2"}}},
    "wan-2-5": {"usd": "0.30", "by": {"resolution": {"1080p": "0.50"}}, "times": {"duration": {"10": "2"}}},
    "demo-avatar": {"usd": "0.02"},
    "nano-banana-edit": {"usd": "0.02"},
}

# What 0002/0003 seeded, for going back: (price_credits, provider_cost_usd, surcharges, extend_price_credits).
SEEDED = {
    "demo-image": (1, "0", None, None),
    "nano-banana": (5, "0.0200", None, None),
    "demo-video": (2, "0", {"duration": {"6": 1, "8": 2}}, 2),
    "veo3-fast": (75, "0.3000", {"resolution": {"1080p": 5}}, 75),
    "veo3-quality": (300, "1.2500", {"resolution": {"1080p": 5}}, 300),
    "runway": (15, "0.0600", {"duration": {"10": 20}, "resolution": {"1080p": 20}}, 20),
    "kling-2-6": (70, "0.2750", {"duration": {"10": 70}, "sound": {"on": 70}}, None),
    "wan-2-5": (75, "0.3000", {"duration": {"10": 75}, "resolution": {"1080p": 50}}, None),
    "demo-avatar": (1, "0", None, None),
    "nano-banana-edit": (5, "0.0200", None, None),
}


def _text(value):
    return format(value.normalize(), "f")


def _down(value):
    # Rounded down to 6 places, so that the price scaled back is never above the old one.
    return _text(value.quantize(Decimal("0.000001"), rounding=ROUND_FLOOR))


def _cost_of_unseeded(offer, options):
    """The old flat price as an override; surcharges as multipliers of it."""
    cost = Decimal(offer.provider_cost_usd or 0)
    price = offer.price_credits or 1
    rule = {"usd": _text(cost)}
    times = {}
    for name, table in (options.get("surcharges") or {}).items():
        times[name] = {str(v): _down((Decimal(price) + int(extra)) / price) for v, extra in (table or {}).items()}
    if times:
        rule["times"] = times
    if options.get("extend_price_credits"):
        rule["extend_usd"] = _down(cost * int(options["extend_price_credits"]) / price)
    return rule


def forward(apps, schema_editor):
    Offer = apps.get_model("providers", "Offer")
    for offer in Offer.objects.all():
        options = dict(offer.options or {})
        if offer.slug in COSTS:
            options["cost"] = COSTS[offer.slug]
            offer.price_credits = None
        elif "cost" not in options:
            options["cost"] = _cost_of_unseeded(offer, options)
        options.pop("surcharges", None)
        options.pop("extend_price_credits", None)
        offer.options = options
        offer.save(update_fields=["options", "price_credits", "updated_at"])


def backward(apps, schema_editor):
    Offer = apps.get_model("providers", "Offer")
    for offer in Offer.objects.all():
        options = dict(offer.options or {})
        rule = options.pop("cost", None) or {}
        if offer.slug in SEEDED:
            price, cost, surcharges, extend = SEEDED[offer.slug]
            offer.price_credits, offer.provider_cost_usd = price, Decimal(cost)
            if surcharges:
                options["surcharges"] = surcharges
            if extend:
                options["extend_price_credits"] = extend
        else:
            offer.provider_cost_usd = Decimal(str(rule.get("usd", 0)))
            if offer.price_credits is None:  # derived at the defaults' margin and credit value
                derived = offer.provider_cost_usd * Decimal("1.30") / Decimal("0.0333")
                offer.price_credits = max(1, int(derived.to_integral_value(rounding=ROUND_CEILING)))
        offer.options = options
        offer.save(update_fields=["options", "price_credits", "provider_cost_usd", "updated_at"])


class Migration(migrations.Migration):
    dependencies = [("providers", "0004_offer_updated_at")]

    operations = [
        migrations.AlterField(
            model_name="offer",
            name="price_credits",
            field=models.PositiveIntegerField(
                blank=True,
                help_text=(
                    "Empty: the price follows from the cost in the options (cost × (1 + margin) ÷ the value of a"
                    " credit, rounded up to a whole credit). Set: the price of the default settings; other settings"
                    " and the extend scale with their cost. The table of prices shows the margin each one leaves."
                ),
                null=True,
                validators=[django.core.validators.MinValueValidator(1)],
                verbose_name="price override (credits per output)",
            ),
        ),
        migrations.RunPython(forward, backward),
        migrations.RemoveField(model_name="offer", name="provider_cost_usd"),
    ]
