"""kie.ai's Suno API (docs/kie.md §2.7): music, two tracks a request.

* generate ``POST /api/v1/generate`` ``{customMode, instrumental, model,
  callBackUrl (required), prompt, style?, title?, vocalGender?}`` →
  ``data.taskId``;
* record ``GET /api/v1/generate/record-info?taskId=`` → ``data.status``
  (PENDING, TEXT_SUCCESS, FIRST_SUCCESS, SUCCESS or a failure) and
  ``data.response.sunoData[].{audioUrl, imageUrl, …}``;
* callbacks, one per stage: ``{code, msg, data: {callbackType: "text" |
  "first" | "complete" | "error", task_id, data: [{audio_url, image_url,
  …}]}}``. Only ``complete`` (both tracks ready) and ``error`` are final.

The catalogue row's provider model is ``suno/<model>`` (``suno/V5``): the
part after ``suno/`` is Suno's ``model``. The creator's words are a
description (non-custom mode, at most 500 characters) unless they give a
style or a title: then Suno's custom mode takes the prompt as the lyrics
(unless instrumental), with that style and title.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from ..base import TaskRequest, TaskResult, TaskState
from .client import bad_input
from .family import (
    Family,
    Malformed,
    callback_code,
    callback_data,
    failed_result,
    given,
    on_off,
    task_id_of,
    url_list,
)

GENERATE_PATH = "/api/v1/generate"
RECORD_PATH = "/api/v1/generate/record-info"
#: Suno's ``model`` values (§2.7), served as ``suno/<model>``.
MODELS = ("V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5")
PREFIX = "suno/"
#: Longest description in non-custom mode, in characters (§2.7).
DESCRIPTION_MAX_CHARS = 500
#: ``vocalGender`` values (§2.7); the catalogue's "any" sends none.
VOCAL_GENDERS = ("m", "f")

NEEDS_CALLBACK_MESSAGE = _("Music needs this site's callback address to be configured (KIE_CALLBACK_BASE_URL).")
CUSTOM_NEEDS_BOTH_MESSAGE = _("For your own lyrics or style, give both a style and a title.")
DESCRIPTION_TOO_LONG_MESSAGE = _(
    "A description of the music is at most 500 characters; for longer lyrics, give a style and a title."
)


def generate_body(request: TaskRequest) -> dict[str, Any]:
    """The ``generate`` body (§2.7): custom mode when the creator gave a
    ``style`` or a ``title`` (then both are required, and the prompt is the
    lyrics, left out for an instrumental), else the prompt as a description
    of at most :data:`DESCRIPTION_MAX_CHARS`. ``instrumental`` from the
    ``"on"``/``"off"`` param; ``vocalGender`` "m"/"f" when chosen.

    Raises ``ProviderError("bad_input")`` with no callback URL (Suno requires
    one), a custom request missing its style or title, or a description too
    long for non-custom mode."""
    if not request.callback_url:
        raise bad_input(NEEDS_CALLBACK_MESSAGE)
    params = request.params
    prompt = str(params.get("prompt") or "").strip()
    style, title = given(params, "style"), given(params, "title")
    instrumental = on_off(params.get("instrumental") or "off")
    body: dict[str, Any] = {
        "model": request.provider_model.removeprefix(PREFIX),
        "instrumental": instrumental,
        "callBackUrl": request.callback_url,
    }
    if style is not None or title is not None:
        if style is None or title is None:
            raise bad_input(CUSTOM_NEEDS_BOTH_MESSAGE)
        body.update(customMode=True, style=str(style), title=str(title))
        if not instrumental:
            body["prompt"] = prompt
    else:
        if len(prompt) > DESCRIPTION_MAX_CHARS:
            raise bad_input(DESCRIPTION_TOO_LONG_MESSAGE)
        body.update(customMode=False, prompt=prompt)
    if body["customMode"] and not instrumental and (gender := given(params, "vocal_gender")) in VOCAL_GENDERS:
        body["vocalGender"] = gender  # custom mode only (§2.7); it "raises the probability"
    return body


def _tracks(items: Any, *, audio: str, image: str) -> tuple[list[str], list[str]]:
    """The audio URLs of a list of tracks and their cover images (an empty
    string for a track without one). Raises :class:`Malformed`."""
    if not isinstance(items, list) or not items or not all(isinstance(t, dict) for t in items):
        raise Malformed("no tracks")
    urls = url_list([t.get(audio) for t in items], audio)
    covers = [str(t.get(image) or "") for t in items]
    return urls, covers


def suno_result(data: Any, *, task_id: str | None = None) -> TaskResult:
    """A :class:`TaskResult` from ``record-info`` ``data`` (§2.7): ``status``
    per :attr:`Suno.states`; SUCCESS → ``output_urls`` = each
    ``response.sunoData[].audioUrl`` (two tracks), ``poster_urls`` their
    ``imageUrl`` covers; a failure → FAILED with ``errorCode`` (else the
    status) and ``errorMessage``. Raises :class:`Malformed`."""
    if not isinstance(data, dict):
        raise Malformed("data is not an object")
    task_id = task_id_of(data, task_id)
    state = SUNO.state(data)
    if state is TaskState.SUCCEEDED:
        response = data.get("response")
        items = response.get("sunoData") if isinstance(response, dict) else None
        urls, covers = _tracks(items, audio="audioUrl", image="imageUrl")
        return TaskResult(task_id=task_id, state=state, output_urls=urls, poster_urls=covers)
    if state is TaskState.FAILED:
        code = data.get("errorCode") or data.get("status")
        return failed_result(task_id, code=code, reason_text=data.get("errorMessage"))
    return TaskResult(task_id=task_id, state=state)


class Suno(Family):
    name = "suno"
    models = frozenset(PREFIX + m for m in MODELS)
    record_path = RECORD_PATH
    state_field = "status"
    states: ClassVar[Mapping[Any, TaskState]] = {
        "PENDING": TaskState.RUNNING,
        "TEXT_SUCCESS": TaskState.RUNNING,
        "FIRST_SUCCESS": TaskState.RUNNING,
        "SUCCESS": TaskState.SUCCEEDED,
        "CREATE_TASK_FAILED": TaskState.FAILED,
        "GENERATE_AUDIO_FAILED": TaskState.FAILED,
        "CALLBACK_EXCEPTION": TaskState.FAILED,
        "SENSITIVE_WORD_ERROR": TaskState.FAILED,
    }
    #: Stage of a callback (``data.callbackType``) → our state; ``error`` fails.
    stages: ClassVar[Mapping[str, TaskState]] = {
        "text": TaskState.RUNNING,
        "first": TaskState.RUNNING,
        "complete": TaskState.SUCCEEDED,
        "error": TaskState.FAILED,
    }
    max_inputs = 0

    def create(self, request: TaskRequest, urls: list[str]) -> tuple[str, dict[str, Any]]:
        return GENERATE_PATH, generate_body(request)

    def read_record(self, data: Any, *, task_id: str) -> TaskResult:
        return suno_result(data, task_id=task_id)

    def read_callback(self, envelope: dict[str, Any]) -> TaskResult:
        """A stage callback (§2.7): ``text`` and ``first`` → RUNNING (one
        track may be ready, the request is not); ``complete`` → SUCCEEDED
        with both tracks' ``audio_url`` and ``image_url``; ``error`` or an
        envelope ``code`` other than 200 → FAILED with that code and ``msg``."""
        data = callback_data(envelope)
        task_id = task_id_of(data, None)
        code = callback_code(envelope)
        stage = self.stages.get(str(data.get("callbackType") or ""))
        if stage is None and code == 200:
            raise Malformed(f"unknown callbackType {data.get('callbackType')!r}")
        if code != 200 or stage is TaskState.FAILED:
            return failed_result(task_id, code=code if code != 200 else "error", reason_text=envelope.get("msg"))
        if stage is TaskState.RUNNING:
            return TaskResult(task_id=task_id, state=stage)
        urls, covers = _tracks(data.get("data"), audio="audio_url", image="image_url")
        return TaskResult(task_id=task_id, state=TaskState.SUCCEEDED, output_urls=urls, poster_urls=covers)

    def is_callback(self, data: dict[str, Any]) -> bool:
        return "callbackType" in data


SUNO = Suno()
