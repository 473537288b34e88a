"""Checkout creation, the pricing page with and without Stripe, success page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing.models import CreditPack, Purchase, StripePrice
from credits.models import Wallet
from tests.support.billing import KEY

pytestmark = pytest.mark.django_db


def test_buying_a_pack_sends_checkout_exactly_what_stripe_needs(alice_client, alice, pack, stripe_env):
    response = alice_client.post(reverse("checkout_start", args=["pack", pack.slug]))

    (create,) = stripe_env.requests_to("POST", "/v1/checkout/sessions")
    session = stripe_env.of_type("checkout.session")[-1]
    assert response.status_code == 303 and response["Location"] == session["url"]
    p = create.params
    assert p["mode"] == "payment"
    assert p["customer"] == alice.djstripe_customers.get().id
    assert p["line_items"] == [{"price": pack.stripe_price_id, "quantity": "1"}]
    assert p["metadata"] == {
        "mirsam_user_id": str(alice.pk),
        "mirsam_pack": pack.slug,
        "mirsam_price": pack.stripe_price_id,  # what was sold, read back by the grant
        "mirsam_credits": "100",
    }
    assert p["payment_intent_data"] == {"metadata": p["metadata"]}
    assert p["client_reference_id"] == str(alice.pk)
    assert p["success_url"] == "http://testserver/pricing/success/?session_id={CHECKOUT_SESSION_ID}"
    assert p["cancel_url"] == "http://testserver/pricing/canceled/"
    assert create.headers["Authorization"] == f"Bearer {KEY}"


def test_a_plan_opens_a_subscription_checkout_with_urls_in_the_users_language(alice_client, alice, plan, stripe_env):
    alice_client.post(f"/ar/pricing/buy/plan/{plan.slug}/")
    (create,) = stripe_env.requests_to("POST", "/v1/checkout/sessions")
    p = create.params
    assert p["mode"] == "subscription"
    assert p["line_items"] == [{"price": plan.stripe_price_id, "quantity": "1"}]
    sold = {"mirsam_price": plan.stripe_price_id, "mirsam_credits": "300"}
    assert p["subscription_data"] == {"metadata": {"mirsam_user_id": str(alice.pk), "mirsam_plan": plan.slug, **sold}}
    assert p["success_url"].startswith("http://testserver/ar/pricing/success/")
    assert p["cancel_url"] == "http://testserver/ar/pricing/canceled/"


def test_the_customer_is_created_once_and_reused(alice_client, alice, pack, stripe_env):
    alice_client.post(reverse("checkout_start", args=["pack", pack.slug]))
    alice_client.post(reverse("checkout_start", args=["pack", pack.slug]))
    assert len(stripe_env.requests_to("POST", "/v1/customers")) == 1
    assert len(stripe_env.requests_to("POST", "/v1/checkout/sessions")) == 2


def test_a_stripe_error_is_a_clear_message_not_a_500(alice_client, pack, stripe_env):
    StripePrice.objects.filter(stripe_id=pack.stripe_price_id).update(stripe_id="price_missing")  # gone at Stripe
    CreditPack.objects.filter(pk=pack.pk).update(stripe_price_id="price_missing")
    response = alice_client.post(reverse("checkout_start", args=["pack", pack.slug]), follow=True)
    assert response.status_code == 200
    assert "could not open the payment page" in response.content.decode()


def test_unknown_kinds_and_inactive_packs_are_404(alice_client, pack, stripe_env):
    assert alice_client.post(reverse("checkout_start", args=["gift", pack.slug])).status_code == 404
    CreditPack.objects.filter(pk=pack.pk).update(is_active=False)
    assert alice_client.post(reverse("checkout_start", args=["pack", pack.slug])).status_code == 404


def test_without_stripe_keys_pricing_shows_packs_and_buying_explains(alice_client, settings):
    settings.STRIPE_TEST_SECRET_KEY = ""
    page = alice_client.get(reverse("pricing")).content.decode()
    assert "Starter" in page or CreditPack.objects.count() == 0
    assert "Payments are not configured yet" in page
    pack = CreditPack.objects.create(slug="p", name="Pack P", credits=10, price_amount=100)
    assert "Pack P" in alice_client.get(reverse("pricing")).content.decode()
    response = alice_client.post(reverse("checkout_start", args=["pack", pack.slug]), follow=True)
    assert response.status_code == 200
    assert "not configured" in response.content.decode()


def test_visitors_see_packs_and_are_asked_to_sign_up(client, pack):
    page = client.get(reverse("pricing")).content.decode()
    assert pack.name in page and reverse("account_signup") in page
    assert client.post(reverse("checkout_start", args=["pack", pack.slug])).status_code == 302


def test_the_success_page_waits_and_never_grants_by_itself(alice_client, alice, pack, stripe_env):
    alice_client.post(reverse("checkout_start", args=["pack", pack.slug]))
    session = stripe_env.of_type("checkout.session")[-1]
    stripe_env.complete_session(session["id"])
    page = alice_client.get(reverse("checkout_success"), {"session_id": session["id"]}).content.decode()
    assert reverse("checkout_status") in page  # polling
    assert Wallet.objects.get(user=alice).balance == 100  # only the fixture's credits
    assert not Purchase.objects.exists()


def test_the_success_status_shows_the_credits_once_the_webhook_granted_them(
    alice_client, alice, pack, stripe_env, post_event
):
    alice_client.post(reverse("checkout_start", args=["pack", pack.slug]))
    session = stripe_env.complete_session(stripe_env.of_type("checkout.session")[-1]["id"])
    assert post_event(stripe_env.event("checkout.session.completed", session)).status_code == 200
    response = alice_client.get(
        reverse("checkout_status"), {"session_id": session["id"]}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert "100 credits were added" in body
    assert "200" in body
    assert "balanceChanged" in response["HX-Trigger"]


def test_someone_elses_session_id_shows_nothing(charlie_client, alice_client, alice, pack, stripe_env, post_event):
    alice_client.post(reverse("checkout_start", args=["pack", pack.slug]))
    session = stripe_env.complete_session(stripe_env.of_type("checkout.session")[-1]["id"])
    post_event(stripe_env.event("checkout.session.completed", session))
    body = charlie_client.get(reverse("checkout_status"), {"session_id": session["id"]}).content.decode()
    assert "were added" not in body


def test_the_billing_page_lists_payments_and_the_plan_renewal(alice_client, alice, plan, stripe_env, post_event):
    alice_client.post(reverse("checkout_start", args=["plan", plan.slug]))
    session = stripe_env.complete_session(stripe_env.of_type("checkout.session")[-1]["id"])
    sub = stripe_env.get(session["subscription"])
    post_event(stripe_env.event("customer.subscription.created", sub))
    post_event(stripe_env.event("invoice.paid", stripe_env.get(session["invoice"])))
    page = alice_client.get(reverse("billing")).content.decode()
    assert "Test plan" in page and "+300" in page
    assert "Renews on" in page
    portal = alice_client.post(reverse("portal"))
    assert portal.status_code == 303 and "/p/session/" in portal["Location"]


def test_the_catalogue_command_creates_products_and_replaces_a_changed_price(stripe_env, pack):
    old_price = pack.stripe_price_id
    assert stripe_env.get(old_price)["unit_amount"] == 500
    pack.price_amount = 700
    pack.save()
    from django.core.management import call_command

    call_command("stripe_sync_catalogue")
    pack.refresh_from_db()
    assert pack.stripe_price_id != old_price
    assert stripe_env.get(pack.stripe_price_id)["unit_amount"] == 700
    assert stripe_env.get(old_price)["active"] is False
