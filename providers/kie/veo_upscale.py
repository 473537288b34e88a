"""Veo 3.1's own upscales of a finished clip (docs/kie.md §2.2 "1080p and 4K").

Not a new task at kie.ai but a new rendition of one it has: the job names the
Veo task (``params["source_task_id"]``), the clip's place in it
(``params["source_index"]``, 0 for our one-clip tasks) and the rendition
(``params["resolution"]``: ``"1080p"`` or ``"4k"``), and nothing is
uploaded. The task id we keep is the source's, which is also the ``taskId``
the 4K callback carries.

* 1080p: ``GET /api/v1/veo/get-1080p-video?taskId=&index=`` → ``data.resultUrl``;
  until it is ready kie.ai answers with a non-200 code (400 "1080P is still
  processing"); ask again every 20–30 s.
* 4K: ``POST /api/v1/veo/get-4k-video`` ``{taskId, index, callBackUrl?}`` →
  ``data.{taskId, resultUrls, imageUrls}`` (``null`` URLs while it renders),
  or code 422 "4k is processing. It should be ready in 5-10 minutes"; the callback is ``{code: 200 | 500, msg,
  data: {taskId, resultUrls, imageUrls}}`` (one schema puts them under
  ``info``, another spells ``result_urls``: all are read). Asking again is
  how its state is polled.

So for both the *create* is the first ask, and a *poll* is the same ask
again; :class:`~providers.kie.adapter.KieAdapter` runs them through
:meth:`VeoUpscale.poll_call`, and a "still processing" answer means running.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext_lazy as _

from ..base import ProviderError, TaskRequest, TaskResult, TaskState
from .client import bad_input
from .family import Family, Malformed, callback_code, callback_data, failed_result, given, task_id_of, url_list

GET_1080P_PATH = "/api/v1/veo/get-1080p-video"
GET_4K_PATH = "/api/v1/veo/get-4k-video"

#: Our provider model name for Veo's upscales (the catalogue row names it);
#: its ``resolution`` param, ``"1080p"`` or ``"4k"``, picks the endpoint.
MODEL = "veo/upscale"

#: The codes kie.ai answers while a rendition is still being made (§2.2:
#: 400 for 1080p, 422 for 4K).
PROCESSING_CODES = frozenset({"400", "422"})

NO_SOURCE_MESSAGE = _("This video cannot be upscaled: the provider no longer knows it.")


def source(request: TaskRequest) -> tuple[str, int]:
    """``(taskId, index)`` of the clip to upscale. Raises ``ProviderError("bad_input")``."""
    task_id = given(request.params, "source_task_id")
    if not isinstance(task_id, str):
        raise bad_input(NO_SOURCE_MESSAGE)
    index = request.params.get("source_index") or 0
    return task_id, int(index)


def rendition(task_id: str, data: Any) -> TaskResult:
    """A SUCCEEDED result from a 1080p (``resultUrl``) or 4K (``resultUrls``,
    ``imageUrls`` as posters; or under ``info``; or ``result_urls``) answer.
    Raises :class:`Malformed`."""
    if not isinstance(data, dict):
        raise Malformed("data is not an object")
    nested = data.get("info")
    info: dict[str, Any] = nested if isinstance(nested, dict) else data
    urls = info.get("resultUrls") or info.get("result_urls") or info.get("resultUrl")
    posters = info.get("imageUrls") or info.get("image_urls") or []
    return TaskResult(
        task_id=task_id,
        state=TaskState.SUCCEEDED,
        output_urls=url_list(urls, "resultUrls"),
        poster_urls=[u for u in posters if isinstance(u, str) and u] if isinstance(posters, list) else [],
    )


class VeoUpscale(Family):
    name = "veo-upscale"
    models = frozenset({MODEL})
    asks = True

    def uploads_inputs(self, request: TaskRequest) -> bool:
        return False  # the clip is at kie.ai already

    def check_inputs(self, request: TaskRequest) -> None:
        source(request)

    def create(self, request: TaskRequest, urls: list[str]) -> tuple[str, dict[str, Any]]:
        """The 4K ask (the 1080p one is a GET: :meth:`ask`)."""
        task_id, index = source(request)
        body: dict[str, Any] = {"taskId": task_id, "index": index}
        if request.callback_url:
            body["callBackUrl"] = request.callback_url
        return GET_4K_PATH, body

    def ask(self, request: TaskRequest) -> tuple[str, str, dict[str, Any]]:
        """``(method, path, params or body)`` of one ask, create and poll alike."""
        task_id, index = source(request)
        if str(request.params.get("resolution") or "1080p").lower() != "4k":
            return "GET", GET_1080P_PATH, {"taskId": task_id, "index": index}
        path, body = self.create(request, [])
        return "POST", path, body

    def answer(self, request: TaskRequest, call: Callable[[], Any]) -> TaskResult:
        """The state after one ask: ``call()`` returns the envelope's ``data``
        or raises; "still processing" (:data:`PROCESSING_CODES`) is RUNNING,
        any other refusal is raised as it is."""
        task_id, _index = source(request)
        try:
            data = call()
        except ProviderError as exc:
            if exc.code in PROCESSING_CODES:
                return TaskResult(task_id=task_id, state=TaskState.RUNNING)
            raise
        try:
            return rendition(task_id, data)
        except Malformed:
            # The 4K ask answers {"resultUrls": null} while it renders (§2.2).
            return TaskResult(task_id=task_id, state=TaskState.RUNNING)

    def read_callback(self, envelope: dict[str, Any]) -> TaskResult:
        """The 4K callback: ``code`` 200 → SUCCEEDED (:func:`rendition`); any
        other → FAILED with ``msg`` as the reason."""
        data = callback_data(envelope)
        task_id = task_id_of(data, None)
        code = callback_code(envelope)
        if code != 200:
            return failed_result(task_id, code=code, reason_text=envelope.get("msg"))
        return rendition(task_id, data)

    def is_callback(self, data: dict[str, Any]) -> bool:
        return "resultUrls" in data or "result_urls" in data


VEO_UPSCALE = VeoUpscale()
