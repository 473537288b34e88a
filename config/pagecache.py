"""Pages and fragments kept per version of what they show.

The studio pages (dashboard, Image, Video, Avatar, My creations, the landing
page) are read far more often than what they show changes. A page shows rows
of a few tables (the user's wallet and jobs, the catalogue, …); each app
declares the tables it owns that pages show, in its own ``versions.py``, as
``TRACKED = [Tracked(...), ...]``. :func:`page_version` reads the version of
the parts a page names in one SQL statement (built here from those
declarations, never written by one app over another's tables); the rendered
page is kept in the ``pages`` cache (settings.CACHES; per process) under a
key made of it, so a change of any part makes a new key and nothing has to
be invalidated.

A part's version is the number of its rows and their newest stamp (the
model's ``auto_now`` field), or, for a one-row-per-user table, chosen
columns of the row as they are (the wallet's balance and held). So every
write to a tracked model must move its stamp: models declare
:class:`Stamped` as a base, which makes ``QuerySet.update()`` (and so
``bulk_update()``) and ``save(update_fields=...)`` set the stamp as a full
``save()`` does (Django's ``auto_now`` alone does neither). tests/test_pagecache.py
writes to every tracked model in every such way and fails when the version
does not change.

Three parts of a page differ per request and are never stored: the CSRF
token and the one-time form token of its forms, and the "5 minutes ago" of
its job cards. While a page is rendered to be kept they are written as
markers (:func:`csrf_marker`, :func:`form_token_marker`, :func:`when_marker`;
secret, so user text cannot forge one) and :func:`fill` puts the request's
values in on the way out, for a kept page and a new one alike.

A page is rendered as usual, and not kept, for htmx requests, when flash
messages wait to be shown (rendering them consumes them), and for any
answer other than a plain 200.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import import_module
from typing import TYPE_CHECKING, Any, TypeVar

from django.apps import apps
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.contrib.messages import get_messages
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.response import SimpleTemplateResponse
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.functional import SimpleLazyObject
from django.utils.html import escape
from django.utils.module_loading import module_has_submodule

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from accounts.models import User

    View = Callable[..., HttpResponse]

# --- stamps -------------------------------------------------------------------


@functools.cache
def stamp_fields(model: type[models.Model]) -> tuple[str, ...]:
    """The names of ``model``'s ``auto_now`` fields (set on every write)."""
    return tuple(f.name for f in model._meta.concrete_fields if getattr(f, "auto_now", False))


_M = TypeVar("_M", bound=models.Model)


class StampedQuerySet(models.QuerySet[_M]):
    """``update()`` sets the model's ``auto_now`` fields to now, as ``save()``
    does, unless the call sets them itself. ``bulk_update()`` goes through it."""

    def update(self, **kwargs: Any) -> int:
        now = timezone.now()
        for name in stamp_fields(self.model):
            kwargs.setdefault(name, now)
        return super().update(**kwargs)


class StampedManager(models.Manager[_M]):
    """The default manager of a :class:`Stamped` model."""

    def get_queryset(self) -> StampedQuerySet[_M]:
        return StampedQuerySet(self.model, using=self._db)


class Stamped(models.Model):
    """Base of a model a kept page shows: every write moves its ``auto_now``
    stamp, also a bulk ``update()`` and a ``save(update_fields=[...])`` that
    does not name it."""

    objects = StampedManager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields:  # an empty list saves nothing, as in Django
            kwargs["update_fields"] = {*update_fields, *stamp_fields(type(self))}
        super().save(*args, **kwargs)


# --- what pages show ----------------------------------------------------------


