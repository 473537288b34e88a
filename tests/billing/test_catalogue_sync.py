"""The catalogue and Stripe in step (issue 15, findings 1, 2 and 8's first
part): an edit in the admin reaches Stripe as a new Price, Checkout sells and
the grant gives what the Price sold, an offering not in step is not for sale,
and a paid session that matches nothing goes to staff instead of a log line."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from billing.models import CreditPack, PaymentIssue, Plan, Purchase, StripePrice
from billing.services import checkout_start, checkouts_reconcile, offering_sync_to_stripe
from credits.models import Wallet

pytestmark = pytest.mark.django_db


def _balance(user) -> int:
    return Wallet.objects.get(user=user).balance


def _edit_pack(staff_client, pack, **changes):
    """Save the pack through its admin form, as staff do."""
    data = {
        "slug": pack.slug,
        "name_en": pack.name_en or pack.name,
        "name_ar": "",
        "description_en": "",
        "description_ar": "",
        "price_amount": pack.price_amount,
        "currency": pack.currency,
        "credits": pack.credits,
        "is_active": "on",
        "sort_order": 0,
        **changes,
    }
    response = staff_client.post(reverse("admin:billing_creditpack_change", args=[pack.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors


def _open_session(stripe_env, user, offering) -> dict:
    checkout_start(user=user, offering=offering, success_url="https://m.test/ok", cancel_url="https://m.test/no")
    return stripe_env.of_type("checkout.session")[-1]


def test_a_price_edit_in_the_admin_reaches_stripe_and_checkout_charges_it(
    staff_client, alice, pack, stripe_env, post_event, django_capture_on_commit_callbacks
):
    old_price = pack.stripe_price_id
    with django_capture_on_commit_callbacks(execute=True):
        _edit_pack(staff_client, pack, price_amount=700, credits=150)
    pack.refresh_from_db()

    assert pack.stripe_price_id != old_price
    new = stripe_env.get(pack.stripe_price_id)
    assert (new["unit_amount"], new["currency"], new["metadata"]["mirsam_credits"]) == (700, "usd", "150")
    assert stripe_env.get(old_price)["active"] is False
    assert StripePrice.objects.get(stripe_id=old_price).archived_at is not None
    assert StripePrice.objects.get(stripe_id=pack.stripe_price_id).credits == 150
    assert "In step: for sale" in staff_client.get(reverse("admin:billing_creditpack_changelist")).content.decode()

    session = stripe_env.complete_session(_open_session(stripe_env, alice, pack)["id"])
    assert session["amount_total"] == 700  # Checkout charged the new price, not 5.00
    post_event(stripe_env.event("checkout.session.completed", session))
    purchase = Purchase.objects.get()
    assert (purchase.credits, purchase.amount) == (150, 700)
    assert _balance(alice) == 100 + 150


def test_a_session_opened_before_an_edit_grants_what_it_sold(alice, pack, stripe_env, post_event):
    opened = _open_session(stripe_env, alice, pack)  # 100 credits for 5.00
    CreditPack.objects.filter(pk=pack.pk).update(price_amount=700, credits=150, slug="renamed-pack")
    pack.refresh_from_db()
    offering_sync_to_stripe(offering=pack)

    post_event(stripe_env.event("checkout.session.completed", stripe_env.complete_session(opened["id"])))
    purchase = Purchase.objects.get()
    assert (purchase.credits, purchase.amount, purchase.pack) == (100, 500, pack)
    assert _balance(alice) == 200
    assert not PaymentIssue.objects.exists()


def test_an_offering_not_in_step_is_not_for_sale_and_the_admin_says_why(
    staff_client, alice_client, alice, pack, stripe_env, django_capture_on_commit_callbacks
):
    stripe_env.api_key = "sk_test_" + "z" * 24  # Stripe refuses our key: every push fails
    with django_capture_on_commit_callbacks(execute=True):
        _edit_pack(staff_client, pack, price_amount=900)
    pack.refresh_from_db()
    assert pack.stripe_sync_error  # Stripe's own words, kept on the row
    listing = staff_client.get(reverse("admin:billing_creditpack_changelist")).content.decode()
    assert "Not for sale: the push to Stripe failed" in listing

    pricing = alice_client.get(reverse("pricing")).content.decode()
    assert reverse("checkout_start", args=["pack", pack.slug]) not in pricing  # no Buy that cannot work
    refused = alice_client.post(reverse("checkout_start", args=["pack", pack.slug]), follow=True)
    assert "This is not for sale right now." in refused.content.decode()
    assert not stripe_env.requests_to("POST", "/v1/checkout/sessions")

    stripe_env.api_key = None  # Stripe is back: staff push it again
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            reverse("admin:billing_creditpack_changelist"),
            {"action": "push_to_stripe", "_selected_action": [pack.pk]},
        )
    pack.refresh_from_db()
    assert pack.stripe_price() is not None and pack.stripe_sync_error == ""
    assert stripe_env.get(pack.stripe_price_id)["unit_amount"] == 900
    assert reverse("checkout_start", args=["pack", pack.slug]) in alice_client.get(reverse("pricing")).content.decode()


def test_a_pack_saved_with_the_same_price_keeps_its_stripe_price(
    staff_client, pack, stripe_env, django_capture_on_commit_callbacks
):
    price = pack.stripe_price_id
    with django_capture_on_commit_callbacks(execute=True):
        _edit_pack(staff_client, pack, name_en="Starter pack")
    pack.refresh_from_db()
    assert pack.stripe_price_id == price
    assert stripe_env.get(pack.stripe_product_id)["name"] == "Starter pack"
    assert len(stripe_env.requests_to("POST", "/v1/prices")) == 1  # the fixture's only


def test_a_paid_session_that_matches_nothing_goes_to_staff_and_the_success_page_says_so(
    alice, alice_client, staff_client, staff, pack, stripe_env, post_event
):
    session = _open_session(stripe_env, alice, pack)
    metadata = {"mirsam_user_id": str(alice.pk), "mirsam_pack": "gone", "mirsam_price": "price_unknown"}
    stripe_env.update(session["id"], metadata=metadata)  # e.g. a Price someone made by hand in Stripe
    paid = stripe_env.complete_session(session["id"])

    assert post_event(stripe_env.event("checkout.session.completed", paid)).status_code == 200
    assert not Purchase.objects.exists() and _balance(alice) == 100
    issue = PaymentIssue.objects.get()
    assert (issue.kind, issue.stripe_id, issue.user, issue.amount) == ("checkout", session["id"], alice, 500)

    status = alice_client.get(reverse("checkout_status"), {"session_id": session["id"]}).content.decode()
    assert "could not add the credits automatically" in status and "hx-trigger" not in status  # no endless wait
    assert checkouts_reconcile() == 0 and PaymentIssue.objects.count() == 1

    listing = staff_client.get(reverse("admin:billing_paymentissue_changelist"), {"open": "yes"}).content.decode()
    assert session["id"] in listing
    change = reverse("admin:billing_paymentissue_change", args=[issue.pk])
    staff_client.post(change, {"resolution": "credits added by adjustment"})
    issue.refresh_from_db()
    assert issue.resolved_by == staff and issue.resolved_at is not None
    still_open = staff_client.get(reverse("admin:billing_paymentissue_changelist"), {"open": "yes"})
    assert still_open.context["cl"].result_count == 0


def test_a_paid_session_for_no_known_user_goes_to_staff(alice, pack, stripe_env, post_event):
    session = _open_session(stripe_env, alice, pack)
    stripe_env.update(session["id"], metadata={}, client_reference_id=None)  # e.g. a Payment Link
    post_event(stripe_env.event("checkout.session.completed", stripe_env.complete_session(session["id"])))
    issue = PaymentIssue.objects.get()
    assert (issue.user, issue.detail) == (None, "no Mirsam user")


def test_a_plan_invoice_grants_what_the_price_paid_sells_not_the_metadata(alice, plan, stripe_env, post_event):
    basic = Plan.objects.create(slug="basic", name="Basic", credits_per_period=100, price_amount=600)
    offering_sync_to_stripe(offering=basic)
    session = stripe_env.complete_session(_open_session(stripe_env, alice, plan)["id"])
    invoice = stripe_env.get(session["invoice"])
    for line in invoice["lines"]["data"]:  # the portal moved the subscription to Basic; metadata still says the plan
        line["pricing"]["price_details"]["price"] = basic.stripe_price_id
    post_event(stripe_env.event("invoice.paid", invoice))
    purchase = Purchase.objects.get()
    assert (purchase.plan, purchase.credits) == (basic, 100)
    assert _balance(alice) == 200


def test_staff_without_change_permission_cannot_push(alice, pack, stripe_env):
    from django.test import Client

    from tests.factories import UserFactory
    from tests.support.accounts import with_totp

    viewer = with_totp(UserFactory(email="viewer@example.com", is_staff=True))
    viewer.user_permissions.add(Permission.objects.get(codename="view_creditpack"))
    client = Client()
    client.force_login(viewer)
    page = client.get(reverse("admin:billing_creditpack_changelist")).content.decode()
    assert "push_to_stripe" not in page
