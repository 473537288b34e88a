"""What each seeded Market model's ``input`` takes moves from code
(``MARKET_MODELS`` in the old ``providers/kie.py``) into its catalogue row:
``wire``/``as``/``without_inputs`` on params, ``constants``, and
``inputs.fields`` (docs/catalogue.md). Values from docs/kie.md §2.1."""

from django.db import migrations

WIRE = {
    "nano-banana": {"constants": {"output_format": "png"}},
    "nano-banana-edit": {"constants": {"output_format": "png"}, "fields": {"photo": "image_urls[]"}},
    "kling-2-6": {
        "params": {
            "duration": {"as": "seconds"},
            "sound": {"as": "bool"},
            "aspect_ratio": {"without_inputs": True},
        },
        "fields": {"first_frame": "image_urls[]"},
    },
    "wan-2-5": {
        "params": {"duration": {"as": "seconds"}, "aspect_ratio": {"without_inputs": True}},
        "fields": {"first_frame": "image_url"},
    },
}


def forward(apps, schema_editor):
    Offer = apps.get_model("providers", "Offer")
    for offer in Offer.objects.all():
        options = dict(offer.options or {})
        wire = WIRE.get(offer.slug, {})
        if "output_format" in options:
            options.setdefault("constants", {})["output_format"] = options.pop("output_format")
        options.setdefault("constants", {}).update(wire.get("constants", {}))
        if not options["constants"]:
            options.pop("constants")
        params = options.get("params") or {}
        for name, extra in (wire.get("params") or {}).items():
            if name in params:
                params[name] = {**params[name], **extra}
        if "fields" in wire:
            options["inputs"] = {**(options.get("inputs") or {}), "fields": wire["fields"]}
        offer.options = options
        offer.save(update_fields=["options"])


def backward(apps, schema_editor):
    Offer = apps.get_model("providers", "Offer")
    for offer in Offer.objects.all():
        options = dict(offer.options or {})
        constants = options.pop("constants", {})
        if "output_format" in constants:
            options["output_format"] = constants["output_format"]
        for spec in (options.get("params") or {}).values():
            for key in ("wire", "as", "without_inputs"):
                spec.pop(key, None)
        (options.get("inputs") or {}).pop("fields", None)
        offer.options = options
        offer.save(update_fields=["options"])


class Migration(migrations.Migration):
    dependencies = [("providers", "0006_demo_stand_ins")]
    operations = [migrations.RunPython(forward, backward)]
