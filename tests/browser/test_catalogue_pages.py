"""Issue 16's kie.ai models on the studio pages (with a key set), in Debian's
Chromium, English and Arabic, on a phone and a desktop: the model's own
options with readable labels, its reference limit from the data, the live
price, and nothing wider than the screen."""

from __future__ import annotations

import pytest

from providers.models import Offer
from tests.factories import UserFactory
from tests.support.accounts import fund
from tests.support.browser import open_settings, sign_in
from tests.support.catalogue import install_seeded_catalogue

PREFIXES = [pytest.param("", id="english"), pytest.param("/ar", id="arabic")]
SIZES = [pytest.param((390, 844), id="phone"), pytest.param((1280, 900), id="desktop")]


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def _pick(page, service: str, slug: str) -> None:
    offer = Offer.objects.get(slug=slug)
    open_settings(page)  # folded in the phone's dock
    with page.expect_response(lambda r: "/options/" in r.url):
        page.select_option(f"#{service}-form select[name=offer]", str(offer.pk))
    page.wait_for_timeout(300)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("size", SIZES)
def test_the_new_models_show_their_own_options_and_price(page, live_server, settings, prefix, size):
    settings.KIE_API_KEY = "kie-browser-test"
    install_seeded_catalogue()
    user = UserFactory(email="catalogue@example.com", preferred_language="ar" if prefix else "en")
    fund(user, 500)
    page.set_viewport_size({"width": size[0], "height": size[1]})
    sign_in(page, live_server.url, user.email, "pass-word-123", prefix)

    page.goto(f"{live_server.url}{prefix}/video/")
    _pick(page, "video", "kling-3-0")
    shots = page.locator("select[name=multi_shot] option")
    assert shots.count() == 2
    labels = " ".join(shots.all_inner_texts())
    assert ("عدة لقطات" in labels) if prefix else ("Several shots, one per line" in labels)
    mode = " ".join(page.locator("select[name=mode] option").all_inner_texts())
    assert "1080p" in mode and "4K" in mode
    for option, value in (("mode", "4K"), ("duration", "5")):  # a duration picked on another model carries over
        with page.expect_response(lambda r: "/options/" in r.url):
            page.select_option(f"select[name={option}]", value)
        page.wait_for_timeout(300)
    price = page.locator(".price-box__price").inner_text()
    assert "66" in price  # 5 s at 4K: $1.675 → 66 credits
    assert _fits(page)

    page.goto(f"{live_server.url}{prefix}/image/")
    _pick(page, "image", "nano-banana-pro")
    assert page.locator("input[type=file][name=references]").count() == 1
    assert "8" in page.locator("#options").inner_text()  # up to 8 references, from the row
    assert _fits(page)
