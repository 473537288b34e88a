"""``python manage.py mcp_server``: the MCP server over stdio, for an agent's
client to start (docs/api.md "MCP server"). The personal API key comes from
``MIRSAM_API_KEY``; stdout carries the protocol, so every log line goes to
stderr."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from api.auth import key_check
from api.errors import ApiError
from api.mcp import SECRET_ENV, build_server
from api.services import api_key_authenticate


def _logs_to_stderr() -> None:
    """Point every stream handler writing to stdout at stderr instead (the
    settings' console handler writes to stderr already; this guards against
    any other), so no log line can corrupt the protocol."""
    for logger in [logging.getLogger(), *map(logging.getLogger, logging.root.manager.loggerDict)]:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
                handler.setStream(sys.stderr)


class Command(BaseCommand):
    help = f"Serve the MCP tools over stdio for an AI agent, as the owner of the API key in ${SECRET_ENV}."

    def handle(self, *args: Any, **options: Any) -> None:
        secret = os.environ.get(SECRET_ENV, "").strip()
        if not secret:
            raise CommandError(f"Set {SECRET_ENV} to a personal API key (Settings → API keys).")
        try:
            key = key_check(api_key_authenticate(secret=secret))
        except ApiError as exc:
            raise CommandError(f"{SECRET_ENV}: {exc.message}") from exc
        finally:
            close_old_connections()
        _logs_to_stderr()
        logging.getLogger(__name__).info("MCP server over stdio for API key %s…", key.prefix)
        # The SDK's stdio transport: JSON-RPC lines on stdin and stdout until stdin closes.
        build_server(stdio_secret=secret).run("stdio")
