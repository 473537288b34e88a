from modeltranslation.translator import TranslationOptions, register

from .models import Offer


@register(Offer)
class OfferTranslationOptions(TranslationOptions):
    fields = ("name", "description")
    required_languages = ("en",)
