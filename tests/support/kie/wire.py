"""kie.ai's wire format, as plain data: paths, ids, the answer envelope and
every body kie.ai sends (create, detail records, callbacks, upload answers)
and the signature it puts on callbacks. Sources: docs/kie.md §1
(envelope, credits, file upload, callbacks and their signing), §2.1 Market,
§2.2 Veo 3.1, §2.3 Runway, §3 examples.

Pure functions of their arguments (no I/O, no Django); the defaults are
the values the tests have always been written against, and the stateful
fake (:mod:`tests.support.kie.server`) passes the live values of its tasks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

KIE_KEY = "kie-test-key-5f0c2a9e41b7"
"""The API key the tests configure (``Authorization: Bearer <key>``, §1 Auth)."""
HMAC_KEY = "whk-test-7d1e"
"""The webhook HMAC key the tests sign callbacks with (§1 Callbacks)."""
TASK_ID = "task_google_1765178615729"
VEO_TASK_ID = "veo_task_9a1c2e7f30b4"
RUNWAY_TASK_ID = "ee603959-debb-48d1-98c4-a6d1c717eba6"
MARKET_MODEL = "google/nano-banana"

# §2.1 Market
CREATE = "/api/v1/jobs/createTask"
RECORD = "/api/v1/jobs/recordInfo"
# §2.2 Veo 3.1
VEO_GENERATE = "/api/v1/veo/generate"
VEO_EXTEND = "/api/v1/veo/extend"
VEO_RECORD = "/api/v1/veo/record-info"
# §2.3 Runway
RUNWAY_GENERATE = "/api/v1/runway/generate"
RUNWAY_EXTEND = "/api/v1/runway/extend"
RUNWAY_RECORD = "/api/v1/runway/record-detail"
# §1 Credits, File upload (the upload host's path)
CREDIT = "/api/v1/chat/credit"
UPLOAD = "/api/file-stream-upload"
# where the fakes' CDN serves outputs
CDN = "/cdn/"
PNG_PATH = "/cdn/out.png"
MP4_PATH = "/cdn/out.mp4"
POSTER_PATH = "/cdn/poster.jpg"

UNAUTHORIZED_MSG = "You do not have access permissions"  # §1 Auth

# Fixed epoch-millisecond times of docs/kie.md §3's examples.
CREATE_TIME_MS = 1698765400000
COMPLETE_TIME_MS = 1698765432000


def envelope(data: Any = None, *, code: int = 200, msg: str = "success") -> dict[str, Any]:
    """kie.ai's answer envelope ``{code, msg, data}`` (§1 Envelope); the
    HTTP status may be 200 whatever ``code`` says."""
    return {"code": code, "msg": msg, "data": data}


def created(task_id: str = TASK_ID) -> dict[str, Any]:
    """The answer to a create (Market, Veo, Runway): ``data.taskId`` (§1, §3)."""
    return envelope({"taskId": task_id})


def record(
    state: str,
    *,
    task_id: str = TASK_ID,
    urls: list[str] | None = None,
    fail_code: str = "",
    fail_msg: str = "",
    model: str = MARKET_MODEL,
    param: str | None = None,
    cost_time: int | None = 15000,
    create_time: int = CREATE_TIME_MS,
    complete_time: int | None = COMPLETE_TIME_MS,
    update_time: int = COMPLETE_TIME_MS,
) -> dict[str, Any]:
    """A Market ``recordInfo`` ``data`` (§2.1, §3 "Finished recordInfo").

    ``state`` is ``waiting``/``queuing``/``generating``/``success``/``fail``;
    ``urls`` become ``resultJson`` (a JSON *string*, "" when None); ``param``
    is the create request as a JSON string (default: ``model`` with the
    prompt "a red fox"); times are epoch milliseconds, ``cost_time`` ms."""
    if param is None:
        param = json.dumps({"model": model, "input": {"prompt": "a red fox"}})
    return {
        "taskId": task_id,
        "model": model,
        "state": state,
        "param": param,
        "resultJson": json.dumps({"resultUrls": urls}) if urls is not None else "",
        "failCode": fail_code,
        "failMsg": fail_msg,
        "costTime": cost_time,
        "completeTime": complete_time,
        "createTime": create_time,
        "updateTime": update_time,
    }


def callback_body(
    state: str,
    *,
    task_id: str = TASK_ID,
    urls: list[str] | None = None,
    fail_code: str = "",
    fail_msg: str = "",
    model: str = MARKET_MODEL,
    param: str = "{}",
    cost_time: int = 12,
    create_time: int = CREATE_TIME_MS,
    complete_time: int = COMPLETE_TIME_MS,
    update_time: int = COMPLETE_TIME_MS,
    credits: int = 4,
) -> bytes:
    """A Market callback's JSON body (§2.1 "Callback body"): code 200 and
    ``state`` "success" with ``resultJson``, else code 501 with
    ``failCode``/``failMsg``; ``cost_time`` in *seconds* here (§4),
    ``creditsConsumed`` ``credits`` on success, 0 on failure."""
    ok = state == "success"
    data = {
        "taskId": task_id,
        "model": model,
        "state": state,
        "param": param,
        "resultJson": json.dumps({"resultUrls": urls}) if ok else None,
        "failCode": None if ok else fail_code,
        "failMsg": None if ok else fail_msg,
        "costTime": cost_time,
        "completeTime": complete_time,
        "createTime": create_time,
        "updateTime": update_time,
        "creditsConsumed": credits if ok else 0,
    }
    msg = "Playground task completed successfully." if ok else "Playground task failed."
    return json.dumps({"code": 200 if ok else 501, "msg": msg, "data": data}).encode()


def callback_signature(*, key: str, task_id: str, timestamp: str) -> str:
    """``base64(HMAC_SHA256(key, taskId + "." + timestamp))``, as kie.ai signs
    callbacks (§1 Callbacks). Written here from the doc, not imported from
    the adapter, so the tests check the adapter against kie.ai's rule."""
    digest = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_headers(body: bytes, *, key: str = HMAC_KEY, age: int = 0) -> dict[str, str]:
    """The signature headers kie.ai adds when a webhook HMAC key exists (§1):
    ``x-webhook-timestamp`` (Unix seconds, ``age`` seconds ago) and
    ``x-webhook-signature`` over the body's ``data.taskId`` (Runway:
    ``data.task_id``)."""
    timestamp = str(int(time.time()) - age)
    data = json.loads(body)["data"]
    task_id = data.get("taskId") or data["task_id"]  # Runway's callbacks are snake_case
    return {
        "x-webhook-timestamp": timestamp,
        "x-webhook-signature": callback_signature(key=key, task_id=task_id, timestamp=timestamp),
    }


