"""Staff credit adjustments are safe money actions (issue 15, finding 4): their
own permission, a review of before → after, one adjustment per confirmed form
(also when sent twice at once), a daily limit per staff member, and a second
staff member's approval above a threshold."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import CreditAdjustment, StaffAction
from accounts.services import AdjustmentRefused, staff_adjustment_request
from credits.models import EntryKind, LedgerEntry, Wallet
from tests.factories import UserFactory
from tests.support.accounts import with_totp
from tests.support.concurrency import at_once

pytestmark = pytest.mark.django_db
TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def _url(user) -> str:
    return reverse("admin:accounts_user_adjust_credits", args=[user.pk])


def _token(client: Client, user) -> str:
    return TOKEN.search(client.get(_url(user)).content.decode())[1]


def _confirm(client: Client, user, amount: int, reason: str = "apology for a slow job", token: str = "") -> object:
    """The form, the review, then Confirm; returns the confirming response."""
    token = token or _token(client, user)
    data = {"amount": str(amount), "reason": reason, "form_token": token}
    review = client.post(_url(user), data)
    assert review.status_code == 200, review
    return client.post(_url(user), {**data, "confirm": "1"})


def _balance(user) -> int:
    return Wallet.objects.get(user=user).balance


@pytest.fixture
def second_staff(db):
    return with_totp(UserFactory(email="second@example.com", is_staff=True, is_superuser=True))


@pytest.fixture
def second_client(second_staff) -> Client:
    client = Client()
    client.force_login(second_staff)
    return client


def test_an_adjustment_is_reviewed_before_to_after_then_made_once(staff_client, staff, alice):
    token = _token(staff_client, alice)
    data = {"amount": "25", "reason": "apology for a slow job", "form_token": token}
    review = staff_client.post(_url(alice), data)
    body = review.content.decode()
    assert review.status_code == 200 and "<strong>125</strong>" in body and f'value="{token}"' in body
    assert not LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT).exists()  # nothing until confirmed

    edit = staff_client.post(_url(alice), {**data, "edit": "1"}).content.decode()
    assert 'value="25"' in edit and f'value="{token}"' in edit  # back to the form, values kept

    first = staff_client.post(_url(alice), {**data, "confirm": "1"})
    again = staff_client.post(_url(alice), {**data, "confirm": "1"}, follow=True)  # double submit
    assert first.status_code == 302
    assert "already submitted" in again.content.decode()
    entry = LedgerEntry.objects.get(kind=EntryKind.ADJUSTMENT)
    assert (entry.amount, entry.actor, entry.reason, entry.wallet.user) == (25, staff, "apology for a slow job", alice)
    action = StaffAction.objects.get()
    assert (action.actor, action.user, action.kind, action.credits) == (staff, alice, "adjust_credits", 25)
    adjustment = CreditAdjustment.objects.get()
    assert (adjustment.status, adjustment.entry, adjustment.requested_by) == ("applied", entry, staff)
    assert _balance(alice) == 125


def test_an_adjustment_needs_a_reason_and_cannot_take_a_wallet_below_zero(staff_client, alice):
    token = _token(staff_client, alice)
    assert staff_client.post(_url(alice), {"amount": "10", "reason": "", "form_token": token}).status_code == 200
    review = staff_client.post(_url(alice), {"amount": "-101", "reason": "clawback", "form_token": token})
    assert review.status_code == 200 and "101" in review.content.decode()
    assert "Review the adjustment for" not in review.content.decode()  # still the form, with the error
    forged = staff_client.post(_url(alice), {"amount": "-101", "reason": "x", "form_token": token, "confirm": "1"})
    assert forged.status_code == 200 and "100 available" in forged.content.decode()
    assert not CreditAdjustment.objects.exists() and not StaffAction.objects.exists()
    assert _balance(alice) == 100


def test_a_confirmation_without_its_form_token_is_refused(staff_client, alice):
    response = staff_client.post(_url(alice), {"amount": "5", "reason": "x", "confirm": "1"})
    assert response.status_code == 200 and "expired" in response.content.decode()
    assert _balance(alice) == 100


def test_over_the_daily_limit_an_adjustment_is_refused(staff_client, alice, settings):
    settings.MIRSAM_ADJUSTMENT_DAILY_LIMIT_CREDITS = 100
    assert _confirm(staff_client, alice, -60, "clawback").status_code == 302  # the size counts, either sign
    token = _token(staff_client, alice)
    review = staff_client.post(_url(alice), {"amount": "41", "reason": "more", "form_token": token})
    assert "you may adjust 40 more credits" in review.content.decode()
    confirm = staff_client.post(_url(alice), {"amount": "41", "reason": "more", "form_token": token, "confirm": "1"})
    assert confirm.status_code == 200 and "daily limit" in confirm.content.decode()
    assert _confirm(staff_client, alice, 40, "the rest").status_code == 302
    assert _balance(alice) == 80
    assert CreditAdjustment.objects.filter(status="applied").count() == 2


def test_above_the_threshold_a_second_staff_member_approves(staff_client, staff, second_client, second_staff, alice):
    response = _confirm(staff_client, alice, 5000, "enterprise trial")
    assert response.status_code == 302
    adjustment = CreditAdjustment.objects.get()
    assert adjustment.status == "pending" and _balance(alice) == 100
    user_page = staff_client.get(reverse("admin:accounts_user_change", args=[alice.pk])).content.decode()
    assert "1 adjustment waits for approval" in user_page

    decide = reverse("admin:accounts_creditadjustment_decide", args=[adjustment.pk])
    own = staff_client.get(decide).content.decode()
    assert "must approve or reject your own" in own and 'name="approve"' not in own
    staff_client.post(decide, {"approve": "1"})  # forged: the requester approves
    assert CreditAdjustment.objects.get().status == "pending" and _balance(alice) == 100

    page = second_client.get(decide).content.decode()
    assert "100 → <strong>5100</strong>" in page and 'name="approve"' in page
    second_client.post(decide, {"approve": "1"})
    twice = second_client.post(decide, {"approve": "1"}, follow=True)
    assert "already decided" in twice.content.decode()

    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.decided_by) == ("applied", second_staff)
    assert _balance(alice) == 5100
    entry = LedgerEntry.objects.get(kind=EntryKind.ADJUSTMENT)
    assert (entry.amount, entry.actor) == (5000, staff)
    kinds = sorted(StaffAction.objects.values_list("kind", "actor__email"))
    assert kinds == [("adjust_credits", staff.email), ("approve_adjustment", second_staff.email)]


def test_a_rejected_adjustment_changes_nothing_and_frees_the_allowance(
    staff_client, staff, second_client, alice, settings
):
    settings.MIRSAM_ADJUSTMENT_DAILY_LIMIT_CREDITS = 3000
    _confirm(staff_client, alice, 2500, "typo: meant 25")
    adjustment = CreditAdjustment.objects.get()
    second_client.post(reverse("admin:accounts_creditadjustment_decide", args=[adjustment.pk]), {"reject": "1"})
    adjustment.refresh_from_db()
    assert adjustment.status == "rejected" and _balance(alice) == 100
    assert not LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT).exists()
    assert StaffAction.objects.get().kind == "reject_adjustment"
    assert _confirm(staff_client, alice, 2500, "meant it after all").status_code == 302  # allowance back


def test_adjusting_and_approving_need_their_own_permissions(alice, staff_client):
    clerk = with_totp(UserFactory(email="clerk@example.com", is_staff=True))
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    client = Client()
    client.force_login(clerk)
    assert client.get(_url(alice)).status_code == 403
    assert client.post(_url(alice), {"amount": "5", "reason": "x", "confirm": "1"}).status_code == 403

    clerk.user_permissions.add(Permission.objects.get(codename="adjust_credits"))
    clerk = type(clerk).objects.get(pk=clerk.pk)  # fresh permission cache
    client.force_login(clerk)
    assert _confirm(client, alice, 2000, "big one").status_code == 302
    adjustment = CreditAdjustment.objects.get()
    decide = reverse("admin:accounts_creditadjustment_decide", args=[adjustment.pk])
    other = with_totp(UserFactory(email="other@example.com", is_staff=True))
    other.user_permissions.add(Permission.objects.get(codename="adjust_credits"))
    other_client = Client()
    other_client.force_login(other)
    assert other_client.post(decide, {"approve": "1"}).status_code == 403  # approving is a permission of its own
    assert CreditAdjustment.objects.get().status == "pending"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_confirmation_sent_eight_times_at_once_is_one_adjustment(postgres):
    staff = UserFactory(is_staff=True, is_superuser=True)
    alice = UserFactory()

    def attempt(n: int) -> str:
        _adjustment, created = staff_adjustment_request(
            actor=staff, user=alice, amount=25, reason="goodwill", form_token="t" * 22
        )
        return "made" if created else "repeat"

    assert sorted(at_once(8, attempt)) == ["made"] + ["repeat"] * 7
    assert Wallet.objects.get(user=alice).balance == 25
    assert LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_eight_different_adjustments_at_once_stay_within_the_daily_limit(postgres, settings):
    settings.MIRSAM_ADJUSTMENT_DAILY_LIMIT_CREDITS = 100
    staff = UserFactory(is_staff=True, is_superuser=True)
    alice = UserFactory()

    def attempt(n: int) -> str:
        try:
            staff_adjustment_request(actor=staff, user=alice, amount=30, reason="goodwill", form_token=f"{n:022d}")
        except AdjustmentRefused:
            return "refused"
        return "made"

    assert sorted(at_once(8, attempt)) == ["made"] * 3 + ["refused"] * 5
    assert Wallet.objects.get(user=alice).balance == 90
