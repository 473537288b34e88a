"""Disputes and shortfalls (issue 15, finding 6): an open dispute freezes the
disputed credits at once (won → released, lost → taken); credits a refund
could not take are owed, shown to staff, block new jobs with a way to buy,
and are paid first by the next credits."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from billing.services import checkout_start
from credits.models import EntryKind, Hold, LedgerEntry, Wallet
from credits.services import CreditsOwed, InsufficientCredits, credits_adjust, credits_hold, credits_release
from generation import services as generation
from operators.selectors import dashboard_figures

pytestmark = pytest.mark.django_db


def _wallet(user) -> Wallet:
    return Wallet.objects.get(user=user)


def _paid_pack(stripe_env, post_event, user, pack) -> str:
    """``user`` buys ``pack`` (granted by its webhook); returns the charge id."""
    checkout_start(user=user, offering=pack, success_url="https://m.test/ok", cancel_url="https://m.test/no")
    session = stripe_env.complete_session(stripe_env.of_type("checkout.session")[-1]["id"])
    post_event(stripe_env.event("checkout.session.completed", session))
    return stripe_env.of_type("charge")[-1]["id"]


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_an_open_dispute_freezes_the_credits_until_it_closes(alice, pack, stripe_env, post_event, outcome):
    charge = _paid_pack(stripe_env, post_event, alice, pack)  # 100 + 100
    credits_adjust(user=alice, amount=-40, reason="spent in test", actor=None)  # 160 left
    dispute = stripe_env.dispute_charge(charge, status="needs_response")
    post_event(stripe_env.event("charge.dispute.created", dispute))
    post_event(stripe_env.event("charge.dispute.created", dispute))  # redelivered: frozen once
    wallet = _wallet(alice)
    assert (wallet.balance, wallet.held, wallet.available) == (160, 100, 60)
    with pytest.raises(InsufficientCredits):
        credits_hold(user=alice, amount=61, reference="work:1")  # the disputed credits cannot be spent

    closed = stripe_env.update(dispute["id"], status=outcome)
    post_event(stripe_env.event("charge.dispute.closed", closed))
    wallet = _wallet(alice)
    assert wallet.held == 0
    assert wallet.balance == (160 if outcome == "won" else 60)
    assert not Hold.objects.filter(reference=f"dispute:{dispute['id']}", status="open").exists()
    call_command("check_ledger")


def test_credits_a_refund_could_not_take_are_owed_and_block_new_jobs_until_paid(
    alice, alice_client, staff_client, pack, demo_offer, stripe_env, post_event
):
    charge = _paid_pack(stripe_env, post_event, alice, pack)
    credits_adjust(user=alice, amount=-170, reason="spent in test", actor=None)  # 30 left
    stripe_env.refund_charge(charge)
    post_event(stripe_env.event("charge.refunded", stripe_env.get(charge)))
    wallet = _wallet(alice)
    assert (wallet.balance, wallet.owed) == (0, 70)

    with pytest.raises(CreditsOwed, match="You owe 70 credits"):
        generation.job_submit(user=alice, offer=demo_offer, params={"prompt": "a cliff"})
    studio = alice_client.post(
        reverse("job_create"),
        {"service": "image", "offer": demo_offer.pk, "prompt": "a cliff", "aspect_ratio": "1:1", "outputs": 1},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "You owe 70 credits" in studio and reverse("pricing") in studio  # a way to buy
    user_page = staff_client.get(reverse("admin:accounts_user_change", args=[alice.pk])).content.decode()
    assert "Owes 70 credits" in user_page
    attention = dashboard_figures(period_days=30).attention
    assert (attention.owing_users, attention.owed_credits) == (1, 70)

    _paid_pack(stripe_env, post_event, alice, pack)  # new credits pay the debt first
    wallet = _wallet(alice)
    assert (wallet.balance, wallet.owed) == (30, 0)
    settlement = LedgerEntry.objects.get(kind=EntryKind.SETTLEMENT)
    assert (settlement.amount, settlement.owed_delta) == (-70, -70)
    generation.job_submit(user=alice, offer=demo_offer, params={"prompt": "a cliff"})
    call_command("check_ledger")


def test_a_hold_released_while_owing_pays_the_debt(alice, pack, stripe_env, post_event):
    charge = _paid_pack(stripe_env, post_event, alice, pack)
    hold = credits_hold(user=alice, amount=150, reference="work:long")
    stripe_env.refund_charge(charge)
    post_event(stripe_env.event("charge.refunded", stripe_env.get(charge)))
    assert (_wallet(alice).available, _wallet(alice).owed) == (0, 50)  # the held 150 were not taken
    credits_release(hold=hold)
    wallet = _wallet(alice)
    assert (wallet.balance, wallet.held, wallet.owed) == (100, 0, 0)
    call_command("check_ledger")


def test_check_ledger_fails_when_owed_differs_from_its_entries(alice):
    Wallet.objects.filter(user=alice).update(owed=5)
    with pytest.raises(Exception, match="drift"):
        call_command("check_ledger")
