"""Starting packs and plans; staff edit them in the admin and push them to
Stripe with ``manage.py stripe_sync_catalogue``. Prices in USD cents."""

from django.db import migrations

PACKS = [
    ("starter", "Starter", "باقة البداية", "A first pack to try every model.", "باقة أولى لتجربة كل النماذج.", 100, 500, 10),
    ("creator", "Creator", "باقة المبدع", "For regular creators: the best value per credit.", "للمبدعين المنتظمين: أفضل قيمة لكل رصيد.", 500, 2000, 20),
    ("studio", "Studio", "باقة الاستوديو", "For teams and big projects.", "للفرق والمشاريع الكبيرة.", 1500, 5000, 30),
]
PLANS = [
    ("basic-monthly", "Basic", "الأساسية", "300 credits every month.", "300 رصيد كل شهر.", 300, 1200, 10),
    ("pro-monthly", "Pro", "الاحترافية", "1,000 credits every month, for daily work.", "1000 رصيد كل شهر للعمل اليومي.", 1000, 3500, 20),
]


def seed(apps, schema_editor):
    CreditPack = apps.get_model("billing", "CreditPack")
    Plan = apps.get_model("billing", "Plan")
    for slug, en, ar, den, dar, credits, cents, order in PACKS:
        CreditPack.objects.update_or_create(slug=slug, defaults={
            "name": en, "name_en": en, "name_ar": ar, "description": den, "description_en": den,
            "description_ar": dar, "credits": credits, "price_amount": cents, "currency": "usd", "sort_order": order})
    for slug, en, ar, den, dar, credits, cents, order in PLANS:
        Plan.objects.update_or_create(slug=slug, defaults={
            "name": en, "name_en": en, "name_ar": ar, "description": den, "description_en": den,
            "description_ar": dar, "credits_per_period": credits, "price_amount": cents, "currency": "usd",
            "sort_order": order})


def unseed(apps, schema_editor):
    apps.get_model("billing", "CreditPack").objects.filter(slug__in=[p[0] for p in PACKS]).delete()
    apps.get_model("billing", "Plan").objects.filter(slug__in=[p[0] for p in PLANS]).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
