"""Credit lots (issue 15): every grant is a lot with its source, the money it
was bought for and an expiry; spending takes lots in a fixed order and
records which lots paid; money is recognised at the price actually paid;
expiry writes a ledger entry and the user is told a week before."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from credits.models import CreditLot, EntryKind, LedgerEntry, LotUse, Wallet
from credits.selectors import lot_money
from credits.services import (
    credits_capture,
    credits_expire,
    credits_grant,
    credits_hold,
    credits_revoke,
    lots_notify_expiring,
)
from credits.tasks import expire_credits_task
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(db):
    return UserFactory()


def _grant(user, amount, key, *, money=0, expires_in=None, kind=EntryKind.GRANT):
    return credits_grant(
        user=user,
        amount=amount,
        idempotency_key=key,
        reason=key,
        kind=kind,
        reference=f"stripe:{key}" if money else key,
        money_minor=money,
        currency="usd" if money else "",
        expires_at=timezone.now() + expires_in if expires_in else None,
    )


def _spend(user, amount, ref):
    return credits_capture(hold=credits_hold(user=user, amount=amount, reference=ref))


def _uses(ref):
    entry = LedgerEntry.objects.get(kind=EntryKind.CAPTURE, reference=ref)
    return [(u.lot.entry.idempotency_key, u.credits, u.money_minor) for u in entry.lot_uses.order_by("id")]


def test_spending_takes_expiring_then_free_then_paid_lots_oldest_first(user):
    _grant(user, 100, "pack", money=500, kind=EntryKind.PURCHASE)
    _grant(user, 50, "bonus")
    _grant(user, 300, "plan", money=1200, expires_in=timedelta(days=60), kind=EntryKind.SUBSCRIPTION_GRANT)
    _grant(user, 20, "gift")
    _spend(user, 330, "job:1")
    assert _uses("job:1") == [("plan", 300, 1200), ("bonus", 30, 0)]
    _grant(user, 10, "cheap", money=10, kind=EntryKind.PURCHASE)  # newer and cheaper: still after the older pack
    _spend(user, 145, "job:2")
    assert _uses("job:2") == [("bonus", 20, 0), ("gift", 20, 0), ("pack", 100, 500), ("cheap", 5, 5)]
    call_command("check_ledger")


def test_money_is_recognised_at_the_price_paid_to_the_last_minor_unit(user):
    _grant(user, 250, "odd", money=999, kind=EntryKind.PURCHASE)  # 3.996 cents a credit
    for n in range(250):
        _spend(user, 1, f"job:{n}")
    (usd,) = lot_money()
    assert (usd.received, usd.revenue, usd.refunded, usd.liability) == (999, 999, 0, 0)


def test_the_unspent_balance_is_a_liability_valued_at_what_was_paid(user):
    _grant(user, 100, "pack", money=500, kind=EntryKind.PURCHASE)
    _grant(user, 100, "free")
    _spend(user, 130, "job:1")  # the free 100 first, then 30 paid credits
    (usd,) = lot_money()
    assert (usd.revenue, usd.liability) == (150, 350)


def test_a_refund_takes_the_refunded_lot_first_and_reverses_the_revenue_of_what_was_spent(user):
    _grant(user, 50, "free")
    _grant(user, 100, "pack", money=500, kind=EntryKind.PURCHASE)
    _spend(user, 120, "job:1")  # 50 free + 70 paid (350 recognised)
    entry, shortfall = credits_revoke(
        user=user, amount=100, idempotency_key="refund", reason="refund", reference="stripe:pack", refund_minor=500
    )
    assert (entry.amount, shortfall) == (-30, 70)  # the 30 left of the pack; 70 owed
    kinds = sorted((u.kind, u.credits, u.money_minor) for u in entry.lot_uses.all())
    assert kinds == [("refund", 30, 150), ("reversal", 0, 350)]
    (usd,) = lot_money()
    assert (usd.received, usd.revenue, usd.refunded, usd.liability) == (500, 0, 500, 0)
    call_command("check_ledger")


def test_expiry_writes_an_entry_leaves_held_credits_to_their_job_and_is_told_a_week_before(user, client):
    _grant(user, 100, "plan", money=1200, expires_in=timedelta(days=5), kind=EntryKind.SUBSCRIPTION_GRANT)
    _grant(user, 10, "keep")
    client.force_login(user)
    assert "expire from" not in client.get(reverse("dashboard")).content.decode()  # now kept in the page cache
    assert lots_notify_expiring() == 1 and lots_notify_expiring() == 0  # once per lot
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "100 credits expire from" in dashboard  # the notice changed the wallet, so the page is rendered anew

    hold = credits_hold(user=user, amount=40, reference="job:long")
    later = timezone.now() + timedelta(days=6)
    assert credits_expire(now=later) == 70  # 110 - 40 held: the plan lot gives up 70 now
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.held) == (40, 40)
    expiry = LedgerEntry.objects.get(kind=EntryKind.EXPIRY)
    assert (expiry.amount, expiry.lot_uses.get().kind) == (-70, "expiry")
    credits_capture(hold=hold, amount=25)  # the job spends 25 of the expired lot's 30 first, gives back 15
    assert credits_expire(now=later) == 5
    assert Wallet.objects.get(user=user).balance == 10
    assert credits_expire(now=later) == 0
    call_command("check_ledger")


def test_the_beat_task_expires_what_is_due(user):
    _grant(user, 30, "soon", expires_in=timedelta(seconds=1))
    CreditLot.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert expire_credits_task() == 30
    assert Wallet.objects.get(user=user).balance == 0


def test_check_ledger_fails_when_lots_and_balance_disagree(user):
    _grant(user, 30, "x")
    CreditLot.objects.update(remaining=29)
    with pytest.raises(CommandError, match="other problem"):
        call_command("check_ledger")


def test_a_lot_use_never_lost_and_never_negative(user):
    _grant(user, 10, "x")
    _spend(user, 10, "job:1")
    assert LotUse.objects.get().credits == 10
    assert CreditLot.objects.get().remaining == 0
