"""The one HTTP seam to kie.ai: the envelope, the error table, authenticated
calls, the shared create and poll limiters, callback signatures and output downloads.

Facts from ``docs/kie.md`` §1 (Basics): base URL, ``Authorization: Bearer
<key>``, the envelope ``{code, msg, data}`` whose ``code`` may report an error
under HTTP 200, the table of body codes, callbacks and their HMAC signature,
rate limits, the credits endpoint, retention of result URLs.

Every call goes through :func:`providers.http.provider_request`, so it is
logged (key redacted, uploaded files described, never copied), timed, and
retried on 429/5xx and connection errors. Errors leave here as
:class:`~providers.base.ProviderError` whose ``message`` a user can read and
whose ``code`` is kie's code as a string ("401", "402", …) or one of ours
("timeout", "unreachable", "bad_response", "bad_input", "too_large",
"bad_output", "download_failed").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from typing import IO, Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from ..base import Download, ProviderError, spooled_file
from ..http import provider_request
from ..ratelimit import Grant, acquire_slot

log = logging.getLogger(__name__)

NAME = "kie"

CREDIT_PATH = "/api/v1/chat/credit"

#: Prefix of the shared limiter's key for new generation requests (§1 Rate
#: limits: per account); a hash of the API key names the account.
RATE_LIMIT_KEY = "mirsam:kie:create"
#: Prefix of the shared limiter's key for polls (record/detail requests, §1
#: Rate limits: recordInfo ≤ 10 per second per key).
POLL_RATE_LIMIT_KEY = "mirsam:kie:record"

#: Bytes read per chunk when downloading an output.
DOWNLOAD_CHUNK_BYTES = 64 * 1024

#: MIME type prefixes an output may have (images, videos). Object stores often
#: label files as octet-stream; the pipeline checks the bytes themselves
#: (generation.media.output_check), so those pass here too.
DOWNLOAD_TYPES = ("image/", "video/", "audio/", "application/octet-stream", "binary/octet-stream")

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
TIMEOUT_MESSAGE = _("The provider did not answer in time.")
UNREACHABLE_MESSAGE = _("The provider could not be reached.")
DOWNLOAD_FAILED_MESSAGE = _("We could not fetch the result from the provider.")
TOO_LARGE_MESSAGE = _("The result file is too large.")
BAD_OUTPUT_MESSAGE = _("The provider returned a file that is not an image, a video or a sound.")


def as_code(value: Any) -> int | None:
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


def bad_response(*, permanent: bool) -> ProviderError:
    return ProviderError(BAD_RESPONSE_MESSAGE, code="bad_response", permanent=permanent)


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
    body_code = as_code(body.get("code")) if isinstance(body, dict) else None
    if body_code is not None and body_code >= 400:
        raise error_for(body_code)
    if not 200 <= response.status_code < 300:
        raise error_for(response.status_code)
    if body_code != 200 or "data" not in body:
        raise bad_response(permanent=bad_response_permanent)
    return body["data"]


def account() -> str:
    """The limiter's name of the kie.ai account: a hash of ``KIE_API_KEY``, never the key."""
    return hashlib.sha256(settings.KIE_API_KEY.encode()).hexdigest()[:16]


def callback_signature(*, key: str, task_id: str, timestamp: str) -> str:
    """``base64(HMAC_SHA256(key, taskId + "." + timestamp))`` (§1 Callbacks)."""
    digest = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class Client:
    """Authenticated calls to kie.ai with the settings ``KIE_API_KEY``,
    ``KIE_BASE_URL``, ``KIE_TIMEOUT_SECONDS`` (connect and read, seconds),
    ``KIE_MAX_RETRIES`` and ``KIE_RETRY_BACKOFF_SECONDS`` (first wait,
    doubling; see :func:`providers.http.provider_request`)."""

    def call(
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
        """One call (``base_url`` defaults to ``KIE_BASE_URL``), JSON or
        multipart (``form``/``files``); returns the envelope's ``data``.
        Raises :class:`ProviderError`: the mapped kie code (see
        :func:`check_envelope`), ``"unreachable"`` (transient) or
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

    def create_slot(self) -> None:
        """Wait for one of kie.ai's ``KIE_RATE_LIMIT`` new-generation requests
        per ``KIE_RATE_LIMIT_WINDOW_SECONDS`` (§1 Rate limits), counted per
        account across every worker (:mod:`providers.ratelimit`). Raises
        :class:`~providers.ratelimit.RateLimited` (transient) when no slot
        comes within ``KIE_RATE_LIMIT_MAX_WAIT_SECONDS``."""
        acquire_slot(
            f"{RATE_LIMIT_KEY}:{account()}",
            limit=settings.KIE_RATE_LIMIT,
            window=settings.KIE_RATE_LIMIT_WINDOW_SECONDS,
            max_wait=settings.KIE_RATE_LIMIT_MAX_WAIT_SECONDS,
        )

    def poll_slot(self) -> Grant | None:
        """Wait for one of ``KIE_POLL_RATE_LIMIT`` record/detail requests per
        ``KIE_POLL_RATE_LIMIT_WINDOW_SECONDS`` (§1 Rate limits: recordInfo ≤ 10
        per second per key), counted per key across every worker, in a key of
        its own (creates do not spend it). The wait is short
        (``KIE_POLL_RATE_LIMIT_MAX_WAIT_SECONDS``): a poll is cheap to put off,
        so past it :class:`~providers.ratelimit.RateLimited` is raised and the
        poll task comes back later (``generation.tasks.poll_job_task``).
        ``None`` when the limit is off (0)."""
        return acquire_slot(
            f"{POLL_RATE_LIMIT_KEY}:{account()}",
            limit=settings.KIE_POLL_RATE_LIMIT,
            window=settings.KIE_POLL_RATE_LIMIT_WINDOW_SECONDS,
            max_wait=settings.KIE_POLL_RATE_LIMIT_MAX_WAIT_SECONDS,
        )

    def download(self, url: str, *, job_ref: int | None, max_bytes: int) -> Download:
        """Copy an output from kie's CDN (result URLs expire, §1 Retention).

        A plain GET without our key (the CDN is a third party), streamed into
        :func:`~providers.base.spooled_file` in chunks of
        :data:`DOWNLOAD_CHUNK_BYTES`, so a large video never sits in memory
        whole. Returns :class:`~providers.base.Download` at position 0 with
        the MIME type as sent (parameters stripped) and the size in bytes.

        Raises :class:`ProviderError`: ``"too_large"`` (permanent) when
        ``Content-Length`` or the bytes read exceed ``max_bytes``;
        ``"bad_output"`` (permanent) for a non-HTTP(S) URL or a
        ``Content-Type`` that is not ``image/*``, ``video/*`` or ``audio/*``; the HTTP
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
                job_ref=job_ref,
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
            declared = as_code(response.headers.get("Content-Length", ""))
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

    def credits_remaining(self, *, timeout: float | None = None, retries: int | None = None) -> int:
        """Credits left on the kie.ai account: ``GET /api/v1/chat/credit`` →
        ``{"code": 200, "data": <int>}`` (§1 Credits). ``timeout`` (seconds)
        and ``retries`` default to ``KIE_TIMEOUT_SECONDS`` and
        ``KIE_MAX_RETRIES``. Raises :class:`ProviderError` as a poll does."""
        data = self.call(
            operation="credit",
            method="GET",
            path=CREDIT_PATH,
            bad_response_permanent=False,
            timeout=timeout,
            max_retries=retries,
        )
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise bad_response(permanent=False)
        return int(data)
