"""Request ids, job ids and structured logs; Sentry when configured.

- ``RequestIdMiddleware`` takes a safe ``X-Request-ID`` from the request (a
  load balancer's) or makes one, keeps it in a context variable until the
  response is finished and returns it in the ``X-Request-ID`` response header.
- Inside a Celery task of ``generation.tasks`` whose first parameter is
  ``job_id``, the Celery signals below keep that job id in a context variable.
- ``ContextFilter`` puts both on every log record (``request_id``, ``job_id``,
  ``None`` when absent); ``JsonFormatter`` writes one JSON object per line
  (production), ``TextFormatter`` a readable line (development).

settings.LOGGING names these classes, so every process that sets Django up
(web, Celery worker, beat, management commands) imports this module, which
connects the Celery signals. Nothing here reads settings or models at import.
"""

from __future__ import annotations

import contextvars
import inspect
import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from celery.signals import task_postrun, task_prerun
from django.core.signals import request_finished
from django.dispatch import receiver

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse
    from sentry_sdk.types import Event, Hint

    class RequestWithId(HttpRequest):
        """A request that went through :class:`RequestIdMiddleware`, which
        sets ``request_id`` (for the type checker only, as ``accounts.http``)."""

        request_id: str


REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from a client or proxy: short, and nothing that could split a
# log line or a header (UUIDs, hex, AWS ALB "Root=1-..." ids all fit).
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:=+-]{1,128}")
# Celery tasks whose job id goes into the logs: these, when the first parameter is job_id.
JOB_TASK_PREFIX = "generation.tasks."

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
job_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("job_id", default=None)


class RequestIdMiddleware:
    """Give every request an id: the incoming ``X-Request-ID`` when it is safe
    (``[A-Za-z0-9._:=+-]``, at most 128 characters), else a new UUID4 hex.
    Sets ``request.request_id`` and the response's ``X-Request-ID``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: RequestWithId) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        # Kept until request_finished (below), not reset on the way out: Django
        # logs 4xx/5xx responses after the middleware chain has returned.
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


@receiver(request_finished, dispatch_uid="mirsam-request-id-clear")
def _clear_request_id(**_: Any) -> None:
    request_id_var.set(None)


def job_id_of_task(task: Any, args: tuple[Any, ...] | list[Any] | None, kwargs: dict[str, Any] | None) -> int | None:
    """The job id a task works on: its first argument, when the task is one of
    ``generation.tasks`` and that parameter is called ``job_id``; else None."""
    if not getattr(task, "name", "").startswith(JOB_TASK_PREFIX):
        return None
    try:
        params = list(inspect.signature(task.run).parameters)  # bound tasks: without self
    except (TypeError, ValueError):
        return None
    if not params or params[0] != "job_id":
        return None
    value: Any = args[0] if args else (kwargs or {}).get("job_id")
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


_job_tokens: dict[str, contextvars.Token[int | None]] = {}


@task_prerun.connect(weak=False)
def _job_id_on_prerun(
    sender: Any = None, task_id: str | None = None, task: Any = None, args: Any = None, kwargs: Any = None, **_: Any
) -> None:
    job_id = job_id_of_task(task or sender, args, kwargs)
    if task_id:
        _job_tokens[task_id] = job_id_var.set(job_id)


@task_postrun.connect(weak=False)
def _job_id_on_postrun(sender: Any = None, task_id: str | None = None, **_: Any) -> None:
    token = _job_tokens.pop(task_id, None) if task_id else None
    if token is None:
        return
    try:
        job_id_var.reset(token)
    except ValueError:  # set in another context (a thread pool): just clear it
        job_id_var.set(None)


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``job_id`` (or None) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        if getattr(record, "job_id", None) is None:
            record.job_id = job_id_var.get()
        return True


# Attributes every LogRecord has; anything else came from ``extra=`` and is logged too.
_RECORD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id", "job_id", "ids"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (ISO 8601, UTC), ``level``, ``logger``,
    ``message``, ``request_id``, ``job_id``, ``exception`` when there is one, and
    any ``extra=`` fields (values that are not JSON become strings)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "job_id": getattr(record, "job_id", None),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in entry:
                entry[key] = value
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            # gunicorn.conf.py: the access line's atoms; the request id is our response header.
            entry["request_id"] = entry["request_id"] or record.args.get("{x-request-id}o")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request_id=… job_id=…]: message`` (ids only when set)."""

    def __init__(
        self, fmt: str | None = None, datefmt: str | None = None, style: Literal["%", "{", "$"] = "%", **kwargs: Any
    ) -> None:
        super().__init__(fmt or "%(asctime)s %(levelname)s %(name)s%(ids)s: %(message)s", datefmt, style, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        ids = [f"{key}={getattr(record, key)}" for key in ("request_id", "job_id") if getattr(record, key, None)]
        record.ids = f" [{' '.join(ids)}]" if ids else ""
        return super().format(record)


def _sentry_before_send(event: Event, hint: Hint) -> Event:
    tags = event.setdefault("tags", {})
    if (request_id := request_id_var.get()) is not None:
        tags.setdefault("request_id", request_id)
    if (job_id := job_id_var.get()) is not None:
        tags.setdefault("job_id", str(job_id))
    return event


def sentry_init(*, dsn: str, environment: str, traces_sample_rate: float) -> None:
    """Start Sentry with the Django and Celery integrations. No personal data
    (``send_default_pii=False``); events carry the request and job ids as tags.
    The release comes from ``SENTRY_RELEASE`` when set (sentry-sdk reads it)."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        before_send=_sentry_before_send,
    )
