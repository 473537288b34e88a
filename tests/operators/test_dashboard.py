"""The operator dashboard on the admin index: figures equal a hand count, the
page renders in English and Arabic (RTL), the query count does not grow with
the data, kie.ai's credits come from the API (or say "unavailable")."""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from billing.models import CreditPack, Plan
from billing.services import purchase_from_invoice, purchase_from_session, revoke_for_dispute, revoke_for_refund
from credits.models import EntryKind
from credits.services import credits_adjust, credits_capture, credits_grant, credits_hold
from generation.models import Job, JobStatus, ProviderTask, TaskStatus
from operators import charts
from operators.selectors import Series, dashboard_figures, minor_to_major
from providers.models import ProviderCall
from tests.factories import OfferFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    settings.KIE_API_KEY = ""
    cache.clear()
    yield
    cache.clear()


@contextmanager
def at(when: datetime):
    """Rows created inside get ``when`` as their auto_now_add time."""
    with mock.patch("django.utils.timezone.now", return_value=when):
        yield


def _operator():
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    user = UserFactory(email="operator@example.com", is_staff=True, is_superuser=True)
    TOTP.activate(user, generate_totp_secret())  # staff need a second factor to reach the admin
    return user


@pytest.fixture
def operator_client():
    client = Client()
    client.force_login(_operator())
    return client


# --- a data set counted by hand ----------------------------------------------------


def _job(user, offer, *, status, charged=0, tasks=(), when, params=None):
    with at(when):
        job = Job.objects.create(
            user=user,
            offer=offer,
            service=offer.service,
            status=status,
            params={"prompt": "x", "outputs": max(1, len(tasks)), **(params or {})},
            price_credits=offer.price_credits * max(1, len(tasks)),
            charged_credits=charged,
        )
        for index, task_status in enumerate(tasks):
            ProviderTask.objects.create(job=job, index=index, status=task_status)
    return job


def _call(adapter, latency, *, when, status=200, error=""):
    with at(when):
        return ProviderCall.objects.create(
            adapter=adapter,
            operation="fetch",
            method="GET",
            url="https://p.test/",
            status_code=status,
            error=error,
            latency_ms=latency,
        )


def _session(user, pack, sid, *, amount, currency, pi):
    return {
        "id": sid,
        "mode": "payment",
        "payment_status": "paid",
        "amount_total": amount,
        "currency": currency,
        "payment_intent": pi,
        "metadata": {"mirsam_user_id": str(user.pk), "mirsam_pack": pack.slug},
    }


