"""The ``kie`` adapter: kie.ai's Market (unified jobs) API.

Every fact about kie.ai here comes from ``shared/kie/API.md`` (cited as §n):

* §1 Basics: base URL, ``Authorization: Bearer <key>``, the envelope
  ``{code, msg, data}`` whose ``code`` may report an error under HTTP 200,
  the table of body codes, callbacks and their HMAC signature, credits.
* §2.1 Market: ``POST /api/v1/jobs/createTask`` → ``data.taskId``;
  ``GET /api/v1/jobs/recordInfo?taskId=`` → ``data.state`` and
  ``data.resultJson`` (a JSON *string*); the callback body.

Every HTTP call goes through :func:`providers.http.provider_request`, so it is
logged (key redacted), timed, and retried on 429/5xx and connection errors.
Errors reach the pipeline as :class:`~providers.base.ProviderError` whose
``message`` a user can read and whose ``code`` is kie's code as a string
("401", "402", …) or one of ours ("timeout", "unreachable", "bad_response",
"bad_callback", "bad_signature", "too_large", "bad_output",
"download_failed"). HTTP status and body ``code`` are mapped to errors in one
place, :func:`check_envelope`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .base import Adapter, Download, ProviderError, TaskRequest, TaskResult, TaskState, spooled_file
from .http import provider_request

log = logging.getLogger(__name__)

NAME = "kie"

CREATE_PATH = "/api/v1/jobs/createTask"
RECORD_PATH = "/api/v1/jobs/recordInfo"
CREDIT_PATH = "/api/v1/chat/credit"

#: ``recordInfo`` states that mean "keep polling" (§2.1).
RUNNING_STATES = frozenset({"waiting", "queuing", "generating"})

#: How far a signed callback's timestamp may be from our clock, in seconds.
SIGNATURE_MAX_SKEW_SECONDS = 300

#: Bytes read per chunk when downloading an output.
DOWNLOAD_CHUNK_BYTES = 64 * 1024

#: How much of a provider's failure text we show a user, in characters.
REASON_MAX_CHARS = 300

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
NOT_AN_IMAGE_MESSAGE = _("The provider returned a file that is not an image.")


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


def check_envelope(response: requests.Response, *, bad_response_permanent: bool) -> Any:
    """Map one kie.ai answer to its ``data`` or to a :class:`ProviderError`.

    This is the one place where HTTP status and body ``code`` become errors
    (§1: "HTTP may be 200 even on failure: check body code and HTTP status").

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


def _reason(text: Any) -> str:
    return " ".join(str(text).split())[:REASON_MAX_CHARS]


def _result_urls(result_json: Any) -> list[str]:
    """``resultUrls`` from ``resultJson``: a JSON string ``{"resultUrls": [...]}``
    (§2.1); an already decoded object is accepted too. Raises :class:`Malformed`."""
    if isinstance(result_json, str):
        try:
            result_json = json.loads(result_json)
        except ValueError as exc:
            raise Malformed("resultJson is not JSON") from exc
    urls = result_json.get("resultUrls") if isinstance(result_json, dict) else None
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u for u in urls):
        raise Malformed("resultJson has no resultUrls")
    return list(urls)


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
    task_id = task_id or data.get("taskId") or data.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise Malformed("no taskId")
    state = data.get("state")
    if state in RUNNING_STATES:
        return TaskResult(task_id=task_id, state=TaskState.RUNNING)
    if state == "success":
        return TaskResult(task_id=task_id, state=TaskState.SUCCEEDED, output_urls=_result_urls(data.get("resultJson")))
    if state == "fail":
        fail_code = str(data.get("failCode") or "").strip() or "fail"
        fail_msg = _reason(data.get("failMsg") or "")
        if fail_msg:
            message = gettext("The provider could not make this: %(reason)s") % {"reason": fail_msg}
        else:
            message = gettext("The provider could not make this.")
        return TaskResult(task_id=task_id, state=TaskState.FAILED, error_code=fail_code, error_message=message)
    raise Malformed(f"unknown state {state!r}")


