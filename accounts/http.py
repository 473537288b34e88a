"""Request types for views, so the type checker knows what our middleware adds.

Django's ``HttpRequest`` knows nothing of ``request.htmx`` (django-htmx's
``HtmxMiddleware``) or ``request.limited`` (django-ratelimit's decorators), and
types ``request.user`` as ``User | AnonymousUser``. Views annotate their
request with one of these classes instead (the pattern django-htmx documents
under "Type checking"); nothing changes at run time, the middleware still
builds a plain ``HttpRequest``.

- :class:`HtmxRequest`: any view (signed in or not) that reads ``request.htmx``.
- :class:`AuthedRequest`: a view behind ``login_required`` (or staff-only): its
  ``user`` is a :class:`accounts.models.User`.
"""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from .models import User


class HtmxRequest(HttpRequest):
    """A request that went through ``HtmxMiddleware`` and, where a view has a
    django-ratelimit decorator with ``block=False``, through that decorator."""

    htmx: HtmxDetails
    #: Set by django-ratelimit's ``@ratelimit(block=False)``: True when over the limit.
    limited: bool


class AuthedRequest(HtmxRequest):
    """A request whose user is signed in (the view is behind ``login_required``)."""

    user: User
