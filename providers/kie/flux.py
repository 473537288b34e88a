"""kie.ai's Flux Kontext API (docs/kie.md §2.5), filed by kie.ai under its
older APIs, which still serve.

* generate ``POST /api/v1/flux/kontext/generate``, a flat camelCase body:
  ``{prompt*, model: flux-kontext-pro | flux-kontext-max, inputImage? (edit
  mode), aspectRatio: 21:9 | 16:9 | 4:3 | 1:1 | 3:4 | 9:16, outputFormat: jpeg
  | png, enableTranslation, callBackUrl?}`` → ``data.taskId``;
* record ``GET /api/v1/flux/kontext/record-info?taskId=`` → ``successFlag``
  (0 generating, 1 success, 2 create failed, 3 generation failed) and
  ``response.resultImageUrl``, ``errorCode``, ``errorMessage``;
* callback ``{code: 200 | 400 | 500 | 501, msg, data: {taskId, info:
  {originImageUrl, resultImageUrl}}}``; on failure both URLs are ``""``.

Prompts must be English; ``enableTranslation`` is sent ``true`` so that an
Arabic prompt is translated by kie.ai first.
"""

from __future__ import annotations

from typing import Any

from ..base import TaskRequest, TaskResult, TaskState
from .client import as_code
from .family import (
    SUCCESS_FLAG_STATES,
    Family,
    Malformed,
    callback_code,
    callback_data,
    failed_result,
    given,
    task_id_of,
    url_list,
    with_callback,
)

GENERATE_PATH = "/api/v1/flux/kontext/generate"
RECORD_PATH = "/api/v1/flux/kontext/record-info"


def generate_body(request: TaskRequest, image_urls: list[str]) -> dict[str, Any]:
    """The generate body (§2.5): ``prompt``, ``model``, ``enableTranslation``
    true, ``aspectRatio`` and ``outputFormat`` when given (params
    ``aspect_ratio``; the row's ``constants.output_format``), ``inputImage``
    (the one reference, edit mode), ``callBackUrl``."""
    body: dict[str, Any] = {
        "prompt": str(request.params.get("prompt") or ""),
        "model": request.provider_model,
        "enableTranslation": True,
    }
    if (aspect_ratio := given(request.params, "aspect_ratio")) is not None:
        body["aspectRatio"] = aspect_ratio
    if (output_format := (request.options.get("constants") or {}).get("output_format")) is not None:
        body["outputFormat"] = output_format
    if image_urls:
        body["inputImage"] = image_urls[0]
    return with_callback(body, request)


def image(task_id: str, holder: Any) -> TaskResult:
    url = holder.get("resultImageUrl") if isinstance(holder, dict) else None
    return TaskResult(task_id=task_id, state=TaskState.SUCCEEDED, output_urls=url_list(url, "resultImageUrl"))


class FluxKontext(Family):
    name = "flux-kontext"
    models = frozenset({"flux-kontext-pro", "flux-kontext-max"})
    record_path = RECORD_PATH
    state_field = "successFlag"
    states = SUCCESS_FLAG_STATES
    #: One image to edit (``inputImage``).
    max_inputs = 1

    def state_value(self, raw: Any) -> Any:
        return as_code(raw)

    def create(self, request: TaskRequest, urls: list[str]) -> tuple[str, dict[str, Any]]:
        return GENERATE_PATH, generate_body(request, urls)

    def read_record(self, data: Any, *, task_id: str) -> TaskResult:
        if not isinstance(data, dict):
            raise Malformed("data is not an object")
        task_id = task_id_of(data, task_id)
        state = self.state(data)
        if state is TaskState.SUCCEEDED:
            return image(task_id, data.get("response"))
        if state is TaskState.FAILED:
            return failed_result(task_id, code=data.get("errorCode"), reason_text=data.get("errorMessage"))
        return TaskResult(task_id=task_id, state=state)

    def read_callback(self, envelope: dict[str, Any]) -> TaskResult:
        data = callback_data(envelope)
        task_id = task_id_of(data, None)
        code = callback_code(envelope)
        if code != 200:
            return failed_result(task_id, code=code, reason_text=envelope.get("msg"))
        return image(task_id, data.get("info"))

    def is_callback(self, data: dict[str, Any]) -> bool:
        info = data.get("info")
        return isinstance(info, dict) and "resultImageUrl" in info


FLUX_KONTEXT = FluxKontext()
