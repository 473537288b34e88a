"""Options become per-parameter specs; seed the video and avatar models.

Allowed values from docs/kie.md §2.1 (Market: Kling 2.6, Wan 2.5,
nano-banana-edit), §2.2 (Veo 3.1) and §2.3 (Runway); provider costs from §2.8
(snapshot 2026-06-30). Prices in credits keep a margin over cost at about
$0.005 a credit; staff edit all of it in the admin.
"""

from decimal import Decimal

from django.db import migrations

VIDEO_RATIOS_VEO = ["16:9", "9:16"]
OFFERS = [
    {
        "slug": "demo-video", "service": "video", "adapter": "demo", "provider_model": "demo/video",
        "name_en": "Demo motion", "name_ar": "الحركة التجريبية",
        "description_en": "Offline demo model: animates your prompt (or your first frame) into a short MP4.",
        "description_ar": "نموذج تجريبي يعمل دون اتصال: يحوّل وصفك (أو إطارك الأول) إلى مقطع MP4 قصير.",
        "options": {"params": {"duration": {"choices": ["4", "6", "8"], "default": "4"},
                               "aspect_ratio": {"choices": ["16:9", "9:16", "1:1"], "default": "16:9"}},
                    "surcharges": {"duration": {"6": 1, "8": 2}}, "max_outputs": 1, "prompt_max_length": 2000,
                    "inputs": {"min": 0, "max": 1, "roles": ["first_frame"]}, "extend_price_credits": 2},
        "price_credits": 2, "provider_cost_usd": Decimal("0"), "sort_order": 90,
    },
    {
        "slug": "veo3-fast", "service": "video", "adapter": "kie", "provider_model": "veo3_fast",
        "name_en": "Veo 3.1 Fast", "name_ar": "Veo 3.1 السريع",
        "description_en": "Google's Veo 3.1, fast: cinematic clips up to 8 s with sound.",
        "description_ar": "Veo 3.1 من Google بالوضع السريع: مقاطع سينمائية حتى 8 ثوانٍ مع الصوت.",
        "options": {"params": {"aspect_ratio": {"choices": VIDEO_RATIOS_VEO, "default": "16:9"},
                               "duration": {"choices": ["4", "6", "8"], "default": "8"},
                               "resolution": {"choices": ["720p", "1080p"], "default": "720p"}},
                    "surcharges": {"resolution": {"1080p": 5}}, "max_outputs": 1, "prompt_max_length": 2000,
                    "inputs": {"min": 0, "max": 2, "roles": ["first_frame", "last_frame"]},
                    "extend_price_credits": 75},
        "price_credits": 75, "provider_cost_usd": Decimal("0.3000"), "sort_order": 10,
    },
    {
        "slug": "veo3-quality", "service": "video", "adapter": "kie", "provider_model": "veo3",
        "name_en": "Veo 3.1 Quality", "name_ar": "Veo 3.1 عالي الجودة",
        "description_en": "Google's Veo 3.1 at its best quality, with sound.",
        "description_ar": "Veo 3.1 من Google بأعلى جودة، مع الصوت.",
        "options": {"params": {"aspect_ratio": {"choices": VIDEO_RATIOS_VEO, "default": "16:9"},
                               "duration": {"choices": ["4", "6", "8"], "default": "8"},
                               "resolution": {"choices": ["720p", "1080p"], "default": "720p"}},
                    "surcharges": {"resolution": {"1080p": 5}}, "max_outputs": 1, "prompt_max_length": 2000,
                    "inputs": {"min": 0, "max": 2, "roles": ["first_frame", "last_frame"]},
                    "extend_price_credits": 300},
        "price_credits": 300, "provider_cost_usd": Decimal("1.2500"), "sort_order": 20,
    },
    {
        "slug": "runway", "service": "video", "adapter": "kie", "provider_model": "runway",
        "name_en": "Runway", "name_ar": "Runway",
        "description_en": "Runway's video model: 5 or 10 s clips, 720p or 1080p (1080p for 5 s).",
        "description_ar": "نموذج الفيديو من Runway: مقاطع من 5 أو 10 ثوانٍ بدقة 720p أو 1080p (1080p لمدة 5 ثوانٍ).",
        "options": {"params": {"duration": {"choices": ["5", "10"], "default": "5"},
                               "resolution": {"choices": ["720p", "1080p"], "default": "720p"},
                               "aspect_ratio": {"choices": ["16:9", "4:3", "1:1", "3:4", "9:16"], "default": "16:9"}},
                    "surcharges": {"duration": {"10": 20}, "resolution": {"1080p": 20}},
                    "forbid": [{"duration": "10", "resolution": "1080p"}],
                    "max_outputs": 1, "prompt_max_length": 1800,
                    "inputs": {"min": 0, "max": 1, "roles": ["first_frame"]}, "extend_price_credits": 20},
        "price_credits": 15, "provider_cost_usd": Decimal("0.0600"), "sort_order": 30,
    },
    {
        "slug": "kling-2-6", "service": "video", "adapter": "kie", "provider_model": "kling-2.6/text-to-video",
        "name_en": "Kling 2.6", "name_ar": "Kling 2.6",
        "description_en": "Kling 2.6: lively motion, optional sound, text or image to video.",
        "description_ar": "Kling 2.6: حركة حيوية، وصوت اختياري، من نص أو صورة إلى فيديو.",
        "options": {"params": {"duration": {"choices": ["5", "10"], "default": "5"},
                               "aspect_ratio": {"choices": ["16:9", "9:16", "1:1"], "default": "16:9"},
                               "sound": {"choices": ["off", "on"], "default": "off"}},
                    "surcharges": {"duration": {"10": 70}, "sound": {"on": 70}},
                    "max_outputs": 1, "prompt_max_length": 1000,
                    "inputs": {"min": 0, "max": 1, "roles": ["first_frame"]},
                    "provider_model_with_inputs": "kling-2.6/image-to-video"},
        "price_credits": 70, "provider_cost_usd": Decimal("0.2750"), "sort_order": 40,
    },
    {
        "slug": "wan-2-5", "service": "video", "adapter": "kie", "provider_model": "wan/2-5-text-to-video",
        "name_en": "Wan 2.5", "name_ar": "Wan 2.5",
        "description_en": "Wan 2.5: 720p or 1080p clips from text or an image.",
        "description_ar": "Wan 2.5: مقاطع بدقة 720p أو 1080p من نص أو صورة.",
        "options": {"params": {"duration": {"choices": ["5", "10"], "default": "5"},
                               "aspect_ratio": {"choices": ["16:9", "9:16", "1:1"], "default": "16:9"},
                               "resolution": {"choices": ["720p", "1080p"], "default": "720p"}},
                    "surcharges": {"duration": {"10": 75}, "resolution": {"1080p": 50}},
                    "max_outputs": 1, "prompt_max_length": 800,
                    "inputs": {"min": 0, "max": 1, "roles": ["first_frame"]},
                    "provider_model_with_inputs": "wan/2-5-image-to-video"},
        "price_credits": 75, "provider_cost_usd": Decimal("0.3000"), "sort_order": 50,
    },
    {
        "slug": "demo-avatar", "service": "avatar", "adapter": "demo", "provider_model": "demo/avatar",
        "name_en": "Demo stylist", "name_ar": "المصمّم التجريبي",
        "description_en": "Offline demo model: restyles your photo (cartoon, poster, duotone, sketch).",
        "description_ar": "نموذج تجريبي يعمل دون اتصال: يعيد تصميم صورتك (كرتون، ملصق، لونان، رسم).",
        "options": {"params": {}, "max_outputs": 4, "prompt_max_length": 2000,
                    "inputs": {"min": 1, "max": 3, "roles": ["photo"]}},
        "price_credits": 1, "provider_cost_usd": Decimal("0"), "sort_order": 90,
    },
    {
        "slug": "nano-banana-edit", "service": "avatar", "adapter": "kie", "provider_model": "google/nano-banana-edit",
        "name_en": "Nano Banana Edit", "name_ar": "نانو بنانا للتحرير",
        "description_en": "Google's image editor through kie.ai: portraits that keep your likeness.",
        "description_ar": "محرّر الصور من Google عبر kie.ai: صور شخصية تحافظ على ملامحك.",
        "options": {"params": {"aspect_ratio": {"choices": ["1:1", "3:4", "4:5", "9:16"], "default": "1:1"}},
                    "max_outputs": 4, "prompt_max_length": 5000, "output_format": "png",
                    "inputs": {"min": 1, "max": 3, "roles": ["photo"]}},
        "price_credits": 5, "provider_cost_usd": Decimal("0.0200"), "sort_order": 10,
    },
]


def forward(apps, schema_editor):
    Offer = apps.get_model("providers", "Offer")
    for offer in Offer.objects.all():
        options = dict(offer.options or {})
        ratios = options.pop("aspect_ratios", None)
        if ratios and "params" not in options:
            default = "1:1" if "1:1" in ratios else ratios[0]
            options["params"] = {"aspect_ratio": {"choices": ratios, "default": default}}
            offer.options = options
            offer.save(update_fields=["options"])
    for data in OFFERS:
        values = dict(data)
        values["name"] = values["name_en"]
        values["description"] = values["description_en"]
        Offer.objects.update_or_create(slug=values.pop("slug"), defaults=values)


def backward(apps, schema_editor):
    apps.get_model("providers", "Offer").objects.filter(slug__in=[o["slug"] for o in OFFERS]).delete()


class Migration(migrations.Migration):
    dependencies = [("providers", "0002_seed_catalogue")]
    operations = [migrations.RunPython(forward, backward)]
