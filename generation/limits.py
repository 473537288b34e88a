"""Rate limits of Generate and of the provider callback (django-ratelimit).

Rates are settings read on every request (``MIRSAM_RATE_GENERATE`` per
signed-in user, ``MIRSAM_RATE_CALLBACK`` per client IP), counted in the
default cache: Redis in production (``CACHE_URL``), so every web process
shares one count. The decorators use ``block=False``: the view checks
``request.limited`` and answers in its own way (a form error for Generate, a
429 JSON body for the callback) before anything is stored or held.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.decorators import ratelimit

GENERATE_GROUP = "mirsam.generate"
CALLBACK_GROUP = "mirsam.callback"


def client_ip(request: HttpRequest) -> str:
    """The client's IP as allauth's rate limits see it, so one proxy setting
    (``ALLAUTH_TRUSTED_PROXY_COUNT`` or ``ALLAUTH_TRUSTED_CLIENT_IP_HEADER``)
    serves both (django-ratelimit's ``RATELIMIT_IP_META_KEY``)."""
    from allauth.account.adapter import get_adapter

    return get_adapter(request).get_client_ip(request)


def generate_rate(group: str, request: HttpRequest) -> str | None:
    """``MIRSAM_RATE_GENERATE`` ("30/m": count/s, m, h or d); empty = no limit."""
    return settings.MIRSAM_RATE_GENERATE or None


def callback_rate(group: str, request: HttpRequest) -> str | None:
    """``MIRSAM_RATE_CALLBACK`` ("600/m"); empty = no limit."""
    return settings.MIRSAM_RATE_CALLBACK or None


# Generate on Image, Video and Avatar, Regenerate and Extend share one count per user:
# each makes a job that holds credits and costs a provider call.
limit_generate = ratelimit(group=GENERATE_GROUP, key="user", rate=generate_rate, method="POST", block=False)
limit_callback = ratelimit(group=CALLBACK_GROUP, key="ip", rate=callback_rate, method="POST", block=False)
