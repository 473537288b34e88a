"""generation.polling: the poll schedule fitted to a model's duration, and the
duration learned from the model's finished tasks (kie.ai costTime, docs/kie.md §2.1)."""

from __future__ import annotations

import importlib
import math
import random
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from generation import polling
from generation.models import Job, JobStatus, ProviderTask, TaskStatus
from generation.polling import Estimate, duration_estimate, estimate_from, next_poll_delay, poll_delay
from providers.models import Offer
from tests.factories import OfferFactory

FLOOR = 2.5
CAP = 30.0
GIVE_UP = 900.0  # MIRSAM_JOB_TIMEOUT_SECONDS' default


def poll_times(*, typical: float, low: float, until: float = GIVE_UP, floor: float = FLOOR) -> list[float]:
    """The seconds after the job was sent at which its polls come."""
    times: list[float] = []
    elapsed = 0.0
    while True:
        elapsed += poll_delay(elapsed=elapsed, typical=typical, low=low, floor=floor, cap=CAP)
        if elapsed > until:
            return times
        times.append(elapsed)


def noticed_after(times: list[float], finished: float) -> float:
    """Seconds from a task finishing to the first poll that sees it."""
    return next(t for t in times if t >= finished) - finished


def target(finished: float) -> float:
    """Issue 21's target: noticed within max(3 s, 15 % of the duration)."""
    return max(3.0, 0.15 * finished)


# --- the schedule's shape -------------------------------------------------------------


def test_a_ten_second_image_is_first_polled_before_it_is_due_then_every_floor():
    times = poll_times(typical=10, low=6)

    assert times[0] == pytest.approx(6.0)  # the low duration, before the typical 10 s
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps[:7] == pytest.approx([FLOOR] * 7)  # 6 → 23.5 s every 2.5 s: kie's "every 2–3 s" (§1)
    assert all(FLOOR <= gap <= CAP for gap in gaps)
    assert len([t for t in times if t <= 30]) == 10
    # Every finish between 3 s and twice the typical duration is noticed in time.
    for tenth in range(30, 201):
        finished = tenth / 10
        assert noticed_after(times, finished) <= target(finished), finished


def test_a_three_minute_video_is_left_alone_until_near_its_end_and_noticed_within_fifteen_percent():
    times = poll_times(typical=180, low=120)

    assert times[0] == pytest.approx(120.0)  # no request in its first two minutes
    for finished in range(110, 361):
        assert noticed_after(times, finished) <= target(finished), finished
    # The old fixed schedule (3, 3, 5, 5, 10, 10, 20, 20, …) asked 22 times by 360 s.
    assert len([t for t in times if t <= 360]) <= 14
    # A task finishing at 61 s into a 60 s model is seen by 70 s, not 76 s as before.
    assert noticed_after(poll_times(typical=60, low=45), 61) <= target(61)


def test_a_seeded_video_model_starts_at_a_quarter_of_its_typical_duration():
    """The seed is a guess: a model's tasks may well take half of it."""
    estimate = estimate_from([], seeded=180)
    times = poll_times(typical=estimate.typical, low=estimate.low)
    assert times[0] == pytest.approx(45.0)
    assert noticed_after(times, 60) <= target(60)  # a third of the guess is still seen in time


def test_past_twice_the_typical_duration_the_gaps_grow_to_the_cap_and_stay_there():
    times = poll_times(typical=10, low=6)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]

    assert gaps == sorted(gaps)  # never sooner again
    assert max(gaps) == pytest.approx(CAP)
    late = [gap for t, gap in zip(times, gaps, strict=False) if t > 20]
    assert late[0] < 4  # gradually: no jump straight to the cap
    assert len(times) < 45  # 15 minutes of a stuck image: fewer than the old schedule's 49, not 360
    # A video past its horizon backs off to the cap too.
    video = poll_times(typical=120, low=90)
    assert [b - a for a, b in zip(video, video[1:], strict=False)][-1] == pytest.approx(CAP)


def test_no_gap_is_shorter_than_the_floor_even_for_a_model_faster_than_it():
    times = poll_times(typical=1, low=0.5)
    assert times[0] == pytest.approx(FLOOR)
    assert all(b - a >= FLOOR - 1e-9 for a, b in zip(times, times[1:], strict=False))


