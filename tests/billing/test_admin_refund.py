"""Staff refund a purchase through Stripe from its admin page ("Refund via
Stripe"); the credits come back only through the charge.refunded webhook.

Every Stripe call goes to the stand-in over HTTP (tests/support/stripe)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import StaffAction
from billing.models import Purchase
from billing.services import checkout_start
from credits.models import Wallet
from tests.factories import UserFactory
from tests.support.accounts import with_totp

pytestmark = pytest.mark.django_db


@pytest.fixture
def purchase(alice, pack, stripe_env, post_event):
    """alice bought the 100-credit pack for 5.00 USD (500 cents); the webhook granted it."""
    checkout_start(user=alice, offering=pack, success_url="https://m.test/ok", cancel_url="https://m.test/no")
    session = stripe_env.complete_session(stripe_env.of_type("checkout.session")[-1]["id"])
    assert post_event(stripe_env.event("checkout.session.completed", session)).status_code == 200
    return Purchase.objects.get()


def _url(purchase):
    return reverse("admin:billing_purchase_refund", args=[purchase.pk])


def _token(page) -> str:
    return re.search(r'name="token" value="([^"]+)"', page.content.decode()).group(1)


def _refund(client, purchase, amount, *, token=None, reason="customer asked"):
    """The two posts staff make: the amount, then the confirmation. Returns the last response."""
    token = token or _token(client.get(_url(purchase)))
    data = {"amount": amount, "reason": reason, "token": token}
    confirm = client.post(_url(purchase), data)
    assert confirm.status_code == 200 and "confirmed" in confirm.content.decode(), confirm.content.decode()
    return client.post(_url(purchase), {**data, "confirmed": "yes"}, follow=True)


def _refund_posts(stripe_env):
    return stripe_env.requests_to("POST", "/v1/refunds")


def _balance(user) -> int:
    return Wallet.objects.get(user=user).balance


def test_the_form_offers_the_whole_remaining_amount_in_major_units(staff_client, purchase):
    page = staff_client.get(_url(purchase))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'name="amount" value="5.00"' in body and "Amount (USD)" in body
    assert "Up to 5.00 USD is left to refund." in body
    change = staff_client.get(reverse("admin:billing_purchase_change", args=[purchase.pk])).content.decode()
    assert _url(purchase) in change and "Refund via Stripe" in change


def test_a_full_refund_reaches_stripe_in_minor_units_with_an_idempotency_key(staff_client, staff, purchase, stripe_env):
    response = _refund(staff_client, purchase, "5.00")
    assert "Stripe refunded 5.00 USD" in response.content.decode()
    (post,) = _refund_posts(stripe_env)
    assert post.params["amount"] == "500" and post.params["payment_intent"] == purchase.payment_intent_id
    assert post.idempotency_key.startswith(f"mirsam-purchase-refund:{purchase.pk}:")
    refund = stripe_env.of_type("refund")[-1]
    assert refund["amount"] == 500 and stripe_env.get(refund["charge"])["refunded"] is True
    action = StaffAction.objects.get()
    assert (action.kind, action.actor, action.user, action.credits) == ("purchase_refund", staff, purchase.user, 0)
    assert action.reference == f"stripe:{refund['id']}" and "5.00 USD" in action.reason
    assert _balance(purchase.user) == 200  # credits come back with the webhook, not here


def test_a_partial_refund_sends_its_amount_and_the_webhook_takes_its_share(
    staff_client, purchase, stripe_env, post_event
):
    _refund(staff_client, purchase, "2.00")
    (post,) = _refund_posts(stripe_env)
    assert post.params["amount"] == "200"
    charge = stripe_env.get(stripe_env.of_type("refund")[-1]["charge"])
    assert (charge["amount_refunded"], charge["refunded"]) == (200, False)

    assert post_event(stripe_env.event("charge.refunded", charge)).status_code == 200
    assert _balance(purchase.user) == 200 - 40  # 40 % of the pack's 100 credits
    assert "Up to 3.00 USD is left" in staff_client.get(_url(purchase)).content.decode()


def test_a_full_refunds_webhook_takes_the_credits_back_as_before(staff_client, purchase, stripe_env, post_event):
    _refund(staff_client, purchase, "5.00")
    charge = stripe_env.get(stripe_env.of_type("refund")[-1]["charge"])
    assert post_event(stripe_env.event("charge.refunded", charge)).status_code == 200
    assert _balance(purchase.user) == 100
    assert purchase.revocations.get().credits_taken == 100


def test_the_same_form_posted_twice_is_one_refund(staff_client, purchase, stripe_env):
    token = _token(staff_client.get(_url(purchase)))
    _refund(staff_client, purchase, "1.50", token=token)
    again = _refund(staff_client, purchase, "1.50", token=token)
    assert "This refund was sent already" in again.content.decode()
    posts = _refund_posts(stripe_env)
    assert len(posts) == 2 and posts[0].idempotency_key == posts[1].idempotency_key
    assert len(stripe_env.of_type("refund")) == 1
    assert StaffAction.objects.count() == 1


def test_a_full_refund_posted_twice_is_one_refund(staff_client, purchase, stripe_env):
    token = _token(staff_client.get(_url(purchase)))
    _refund(staff_client, purchase, "5.00", token=token)
    again = staff_client.post(
        _url(purchase), {"amount": "5.00", "reason": "x", "token": token, "confirmed": "yes"}, follow=True
    )
    assert "At most 0.00 USD is left to refund." in again.content.decode()
    assert len(stripe_env.of_type("refund")) == 1 and StaffAction.objects.count() == 1


@pytest.mark.parametrize(
    ("amount", "message"), [("5.01", "At most 5.00 USD"), ("0", "above zero"), ("-1", "above zero")]
)
def test_an_amount_above_what_is_left_or_not_above_zero_is_refused_before_stripe(
    staff_client, purchase, stripe_env, amount, message
):
    token = _token(staff_client.get(_url(purchase)))
    for data in ({}, {"confirmed": "yes"}):
        page = staff_client.post(_url(purchase), {"amount": amount, "reason": "x", "token": token, **data})
        assert page.status_code == 200 and message in page.content.decode()
    assert _refund_posts(stripe_env) == [] and not StaffAction.objects.exists()


def test_a_refund_stripe_refuses_shows_stripes_words_and_records_nothing(staff_client, purchase, stripe_env):
    token = _token(staff_client.get(_url(purchase)))
    charge_id = stripe_env.get(purchase.payment_intent_id)["latest_charge"]
    stripe_env.dispute_charge(charge_id, status="needs_response")  # meanwhile, the customer disputes it
    response = _refund(staff_client, purchase, "5.00", token=token)
    body = response.content.decode()
    assert "Stripe refused the refund; nothing was refunded." in body and "charged back" in body
    assert _refund_posts(stripe_env)[0].status == 400
    assert stripe_env.of_type("refund") == [] and not StaffAction.objects.exists()
    assert 'name="token" value="' + token in body  # the same form, to try again


def test_stripe_not_answering_says_so_and_records_nothing(staff_client, purchase, stripe_env):
    token = _token(staff_client.get(_url(purchase)))
    data = {"amount": "5.00", "reason": "x", "token": token}
    assert staff_client.post(_url(purchase), data).status_code == 200
    stripe_env.drop("POST", "/v1/refunds")  # the network fails between the confirmation and the refund
    response = staff_client.post(_url(purchase), {**data, "confirmed": "yes"}, follow=True)
    body = response.content.decode()
    assert "Stripe did not answer" in body and 'name="token" value="' + token in body
    assert stripe_env.of_type("refund") == [] and not StaffAction.objects.exists()

    stripe_env.undrop()  # the same form again, once Stripe answers: one refund
    assert "Stripe refunded 5.00 USD" in _refund(staff_client, purchase, "5.00", token=token).content.decode()
    assert len(stripe_env.of_type("refund")) == 1 and StaffAction.objects.count() == 1


def test_a_staff_member_without_the_refund_permission_gets_403(purchase, stripe_env):
    clerk = with_totp(UserFactory(email="clerk@example.com", is_staff=True))
    clerk.user_permissions.add(Permission.objects.get(codename="view_purchase"))
    client = Client()
    client.force_login(clerk)
    assert client.get(reverse("admin:billing_purchase_change", args=[purchase.pk])).status_code == 200
    assert (
        _url(purchase) not in client.get(reverse("admin:billing_purchase_change", args=[purchase.pk])).content.decode()
    )
    assert client.get(_url(purchase)).status_code == 403
    assert client.post(_url(purchase), {"amount": "5.00", "reason": "x", "confirmed": "yes"}).status_code == 403
    assert _refund_posts(stripe_env) == []

    clerk.user_permissions.add(Permission.objects.get(codename="refund_purchase"))
    client.force_login(clerk)
    assert client.get(_url(purchase)).status_code == 200


def test_a_plan_period_is_refunded_through_its_invoices_payment(alice, plan, stripe_env, post_event, staff_client):
    checkout_start(user=alice, offering=plan, success_url="https://m.test/ok", cancel_url="https://m.test/no")
    session = stripe_env.complete_session(stripe_env.of_type("checkout.session")[-1]["id"])
    post_event(stripe_env.event("invoice.paid", stripe_env.get(session["invoice"])))
    purchase = Purchase.objects.get()
    assert purchase.payment_intent_id == ""
    _refund(staff_client, purchase, "12.00")
    (post,) = _refund_posts(stripe_env)
    assert post.params["amount"] == "1200" and post.params["payment_intent"].startswith("pi_")
    purchase.refresh_from_db()
    assert purchase.payment_intent_id == post.params["payment_intent"]


def test_stripe_requests_are_bounded_to_answer_before_a_web_request_times_out(settings):
    import stripe

    assert stripe.default_http_client._timeout == settings.STRIPE_TIMEOUT_SECONDS == 10.0
    assert stripe.max_network_retries == settings.STRIPE_MAX_NETWORK_RETRIES == 1
    assert settings.STRIPE_TIMEOUT_SECONDS * (1 + settings.STRIPE_MAX_NETWORK_RETRIES) < 30  # GUNICORN_TIMEOUT
