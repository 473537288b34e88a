"""Lots of Stripe grants carry what Stripe says was paid and expire as their
pack or plan says (issue 15): packs never by default, plan credits at the end
of the period after next; refunds come back out of the refunded lot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from billing.models import CreditPack
from billing.services import checkout_start
from credits.models import CreditLot
from credits.selectors import lot_money

pytestmark = pytest.mark.django_db


def _paid(stripe_env, user, offering) -> dict:
    checkout_start(user=user, offering=offering, success_url="https://m.test/ok", cancel_url="https://m.test/no")
    return stripe_env.complete_session(stripe_env.of_type("checkout.session")[-1]["id"])


def test_a_pack_lot_holds_what_stripe_charged_and_never_expires_by_default(alice, pack, stripe_env, post_event):
    post_event(stripe_env.event("checkout.session.completed", _paid(stripe_env, alice, pack)))
    lot = CreditLot.objects.get(source="purchase")
    assert (lot.credits, lot.money_minor, lot.currency, lot.expires_at) == (100, 500, "usd", None)


def test_a_pack_with_a_validity_expires_that_many_days_after_purchase(alice, pack, stripe_env, post_event):
    CreditPack.objects.filter(pk=pack.pk).update(credit_validity_days=30)
    post_event(stripe_env.event("checkout.session.completed", _paid(stripe_env, alice, pack)))
    lot = CreditLot.objects.get(source="purchase")
    assert timedelta(days=29) < lot.expires_at - lot.created_at <= timedelta(days=30)


def test_plan_credits_expire_at_the_end_of_the_period_after_next(alice, plan, stripe_env, post_event):
    invoice = stripe_env.get(_paid(stripe_env, alice, plan)["invoice"])
    post_event(stripe_env.event("invoice.paid", invoice))
    period = next(line["period"] for line in invoice["lines"]["data"] if line["amount"] > 0)
    length = period["end"] - period["start"]
    lot = CreditLot.objects.get(source="plan")
    assert lot.expires_at == datetime.fromtimestamp(period["end"] + 2 * length, tz=UTC)
    assert lot.money_minor == 1200


def test_a_stripe_refund_of_spent_credits_reverses_their_revenue(alice, pack, stripe_env, post_event):
    from credits.services import credits_capture, credits_hold

    post_event(stripe_env.event("checkout.session.completed", _paid(stripe_env, alice, pack)))
    credits_capture(hold=credits_hold(user=alice, amount=180, reference="job:big"))  # 100 free + 80 paid
    charge = stripe_env.of_type("charge")[-1]["id"]
    stripe_env.refund_charge(charge)
    post_event(stripe_env.event("charge.refunded", stripe_env.get(charge)))
    (usd,) = lot_money()
    assert (usd.received, usd.revenue, usd.refunded, usd.liability) == (500, 0, 500, 0)
    call_command("check_ledger")