@pytest.fixture
def world():
    """Everything the dashboard counts, some of it inside the last 30 days
    before NOW and some outside, with the expected figures written by hand."""
    d = timedelta(days=1)
    h = timedelta(hours=1)
    staff = UserFactory(date_joined=NOW - 2 * h, is_staff=True)  # staff are not new users
    ann = UserFactory(date_joined=NOW - h)
    bob = UserFactory(date_joined=NOW - 5 * h)  # 07:00 the same day
    cid = UserFactory(date_joined=NOW - 3 * d)
    dee = UserFactory(date_joined=NOW - 10 * d)
    UserFactory(date_joined=NOW - 40 * d)

    # Credits: grants, staff adjustments, a job refund, a hold partly captured.
    with at(NOW - 2 * d):
        credits_grant(user=ann, amount=50, idempotency_key="t-grant-ann", reason="bonus")
        credits_grant(user=bob, amount=500, idempotency_key="t-grant-bob", reason="bonus")
        credits_adjust(user=bob, amount=15, reason="goodwill", actor=staff)
        credits_adjust(user=bob, amount=-5, reason="correction", actor=staff)
        credits_grant(user=bob, amount=3, idempotency_key="t-job-refund", reason="job", kind="job_refund")
        hold = credits_hold(user=bob, amount=10, reference="job:t1")
    with at(NOW - d):
        credits_capture(hold=hold, amount=6)
    with at(NOW - 40 * d):  # outside the period
        credits_grant(user=dee, amount=70, idempotency_key="t-grant-old", reason="old")
        old = credits_hold(user=dee, amount=5, reference="job:t-old")
        credits_capture(hold=old)

    # Payments: packs in USD and EUR, a plan, refunds (cumulative), a lost dispute.
    pack = CreditPack.objects.create(slug="ops-pack", name="Ops", credits=100, price_amount=500, currency="usd")
    plan = Plan.objects.create(slug="ops-plan", name="Ops plan", credits_per_period=300, price_amount=1200)
    with at(NOW - 45 * d):
        purchase_from_session(session=_session(dee, pack, "cs_old", amount=500, currency="usd", pi="pi_old"))
    with at(NOW - 44 * d):  # first partial refund of the old purchase: before the period
        revoke_for_refund(charge={"id": "ch_old", "payment_intent": "pi_old", "amount": 500, "amount_refunded": 200})
    with at(NOW - d):
        purchase_from_session(session=_session(cid, pack, "cs_1", amount=500, currency="usd", pi="pi_1"))
        purchase_from_session(session=_session(cid, pack, "cs_2", amount=500, currency="usd", pi="pi_2"))
        purchase_from_session(session=_session(ann, pack, "cs_eur", amount=1000, currency="eur", pi="pi_eur"))
        purchase_from_invoice(
            invoice={
                "id": "in_1",
                "status": "paid",
                "amount_paid": 1200,
                "currency": "usd",
                "parent": {
                    "subscription_details": {"metadata": {"mirsam_user_id": str(ann.pk), "mirsam_plan": plan.slug}}
                },
            }
        )
    with at(NOW - 2 * d):  # the old purchase refunded in full: its last 300 cents fall in the period
        revoke_for_refund(charge={"id": "ch_old", "payment_intent": "pi_old", "amount": 500, "amount_refunded": 500})
    with at(NOW - h):
        revoke_for_refund(charge={"id": "ch_1", "payment_intent": "pi_1", "amount": 500, "amount_refunded": 100})
        revoke_for_dispute(dispute={"id": "dp_1", "status": "lost", "payment_intent": "pi_eur", "amount": 1000})

    # Jobs and their provider tasks.
    img = OfferFactory(slug="ops-img", service="image", price_credits=2, options={"cost": {"usd": "0.02"}})
    vid = OfferFactory(
        slug="ops-vid",
        service="video",
        provider_model="demo/video",
        price_credits=10,
        # The estimate follows each job's settings: 0.5 at the default 5 s, 1.0 at 10 s.
        options={
            "params": {"duration": {"choices": ["5", "10"], "default": "5"}},
            "cost": {"usd": "0.5", "times": {"duration": {"10": "2"}}},
        },
    )
    ok, bad = TaskStatus.SUCCEEDED, TaskStatus.FAILED
    _job(ann, img, status=JobStatus.SUCCEEDED, charged=4, tasks=[ok, ok], when=NOW - d)
    _job(ann, img, status=JobStatus.SUCCEEDED, charged=2, tasks=[ok, bad], when=NOW - 2 * d)
    _job(bob, img, status=JobStatus.FAILED, tasks=[bad], when=NOW - 3 * d)
    _job(bob, vid, status=JobStatus.SUCCEEDED, charged=10, tasks=[ok], when=NOW - 5 * d, params={"duration": "10"})
    _job(cid, vid, status=JobStatus.PROCESSING, tasks=[TaskStatus.RUNNING], when=NOW - h)
    _job(cid, img, status=JobStatus.SUCCEEDED, charged=2, tasks=[ok], when=NOW - 40 * d)  # outside

    # Provider calls: demo 20 calls (2 errors), kie 7 calls (2 errors), one old call outside.
    demo_latencies = [10 * i for i in range(1, 21)]
    for i, latency in enumerate(demo_latencies):
        _call("demo", latency, when=NOW - d, status=500 if i == 3 else (None if i == 7 else 200))
    kie_latencies = [100, 900, 300, 50, 700, 20, 400]
    for i, latency in enumerate(kie_latencies):
        _call("kie", latency, when=NOW - 2 * d, status=429 if i == 0 else 200, error="bad_response" if i == 4 else "")
    _call("kie", 99_999, when=NOW - 40 * d, status=503)

    def p95(values):
        return sorted(values)[math.ceil(0.95 * len(values)) - 1]

    return {
        "users": (2, 3, 4),
        "revenue": {
            # (payments, paid, refunded, disputed) in minor units
            "usd": (3, 500 + 500 + 1200, 300 + 100, 0),
            "eur": (1, 1000, 0, 1000),
        },
        "credits": {
            "bought": 100 + 100 + 100 + 300,
            "granted": 50 + 500,
            "adjusted": 15 - 5,
            "spent": 6,
            "returned": 4,
            # refunds: the old purchase's remaining 60 of 100 credits, 20 of
            # cs_1 (100/500 refunded), all 100 of the disputed EUR pack
            "taken_back": 60 + 20 + 100,
            "refunded_by_staff": 3,
        },
        "jobs": {
            ("image", "succeeded"): 2,
            ("image", "failed"): 1,
            ("video", "succeeded"): 1,
            ("video", "processing"): 1,
        },
        "top_models": [
            # slug, jobs, done, failed, outputs, charged, cost, value (these jobs' credits
            # were free grants: worth nothing, tests/operators/test_finance.py has paid ones)
            ("ops-img", 3, 2, 1, 3, 6, Decimal("0.06"), Decimal("0")),
            ("ops-vid", 2, 1, 0, 1, 10, Decimal("1.0"), Decimal("0")),  # one 10 s video: 2 × $0.5
        ],
        "providers": {
            "demo": (20, 2, p95(demo_latencies)),
            "kie": (7, 2, p95(kie_latencies)),
        },
    }


