"""What every kie.ai API family has in common, and the readers they share.

A *family* is one of kie.ai's APIs (Market, Veo, Runway, …). Each family file
(``market.py``, ``veo.py``, ``runway.py``) declares everything about its API
in one :class:`Family` subclass: the provider models it serves, its paths,
how its status values become our :class:`~providers.base.TaskState`, how a
create body is built, and how a record or a callback is read. The adapter
(``adapter.py``) picks the family of a task and drives it; this module holds
no facts about any one family.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ..base import TaskRequest, TaskResult, TaskState
from .client import ERRORS, as_code, bad_input

#: How much of a provider's failure text we show a user, in characters.
REASON_MAX_CHARS = 300

NO_EXTEND_MESSAGE = _("This model cannot extend a video.")
NO_INPUTS_MESSAGE = _("This model does not take files.")
NEEDS_INPUT_MESSAGE = _("This model needs an image to start from.")


#: ``successFlag`` of the older APIs (Veo §2.2, Flux Kontext §2.5): 0 generating,
#: 1 success, 2 failed (to create), 3 generation failed.
SUCCESS_FLAG_STATES: Mapping[Any, TaskState] = {
    0: TaskState.RUNNING,
    1: TaskState.SUCCEEDED,
    2: TaskState.FAILED,
    3: TaskState.FAILED,
}


class Malformed(ValueError):
    """A kie.ai answer or callback that lacks a field we need (internal)."""


class Family:
    """One kie.ai API. Subclasses set the class attributes and implement
    :meth:`create`, :meth:`read_record`, :meth:`read_callback` and
    :meth:`is_callback`; one instance per family serves every task."""

    #: Short name, as logged and shown in the job inspector ("market", "veo", …).
    name: ClassVar[str] = ""
    #: Provider models this family serves; the Market family serves the rest.
    models: ClassVar[frozenset[str]] = frozenset()
    #: ``GET`` path of a task's record, asked with ``?taskId=``.
    record_path: ClassVar[str] = ""
    #: The record field holding the status value, and what each value means.
    state_field: ClassVar[str] = "state"
    states: ClassVar[Mapping[Any, TaskState]] = {}
    #: Most input files the API itself takes (the catalogue row may allow fewer).
    max_inputs: ClassVar[int] = 0
    #: Whether ``params["extend_task_id"]`` can continue an earlier task.
    extends: ClassVar[bool] = False
    #: Whether the API has no record endpoint and is polled by asking the
    #: create question again (:meth:`ask`, :meth:`answer`; Veo's upscales).
    asks: ClassVar[bool] = False

    def __str__(self) -> str:
        return self.name

    def serves(self, provider_model: str) -> bool:
        return provider_model in self.models

    def uploads_inputs(self, request: TaskRequest) -> bool:
        """Whether ``request.inputs`` are uploaded and named in the create
        body (not for an extend, which continues a task kie.ai has)."""
        return given(request.params, "extend_task_id") is None

    def create(self, request: TaskRequest, urls: list[str]) -> tuple[str, dict[str, Any]]:
        """The create call for ``request``: ``(path, JSON body)``, ``urls``
        being the uploaded inputs in order. Raises ``ProviderError("bad_input")``
        for params the API cannot take; called once with ``[]`` before any
        upload so that bad params fail before anything is sent."""
        raise NotImplementedError

    def read_record(self, data: Any, *, task_id: str) -> TaskResult:
        """A :class:`TaskResult` from the record endpoint's ``data``. Raises
        :class:`Malformed`."""
        raise NotImplementedError

    def read_callback(self, envelope: dict[str, Any]) -> TaskResult:
        """A :class:`TaskResult` from a callback body. Raises :class:`Malformed`."""
        raise NotImplementedError

    def is_callback(self, data: dict[str, Any]) -> bool:
        """Whether a callback's ``data`` has this family's shape (used when the
        pipeline cannot name the task's model)."""
        raise NotImplementedError

    def ask(self, request: TaskRequest) -> tuple[str, str, dict[str, Any]]:
        """For a family that :attr:`asks`: ``(method, path, query or body)``."""
        raise NotImplementedError

    def answer(self, request: TaskRequest, call: Callable[[], Any]) -> TaskResult:
        """For a family that :attr:`asks`: the state after ``call()`` (one ask,
        returning the envelope's ``data`` or raising ``ProviderError``)."""
        raise NotImplementedError

    def state(self, data: dict[str, Any]) -> TaskState:
        """Our state for a record or callback ``data``, from :attr:`states`.
        Raises :class:`Malformed` for a value it does not list."""
        raw = data.get(self.state_field)
        try:
            return self.states[self.state_value(raw)]
        except (KeyError, TypeError) as exc:  # TypeError: an unhashable value
            raise Malformed(f"unknown {self.state_field} {raw!r}") from exc

    def state_value(self, raw: Any) -> Any:
        return raw

    def input_limits(self, request: TaskRequest) -> tuple[int, int]:
        """``(least, most)`` input files: the catalogue row's ``inputs``
        (``options["inputs"]``) within what the API takes, :attr:`max_inputs`."""
        spec = request.options.get("inputs") or {}
        most = min(int(spec.get("max", self.max_inputs)), self.max_inputs)
        return int(spec.get("min", 0)), most

    def check_inputs(self, request: TaskRequest) -> None:
        """Refuse, before anything is uploaded, a number of files the model
        does not take (:meth:`input_limits`). Raises ``ProviderError("bad_input")``."""
        least, most = self.input_limits(request)
        count = len(request.inputs)
        if count < least:
            raise bad_input(NEEDS_INPUT_MESSAGE)
        if count > most:
            if not most:
                raise bad_input(NO_INPUTS_MESSAGE)
            message = ngettext(
                "This model takes at most %(count)d file.", "This model takes at most %(count)d files.", most
            )
            raise bad_input(message % {"count": most})


# --- shared readers ---------------------------------------------------------------


def reason(text: Any) -> str:
    return " ".join(str(text).split())[:REASON_MAX_CHARS]


def task_id_of(data: dict[str, Any], task_id: str | None) -> str:
    task_id = task_id or data.get("taskId") or data.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise Malformed("no taskId")
    return task_id


def failed_result(task_id: str, *, code: Any, reason_text: Any) -> TaskResult:
    """A FAILED :class:`TaskResult` with ``error_code`` = kie's code as a string
    (``"fail"`` when it gave none) and a message a user can read: kie's
    reason when it gave one, else the meaning of a known code (§1)."""
    error_code = str(code if code is not None else "").strip() or "fail"
    text = reason(reason_text or "")
    if text:
        message = gettext("The provider could not make this: %(reason)s") % {"reason": text}
    elif (known := ERRORS.get(as_code(error_code) or 0)) is not None:
        message = str(known[0])
    else:
        message = gettext("The provider could not make this.")
    return TaskResult(task_id=task_id, state=TaskState.FAILED, error_code=error_code, error_message=message)


def url_list(value: Any, what: str) -> list[str]:
    """A non-empty list of URL strings. Veo's ``resultUrls`` is typed as a
    string but shown as an array (§4), so a JSON array string or one URL
    string is accepted too. Raises :class:`Malformed`."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = [value]
        value = decoded if isinstance(decoded, list) else [value]
    if not isinstance(value, list) or not value or not all(isinstance(u, str) and u for u in value):
        raise Malformed(f"no {what}")
    return list(value)


def callback_data(envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise Malformed("data is not an object")
    return data


def callback_code(envelope: dict[str, Any]) -> int:
    code = as_code(envelope.get("code"))
    if code is None:
        raise Malformed("no code")
    return code


def billed_credits(data: dict[str, Any]) -> int | None:
    """What a record or callback says the task cost in kie.ai credits:
    ``creditsConsumed`` (newest) or ``consumeCredits`` (older examples),
    docs/kie.md §2.1; ``None`` when absent or not a non-negative number."""
    for name in ("creditsConsumed", "consumeCredits"):
        value = data.get(name)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float) and value >= 0:
            return int(value)
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
    return None


#: Seconds in one unit of ``costTime``: milliseconds in a record, seconds in a callback (§2.1, §4).
COST_TIME_RECORD = 0.001
COST_TIME_CALLBACK = 1.0


def cost_seconds(data: dict[str, Any], *, unit: float) -> float | None:
    """``costTime`` in seconds: the value times ``unit`` (:data:`COST_TIME_RECORD`
    or :data:`COST_TIME_CALLBACK`); ``None`` when absent, not a positive
    number, or over a day (a unit mix-up, not a run time)."""
    value = data.get("costTime")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return None
    seconds = float(value) * unit
    return round(seconds, 3) if seconds <= 86_400 else None


# --- shared builders --------------------------------------------------------------


def given(params: Mapping[str, Any], key: str) -> Any:
    value = params.get(key)
    return None if value is None or value == "" else value


def seconds(value: Any) -> int:
    """A duration in whole seconds from the catalogue's string (``"5"``) or an
    int. Raises ``ProviderError(code="bad_input")`` for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise bad_input(gettext("The duration %(value)s is not a whole number of seconds.") % {"value": value})


def on_off(value: Any) -> bool:
    """The catalogue's ``"on"``/``"off"`` (or a bool) as a bool. Raises
    ``ProviderError(code="bad_input")`` otherwise."""
    if isinstance(value, bool):
        return value
    if value == "on":
        return True
    if value == "off":
        return False
    raise bad_input(gettext("The sound setting %(value)s is not on or off.") % {"value": value})


def with_callback(body: dict[str, Any], request: TaskRequest) -> dict[str, Any]:
    if request.callback_url:
        body["callBackUrl"] = request.callback_url
    return body
