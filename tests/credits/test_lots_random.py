"""Credit lots under a randomized, concurrent workload on PostgreSQL (issue 15):
thousands of grant / hold / capture / release / refund / expire / dispute /
adjust steps from several threads, after which ``check_ledger`` is clean,
every credit that left a wallet was paid by lots that existed before, each
lot's uses add up to the proportional money of what it lost, and recognised
revenue + liability = money received − money refunded.

Figures are printed (``pytest -s``); the seed is fixed so a failure repeats.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from credits.models import CreditLot, EntryKind, Hold, HoldStatus, LedgerEntry, LotUse, LotUseKind, Wallet
from credits.selectors import lot_money
from credits.services import (
    CreditsError,
    credits_adjust,
    credits_capture,
    credits_expire,
    credits_grant,
    credits_hold,
    credits_release,
    credits_revoke,
)
from tests.factories import UserFactory

THREADS = 4
STEPS_PER_THREAD = 800
USERS = 6
SEED = 20261202


def _step(rng: random.Random, users: list, n: int, counts: Counter) -> None:
    user = rng.choice(users)
    op = rng.choices(
        ["free", "paid", "hold", "capture", "release", "refund", "expire", "dispute", "adjust"],
        weights=[6, 8, 20, 16, 8, 6, 3, 4, 4],
    )[0]
    key = f"{threading.get_ident()}:{n}"
    now = timezone.now()
    try:
        if op == "free":
            soon = rng.random() < 0.3
            credits_grant(
                user=user,
                amount=rng.randint(1, 60),
                idempotency_key=f"free:{key}",
                reason="free",
                expires_at=now + timedelta(milliseconds=rng.randint(1, 400)) if soon else None,
            )
        elif op == "paid":
            amount = rng.randint(10, 300)
            credits_grant(
                user=user,
                amount=amount,
                idempotency_key=f"paid:{key}",
                reason="paid",
                kind=EntryKind.PURCHASE,
                reference=f"stripe:{key}",
                money_minor=amount * rng.choice([3, 4, 5]) + rng.randint(0, 99),
                currency=rng.choice(["usd", "usd", "eur"]),
                expires_at=now + timedelta(milliseconds=rng.randint(50, 2000)) if rng.random() < 0.3 else None,
            )
        elif op in ("hold", "dispute"):
            credits_hold(
                user=user,
                amount=rng.randint(1, 80),
                reference=f"{'dispute' if op == 'dispute' else 'work'}:{key}",
                while_owing=op == "dispute",
            )
        elif op in ("capture", "release"):
            hold = Hold.objects.filter(wallet__user=user, status=HoldStatus.OPEN).order_by("?").first()
            if hold is None:
                op += " (none open)"
            elif op == "capture":
                credits_capture(hold=hold, amount=rng.randint(0, hold.amount))
            else:
                credits_release(hold=hold)
        elif op == "refund":
            lot = CreditLot.objects.filter(wallet__user=user, money_minor__gt=0).order_by("?").first()
            if lot is None:
                op += " (nothing bought)"
            else:
                credits_revoke(
                    user=user,
                    amount=rng.randint(1, lot.credits),
                    idempotency_key=f"revoke:{key}",
                    reason="refund",
                    reference=lot.entry.reference,
                    refund_minor=rng.randint(0, lot.money_minor),
                )
        elif op == "expire":
            credits_expire()
        else:
            credits_adjust(user=user, amount=rng.choice([-1, 1]) * rng.randint(1, 40), reason="staff", actor=None)
    except CreditsError:  # refused as it should be: short balance, owed credits, more than available
        op += " (refused)"
    counts[op] += 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_thousands_of_random_money_steps_from_several_threads_keep_lots_and_ledger_exact(postgres):
    users = [UserFactory() for _ in range(USERS)]
    counts: Counter = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def run(t: int) -> None:
        rng = random.Random(SEED + t)
        local: Counter = Counter()
        try:
            barrier.wait()
            for n in range(STEPS_PER_THREAD):
                _step(rng, users, n, local)
        except Exception as exc:  # a deadlock, a constraint: a bug
            errors.append(repr(exc))
        finally:
            connection.close()
            with lock:
                counts.update(local)

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    time.sleep(2.1)  # let every short expiry pass, then expire what is left
    credits_expire()
    elapsed = time.monotonic() - started

    assert errors == []
    call_command("check_ledger")  # balances, held and owed = entries; lots = balances; uses = what lots lost

    # Every credit that left a wallet was paid by lots of that wallet that existed before.
    spending = LedgerEntry.objects.filter(amount__lt=0)
    for entry in spending.prefetch_related("lot_uses__lot"):
        uses = [u for u in entry.lot_uses.all() if u.kind != LotUseKind.REVERSAL]
        assert sum(u.credits for u in uses) == -entry.amount, entry
        assert all(u.lot.wallet_id == entry.wallet_id and u.lot.created_at <= entry.created_at for u in uses), entry

    # Each lot's uses carry exactly the proportional money of the credits it lost.
    for lot in CreditLot.objects.filter(money_minor__gt=0):
        used = lot.uses.exclude(kind=LotUseKind.REVERSAL).aggregate(m=Sum("money_minor"))["m"] or 0
        assert used == lot.money_used_after(lot.remaining), lot

    money = lot_money()
    for row in money:
        assert row.revenue + row.liability == row.received - row.refunded, row
        assert row.liability >= 0 and row.revenue >= 0 and row.refunded >= 0, row
    expired_now = CreditLot.objects.filter(expires_at__lte=timezone.now(), remaining__gt=0)
    held = {w.pk: w.held for w in Wallet.objects.all()}
    assert all(held[lot.wallet_id] > 0 for lot in expired_now)  # only what running work holds can outlive expiry

    steps = sum(counts.values())
    figures = [(m.currency, m.received, m.revenue, m.refunded, m.liability) for m in money]
    print(
        f"\nlots random: {steps} steps in {THREADS} threads, {elapsed:.1f} s; "
        f"{LedgerEntry.objects.count()} entries, {CreditLot.objects.count()} lots, {LotUse.objects.count()} uses; "
        f"ops {dict(sorted(counts.items()))}; money (currency, received, revenue, refunded, liability) {figures}"
    )
    assert steps == THREADS * STEPS_PER_THREAD
