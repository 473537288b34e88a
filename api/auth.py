"""Who calls: ``Authorization: Bearer <personal API key>``, the key's scopes,
its rate limits, and the language its answers are written in.

An unknown key is 401 ``invalid_key``, a revoked one 401 ``revoked_key``, a
key without the scope an endpoint needs 403 ``missing_scope``. Limits are
django-ratelimit's, counted per key in the default cache (Redis in
production, shared by every web process): ``MIRSAM_API_RATE_REQUESTS`` for
every request, ``MIRSAM_API_RATE_JOBS`` for new jobs; over a limit is 429
``rate_limited`` with ``Retry-After`` (the limit's whole period, an upper
bound of the wait).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext as _
from django_ratelimit import ALL
from django_ratelimit.core import _split_rate, is_ratelimited
from ninja.security import HttpBearer

from .errors import ApiError
from .models import ApiKey
from .services import api_key_authenticate

REQUESTS_GROUP = "mirsam.api.requests"
JOBS_GROUP = "mirsam.api.jobs"


def answer_language(request: HttpRequest, key: ApiKey | None) -> str:
    """The language of an answer: ``Accept-Language`` when the client sends
    one we speak, else the key owner's ``preferred_language``, else the site's."""
    if request.headers.get("Accept-Language"):
        return translation.get_language_from_request(request)
    if key is not None and key.user.preferred_language:
        return key.user.preferred_language
    return settings.LANGUAGE_CODE


def _key_of(group: str, request: HttpRequest) -> str:
    return str(request.auth.pk)  # type: ignore[attr-defined]  # set by ninja before the limit is checked


def rate_check(request: HttpRequest, *, group: str, rate: str) -> None:
    """Count this request against the key's ``rate`` ("120/m"; empty = no
    limit) in ``group``; raises :class:`ApiError` 429 over it."""
    if not rate:
        return
    if is_ratelimited(request, group=group, key=_key_of, rate=rate, method=ALL, increment=True):
        _count, period = _split_rate(rate)
        raise ApiError(
            "rate_limited",
            _("Too many requests with this key; try again in %(seconds)d seconds.") % {"seconds": period},
            status=429,
            retry_after=period,
        )


class KeyAuth(HttpBearer):
    """ninja's bearer scheme over our keys (named in the OpenAPI schema)."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey:
        found = api_key_authenticate(secret=token.strip())
        translation.activate(answer_language(request, found))
        request.LANGUAGE_CODE = translation.get_language()
        key = key_check(found)
        request.auth = key  # type: ignore[attr-defined]
        rate_check(request, group=REQUESTS_GROUP, rate=settings.MIRSAM_API_RATE_REQUESTS)
        return key


def key_check(key: ApiKey | None) -> ApiKey:
    """``key`` (from :func:`api_key_authenticate`) if it may be used: else
    :class:`ApiError` 401 ``invalid_key`` (unknown, or its owner deactivated)
    or ``revoked_key``, in the active language."""
    if key is None:
        raise ApiError("invalid_key", _("This API key is not valid."), status=401)
    if not key.is_active:
        raise ApiError("revoked_key", _("This API key was revoked."), status=401)
    if not key.user.is_active:
        raise ApiError("invalid_key", _("This API key is not valid."), status=401)
    return key


def scope_check(key: ApiKey, scope: str) -> ApiKey:
    """``key`` if it has ``scope``; else :class:`ApiError` 403 ``missing_scope``."""
    if not key.has_scope(scope):
        raise ApiError("missing_scope", _("This API key lacks the scope “%(scope)s”.") % {"scope": scope}, status=403)
    return key


def need_scope(request: HttpRequest, scope: str) -> ApiKey:
    """The calling key, if it has ``scope``; else :class:`ApiError` 403."""
    return scope_check(request.auth, scope)  # type: ignore[attr-defined]


def headers_of(exc: ApiError) -> dict[str, Any]:
    """HTTP headers an error carries (``Retry-After`` for a 429)."""
    return {"Retry-After": str(exc.extra["retry_after"])} if "retry_after" in exc.extra else {}