@dataclass(frozen=True)
class Tracked:
    """One table whose rows kept pages show, declared by the app that owns it.

    ``name`` is how pages name the part ("wallet", "jobs", "offers", …);
    ``owner`` the foreign key to the user for rows that belong to one user
    (a page shows the reader's own), empty for a table everyone sees;
    ``columns`` the fields that are the version as they are, for a table of
    one row per owner (the wallet); without ``columns`` the version is the
    number of rows and their newest stamp, and the model must be
    :class:`Stamped`."""

    name: str
    model: type[models.Model]
    owner: str = ""
    columns: tuple[str, ...] = ()

    def _column(self, name: str) -> str:
        field = self.model._meta.get_field(name)
        if not isinstance(field, models.Field) or not field.column:
            raise ImproperlyConfigured(f"{self.model.__name__}.{name} is not a column")
        return field.column

    def sql(self) -> list[str]:
        """Select-list items (scalar subqueries) of this part's version;
        ``%(user)s`` is the reader's id."""
        table = self.model._meta.db_table
        where = f" WHERE {self._column(self.owner)} = %(user)s" if self.owner else ""
        if self.columns:
            columns = [self._column(name) for name in self.columns]
            return [f"(SELECT {column} FROM {table}{where})" for column in columns]  # noqa: S608 - names from models
        if not issubclass(self.model, Stamped):
            raise ImproperlyConfigured(f"{self.model.__name__} is tracked by the page cache but is not Stamped")
        stamp = self._column(stamp_fields(self.model)[0])
        return [f"(SELECT COUNT(*) FROM {table}{where})", f"(SELECT MAX({stamp}) FROM {table}{where})"]  # noqa: S608


@functools.cache
def tracked() -> dict[str, Tracked]:
    """Every app's ``versions.TRACKED``, by name."""
    parts: dict[str, Tracked] = {}
    for app in apps.get_app_configs():
        if module_has_submodule(app.module, "versions"):
            for part in import_module(f"{app.name}.versions").TRACKED:
                if part.name in parts:
                    raise ImproperlyConfigured(f"two page-cache parts are named {part.name!r}")
                parts[part.name] = part
    return parts


def _part(name: str) -> Tracked:
    try:
        return tracked()[name]
    except KeyError:
        raise ImproperlyConfigured(f"no app declares the page-cache part {name!r}") from None


# Raw SQL: building these statements through the ORM cost more than running them.
@functools.cache
def version_sql(names: tuple[str, ...]) -> str:
    """The select-list of the version of the parts ``names``, in that order."""
    parts = tracked()
    unknown = [name for name in names if name not in parts]
    if unknown:
        raise ImproperlyConfigured(f"no app declares the page-cache part(s) {', '.join(unknown)}")
    return ", ".join(item for name in names for item in parts[name].sql())


def page_version(user: User | AnonymousUser, names: Sequence[str]) -> tuple[object, ...]:
    """What a page shows of ``user`` and of the parts ``names``, as one
    comparable value, in one SQL statement. A visitor who is not signed in
    (the landing page) sees nothing that belongs to a user: only the parts
    everyone sees (no ``owner``: the showcase, the catalogue) are read, in
    one statement; none such, no query."""
    if not user.is_authenticated:
        public = tuple(name for name in names if not _part(name).owner)
        if not public:
            return ("anonymous",)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {version_sql(public)}")
            row = cursor.fetchone()
        return ("anonymous", *map(str, row))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {version_sql(tuple(names))}", {"user": user.pk})
        row = cursor.fetchone()
    return (user.pk, user.email, user.is_staff, *map(str, row))


# --- per-request values ---------------------------------------------------------

# A marker is a secret: user text is rendered into the same HTML (a prompt, an
# e-mail address), so a marker anyone could type would be filled in too (the
# reader's CSRF token in a prompt, a crafted "… ago" that overflows). Each
# marker carries a key derived from SECRET_KEY, which no marker ever shows: fill()
# replaces every one before a response leaves. Private-use characters frame
# them so a marker left unfilled by a bug is easy to spot (the tests look).
_RENDERING = "_mirsam_page_rendering"
_CSRF_ATTR = "_mirsam_page_csrf"
_ONE_TIME_ATTR = "_mirsam_form_one_time"


