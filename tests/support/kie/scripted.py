"""kie.ai scripted per test on pytest-httpserver: each test says what the
local server answers (``httpserver.expect_request(CREATE).respond_with_json(
created())``), built with :mod:`tests.support.kie.wire`, and reads back what
it was sent. For a kie.ai that keeps tasks and answers by itself, see
:class:`tests.support.kie.server.KieFake`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pytest_httpserver import HTTPServer

from .media import mp4_bytes, png_bytes
from .wire import KIE_KEY, MP4_PATH, PNG_PATH


def kie_configure(settings: Any, httpserver: HTTPServer) -> HTTPServer:
    """Point the kie adapter at the local server (API and upload host), with
    :data:`~tests.support.kie.wire.KIE_KEY`, a 5 s timeout, 2 fast retries and
    neither a webhook HMAC key nor a callback base URL; returns the server.
    ``settings`` is pytest-django's fixture (restored after the test)."""
    settings.KIE_BASE_URL = httpserver.url_for("/").rstrip("/")
    settings.KIE_UPLOAD_BASE_URL = httpserver.url_for("/").rstrip("/")
    settings.KIE_API_KEY = KIE_KEY
    settings.KIE_TIMEOUT_SECONDS = 5.0
    settings.KIE_MAX_RETRIES = 2
    settings.KIE_RETRY_BACKOFF_SECONDS = 0.01
    settings.KIE_WEBHOOK_HMAC_KEY = ""
    settings.KIE_CALLBACK_BASE_URL = ""
    return httpserver


def serve_png(httpserver: HTTPServer, data: bytes | None = None) -> str:
    """Serve a real PNG (default :func:`~tests.support.kie.media.png_bytes`) at
    ``PNG_PATH`` like kie's CDN does; returns its URL."""
    httpserver.expect_request(PNG_PATH, method="GET").respond_with_data(
        data if data is not None else png_bytes(), content_type="image/png"
    )
    return httpserver.url_for(PNG_PATH)


def serve_mp4(httpserver: HTTPServer, data: bytes | None = None, *, path: str = MP4_PATH) -> str:
    """Serve an MP4 (default :func:`~tests.support.kie.media.mp4_bytes`) at
    ``path`` like kie's CDN does; returns its URL."""
    httpserver.expect_request(path, method="GET").respond_with_data(
        data if data is not None else mp4_bytes(), content_type="video/mp4"
    )
    return httpserver.url_for(path)


def requests_to(httpserver: HTTPServer, path: str) -> list[Any]:
    """The requests (werkzeug ``Request``) the local server received for ``path``, in order."""
    return [req for req, _resp in httpserver.log if req.path == path]


@contextmanager
def own_server() -> Iterator[HTTPServer]:
    """A threaded local server of its own, for handlers that sleep past our
    timeout: the shared ``httpserver`` answers one request at a time, so a
    sleeping handler would still be busy (and log into) the next test."""
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()