def test_a_late_first_poll_comes_when_it_was_due_and_a_negative_elapsed_counts_as_zero():
    assert poll_delay(elapsed=100, typical=180, low=120, floor=FLOOR, cap=CAP) == pytest.approx(20)
    assert poll_delay(elapsed=-5, typical=10, low=6, floor=FLOOR, cap=CAP) == pytest.approx(6)


@pytest.mark.parametrize(("floor", "cap"), [(0, 30), (-1, 30), (5, 4)])
def test_a_floor_that_is_not_positive_or_a_cap_below_it_is_refused(floor, cap):
    with pytest.raises(ValueError):
        poll_delay(elapsed=10, typical=10, low=6, floor=floor, cap=cap)


@pytest.mark.parametrize(("median", "spread"), [(12, 0.25), (45, 0.3), (150, 0.35)])
def test_ninety_five_in_a_hundred_tasks_are_noticed_within_the_target(median, spread):
    """Durations drawn log-normally around the model's median: the schedule
    fitted to 50 earlier tasks notices ≥ 95 % of 2,000 later ones in time."""
    rng = random.Random(median)

    def draw() -> float:
        return median * math.exp(rng.gauss(0, spread))

    estimate = estimate_from([draw() for _ in range(50)], seeded=999)
    assert estimate.samples == 50
    assert estimate.typical == pytest.approx(median, rel=0.15)
    times = poll_times(typical=estimate.typical, low=estimate.low)
    later = [draw() for _ in range(2000)]
    in_time = sum(1 for d in later if noticed_after(times, d) <= target(d))
    assert in_time / len(later) >= 0.95


# --- the estimate ---------------------------------------------------------------------


def test_an_estimate_is_the_median_and_a_low_quantile_of_the_durations():
    estimate = estimate_from([9, 10, 10, 11, 12, 13, 14, 30, 8, 10], seeded=60)
    assert estimate == Estimate(typical=10.5, low=8, samples=10)


def test_with_fewer_than_five_durations_the_seeded_value_holds():
    assert estimate_from([20, 21, 22, 23], seeded=60) == Estimate(typical=60, low=15, samples=0)


def _finished_task(offer: Offer, *, cost: float | None, sent_ago: float = 0, took: float = 0, status=None) -> None:
    from tests.factories import UserFactory

    now = timezone.now()
    job = Job.objects.create(
        user=UserFactory(), offer=offer, service=offer.service, status=JobStatus.SUCCEEDED, params={}, price_credits=1
    )
    ProviderTask.objects.create(
        job=job,
        index=0,
        task_id="t",
        status=status or TaskStatus.SUCCEEDED,
        cost_seconds=cost,
        create_sent_at=now - timedelta(seconds=sent_ago),
        finished_at=now - timedelta(seconds=sent_ago - took),
    )


@pytest.mark.django_db
def test_a_model_learns_its_duration_from_costtime_else_from_our_own_clock(settings):
    offer = OfferFactory(adapter="kie", typical_seconds=60)
    other = OfferFactory(adapter="kie", typical_seconds=60)
    for cost in (14, 15, 16):
        _finished_task(offer, cost=cost, sent_ago=100, took=40)  # costTime wins over our 40 s
    for took in (20, 22):
        _finished_task(offer, cost=None, sent_ago=100, took=took)  # no costTime (demo, Veo): ours
    _finished_task(offer, cost=1.0, status=TaskStatus.FAILED)  # a failure says nothing of success
    for _ in range(5):
        _finished_task(other, cost=500)

    estimate = duration_estimate(offer_id=offer.pk, seeded=offer.typical_seconds)

    assert estimate.samples == 5
    assert estimate.typical == pytest.approx(16)
    assert estimate.low == pytest.approx(14)


@pytest.mark.django_db
def test_only_the_last_tasks_of_the_past_month_count(settings):
    settings.MIRSAM_POLL_HISTORY = 5
    offer = OfferFactory(adapter="kie", typical_seconds=60)
    for _ in range(5):
        _finished_task(offer, cost=100, sent_ago=3000)  # older
    for _ in range(5):
        _finished_task(offer, cost=10, sent_ago=10)  # the last five
    assert duration_estimate(offer_id=offer.pk, seeded=60).typical == 10

    cache.clear()
    ProviderTask.objects.filter(job__offer=offer, cost_seconds=10).update(
        finished_at=timezone.now() - timedelta(days=polling.HISTORY_DAYS + 1)
    )
    assert duration_estimate(offer_id=offer.pk, seeded=60).typical == 100