@functools.cache
def _marker_key() -> str:
    return salted_hmac("mirsam.pagecache.marker", "v1").hexdigest()[:24]


def csrf_marker() -> str:
    """The placeholder :func:`fill` replaces with the request's CSRF token."""
    return f"\ue000{_marker_key()}:csrf\ue000"


def form_token_marker() -> str:
    """The placeholder :func:`fill` replaces with the response's form token."""
    return f"\ue000{_marker_key()}:form\ue000"


@functools.cache
def _when_re() -> re.Pattern[str]:
    return re.compile(f"\ue001{_marker_key()}:" + r"(\d{1,12}(?:\.\d{1,6})?)" + "\ue001")


def when_marker(moment: datetime) -> str:
    """A placeholder :func:`fill` replaces with ``moment`` as "… ago"."""
    return f"\ue001{_marker_key()}:{moment.timestamp():.6f}\ue001"


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
    token: str | None = getattr(request, _CSRF_ATTR, None)
    if token is None:
        token = get_token(request)
        setattr(request, _CSRF_ATTR, token)
    return token


def form_token(request: HttpRequest) -> str:
    """A fresh random token for the forms of this response (22 URL-safe
    characters), the same for all of them: a form that sends it back makes
    its POST a one-time request (``generation.views`` keys the job on it, so
    a replayed Generate is the same job)."""
    token: str | None = getattr(request, _ONE_TIME_ATTR, None)
    if token is None:
        token = secrets.token_urlsafe(16)
        setattr(request, _ONE_TIME_ATTR, token)
    return token


_FORM_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def form_token_sent(request: HttpRequest) -> str:
    """The one-time token a form sent back (POST ``form_token``, as
    :func:`form_token` made it); empty when none or a malformed one was sent."""
    token = request.POST.get("form_token", "")
    return token if _FORM_TOKEN.match(token) else ""


def fill(request: HttpRequest, html: str) -> str:
    """``html`` with the request's CSRF token, its form token and the current
    "… ago" of every :func:`when_marker` put in."""
    marker = csrf_marker()
    if marker in html:
        html = html.replace(marker, csrf_token(request))
    marker = form_token_marker()
    if marker in html:
        html = html.replace(marker, form_token(request))
    if "\ue001" in html:
        html = _when_re().sub(lambda m: ago(datetime.fromtimestamp(float(m[1]), tz=UTC)), html)
    return html


def markers(request: HttpRequest) -> dict[str, object]:
    """Context processor: ``csrf_token`` and ``form_token`` are markers while
    a page is rendered to be kept (it runs after Django's own csrf
    processor); otherwise ``form_token`` is the response's own."""
    if rendering_to_keep(request):
        return {"csrf_token": csrf_marker(), "form_token": form_token_marker()}
    return {"form_token": SimpleLazyObject(lambda: form_token(request))}


# --- whole pages ----------------------------------------------------------------


def _has_messages(request: HttpRequest) -> bool:
    # len() loads the stored messages without marking them shown.
    return bool(len(get_messages(request)))


def _keepable(response: HttpResponse) -> bool:
    return response.status_code == 200 and not response.cookies and set(response.headers) <= {"Content-Type"}


def cached_page(shows: Iterable[str]) -> Callable[[View], View]:
    """Serve a view's GET pages from the ``pages`` cache while what they show
    is unchanged (see the module's docstring): ``shows`` names the parts
    (declared in the apps' ``versions.py``) the page shows. The view answers
    with a rendered page (``render()`` or a TemplateView), not a stream."""
    names = tuple(shows)

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if request.method != "GET" or getattr(request, "htmx", False) or _has_messages(request):
                return view(request, *args, **kwargs)
            parts = (
                f"{view.__module__}.{view.__qualname__}",
                request.get_full_path(),
                translation.get_language(),
                timezone.get_current_timezone_name(),
                page_version(request.user, names),
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

    return decorator
