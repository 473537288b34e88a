"""kie.ai's Runway API (docs/kie.md §2.3).

* generate ``POST /api/v1/runway/generate``, extend ``POST /api/v1/runway/extend``
  → ``data.taskId``;
* record ``GET /api/v1/runway/record-detail?taskId=`` → ``data.state`` (note
  "queueing", not Market's "queuing") and ``data.videoInfo``;
* callback, snake_case: ``{code, msg, data: {task_id, video_id, video_url, image_url}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from ..base import TaskRequest, TaskResult, TaskState
from .client import as_code
from .family import (
    Family,
    Malformed,
    callback_code,
    callback_data,
    failed_result,
    given,
    seconds,
    task_id_of,
    with_callback,
)

GENERATE_PATH = "/api/v1/runway/generate"
EXTEND_PATH = "/api/v1/runway/extend"
RECORD_PATH = "/api/v1/runway/record-detail"

EXPIRED_MESSAGE = _("The provider's result expired before we could fetch it.")


def generate_body(request: TaskRequest, image_urls: list[str]) -> dict[str, Any]:
    """``runway/generate`` body (§2.3): ``{"prompt", "duration"? (int seconds:
    5, 10), "quality"? (params ``resolution``: "720p", "1080p"), "aspectRatio"?
    (only without an image: kie ignores it then), "imageUrl"? (the first file),
    "waterMark": "" (none), "callBackUrl"?}``."""
    params = request.params
    body: dict[str, Any] = {"prompt": str(params.get("prompt") or "")}
    if (duration := given(params, "duration")) is not None:
        body["duration"] = seconds(duration)
    if (quality := given(params, "resolution")) is not None:
        body["quality"] = quality
    if image_urls:
        body["imageUrl"] = image_urls[0]
    elif (aspect_ratio := given(params, "aspect_ratio")) is not None:
        body["aspectRatio"] = aspect_ratio
    body["waterMark"] = ""
    return with_callback(body, request)


def extend_body(request: TaskRequest) -> dict[str, Any]:
    """``runway/extend`` body (§2.3): ``{"taskId": params extend_task_id,
    "prompt", "quality"? (params ``resolution``), "waterMark": "", "callBackUrl"?}``."""
    params = request.params
    body: dict[str, Any] = {"taskId": str(params["extend_task_id"]), "prompt": str(params.get("prompt") or "")}
    if (quality := given(params, "resolution")) is not None:
        body["quality"] = quality
    body["waterMark"] = ""
    return with_callback(body, request)


def video(task_id: str, video_url: Any, image_url: Any) -> TaskResult:
    if not isinstance(video_url, str) or not video_url:
        raise Malformed("no videoUrl")
    posters = [image_url] if isinstance(image_url, str) and image_url else []
    return TaskResult(task_id=task_id, state=TaskState.SUCCEEDED, output_urls=[video_url], poster_urls=posters)


def runway_result(data: Any, *, task_id: str | None = None) -> TaskResult:
    """A :class:`TaskResult` from ``record-detail`` ``data`` (§2.3): ``state``
    per :attr:`Runway.states`; success → ``output_urls`` =
    [``videoInfo.videoUrl``] and ``poster_urls`` = [``videoInfo.imageUrl``]
    (when sent), or FAILED ``"expired"`` when ``expireFlag`` is 1; fail →
    FAILED with ``failCode``/``failMsg``. Raises :class:`Malformed`."""
    if not isinstance(data, dict):
        raise Malformed("data is not an object")
    task_id = task_id_of(data, task_id)
    state = RUNWAY.state(data)
    if state is TaskState.SUCCEEDED:
        if as_code(data.get("expireFlag")) == 1:
            return TaskResult(
                task_id=task_id, state=TaskState.FAILED, error_code="expired", error_message=str(EXPIRED_MESSAGE)
            )
        info = data.get("videoInfo")
        info = info if isinstance(info, dict) else {}
        return video(task_id, info.get("videoUrl"), info.get("imageUrl"))
    if state is TaskState.FAILED:
        return failed_result(task_id, code=data.get("failCode"), reason_text=data.get("failMsg"))
    return TaskResult(task_id=task_id, state=state)


class Runway(Family):
    name = "runway"
    models = frozenset({"runway"})
    record_path = RECORD_PATH
    state_field = "state"
    states: ClassVar[Mapping[Any, TaskState]] = {
        "wait": TaskState.RUNNING,
        "queueing": TaskState.RUNNING,
        "generating": TaskState.RUNNING,
        "success": TaskState.SUCCEEDED,
        "fail": TaskState.FAILED,
    }
    #: One start frame (§2.3 ``imageUrl``).
    max_inputs = 1
    extends = True

    def create(self, request: TaskRequest, urls: list[str]) -> tuple[str, dict[str, Any]]:
        if given(request.params, "extend_task_id") is not None:
            return EXTEND_PATH, extend_body(request)
        return GENERATE_PATH, generate_body(request, urls)

    def read_record(self, data: Any, *, task_id: str) -> TaskResult:
        return runway_result(data, task_id=task_id)

    def read_callback(self, envelope: dict[str, Any]) -> TaskResult:
        """``code`` 200 → SUCCEEDED with [``video_url``] and poster
        [``image_url``]; any other → FAILED with that code and ``msg``."""
        data = callback_data(envelope)
        task_id = task_id_of(data, None)
        code = callback_code(envelope)
        if code != 200:
            return failed_result(task_id, code=code, reason_text=envelope.get("msg"))
        return video(task_id, data.get("video_url"), data.get("image_url"))

    def is_callback(self, data: dict[str, Any]) -> bool:
        return any(key in data for key in ("task_id", "video_id", "video_url"))


RUNWAY = Runway()
