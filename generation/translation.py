from modeltranslation.translator import TranslationOptions, register

from .models import StylePreset


@register(StylePreset)
class StylePresetTranslationOptions(TranslationOptions):
    fields = ("name", "description")
    required_languages = ("en",)
