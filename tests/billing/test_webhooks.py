"""Paid credits come only from verified webhooks, once per Stripe object.

Events are built from the stand-in's state as Stripe sends them, signed with
the endpoint secret (t=…,v1=HMAC-SHA256) and posted to dj-stripe's real
endpoint; every Stripe API call dj-stripe or our code makes while handling
them goes to the stand-in on 127.0.0.1.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from billing.models import Purchase, Revocation
from billing.services import checkout_start, checkouts_reconcile
from credits.models import EntryKind, LedgerEntry, Wallet
from tests.support.billing import WEBHOOK_SECRET

pytestmark = pytest.mark.django_db


def _balance(user) -> int:
    return Wallet.objects.get(user=user).balance


def _paid_session(stripe_env, user, offering, *, paid=True):
    checkout_start(user=user, offering=offering, success_url="https://m.test/ok", cancel_url="https://m.test/no")
    return stripe_env.complete_session(stripe_env.of_type("checkout.session")[-1]["id"], paid=paid)


def test_a_paid_pack_is_granted_once(alice, pack, stripe_env, post_event):
    session = _paid_session(stripe_env, alice, pack)
    response = post_event(stripe_env.event("checkout.session.completed", session))
    assert response.status_code == 200
    assert _balance(alice) == 100 + 100
    purchase = Purchase.objects.get()
    assert (purchase.user, purchase.stripe_id, purchase.credits, purchase.amount) == (alice, session["id"], 100, 500)
    entry = LedgerEntry.objects.get(kind=EntryKind.PURCHASE)
    assert entry.idempotency_key == f"stripe:{session['id']}"
    call_command("check_ledger")


def test_the_same_event_posted_five_times_grants_once(alice, pack, stripe_env, post_event):
    event = stripe_env.event("checkout.session.completed", _paid_session(stripe_env, alice, pack))
    assert [post_event(event).status_code for _ in range(5)] == [200] * 5
    assert _balance(alice) == 200
    assert Purchase.objects.count() == 1


def test_two_events_about_one_payment_grant_once(alice, pack, stripe_env, post_event):
    session = _paid_session(stripe_env, alice, pack)
    post_event(stripe_env.event("checkout.session.completed", session))
    post_event(stripe_env.event("checkout.session.async_payment_succeeded", session))
    assert _balance(alice) == 200
    assert LedgerEntry.objects.filter(kind=EntryKind.PURCHASE).count() == 1


def test_an_unpaid_session_grants_nothing_until_its_async_payment_succeeds(alice, pack, stripe_env, post_event):
    session = _paid_session(stripe_env, alice, pack, paid=False)
    assert session["payment_status"] == "unpaid"
    assert post_event(stripe_env.event("checkout.session.completed", session)).status_code == 200
    assert _balance(alice) == 100 and not Purchase.objects.exists()

    session = stripe_env.complete_async_payment(session["id"], succeeded=True)
    post_event(stripe_env.event("checkout.session.async_payment_succeeded", session))
    assert _balance(alice) == 200


def test_a_failed_async_payment_grants_nothing(alice, pack, stripe_env, post_event):
    session = _paid_session(stripe_env, alice, pack, paid=False)
    session = stripe_env.complete_async_payment(session["id"], succeeded=False)
    assert post_event(stripe_env.event("checkout.session.async_payment_failed", session)).status_code == 200
    assert _balance(alice) == 100 and not Purchase.objects.exists()


def test_a_plan_grants_on_each_paid_invoice_once(alice, plan, stripe_env, post_event):
    session = _paid_session(stripe_env, alice, plan)
    post_event(stripe_env.event("checkout.session.completed", session))  # no credits for the session itself
    assert _balance(alice) == 100
    first = stripe_env.get(session["invoice"])
    post_event(stripe_env.event("invoice.paid", first))
    post_event(stripe_env.event("invoice.paid", first))  # a different delivery of the same invoice
    assert _balance(alice) == 400

    sub = stripe_env.get(session["subscription"])
    period_end = sub["items"]["data"][0]["current_period_end"]
    second = stripe_env.pay_invoice(sub["id"], period_start=period_end, period_end=period_end + 30 * 86400)
    post_event(stripe_env.event("invoice.paid", second))
    assert _balance(alice) == 700
    assert sorted(Purchase.objects.values_list("stripe_id", flat=True)) == sorted([first["id"], second["id"]])
    assert LedgerEntry.objects.filter(kind=EntryKind.SUBSCRIPTION_GRANT).count() == 2


def test_an_unpaid_invoice_grants_nothing(alice, plan, stripe_env, post_event):
    session = _paid_session(stripe_env, alice, plan)
    sub = stripe_env.get(session["subscription"])
    unpaid = stripe_env.pay_invoice(sub["id"], paid=False)
    post_event(stripe_env.event("invoice.payment_failed", unpaid))
    assert not Purchase.objects.filter(stripe_id=unpaid["id"]).exists()


def test_a_full_refund_takes_the_credits_back(alice, pack, stripe_env, post_event):
    session = _paid_session(stripe_env, alice, pack)
    post_event(stripe_env.event("checkout.session.completed", session))
    charge_id = stripe_env.of_type("charge")[-1]["id"]
    stripe_env.refund_charge(charge_id)
    event = stripe_env.event("charge.refunded", stripe_env.get(charge_id))
    post_event(event)
    post_event(stripe_env.event("charge.refunded", stripe_env.get(charge_id)))  # another delivery
    assert _balance(alice) == 100
    revocation = Revocation.objects.get()
    assert (revocation.credits_due, revocation.credits_taken, revocation.shortfall) == (100, 100, 0)
    call_command("check_ledger")


def test_partial_refunds_take_their_share(alice, pack, stripe_env, post_event):
    session = _paid_session(stripe_env, alice, pack)
    post_event(stripe_env.event("checkout.session.completed", session))
    charge_id = stripe_env.of_type("charge")[-1]["id"]
    stripe_env.refund_charge(charge_id, amount=200)  # 40 % of 500
    post_event(stripe_env.event("charge.refunded", stripe_env.get(charge_id)))
    assert _balance(alice) == 200 - 40
    stripe_env.refund_charge(charge_id, amount=300)  # the rest
    post_event(stripe_env.event("charge.refunded", stripe_env.get(charge_id)))
    assert _balance(alice) == 100
    assert sum(Revocation.objects.values_list("credits_taken", flat=True)) == 100


def test_a_refund_of_spent_credits_stops_at_zero_and_records_the_shortfall(alice, pack, stripe_env, post_event):
    from credits.services import credits_adjust

    session = _paid_session(stripe_env, alice, pack)
    post_event(stripe_env.event("checkout.session.completed", session))
    credits_adjust(user=alice, amount=-170, reason="spent in test", actor=None)  # 30 left
    charge_id = stripe_env.of_type("charge")[-1]["id"]
    stripe_env.refund_charge(charge_id)
    post_event(stripe_env.event("charge.refunded", stripe_env.get(charge_id)))
    assert _balance(alice) == 0
    revocation = Revocation.objects.get()
    assert (revocation.credits_taken, revocation.shortfall) == (30, 70)
    call_command("check_ledger")


def test_a_lost_dispute_takes_back_what_is_left(alice, pack, stripe_env, post_event):
    session = _paid_session(stripe_env, alice, pack)
    post_event(stripe_env.event("checkout.session.completed", session))
    charge_id = stripe_env.of_type("charge")[-1]["id"]
    won = stripe_env.dispute_charge(charge_id, status="won")
    post_event(stripe_env.event("charge.dispute.closed", won))
    assert _balance(alice) == 200
    lost = stripe_env.dispute_charge(charge_id, status="lost")
    post_event(stripe_env.event("charge.dispute.closed", lost))
    post_event(stripe_env.event("charge.dispute.closed", lost))
    assert _balance(alice) == 100
    assert Revocation.objects.get().kind == "dispute"


def test_a_plan_payment_refund_is_found_through_its_invoice(alice, plan, stripe_env, post_event):
    session = _paid_session(stripe_env, alice, plan)
    post_event(stripe_env.event("invoice.paid", stripe_env.get(session["invoice"])))
    assert _balance(alice) == 400
    charge_id = stripe_env.of_type("charge")[-1]["id"]
    stripe_env.refund_charge(charge_id)
    post_event(stripe_env.event("charge.refunded", stripe_env.get(charge_id)))
    assert _balance(alice) == 100


@pytest.mark.parametrize("how", ["bad secret", "tampered body", "old timestamp", "no signature"])
def test_an_unverified_event_gets_400_and_changes_nothing(alice, pack, stripe_env, post_event, how):
    event = stripe_env.event("checkout.session.completed", _paid_session(stripe_env, alice, pack))
    if how == "bad secret":
        response = post_event(event, secret="whsec_wrong")
    elif how == "old timestamp":
        response = post_event(event, timestamp=int(time.time()) - 3600)
    else:
        from tests.support.billing import webhook_url
        from tests.support.stripe import sign_event

        payload, signature = sign_event(event, WEBHOOK_SECRET)
        headers = {} if how == "no signature" else {"Stripe-Signature": signature}
        body = payload.replace('"paid"', '"paid" ') if how == "tampered body" else payload
        response = Client(raise_request_exception=False).post(
            webhook_url(stripe_env.endpoint), body, content_type="application/json", headers=headers
        )
    assert response.status_code == 400
    assert _balance(alice) == 100 and not Purchase.objects.exists()


def test_reconciliation_grants_a_paid_session_whose_webhook_never_came_and_only_once(
    alice, pack, stripe_env, post_event
):
    session = _paid_session(stripe_env, alice, pack)
    assert checkouts_reconcile() == 1
    assert checkouts_reconcile() == 0
    post_event(stripe_env.event("checkout.session.completed", session))  # the late webhook
    call_command("reconcile_checkouts")
    assert _balance(alice) == 200
    assert Purchase.objects.count() == 1


def test_reconciliation_grants_a_missed_plan_invoice(alice, plan, stripe_env):
    _paid_session(stripe_env, alice, plan)
    assert checkouts_reconcile() == 1
    assert _balance(alice) == 400


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_five_deliveries_at_once_on_postgresql_grant_once(postgres, alice, pack, stripe_env, post_event):
    event = stripe_env.event("checkout.session.completed", _paid_session(stripe_env, alice, pack))
    barrier = threading.Barrier(5)
    statuses: list[int] = []

    def deliver() -> None:
        try:
            barrier.wait()
            statuses.append(post_event(event, client=Client(raise_request_exception=False)).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(statuses) == 5 and all(s in (200, 500) for s in statuses)
    assert _balance(alice) == 200
    assert Purchase.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=EntryKind.PURCHASE).count() == 1
    call_command("check_ledger")


# --- what an unverified POST leaves behind ------------------------------------------


@pytest.mark.parametrize("how", ["bad secret", "no signature", "garbage signature"])
def test_an_unverified_post_stores_no_webhook_row(alice, pack, stripe_env, post_event, how):
    from djstripe.models import WebhookEventTrigger

    from tests.support.billing import webhook_url

    event = stripe_env.event("checkout.session.completed", _paid_session(stripe_env, alice, pack))
    if how == "bad secret":
        response = post_event(event, secret="whsec_wrong")
    else:
        headers = {} if how == "no signature" else {"Stripe-Signature": "t=1,v1=" + "0" * 64}
        response = Client(raise_request_exception=False).post(
            webhook_url(stripe_env.endpoint), "{}", content_type="application/json", headers=headers
        )
    assert response.status_code == 400
    assert not WebhookEventTrigger.objects.exists()


def test_in_debug_a_secret_sent_with_the_event_does_not_make_it_valid(alice, pack, stripe_env, settings):
    """dj-stripe takes X-Djstripe-Webhook-Secret as the secret when DEBUG is on
    (the embedded default): an event signed with a secret of the sender's own
    must still be refused."""
    from djstripe.models import WebhookEventTrigger

    from tests.support.billing import webhook_url
    from tests.support.stripe import sign_event

    settings.DEBUG = True
    event = stripe_env.event("checkout.session.completed", _paid_session(stripe_env, alice, pack))
    payload, signature = sign_event(event, "whsec_chosen_by_the_sender")
    response = Client(raise_request_exception=False).post(
        webhook_url(stripe_env.endpoint),
        payload,
        content_type="application/json",
        headers={"Stripe-Signature": signature, "X-Djstripe-Webhook-Secret": "whsec_chosen_by_the_sender"},
    )
    assert response.status_code == 400
    assert _balance(alice) == 100 and not Purchase.objects.exists()
    assert not WebhookEventTrigger.objects.exists()
