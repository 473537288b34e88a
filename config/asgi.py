"""The site as an ASGI application: the MCP server's streamable HTTP endpoint
at ``/mcp/`` (``api.mcp.http_app``, the official SDK's Starlette app) and
everything else to Django's own ASGI handler.

Served by uvicorn (Procfile ``mcp``: ``uvicorn config.asgi:application``);
pages and the REST API are served by gunicorn over WSGI (``config.wsgi``),
README "MCP server" says why. Lifespan events go to the MCP app, whose
session manager must run while the server does; Django needs none.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.conf import settings

# No persistent database connections here, whatever DB_CONN_MAX_AGE says:
# Django's ASGI handler runs each request's sync code in a thread of its own
# (asgiref's ThreadSensitiveContext), so a connection kept for reuse is never
# reused and stays open after its thread is gone: under load PostgreSQL ran
# out of connections (bench/latency.py found it). Closed at each request's
# end instead; push streams close theirs before streaming (generation/push.py).
for database in settings.DATABASES.values():
    database["CONN_MAX_AGE"] = 0

django_application = get_asgi_application()  # sets Django up before api.mcp imports models

from starlette.types import Receive, Scope, Send  # noqa: E402

from api.mcp import PATH, http_app  # noqa: E402
from generation import push  # noqa: E402

EVENTS_PATH = "/events/"

mcp_application = http_app()


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    """Route one ASGI connection: lifespan and ``/mcp``, ``/mcp/`` to the MCP
    app, ``/events/`` to Django through the push streams' opening gate, the
    rest to Django."""
    if scope["type"] == "lifespan":
        await mcp_application(scope, receive, send)
        return
    path = scope.get("path", "")
    if path in (PATH, PATH.rstrip("/")):
        await mcp_application({**scope, "path": PATH, "raw_path": PATH.encode()}, receive, send)
        return
    if path == EVENTS_PATH:  # push streams: their opening is bounded (generation/push.py)
        await push.gated(django_application, scope, receive, send)
        return
    await django_application(scope, receive, send)  # type: ignore[arg-type]  # Starlette's ASGI types and django-stubs' differ
