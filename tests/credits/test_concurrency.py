"""Money paths under real concurrency: PostgreSQL row locks, separate connections."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.db import connection

from credits.models import LedgerEntry, Wallet
from credits.services import InsufficientCredits, credits_grant, credits_hold
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_concurrent_holds_against_a_balance_for_five_let_exactly_five_through(postgres):
    user = UserFactory()
    credits_grant(user=user, amount=50, idempotency_key="fund", reason="test")
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        try:
            barrier.wait()
            credits_hold(user=user, amount=10, reference=f"job:{n}")
            result = "held"
        except InsufficientCredits:
            result = "refused"
        except Exception as exc:  # anything else is a bug; record it
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(outcomes) == ["held"] * 5 + ["refused"] * 15
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.held) == (50, 50)
    assert LedgerEntry.objects.filter(kind="hold").count() == 5
    assert all(e.held_after <= e.balance_after for e in LedgerEntry.objects.all())
    call_command("check_ledger")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_grant_sent_ten_times_at_once_counts_once(postgres):
    user = UserFactory()
    barrier = threading.Barrier(10)

    def attempt() -> None:
        try:
            barrier.wait()
            credits_grant(user=user, amount=25, idempotency_key="stripe:cs_1", reason="pack")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert Wallet.objects.get(user=user).balance == 25
    assert LedgerEntry.objects.filter(idempotency_key="stripe:cs_1").count() == 1
