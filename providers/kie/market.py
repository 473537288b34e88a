"""kie.ai's Market, the unified jobs API (docs/kie.md §2.1, §2.9): Nano Banana,
GPT Image, Seedream, Kling, Wan, Seedance, Hailuo, Topaz, Recraft, …

* create ``POST /api/v1/jobs/createTask`` ``{"model", "callBackUrl"?, "input"}``
  → ``data.taskId``;
* record ``GET /api/v1/jobs/recordInfo?taskId=`` → ``data.state`` and
  ``data.resultJson`` (a JSON *string* ``{"resultUrls": [...]}``);
* callback ``{"code": 200|501, "msg", "data": <a record>}``.

Nothing here knows any one Market model. What a model's ``input`` takes is
the catalogue row's data (``Offer.options``, reaching us as
``TaskRequest.options``), so a new Market model is a new row:

* ``params``: each option the creator picks, sent as ``input[wire or name]``,
  its value converted by ``as`` (``"str"``, the default; ``"int"``;
  ``"seconds"``, a string of whole seconds; ``"bool"`` from ``"on"``/``"off"``) and left out when ``without_inputs`` is
  set and the task has files (text-to-X-only fields), or when the value is the
  param's ``none`` (``"auto"``: the model decides). Values are spelled in
  the row exactly as the model wants them (§2.9: Seedance ``"4k"``, Kling 3.0
  ``"4K"``, Hailuo ``"768P"``).
* ``constants``: fields sent as they are (``{"output_format": "png"}``).
* ``inputs.fields``: the ``input`` field of each file role
  (``{"reference": "image_input[]", "first_frame": "first_frame_url"}``); a
  trailing ``[]`` sends a list of URLs, otherwise one URL.
* ``shots``: a prompt written as several shots (:mod:`providers.shots`), sent
  when the creator turns its param on (a param with ``"send": false`` is a
  choice of ours, not a field of the provider's).
* ``prompt_field``: where the prompt goes when not ``prompt``; ``prompt_field``
  ``""`` sends no prompt (tools such as an upscaler take none).
* ``dialogue``: ``{"field": "dialogue", "voices": ["voice", "voice_2"]}``
  sends the prompt as turns, one per non-empty line, their voices taken in
  turn from the named params (ElevenLabs dialogue v3, §2.9: ``dialogue``
  ``[{"text", "voice"}]``); those params then carry ``"send": false``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from ..base import TaskRequest, TaskResult, TaskState
from ..shots import ShotsError, shots_on, split_shots
from .client import bad_input
from .family import (
    COST_TIME_CALLBACK,
    COST_TIME_RECORD,
    NO_EXTEND_MESSAGE,
    NO_INPUTS_MESSAGE,
    Family,
    Malformed,
    billed_credits,
    cost_seconds,
    failed_result,
    given,
    on_off,
    seconds,
    task_id_of,
    url_list,
    with_callback,
)

CREATE_PATH = "/api/v1/jobs/createTask"
RECORD_PATH = "/api/v1/jobs/recordInfo"

NO_DIALOGUE_MESSAGE = _("Write the dialogue, one line per turn, and choose its voices.")
SHOTS_FIRST_FRAME_MESSAGE = _("A clip of several shots starts from one frame: remove the last frame.")

#: How a param's ``as`` turns the catalogue's text into the JSON the model wants.
CONVERT: dict[str, Callable[[Any], Any]] = {
    "str": str,
    "int": seconds,
    "seconds": lambda value: str(seconds(value)),
    "bool": on_off,
    "float": lambda value: float(str(value)),
}


def result_urls(result_json: Any) -> list[str]:
    """``resultUrls`` from ``resultJson``: a JSON string ``{"resultUrls": [...]}``
    (§2.1); an already decoded object is accepted too. Raises :class:`Malformed`."""
    if isinstance(result_json, str):
        try:
            result_json = json.loads(result_json)
        except ValueError as exc:
            raise Malformed("resultJson is not JSON") from exc
    urls = result_json.get("resultUrls") if isinstance(result_json, dict) else None
    if not isinstance(urls, list):
        raise Malformed("resultJson has no resultUrls")
    return url_list(urls, "resultUrls")


def task_result(data: Any, *, task_id: str | None = None, cost_unit: float = COST_TIME_RECORD) -> TaskResult:
    """A :class:`TaskResult` from a Market record (recordInfo ``data`` or a
    callback's ``data``, §2.1).

    ``state``: waiting/queuing/generating → RUNNING; success → SUCCEEDED with
    ``output_urls`` from ``resultJson``; fail → FAILED with ``error_code`` =
    ``failCode`` (``"fail"`` when empty) and a readable ``error_message`` built
    from ``failMsg``; ``billed_credits`` from ``creditsConsumed``;
    ``cost_seconds`` from ``costTime`` in ``cost_unit`` seconds (a record's
    are ms, a callback's s). ``task_id`` defaults to ``data.taskId``. Raises :class:`Malformed` for a missing task
    id, an unknown state or a success without result URLs.
    """
    if not isinstance(data, dict):
        raise Malformed("data is not an object")
    task_id = task_id_of(data, task_id)
    state = MARKET.state(data)
    billed = billed_credits(data)
    cost = cost_seconds(data, unit=cost_unit)
    if state is TaskState.SUCCEEDED:
        urls = result_urls(data.get("resultJson"))
        return TaskResult(task_id=task_id, state=state, output_urls=urls, billed_credits=billed, cost_seconds=cost)
    if state is TaskState.FAILED:
        failed = failed_result(task_id, code=data.get("failCode"), reason_text=data.get("failMsg"))
        return replace(failed, billed_credits=billed, cost_seconds=cost)
    return TaskResult(task_id=task_id, state=state)


def input_body(request: TaskRequest, urls: list[str]) -> dict[str, Any]:
    """The ``input`` object of a create, from the catalogue row's data (see the
    module docstring). Raises ``ProviderError("bad_input")`` for a value its
    ``as`` cannot convert or a file whose role the model has no field for."""
    options: Mapping[str, Any] = request.options
    inputs: dict[str, Any] = {}
    prompt_field = str(options.get("prompt_field", "prompt"))
    if prompt_field and (prompt := given(request.params, "prompt")) is not None:
        inputs[prompt_field] = str(prompt)
    elif prompt_field and options.get("prompt_optional"):
        inputs[prompt_field] = ""  # a field the model requires, empty when the creator wrote none (§2.9)
    for name, spec in (options.get("params") or {}).items():
        value = given(request.params, name)
        if value is None or spec.get("send") is False or (spec.get("without_inputs") and request.inputs):
            continue
        if "none" in spec and str(value) == str(spec["none"]):
            continue  # the value that leaves the choice to the model ("auto")
        inputs[str(spec.get("wire") or name)] = CONVERT[str(spec.get("as") or "str")](value)
    inputs.update(options.get("constants") or {})
    shots = options.get("shots")
    if shots is not None and shots_on(shots, request.params):
        inputs.update(shot_fields(request, shots))
    dialogue = options.get("dialogue")
    if dialogue is not None:
        inputs[str(dialogue.get("field") or "dialogue")] = dialogue_turns(request, dialogue)
    fields: Mapping[str, str] = (options.get("inputs") or {}).get("fields") or {}
    for item, url in zip(request.inputs, urls, strict=False):
        field = fields.get(item.role)
        if field is None:
            raise bad_input(NO_INPUTS_MESSAGE)
        if field.endswith("[]"):
            inputs.setdefault(field[:-2], []).append(url)
        elif field not in inputs:
            inputs[field] = url
    return inputs


def dialogue_turns(request: TaskRequest, spec: Mapping[str, Any]) -> list[dict[str, str]]:
    """The prompt as turns of a dialogue, ``[{"text", "voice"}]``: one per
    non-empty line, voices taken in turn from the params ``spec["voices"]``
    names. Raises ``ProviderError("bad_input")`` for no line or a missing voice."""
    lines = [line.strip() for line in str(request.params.get("prompt") or "").splitlines() if line.strip()]
    voices = [given(request.params, str(name)) for name in spec.get("voices") or ("voice",)]
    if not lines or any(v is None for v in voices):
        raise bad_input(NO_DIALOGUE_MESSAGE)
    return [{"text": line, "voice": str(voices[i % len(voices)])} for i, line in enumerate(lines)]


def shot_fields(request: TaskRequest, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The row's multi-shot fields (:mod:`providers.shots`): ``flag`` true and
    ``field`` the shots. Raises ``ProviderError("bad_input")`` for a prompt
    that cannot be cut so, or with a last frame (a multi-shot clip takes
    only its first frame, §2.9 Kling 3.0)."""
    if len(request.inputs) > 1:
        raise bad_input(SHOTS_FIRST_FRAME_MESSAGE)
    seconds_param = str(spec.get("seconds", "duration"))
    try:
        shots = split_shots(spec, str(request.params.get("prompt") or ""), seconds(request.params.get(seconds_param)))
    except ShotsError as exc:
        raise bad_input(str(exc)) from exc
    return {str(spec["flag"]): True, str(spec["field"]): shots}


class Market(Family):
    name = "market"
    record_path = RECORD_PATH
    state_field = "state"
    states: ClassVar[Mapping[Any, TaskState]] = {
        "waiting": TaskState.RUNNING,
        "queuing": TaskState.RUNNING,
        "generating": TaskState.RUNNING,
        "success": TaskState.SUCCEEDED,
        "fail": TaskState.FAILED,
    }
    #: The row's ``inputs.max`` decides; no Market model of §2.9 takes more than 16.
    max_inputs = 16

    def serves(self, provider_model: str) -> bool:
        return True

    def input_limits(self, request: TaskRequest) -> tuple[int, int]:
        """The row's ``inputs`` (a row that names none takes no files)."""
        spec = request.options.get("inputs") or {}
        return int(spec.get("min", 0)), min(int(spec.get("max", 0)), self.max_inputs)

    def check_inputs(self, request: TaskRequest) -> None:
        """As :meth:`Family.check_inputs`, and every file's role has an
        ``input`` field in the row's ``inputs.fields``."""
        super().check_inputs(request)
        fields = (request.options.get("inputs") or {}).get("fields") or {}
        if any(item.role not in fields for item in request.inputs):
            raise bad_input(NO_INPUTS_MESSAGE)

    def create(self, request: TaskRequest, urls: list[str]) -> tuple[str, dict[str, Any]]:
        """``createTask`` (§2.1): ``{"model", "callBackUrl"?, "input"}`` with
        :func:`input_body`. Market models cannot extend (``"bad_input"``)."""
        if given(request.params, "extend_task_id") is not None:
            raise bad_input(NO_EXTEND_MESSAGE)
        body = {"model": request.provider_model, "input": input_body(request, urls)}
        return CREATE_PATH, with_callback(body, request)

    def read_record(self, data: Any, *, task_id: str) -> TaskResult:
        return task_result(data, task_id=task_id, cost_unit=COST_TIME_RECORD)

    def read_callback(self, envelope: dict[str, Any]) -> TaskResult:
        """``data`` is a record; its ``state`` decides (the envelope's 200/501
        only repeats it). Its ``costTime`` is in seconds (§2.1)."""
        return task_result(envelope.get("data"), cost_unit=COST_TIME_CALLBACK)

    def is_callback(self, data: dict[str, Any]) -> bool:
        return "state" in data


MARKET = Market()
