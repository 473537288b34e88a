"""Job cards and creation tiles, rendered once per version of a job.

The studio pages show a few of a user's jobs on every request (the Image and
Video feeds, the dashboard, My creations) and rendering those templates was
most of each page's cost. A job's card only changes when its row does
(every write sets ``updated_at``) or when what it shows from elsewhere
changes (the model's name and extend price, a style's name, the language,
the time zone, the actions its card shows), so the rendered HTML is kept
under a key made of exactly those, in the ``fragments`` cache (settings.CACHES; per process by default:
nothing to invalidate, a changed job simply has a new key, and unused
entries age out). Two parts of a card differ per request and are never
stored: the CSRF token of its forms and the "5 minutes ago" of its time;
they are rendered as markers and filled in on the way out (by
config.pagecache when the whole page is being kept). A running job's card
is kept too: its status changes set ``updated_at``, so each step of the job
has a key of its own and a poll between steps is a cache hit.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime

from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest
from django.template.loader import get_template
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe

from config import pagecache

from . import actions
from .models import Job
from .versions import CATALOGUE

CARD = "generation/partials/job_card.html"
TILE = "generation/partials/creation_tile.html"


def _key(template_name: str, job: Job, variant: dict[str, object], shown: list[actions.Shown]) -> str:
    offer = job.offer
    parts = (
        template_name,
        job.pk,
        job.parent_id,
        job.tool_action,
        shown,
        job.updated_at.isoformat(),
        translation.get_language(),
        timezone.get_current_timezone_name(),
        offer.name,
        offer.extend_price_credits,
        offer.prompt_max_length,
        job.summary,
        sorted(variant.items()),
    )
    return "job-fragment:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def job_fragment(request: HttpRequest, template_name: str, job: Job, **variant: object) -> SafeString:
    """``template_name`` (:data:`CARD` or :data:`TILE`) rendered for ``job``
    with ``variant`` in its context (``on_detail``, ``show_actions``), as
    safe HTML for ``request``: from the ``fragments`` cache when the job is
    unchanged since it was rendered in this language, else rendered now and
    kept. ``job`` should come with its ``offer`` and its
    ``assets`` loaded (generation.selectors.jobs_for_user does both), else
    each costs a query."""
    cache = caches["fragments"]
    shown = _card_actions(request, job) if template_name == CARD else []
    key = _key(template_name, job, variant, shown)
    html = cache.get(key)
    if html is None:
        when = pagecache.when_marker(job.created_at)  # a job's created_at never changes
        context = {
            "job": job,
            "when": when,
            "csrf_token": pagecache.csrf_marker(),
            "form_token": pagecache.form_token_marker(),
            "actions": [a for a in shown if a.primary],
            "more_actions": [a for a in shown if not a.primary],
            **variant,
        }
        html = str(get_template(template_name).render(context))
        cache.set(key, html)
    if not pagecache.rendering_to_keep(request):
        html = pagecache.fill(request, html)
    return mark_safe(html)  # noqa: S308 - our own template's output; what fill() puts in is escaped / a token


def _card_actions(request: HttpRequest, job: Job) -> list[actions.Shown]:
    """The actions ``job``'s card shows (``generation.actions``)."""
    return actions.actions_for(job, actions.available(request))


@functools.cache
def _card_version_sql() -> str:
    return (
        f"SELECT j.updated_at, j.created_at, {pagecache.version_sql(CATALOGUE)}"  # noqa: S608 - see config.pagecache
        f" FROM {Job._meta.db_table} j WHERE j.id = %(job)s AND j.user_id = %(user)s"
    )


def card_etag(request: HttpRequest, job_id: int) -> str | None:
    """The entity tag of the job card ``request`` asks for, for a conditional
    GET (RFC 9110 §8.8.3): it changes with everything the card shows — the
    job (``updated_at``), the catalogue's newest change (model and style
    names), the language, the time zone, the variant, the "… ago" as it reads
    now — and with the reader's CSRF secret (the card's forms carry a token
    of it). One SQL statement; ``None`` (no conditional answer) for a job
    that is not the reader's, so the view answers 404 as before.

    A polling card is then answered "304 Not Modified" while nothing on it
    changed, and the browser reuses the copy it has (htmx's requests go
    through the browser's HTTP cache)."""
    if not request.user.is_authenticated:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_card_version_sql(), {"job": job_id, "user": request.user.pk})
        row = cursor.fetchone()
    if row is None:
        return None
    created_at = row[1] if isinstance(row[1], datetime) else datetime.fromisoformat(str(row[1]))
    if timezone.is_naive(created_at):  # SQLite keeps UTC without an offset
        created_at = timezone.make_aware(created_at, UTC)
    parts = (
        job_id,
        *map(str, row),
        pagecache.ago(created_at),
        translation.get_language(),
        timezone.get_current_timezone_name(),
        bool(request.GET.get("detail")),
        request.META.get("CSRF_COOKIE", ""),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
