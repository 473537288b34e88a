"""A local kie.ai: helpers that answer in kie.ai's wire format (shared/kie/API.md
§1 envelope, §2.1 Market) from pytest-httpserver on 127.0.0.1.

The generation tests import the plain helpers from here (``from
tests.providers.conftest import ...``) so both suites speak the same wire format.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from PIL import Image
from pytest_httpserver import HTTPServer

from providers.kie import callback_signature

KIE_KEY = "kie-test-key-5f0c2a9e41b7"
HMAC_KEY = "whk-test-7d1e"
TASK_ID = "task_google_1765178615729"
CREATE = "/api/v1/jobs/createTask"
RECORD = "/api/v1/jobs/recordInfo"
CREDIT = "/api/v1/chat/credit"
PNG_PATH = "/cdn/out.png"


def envelope(data: Any = None, *, code: int = 200, msg: str = "success") -> dict[str, Any]:
    """kie.ai's answer envelope (API.md §1)."""
    return {"code": code, "msg": msg, "data": data}


def created(task_id: str = TASK_ID) -> dict[str, Any]:
    return envelope({"taskId": task_id})


def record(
    state: str,
    *,
    task_id: str = TASK_ID,
    urls: list[str] | None = None,
    fail_code: str = "",
    fail_msg: str = "",
) -> dict[str, Any]:
    """A recordInfo ``data`` (API.md §2.1, §3 "Finished recordInfo")."""
    return {
        "taskId": task_id,
        "model": "google/nano-banana",
        "state": state,
        "param": json.dumps({"model": "google/nano-banana", "input": {"prompt": "a red fox"}}),
        "resultJson": json.dumps({"resultUrls": urls}) if urls is not None else "",
        "failCode": fail_code,
        "failMsg": fail_msg,
        "costTime": 15000,
        "completeTime": 1698765432000,
        "createTime": 1698765400000,
        "updateTime": 1698765432000,
    }


def callback_body(
    state: str, *, task_id: str = TASK_ID, urls: list[str] | None = None, fail_code: str = "", fail_msg: str = ""
) -> bytes:
    """A Market callback (API.md §2.1 "Callback body")."""
    ok = state == "success"
    data = {
        "taskId": task_id,
        "model": "google/nano-banana",
        "state": state,
        "param": "{}",
        "resultJson": json.dumps({"resultUrls": urls}) if ok else None,
        "failCode": None if ok else fail_code,
        "failMsg": None if ok else fail_msg,
        "costTime": 12,
        "completeTime": 1698765432000,
        "createTime": 1698765400000,
        "updateTime": 1698765432000,
        "creditsConsumed": 4 if ok else 0,
    }
    msg = "Playground task completed successfully." if ok else "Playground task failed."
    return json.dumps({"code": 200 if ok else 501, "msg": msg, "data": data}).encode()


def signed_headers(body: bytes, *, key: str = HMAC_KEY, age: int = 0) -> dict[str, str]:
    """The signature headers kie.ai adds when a webhook HMAC key exists (API.md §1)."""
    timestamp = str(int(time.time()) - age)
    task_id = json.loads(body)["data"]["taskId"]
    return {
        "x-webhook-timestamp": timestamp,
        "x-webhook-signature": callback_signature(key=key, task_id=task_id, timestamp=timestamp),
    }


def png_bytes(size: tuple[int, int] = (32, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(out, format="PNG")
    return out.getvalue()


def kie_configure(settings, httpserver: HTTPServer) -> HTTPServer:
    """Point the kie adapter at the local server, with a key and fast retries."""
    settings.KIE_BASE_URL = httpserver.url_for("/").rstrip("/")
    settings.KIE_API_KEY = KIE_KEY
    settings.KIE_TIMEOUT_SECONDS = 5.0
    settings.KIE_MAX_RETRIES = 2
    settings.KIE_RETRY_BACKOFF_SECONDS = 0.01
    settings.KIE_WEBHOOK_HMAC_KEY = ""
    settings.KIE_CALLBACK_BASE_URL = ""
    return httpserver


def serve_png(httpserver: HTTPServer, data: bytes | None = None) -> str:
    """Serve a real PNG like kie's CDN does; returns its URL."""
    httpserver.expect_request(PNG_PATH, method="GET").respond_with_data(
        data if data is not None else png_bytes(), content_type="image/png"
    )
    return httpserver.url_for(PNG_PATH)


def requests_to(httpserver: HTTPServer, path: str) -> list[Any]:
    """The requests the local server received for ``path``, in order."""
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


@pytest.fixture
def kie(settings, httpserver: HTTPServer) -> HTTPServer:
    return kie_configure(settings, httpserver)


@pytest.fixture
def slow_kie(settings) -> Iterator[HTTPServer]:
    with own_server() as server:
        yield kie_configure(settings, server)
