"""The bell and the job e-mails: one notification and at most one e-mail per
finished job, in the owner's language, none while they watch it or when they
turned e-mails off; the bell's count and page are the owner's alone."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import notifications
from accounts.models import Notification, Presence
from generation import services
from generation.models import ProviderTask, TaskStatus
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _finish(user, offer, *, status=TaskStatus.SUCCEEDED, capture=None):
    job = services.job_submit(user=user, offer=offer, params={"prompt": "a cat", "outputs": 1})
    fields = {"status": status}
    if status == TaskStatus.FAILED:
        fields |= {"error_code": "content", "error_message": "refused"}
    ProviderTask.objects.filter(job=job).update(**fields)
    with capture(execute=True):
        services.job_try_finish(job_id=job.pk)
    return job


def _html(message):
    return next(str(c) for c, mimetype in message.alternatives if mimetype == "text/html")


def test_a_finished_job_rings_the_bell_and_e_mails_its_owner_once_in_their_language(
    alice, demo_offer, django_capture_on_commit_callbacks
):
    alice.preferred_language = "ar"
    alice.save()
    job = _finish(alice, demo_offer, capture=django_capture_on_commit_callbacks)
    [notification] = Notification.objects.filter(user=alice)
    assert notification.kind == Notification.Kind.JOB_SUCCEEDED and notification.emailed_at is not None
    [message] = mail.outbox
    assert message.to == [alice.email] and message.subject == "مرسم · إبداعك جاهز"
    html = _html(message)
    assert 'dir="rtl"' in html and f"/ar/jobs/{job.pk}/" in html
    assert f"/ar/jobs/{job.pk}/" in message.body
    # The event told again (a retried task, a second worker): nothing more.
    assert notifications.notify_job_finished(job_id=job.pk) is None
    assert Notification.objects.filter(user=alice).count() == 1 and len(mail.outbox) == 1


def test_a_failed_job_says_its_credits_came_back(alice, demo_offer, django_capture_on_commit_callbacks):
    _finish(alice, demo_offer, status=TaskStatus.FAILED, capture=django_capture_on_commit_callbacks)
    [message] = mail.outbox
    assert "could not be made" in message.subject and "credits were returned" in message.body


def test_no_e_mail_while_the_owner_watches_the_job(alice, alice_client, demo_offer, django_capture_on_commit_callbacks):
    job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a cat", "outputs": 1})
    assert alice_client.get(reverse("job_card", args=[job.pk])).status_code == 200  # the card polls
    assert Presence.objects.filter(user=alice).exists()
    ProviderTask.objects.filter(job=job).update(status=TaskStatus.SUCCEEDED)
    with django_capture_on_commit_callbacks(execute=True):
        services.job_try_finish(job_id=job.pk)
    assert mail.outbox == []
    assert Notification.objects.get(user=alice).emailed_at is None  # the bell still tells


def test_a_creator_who_looked_away_a_while_ago_is_e_mailed(alice, demo_offer, django_capture_on_commit_callbacks):
    Presence.objects.create(user=alice, seen_at=timezone.now() - datetime.timedelta(seconds=90))
    _finish(alice, demo_offer, capture=django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1


def test_no_e_mail_when_turned_off_in_settings(alice, alice_client, demo_offer, django_capture_on_commit_callbacks):
    response = alice_client.post(reverse("account_settings"), {"language": "en"})  # the box unticked
    assert response.status_code == 302
    alice.refresh_from_db()
    assert not alice.email_job_updates
    _finish(alice, demo_offer, capture=django_capture_on_commit_callbacks)
    assert mail.outbox == [] and Notification.objects.filter(user=alice).count() == 1
    alice_client.post(reverse("account_settings"), {"language": "en", "email_job_updates": "on"})
    alice.refresh_from_db()
    assert alice.email_job_updates


def test_a_canceled_job_is_not_news(alice, demo_offer, django_capture_on_commit_callbacks):
    job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a cat", "outputs": 1})
    with django_capture_on_commit_callbacks(execute=True):
        services.job_cancel(job=job)
    assert not Notification.objects.exists() and mail.outbox == []


@pytest.mark.django_db
def test_a_failing_mail_server_leaves_the_job_finished(alice, demo_offer, django_capture_on_commit_callbacks, settings):
    settings.EMAIL_BACKEND = "tests.support.mail.FailingBackend"
    job = _finish(alice, demo_offer, capture=django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == "succeeded" and Notification.objects.filter(user=alice).count() == 1


def test_the_bell_counts_the_owners_unread_and_the_page_marks_them_read(
    alice, alice_client, demo_offer, django_capture_on_commit_callbacks
):
    other = UserFactory()
    Notification.objects.create(user=other, kind="job_succeeded", key="job:999:final", params={"job_id": 999})
    job = _finish(alice, demo_offer, capture=django_capture_on_commit_callbacks)
    badge = alice_client.get(reverse("notifications_badge")).content.decode()
    assert 'class="bell__count">1<' in badge
    page = alice_client.get(reverse("notifications")).content.decode()
    assert reverse("job_detail", args=[job.pk]) in page and "is-new" in page
    assert "/jobs/999/" not in page  # another user's
    assert "bell__count" not in alice_client.get(reverse("notifications_badge")).content.decode()
    assert "is-new" not in alice_client.get(reverse("notifications")).content.decode()
    assert Notification.objects.get(user=other).read_at is None


def test_the_bell_and_its_page_need_a_signed_in_user(client):
    for name in ("notifications", "notifications_badge"):
        assert client.get(reverse(name)).status_code == 302


# --- payments (through the Stripe stand-in and dj-stripe's real webhook endpoint) ---------


def _paid_session(stripe_env, user, offering):
    from billing.services import checkout_start

    checkout_start(user=user, offering=offering, success_url="https://m.test/ok", cancel_url="https://m.test/no")
    return stripe_env.complete_session(stripe_env.of_type("checkout.session")[-1]["id"], paid=True)


def test_a_pack_purchase_sends_one_receipt_with_amount_credits_and_a_link(
    alice, pack, stripe_env, post_event, django_capture_on_commit_callbacks
):
    event = stripe_env.event("checkout.session.completed", _paid_session(stripe_env, alice, pack))
    with django_capture_on_commit_callbacks(execute=True):
        post_event(event)
        post_event(event)  # a second delivery of the same event
    [notification] = Notification.objects.filter(user=alice, kind=Notification.Kind.PURCHASE)
    [message] = [m for m in mail.outbox if "Payment received" in m.subject]
    assert "100 credits" in message.body and "5.00" in message.body
    assert reverse("billing") in message.body  # no Stripe invoice for a one-time checkout here: the billing page
    assert notification.emailed_at is not None


def test_a_plan_renewal_and_a_failed_renewal_are_told_with_stripes_invoice_page(
    alice, plan, stripe_env, post_event, django_capture_on_commit_callbacks
):
    session = _paid_session(stripe_env, alice, plan)
    sub = stripe_env.get(session["subscription"])
    period_end = sub["items"]["data"][0]["current_period_end"]
    renewal = stripe_env.pay_invoice(sub["id"], period_start=period_end, period_end=period_end + 30 * 86400)
    renewal["billing_reason"] = "subscription_cycle"
    renewal["hosted_invoice_url"] = "https://invoice.stripe.test/i/renewal"
    unpaid = stripe_env.pay_invoice(sub["id"], paid=False)
    unpaid["hosted_invoice_url"] = "https://invoice.stripe.test/i/unpaid"
    with django_capture_on_commit_callbacks(execute=True):
        post_event(stripe_env.event("invoice.paid", renewal))
        post_event(stripe_env.event("invoice.payment_failed", unpaid))
        post_event(stripe_env.event("invoice.payment_failed", unpaid))  # told once
    assert Notification.objects.filter(user=alice, kind=Notification.Kind.PLAN_RENEWED).count() == 1
    assert Notification.objects.filter(user=alice, kind=Notification.Kind.RENEWAL_FAILED).count() == 1
    renewed = next(m for m in mail.outbox if "plan renewed" in m.subject)
    failed = next(m for m in mail.outbox if "payment failed" in m.subject)
    assert "https://invoice.stripe.test/i/renewal" in renewed.body
    assert "https://invoice.stripe.test/i/unpaid" in failed.body


def test_a_low_balance_is_told_once_until_it_is_back_above_the_threshold(
    alice, demo_offer, django_capture_on_commit_callbacks
):
    from credits.services import credits_grant, wallet_for

    alice.low_balance_threshold = 200  # alice has 100 available
    alice.save()
    with django_capture_on_commit_callbacks(execute=True):
        first = notifications.low_balance_check(user=alice)
    assert first is not None and len(mail.outbox) == 1
    assert "100 credits left" in mail.outbox[0].body
    assert notifications.low_balance_check(user=alice) is None  # once
    credits_grant(user=alice, amount=150, idempotency_key="t:top-up", reason="top up")
    assert wallet_for(alice).balance == 250
    alice.refresh_from_db()
    assert notifications.low_balance_check(user=alice) is None  # back above: re-armed
    alice.refresh_from_db()
    assert not alice.low_balance_notified
    alice.low_balance_threshold = 0
    alice.save()
    assert notifications.low_balance_check(user=alice) is None  # 0: never


def test_the_settings_page_sets_the_threshold(alice, alice_client):
    alice_client.post(reverse("account_settings"), {"language": "en", "low_balance_threshold": "35"})
    alice.refresh_from_db()
    assert alice.low_balance_threshold == 35
    alice_client.post(reverse("account_settings"), {"language": "en", "low_balance_threshold": "-4"})
    alice.refresh_from_db()
    assert alice.low_balance_threshold == 35  # not a number we take: left as it was
