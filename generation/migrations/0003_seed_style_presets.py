"""Avatar styles; staff edit names (both languages) and prompts in the admin."""

from django.db import migrations

PRESETS = [
    ("cartoon-hero", "Cartoon hero", "بطل كرتوني", "Bold outlines, bright flat colours.", "خطوط جريئة وألوان زاهية مسطّحة.",
     "Turn the person in the photo into a bold cartoon hero: clean ink outlines, bright flat colours, "
     "a confident pose, keep their face recognisable. {details}", "cartoon", 10),
    ("pop-poster", "Pop poster", "ملصق بوب", "A vivid screen-printed poster.", "ملصق نابض بالألوان بأسلوب الطباعة الحريرية.",
     "Make a vivid pop-art poster portrait of the person in the photo, few strong colours, halftone texture, "
     "keep their likeness. {details}", "posterise", 20),
    ("film-noir", "Film noir", "فيلم نوار", "Moody two-tone cinema still.", "لقطة سينمائية غامضة بلونين.",
     "A moody film-noir portrait of the person in the photo, dramatic two-tone lighting, cinematic grain, "
     "keep their likeness. {details}", "duotone", 30),
    ("pencil-sketch", "Pencil sketch", "رسم بالرصاص", "A hand-drawn graphite study.", "دراسة مرسومة يدويًا بالرصاص.",
     "A detailed graphite pencil sketch portrait of the person in the photo on textured paper, "
     "keep their likeness. {details}", "sketch", 40),
]


def seed(apps, schema_editor):
    StylePreset = apps.get_model("generation", "StylePreset")
    for slug, en, ar, den, dar, prompt, demo, order in PRESETS:
        StylePreset.objects.update_or_create(slug=slug, defaults={
            "name": en, "name_en": en, "name_ar": ar, "description": den, "description_en": den,
            "description_ar": dar, "prompt_template": prompt, "demo_style": demo, "sort_order": order})


def unseed(apps, schema_editor):
    apps.get_model("generation", "StylePreset").objects.filter(slug__in=[p[0] for p in PRESETS]).delete()


class Migration(migrations.Migration):
    dependencies = [("generation", "0002_stylepreset_asset_poster_upload_jobinput_consent")]
    operations = [migrations.RunPython(seed, unseed)]