def callback_signature(*, key: str, task_id: str, timestamp: str) -> str:
    """``base64(HMAC_SHA256(key, taskId + "." + timestamp))`` (§1 Callbacks)."""
    digest = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class KieAdapter(Adapter):
    """kie.ai Market models (Nano Banana and friends, §2.1).

    Settings: ``KIE_API_KEY``, ``KIE_BASE_URL``, ``KIE_TIMEOUT_SECONDS``
    (connect and read, seconds), ``KIE_MAX_RETRIES`` and
    ``KIE_RETRY_BACKOFF_SECONDS`` (first wait, doubling; see
    :func:`providers.http.provider_request`), ``KIE_WEBHOOK_HMAC_KEY``.
    """

    name = NAME
    supports_callbacks = True

    def is_configured(self) -> bool:
        return bool(settings.KIE_API_KEY)

    # --- the wire -------------------------------------------------------------

    def _call(
        self,
        *,
        operation: str,
        method: str,
        path: str,
        json_body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        task_id: str = "",
        job_ref: int | None = None,
        bad_response_permanent: bool,
    ) -> Any:
        """One authenticated call to the kie.ai API; returns the envelope's
        ``data``. Raises :class:`ProviderError`: the mapped kie code (see
        :func:`check_envelope`), ``"timeout"`` or ``"unreachable"`` (transient)."""
        key = settings.KIE_API_KEY
        try:
            response = provider_request(
                adapter=NAME,
                operation=operation,
                method=method,
                url=settings.KIE_BASE_URL.rstrip("/") + path,
                json_body=json_body,
                params=params,
                headers={
                    "Authorization": f"Bearer {key}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
                timeout=settings.KIE_TIMEOUT_SECONDS,
                max_retries=settings.KIE_MAX_RETRIES,
                backoff=settings.KIE_RETRY_BACKOFF_SECONDS,
                task_id=task_id,
                job_ref=job_ref,
                secrets=(key,),
            )
        except requests.Timeout as exc:
            # A read timeout on createTask may have made a task at kie.ai; sending it
            # again could make (and bill) a second one, so that timeout is final.
            maybe_created = method != "GET" and not isinstance(exc, requests.ConnectTimeout)
            raise ProviderError(TIMEOUT_MESSAGE, code="timeout", permanent=maybe_created) from exc
        except requests.RequestException as exc:
            raise ProviderError(UNREACHABLE_MESSAGE, code="unreachable", permanent=False) from exc
        try:
            return check_envelope(response, bad_response_permanent=bad_response_permanent)
        finally:
            response.close()

    # --- tasks ------------------------------------------------------------------

    def submit(self, request: TaskRequest) -> str:
        """Create a Market task (§2.1 Create) and return kie's ``taskId``.

        Sends ``{"model": provider_model, "callBackUrl": callback_url (only
        when set), "input": {"prompt", "aspect_ratio", "output_format"}}``;
        input keys missing from ``request.params`` are left out.

        Raises :class:`ProviderError`: transient for 429/455/5xx and
        ``"unreachable"``; permanent for 400/401/402/422/451/501/505, for an
        answer without ``data.taskId`` (``"bad_response"``) and for a read
        ``"timeout"`` (the task may exist at kie.ai; re-sending could bill twice).
        """
        payload: dict[str, Any] = {
            "model": request.provider_model,
            "input": {
                k: request.params[k]
                for k in ("prompt", "aspect_ratio", "output_format")
                if request.params.get(k) not in (None, "")
            },
        }
        if request.callback_url:
            payload["callBackUrl"] = request.callback_url
        data = self._call(
            operation="create",
            method="POST",
            path=CREATE_PATH,
            json_body=payload,
            job_ref=request.job_id,
            bad_response_permanent=True,
        )
        task_id = data.get("taskId") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise ProviderError(BAD_RESPONSE_MESSAGE, code="bad_response", permanent=True)
        return task_id

    def fetch(self, task_id: str, request: TaskRequest) -> TaskResult:
        """The task's state from ``GET /api/v1/jobs/recordInfo?taskId=`` (§2.1 Poll).

        Returns RUNNING (waiting/queuing/generating), SUCCEEDED with
        ``output_urls`` from ``resultJson.resultUrls``, or FAILED with
        ``error_code`` = ``failCode`` and a readable ``error_message``.

        Raises :class:`ProviderError` as :meth:`submit` does, except that an
        unreadable answer (``"bad_response"``) is transient: polling is safe to
        repeat and the sweeper bounds it. A ``success`` whose ``resultJson``
        cannot be read will not get better, so that one is permanent.
        """
        data = self._call(
            operation="fetch",
            method="GET",
            path=RECORD_PATH,
            params={"taskId": task_id},
            task_id=task_id,
            job_ref=request.job_id,
            bad_response_permanent=False,
        )
        try:
            return task_result(data, task_id=task_id)
        except Malformed as exc:
            final = isinstance(data, dict) and data.get("state") == "success"
            log.warning("kie recordInfo for %s unreadable: %s", task_id, exc)
            raise ProviderError(BAD_RESPONSE_MESSAGE, code="bad_response", permanent=final) from exc

    # --- callbacks --------------------------------------------------------------

    def verify_callback(self, body: bytes, headers: dict[str, str]) -> None:
        """Check a callback's signature when ``KIE_WEBHOOK_HMAC_KEY`` is set (§1 Callbacks).

        ``headers`` have lower-case names: ``x-webhook-timestamp`` (unix
        seconds, within :data:`SIGNATURE_MAX_SKEW_SECONDS` of now) and
        ``x-webhook-signature`` = :func:`callback_signature` of ``data.taskId``
        (else ``data.task_id``) from the body. Raises
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

    def parse_callback(self, body: bytes) -> TaskResult:
        """A :class:`TaskResult` from a Market callback (§2.1 Callback body):
        ``{"code": 200|501, "msg", "data": {taskId, state: "success"|"fail",
        resultJson (string or null), failCode, failMsg, ...}}``.

        Raises ``ProviderError(code="bad_callback", permanent=True)`` for a body
        that is not such an object (our endpoint then answers 400).
        """
        try:
            envelope = json.loads(body)
            if not isinstance(envelope, dict):
                raise Malformed("not an object")
            return task_result(envelope.get("data"))
        except (ValueError, Malformed) as exc:  # Malformed is a ValueError, named for the reader
            log.warning("kie callback unreadable: %s", exc)
            raise ProviderError(BAD_CALLBACK_MESSAGE, code="bad_callback", permanent=True) from exc

    # --- outputs ----------------------------------------------------------------

    def download(self, url: str, request: TaskRequest, *, max_bytes: int) -> Download:
        """Copy an output from kie's CDN (result URLs expire, §1 Retention).

        A plain GET without our key (the CDN is a third party), streamed into
        :func:`~providers.base.spooled_file` in chunks. Returns
        :class:`~providers.base.Download` at position 0 with the MIME type
        (parameters stripped) and the size in bytes.

        Raises :class:`ProviderError`: ``"too_large"`` (permanent) when
        ``Content-Length`` or the bytes read exceed ``max_bytes``;
        ``"bad_output"`` (permanent) for a non-HTTP(S) URL or a
        ``Content-Type`` that is not ``image/*``; the HTTP status (permanent for
        4xx, transient for 429/5xx), ``"timeout"`` or ``"download_failed"``.
        """
        if urlsplit(url).scheme not in ("http", "https"):
            raise ProviderError(NOT_AN_IMAGE_MESSAGE, code="bad_output", permanent=True)
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
            if not content_type.startswith("image/"):
                raise ProviderError(NOT_AN_IMAGE_MESSAGE, code="bad_output", permanent=True)
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

    def credits_remaining(self) -> int:
        """Credits left on the kie.ai account: ``GET /api/v1/chat/credit`` →
        ``{"code": 200, "data": <int>}`` (§1 Credits). Raises
        :class:`ProviderError` as :meth:`fetch` does."""
        data = self._call(operation="credit", method="GET", path=CREDIT_PATH, bad_response_permanent=False)
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
