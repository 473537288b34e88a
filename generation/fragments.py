"""Job cards and creation tiles, rendered once per version of a job.

The studio pages show a few of a user's jobs on every request (the Image and
Video feeds, the dashboard, My creations) and rendering those templates was
most of each page's cost. A final job's card only changes when its row does
(every write sets ``updated_at``) or when what it shows from elsewhere
changes (the model's name and extend price, a style's name, the language,
the time zone), so the rendered HTML is kept under a key made of exactly
those, in the ``fragments`` cache (settings.CACHES; per process by default:
nothing to invalidate, a changed job simply has a new key, and unused
entries age out). Two parts of a card differ per request and are never
stored: the CSRF token of its forms and the "5 minutes ago" of its time;
they are rendered as markers and filled in on the way out. A running job
changes every few seconds and is rendered each time.
"""

from __future__ import annotations

import hashlib

from django.contrib.humanize.templatetags.humanize import naturaltime
from django.core.cache import caches
from django.middleware.csrf import get_token
from django.template.loader import get_template
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import Job

CARD = "generation/partials/job_card.html"
TILE = "generation/partials/creation_tile.html"

# Private-use characters: nothing a user types or a template escapes produces them.
_WHEN = "\ue000when\ue000"
_CSRF = "\ue000csrf\ue000"


def _key(template_name: str, job: Job, variant: dict[str, object]) -> str:
    offer = job.offer
    parts = (
        template_name,
        job.pk,
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


def _csrf_token(request) -> str:  # noqa: ANN001
    # One masked token for all the cards of a response, as the csrf context
    # processor gives one to the whole page: masking draws random bytes.
    token = getattr(request, "_mirsam_fragment_csrf", None)
    if token is None:
        token = request._mirsam_fragment_csrf = get_token(request)
    return token


def job_fragment(request, template_name: str, job: Job, **variant: object) -> SafeString:  # noqa: ANN001
    """``template_name`` (:data:`CARD` or :data:`TILE`) rendered for ``job``
    with ``variant`` in its context (``on_detail``, ``show_actions``), as
    safe HTML for ``request``: from the ``fragments`` cache when the job is
    final and was rendered before in this language, else rendered now (and
    kept, if final). ``job`` should come with its ``offer`` and its
    ``assets`` loaded (generation.selectors.jobs_for_user does both), else
    each costs a query."""
    cache = caches["fragments"]
    key = _key(template_name, job, variant) if job.is_final else None
    html = cache.get(key) if key else None
    if html is None:
        html = get_template(template_name).render({"job": job, "when": _WHEN, "csrf_token": _CSRF, **variant})
        if key:
            cache.set(key, str(html))
    if _WHEN in html:
        html = html.replace(_WHEN, escape(str(naturaltime(job.created_at))))
    if _CSRF in html:
        html = html.replace(_CSRF, _csrf_token(request))
    return mark_safe(html)  # noqa: S308 - our own template's output; the two values filled in are escaped / a token