@pytest.mark.django_db
def test_a_model_with_no_history_falls_back_to_its_seeded_duration(settings):
    offer = OfferFactory(adapter="kie", typical_seconds=150)
    assert duration_estimate(offer_id=offer.pk, seeded=150) == Estimate(typical=150, low=37.5, samples=0)

    settings.MIRSAM_POLL_HISTORY = 0  # history off: the seeded value even with tasks
    cache.clear()
    for _ in range(6):
        _finished_task(offer, cost=10)
    assert duration_estimate(offer_id=offer.pk, seeded=150).samples == 0


@pytest.mark.django_db
def test_an_estimate_is_kept_briefly_so_polls_do_not_query_history(django_assert_num_queries):
    offer = OfferFactory(adapter="kie", typical_seconds=30)
    with django_assert_num_queries(1):
        duration_estimate(offer_id=offer.pk, seeded=30)
    with django_assert_num_queries(0):
        assert duration_estimate(offer_id=offer.pk, seeded=30).typical == 30


@pytest.mark.django_db
def test_the_catalogue_is_seeded_with_each_models_typical_duration():
    from django.apps import apps

    seeding = importlib.import_module("providers.migrations.0011_offer_typical_seconds")
    rows = {
        "nano-banana": ("image", "kie"),
        "veo3-quality": ("video", "kie"),
        "suno-v5": ("audio", "kie"),
        "demo-image": ("image", "demo"),
        "a-new-video": ("video", "kie"),
    }
    for slug, (service, adapter) in rows.items():
        Offer.objects.update_or_create(
            slug=slug, defaults={"service": service, "adapter": adapter, "provider_model": slug, "name": slug}
        )
    Offer.objects.update(typical_seconds=60)  # as the new field's default leaves them

    seeding.seed(apps, None)

    seeded = dict(Offer.objects.filter(slug__in=rows).values_list("slug", "typical_seconds"))
    assert seeded == {"nano-banana": 10, "veo3-quality": 180, "suno-v5": 120, "demo-image": 5, "a-new-video": 120}
    videos = [
        s for slug, s in seeding.BY_SLUG.items() if slug.startswith(("veo3", "kling-2", "kling-3", "seedance", "wan"))
    ]
    assert videos and all(60 <= s <= 180 for s in videos)
    images = [seeding.BY_SLUG[slug] for slug in ("nano-banana-pro", "seedream-4-5", "flux-kontext-pro")]
    assert all(10 <= s <= 20 for s in images)


# --- the next poll of a job -----------------------------------------------------------


@pytest.mark.django_db
def test_the_next_poll_follows_the_models_schedule_and_stops_at_the_deadline(settings, alice):
    settings.MIRSAM_POLL_SCHEDULE = []
    settings.MIRSAM_POLL_MAX_ATTEMPTS = 60
    settings.MIRSAM_POLL_FLOOR_SECONDS = FLOOR
    offer = OfferFactory(adapter="kie", typical_seconds=24)
    now = timezone.now()
    job = Job.objects.create(user=alice, offer=offer, service="image", params={}, price_credits=1, submitted_at=now)

    assert next_poll_delay(job=job, attempt=0) == pytest.approx(6, abs=0.1)  # 0.25 × the seeded 24 s
    job.submitted_at = now - timedelta(seconds=15)
    assert next_poll_delay(job=job, attempt=3) == pytest.approx(FLOOR)
    assert next_poll_delay(job=job, attempt=60) is None  # MIRSAM_POLL_MAX_ATTEMPTS
    job.created_at = now - timedelta(seconds=settings.MIRSAM_JOB_TIMEOUT_SECONDS - 1)
    assert next_poll_delay(job=job, attempt=3) is None  # the next would come after the deadline

    settings.MIRSAM_POLL_SCHEDULE = [1, 4]  # a fixed schedule, when set, wins
    job.created_at = now
    assert next_poll_delay(job=job, attempt=0) == 1
    assert next_poll_delay(job=job, attempt=7) == 4


@pytest.mark.django_db
def test_a_cache_that_does_not_answer_costs_a_query_not_the_poll(monkeypatch, caplog):
    offer = OfferFactory(adapter="kie", typical_seconds=30)

    class Down:
        def get(self, *args, **kwargs):
            raise ConnectionError("cache down")

        set = get

    monkeypatch.setattr(polling, "cache", Down())
    assert duration_estimate(offer_id=offer.pk, seeded=30) == Estimate(typical=30, low=7.5, samples=0)
    assert "poll estimate cache unavailable" in caplog.text
