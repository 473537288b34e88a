from modeltranslation.translator import TranslationOptions, register

from .models import CreditPack, Plan


@register(CreditPack)
class CreditPackTranslationOptions(TranslationOptions):
    fields = ("name", "description")
    required_languages = ("en",)


@register(Plan)
class PlanTranslationOptions(TranslationOptions):
    fields = ("name", "description")
    required_languages = ("en",)