def test_the_figures_equal_a_count_by_hand(world):
    figures = dashboard_figures(period_days=30, now=NOW)

    assert (figures.new_users_today, figures.new_users_7d, figures.new_users_30d) == world["users"]
    assert figures.new_users_period == 4

    revenue = {row.currency: (row.purchases, row.gross, row.refunded, row.disputed) for row in figures.revenue}
    assert revenue == world["revenue"]
    usd = next(row for row in figures.revenue if row.currency == "usd")
    assert usd.net == 2200 - 400 and usd.net_major == Decimal("18.00")

    credits = figures.credits
    assert {name: getattr(credits, name) for name in world["credits"]} == world["credits"]

    jobs = {
        (row.service, status): count
        for row in figures.jobs
        for (status, _label), count in zip(figures.job_statuses, row.counts, strict=True)
        if count
    }
    assert jobs == world["jobs"]
    assert [row.service for row in figures.jobs] == ["image", "video", "avatar", "audio"]
    assert (figures.jobs_total, figures.jobs_succeeded, figures.jobs_failed) == (5, 3, 1)

    top = [
        (row.slug, row.jobs, row.succeeded, row.failed, row.outputs, row.charged_credits, row.cost_usd, row.value_usd)
        for row in figures.top_models
    ]
    assert top == world["top_models"]
    img, vid = figures.top_models
    assert (img.margin_usd, img.margin_percent) == (Decimal("-0.06"), None)
    assert (vid.margin_usd, vid.margin_percent) == (Decimal("-1.0"), None)

    providers = {row.adapter: (row.calls, row.errors, row.p95_ms) for row in figures.providers}
    assert providers == world["providers"]
    assert providers["demo"][2] == 190 and providers["kie"][2] == 900
    assert (figures.provider_errors, figures.provider_calls) == (4, 27)  # retried attempts included
    assert figures.provider_error_percent == Decimal("25.0")  # 1 failed job of 4 finished


def test_the_period_picks_what_counts(world):
    week = dashboard_figures(period_days=7, now=NOW)
    assert week.new_users_period == 3
    assert week.credits.granted == 550 and week.credits.spent == 6
    quarter = dashboard_figures(period_days=90, now=NOW)
    assert quarter.credits.granted == 550 + 70 and quarter.credits.spent == 6 + 5
    # Over 90 days the old purchase and both of its refunds count: 200 + 300 cents.
    usd = next(row for row in quarter.revenue if row.currency == "usd")
    assert (usd.purchases, usd.gross, usd.refunded) == (4, 2700, 500 + 100)
    assert {row.adapter: row.p95_ms for row in quarter.providers}["kie"] == 99_999


def test_the_daily_series_cover_thirty_days_ending_today(world):
    figures = dashboard_figures(period_days=30, now=NOW)
    days = figures.daily_jobs.days
    assert len(days) == 30 and days[-1] == NOW.date() and days[0] == NOW.date() - timedelta(days=29)
    by_day = dict(zip(days, figures.daily_jobs.values, strict=True))
    assert by_day[NOW.date()] == 1 and by_day[NOW.date() - timedelta(days=1)] == 1
    assert figures.daily_jobs.total == 5
    assert dict(zip(days, figures.daily_new_users.values, strict=True))[NOW.date()] == 2
    assert figures.daily_credits_spent.total == 6
    assert [(s.currency, s.total) for s in figures.daily_revenue] == [("eur", 1000), ("usd", 2200)]


