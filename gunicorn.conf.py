"""gunicorn settings, read from the environment (gunicorn loads this file from
the working directory): ``gunicorn config.wsgi``.

| variable | default | meaning |
|---|---|---|
| ``PORT`` | ``8000`` | port to listen on (all interfaces unless ``BIND_HOST``) |
| ``BIND_HOST`` | ``0.0.0.0`` | address to listen on |
| ``WEB_CONCURRENCY`` | 2 × CPUs + 1, at most 8 | worker processes |
| ``GUNICORN_THREADS`` | ``1`` | threads per worker |
| ``GUNICORN_TIMEOUT`` | ``30`` | seconds a request may take before its worker is restarted |
| ``GUNICORN_GRACEFUL_TIMEOUT`` | ``30`` | seconds workers get to finish on restart or stop |
| ``GUNICORN_KEEPALIVE`` | ``5`` | seconds an idle connection stays open (above a balancer's idle timeout) |
| ``GUNICORN_MAX_REQUESTS`` | ``1000`` | restart a worker after this many requests (0: never), with jitter |
| ``LOG_FORMAT`` | ``json`` unless ``DEBUG`` | ``json``: gunicorn's lines are JSON like the application's |
| ``FORWARDED_ALLOW_IPS`` | ``127.0.0.1`` | proxies whose X-Forwarded-* headers gunicorn trusts (its own variable) |

Uploads are read by Django, so put a body-size limit in the proxy in front.
"""

from __future__ import annotations

import os

import gunicorn.http.wsgi

# Answers name no server software ("Server: gunicorn" tells an attacker what to
# look up); gunicorn writes its module's SERVER into every response.
gunicorn.http.wsgi.SERVER = "mirsam"  # type: ignore[attr-defined]


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{_int('PORT', 8000)}"  # noqa: S104 - a container listens on all
workers = _int("WEB_CONCURRENCY", min(2 * (os.cpu_count() or 1) + 1, 8))
threads = _int("GUNICORN_THREADS", 1)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = max_requests // 10

# The heartbeat file on tmpfs: a container's overlay filesystem can stall it.
if os.path.isdir("/dev/shm"):  # noqa: S108 - gunicorn's documented choice for containers
    worker_tmp_dir = "/dev/shm"  # noqa: S108
# We do not use gunicorn's control socket; its default path in $HOME would be
# shared by every gunicorn of the user (and a container user may have no home).
control_socket_disable = True

# Logs to stdout/stderr. An access line carries our X-Request-ID, so it joins the
# application's log lines for the same request.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s "%(a)s"'

# In production (LOG_FORMAT, default json unless DEBUG, as in config/settings.py)
# gunicorn's own lines are JSON too, through the application's formatter.
_debug = os.environ.get("DEBUG", "true").strip().lower() in {"1", "true", "yes", "y", "on", "ok"}
if os.environ.get("LOG_FORMAT", "text" if _debug else "json") == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "config.observability.JsonFormatter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
        "root": {"level": "INFO", "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
    }
