"""Buying credits in the browser: pricing → Buy → (stand-in) Stripe Checkout →
back on the success page, which updates itself once the signed webhook lands."""

from __future__ import annotations

import re

import pytest

from credits.models import Wallet
from tests.factories import UserFactory
from tests.support.accounts import fund
from tests.support.browser import sign_in


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_buying_a_pack_leads_to_checkout_and_the_success_page_shows_the_new_balance(
    page,
    live_server,
    stripe_env,
    pack,
    post_event,
):
    user = UserFactory(email="buyer@example.com")
    fund(user, 10)
    sign_in(page, live_server.url, "buyer@example.com", "pass-word-123")

    page.goto(f"{live_server.url}/pricing/")
    page.locator(f"form[action$='/pricing/buy/pack/{pack.slug}/'] button").click()
    page.wait_for_url(re.compile(re.escape(stripe_env.url) + r"/c/pay/cs_"))
    assert page.locator("h1").inner_text() == "Stand-in Checkout"

    page.click("#pay")  # the stand-in completes the session and redirects to our success URL
    page.wait_for_url(re.compile(r".*/pricing/success/\?session_id=cs_"))
    assert "Waiting for Stripe" in page.locator("#checkout-status").inner_text()
    assert Wallet.objects.get(user=user).balance == 10  # the redirect granted nothing

    session = stripe_env.of_type("checkout.session")[-1]
    assert post_event(stripe_env.event("checkout.session.completed", session)).status_code == 200
    page.wait_for_function("document.querySelector('#checkout-status').innerText.includes('110')")
    assert "100 credits were added" in page.locator("#checkout-status").inner_text()
    page.wait_for_function("document.querySelector('#balance').innerText.includes('110')")


SHOTS = None  # set to a directory (e.g. "/tmp/shots") to keep screenshots while working on these pages


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("prefix", ["", "/ar"])
def test_the_pricing_page_fits_phone_and_desktop_in_both_languages(page, live_server, settings, width, prefix):
    from tests.support.catalogue import install_seeded_catalogue

    install_seeded_catalogue()
    settings.KIE_API_KEY = "kie-test-key"  # every seeded model is offered
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{live_server.url}{prefix}/pricing/")
    assert page.evaluate("document.documentElement.dir") == ("rtl" if prefix else "ltr")
    from billing.selectors import model_prices

    rows = page.locator("section[aria-labelledby=models-title] .table-wrap tbody tr:not(.table-group)")
    assert rows.count() == len(model_prices()) > 20
    screen = page.evaluate("document.documentElement.clientWidth")
    widest = page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/pricing-{width}{prefix.replace('/', '-') or '-en'}.png", full_page=True)
    assert widest <= screen, f"{widest}px wide on a {screen}px screen"
    table = page.locator("section[aria-labelledby=models-title] .table-wrap")
    assert table.evaluate("el => el.scrollWidth <= el.clientWidth"), "the price table scrolls sideways"
