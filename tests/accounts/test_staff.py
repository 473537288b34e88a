"""Staff access to the admin and the money actions they take there."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import StaffAction
from credits.models import EntryKind, HoldStatus, LedgerEntry, Wallet
from generation import services
from generation.models import Job, JobStatus
from tests.factories import UserFactory
from tests.support.accounts import fund

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    "admin:index",
    "admin:accounts_user_changelist",
    "admin:generation_job_changelist",
    "admin:credits_ledgerentry_changelist",
    "admin:accounts_staffaction_changelist",
]


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_a_visitor_is_sent_to_log_in_through_allauth(client, name):
    response = client.get(reverse(name), follow=True)
    hops = [url for url, _status in response.redirect_chain]
    assert any(url.startswith(reverse("account_login")) for url in hops), hops
    assert response.status_code == 200 and 'name="login"' in response.content.decode()


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_a_creator_cannot_reach_any_admin_page(alice_client, name):
    assert alice_client.get(reverse(name), follow=True).status_code == 403


def test_staff_without_a_second_factor_are_sent_to_set_one_up(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_activate_totp"))
    arabic = client.get("/ar" + reverse("admin:accounts_user_changelist"))
    assert arabic.status_code == 302 and "/2fa/totp/activate/" in arabic["Location"]


def test_staff_with_an_authenticator_app_reach_the_admin(staff_client):
    assert staff_client.get(reverse("admin:index")).status_code == 200


def _job(user, offer, capture, *, fail=False, settings=None) -> Job:
    if settings is not None:
        settings.DEMO_FAILURE_RATE = 1.0 if fail else 0.0
    with capture(execute=True):
        job = services.job_submit(user=user, offer=offer, params={"prompt": "x", "outputs": 2})
    job.refresh_from_db()
    return job


def test_retrying_a_failed_job_creates_a_new_held_job(
    staff_client, staff, alice, demo_offer, settings, django_capture_on_commit_callbacks
):
    failed = _job(alice, demo_offer, django_capture_on_commit_callbacks, fail=True, settings=settings)
    assert failed.status == JobStatus.FAILED
    settings.CELERY_TASK_ALWAYS_EAGER = False  # look at the new job before a worker runs it
    from config.celery import app

    app.conf.task_always_eager = False
    try:
        response = staff_client.post(reverse("admin:generation_job_retry", args=[failed.pk]))
    finally:
        app.conf.task_always_eager = True
    new = Job.objects.exclude(pk=failed.pk).get()
    assert response.status_code == 302
    assert (new.user, new.parent, new.status, new.price_credits) == (alice, failed, JobStatus.QUEUED, 4)
    assert new.hold.status == HoldStatus.OPEN and Wallet.objects.get(user=alice).held == 4
    assert StaffAction.objects.get().kind == "job_retry"


def test_a_refund_gives_the_charge_back_once(
    staff_client, staff, alice, demo_offer, django_capture_on_commit_callbacks
):
    job = _job(alice, demo_offer, django_capture_on_commit_callbacks)
    assert job.charged_credits == 4
    url = reverse("admin:generation_job_refund", args=[job.pk])
    assert staff_client.get(url).status_code == 200
    staff_client.post(url, {"reason": "blurry result"})
    staff_client.post(url, {"reason": "again"})
    assert Wallet.objects.get(user=alice).balance == 100
    entry = LedgerEntry.objects.get(kind=EntryKind.JOB_REFUND)
    assert (entry.amount, entry.actor, entry.reason) == (4, staff, "blurry result")
    assert StaffAction.objects.filter(kind="job_refund").count() == 1
    with pytest.raises(services.GenerationError):
        services.job_refund(job=job, actor=staff, reason="third time")


def test_refunding_a_running_job_cancels_it_and_releases_the_hold(staff, alice, demo_offer, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "x", "outputs": 1})
    assert Wallet.objects.get(user=alice).held == 2
    job = services.job_refund(job=job, actor=staff, reason="stuck at the provider")
    assert job.status == JobStatus.CANCELED and "stuck at the provider" in job.error_message
    wallet = Wallet.objects.get(user=alice)
    assert (wallet.balance, wallet.held) == (100, 0)


def test_a_refund_needs_a_reason(staff, alice, demo_offer, django_capture_on_commit_callbacks):
    job = _job(alice, demo_offer, django_capture_on_commit_callbacks)
    with pytest.raises(services.GenerationError):
        services.job_refund(job=job, actor=staff, reason=" ")


def test_the_job_inspector_shows_provider_calls_and_the_margin(
    staff_client, alice, demo_offer, django_capture_on_commit_callbacks
):
    job = _job(alice, demo_offer, django_capture_on_commit_callbacks)
    body = staff_client.get(reverse("admin:generation_job_change", args=[job.pk])).content.decode()
    assert "demo://createTask" in body and "Margin" in body
    assert reverse("admin:generation_job_refund", args=[job.pk]) in body


def test_the_user_page_links_jobs_payments_and_shows_the_ledger(staff_client, alice):
    fund(alice, 7)
    body = staff_client.get(reverse("admin:accounts_user_change", args=[alice.pk])).content.decode()
    assert reverse("admin:accounts_user_adjust_credits", args=[alice.pk]) in body
    assert f"/generation/job/?user__id__exact={alice.pk}" in body
    assert f"/billing/purchase/?user__id__exact={alice.pk}" in body
    assert "+7" in body


@pytest.mark.parametrize("flt", ["paid=yes", "paid=no", "plan=yes", "plan=no"])
def test_user_filters_work(staff_client, flt):
    assert staff_client.get(reverse("admin:accounts_user_changelist") + "?" + flt).status_code == 200


def test_every_link_on_the_user_page_opens_that_users_rows(staff_client, alice, charlie):
    fund(alice, 7)
    fund(charlie, 9)
    body = staff_client.get(reverse("admin:accounts_user_change", args=[alice.pk])).content.decode()
    links = [
        href.replace("&amp;", "&") for href in re.findall(r'href="([^"]+__exact=\d+)"', body) if str(alice.pk) in href
    ]
    assert len(links) == 4, links  # ledger, jobs, payments, Stripe customer
    for href in links:
        response = staff_client.get(href)
        assert response.status_code == 200, f"{href} answered {response.status_code}"
    ledger = staff_client.get(next(h for h in links if "ledgerentry" in h))
    assert set(ledger.context["cl"].queryset.values_list("wallet__user", flat=True)) == {alice.pk}
