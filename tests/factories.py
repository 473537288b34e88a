from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from accounts.models import User
from generation.models import StylePreset
from providers.models import Offer


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class OfferFactory(DjangoModelFactory):
    class Meta:
        # No get_or_create: a slug that clashes with the seeded catalogue must
        # fail loudly, not quietly reuse the seeded model and its price.
        model = Offer

    slug = factory.Sequence(lambda n: f"offer-{n}")
    service = "image"
    adapter = "demo"
    provider_model = "demo/image"
    name = factory.Sequence(lambda n: f"Offer {n}")
    options = factory.LazyFunction(
        lambda: {
            "params": {"aspect_ratio": {"choices": ["1:1", "16:9"], "default": "1:1"}},
            "max_outputs": 4,
            "prompt_max_length": 500,
        }
    )
    price_credits = 2


class StylePresetFactory(DjangoModelFactory):
    """An avatar style of the test's own (the seeded ones may be gone from a
    reused test database: transactional tests flush it at teardown)."""

    class Meta:
        model = StylePreset

    slug = factory.Sequence(lambda n: f"style-{n}")
    name = factory.Sequence(lambda n: f"Style {n}")
    prompt_template = "A portrait of the person. {details}"
    demo_style = "cartoon"
