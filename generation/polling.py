"""When to ask the provider again about a running job: a schedule fitted to its model.

Each catalogue model has a typical duration: seeded in the catalogue
(``Offer.typical_seconds``) and learned from the model's last
``MIRSAM_POLL_HISTORY`` succeeded tasks (:func:`duration_estimate`). A task's
duration is what the provider says it worked on it (kie.ai ``costTime``,
docs/kie.md §2.1, kept as ``ProviderTask.cost_seconds``), else our own
measure: the create request leaving (``create_sent_at``) to its result being
recorded (``finished_at``). The median is the typical duration, the 5th
percentile the low one.

:func:`poll_delay` turns those into the wait before the next poll, as a pure
function of the seconds since the job was sent:

* the first poll comes at the low duration, at most 0.7 × the typical one:
  about one task in twenty finishes before it;
* from then on the gap is :data:`STEP_RATIO` (10 %) of the time elapsed, never
  less than the floor (``MIRSAM_POLL_FLOOR_SECONDS``): a task that finishes
  at ``d`` seconds is noticed within max(floor, 0.1 × d), inside the target
  of max(3 s, 15 % of ``d``) with room for the worker's own latency;
* past :data:`HORIZON` × the typical duration (well past when the model's
  tasks finish) the gap grows with the square of the time elapsed, up to the
  cap (``MIRSAM_POLL_CAP_SECONDS``): a stuck task costs few requests.

Polling ends after ``MIRSAM_POLL_MAX_ATTEMPTS`` polls or at the job's deadline
(``MIRSAM_JOB_TIMEOUT_SECONDS``), whichever is first; the sweeper then asks a
last time. ``MIRSAM_POLL_SCHEDULE``, when set, replaces all this with fixed
gaps (tests, benches). docs/architecture.md "Polling" has the reasoning and
the request budget.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from .models import Job, ProviderTask, TaskStatus

log = logging.getLogger(__name__)

#: The gap between polls as a share of the seconds elapsed.
STEP_RATIO = 0.1
#: The first poll at most this share of the typical duration.
FIRST_SHARE = 0.7
#: The low duration when a model has no history: this share of the seeded one.
#: Low on purpose: the seed is a guess (the benchmark's 30 s videos on a model
#: seeded at 90 s were first asked at 54 s with 0.6); the few more polls this
#: costs (10 % steps) stop once five tasks have been learned from.
LOW_SHARE = 0.25
#: Past this multiple of the typical duration, polls back off towards the cap.
HORIZON = 2.0
#: The quantile of past durations the first poll aims at.
LOW_QUANTILE = 0.05
#: Fewer succeeded tasks than this and the catalogue's seeded duration is used.
MIN_SAMPLES = 5
#: Only tasks this recent count: a model's speed changes over months.
HISTORY_DAYS = 30
#: How long an estimate is kept (seconds), so a poll does not query history each time.
ESTIMATE_CACHE_SECONDS = 60


@dataclass(frozen=True)
class Estimate:
    """A model's durations in seconds: ``typical`` (median), ``low`` (5th
    percentile) and how many tasks they come from (0: the seeded value)."""

    typical: float
    low: float
    samples: int


def poll_delay(*, elapsed: float, typical: float, low: float, floor: float, cap: float) -> float:
    """Seconds to wait before the next poll, ``elapsed`` seconds after the
    job was sent, for a model whose tasks take ``typical`` seconds (``low``
    for the quick ones). ``floor`` and ``cap`` bound every gap (a first poll
    may come sooner than ``floor`` after a late start, never before
    ``floor`` seconds have elapsed). Pure: the shape is described in the module
    docstring. Raises ``ValueError`` for a ``floor`` that is not positive or a
    ``cap`` below it."""
    if not floor > 0 or cap < floor:
        raise ValueError(f"need 0 < floor <= cap, not floor={floor} cap={cap}")
    elapsed = max(0.0, elapsed)
    typical = max(typical, floor)
    first = max(floor, min(low, FIRST_SHARE * typical))
    if elapsed < first:
        return first - elapsed
    step = STEP_RATIO * elapsed
    horizon = HORIZON * typical
    if elapsed > horizon:
        step *= elapsed / horizon
    return min(cap, max(floor, step))


def fixed_delay(attempt: int) -> float:
    """The gap after ``attempt`` polls from ``MIRSAM_POLL_SCHEDULE`` (the last repeats)."""
    schedule = settings.MIRSAM_POLL_SCHEDULE
    return float(schedule[min(attempt, len(schedule) - 1)])


def _cache_key(offer_id: int) -> str:
    return f"mirsam:poll:estimate:{offer_id}"


def duration_estimate(*, offer_id: int, seeded: float) -> Estimate:
    """The model's :class:`Estimate` from its last ``MIRSAM_POLL_HISTORY``
    succeeded tasks of the past :data:`HISTORY_DAYS` days (``cost_seconds``,
    else ``finished_at − create_sent_at``), or from ``seeded`` seconds (the
    catalogue's ``typical_seconds``) with fewer than :data:`MIN_SAMPLES`.
    Kept in the default cache for :data:`ESTIMATE_CACHE_SECONDS` (a cache
    that does not answer only costs the query)."""
    key = _cache_key(offer_id)
    try:
        cached = cache.get(key)
    except Exception:  # a cache that does not answer costs one query, not the poll
        log.warning("poll estimate cache unavailable", exc_info=True)
        cached = None
    if isinstance(cached, Estimate):
        return cached
    durations: list[float] = []
    limit = settings.MIRSAM_POLL_HISTORY
    if limit > 0:
        since = timezone.now() - timedelta(days=HISTORY_DAYS)
        rows = (
            ProviderTask.objects.filter(job__offer_id=offer_id, status=TaskStatus.SUCCEEDED, finished_at__gte=since)
            .order_by("-finished_at")
            .values_list("cost_seconds", "create_sent_at", "finished_at")[:limit]
        )
        for cost, sent, finished in rows:
            if cost is not None and cost > 0:
                durations.append(float(cost))
            elif sent is not None and finished is not None and finished > sent:
                durations.append((finished - sent).total_seconds())
    estimate = estimate_from(durations, seeded=seeded)
    try:
        cache.set(key, estimate, ESTIMATE_CACHE_SECONDS)
    except Exception:
        log.warning("poll estimate cache unavailable", exc_info=True)
    return estimate


def estimate_from(durations: list[float], *, seeded: float) -> Estimate:
    """:class:`Estimate` of ``durations`` (seconds): their median and
    :data:`LOW_QUANTILE`; the ``seeded`` value (low :data:`LOW_SHARE` of it)
    with fewer than :data:`MIN_SAMPLES`."""
    if len(durations) < MIN_SAMPLES:
        return Estimate(typical=float(seeded), low=LOW_SHARE * seeded, samples=0)
    ordered = sorted(durations)
    # The nearest rank at or below the quantile: a low of one of the samples.
    low = ordered[int(LOW_QUANTILE * (len(ordered) - 1))]
    return Estimate(typical=statistics.median(ordered), low=low, samples=len(ordered))


def next_poll_delay(*, job: Job, attempt: int) -> float | None:
    """Seconds until the job's next poll, which would be its ``attempt``-th
    (0 = the first, after its tasks were sent), or ``None`` when polling
    should stop: ``MIRSAM_POLL_MAX_ATTEMPTS`` reached, or the poll would come
    after the job's deadline (``created_at`` + ``MIRSAM_JOB_TIMEOUT_SECONDS``,
    the sweeper's). ``job.offer`` is read (its ``typical_seconds``)."""
    if attempt >= settings.MIRSAM_POLL_MAX_ATTEMPTS:
        return None
    now = timezone.now()
    if settings.MIRSAM_POLL_SCHEDULE:
        delay = fixed_delay(attempt)
    else:
        estimate = duration_estimate(offer_id=job.offer_id, seeded=job.offer.typical_seconds)
        elapsed = (now - (job.submitted_at or job.created_at)).total_seconds()
        delay = poll_delay(
            elapsed=elapsed,
            typical=estimate.typical,
            low=estimate.low,
            floor=settings.MIRSAM_POLL_FLOOR_SECONDS,
            cap=settings.MIRSAM_POLL_CAP_SECONDS,
        )
    deadline = job.created_at + timedelta(seconds=settings.MIRSAM_JOB_TIMEOUT_SECONDS)
    if now + timedelta(seconds=delay) > deadline:
        return None
    return delay
