"""The API's quote and the studio pages' live price (``studio_options``, the
price box) agree for every seeded model of the Image, Video and Audio pages,
for each value of each option (the others at their defaults), with one
output and with the most the model makes."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from generation import services
from generation.views import STUDIO_SERVICES
from tests.support.catalogue import install_seeded_catalogue

pytestmark = pytest.mark.django_db
PRICE = re.compile(r'class="price-box__price">(\d+) credit')
PROMPT = "a quiet harbour at dawn, gulls over the water"


@pytest.fixture
def seeded(settings):
    settings.KIE_API_KEY = "test-key"  # kie.ai's models are offered only with a key
    settings.KIE_CALLBACK_BASE_URL = "https://mirsam.example"  # and Suno only with a callback address
    settings.MIRSAM_API_RATE_REQUESTS = ""  # hundreds of quotes in a row
    install_seeded_catalogue()


def _page_price(client, offer, service: str, params: dict[str, str], outputs: int) -> int:
    data = {"offer": offer.pk, "prompt": PROMPT, "outputs": outputs, **params}
    if service == "audio":
        data["kind"] = offer.audio_kind
    html = client.get(reverse("studio_options", kwargs={"service": service}), data).content.decode()
    (price,) = PRICE.findall(html)
    return int(price)


def test_the_api_and_the_pages_quote_the_same_price(seeded, alice_client, alice_api):
    compared = 0
    for service in STUDIO_SERVICES:
        for offer in services.offers_available(service=service):
            defaults = {name: spec["default"] for name, spec in offer.param_specs.items()}
            option_sets = [defaults] + [
                {**defaults, name: value}
                for name, spec in offer.param_specs.items()
                for value in spec["choices"]
                if value != spec["default"]
            ]
            for params in option_sets:
                if offer.forbidden(params):
                    continue
                for outputs in sorted({1, offer.max_outputs}):
                    body = {"model": offer.slug, "prompt": PROMPT, "params": params, "outputs": outputs}
                    answer = alice_api.post("/api/v1/quote", body)
                    if answer.status_code == 422:
                        # A setting that needs a prompt of its own (Kling's multi-shot): refused, so no price.
                        assert answer.json()["error"]["code"] == "shots", (offer.slug, params)
                        continue
                    assert answer.status_code == 200, (offer.slug, params, answer.content)
                    page = _page_price(alice_client, offer, service, params, outputs)
                    assert answer.json()["price"] == page, (offer.slug, params, outputs)
                    compared += 1
    assert compared > 300  # every seeded studio model and option value (396 when written)
