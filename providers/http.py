"""The one seam through which adapters talk HTTP to providers.

Every attempt is written to :class:`~providers.models.ProviderCall` with
secrets redacted, the body truncated and the latency measured. Timeouts are
always set. Retries with exponential backoff happen for:

* HTTP 429 and 5xx answers (kie.ai says a 429 is not queued: docs/kie.md §1 Rate limits);
* connection errors (nothing reached the provider);
* read timeouts, for idempotent methods only (a timed-out POST may have
  created a task, so it is not repeated blindly).

Tests point adapters at a local server by changing the base URL setting.
"""

from __future__ import annotations

import json
import logging
import time
from typing import IO, Any
from urllib.parse import urlencode

import requests
from django.conf import settings

from .models import ProviderCall

log = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504}
IDEMPOTENT_METHODS = {"GET", "HEAD"}

_session = requests.Session()


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _truncate(text: str) -> str:
    limit = settings.PROVIDER_LOG_BODY_CHARS
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more chars]"


def log_call(
    *,
    adapter: str,
    operation: str,
    method: str,
    url: str,
    request_body: str,
    status_code: int | None,
    response_body: str,
    error: str,
    latency_ms: int,
    task_id: str,
    job_ref: int | None,
    secrets: tuple[str, ...],
) -> None:
    try:
        ProviderCall.objects.create(
            adapter=adapter,
            operation=operation,
            method=method,
            url=_redact(url, secrets)[:500],
            request_body=_truncate(_redact(request_body, secrets)),
            status_code=status_code,
            response_body=_truncate(_redact(response_body, secrets)),
            error=_redact(error, secrets)[:255],
            latency_ms=latency_ms,
            task_id=task_id[:128],
            job_ref=job_ref,
        )
    except Exception:  # the log must never break a provider call
        log.exception("could not write provider call log")


def _describe_form(form: dict[str, str] | None, files: dict[str, tuple[str, IO[bytes], str]]) -> str:
    """The log text of a multipart body: its fields and, per file, its name,
    type and size, never its bytes."""
    described = {}
    for field, (name, fileobj, content_type) in files.items():
        start = fileobj.tell()
        size = fileobj.seek(0, 2) - start
        fileobj.seek(start)
        described[field] = f"{name} ({content_type}, {size} bytes)"
    return json.dumps({"form": form or {}, "files": described}, ensure_ascii=False)


def provider_request(
    *,
    adapter: str,
    operation: str,
    method: str,
    url: str,
    json_body: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
    files: dict[str, tuple[str, IO[bytes], str]] | None = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float,
    max_retries: int = 0,
    backoff: float = 1.0,
    task_id: str = "",
    job_ref: int | None = None,
    secrets: tuple[str, ...] = (),
    stream: bool = False,
) -> requests.Response:
    """Send one request, retrying as described above.

    ``timeout`` is in seconds (connect and read). ``backoff`` is the first
    wait in seconds; it doubles per retry. Returns the last response (which
    may be a 429/5xx once retries are spent). Raises ``requests.Timeout`` or
    ``requests.ConnectionError`` when the last attempt got no answer.
    With ``stream=True`` the response body is left unread (and unlogged).

    ``form`` and ``files`` send a multipart body instead of ``json_body``:
    ``files`` maps a field to ``(file name, seekable binary file, content
    type)``. The log holds the form fields and each file's name, type and
    size, never its bytes; each file is rewound to where it started before
    every attempt, so a retry sends the whole file again.
    """
    method = method.upper()
    if files:
        request_text = _describe_form(form, files)
        starts = {field: fileobj.tell() for field, (_name, fileobj, _type) in files.items()}
    else:
        request_text = json.dumps(json_body, ensure_ascii=False) if json_body is not None else ""
    log_url = url if not params else f"{url}?{urlencode(params)}"
    attempt = 0
    while True:
        if files:
            for field, (_name, fileobj, _type) in files.items():
                fileobj.seek(starts[field])  # a retry must send the whole file again
        started = time.monotonic()
        try:
            response = _session.request(
                method,
                url,
                json=json_body,
                data=form,
                files=files,
                params=params,
                headers=headers,
                timeout=timeout,
                stream=stream,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            latency = int((time.monotonic() - started) * 1000)
            log_call(
                adapter=adapter,
                operation=operation,
                method=method,
                url=log_url,
                request_body=request_text,
                status_code=None,
                response_body="",
                error=f"{type(exc).__name__}: {exc}",
                latency_ms=latency,
                task_id=task_id,
                job_ref=job_ref,
                secrets=secrets,
            )
            # A connect error means nothing was sent; a read timeout on a POST may
            # have created something at the provider.
            # (ConnectTimeout is a ConnectionError; ReadTimeout is not.)
            retriable = isinstance(exc, requests.ConnectionError) or method in IDEMPOTENT_METHODS
            if attempt < max_retries and retriable:
                time.sleep(backoff * (2**attempt))
                attempt += 1
                continue
            raise
        latency = int((time.monotonic() - started) * 1000)
        body = "" if stream else response.text
        log_call(
            adapter=adapter,
            operation=operation,
            method=method,
            url=log_url,
            request_body=request_text,
            status_code=response.status_code,
            response_body=body,
            error="",
            latency_ms=latency,
            task_id=task_id,
            job_ref=job_ref,
            secrets=secrets,
        )
        if response.status_code in RETRY_STATUSES and attempt < max_retries:
            response.close()
            time.sleep(_retry_after(response) or backoff * (2**attempt))
            attempt += 1
            continue
        return response


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return min(float(value), 30.0)
    except ValueError:
        return None
