"""Every signed-in page runs a bounded number of queries, whatever the history holds.

Each page is requested by a user with a small history (3 jobs with assets, a
few ledger entries, a purchase, an upload), then again after the history has
grown (+200 jobs with assets across every service and status, +500 ledger
entries, +60 purchases with a refund each, +30 uploads). The count must not
grow. ``pytest -s`` prints both counts per page (issue 6, "Measure speed").
"""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Notification
from billing.models import CreditPack, Purchase, PurchaseKind, Revocation, RevocationKind
from credits.models import EntryKind, LedgerEntry, Wallet
from credits.services import credits_grant
from generation import services
from generation.models import Asset, Job, JobStatus, StylePreset, Upload
from tests.factories import OfferFactory

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}

SERVICES = ("image", "video", "avatar")
STATUSES = tuple(JobStatus.values)


@pytest.fixture
def offers(db):
    return {
        "image": OfferFactory(slug="q-image", service="image", adapter="demo", provider_model="demo/image"),
        "video": OfferFactory(
            slug="q-video",
            service="video",
            adapter="demo",
            provider_model="demo/video",
            options={"params": {}, "max_outputs": 1, "cost": {"usd": "0.02", "extend_usd": "0.03"}},  # extend: 3
        ),
        "avatar": OfferFactory(
            slug="q-avatar",
            service="avatar",
            adapter="demo",
            provider_model="demo/avatar",
            options={"params": {}, "max_outputs": 4, "inputs": {"min": 1, "max": 3, "roles": ["photo"]}},
        ),
    }


@pytest.fixture
def presets(db):
    return [
        StylePreset.objects.create(
            slug=f"q-style-{i}", name=f"Style {i}", name_ar=f"نمط {i}", prompt_template="A portrait. {details}"
        )
        for i in range(5)
    ]


def _jobs(user, offers, presets, combos, *, start: int = 0) -> list[Job]:
    """Jobs (bulk) of the given (service, status) pairs, each succeeded one
    with an asset (a video with a poster), avatar ones with a style."""
    jobs = []
    for i, (service, status) in enumerate(combos, start=start):
        params = {"prompt": f"prompt {i}", "outputs": 1}
        if service == "avatar":
            params.update({"preset": presets[i % len(presets)].slug, "style": "cartoon", "details": f"detail {i}"})
        jobs.append(
            Job(
                user=user,
                offer=offers[service],
                service=service,
                status=status,
                params=params,
                price_credits=2,
                charged_credits=2 if status == JobStatus.SUCCEEDED else 0,
            )
        )
    jobs = Job.objects.bulk_create(jobs)
    Asset.objects.bulk_create(
        [
            Asset(
                job=job,
                user=user,
                index=0,
                file=f"outputs/{user.pk}/{job.pk}/x.{'mp4' if job.service == 'video' else 'png'}",
                poster=f"outputs/{user.pk}/{job.pk}/p.png" if job.service == "video" else "",
                content_type="video/mp4" if job.service == "video" else "image/png",
                size_bytes=1000,
                width=64,
                height=64,
            )
            for job in jobs
            if job.status == JobStatus.SUCCEEDED
        ]
    )
    return jobs


def _entries(user, n: int) -> None:
    """``n`` consistent ledger entries (bulk): grants of 1 credit each, the
    wallet moved by the same sum, so ``check_ledger`` stays clean."""
    wallet = Wallet.objects.get(user=user)
    rows = [
        LedgerEntry(
            wallet=wallet,
            kind=EntryKind.GRANT,
            amount=1,
            held_delta=0,
            balance_after=wallet.balance + i + 1,
            held_after=wallet.held,
            reason="bulk",
            reference=f"bulk:{i}",
            idempotency_key=f"q-bulk:{user.pk}:{i}",
        )
        for i in range(n)
    ]
    LedgerEntry.objects.bulk_create(rows)
    Wallet.objects.filter(pk=wallet.pk).update(balance=wallet.balance + n)


def _purchases(user, pack, n: int, *, start: int = 0, refunded: bool = False) -> None:
    for i in range(start, start + n):
        purchase = Purchase.objects.create(
            user=user,
            kind=PurchaseKind.PACK,
            pack=pack,
            stripe_id=f"cs_q_{user.pk}_{i}",
            credits=pack.credits,
            amount=pack.price_amount,
            currency="usd",
        )
        credits_grant(
            user=user,
            amount=pack.credits,
            idempotency_key=f"q-purchase:{purchase.stripe_id}",
            kind=EntryKind.PURCHASE,
            reason=pack.name,
            reference=f"stripe:{purchase.stripe_id}",
        )
        if refunded:
            Revocation.objects.create(
                purchase=purchase,
                kind=RevocationKind.REFUND,
                stripe_key=f"re_q_{user.pk}_{i}",
                amount=0,
                credits_due=0,
                credits_taken=0,
            )


def _uploads(user, n: int) -> None:
    Upload.objects.bulk_create(
        [
            Upload(
                user=user,
                file=f"uploads/{user.pk}/u{i}.jpg",
                content_type="image/jpeg",
                width=400,
                height=500,
                size_bytes=1000,
                sha256="0" * 64,
            )
            for i in range(n)
        ]
    )


def _webhooks(user, job, *, endpoints: int, deliveries: int, to=None) -> list:
    """``endpoints`` webhook endpoints (or the one ``to``), each with an event
    of ``job`` and ``deliveries`` attempts."""
    from api.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

    targets = (
        [to]
        if to is not None
        else [
            WebhookEndpoint.objects.create(user=user, url=f"https://hooks{n}.example.com/", secret="s")
            for n in range(endpoints)
        ]
    )
    for endpoint in targets:
        event = WebhookEvent.objects.create(endpoint=endpoint, type="ping")
        WebhookDelivery.objects.bulk_create(
            WebhookDelivery(event=event, attempt=1 + n % 6, status_code=500, latency_ms=5) for n in range(deliveries)
        )
    return targets


