"""Stripe's events in any order and in Stripe's documented shapes (issue 15,
finding 8): a refund or a lost dispute that arrives before its payment's grant
is applied when the grant comes, reconciliation takes back what was refunded
meanwhile, and a proration invoice grants only the difference to its period."""

from __future__ import annotations

import copy

import pytest
from django.core.management import call_command

from billing.models import PaymentIssue, Plan, Purchase, Revocation
from billing.services import checkout_start, checkouts_reconcile, offering_sync_to_stripe
from credits.models import Wallet

pytestmark = pytest.mark.django_db


def _balance(user) -> int:
    return Wallet.objects.get(user=user).balance


def _paid_session(stripe_env, user, offering) -> dict:
    checkout_start(user=user, offering=offering, success_url="https://m.test/ok", cancel_url="https://m.test/no")
    return stripe_env.complete_session(stripe_env.of_type("checkout.session")[-1]["id"])


def test_a_refund_that_arrives_before_the_grant_is_applied_when_the_grant_comes(alice, pack, stripe_env, post_event):
    session = _paid_session(stripe_env, alice, pack)
    charge_id = stripe_env.of_type("charge")[-1]["id"]
    stripe_env.refund_charge(charge_id)
    assert post_event(stripe_env.event("charge.refunded", stripe_env.get(charge_id))).status_code == 200
    waiting = PaymentIssue.objects.get()
    assert (waiting.kind, waiting.resolved_at) == ("reversal", None)
    assert _balance(alice) == 100

    post_event(stripe_env.event("checkout.session.completed", session))  # the grant comes after
    assert _balance(alice) == 100  # granted and taken back: the payment was fully refunded
    assert Revocation.objects.get().credits_taken == 100
    waiting.refresh_from_db()
    assert waiting.resolved_at is not None
    post_event(stripe_env.event("charge.refunded", stripe_env.get(charge_id)))  # a late redelivery
    assert _balance(alice) == 100 and Revocation.objects.count() == 1
    call_command("check_ledger")


def test_a_lost_dispute_before_the_grant_is_applied_when_the_grant_comes(alice, pack, stripe_env, post_event):
    session = _paid_session(stripe_env, alice, pack)
    lost = stripe_env.dispute_charge(stripe_env.of_type("charge")[-1]["id"], status="lost")
    post_event(stripe_env.event("charge.dispute.closed", lost))
    post_event(stripe_env.event("checkout.session.completed", session))
    assert _balance(alice) == 100
    assert Revocation.objects.get().kind == "dispute"


def test_a_plan_invoice_refund_that_comes_first_waits_for_its_invoice(alice, plan, stripe_env, post_event):
    session = _paid_session(stripe_env, alice, plan)
    charge_id = stripe_env.of_type("charge")[-1]["id"]
    stripe_env.refund_charge(charge_id, amount=600)  # half of 12.00
    post_event(stripe_env.event("charge.refunded", stripe_env.get(charge_id)))
    assert PaymentIssue.objects.get().payment_stripe_id == session["invoice"]
    post_event(stripe_env.event("invoice.paid", stripe_env.get(session["invoice"])))
    assert _balance(alice) == 100 + 300 - 150


def test_reconciliation_takes_back_what_was_refunded_while_every_event_was_lost(alice, pack, stripe_env):
    _paid_session(stripe_env, alice, pack)
    stripe_env.refund_charge(stripe_env.of_type("charge")[-1]["id"], amount=200)  # 40 %
    assert checkouts_reconcile() == 1
    assert _balance(alice) == 100 + 100 - 40
    assert checkouts_reconcile() == 0 and _balance(alice) == 160
    call_command("check_ledger")


def _proration(stripe_env, invoice: dict, *, new_price: str, old_price: str, amount: int) -> dict:
    """A proration invoice as Stripe sends one when a plan changes mid-period:
    a negative line for the unused old plan, a positive one for the new."""
    proration = copy.deepcopy(invoice)
    proration["id"] = invoice["id"] + "_update"
    proration["billing_reason"] = "subscription_update"
    proration["amount_paid"] = amount
    credit, charge = copy.deepcopy(invoice["lines"]["data"][0]), copy.deepcopy(invoice["lines"]["data"][0])
    credit["pricing"]["price_details"]["price"], credit["amount"] = old_price, -300
    charge["pricing"]["price_details"]["price"], charge["amount"] = new_price, amount + 300
    proration["lines"]["data"] = [credit, charge]
    return proration


def test_an_upgrade_mid_period_grants_only_the_difference_and_a_downgrade_nothing(alice, plan, stripe_env, post_event):
    pro = Plan.objects.create(slug="pro", name="Pro", credits_per_period=1000, price_amount=2400)
    basic = Plan.objects.create(slug="basic", name="Basic", credits_per_period=100, price_amount=600)
    offering_sync_to_stripe(offering=pro)
    offering_sync_to_stripe(offering=basic)
    session = _paid_session(stripe_env, alice, plan)  # 300 credits a month
    first = stripe_env.get(session["invoice"])
    post_event(stripe_env.event("invoice.paid", first))
    assert _balance(alice) == 400

    up = _proration(stripe_env, first, new_price=pro.stripe_price_id, old_price=plan.stripe_price_id, amount=1150)
    post_event(stripe_env.event("invoice.paid", up))
    post_event(stripe_env.event("invoice.paid", up))  # redelivered
    assert _balance(alice) == 400 + 700  # topped up to Pro's 1,000 for this period, not a full period again
    assert Purchase.objects.get(stripe_id=up["id"]).credits == 700

    down = _proration(stripe_env, first, new_price=basic.stripe_price_id, old_price=pro.stripe_price_id, amount=1)
    down["id"] += "_down"
    post_event(stripe_env.event("invoice.paid", down))
    assert _balance(alice) == 1100  # a downgrade grants nothing and takes nothing back
    assert not Purchase.objects.filter(stripe_id=down["id"]).exists()
    assert not PaymentIssue.objects.exists()


def test_an_event_naming_a_customer_stripe_does_not_have_is_answered_200_and_goes_to_staff(
    alice, plan, stripe_env, post_event
):
    session = _paid_session(stripe_env, alice, plan)
    invoice = {**stripe_env.get(session["invoice"]), "customer": "cus_deleted0001"}
    event = stripe_env.event("invoice.paid", invoice)
    responses = [post_event(event).status_code for _ in range(2)]  # Stripe would retry a 500 for days
    assert responses == [200, 200]
    issue = PaymentIssue.objects.get()
    assert (issue.kind, issue.stripe_id, issue.amount) == ("event", event["id"], 1200)
    assert "No such customer" in issue.detail
