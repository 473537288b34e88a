"""Whole studio pages, rendered once per version of what they show.

The dashboard, the Image, Video and Avatar pages, My creations and the
landing page are read far more often than what they show changes. Each shows
the user's own jobs and balance, the catalogue (models, prices, style names),
the user (e-mail) and the request's language, time zone and address; the
Avatar page also the user's uploaded photos. One SQL statement reads the
version of everything in that list (:func:`studio_version`); the
page rendered for that version is kept in the ``pages`` cache
(settings.CACHES; per process by default) under a key made of it, so a
change of any of them makes a new key and nothing has to be invalidated.

Two parts of a page differ per request and are never stored: the CSRF token
of its forms and the "5 minutes ago" of its job cards. While a page is
rendered to be kept they are written as markers (:data:`CSRF_MARKER`,
:func:`when_marker`) and :func:`fill` puts the request's values in on the
way out, for a kept page and a new one alike.

A page is rendered as usual, and not kept, for htmx requests, when flash
messages wait to be shown (rendering them consumes them), and for any
answer other than a plain 200.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime

from django.contrib.humanize.templatetags.humanize import naturaltime
from django.contrib.messages import get_messages
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.response import SimpleTemplateResponse
from django.utils import timezone, translation
from django.utils.html import escape

# Private-use characters: nothing a user types or a template escapes produces them.
CSRF_MARKER = "\ue000csrf\ue000"
_WHEN = "\ue001"
_WHEN_RE = re.compile(_WHEN + r"(\d+\.?\d*)" + _WHEN)
_RENDERING = "_mirsam_page_rendering"
_CSRF_ATTR = "_mirsam_page_csrf"


def when_marker(moment: datetime) -> str:
    """A placeholder :func:`fill` replaces with ``moment`` as "… ago"."""
    return f"{_WHEN}{moment.timestamp()}{_WHEN}"


def ago(moment: datetime) -> str:
    """``moment`` as "5 minutes ago" in the active language, escaped."""
    return escape(str(naturaltime(moment)))


def rendering_to_keep(request: HttpRequest) -> bool:
    """True while ``request``'s page is rendered to be kept: per-request
    values must then be written as markers."""
    return getattr(request, _RENDERING, False)


def csrf_token(request: HttpRequest) -> str:
    """One masked CSRF token for the whole response, as the csrf context
    processor gives one to a page (masking draws random bytes)."""
    token = getattr(request, _CSRF_ATTR, None)
    if token is None:
        token = get_token(request)
        setattr(request, _CSRF_ATTR, token)
    return token


def fill(request: HttpRequest, html: str) -> str:
    """``html`` with the request's CSRF token and the current "… ago" of
    every :func:`when_marker` put in."""
    if CSRF_MARKER in html:
        html = html.replace(CSRF_MARKER, csrf_token(request))
    if _WHEN in html:
        html = _WHEN_RE.sub(lambda m: ago(datetime.fromtimestamp(float(m[1]), tz=UTC)), html)
    return html


def markers(request: HttpRequest) -> dict:
    """Context processor: ``csrf_token`` is the marker while a page is
    rendered to be kept (it runs after Django's own csrf processor)."""
    return {"csrf_token": CSRF_MARKER} if rendering_to_keep(request) else {}


# Table names come from the models and values are parameters. Raw SQL: building
# these statements through the ORM cost more than running them.


def catalogue_columns() -> str:
    """SQL select-list items for the catalogue's version: the number and the
    newest change of its models and of its style presets."""
    from generation.models import StylePreset
    from providers.models import Offer

    offer, preset = Offer._meta.db_table, StylePreset._meta.db_table
    return (
        f"(SELECT COUNT(*) FROM {offer}), (SELECT MAX(updated_at) FROM {offer}),"  # noqa: S608
        f" (SELECT COUNT(*) FROM {preset}), (SELECT MAX(updated_at) FROM {preset})"
    )


@functools.cache
def _version_sql(uploads: bool) -> str:
    from credits.models import Wallet
    from generation.models import Job, Upload

    wallet, job, upload = Wallet._meta.db_table, Job._meta.db_table, Upload._meta.db_table
    sql = (
        f"SELECT (SELECT balance FROM {wallet} WHERE user_id = %(user)s),"  # noqa: S608
        f" (SELECT held FROM {wallet} WHERE user_id = %(user)s),"
        f" (SELECT COUNT(*) FROM {job} WHERE user_id = %(user)s),"
        f" (SELECT MAX(updated_at) FROM {job} WHERE user_id = %(user)s), {catalogue_columns()}"
    )
    if uploads:
        sql += (
            f", (SELECT COUNT(*) FROM {upload} WHERE user_id = %(user)s),"  # noqa: S608
            f" (SELECT MAX(created_at) FROM {upload} WHERE user_id = %(user)s)"
        )
    return sql


def studio_version(user, *, uploads: bool = False) -> tuple:  # noqa: ANN001
    """What the studio pages show of ``user`` and the catalogue, as one
    comparable value, in one SQL statement: the wallet's balance and held
    credits, the number of the user's jobs and their newest change, and the
    size and newest change of the catalogue's models and style presets; with
    ``uploads``, also the number and newest of the user's uploads.

    Every write to a job, a model or a style sets its ``updated_at``; a
    deleted job changes the count; an upload is never changed, only added or
    deleted. The pages a visitor who is not signed in sees (the landing page)
    show none of it: no query, the same version."""
    if not user.is_authenticated:
        return ("anonymous",)
    with connection.cursor() as cursor:
        cursor.execute(_version_sql(uploads), {"user": user.pk})
        row = cursor.fetchone()
    return (user.pk, user.email, user.is_staff, *map(str, row))


def _has_messages(request: HttpRequest) -> bool:
    # len() loads the stored messages without marking them shown.
    return bool(len(get_messages(request)))


def _keepable(response: HttpResponse) -> bool:
    return response.status_code == 200 and not response.cookies and set(response.headers) <= {"Content-Type"}


def cached_page(view: Callable[..., HttpResponse] | None = None, *, uploads: bool = False):  # noqa: ANN201
    """Serve ``view``'s GET pages from the ``pages`` cache while what they
    show is unchanged (see the module's docstring). ``view`` answers with a
    rendered page (``render()`` or a TemplateView), not a stream. Use as
    ``@cached_page``, or ``@cached_page(uploads=True)`` for a page that also
    lists the user's uploads."""
    if view is None:
        return functools.partial(cached_page, uploads=uploads)

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.method != "GET" or getattr(request, "htmx", False) or _has_messages(request):
            return view(request, *args, **kwargs)
        parts = (
            f"{view.__module__}.{view.__qualname__}",
            request.get_full_path(),
            translation.get_language(),
            timezone.get_current_timezone_name(),
            studio_version(request.user, uploads=uploads),
        )
        key = "page:" + hashlib.sha256(repr(parts).encode()).hexdigest()
        cache = caches["pages"]
        kept = cache.get(key)
        if kept is not None:
            content, content_type = kept
            return HttpResponse(fill(request, content), content_type=content_type)
        setattr(request, _RENDERING, True)
        try:
            response = view(request, *args, **kwargs)
            if isinstance(response, SimpleTemplateResponse):
                response.render()  # a TemplateView's page renders lazily: now, with the markers
        finally:
            setattr(request, _RENDERING, False)
        content = response.content.decode(response.charset)
        if _keepable(response):
            cache.set(key, (content, response["Content-Type"]))
        response.content = fill(request, content)
        return response

    return wrapper
