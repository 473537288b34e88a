from modeltranslation.translator import TranslationOptions, register

from .models import ShowcaseItem, StylePreset


@register(StylePreset)
class StylePresetTranslationOptions(TranslationOptions):
    fields = ("name", "description")
    required_languages = ("en",)


@register(ShowcaseItem)
class ShowcaseItemTranslationOptions(TranslationOptions):
    fields = ("caption",)
