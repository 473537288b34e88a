"""Demo stand-ins for issue 16's new capabilities, so the embedded default can
try them offline: an image model that edits with reference images, the
demo tools (upscale, remove the background) and first/last frame video.

Rows are written by slug (update_or_create), and the existing demo video row
only gets its ``inputs`` (and description) changed. Costs are nominal (the
demo calls no provider) in the ``options.cost`` form; prices follow from them.
"""

from django.db import migrations

IMAGE_RATIOS = ["1:1", "16:9", "9:16", "4:3", "3:4"]

OFFERS = [
    {
        "slug": "demo-image-edit",
        "service": "image",
        "adapter": "demo",
        "provider_model": "demo/image-edit",
        "name_en": "Demo editor",
        "name_ar": "المحرّر التجريبي",
        "description_en": (
            "Offline demo model: edits with your reference images (up to 4), laying them into a picture "
            "painted from your prompt. No provider is called."
        ),
        "description_ar": (
            "نموذج تجريبي يعمل دون اتصال: يحرّر بصورك المرجعية (حتى 4)، فيضعها في لوحة مرسومة من وصفك، "
            "دون استدعاء أي مزوّد."
        ),
        "options": {
            "params": {"aspect_ratio": {"choices": IMAGE_RATIOS, "default": "1:1"}},
            "constants": {"output_format": "png"},
            "max_outputs": 4,
            "prompt_max_length": 2000,
            "inputs": {"min": 1, "max": 4, "roles": ["reference"]},
            "cost": {"usd": "0.02"},
        },
        "sort_order": 25,
    },
    {
        "slug": "demo-upscale",
        "service": "image",
        "adapter": "demo",
        "provider_model": "demo/upscale",
        "name_en": "Demo upscaler",
        "name_ar": "المكبّر التجريبي",
        "description_en": (
            "Offline demo tool: enlarges an image ×2 or ×4 (Lanczos resampling, at most 4096 px on the long "
            "side). No provider is called."
        ),
        "description_ar": (
            "أداة تجريبية تعمل دون اتصال: تكبّر الصورة ×2 أو ×4 (إعادة تشكيل Lanczos، بحد أقصى 4096 بكسل "
            "للضلع الأطول)، دون استدعاء أي مزوّد."
        ),
        "options": {
            "params": {"factor": {"choices": ["2", "4"], "default": "2"}},
            "max_outputs": 1,
            "inputs": {"min": 1, "max": 1, "roles": ["source"]},
            "tool": {"action": "upscale", "source": "image"},
            "cost": {"usd": "0.02", "times": {"factor": {"4": "2"}}},
        },
        "sort_order": 90,
    },
    {
        "slug": "demo-remove-background",
        "service": "image",
        "adapter": "demo",
        "provider_model": "demo/remove-background",
        "name_en": "Demo background remover",
        "name_ar": "مزيل الخلفية التجريبي",
        "description_en": (
            "Offline demo tool: makes an image's background transparent (estimated from its edges) and "
            "returns a PNG. No provider is called."
        ),
        "description_ar": (
            "أداة تجريبية تعمل دون اتصال: تجعل خلفية الصورة شفافة (تُقدَّر من حوافها) وتعيدها بصيغة PNG، "
            "دون استدعاء أي مزوّد."
        ),
        "options": {
            "params": {},
            "max_outputs": 1,
            "inputs": {"min": 1, "max": 1, "roles": ["source"]},
            "tool": {"action": "remove_background", "source": "image"},
            "cost": {"usd": "0.01"},
        },
        "sort_order": 91,
    },
]

VIDEO_SLUG = "demo-video"
VIDEO_INPUTS = {"min": 0, "max": 2, "roles": ["first_frame", "last_frame"]}
VIDEO_DESCRIPTION = {
    "description_en": (
        "Offline demo model: animates your prompt into a short MP4, or moves from your first frame to your last frame."
    ),
    "description_ar": "نموذج تجريبي يعمل دون اتصال: يحوّل وصفك إلى مقطع MP4 قصير، أو ينتقل من إطارك الأول إلى إطارك الأخير.",
}
OLD_VIDEO_INPUTS = {"min": 0, "max": 1, "roles": ["first_frame"]}
OLD_VIDEO_DESCRIPTION = {
    "description_en": "Offline demo model: animates your prompt (or your first frame) into a short MP4.",
    "description_ar": "نموذج تجريبي يعمل دون اتصال: يحوّل وصفك (أو إطارك الأول) إلى مقطع MP4 قصير.",
}


def _video(apps, inputs, description):
    Offer = apps.get_model("providers", "Offer")
    video = Offer.objects.filter(slug=VIDEO_SLUG).first()
    if video is None:
        return
    video.options = {**(video.options or {}), "inputs": inputs}
    for field, text in description.items():
        setattr(video, field, text)
    video.description = description["description_en"]
    video.save()


def forward(apps, schema_editor):
    Offer = apps.get_model("providers", "Offer")
    for data in OFFERS:
        values = dict(data)
        values["name"] = values["name_en"]
        values["description"] = values["description_en"]
        Offer.objects.update_or_create(slug=values.pop("slug"), defaults=values)
    _video(apps, VIDEO_INPUTS, VIDEO_DESCRIPTION)


def backward(apps, schema_editor):
    apps.get_model("providers", "Offer").objects.filter(slug__in=[o["slug"] for o in OFFERS]).delete()
    _video(apps, OLD_VIDEO_INPUTS, OLD_VIDEO_DESCRIPTION)


class Migration(migrations.Migration):
    dependencies = [("providers", "0005_cost_rules")]
    operations = [migrations.RunPython(forward, backward)]