def test_money_is_shown_in_major_units():
    assert minor_to_major(1999, "usd") == Decimal("19.99")
    assert minor_to_major(500, "jpy") == Decimal("500")


# --- the page ------------------------------------------------------------------------


def test_the_admin_index_shows_the_dashboard_in_english(operator_client, world):
    response = operator_client.get(reverse("admin:index"))
    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="en" dir="ltr">' in body
    assert "Operator dashboard" in body and "ops-chart" in body
    assert "operators/dashboard.css" in body
    assert body.index('class="ops"') < body.index("app-accounts")
    assert response.context["figures"].period_days == 30


def test_the_admin_index_is_right_to_left_in_arabic(operator_client, world):
    response = operator_client.get("/ar/admin/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'lang="ar" dir="rtl"' in body
    assert "ops-chart" in body
    translation.activate("en")


@pytest.mark.parametrize(("asked", "used"), [("7", 7), ("90", 90), ("13", 30), ("x", 30)])
def test_the_period_picker(operator_client, asked, used):
    response = operator_client.get(reverse("admin:index"), {"period": asked})
    assert response.context["figures"].period_days == used
    assert 'aria-current="page"' in response.content.decode()


def test_charts_run_with_the_reading_direction():
    days = tuple(NOW.date() - timedelta(days=n) for n in (2, 1, 0))
    series = Series(days=days, values=(1, 0, 4))
    ltr = charts.bars_svg(series, label="jobs", rtl=False)
    rtl = charts.bars_svg(series, label="jobs", rtl=True)

    def bars(svg):
        return [
            (float(x), float(hgt))
            for x, hgt in re.findall(r'class="ops-bar" x="([\d.]+)" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', svg)
        ]

    # Oldest day first: at the left in English, at the right in Arabic; today at the other end.
    assert bars(ltr)[0][0] < bars(ltr)[2][0]
    assert bars(rtl)[0][0] > bars(rtl)[2][0]
    assert bars(ltr)[2][1] == bars(rtl)[2][1] > bars(ltr)[0][1] > 0 == bars(ltr)[1][1]
    assert 'role="img"' in ltr and 'aria-label="jobs"' in ltr
    line = charts.line_svg(series, label="revenue", rtl=True)
    assert "<polyline" in line and line.count("<title>") == 3


def test_the_query_count_does_not_grow_with_the_jobs(operator_client):
    user = UserFactory()
    offers = [OfferFactory(slug=f"q-{service}", service=service) for service in ("image", "video", "avatar")]
    statuses = list(JobStatus)

    def add_jobs(count, start):
        jobs = Job.objects.bulk_create(
            Job(
                user=user,
                offer=offers[i % 3],
                service=offers[i % 3].service,
                status=statuses[i % len(statuses)],
                params={"outputs": 1},
                price_credits=2,
                charged_credits=2 if statuses[i % len(statuses)] == JobStatus.SUCCEEDED else 0,
            )
            for i in range(start, start + count)
        )
        ProviderTask.objects.bulk_create(ProviderTask(job=job, index=0, status=TaskStatus.SUCCEEDED) for job in jobs)
        ProviderCall.objects.bulk_create(
            ProviderCall(
                adapter=("demo", "kie")[i % 2],
                operation="fetch",
                method="GET",
                url="u",
                latency_ms=i,
                status_code=200 if i % 7 else 500,
            )
            for i in range(start, start + count)
        )

    def page_queries():
        with CaptureQueriesContext(connection) as queries:
            assert operator_client.get(reverse("admin:index")).status_code == 200
        return len(queries)

    def figure_queries():
        with CaptureQueriesContext(connection) as queries:
            dashboard_figures(period_days=30)
        return len(queries)

    page_queries()  # the first request may touch the session
    add_jobs(10, 0)
    small = (page_queries(), figure_queries())
    add_jobs(990, 10)
    assert Job.objects.count() == 1000
    large = (page_queries(), figure_queries())
    print(f"admin index queries: 10 jobs {small[0]}, 1000 jobs {large[0]}; figures {small[1]} / {large[1]}")
    assert small == large
    # 12 period figures (+1: model value from lots, +1: the estimate of unbilled outputs by their settings),
    # 8 for "Needs attention", 8 for finance
    assert large[1] == 30


# --- kie.ai account credits -------------------------------------------------------------


@pytest.fixture
def kie(settings, httpserver):
    settings.KIE_API_KEY = "kie-secret-key"
    settings.KIE_BASE_URL = httpserver.url_for("/")
    return httpserver


def test_kie_credits_are_shown_with_a_warning_under_the_threshold(operator_client, kie, settings):
    settings.KIE_CREDITS_WARNING_THRESHOLD = 1000
    kie.expect_request(
        "/api/v1/chat/credit", method="GET", headers={"Authorization": "Bearer kie-secret-key"}
    ).respond_with_json({"code": 200, "msg": "success", "data": 420})
    body = operator_client.get(reverse("admin:index")).content.decode()
    card = body[body.index('id="ops-kie"') :]
    assert ">420<" in card and 'role="alert"' in card[: card.index("</article>")]
    # Cached: a second page does not ask kie.ai again.
    operator_client.get(reverse("admin:index"))
    assert len(kie.log) == 1
    call = ProviderCall.objects.get(operation="credit")
    assert "kie-secret-key" not in call.request_body + call.url


def test_kie_credits_above_the_threshold_have_no_warning(operator_client, kie, settings):
    settings.KIE_CREDITS_WARNING_THRESHOLD = 1000
    kie.expect_request("/api/v1/chat/credit").respond_with_json({"code": 200, "msg": "success", "data": 25_000})
    body = operator_client.get(reverse("admin:index")).content.decode()
    card = body[body.index('id="ops-kie"') :]
    card = card[: card.index("</article>")]
    assert "25,000" in card and 'role="alert"' not in card


@pytest.mark.parametrize(
    "answer",
    [
        {"response_json": {"code": 500, "msg": "server error"}, "status": 500},
        {"response_json": {"code": 401, "msg": "bad key"}, "status": 200},
        {"response_json": {"code": 200, "data": "lots"}, "status": 200},
    ],
    ids=["http 500", "body code 401", "not a number"],
)
def test_kie_credits_say_unavailable_when_the_call_fails(operator_client, kie, answer):
    kie.expect_request("/api/v1/chat/credit").respond_with_json(**answer)
    response = operator_client.get(reverse("admin:index"))
    assert response.status_code == 200
    card = response.content.decode().split('id="ops-kie"')[1].split("</article>")[0]
    assert "unavailable" in card
    assert len(kie.log) == 1  # no retries from an admin page


def test_kie_credits_say_unavailable_when_kie_is_unreachable(operator_client, settings):
    settings.KIE_API_KEY = "kie-secret-key"
    settings.KIE_BASE_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    response = operator_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert response.context["kie"].state == "unavailable"


def test_without_a_kie_key_the_card_says_not_configured(operator_client):
    response = operator_client.get(reverse("admin:index"))
    assert response.context["kie"].state == "off"
    assert not ProviderCall.objects.filter(operation="credit").exists()


# --- access ------------------------------------------------------------------------------


def test_a_creator_cannot_reach_the_dashboard(alice_client):
    for url in (reverse("admin:index"), "/ar/admin/"):
        response = alice_client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]
        assert "figures" not in (response.context or {})
    translation.activate("en")


def _staff_client(*perms: str) -> Client:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth.models import Permission

    user = UserFactory(email="support@example.com", is_staff=True)
    TOTP.activate(user, generate_totp_secret())
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client = Client()
    client.force_login(user)
    return client


def test_staff_without_the_permission_see_the_admin_but_not_the_figures(world, settings):
    settings.KIE_API_KEY = "a-key-whose-account-must-not-be-asked"
    response = _staff_client().get(reverse("admin:index"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="ops"' not in body and "Revenue" not in body
    assert "figures" not in response.context and "kie" not in response.context
    assert "an administrator can give it to you" in body


def test_staff_given_the_permission_see_the_figures(world):
    response = _staff_client("operators.view_dashboard").get(reverse("admin:index"))
    assert response.status_code == 200
    assert response.context["figures"].period_days == 30
    assert 'class="ops"' in response.content.decode()


def test_an_anonymous_visitor_cannot_reach_the_dashboard(client):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_entry_kinds_the_dashboard_reads_exist():
    kinds = {value for value, _label in EntryKind.choices}
    assert {"grant", "purchase", "subscription_grant", "capture", "release", "refund", "adjustment"} <= kinds
