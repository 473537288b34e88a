"""Money paths under real concurrency: PostgreSQL row locks, separate connections."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from credits.models import LedgerEntry, Wallet
from credits.services import InsufficientCredits, credits_grant, credits_hold
from tests.factories import UserFactory
from tests.support.concurrency import at_once


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_concurrent_holds_against_a_balance_for_five_let_exactly_five_through(postgres):
    user = UserFactory()
    credits_grant(user=user, amount=50, idempotency_key="fund", reason="test")

    def attempt(n: int) -> str:
        try:
            credits_hold(user=user, amount=10, reference=f"work:{n}")
        except InsufficientCredits:
            return "refused"
        return "held"

    outcomes = at_once(20, attempt)

    assert sorted(outcomes) == ["held"] * 5 + ["refused"] * 15
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.held) == (50, 50)
    assert LedgerEntry.objects.filter(kind="hold").count() == 5
    assert all(e.held_after <= e.balance_after for e in LedgerEntry.objects.all())
    call_command("check_ledger")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_grant_sent_ten_times_at_once_counts_once(postgres):
    user = UserFactory()

    def attempt(n: int) -> str:
        credits_grant(user=user, amount=25, idempotency_key="stripe:cs_1", reason="pack")
        return "sent"

    assert at_once(10, attempt) == ["sent"] * 10
    assert Wallet.objects.get(user=user).balance == 25
    assert LedgerEntry.objects.filter(idempotency_key="stripe:cs_1").count() == 1
