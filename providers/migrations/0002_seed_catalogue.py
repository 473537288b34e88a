"""Seed the catalogue: the offline demo model and kie.ai's Nano Banana.

Option values from docs/kie.md §2.1 (google/nano-banana); provider cost
from §2.8 (pricing snapshot 2026-06-30). Staff edit all of it in the admin.
"""

from decimal import Decimal

from django.db import migrations

NANO_BANANA_RATIOS = ["1:1", "9:16", "16:9", "3:4", "4:3", "3:2", "2:3", "5:4", "4:5", "21:9"]

OFFERS = [
    {
        "slug": "demo-image",
        "service": "image",
        "adapter": "demo",
        "provider_model": "demo/image",
        "name_en": "Demo painter",
        "name_ar": "الرسّام التجريبي",
        "description_en": "Offline demo model: paints an abstract picture from your prompt. No provider is called.",
        "description_ar": "نموذج تجريبي يعمل دون اتصال: يرسم لوحة تجريدية من وصفك، دون استدعاء أي مزوّد.",
        "options": {"aspect_ratios": ["1:1", "16:9", "9:16", "4:3", "3:4"], "max_outputs": 4,
                    "prompt_max_length": 2000, "output_format": "png"},
        "price_credits": 1,
        "provider_cost_usd": Decimal("0"),
        "sort_order": 20,
    },
    {
        "slug": "nano-banana",
        "service": "image",
        "adapter": "kie",
        "provider_model": "google/nano-banana",
        "name_en": "Nano Banana",
        "name_ar": "نانو بنانا",
        "description_en": "Google's fast image model, through kie.ai. Sharp, detailed pictures from a prompt.",
        "description_ar": "نموذج الصور السريع من Google عبر kie.ai: صور حادة ومفصّلة من وصفك.",
        "options": {"aspect_ratios": NANO_BANANA_RATIOS, "max_outputs": 4, "prompt_max_length": 5000,
                    "output_format": "png"},
        "price_credits": 5,
        "provider_cost_usd": Decimal("0.0200"),
        "sort_order": 10,
    },
]


def seed(apps, schema_editor):
    Offer = apps.get_model("providers", "Offer")
    for data in OFFERS:
        values = dict(data)
        values["name"] = values["name_en"]
        values["description"] = values["description_en"]
        Offer.objects.update_or_create(slug=values.pop("slug"), defaults=values)


def unseed(apps, schema_editor):
    apps.get_model("providers", "Offer").objects.filter(slug__in=[o["slug"] for o in OFFERS]).delete()


class Migration(migrations.Migration):
    dependencies = [("providers", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
