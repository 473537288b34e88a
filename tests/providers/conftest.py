"""A local kie.ai: helpers that answer in kie.ai's wire format (shared/kie/API.md
§1 envelope and file upload, §2.1 Market, §2.2 Veo 3.1, §2.3 Runway) from
pytest-httpserver on 127.0.0.1.

The generation tests import the plain helpers from here (``from
tests.providers.conftest import ...``) so both suites speak the same wire format.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import pytest
from PIL import Image
from pytest_httpserver import HTTPServer

from providers.base import InputFile, ProviderError
from providers.kie import callback_signature
from providers.models import ProviderCall

KIE_KEY = "kie-test-key-5f0c2a9e41b7"
HMAC_KEY = "whk-test-7d1e"
TASK_ID = "task_google_1765178615729"
CREATE = "/api/v1/jobs/createTask"
RECORD = "/api/v1/jobs/recordInfo"
CREDIT = "/api/v1/chat/credit"
PNG_PATH = "/cdn/out.png"
VEO_TASK_ID = "veo_task_9a1c2e7f30b4"
RUNWAY_TASK_ID = "ee603959-debb-48d1-98c4-a6d1c717eba6"
VEO_GENERATE = "/api/v1/veo/generate"
VEO_EXTEND = "/api/v1/veo/extend"
VEO_RECORD = "/api/v1/veo/record-info"
RUNWAY_GENERATE = "/api/v1/runway/generate"
RUNWAY_EXTEND = "/api/v1/runway/extend"
RUNWAY_RECORD = "/api/v1/runway/record-detail"
UPLOAD = "/api/file-stream-upload"
MP4_PATH = "/cdn/out.mp4"
POSTER_PATH = "/cdn/poster.jpg"


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
    data = json.loads(body)["data"]
    task_id = data.get("taskId") or data["task_id"]  # Runway's callbacks are snake_case
    return {
        "x-webhook-timestamp": timestamp,
        "x-webhook-signature": callback_signature(key=key, task_id=task_id, timestamp=timestamp),
    }


# --- Veo 3.1 (API.md §2.2) ------------------------------------------------------


def veo_record(
    flag: int,
    *,
    task_id: str = VEO_TASK_ID,
    urls: list[str] | None = None,
    error_code: int | None = None,
    error_message: str | None = None,
) -> dict[str, Any]:
    """A Veo ``record-info`` ``data``: ``successFlag`` 0 generating, 1 success,
    2 failed, 3 generation failed; ``response.resultUrls`` once done."""
    done = flag == 1
    return {
        "taskId": task_id,
        "paramJson": json.dumps({"prompt": "a fox running", "model": "veo3_fast"}),
        "completeTime": 1698765432000 if flag else None,
        "response": (
            {"taskId": task_id, "resultUrls": urls, "originUrls": urls, "fullResultUrls": urls, "resolution": "720p"}
            if done
            else None
        ),
        "successFlag": flag,
        "errorCode": error_code,
        "errorMessage": error_message,
        "createTime": 1698765400000,
        "fallbackFlag": False,
    }


def veo_callback_body(
    code: int = 200, *, task_id: str = VEO_TASK_ID, urls: list[str] | None = None, msg: str = ""
) -> bytes:
    """A Veo callback: ``{code, msg, data: {taskId, info: {resultUrls, originUrls,
    resolution}, fallbackFlag}}``; a failure carries no info and its reason in ``msg``."""
    ok = code == 200
    info = {"resultUrls": urls or [], "originUrls": urls or [], "resolution": "720p"} if ok else None
    body = {
        "code": code,
        "msg": msg or ("Veo3 video generated successfully." if ok else "failed"),
        "data": {"taskId": task_id, "info": info, "fallbackFlag": False},
    }
    return json.dumps(body).encode()


# --- Runway (API.md §2.3) --------------------------------------------------------


def runway_record(
    state: str,
    *,
    task_id: str = RUNWAY_TASK_ID,
    video_url: str = "",
    image_url: str = "",
    fail_code: int | str | None = None,
    fail_msg: str = "",
    expire_flag: int = 0,
) -> dict[str, Any]:
    """A Runway ``record-detail`` ``data``: ``state`` wait/queueing/generating/
    success/fail, ``videoInfo`` once done."""
    done = state == "success"
    return {
        "taskId": task_id,
        "parentTaskId": "",
        "generateParam": {"prompt": "a fox running", "imageUrl": "", "expandPrompt": True},
        "state": state,
        "generateTime": "2025-06-30 12:00:00",
        "videoInfo": (
            {"videoId": "485da89c-7fca-4340-8c04-101025b2ae71", "videoUrl": video_url, "imageUrl": image_url}
            if done
            else None
        ),
        "failCode": fail_code,
        "failMsg": fail_msg,
        "expireFlag": expire_flag,
    }


def runway_callback_body(
    code: int = 200,
    *,
    task_id: str = RUNWAY_TASK_ID,
    video_url: str = "",
    image_url: str = "",
    msg: str = "",
) -> bytes:
    """A Runway callback, snake_case: ``{code, msg, data: {task_id, video_id,
    video_url, image_url}}``."""
    ok = code == 200
    data = {
        "task_id": task_id,
        "video_id": "485da89c-7fca-4340-8c04-101025b2ae71" if ok else "",
        "video_url": video_url if ok else "",
        "image_url": image_url if ok else "",
    }
    return json.dumps(
        {"code": code, "msg": msg or ("All generated successfully." if ok else "failed"), "data": data}
    ).encode()


# --- file upload (API.md §1 File upload) ------------------------------------------


def uploaded(download_url: str, *, file_name: str = "0-0-frame.png", key: str = "downloadUrl") -> dict[str, Any]:
    """The upload host's answer; ``key`` lets a test name the URL ``fileUrl``
    (the quickstart's older field)."""
    return {
        "success": True,
        "code": 200,
        "msg": "File uploaded successfully",
        "data": {
            "fileName": file_name,
            "filePath": f"mirsam/7/{file_name}",
            key: download_url,
            "fileSize": 1234,
            "mimeType": "image/png",
            "uploadedAt": "2025-06-30T12:00:00.000Z",
        },
    }


def input_file(
    data: bytes | None = None,
    *,
    name: str = "frame.png",
    content_type: str = "image/png",
    role: str = "first_frame",
    opened: list[IO[bytes]] | None = None,
) -> InputFile:
    """A user's file as the pipeline hands it over; every file ``open()``
    returns is appended to ``opened`` so a test can check it was closed."""
    content = data if data is not None else png_bytes()

    def open_() -> IO[bytes]:
        file = io.BytesIO(content)
        if opened is not None:
            opened.append(file)
        return file

    return InputFile(name=name, content_type=content_type, open=open_, role=role)


def mp4_bytes(size: int = 4096) -> bytes:
    """Bytes that start like an MP4 (an ``ftyp`` box); the adapter never decodes them."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    return head + b"\x00" * max(0, size - len(head))


def raised(call) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        call()
    return info.value


def png_bytes(size: tuple[int, int] = (32, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(out, format="PNG")
    return out.getvalue()


def kie_configure(settings, httpserver: HTTPServer) -> HTTPServer:
    """Point the kie adapter at the local server, with a key and fast retries."""
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
    """Serve a real PNG like kie's CDN does; returns its URL."""
    httpserver.expect_request(PNG_PATH, method="GET").respond_with_data(
        data if data is not None else png_bytes(), content_type="image/png"
    )
    return httpserver.url_for(PNG_PATH)


def serve_mp4(httpserver: HTTPServer, data: bytes | None = None, *, path: str = MP4_PATH) -> str:
    """Serve an MP4 like kie's CDN does; returns its URL."""
    httpserver.expect_request(path, method="GET").respond_with_data(
        data if data is not None else mp4_bytes(), content_type="video/mp4"
    )
    return httpserver.url_for(path)


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


@pytest.fixture
def calls():
    """This test's kie rows of the call log (the test database may hold rows
    committed by other suites, e.g. a real worker's)."""
    baseline = ProviderCall.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return lambda: ProviderCall.objects.filter(adapter="kie", id__gt=baseline).order_by("id")
