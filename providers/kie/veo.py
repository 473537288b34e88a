"""kie.ai's Veo 3.1 API (docs/kie.md §2.2).

* generate ``POST /api/v1/veo/generate``, extend ``POST /api/v1/veo/extend``
  → ``data.taskId``;
* record ``GET /api/v1/veo/record-info?taskId=`` → ``data.successFlag`` (0
  generating, 1 success, 2 failed, 3 generation failed) and
  ``data.response.resultUrls``;
* callback ``{code: 200|400|422|500|501, msg, data: {taskId, info:
  {resultUrls[], originUrls[], resolution}}}``, ``msg`` the failure reason.
"""

from __future__ import annotations

from typing import Any

from ..base import TaskRequest, TaskResult, TaskState
from .client import as_code
from .family import (
    SUCCESS_FLAG_STATES,
    Family,
    Malformed,
    billed_credits,
    callback_code,
    callback_data,
    failed_result,
    given,
    seconds,
    task_id_of,
    url_list,
    with_callback,
)

GENERATE_PATH = "/api/v1/veo/generate"
EXTEND_PATH = "/api/v1/veo/extend"
RECORD_PATH = "/api/v1/veo/record-info"

#: Veo generate ``model`` → the ``model`` its extend call names (§2.2 extend).
EXTEND_MODELS = {"veo3": "quality", "veo3_fast": "fast", "veo3_lite": "lite"}


def generate_body(request: TaskRequest, image_urls: list[str]) -> dict[str, Any]:
    """``veo/generate`` body (§2.2): ``{"prompt", "model", "generationType":
    "TEXT_2_VIDEO" | "FIRST_AND_LAST_FRAMES_2_VIDEO" (1 image = start frame,
    2 = first and last), "imageUrls"?, "aspectRatio"? ("16:9", "9:16", "Auto"),
    "duration"? (int seconds: 4, 6, 8), "resolution"? ("720p", "1080p", "4k"),
    "callBackUrl"?}``."""
    params = request.params
    body: dict[str, Any] = {
        "prompt": str(params.get("prompt") or ""),
        "model": request.provider_model,
        "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO" if image_urls else "TEXT_2_VIDEO",
    }
    if image_urls:
        body["imageUrls"] = list(image_urls)
    if (aspect_ratio := given(params, "aspect_ratio")) is not None:
        body["aspectRatio"] = "Auto" if str(aspect_ratio).lower() == "auto" else aspect_ratio
    if (duration := given(params, "duration")) is not None:
        body["duration"] = seconds(duration)
    if (resolution := given(params, "resolution")) is not None:
        body["resolution"] = resolution
    return with_callback(body, request)


def extend_body(request: TaskRequest) -> dict[str, Any]:
    """``veo/extend`` body (§2.2): ``{"taskId": params extend_task_id, "prompt",
    "model": "quality" | "fast" | "lite" (from veo3 / veo3_fast / veo3_lite),
    "callBackUrl"?}``."""
    body = {
        "taskId": str(request.params["extend_task_id"]),
        "prompt": str(request.params.get("prompt") or ""),
        "model": EXTEND_MODELS[request.provider_model],
    }
    return with_callback(body, request)


def veo_result(data: Any, *, task_id: str | None = None) -> TaskResult:
    """A :class:`TaskResult` from ``record-info`` ``data`` (§2.2):
    ``successFlag`` per :attr:`Veo.states`; success → ``output_urls`` =
    ``response.resultUrls`` (videos, no poster); 2 or 3 → FAILED with
    ``errorCode``/``errorMessage``. Raises :class:`Malformed`."""
    if not isinstance(data, dict):
        raise Malformed("data is not an object")
    task_id = task_id_of(data, task_id)
    state = VEO.state(data)
    if state is TaskState.SUCCEEDED:
        response = data.get("response")
        urls = url_list(response.get("resultUrls") if isinstance(response, dict) else None, "resultUrls")
        return TaskResult(task_id=task_id, state=state, output_urls=urls, billed_credits=billed_credits(data))
    if state is TaskState.FAILED:
        return failed_result(task_id, code=data.get("errorCode"), reason_text=data.get("errorMessage"))
    return TaskResult(task_id=task_id, state=state)


class Veo(Family):
    name = "veo"
    models = frozenset(EXTEND_MODELS)
    record_path = RECORD_PATH
    state_field = "successFlag"
    states = SUCCESS_FLAG_STATES
    #: First and last frame (§2.2 ``imageUrls``).
    max_inputs = 2
    extends = True

    def state_value(self, raw: Any) -> Any:
        return as_code(raw)

    def create(self, request: TaskRequest, urls: list[str]) -> tuple[str, dict[str, Any]]:
        if given(request.params, "extend_task_id") is not None:
            return EXTEND_PATH, extend_body(request)
        return GENERATE_PATH, generate_body(request, urls)

    def read_record(self, data: Any, *, task_id: str) -> TaskResult:
        return veo_result(data, task_id=task_id)

    def read_callback(self, envelope: dict[str, Any]) -> TaskResult:
        """``code`` 200 → SUCCEEDED with ``info.resultUrls``; any other (400,
        422, 500, 501) → FAILED with that code and ``msg`` as the reason."""
        data = callback_data(envelope)
        task_id = task_id_of(data, None)
        code = callback_code(envelope)
        if code != 200:
            return failed_result(task_id, code=code, reason_text=envelope.get("msg"))
        info = data.get("info")
        urls = url_list(info.get("resultUrls") if isinstance(info, dict) else None, "info.resultUrls")
        return TaskResult(task_id=task_id, state=TaskState.SUCCEEDED, output_urls=urls)

    def is_callback(self, data: dict[str, Any]) -> bool:
        return "taskId" in data or "info" in data


VEO = Veo()