# --- Veo 3.1 (§2.2) ---------------------------------------------------------------


def veo_record(
    flag: int,
    *,
    task_id: str = VEO_TASK_ID,
    urls: list[str] | None = None,
    error_code: int | None = None,
    error_message: str | None = None,
    param: str | None = None,
    create_time: int = CREATE_TIME_MS,
    complete_time: int = COMPLETE_TIME_MS,
) -> dict[str, Any]:
    """A Veo ``record-info`` ``data``: ``successFlag`` 0 generating, 1 success,
    2 failed, 3 generation failed; ``response.resultUrls`` once done;
    ``paramJson`` the request (default: "a fox running", ``veo3_fast``)."""
    done = flag == 1
    if param is None:
        param = json.dumps({"prompt": "a fox running", "model": "veo3_fast"})
    return {
        "taskId": task_id,
        "paramJson": param,
        "completeTime": complete_time if flag else None,
        "response": (
            {"taskId": task_id, "resultUrls": urls, "originUrls": urls, "fullResultUrls": urls, "resolution": "720p"}
            if done
            else None
        ),
        "successFlag": flag,
        "errorCode": error_code,
        "errorMessage": error_message,
        "createTime": create_time,
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


# --- Runway (§2.3) ------------------------------------------------------------------

RUNWAY_VIDEO_ID = "485da89c-7fca-4340-8c04-101025b2ae71"


def runway_record(
    state: str,
    *,
    task_id: str = RUNWAY_TASK_ID,
    video_url: str = "",
    image_url: str = "",
    fail_code: int | str | None = None,
    fail_msg: str = "",
    expire_flag: int = 0,
    prompt: str = "a fox running",
) -> dict[str, Any]:
    """A Runway ``record-detail`` ``data``: ``state`` wait/queueing/generating/
    success/fail, ``videoInfo`` (``videoUrl``, poster ``imageUrl``) once done."""
    done = state == "success"
    return {
        "taskId": task_id,
        "parentTaskId": "",
        "generateParam": {"prompt": prompt, "imageUrl": "", "expandPrompt": True},
        "state": state,
        "generateTime": "2025-06-30 12:00:00",
        "videoInfo": ({"videoId": RUNWAY_VIDEO_ID, "videoUrl": video_url, "imageUrl": image_url} if done else None),
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
        "video_id": RUNWAY_VIDEO_ID if ok else "",
        "video_url": video_url if ok else "",
        "image_url": image_url if ok else "",
    }
    return json.dumps(
        {"code": code, "msg": msg or ("All generated successfully." if ok else "failed"), "data": data}
    ).encode()


# --- file upload (§1 File upload) -----------------------------------------------------


def uploaded(
    download_url: str,
    *,
    file_name: str = "0-0-frame.png",
    key: str = "downloadUrl",
    upload_path: str = "mirsam/7",
    size: int = 1234,
    mime_type: str = "image/png",
) -> dict[str, Any]:
    """The upload host's answer ``{success, code, msg, data: {fileName,
    filePath, downloadUrl, fileSize, mimeType, uploadedAt}}``; ``key`` lets a
    test name the URL ``fileUrl`` (the quickstart's older field)."""
    return {
        "success": True,
        "code": 200,
        "msg": "File uploaded successfully",
        "data": {
            "fileName": file_name,
            "filePath": f"{upload_path}/{file_name}",
            key: download_url,
            "fileSize": size,
            "mimeType": mime_type,
            "uploadedAt": "2025-06-30T12:00:00.000Z",
        },
    }
