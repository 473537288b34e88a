from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from credits.models import EntryKind, HoldStatus, LedgerEntry, Wallet
from credits.services import (
    CreditsError,
    InsufficientCredits,
    credits_adjust,
    credits_capture,
    credits_grant,
    credits_hold,
    credits_release,
    wallet_for,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _wallet(user) -> Wallet:
    return Wallet.objects.get(user=user)


def test_a_grant_adds_credits_and_writes_one_entry():
    user = UserFactory()
    entry = credits_grant(user=user, amount=30, idempotency_key="g1", reason="gift")
    assert (_wallet(user).balance, _wallet(user).held) == (30, 0)
    assert (entry.kind, entry.amount, entry.balance_after) == (EntryKind.GRANT, 30, 30)


def test_a_repeated_grant_with_the_same_key_counts_once():
    user = UserFactory()
    first = credits_grant(user=user, amount=30, idempotency_key="same", reason="x")
    again = credits_grant(user=user, amount=30, idempotency_key="same", reason="x")
    assert first.pk == again.pk
    assert _wallet(user).balance == 30
    assert LedgerEntry.objects.count() == 1


@pytest.mark.parametrize("amount", [0, -5])
def test_a_grant_must_be_positive(amount):
    with pytest.raises(CreditsError):
        credits_grant(user=UserFactory(), amount=amount, idempotency_key="k", reason="x")


def test_a_hold_reserves_credits_without_spending_them():
    user = UserFactory()
    credits_grant(user=user, amount=10, idempotency_key="g", reason="x")
    hold = credits_hold(user=user, amount=4, reference="work:1")
    w = _wallet(user)
    assert (w.balance, w.held, w.available) == (10, 4, 6)
    assert hold.status == HoldStatus.OPEN


def test_a_hold_beyond_the_available_balance_is_refused_and_changes_nothing():
    user = UserFactory()
    credits_grant(user=user, amount=10, idempotency_key="g", reason="x")
    credits_hold(user=user, amount=8, reference="work:1")
    with pytest.raises(InsufficientCredits) as err:
        credits_hold(user=user, amount=3, reference="work:2")
    assert (err.value.needed, err.value.available) == (3, 2)
    assert "3" in err.value.message
    assert _wallet(user).held == 8
    assert LedgerEntry.objects.filter(kind=EntryKind.HOLD).count() == 1


def test_holding_twice_for_the_same_reference_returns_the_first_hold():
    user = UserFactory()
    credits_grant(user=user, amount=10, idempotency_key="g", reason="x")
    first = credits_hold(user=user, amount=4, reference="work:1")
    second = credits_hold(user=user, amount=4, reference="work:1")
    assert first.pk == second.pk
    assert _wallet(user).held == 4


def test_a_capture_spends_the_hold():
    user = UserFactory()
    credits_grant(user=user, amount=10, idempotency_key="g", reason="x")
    hold = credits_capture(hold=credits_hold(user=user, amount=4, reference="work:1"))
    w = _wallet(user)
    assert (w.balance, w.held) == (6, 0)
    assert (hold.status, hold.captured_amount) == (HoldStatus.CAPTURED, 4)


def test_a_partial_capture_charges_part_and_releases_the_rest():
    user = UserFactory()
    credits_grant(user=user, amount=10, idempotency_key="g", reason="x")
    hold = credits_hold(user=user, amount=8, reference="work:1")
    credits_capture(hold=hold, amount=2)
    w = _wallet(user)
    assert (w.balance, w.held) == (8, 0)
    kinds = list(LedgerEntry.objects.order_by("id").values_list("kind", "amount", "held_delta"))
    assert kinds[-2:] == [(EntryKind.CAPTURE, -2, -2), (EntryKind.RELEASE, 0, -6)]


def test_a_second_capture_or_release_of_a_closed_hold_changes_nothing():
    user = UserFactory()
    credits_grant(user=user, amount=10, idempotency_key="g", reason="x")
    hold = credits_hold(user=user, amount=4, reference="work:1")
    credits_capture(hold=hold)
    credits_capture(hold=hold)
    credits_release(hold=hold)
    assert (_wallet(user).balance, _wallet(user).held) == (6, 0)
    assert LedgerEntry.objects.filter(kind=EntryKind.CAPTURE).count() == 1
    assert LedgerEntry.objects.filter(kind=EntryKind.RELEASE).count() == 0


def test_a_release_returns_every_held_credit():
    user = UserFactory()
    credits_grant(user=user, amount=10, idempotency_key="g", reason="x")
    hold = credits_release(hold=credits_hold(user=user, amount=4, reference="work:1"))
    assert (_wallet(user).balance, _wallet(user).held) == (10, 0)
    assert hold.status == HoldStatus.RELEASED


def test_a_capture_larger_than_its_hold_is_refused():
    user = UserFactory()
    credits_grant(user=user, amount=10, idempotency_key="g", reason="x")
    hold = credits_hold(user=user, amount=4, reference="work:1")
    with pytest.raises(CreditsError):
        credits_capture(hold=hold, amount=5)
    assert _wallet(user).held == 4


def test_an_adjustment_records_its_actor_and_reason():
    user, staff = UserFactory(), UserFactory(is_staff=True)
    entry = credits_adjust(user=user, amount=7, reason="goodwill", actor=staff)
    assert (entry.kind, entry.amount, entry.actor, entry.reason) == (EntryKind.ADJUSTMENT, 7, staff, "goodwill")
    assert _wallet(user).balance == 7


def test_a_negative_adjustment_cannot_take_the_wallet_below_zero_or_touch_held_credits():
    user, staff = UserFactory(), UserFactory(is_staff=True)
    credits_grant(user=user, amount=10, idempotency_key="g", reason="x")
    credits_hold(user=user, amount=6, reference="work:1")
    with pytest.raises(InsufficientCredits):
        credits_adjust(user=user, amount=-5, reason="clawback", actor=staff)
    credits_adjust(user=user, amount=-4, reason="clawback", actor=staff)
    w = _wallet(user)
    assert (w.balance, w.held) == (6, 6)


def test_an_adjustment_needs_a_reason():
    with pytest.raises(CreditsError):
        credits_adjust(user=UserFactory(), amount=5, reason="  ", actor=None)


def test_the_database_refuses_a_negative_balance_even_past_the_services():
    wallet = wallet_for(UserFactory())
    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(pk=wallet.pk).update(balance=-1)


def test_check_ledger_is_clean_after_every_kind_of_change_and_reports_drift(capsys):
    user = UserFactory()
    credits_grant(user=user, amount=10, idempotency_key="g", reason="x")
    credits_capture(hold=credits_hold(user=user, amount=3, reference="work:1"))
    credits_release(hold=credits_hold(user=user, amount=2, reference="work:2"))
    credits_hold(user=user, amount=1, reference="work:3")
    call_command("check_ledger")
    assert "Ledger clean" in capsys.readouterr().out
    Wallet.objects.filter(user=user).update(balance=100)
    with pytest.raises(CommandError):
        call_command("check_ledger")
