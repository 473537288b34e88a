"""Seed the models creators come for (issue 16): Nano Banana Pro and 2, GPT
Image 2, Seedream 4.5 and Flux Kontext for images; Kling 3.0, Seedance 2 and 2
Fast, Hailuo 2.3 and Veo 3.1 Lite for video; 4K on Veo; and the tools that
work on a result: Topaz image and video upscale, Recraft background removal
and Veo's own 1080p/4K.

Inputs and allowed values spelled exactly as kie.ai's model pages write them
(docs/kie.md §2.1, §2.5, §2.9); costs in USD from kie.ai's price list of
2026-06-30 (§2.8, §2.9). Prices in credits follow from the costs.
"""

from django.db import migrations

IMAGE_RATIOS = ["1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9"]
VEO_MODELS = ["veo3-fast", "veo3-quality", "veo3-lite"]


def image(slug, provider_model, name_en, name_ar, description_en, description_ar, options, order, **extra):
    return {
        "slug": slug, "service": "image", "adapter": "kie", "provider_model": provider_model,
        "name_en": name_en, "name_ar": name_ar, "description_en": description_en,
        "description_ar": description_ar, "options": options, "sort_order": order, **extra,
    }


OFFERS = [
    image(
        "nano-banana-pro", "nano-banana-pro", "Nano Banana Pro", "نانو بنانا برو",
        "Google's best image model: sharp text, up to 4K, and up to 8 reference images to edit or combine.",
        "أفضل نموذج صور من Google: نص واضح، حتى دقة 4K، وحتى 8 صور مرجعية للتحرير أو الدمج.",
        {"params": {"aspect_ratio": {"choices": [*IMAGE_RATIOS, "4:5", "5:4", "auto"], "default": "1:1"},
                    "resolution": {"choices": ["1K", "2K", "4K"], "default": "1K"}},
         "constants": {"output_format": "png"}, "max_outputs": 4, "prompt_max_length": 10000,
         "inputs": {"min": 0, "max": 8, "roles": ["reference"], "fields": {"reference": "image_input[]"}},
         "cost": {"usd": "0.09", "by": {"resolution": {"4K": "0.12"}}}},
        11,
    ),
    image(
        "nano-banana-2", "nano-banana-2", "Nano Banana 2", "نانو بنانا 2",
        "Fast Google image model, 1K to 4K, with up to 14 reference images.",
        "نموذج صور سريع من Google، من 1K إلى 4K، مع حتى 14 صورة مرجعية.",
        {"params": {"aspect_ratio": {"choices": ["auto", *IMAGE_RATIOS, "4:5", "5:4", "1:4", "4:1"], "default": "auto"},
                    "resolution": {"choices": ["1K", "2K", "4K"], "default": "1K"}},
         "constants": {"output_format": "png"}, "max_outputs": 4, "prompt_max_length": 20000,
         "inputs": {"min": 0, "max": 14, "roles": ["reference"], "fields": {"reference": "image_input[]"}},
         "cost": {"usd": "0.04", "by": {"resolution": {"2K": "0.06", "4K": "0.09"}}}},
        12,
    ),
    image(
        "gpt-image-2", "gpt-image-2-text-to-image", "GPT Image 2", "GPT Image 2",
        "OpenAI's image model: precise prompts and text in images; add images to edit them.",
        "نموذج الصور من OpenAI: يلتزم بالوصف ويكتب النصوص في الصور؛ أضف صورًا لتحريرها.",
        {"params": {"aspect_ratio": {"choices": ["1:1", "3:2", "2:3", "4:3", "3:4", "16:9", "9:16", "21:9", "auto"],
                                     "default": "1:1"},
                    "resolution": {"choices": ["1K", "2K", "4K"], "default": "1K"}},
         # 027: "auto" (or no ratio) only at 1K, and 1:1 cannot be 4K.
         "forbid": [{"aspect_ratio": "auto", "resolution": "2K"}, {"aspect_ratio": "auto", "resolution": "4K"},
                    {"aspect_ratio": "1:1", "resolution": "4K"}],
         "max_outputs": 4, "prompt_max_length": 20000,
         "inputs": {"min": 0, "max": 16, "roles": ["reference"], "fields": {"reference": "input_urls[]"}},
         "provider_model_with_inputs": "gpt-image-2-image-to-image",
         "cost": {"usd": "0.03", "by": {"resolution": {"2K": "0.05", "4K": "0.08"}}}},
        13,
    ),
    image(
        "seedream-4-5", "seedream/4.5-text-to-image", "Seedream 4.5", "Seedream 4.5",
        "ByteDance's Seedream 4.5: 2K or 4K pictures; add up to 14 images to edit them.",
        "Seedream 4.5 من ByteDance: صور بدقة 2K أو 4K؛ أضف حتى 14 صورة لتحريرها.",
        {"params": {"aspect_ratio": {"choices": IMAGE_RATIOS, "default": "1:1"},
                    "quality": {"choices": ["basic", "high"], "default": "basic"}},
         "max_outputs": 4, "prompt_max_length": 3000,
         "inputs": {"min": 0, "max": 14, "roles": ["reference"], "fields": {"reference": "image_urls[]"}},
         "provider_model_with_inputs": "seedream/4.5-edit",
         "cost": {"usd": "0.0325"}},
        14,
    ),
    image(
        "flux-kontext-pro", "flux-kontext-pro", "Flux Kontext Pro", "Flux Kontext Pro",
        "Black Forest Labs' Flux Kontext: make or edit an image from one reference.",
        "Flux Kontext من Black Forest Labs: أنشئ صورة أو حرّرها من صورة مرجعية واحدة.",
        {"params": {"aspect_ratio": {"choices": ["1:1", "16:9", "9:16", "4:3", "3:4", "21:9"], "default": "1:1"}},
         "constants": {"output_format": "png"}, "max_outputs": 4, "prompt_max_length": 5000,
         "inputs": {"min": 0, "max": 1, "roles": ["reference"]},
         "cost": {"usd": "0.025"}},
        15,
    ),
    image(
        "flux-kontext-max", "flux-kontext-max", "Flux Kontext Max", "Flux Kontext Max",
        "Flux Kontext at its strongest: better typography and detail.",
        "Flux Kontext بأقوى إصداراته: خطوط وتفاصيل أدق.",
        {"params": {"aspect_ratio": {"choices": ["1:1", "16:9", "9:16", "4:3", "3:4", "21:9"], "default": "1:1"}},
         "constants": {"output_format": "png"}, "max_outputs": 4, "prompt_max_length": 5000,
         "inputs": {"min": 0, "max": 1, "roles": ["reference"]},
         "cost": {"usd": "0.05"}},
        16,
    ),
    {
        "slug": "kling-3-0", "service": "video", "adapter": "kie", "provider_model": "kling-3.0/video",
        "name_en": "Kling 3.0", "name_ar": "Kling 3.0",
        "description_en": "Kling 3.0: 3 to 15 s, 720p, 1080p or 4K, optional sound, first and last frame, "
        "and up to 5 shots in one clip (one per line).",
        "description_ar": "Kling 3.0: من 3 إلى 15 ثانية، بدقة 720p أو 1080p أو 4K، مع صوت اختياري وإطار أول وأخير، "
        "وحتى 5 لقطات في مقطع واحد (كل لقطة في سطر).",
        "options": {"params": {"duration": {"choices": [str(s) for s in range(3, 16)], "default": "5", "as": "seconds"},
                               "aspect_ratio": {"choices": ["16:9", "9:16", "1:1"], "default": "16:9"},
                               "mode": {"choices": ["std", "pro", "4K"], "default": "std"},
                               "sound": {"choices": ["off", "on"], "default": "off", "as": "bool"},
                               "multi_shot": {"choices": ["off", "on"], "default": "off", "send": False}},
                    "constants": {"multi_shots": False, "multi_prompt": [], "kling_elements": []},
                    # One shot per line: multi_prompt [{prompt ≤ 500 chars, duration 1–12 s}] ≤ 5 (§2.9).
                    "shots": {"param": "multi_shot", "flag": "multi_shots", "field": "multi_prompt", "max": 5,
                              "max_chars": 500, "min_seconds": 1, "max_seconds": 12},
                    "max_outputs": 1, "prompt_max_length": 2500,
                    "inputs": {"min": 0, "max": 2, "roles": ["first_frame", "last_frame"],
                               "fields": {"first_frame": "image_urls[]", "last_frame": "image_urls[]"}},
                    # Priced per second by resolution (std 720p, pro 1080p) and sound.
                    "cost": {"usd": "0.07", "per_second": "duration",
                             "by": {"mode|sound": {"std|on": "0.10", "pro|off": "0.09", "pro|on": "0.135",
                                                   "4K|off": "0.335", "4K|on": "0.335"}}}},
        "sort_order": 35,
    },
    {
        "slug": "seedance-2", "service": "video", "adapter": "kie", "provider_model": "bytedance/seedance-2",
        "name_en": "Seedance 2", "name_ar": "Seedance 2",
        "description_en": "ByteDance's Seedance 2: 4 to 15 s up to 4K with generated sound; first and last frame.",
        "description_ar": "Seedance 2 من ByteDance: من 4 إلى 15 ثانية حتى دقة 4K مع صوت مولَّد؛ إطار أول وأخير.",
        "options": {"params": {"duration": {"choices": [str(s) for s in range(4, 16)], "default": "5", "as": "int"},
                               "aspect_ratio": {"choices": ["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "adaptive"],
                                                "default": "16:9"},
                               "resolution": {"choices": ["480p", "720p", "1080p", "4k"], "default": "720p"},
                               "sound": {"choices": ["on", "off"], "default": "on", "as": "bool",
                                         "wire": "generate_audio"}},
                    "max_outputs": 1, "prompt_max_length": 20000,
                    "inputs": {"min": 0, "max": 2, "roles": ["first_frame", "last_frame"],
                               "fields": {"first_frame": "first_frame_url", "last_frame": "last_frame_url"}},
                    "cost": {"usd": "0.205", "per_second": "duration",
                             "by": {"resolution": {"480p": "0.095", "1080p": "0.51", "4k": "1.04"}}}},
        "sort_order": 36,
    },
    {
        "slug": "seedance-2-fast", "service": "video", "adapter": "kie", "provider_model": "bytedance/seedance-2-fast",
        "name_en": "Seedance 2 Fast", "name_ar": "Seedance 2 السريع",
        "description_en": "Seedance 2, faster and cheaper: 480p or 720p with generated sound.",
        "description_ar": "Seedance 2 بسرعة أكبر وتكلفة أقل: دقة 480p أو 720p مع صوت مولَّد.",
        "options": {"params": {"duration": {"choices": [str(s) for s in range(4, 16)], "default": "5", "as": "int"},
                               "aspect_ratio": {"choices": ["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "adaptive"],
                                                "default": "16:9"},
                               "resolution": {"choices": ["480p", "720p"], "default": "720p"},
                               "sound": {"choices": ["on", "off"], "default": "on", "as": "bool",
                                         "wire": "generate_audio"}},
                    "max_outputs": 1, "prompt_max_length": 20000,
                    "inputs": {"min": 0, "max": 2, "roles": ["first_frame", "last_frame"],
                               "fields": {"first_frame": "first_frame_url", "last_frame": "last_frame_url"}},
                    "cost": {"usd": "0.165", "per_second": "duration", "by": {"resolution": {"480p": "0.0775"}}}},
        "sort_order": 37,
    },
    {
        "slug": "hailuo-2-3", "service": "video", "adapter": "kie", "provider_model": "hailuo/2-3-image-to-video-standard",
        "name_en": "Hailuo 2.3", "name_ar": "Hailuo 2.3",
        "description_en": "MiniMax Hailuo 2.3: brings a still image to life, 6 or 10 s.",
        "description_ar": "Hailuo 2.3 من MiniMax: يحرّك صورة ثابتة لمدة 6 أو 10 ثوانٍ.",
        "options": {"params": {"duration": {"choices": ["6", "10"], "default": "6"},
                               "resolution": {"choices": ["768P", "1080P"], "default": "768P"}},
                    "forbid": [{"duration": "10", "resolution": "1080P"}],
                    "max_outputs": 1, "prompt_max_length": 5000,
                    "inputs": {"min": 1, "max": 1, "roles": ["first_frame"], "fields": {"first_frame": "image_url"}},
                    "cost": {"usd": "0.15", "by": {"duration|resolution": {"10|768P": "0.25", "6|1080P": "0.25"}}}},
        "sort_order": 38,
    },
    {
        "slug": "hailuo-2-3-pro", "service": "video", "adapter": "kie", "provider_model": "hailuo/2-3-image-to-video-pro",
        "name_en": "Hailuo 2.3 Pro", "name_ar": "Hailuo 2.3 الاحترافي",
        "description_en": "Hailuo 2.3 at its best quality: a still image to a 6 or 10 s clip.",
        "description_ar": "Hailuo 2.3 بأعلى جودة: من صورة ثابتة إلى مقطع من 6 أو 10 ثوانٍ.",
        "options": {"params": {"duration": {"choices": ["6", "10"], "default": "6"},
                               "resolution": {"choices": ["768P", "1080P"], "default": "768P"}},
                    "forbid": [{"duration": "10", "resolution": "1080P"}],
                    "max_outputs": 1, "prompt_max_length": 5000,
                    "inputs": {"min": 1, "max": 1, "roles": ["first_frame"], "fields": {"first_frame": "image_url"}},
                    "cost": {"usd": "0.225", "by": {"duration|resolution": {"10|768P": "0.45", "6|1080P": "0.40"}}}},
        "sort_order": 39,
    },
    {
        "slug": "veo3-lite", "service": "video", "adapter": "kie", "provider_model": "veo3_lite",
        "name_en": "Veo 3.1 Lite", "name_ar": "Veo 3.1 الخفيف",
        "description_en": "Google's Veo 3.1 at its lightest price: clips up to 8 s with sound.",
        "description_ar": "Veo 3.1 من Google بأخف سعر: مقاطع حتى 8 ثوانٍ مع الصوت.",
        "options": {"params": {"aspect_ratio": {"choices": ["16:9", "9:16"], "default": "16:9"},
                               "duration": {"choices": ["4", "6", "8"], "default": "8"},
                               "resolution": {"choices": ["720p", "1080p", "4k"], "default": "720p"}},
                    "max_outputs": 1, "prompt_max_length": 2000,
                    "inputs": {"min": 0, "max": 2, "roles": ["first_frame", "last_frame"]},
                    "cost": {"usd": "0.15", "by": {"resolution": {"1080p": "0.175", "4k": "0.75"}},
                             "extend_usd": "0.15"}},
        "sort_order": 5,
    },
    {
        "slug": "topaz-image-upscale", "service": "image", "adapter": "kie", "provider_model": "topaz/image-upscale",
        "name_en": "Topaz upscale", "name_ar": "تكبير Topaz",
        "description_en": "Topaz: a sharper image at twice or four times the size.",
        "description_ar": "Topaz: صورة أوضح بضعف الحجم أو أربعة أضعافه.",
        "options": {"params": {"factor": {"choices": ["2", "4"], "default": "2", "wire": "upscale_factor"}},
                    "prompt_field": "", "max_outputs": 1,
                    "inputs": {"min": 1, "max": 1, "roles": ["source"], "fields": {"source": "image_url"}},
                    "tool": {"action": "upscale", "source": "image"},
                    # Priced by output size (2K $0.05, 4K $0.10, 8K $0.20); our results are up to 2K,
                    # so ×2 is costed as 4K and ×4 as 8K.
                    "cost": {"usd": "0.10", "by": {"factor": {"4": "0.20"}}}},
        "sort_order": 80,
    },
    {
        "slug": "recraft-remove-background", "service": "image", "adapter": "kie",
        "provider_model": "recraft/remove-background",
        "name_en": "Recraft background removal", "name_ar": "إزالة الخلفية من Recraft",
        "description_en": "Recraft: the subject on a transparent background.",
        "description_ar": "Recraft: الموضوع على خلفية شفافة.",
        "options": {"params": {}, "prompt_field": "", "max_outputs": 1,
                    "inputs": {"min": 1, "max": 1, "roles": ["source"], "fields": {"source": "image"}},
                    "tool": {"action": "remove_background", "source": "image"},
                    "cost": {"usd": "0.005"}},
        "sort_order": 81,
    },
    {
        "slug": "topaz-video-upscale", "service": "video", "adapter": "kie", "provider_model": "topaz/video-upscale",
        "name_en": "Topaz video upscale", "name_ar": "تكبير الفيديو من Topaz",
        "description_en": "Topaz: a sharper video at twice or four times the size.",
        "description_ar": "Topaz: فيديو أوضح بضعف الحجم أو أربعة أضعافه.",
        "options": {"params": {"factor": {"choices": ["2", "4"], "default": "2", "wire": "upscale_factor"}},
                    "prompt_field": "", "max_outputs": 1,
                    "inputs": {"min": 1, "max": 1, "roles": ["source"], "fields": {"source": "video_url"}},
                    "tool": {"action": "upscale", "source": "video"},
                    # Per second of the source clip (its ``duration``, copied onto the job).
                    "cost": {"usd": "0.04", "per_second": "duration", "by": {"factor": {"4": "0.07"}}}},
        "sort_order": 82,
    },
    {
        "slug": "veo-upscale", "service": "video", "adapter": "kie", "provider_model": "veo/upscale",
        "name_en": "Veo 1080p / 4K", "name_ar": "Veo بدقة 1080p / 4K",
        "description_en": "Veo's own upscale of a Veo clip to 1080p or 4K (4K takes 5 to 10 minutes).",
        "description_ar": "تكبير Veo لمقاطعه إلى 1080p أو 4K (تستغرق 4K من 5 إلى 10 دقائق).",
        "options": {"params": {"resolution": {"choices": ["1080p", "4k"], "default": "1080p"}},
                    "prompt_field": "", "max_outputs": 1,
                    "inputs": {"min": 1, "max": 1, "roles": ["source"]},
                    "tool": {"action": "upscale", "source": "video", "models": VEO_MODELS},
                    "cost": {"usd": "0.025", "by": {"resolution": {"4k": "0.60"}}}},
        "sort_order": 83,
    },
]

#: 4K on the seeded Veo models (§2.2 ``resolution`` 4k; §2.8 Fast $0.90, Quality $1.85).
VEO_4K = {"veo3-fast": "0.90", "veo3-quality": "1.85"}


def forward(apps, schema_editor):
    Offer = apps.get_model("providers", "Offer")
    for data in OFFERS:
        values = dict(data)
        values["name"] = values["name_en"]
        values["description"] = values["description_en"]
        Offer.objects.update_or_create(slug=values.pop("slug"), defaults=values)
    for slug, usd in VEO_4K.items():
        offer = Offer.objects.filter(slug=slug).first()
        if offer is None:
            continue
        options = dict(offer.options)
        resolution = options["params"]["resolution"]
        if "4k" not in resolution["choices"]:
            resolution["choices"] = [*resolution["choices"], "4k"]
        cost = options.setdefault("cost", {})
        cost.setdefault("by", {}).setdefault("resolution", {})["4k"] = usd
        offer.options = options
        offer.save(update_fields=["options"])


def backward(apps, schema_editor):
    Offer = apps.get_model("providers", "Offer")
    Offer.objects.filter(slug__in=[o["slug"] for o in OFFERS]).delete()
    for slug in VEO_4K:
        offer = Offer.objects.filter(slug=slug).first()
        if offer is None:
            continue
        options = dict(offer.options)
        resolution = options["params"]["resolution"]
        resolution["choices"] = [c for c in resolution["choices"] if c != "4k"]
        ((options.get("cost") or {}).get("by") or {}).get("resolution", {}).pop("4k", None)
        offer.options = options
        offer.save(update_fields=["options"])


class Migration(migrations.Migration):
    dependencies = [("providers", "0007_market_wire")]
    operations = [migrations.RunPython(forward, backward)]
