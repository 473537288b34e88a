"""The operator console's finance and attention figures (issue 15, finding 7
and "a finance and attention view"): revenue recognised from lots at the
price paid, the unspent credits as a liability, MRR and subscribers, the
previous period, what needs attention, and streamed CSV exports."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing.services import checkout_start
from credits.models import CreditLot, EntryKind, Hold, LotUse
from credits.services import credits_capture, credits_grant, credits_hold
from generation import services as generation
from generation.models import Job
from operators.selectors import dashboard_figures
from tests.factories import UserFactory
from tests.support.accounts import with_totp

pytestmark = pytest.mark.django_db


def _buy(user, credits, money, key):
    return credits_grant(
        user=user,
        amount=credits,
        idempotency_key=key,
        reason=key,
        kind=EntryKind.PURCHASE,
        reference=f"stripe:{key}",
        money_minor=money,
        currency="usd",
    )


def test_revenue_is_what_the_spent_credits_were_bought_for_and_the_rest_a_liability(alice):
    _buy(alice, 100, 500, "pack")  # alice also has 100 free credits (fixture), spent first
    credits_capture(hold=credits_hold(user=alice, amount=130, reference="job:a"))  # 100 free + 30 paid
    (usd,) = dashboard_figures(period_days=30).finance
    assert (usd.received, usd.revenue, usd.refunded, usd.liability) == (500, 150, 0, 350)
    assert usd.revenue_major == usd.revenue / 100

    # What was recognised before the period counts as the previous period's.
    LotUse.objects.update(created_at=timezone.now() - timedelta(days=40))
    CreditLot.objects.update(created_at=timezone.now() - timedelta(days=40))
    (usd,) = dashboard_figures(period_days=30).finance
    assert (usd.received, usd.revenue, usd.previous_revenue, usd.liability) == (0, 0, 150, 350)


def test_mrr_and_subscribers_come_from_live_subscriptions(alice, plan, stripe_env, post_event):
    checkout_start(user=alice, offering=plan, success_url="https://m.test/ok", cancel_url="https://m.test/no")
    session = stripe_env.complete_session(stripe_env.of_type("checkout.session")[-1]["id"])
    post_event(stripe_env.event("customer.subscription.created", stripe_env.get(session["subscription"])))
    figures = dashboard_figures(period_days=30)
    assert figures.subscribers == 1
    assert [(row.currency, row.mrr) for row in figures.finance] == [("usd", 1200)]


def test_attention_counts_stuck_jobs_old_holds_and_failed_webhooks(alice, demo_offer, settings):
    from djstripe.models import WebhookEventTrigger

    job = generation.job_submit(user=alice, offer=demo_offer, params={"prompt": "stuck"})
    long_ago = timezone.now() - timedelta(days=2)
    Job.objects.filter(pk=job.pk).update(created_at=long_ago)
    Hold.objects.filter(pk=job.hold_id).update(created_at=long_ago)
    WebhookEventTrigger.objects.create(body="{}", headers={}, remote_ip="127.0.0.1", exception="boom", valid=True)
    attention = dashboard_figures(period_days=30).attention
    assert (attention.stuck_jobs, attention.old_holds, attention.failed_webhooks) == (1, 1, 1)
    assert attention.last_webhook_at is not None and attention.any


def _rows(response) -> list[list[str]]:
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_exports_stream_the_ledger_purchases_and_revocations_as_csv(staff_client, alice):
    _buy(alice, 100, 500, "pack")
    ledger = _rows(staff_client.get(reverse("staff_export", args=["ledger"])))
    assert ledger[0][:4] == ["time", "user", "kind", "amount"]
    assert [row[2] for row in ledger[1:]] == ["grant", "purchase"]  # the fixture's grant, then the pack
    assert all(row[1] == "alice@example.com" for row in ledger[1:])
    tomorrow = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%d")
    assert len(_rows(staff_client.get(reverse("staff_export", args=["ledger"]), {"since": tomorrow}))) == 1
    assert _rows(staff_client.get(reverse("staff_export", args=["purchases"])))[0][0] == "time"
    assert staff_client.get(reverse("staff_export", args=["wallets"])).status_code == 404
    assert staff_client.get(reverse("staff_export", args=["ledger"]), {"since": "yesterday"}).status_code == 404


def test_an_export_needs_the_view_permission_of_what_it_exports(alice):
    clerk = with_totp(UserFactory(email="clerk@example.com", is_staff=True))
    client = Client()
    client.force_login(clerk)
    assert client.get(reverse("staff_export", args=["ledger"])).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_ledgerentry"))
    assert client.get(reverse("staff_export", args=["ledger"])).status_code == 200
    assert client.get(reverse("staff_export", args=["purchases"])).status_code == 403


def test_the_dashboard_shows_finance_and_attention_in_both_languages(staff_client, alice):
    _buy(alice, 100, 500, "pack")
    english = staff_client.get(reverse("admin:index")).content.decode()
    assert "Revenue recognised" in english and "Needs attention" in english
    assert reverse("staff_export", args=["ledger"]) in english
    arabic = staff_client.get("/ar" + reverse("admin:index")).content.decode()
    assert 'dir="rtl"' in arabic and "الإيرادات المعترف بها" in arabic


def test_a_models_margin_is_what_its_credits_were_bought_for_less_refunds_and_what_kie_billed(alice, settings):
    from decimal import Decimal

    from generation.models import JobStatus, ProviderTask, TaskStatus
    from tests.factories import OfferFactory

    settings.KIE_CREDIT_USD = "0.005"
    offer = OfferFactory(slug="margin", adapter="kie", price_credits=5, options={"cost": {"usd": "0.10"}})
    job = Job.objects.create(
        user=alice,
        offer=offer,
        service=offer.service,
        status=JobStatus.SUCCEEDED,
        params={"outputs": 2},
        price_credits=150,
        charged_credits=150,
        refunded_credits=75,
    )
    _buy(alice, 100, 500, "pack")  # alice's 100 free credits go first: 50 of the 150 are paid, $2.50
    credits_capture(hold=credits_hold(user=alice, amount=150, reference=f"job:{job.pk}"))
    ProviderTask.objects.create(job=job, index=0, status=TaskStatus.SUCCEEDED, billed_credits=6)  # $0.03 billed
    ProviderTask.objects.create(job=job, index=1, status=TaskStatus.SUCCEEDED)  # says nothing: the $0.10 estimate
    (row,) = dashboard_figures(period_days=30).top_models
    assert row.cost_usd == Decimal("0.1300")
    assert row.value_usd == Decimal("1.2500")  # $2.50 paid, half of the credits refunded by staff


def test_stripes_fee_is_read_after_the_grant_and_taken_from_the_revenue(
    alice, pack, stripe_env, post_event, django_capture_on_commit_callbacks
):
    from decimal import Decimal

    from billing.models import Purchase

    checkout_start(user=alice, offering=pack, success_url="https://m.test/ok", cancel_url="https://m.test/no")
    session = stripe_env.complete_session(stripe_env.of_type("checkout.session")[-1]["id"])
    with django_capture_on_commit_callbacks(execute=True):
        post_event(stripe_env.event("checkout.session.completed", session))
    purchase = Purchase.objects.get()
    assert purchase.fee == round(500 * 0.029) + 30  # the stand-in's BalanceTransaction fee, as Stripe's 2.9 % + 30
    credits_capture(hold=credits_hold(user=alice, amount=200, reference="job:all"))  # all credits: 100 free + 100
    (usd,) = dashboard_figures(period_days=30).finance
    assert (usd.revenue, usd.fees) == (500, purchase.fee)
    assert usd.net_major == Decimal(500 - purchase.fee) / 100
