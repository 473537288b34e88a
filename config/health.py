"""Health endpoints for a load balancer or an orchestrator. No login, no session.

- ``/healthz``: the process is up and answers: 200 ``ok``. Touches nothing else.
- ``/readyz``: the process can serve: the database answers ``SELECT 1``, the
  Celery broker is reachable (Redis: a ``PING`` with a 1 s timeout; kombu's
  filesystem transport: its folders exist; others: a connection) and the default
  file storage answers. 200 ``{"database": "ok", "broker": "ok", "storage": "ok"}``,
  or 503 with ``"failed"`` for each check that failed (the cause is logged, not shown).

``HealthCheckMiddleware`` (early in ``MIDDLEWARE``) answers both paths before
the rest of the stack, so a probe over plain HTTP that sends the instance's own
address as Host (load balancers, container health checks) is neither refused by
``ALLOWED_HOSTS`` nor redirected to HTTPS; nothing in these answers depends on
the host. The same views are routed in ``config/urls.py`` (outside
``i18n_patterns``) and exempt from the HTTPS redirect, should the middleware go.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

log = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 1
# A key that never exists: a HEAD on it proves the bucket answers and our credentials work.
STORAGE_PROBE_NAME = "readyz-probe"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """200 ``ok`` while the process runs."""
    return HttpResponse("ok", content_type="text/plain")


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    """Raise when the Celery broker named by ``CELERY_BROKER_URL`` is unreachable."""
    url = settings.CELERY_BROKER_URL
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme in {"redis", "rediss"}:
        import redis

        client = redis.Redis.from_url(
            url, socket_connect_timeout=BROKER_TIMEOUT_SECONDS, socket_timeout=BROKER_TIMEOUT_SECONDS
        )
        try:
            if not client.ping():
                raise ConnectionError("Redis did not answer PING")
        finally:
            client.close()
    elif scheme == "filesystem":
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
        for key in ("data_folder_in", "data_folder_out", "control_folder"):
            folder = options.get(key)
            if folder and not Path(folder).is_dir():
                raise FileNotFoundError(f"broker folder {folder} is missing")
    else:
        from kombu import Connection

        with Connection(url, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS * 2)


def check_storage() -> None:
    """Raise when the default storage cannot be reached: a local folder that is
    missing (and cannot be made) or not writable; a bucket that refuses a HEAD."""
    storage = storages["default"]
    if isinstance(storage, FileSystemStorage):
        location = Path(storage.location)
        location.mkdir(parents=True, exist_ok=True)
        if not os.access(location, os.W_OK):
            raise PermissionError(f"{location} is not writable")
        storage.listdir("")
    else:
        storage.exists(STORAGE_PROBE_NAME)  # False for a missing key; raises when unreachable or refused


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
}


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when every check passes, else 503; the body names each check's result."""
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception:
            log.exception("readyz: the %s check failed", name)
            results[name] = "failed"
        else:
            results[name] = "ok"
    ready = all(value == "ok" for value in results.values())
    return JsonResponse(results, status=200 if ready else 503)


_HEALTH_PATH = re.compile(r"/(healthz|readyz)/?")


class HealthCheckMiddleware:
    """Serve ``/healthz`` and ``/readyz`` (with or without a slash) directly."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        match = _HEALTH_PATH.fullmatch(request.path_info)
        if match is None:
            return self.get_response(request)
        return healthz(request) if match.group(1) == "healthz" else readyz(request)