@pytest.fixture
def make_history(alice, offers, presets, demo_offer, django_capture_on_commit_callbacks):
    """alice with a small history: one real job through the demo pipeline
    (hold, capture, asset), one bulk job per service in ``status`` (a page
    filtered by status shows every kind of card already), a purchase, an
    upload. ``grow()`` then adds the large history."""

    def make(status: str = JobStatus.SUCCEEDED) -> dict:
        pack = CreditPack.objects.create(slug="q-pack", name="Q pack", credits=100, price_amount=500)
        with django_capture_on_commit_callbacks(execute=True):
            job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "sunrise", "outputs": 1})
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED
        small = _jobs(alice, offers, presets, [(service, status) for service in SERVICES])
        _purchases(alice, pack, 1)
        _uploads(alice, 1)
        endpoint = _webhooks(alice, job, endpoints=1, deliveries=1)[0]

        def grow() -> None:
            every = itertools.cycle(itertools.product(SERVICES, STATUSES))
            _jobs(alice, offers, presets, itertools.islice(every, 200), start=3)
            _entries(alice, 500)
            _purchases(alice, pack, 60, start=1, refunded=True)
            _uploads(alice, 30)
            _webhooks(alice, job, endpoints=4, deliveries=50)
            _webhooks(alice, job, endpoints=0, deliveries=60, to=endpoint)
            Notification.objects.bulk_create(
                Notification(user=alice, kind="job_succeeded", key=f"q:{i}", params={"job_id": job.pk})
                for i in range(80)
            )

        return {"job": job, "avatar_job": small[-1], "grow": grow, "endpoint": endpoint}

    return make


# (name, URL builder, extra request headers, status of the small history's jobs, marks)
PAGES = [
    ("dashboard", lambda h: reverse("dashboard"), {}, JobStatus.SUCCEEDED, []),
    ("image", lambda h: reverse("image"), {}, JobStatus.SUCCEEDED, []),
    ("video", lambda h: reverse("video"), {}, JobStatus.SUCCEEDED, []),
    ("avatar", lambda h: reverse("avatar"), {}, JobStatus.SUCCEEDED, []),
    ("creations", lambda h: reverse("creations"), {}, JobStatus.SUCCEEDED, []),
    ("creations page 2", lambda h: reverse("creations") + "?page=2", {}, JobStatus.SUCCEEDED, []),
    *[
        (
            f"creations service={s}",
            lambda h, s=s: reverse("creations") + f"?service={s}",
            {},
            JobStatus.SUCCEEDED,
            [],
        )
        for s in SERVICES
    ],
    *[
        (
            f"creations status={s}",
            lambda h, s=s: reverse("creations") + f"?status={s}",
            {},
            s,
            [],
        )
        for s in STATUSES
    ],
    (
        "creations avatar succeeded (ar)",
        lambda h: "/ar" + reverse("creations") + "?service=avatar&status=succeeded",
        {},
        JobStatus.SUCCEEDED,
        [],
    ),
    ("credit history", lambda h: reverse("credit_history"), {}, JobStatus.SUCCEEDED, []),
    ("credit history page 2", lambda h: reverse("credit_history") + "?page=2", {}, JobStatus.SUCCEEDED, []),
    ("balance badge", lambda h: reverse("balance_badge"), HX, JobStatus.SUCCEEDED, []),
    ("notifications bell", lambda h: reverse("notifications_badge"), HX, JobStatus.SUCCEEDED, []),
    ("notifications", lambda h: reverse("notifications"), {}, JobStatus.SUCCEEDED, []),
    ("billing", lambda h: reverse("billing"), {}, JobStatus.SUCCEEDED, []),
    ("pricing", lambda h: reverse("pricing"), {}, JobStatus.SUCCEEDED, []),
    ("job detail", lambda h: reverse("job_detail", args=[h["job"].pk]), {}, JobStatus.SUCCEEDED, []),
    ("job card poll", lambda h: reverse("job_card", args=[h["job"].pk]), HX, JobStatus.SUCCEEDED, []),
    (
        "job card poll (running)",
        lambda h: reverse("job_card", args=[h["avatar_job"].pk]),
        HX,
        JobStatus.PROCESSING,
        [],
    ),
    ("avatar job card poll", lambda h: reverse("job_card", args=[h["avatar_job"].pk]), HX, JobStatus.SUCCEEDED, []),
    ("account settings", lambda h: reverse("account_settings"), {}, JobStatus.SUCCEEDED, []),
    ("webhook endpoint", lambda h: reverse("api_webhook_detail", args=[h["endpoint"].pk]), {}, JobStatus.SUCCEEDED, []),
]


def _count(client, url: str, headers: dict) -> int:
    client.get(url, **headers)  # warm: session, caches, lazy imports
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries)


@pytest.mark.parametrize(
    ("name", "url", "headers", "status"),
    [pytest.param(*page[:4], marks=page[4], id=page[0]) for page in PAGES],
)
def test_the_query_count_does_not_grow_with_the_history(alice_client, make_history, name, url, headers, status):
    history = make_history(status)
    target = url(history)
    small = _count(alice_client, target, headers)
    history["grow"]()
    large = _count(alice_client, target, headers)
    print(f"\n[queries] {name:<34} small history: {small:>3}   grown history: {large:>3}")
    assert large <= small, f"{name}: {small} queries with a small history, {large} with a large one"
