"""The Pricing page lists the models a visitor could use here (issue 16,
part 9): kie.ai's only when a key is set, each at its usual settings' price."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import OfferFactory
from tests.support.catalogue import seeded_rows


def seeded_options(slug: str) -> dict:
    return next(f for f in seeded_rows()["providers.offer"] if f["slug"] == slug)["options"]


@pytest.fixture
def models(db):
    return {
        "kling": OfferFactory(
            slug="t-kling",
            service="video",
            adapter="kie",
            name="Kling for the test",
            price_credits=None,
            options=seeded_options("kling-2-6"),
        ),
        "demo": OfferFactory(
            slug="t-demo",
            adapter="demo",
            name="Demo for the test",
            price_credits=None,
            options={"cost": {"usd": "0.02"}},
        ),
        "retired": OfferFactory(slug="t-retired", adapter="demo", name="Retired for the test", is_active=False),
    }


def test_kie_models_are_listed_only_when_a_key_is_set(client, models, settings):
    settings.KIE_API_KEY = ""
    body = client.get(reverse("pricing")).content.decode()
    assert "Demo for the test" in body
    assert "Kling for the test" not in body and "Retired for the test" not in body

    settings.KIE_API_KEY = "kie-test-key"
    body = client.get(reverse("pricing")).content.decode()
    assert "Kling for the test" in body and "Demo for the test" in body
    assert "Retired for the test" not in body


def test_a_model_shows_the_price_of_its_usual_settings_and_how_far_other_settings_go(client, models, settings):
    settings.KIE_API_KEY = "kie-test-key"
    page = client.get(reverse("pricing"))
    (kling,) = [m for m in page.context["models"] if m["price"].offer.slug == "t-kling"]
    assert (kling["price"].price, kling["price"].lowest, kling["price"].highest) == (11, 11, 43)
    # In the options' order, which PostgreSQL's jsonb does not keep: either way round.
    assert kling["settings"] in {"5 seconds · Silent", "Silent · 5 seconds"}
    body = page.content.decode()
    assert kling["settings"] in body and "up to 43 credits with other settings" in body
    (demo,) = [m for m in page.context["models"] if m["price"].offer.slug == "t-demo"]
    assert (demo["price"].price, demo["settings"]) == (1, "")


def test_an_override_is_the_price_shown(client, models, settings):
    settings.KIE_API_KEY = "kie-test-key"
    models["kling"].price_credits = 15
    models["kling"].save()
    (kling,) = [m for m in client.get(reverse("pricing")).context["models"] if m["price"].offer.slug == "t-kling"]
    assert (kling["price"].price, kling["price"].highest) == (15, 60)


def test_the_arabic_pricing_page_names_the_settings_in_arabic(client, models, settings):
    settings.KIE_API_KEY = "kie-test-key"
    body = client.get("/ar" + reverse("pricing")).content.decode()
    assert 'dir="rtl"' in body
    assert "حتى 43 رصيدًا بإعدادات أخرى" in body


def test_tools_are_listed_with_their_service_and_a_video_tool_per_second(client, db, settings):
    settings.KIE_API_KEY = "kie-test-key"
    OfferFactory(
        slug="t-video-upscale",
        service="video",
        adapter="kie",
        name="Video upscaler for the test",
        price_credits=None,
        options=seeded_options("topaz-video-upscale"),
    )
    OfferFactory(
        slug="t-image-upscale",
        adapter="kie",
        name="Image upscaler for the test",
        price_credits=None,
        options=seeded_options("topaz-image-upscale"),
    )

    page = client.get(reverse("pricing"))

    rows = {m["price"].offer.slug: m["price"] for m in page.context["models"]}
    video, image = rows["t-video-upscale"], rows["t-image-upscale"]
    assert (video.offer.service, video.per_second, video.price) == ("video", True, 2)  # $0.04 a second
    assert (image.per_second, image.price, image.highest) == (False, 4, 8)  # ×2 $0.10, ×4 $0.20
    assert "per second" in page.content.decode()
