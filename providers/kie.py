"""The ``kie`` adapter: kie.ai's Market (unified jobs), Veo 3.1 and Runway APIs.

Every fact about kie.ai here comes from ``docs/kie.md`` (cited as §n):

* §1 Basics: base URL, ``Authorization: Bearer <key>``, the envelope
  ``{code, msg, data}`` whose ``code`` may report an error under HTTP 200,
  the table of body codes, the file-upload API, callbacks and their HMAC
  signature, credits.
* §2.1 Market: ``POST /api/v1/jobs/createTask`` → ``data.taskId``;
  ``GET /api/v1/jobs/recordInfo?taskId=`` → ``data.state`` and
  ``data.resultJson`` (a JSON *string*); the callback body.
* §2.2 Veo 3.1: ``POST /api/v1/veo/generate`` and ``/api/v1/veo/extend``;
  ``GET /api/v1/veo/record-info?taskId=`` → ``data.successFlag`` and
  ``data.response.resultUrls``; the callback ``data.info.resultUrls``.
* §2.3 Runway: ``POST /api/v1/runway/generate`` and ``/api/v1/runway/extend``;
  ``GET /api/v1/runway/record-detail?taskId=`` → ``data.state`` and
  ``data.videoInfo``; the snake_case callback.

Which API a task uses is its *family*, chosen from the provider model by
:func:`family_for`. Each family's own status values meet our
:class:`~providers.base.TaskState` in one table, :data:`STATES`.

Every HTTP call goes through :func:`providers.http.provider_request`, so it is
logged (key redacted, uploaded files described, never copied), timed, and
retried on 429/5xx and connection errors. Errors reach the pipeline as
:class:`~providers.base.ProviderError` whose ``message`` a user can read and
whose ``code`` is kie's code as a string ("401", "402", …) or one of ours
("timeout", "unreachable", "bad_response", "bad_callback", "bad_signature",
"bad_input", "too_large", "bad_output", "download_failed"). HTTP status and
body ``code`` are mapped to errors in one place, :func:`check_envelope`.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import IO, Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .base import Adapter, Download, InputFile, ProviderError, TaskRequest, TaskResult, TaskState, spooled_file
from .http import provider_request
from .ratelimit import acquire_slot

log = logging.getLogger(__name__)

NAME = "kie"

CREATE_PATH = "/api/v1/jobs/createTask"
RECORD_PATH = "/api/v1/jobs/recordInfo"
VEO_GENERATE_PATH = "/api/v1/veo/generate"
VEO_EXTEND_PATH = "/api/v1/veo/extend"
VEO_RECORD_PATH = "/api/v1/veo/record-info"
RUNWAY_GENERATE_PATH = "/api/v1/runway/generate"
RUNWAY_EXTEND_PATH = "/api/v1/runway/extend"
RUNWAY_RECORD_PATH = "/api/v1/runway/record-detail"
CREDIT_PATH = "/api/v1/chat/credit"
UPLOAD_PATH = "/api/file-stream-upload"

#: The upload host (§1 File upload) when ``settings.KIE_UPLOAD_BASE_URL`` is unset.
DEFAULT_UPLOAD_BASE_URL = "https://kieai.redpandaai.co"

#: Folder of our uploads at kie.ai; the job id is appended (§1 File upload ``uploadPath``).
UPLOAD_FOLDER = "mirsam"

#: Prefix of the shared limiter's key for new generation requests (§1 Rate
#: limits: per account); a hash of the API key names the account.
RATE_LIMIT_KEY = "mirsam:kie:create"

#: How far a signed callback's timestamp may be from our clock, in seconds.
SIGNATURE_MAX_SKEW_SECONDS = 300

#: Bytes read per chunk when downloading an output.
DOWNLOAD_CHUNK_BYTES = 64 * 1024

#: MIME type prefixes an output may have (images, and videos for Veo, Runway, Kling, Wan).
#: Object stores often label files as octet-stream; the pipeline checks the
#: bytes themselves (generation.media.output_check), so those pass here too.
DOWNLOAD_TYPES = ("image/", "video/", "application/octet-stream", "binary/octet-stream")

#: How much of a provider's failure text we show a user, in characters.
REASON_MAX_CHARS = 300


# --- families -------------------------------------------------------------------


class Family(enum.StrEnum):
    """Which kie.ai API serves a provider model."""

    MARKET = "market"  # §2.1
    VEO = "veo"  # §2.2
    RUNWAY = "runway"  # §2.3


#: Veo generate ``model`` → the ``model`` its extend call names (§2.2 extend).
VEO_EXTEND_MODELS = {"veo3": "quality", "veo3_fast": "fast", "veo3_lite": "lite"}

RUNWAY_MODELS = frozenset({"runway"})


def family_for(provider_model: str) -> Family:
    """The API family of ``provider_model``: ``veo3``/``veo3_fast``/``veo3_lite``
    → Veo (§2.2), ``runway`` → Runway (§2.3), anything else → Market (§2.1)."""
    if provider_model in VEO_EXTEND_MODELS:
        return Family.VEO
    if provider_model in RUNWAY_MODELS:
        return Family.RUNWAY
    return Family.MARKET


#: The one place where each family's own status values become our states:
#: Market ``state`` (§2.1), Veo ``successFlag`` (§2.2: 0 generating, 1 success,
#: 2 failed, 3 generation failed), Runway ``state`` (§2.3). Note Market's
#: "queuing" and Runway's "queueing".
STATES: dict[Family, dict[Any, TaskState]] = {
    Family.MARKET: {
        "waiting": TaskState.RUNNING,
        "queuing": TaskState.RUNNING,
        "generating": TaskState.RUNNING,
        "success": TaskState.SUCCEEDED,
        "fail": TaskState.FAILED,
    },
    Family.VEO: {0: TaskState.RUNNING, 1: TaskState.SUCCEEDED, 2: TaskState.FAILED, 3: TaskState.FAILED},
    Family.RUNWAY: {
        "wait": TaskState.RUNNING,
        "queueing": TaskState.RUNNING,
        "generating": TaskState.RUNNING,
        "success": TaskState.SUCCEEDED,
        "fail": TaskState.FAILED,
    },
}

#: The record field that holds the status value of :data:`STATES`.
STATE_FIELDS = {Family.MARKET: "state", Family.VEO: "successFlag", Family.RUNWAY: "state"}


@dataclass(frozen=True)
class MarketModel:
    """What one Market model's ``input`` accepts (§2.1 table).

    ``keys``: the ``request.params`` copied into ``input`` when given;
    ``images``: the field that carries uploaded files, ``"image_urls"`` (a
    list) or ``"image_url"`` (one URL), ``""`` when the model takes none;
    ``max_images`` and ``needs_images`` bound how many files it takes.
    """

    keys: tuple[str, ...]
    images: str = ""
    max_images: int = 0
    needs_images: bool = False


#: Market models we know (§2.1 table). Others get :data:`DEFAULT_MARKET_MODEL`.
MARKET_MODELS: dict[str, MarketModel] = {
    "google/nano-banana": MarketModel(("prompt", "aspect_ratio", "output_format")),
    "google/nano-banana-edit": MarketModel(
        ("prompt", "aspect_ratio", "output_format"), images="image_urls", max_images=10, needs_images=True
    ),
    "kling-2.6/text-to-video": MarketModel(("prompt", "aspect_ratio", "duration", "sound")),
    "kling-2.6/image-to-video": MarketModel(
        ("prompt", "duration", "sound"), images="image_urls", max_images=1, needs_images=True
    ),
    "wan/2-5-text-to-video": MarketModel(("prompt", "aspect_ratio", "duration", "resolution")),
    "wan/2-5-image-to-video": MarketModel(
        ("prompt", "duration", "resolution"), images="image_url", max_images=1, needs_images=True
    ),
}
#: An unlisted Market model gets what every image model of §2.1 takes, and no files.
DEFAULT_MARKET_MODEL = MarketModel(("prompt", "aspect_ratio", "output_format"))

#: Most files a Veo (first and last frame, §2.2) or Runway (``imageUrl``, §2.3) task takes.
MAX_INPUTS = {Family.VEO: 2, Family.RUNWAY: 1}


# --- errors ---------------------------------------------------------------------

#: kie body ``code`` (or HTTP status) → (user message, permanent). §1 "Body code
#: values": 429 is not queued and 455 is maintenance, so both pass; 501 is a
#: generation that failed and 505 a disabled feature, so retrying cannot help.
ERRORS: dict[int, tuple[Any, bool]] = {
    400: (_("The provider refused this request (content policy or invalid settings)."), True),
    401: (_("The provider rejected our credentials."), True),
    402: (_("The provider account is out of credits; please try later."), True),
    404: (_("The provider does not know this task."), True),
    422: (_("The provider did not accept the settings of this request."), True),
    429: (_("The provider is busy right now; please try again in a moment."), False),
    433: (_("Our provider account has reached its usage limit; please try later."), True),
    451: (_("The provider could not fetch the source image."), True),
    455: (_("The provider is under maintenance; please try later."), False),
    500: (_("The provider had an internal error; please try again."), False),
    501: (_("The provider could not generate this; try another prompt or setting."), True),
    505: (_("This model is switched off at the provider right now."), True),
}
OTHER_CLIENT_ERROR = (_("The provider refused this request."), True)
OTHER_SERVER_ERROR = (_("The provider had an internal error; please try again."), False)

BAD_RESPONSE_MESSAGE = _("The provider sent an answer we could not read.")
BAD_CALLBACK_MESSAGE = _("The provider sent a callback we could not read.")
BAD_SIGNATURE_MESSAGE = _("The callback's signature is not valid.")
TIMEOUT_MESSAGE = _("The provider did not answer in time.")
UNREACHABLE_MESSAGE = _("The provider could not be reached.")
DOWNLOAD_FAILED_MESSAGE = _("We could not fetch the result from the provider.")
TOO_LARGE_MESSAGE = _("The result file is too large.")
BAD_OUTPUT_MESSAGE = _("The provider returned a file that is neither an image nor a video.")
EXPIRED_MESSAGE = _("The provider's result expired before we could fetch it.")
UPLOAD_TOO_LARGE_MESSAGE = _("The provider refused the file you gave: it is too large.")
NO_EXTEND_MESSAGE = _("This model cannot extend a video.")
NO_INPUTS_MESSAGE = _("This model does not take files.")
NEEDS_INPUT_MESSAGE = _("This model needs an image to start from.")


class Malformed(ValueError):
    """A kie.ai answer or callback that lacks a field we need (internal)."""


def _as_code(value: Any) -> int | None:
    """A body ``code`` as an int (kie sends ints; tolerate numeric strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def error_for(code: int) -> ProviderError:
    """The :class:`ProviderError` for a kie error ``code`` (body code or HTTP
    status, §1): known codes from :data:`ERRORS`; any other 4xx permanent,
    anything else (5xx) transient."""
    message, permanent = ERRORS.get(code) or (OTHER_CLIENT_ERROR if 400 <= code < 500 else OTHER_SERVER_ERROR)
    return ProviderError(message, code=str(code), permanent=permanent)


def bad_input(message: Any) -> ProviderError:
    """A request this adapter cannot send as it is (permanent, nothing sent)."""
    return ProviderError(message, code="bad_input", permanent=True)


def check_envelope(response: requests.Response, *, bad_response_permanent: bool) -> Any:
    """Map one kie.ai answer to its ``data`` or to a :class:`ProviderError`.

    This is the one place where HTTP status and body ``code`` become errors
    (§1: "HTTP may be 200 even on failure: check body code and HTTP status").
    It serves every family and the upload host (whose answer adds
    ``"success"`` to the same envelope, §1 File upload).

    * the body ``code`` wins when it is an error, >= 400 (more specific than HTTP);
    * a non-2xx HTTP status with no error code in the body is mapped by status;
    * HTTP 2xx with body ``code`` 200 returns ``data`` (any JSON value);
    * a body that is not a JSON object with an integer ``code`` raises
      ``ProviderError(code="bad_response", permanent=bad_response_permanent)``.
      Callers choose: a garbled answer to a *poll* is worth asking again, a
      garbled answer to a *create* is not retried because the task may exist
      already and a second create would be paid twice.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    body_code = _as_code(body.get("code")) if isinstance(body, dict) else None
    if body_code is not None and body_code >= 400:
        raise error_for(body_code)
    if not 200 <= response.status_code < 300:
        raise error_for(response.status_code)
    if body_code != 200 or "data" not in body:
        raise ProviderError(BAD_RESPONSE_MESSAGE, code="bad_response", permanent=bad_response_permanent)
    return body["data"]


# --- reading records and callbacks ----------------------------------------------


def _reason(text: Any) -> str:
    return " ".join(str(text).split())[:REASON_MAX_CHARS]


def _task_id(data: dict[str, Any], task_id: str | None) -> str:
    task_id = task_id or data.get("taskId") or data.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise Malformed("no taskId")
    return task_id


def family_state(family: Family, data: dict[str, Any]) -> TaskState:
    """Our state for a record or callback ``data`` of ``family``, looked up in
    :data:`STATES`. Raises :class:`Malformed` for a value it does not list."""
    raw = data.get(STATE_FIELDS[family])
    value = _as_code(raw) if family is Family.VEO else raw
    try:
        return STATES[family][value]
    except (KeyError, TypeError) as exc:  # TypeError: an unhashable value
        raise Malformed(f"unknown {STATE_FIELDS[family]} {raw!r}") from exc


def failed_result(task_id: str, *, code: Any, reason: Any) -> TaskResult:
    """A FAILED :class:`TaskResult` with ``error_code`` = kie's code as a string
    (``"fail"`` when it gave none) and a message a user can read: kie's
    ``reason`` when it gave one, else the meaning of a known code (§1)."""
    error_code = str(code if code is not None else "").strip() or "fail"
    text = _reason(reason or "")
    if text:
        message = gettext("The provider could not make this: %(reason)s") % {"reason": text}
    elif (known := ERRORS.get(_as_code(error_code) or 0)) is not None:
        message = str(known[0])
    else:
        message = gettext("The provider could not make this.")
    return TaskResult(task_id=task_id, state=TaskState.FAILED, error_code=error_code, error_message=message)


def _url_list(value: Any, what: str) -> list[str]:
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


def _result_urls(result_json: Any) -> list[str]:
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
    return _url_list(urls, "resultUrls")


def task_result(data: Any, *, task_id: str | None = None) -> TaskResult:
    """A :class:`TaskResult` from a Market record (recordInfo ``data`` or a
    callback's ``data``, §2.1).

    ``state``: waiting/queuing/generating → RUNNING; success → SUCCEEDED with
    ``output_urls`` from ``resultJson``; fail → FAILED with ``error_code`` =
    ``failCode`` (``"fail"`` when empty) and a readable ``error_message`` built
    from ``failMsg``. ``task_id`` defaults to ``data.taskId``. Raises
    :class:`Malformed` for a missing task id, an unknown state or a success
    without result URLs.
    """
    if not isinstance(data, dict):
        raise Malformed("data is not an object")
    task_id = _task_id(data, task_id)
    state = family_state(Family.MARKET, data)
    billed = billed_credits(data)
    if state is TaskState.SUCCEEDED:
        urls = _result_urls(data.get("resultJson"))
        return TaskResult(task_id=task_id, state=state, output_urls=urls, billed_credits=billed)
    if state is TaskState.FAILED:
        return replace(
            failed_result(task_id, code=data.get("failCode"), reason=data.get("failMsg")), billed_credits=billed
        )
    return TaskResult(task_id=task_id, state=state)


def billed_credits(data: dict[str, Any]) -> int | None:
    """What a Market record says the task cost in kie.ai credits:
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


def veo_result(data: Any, *, task_id: str | None = None) -> TaskResult:
    """A :class:`TaskResult` from Veo's ``record-info`` ``data`` (§2.2):
    ``successFlag`` per :data:`STATES`; success → ``output_urls`` =
    ``response.resultUrls`` (videos, no poster); 2 or 3 → FAILED with
    ``errorCode``/``errorMessage``. Raises :class:`Malformed`."""
    if not isinstance(data, dict):
        raise Malformed("data is not an object")
    task_id = _task_id(data, task_id)
    state = family_state(Family.VEO, data)
    if state is TaskState.SUCCEEDED:
        response = data.get("response")
        urls = _url_list(response.get("resultUrls") if isinstance(response, dict) else None, "resultUrls")
        return TaskResult(task_id=task_id, state=state, output_urls=urls)
    if state is TaskState.FAILED:
        return failed_result(task_id, code=data.get("errorCode"), reason=data.get("errorMessage"))
    return TaskResult(task_id=task_id, state=state)


def runway_result(data: Any, *, task_id: str | None = None) -> TaskResult:
    """A :class:`TaskResult` from Runway's ``record-detail`` ``data`` (§2.3):
    ``state`` per :data:`STATES`; success → ``output_urls`` =
    [``videoInfo.videoUrl``] and ``poster_urls`` = [``videoInfo.imageUrl``]
    (when sent), or FAILED ``"expired"`` when ``expireFlag`` is 1; fail →
    FAILED with ``failCode``/``failMsg``. Raises :class:`Malformed`."""
    if not isinstance(data, dict):
        raise Malformed("data is not an object")
    task_id = _task_id(data, task_id)
    state = family_state(Family.RUNWAY, data)
    if state is TaskState.SUCCEEDED:
        if _as_code(data.get("expireFlag")) == 1:
            return TaskResult(
                task_id=task_id, state=TaskState.FAILED, error_code="expired", error_message=str(EXPIRED_MESSAGE)
            )
        info = data.get("videoInfo")
        info = info if isinstance(info, dict) else {}
        return _runway_video(task_id, info.get("videoUrl"), info.get("imageUrl"))
    if state is TaskState.FAILED:
        return failed_result(task_id, code=data.get("failCode"), reason=data.get("failMsg"))
    return TaskResult(task_id=task_id, state=state)


def _runway_video(task_id: str, video_url: Any, image_url: Any) -> TaskResult:
    if not isinstance(video_url, str) or not video_url:
        raise Malformed("no videoUrl")
    posters = [image_url] if isinstance(image_url, str) and image_url else []
    return TaskResult(task_id=task_id, state=TaskState.SUCCEEDED, output_urls=[video_url], poster_urls=posters)


def _callback_data(envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise Malformed("data is not an object")
    return data


def _callback_code(envelope: dict[str, Any]) -> int:
    code = _as_code(envelope.get("code"))
    if code is None:
        raise Malformed("no code")
    return code


def market_callback_result(envelope: dict[str, Any]) -> TaskResult:
    """A Market callback (§2.1 Callback body): ``data`` is a record, its
    ``state`` decides (the envelope's 200/501 only repeats it)."""
    return task_result(envelope.get("data"))


def veo_callback_result(envelope: dict[str, Any]) -> TaskResult:
    """A Veo callback (§2.2): ``{code, msg, data: {taskId, info: {resultUrls[],
    originUrls[], resolution}}}``. ``code`` 200 → SUCCEEDED with
    ``info.resultUrls``; any other (400, 422, 500, 501) → FAILED with that
    code and ``msg`` as the reason."""
    data = _callback_data(envelope)
    task_id = _task_id(data, None)
    code = _callback_code(envelope)
    if code != 200:
        return failed_result(task_id, code=code, reason=envelope.get("msg"))
    info = data.get("info")
    urls = _url_list(info.get("resultUrls") if isinstance(info, dict) else None, "info.resultUrls")
    return TaskResult(task_id=task_id, state=TaskState.SUCCEEDED, output_urls=urls)


def runway_callback_result(envelope: dict[str, Any]) -> TaskResult:
    """A Runway callback (§2.3, snake_case): ``{code, msg, data: {task_id,
    video_id, video_url, image_url}}``. ``code`` 200 → SUCCEEDED with
    [``video_url``] and poster [``image_url``]; any other → FAILED with that
    code and ``msg`` as the reason."""
    data = _callback_data(envelope)
    task_id = _task_id(data, None)
    code = _callback_code(envelope)
    if code != 200:
        return failed_result(task_id, code=code, reason=envelope.get("msg"))
    return _runway_video(task_id, data.get("video_url"), data.get("image_url"))


def callback_family(envelope: dict[str, Any]) -> Family:
    """The family of a callback told by its shape, for when the pipeline gives
    no provider model: Market ``data`` carries ``state`` (§2.1), Runway's is
    snake_case (``task_id``, ``video_url``, §2.3), Veo's has ``taskId`` and
    ``info`` (§2.2). Raises :class:`Malformed` for none of these."""
    data = _callback_data(envelope)
    if "state" in data:
        return Family.MARKET
    if any(key in data for key in ("task_id", "video_id", "video_url")):
        return Family.RUNWAY
    if "taskId" in data or "info" in data:
        return Family.VEO
    raise Malformed("unknown callback shape")


#: How each family's ``fetch`` record and callback become a :class:`TaskResult`.
RECORD_READERS: dict[Family, Callable[..., TaskResult]] = {
    Family.MARKET: task_result,
    Family.VEO: veo_result,
    Family.RUNWAY: runway_result,
}
CALLBACK_READERS: dict[Family, Callable[[dict[str, Any]], TaskResult]] = {
    Family.MARKET: market_callback_result,
    Family.VEO: veo_callback_result,
    Family.RUNWAY: runway_callback_result,
}
RECORD_PATHS = {Family.MARKET: RECORD_PATH, Family.VEO: VEO_RECORD_PATH, Family.RUNWAY: RUNWAY_RECORD_PATH}


def callback_signature(*, key: str, task_id: str, timestamp: str) -> str:
    """``base64(HMAC_SHA256(key, taskId + "." + timestamp))`` (§1 Callbacks)."""
    digest = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


# --- building requests ----------------------------------------------------------


def _given(params: dict[str, Any], key: str) -> Any:
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


def sound(value: Any) -> bool:
    """The catalogue's ``"on"``/``"off"`` (or a bool) as Kling's ``sound``
    bool (§2.1). Raises ``ProviderError(code="bad_input")`` otherwise."""
    if isinstance(value, bool):
        return value
    if value == "on":
        return True
    if value == "off":
        return False
    raise bad_input(gettext("The sound setting %(value)s is not on or off.") % {"value": value})


#: Market ``input`` values that need converting from the catalogue's params (§2.1:
#: durations are strings, Kling's ``sound`` a bool).
MARKET_VALUES: dict[str, Callable[[Any], Any]] = {
    "duration": lambda value: str(seconds(value)),
    "sound": sound,
}


def _with_callback(body: dict[str, Any], request: TaskRequest) -> dict[str, Any]:
    if request.callback_url:
        body["callBackUrl"] = request.callback_url
    return body


def market_body(request: TaskRequest, image_urls: list[str]) -> dict[str, Any]:
    """``createTask`` body (§2.1): ``{"model", "callBackUrl"?, "input": {...}}``
    with the model's keys of :data:`MARKET_MODELS` that ``params`` gives
    (``duration`` as a string of seconds, ``sound`` a bool) and the uploaded
    files as ``image_urls`` (list) or ``image_url`` (one)."""
    spec = MARKET_MODELS.get(request.provider_model, DEFAULT_MARKET_MODEL)
    convert = MARKET_VALUES.get
    inputs: dict[str, Any] = {}
    for key in spec.keys:
        value = _given(request.params, key)
        if value is not None:
            inputs[key] = convert(key, lambda v: v)(value)
    if image_urls and spec.images:
        inputs[spec.images] = list(image_urls) if spec.images == "image_urls" else image_urls[0]
    return _with_callback({"model": request.provider_model, "input": inputs}, request)


def veo_generate_body(request: TaskRequest, image_urls: list[str]) -> dict[str, Any]:
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
    if (aspect_ratio := _given(params, "aspect_ratio")) is not None:
        body["aspectRatio"] = "Auto" if str(aspect_ratio).lower() == "auto" else aspect_ratio
    if (duration := _given(params, "duration")) is not None:
        body["duration"] = seconds(duration)
    if (resolution := _given(params, "resolution")) is not None:
        body["resolution"] = resolution
    return _with_callback(body, request)


def veo_extend_body(request: TaskRequest) -> dict[str, Any]:
    """``veo/extend`` body (§2.2): ``{"taskId": params extend_task_id, "prompt",
    "model": "quality" | "fast" | "lite" (from veo3 / veo3_fast / veo3_lite),
    "callBackUrl"?}``."""
    body = {
        "taskId": str(request.params["extend_task_id"]),
        "prompt": str(request.params.get("prompt") or ""),
        "model": VEO_EXTEND_MODELS[request.provider_model],
    }
    return _with_callback(body, request)


def runway_generate_body(request: TaskRequest, image_urls: list[str]) -> dict[str, Any]:
    """``runway/generate`` body (§2.3): ``{"prompt", "duration"? (int seconds:
    5, 10), "quality"? (params ``resolution``: "720p", "1080p"), "aspectRatio"?
    (only without an image: kie ignores it then), "imageUrl"? (the first file),
    "waterMark": "" (none), "callBackUrl"?}``."""
    params = request.params
    body: dict[str, Any] = {"prompt": str(params.get("prompt") or "")}
    if (duration := _given(params, "duration")) is not None:
        body["duration"] = seconds(duration)
    if (quality := _given(params, "resolution")) is not None:
        body["quality"] = quality
    if image_urls:
        body["imageUrl"] = image_urls[0]
    elif (aspect_ratio := _given(params, "aspect_ratio")) is not None:
        body["aspectRatio"] = aspect_ratio
    body["waterMark"] = ""
    return _with_callback(body, request)


def runway_extend_body(request: TaskRequest) -> dict[str, Any]:
    """``runway/extend`` body (§2.3): ``{"taskId": params extend_task_id,
    "prompt", "quality"? (params ``resolution``), "waterMark": "", "callBackUrl"?}``."""
    params = request.params
    body: dict[str, Any] = {"taskId": str(params["extend_task_id"]), "prompt": str(params.get("prompt") or "")}
    if (quality := _given(params, "resolution")) is not None:
        body["quality"] = quality
    body["waterMark"] = ""
    return _with_callback(body, request)


def check_inputs(request: TaskRequest) -> None:
    """Refuse, before anything is uploaded, a number of files the model does
    not take: Veo ≤ 2, Runway ≤ 1, Market per :data:`MARKET_MODELS` (an image
    model to edit or animate needs one). Raises ``ProviderError("bad_input")``."""
    family = family_for(request.provider_model)
    if family is Family.MARKET:
        spec = MARKET_MODELS.get(request.provider_model, DEFAULT_MARKET_MODEL)
        most, needed = spec.max_images, spec.needs_images
    else:
        most, needed = MAX_INPUTS[family], False
    count = len(request.inputs)
    if needed and not count:
        raise bad_input(NEEDS_INPUT_MESSAGE)
    if count > most:
        if not most:
            raise bad_input(NO_INPUTS_MESSAGE)
        message = ngettext(
            "This model takes at most %(count)d file.", "This model takes at most %(count)d files.", most
        )
        raise bad_input(message % {"count": most})


def upload_file_name(request: TaskRequest, position: int, item: InputFile) -> str:
    """The ``fileName`` of an upload: unique per task and position, since the
    same name overwrites (§1 File upload), and safe in a URL."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", item.name).strip("._")[-80:] or "input"
    return f"{request.index}-{position}-{safe}"


class KieAdapter(Adapter):
    """kie.ai's Market models (Nano Banana, Kling, Wan…, §2.1), Veo 3.1
    (§2.2) and Runway (§2.3); user files go through the upload API (§1).

    Settings: ``KIE_API_KEY``, ``KIE_BASE_URL``, ``KIE_UPLOAD_BASE_URL``
    (default :data:`DEFAULT_UPLOAD_BASE_URL`), ``KIE_TIMEOUT_SECONDS``
    (connect and read, seconds), ``KIE_MAX_RETRIES`` and
    ``KIE_RETRY_BACKOFF_SECONDS`` (first wait, doubling; see
    :func:`providers.http.provider_request`), ``KIE_WEBHOOK_HMAC_KEY``.
    """

    name = NAME
    supports_callbacks = True

    def is_configured(self) -> bool:
        return bool(settings.KIE_API_KEY)

    def supports_extend(self, provider_model: str) -> bool:
        """Veo (``veo/extend``, §2.2) and Runway (``runway/extend``, §2.3) can
        continue an earlier task; Market models cannot."""
        return family_for(provider_model) in (Family.VEO, Family.RUNWAY)

    # --- the wire -------------------------------------------------------------

    def _call(
        self,
        *,
        operation: str,
        method: str,
        path: str,
        base_url: str | None = None,
        json_body: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
        files: dict[str, tuple[str, IO[bytes], str]] | None = None,
        params: dict[str, Any] | None = None,
        task_id: str = "",
        job_ref: int | None = None,
        bad_response_permanent: bool,
        resend_safe: bool = False,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Any:
        """One authenticated call to kie.ai (``base_url`` defaults to
        ``KIE_BASE_URL``), JSON or multipart (``form``/``files``); returns the
        envelope's ``data``. Raises :class:`ProviderError`: the mapped kie code
        (see :func:`check_envelope`), ``"unreachable"`` (transient) or
        ``"timeout"``: transient, except after a POST that may have created a
        task, unless ``resend_safe`` says sending it again is harmless.
        ``timeout`` (seconds) and ``max_retries`` default to
        ``KIE_TIMEOUT_SECONDS`` and ``KIE_MAX_RETRIES``."""
        key = settings.KIE_API_KEY
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        if files is None:
            headers["Content-Type"] = "application/json"  # multipart sets its own, with the boundary
        try:
            response = provider_request(
                adapter=NAME,
                operation=operation,
                method=method,
                url=(base_url or settings.KIE_BASE_URL).rstrip("/") + path,
                json_body=json_body,
                form=form,
                files=files,
                params=params,
                headers=headers,
                timeout=settings.KIE_TIMEOUT_SECONDS if timeout is None else timeout,
                max_retries=settings.KIE_MAX_RETRIES if max_retries is None else max_retries,
                backoff=settings.KIE_RETRY_BACKOFF_SECONDS,
                task_id=task_id,
                job_ref=job_ref,
                secrets=(key,),
            )
        except requests.Timeout as exc:
            # A read timeout on a create may have made a task at kie.ai; sending it
            # again could make (and bill) a second one, so that timeout is final.
            maybe_created = not resend_safe and method != "GET" and not isinstance(exc, requests.ConnectTimeout)
            raise ProviderError(TIMEOUT_MESSAGE, code="timeout", permanent=maybe_created) from exc
        except requests.RequestException as exc:
            raise ProviderError(UNREACHABLE_MESSAGE, code="unreachable", permanent=False) from exc
        try:
            return check_envelope(response, bad_response_permanent=bad_response_permanent)
        finally:
            response.close()

    # --- uploads ----------------------------------------------------------------

    def upload(self, request: TaskRequest, position: int, item: InputFile) -> str:
        """Upload one user file and return its kie URL (§1 File upload).

        ``POST {KIE_UPLOAD_BASE_URL}/api/file-stream-upload``, multipart:
        ``file`` (streamed from ``item.open()``), ``uploadPath`` =
        ``"mirsam/<job_id>"``, ``fileName`` (:func:`upload_file_name`), with
        our Bearer key. The answer ``{"success": true, "code": 200, "data":
        {"downloadUrl", ...}}`` gives ``data.downloadUrl`` (else ``fileUrl``).
        Files are deleted by kie after 24 h or more, long after a task has
        fetched them.

        Raises :class:`ProviderError` mapped like every call; HTTP or body 413
        (file too large) is permanent with its own message. Uploads are free
        and the same name overwrites, so a timeout or a garbled answer is
        transient: submitting again cannot cost twice.
        """
        base_url = getattr(settings, "KIE_UPLOAD_BASE_URL", DEFAULT_UPLOAD_BASE_URL)
        file_name = upload_file_name(request, position, item)
        try:
            with item.open() as fileobj:
                data = self._call(
                    operation="upload",
                    method="POST",
                    path=UPLOAD_PATH,
                    base_url=base_url,
                    form={"uploadPath": f"{UPLOAD_FOLDER}/{request.job_id}", "fileName": file_name},
                    files={"file": (file_name, fileobj, item.content_type)},
                    job_ref=request.job_id,
                    bad_response_permanent=False,
                    resend_safe=True,
                )
        except ProviderError as exc:
            if exc.code == "413":
                raise ProviderError(UPLOAD_TOO_LARGE_MESSAGE, code="413", permanent=True) from exc
            raise
        url = (data.get("downloadUrl") or data.get("fileUrl")) if isinstance(data, dict) else None
        if not isinstance(url, str) or not url:
            raise ProviderError(BAD_RESPONSE_MESSAGE, code="bad_response", permanent=False)
        return url

    # --- tasks ------------------------------------------------------------------

    def submit(self, request: TaskRequest) -> str:
        """Create a task in the family of ``request.provider_model`` and return
        kie's ``taskId``.

        * ``params["extend_task_id"]`` set: ``POST /api/v1/veo/extend``
          (:func:`veo_extend_body`) or ``/api/v1/runway/extend``
          (:func:`runway_extend_body`); Market models cannot extend
          (``"bad_input"``). ``request.inputs`` are not used.
        * otherwise ``request.inputs`` are checked (:func:`check_inputs`) and
          uploaded in order (:meth:`upload`), then ``POST /api/v1/veo/generate``
          (:func:`veo_generate_body`), ``/api/v1/runway/generate``
          (:func:`runway_generate_body`) or ``/api/v1/jobs/createTask``
          (:func:`market_body`) names their URLs.

        The create waits for a slot of the shared rate limiter first
        (:meth:`_create_slot`); uploads do not count.

        Raises :class:`ProviderError`: transient for 429/455/5xx, ``"rate_limited"``,
        ``"unreachable"`` and upload timeouts; permanent for
        400/401/402/422/451/501/505, ``"bad_input"``, an answer without
        ``data.taskId`` (``"bad_response"``) and a read ``"timeout"`` of the
        create (the task may exist at kie.ai; re-sending could bill twice).
        """
        family = family_for(request.provider_model)
        if _given(request.params, "extend_task_id") is not None:
            if family is Family.VEO:
                path, body = VEO_EXTEND_PATH, veo_extend_body(request)
            elif family is Family.RUNWAY:
                path, body = RUNWAY_EXTEND_PATH, runway_extend_body(request)
            else:
                raise bad_input(NO_EXTEND_MESSAGE)
        else:
            check_inputs(request)
            # Build once before uploading so that bad params fail before any upload.
            if family is Family.VEO:
                path, build = VEO_GENERATE_PATH, veo_generate_body
            elif family is Family.RUNWAY:
                path, build = RUNWAY_GENERATE_PATH, runway_generate_body
            else:
                path, build = CREATE_PATH, market_body
            build(request, [])
            urls = [self.upload(request, position, item) for position, item in enumerate(request.inputs)]
            body = build(request, urls)
        self._create_slot()
        request.create_starts()
        data = self._call(
            operation="create",
            method="POST",
            path=path,
            json_body=body,
            job_ref=request.job_id,
            bad_response_permanent=True,
        )
        task_id = data.get("taskId") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise ProviderError(BAD_RESPONSE_MESSAGE, code="bad_response", permanent=True)
        return task_id

    def _create_slot(self) -> None:
        """Wait for one of kie.ai's ``KIE_RATE_LIMIT`` new-generation requests
        per ``KIE_RATE_LIMIT_WINDOW_SECONDS`` (§1 Rate limits), counted per
        account across every worker (:mod:`providers.ratelimit`). Raises
        :class:`~providers.ratelimit.RateLimited` (transient) when no slot
        comes within ``KIE_RATE_LIMIT_MAX_WAIT_SECONDS``."""
        account = hashlib.sha256(settings.KIE_API_KEY.encode()).hexdigest()[:16]
        acquire_slot(
            f"{RATE_LIMIT_KEY}:{account}",
            limit=settings.KIE_RATE_LIMIT,
            window=settings.KIE_RATE_LIMIT_WINDOW_SECONDS,
            max_wait=settings.KIE_RATE_LIMIT_MAX_WAIT_SECONDS,
        )

    def fetch(self, task_id: str, request: TaskRequest) -> TaskResult:
        """The task's state from its family's detail endpoint: Market
        ``GET /api/v1/jobs/recordInfo`` (:func:`task_result`), Veo
        ``GET /api/v1/veo/record-info`` (:func:`veo_result`), Runway
        ``GET /api/v1/runway/record-detail`` (:func:`runway_result`), each
        with ``?taskId=``. Returns RUNNING, SUCCEEDED with ``output_urls`` (and
        for Runway ``poster_urls``), or FAILED with kie's code and a readable
        ``error_message``.

        Raises :class:`ProviderError` as :meth:`submit` does, except that an
        unreadable answer (``"bad_response"``) is transient: polling is safe to
        repeat and the sweeper bounds it. A success whose URLs cannot be read
        will not get better, so that one is permanent.
        """
        family = family_for(request.provider_model)
        data = self._call(
            operation="fetch",
            method="GET",
            path=RECORD_PATHS[family],
            params={"taskId": task_id},
            task_id=task_id,
            job_ref=request.job_id,
            bad_response_permanent=False,
        )
        try:
            return RECORD_READERS[family](data, task_id=task_id)
        except Malformed as exc:
            try:
                final = isinstance(data, dict) and family_state(family, data) is TaskState.SUCCEEDED
            except Malformed:
                final = False
            log.warning("kie %s record for %s unreadable: %s", family, task_id, exc)
            raise ProviderError(BAD_RESPONSE_MESSAGE, code="bad_response", permanent=final) from exc

    # --- callbacks --------------------------------------------------------------

    def verify_callback(self, body: bytes, headers: dict[str, str]) -> None:
        """Check a callback's signature when ``KIE_WEBHOOK_HMAC_KEY`` is set (§1 Callbacks).

        ``headers`` have lower-case names: ``x-webhook-timestamp`` (unix
        seconds, within :data:`SIGNATURE_MAX_SKEW_SECONDS` of now) and
        ``x-webhook-signature`` = :func:`callback_signature` of ``data.taskId``
        (Market, Veo) else ``data.task_id`` (Runway) from the body. Raises
        ``ProviderError(code="bad_signature", permanent=True)`` on any mismatch.
        Without a key every callback passes: the per-job secret token in the
        URL already authenticates it.
        """
        key = settings.KIE_WEBHOOK_HMAC_KEY
        if not key:
            return

        def reject(why: str) -> ProviderError:
            log.warning("kie callback signature rejected: %s", why)
            return ProviderError(BAD_SIGNATURE_MESSAGE, code="bad_signature", permanent=True)

        timestamp = headers.get("x-webhook-timestamp", "").strip()
        signature = headers.get("x-webhook-signature", "").strip()
        if not timestamp or not signature:
            raise reject("missing headers")
        try:
            sent_at = int(timestamp)
        except ValueError as exc:
            raise reject("timestamp is not an integer") from exc
        if abs(time.time() - sent_at) > SIGNATURE_MAX_SKEW_SECONDS:
            raise reject("timestamp out of range")
        try:
            data = json.loads(body).get("data")
            task_id = data.get("taskId") or data.get("task_id")
        except (ValueError, AttributeError) as exc:
            raise reject("body unreadable") from exc
        if not isinstance(task_id, str) or not task_id:
            raise reject("no task id")
        expected = callback_signature(key=key, task_id=task_id, timestamp=timestamp)
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace")):
            raise reject("signature mismatch")

    def parse_callback(self, body: bytes, *, provider_model: str = "") -> TaskResult:
        """A :class:`TaskResult` from a callback of the family of
        ``provider_model`` (the job's), or told by the body's shape when it is
        empty (:func:`callback_family`):

        * Market (§2.1): ``{"code": 200|501, "msg", "data": {taskId, state:
          "success"|"fail", resultJson (string or null), failCode, failMsg, ...}}``;
        * Veo (§2.2): ``{"code": 200|400|422|500|501, "msg", "data": {taskId,
          info: {resultUrls[], originUrls[]}}}``, ``msg`` the failure reason;
        * Runway (§2.3): ``{"code", "msg", "data": {task_id, video_id,
          video_url, image_url}}``, ``image_url`` the poster.

        Raises ``ProviderError(code="bad_callback", permanent=True)`` for a body
        that is not such an object (our endpoint then answers 400).
        """
        try:
            envelope = json.loads(body)
            if not isinstance(envelope, dict):
                raise Malformed("not an object")
            family = family_for(provider_model) if provider_model else callback_family(envelope)
            return CALLBACK_READERS[family](envelope)
        except (ValueError, Malformed) as exc:  # Malformed is a ValueError, named for the reader
            log.warning("kie callback unreadable: %s", exc)
            raise ProviderError(BAD_CALLBACK_MESSAGE, code="bad_callback", permanent=True) from exc

    # --- outputs ----------------------------------------------------------------

    def download(self, url: str, request: TaskRequest, *, max_bytes: int) -> Download:
        """Copy an output from kie's CDN (result URLs expire, §1 Retention).

        A plain GET without our key (the CDN is a third party), streamed into
        :func:`~providers.base.spooled_file` in chunks of
        :data:`DOWNLOAD_CHUNK_BYTES`, so a large video never sits in memory
        whole. Returns :class:`~providers.base.Download` at position 0 with
        the MIME type as sent (``image/*`` or ``video/*``, parameters
        stripped) and the size in bytes.

        Raises :class:`ProviderError`: ``"too_large"`` (permanent) when
        ``Content-Length`` or the bytes read exceed ``max_bytes``;
        ``"bad_output"`` (permanent) for a non-HTTP(S) URL or a
        ``Content-Type`` that is neither ``image/*`` nor ``video/*``; the HTTP
        status (permanent for 4xx, transient for 429/5xx), ``"timeout"`` or
        ``"download_failed"``.
        """
        if urlsplit(url).scheme not in ("http", "https"):
            raise ProviderError(BAD_OUTPUT_MESSAGE, code="bad_output", permanent=True)
        try:
            response = provider_request(
                adapter=NAME,
                operation="download",
                method="GET",
                url=url,
                timeout=settings.KIE_TIMEOUT_SECONDS,
                max_retries=settings.KIE_MAX_RETRIES,
                backoff=settings.KIE_RETRY_BACKOFF_SECONDS,
                job_ref=request.job_id,
                secrets=(settings.KIE_API_KEY,),
                stream=True,
            )
        except requests.Timeout as exc:
            raise ProviderError(TIMEOUT_MESSAGE, code="timeout", permanent=False) from exc
        except requests.RequestException as exc:
            raise ProviderError(DOWNLOAD_FAILED_MESSAGE, code="download_failed", permanent=False) from exc
        with response:
            status = response.status_code
            if not 200 <= status < 300:
                permanent = status < 500 and status != 429
                raise ProviderError(DOWNLOAD_FAILED_MESSAGE, code=str(status), permanent=permanent)
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if not content_type.startswith(DOWNLOAD_TYPES):
                raise ProviderError(BAD_OUTPUT_MESSAGE, code="bad_output", permanent=True)
            declared = _as_code(response.headers.get("Content-Length", ""))
            if declared is not None and declared > max_bytes:
                raise ProviderError(TOO_LARGE_MESSAGE, code="too_large", permanent=True)
            file = spooled_file()
            size = 0
            try:
                for chunk in response.iter_content(chunk_size=DOWNLOAD_CHUNK_BYTES):
                    size += len(chunk)
                    if size > max_bytes:
                        raise ProviderError(TOO_LARGE_MESSAGE, code="too_large", permanent=True)
                    file.write(chunk)
            except requests.RequestException as exc:
                file.close()
                raise ProviderError(DOWNLOAD_FAILED_MESSAGE, code="download_failed", permanent=False) from exc
            except BaseException:
                file.close()
                raise
        file.seek(0)
        return Download(file=file, content_type=content_type, size=size)

    # --- account ----------------------------------------------------------------

    def credits_remaining(self, *, timeout: float | None = None, retries: int | None = None) -> int:
        """Credits left on the kie.ai account: ``GET /api/v1/chat/credit`` →
        ``{"code": 200, "data": <int>}`` (§1 Credits). ``timeout`` (seconds)
        and ``retries`` default to ``KIE_TIMEOUT_SECONDS`` and
        ``KIE_MAX_RETRIES``; a page that shows the figure asks briefly, once.
        Raises :class:`ProviderError` as :meth:`fetch` does."""
        data = self._call(
            operation="credit",
            method="GET",
            path=CREDIT_PATH,
            bad_response_permanent=False,
            timeout=timeout,
            max_retries=retries,
        )
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise ProviderError(BAD_RESPONSE_MESSAGE, code="bad_response", permanent=False)
        return int(data)

    def health(self) -> bool:
        """True when the key is set and the credits endpoint answers code 200 (§1 Credits)."""
        if not self.is_configured():
            return False
        try:
            self.credits_remaining()
        except ProviderError as exc:
            log.info("kie health check failed: %s %s", exc.code, exc)
            return False
        return True
