"""User files to kie.ai's upload host (docs/kie.md §1 File upload): a task
names its inputs by URL, so each checked file is uploaded first."""

from __future__ import annotations

import re

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from ..base import InputFile, ProviderError, TaskRequest
from .client import Client, bad_response

UPLOAD_PATH = "/api/file-stream-upload"

#: The upload host (§1 File upload) when ``settings.KIE_UPLOAD_BASE_URL`` is unset.
DEFAULT_UPLOAD_BASE_URL = "https://kieai.redpandaai.co"

#: Folder of our uploads at kie.ai; the job id is appended (§1 File upload ``uploadPath``).
UPLOAD_FOLDER = "mirsam"

UPLOAD_TOO_LARGE_MESSAGE = _("The provider refused the file you gave: it is too large.")


def upload_file_name(request: TaskRequest, position: int, item: InputFile) -> str:
    """The ``fileName`` of an upload: unique per task and position, since the
    same name overwrites (§1 File upload), and safe in a URL."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", item.name).strip("._")[-80:] or "input"
    return f"{request.index}-{position}-{safe}"


def upload(client: Client, request: TaskRequest, position: int, item: InputFile) -> str:
    """Upload one user file and return its kie URL (§1 File upload).

    ``POST {KIE_UPLOAD_BASE_URL}/api/file-stream-upload``, multipart:
    ``file`` (streamed from ``item.open()``), ``uploadPath`` =
    ``"mirsam/<job_id>"``, ``fileName`` (:func:`upload_file_name`), with our
    Bearer key. The answer ``{"success": true, "code": 200, "data":
    {"downloadUrl", ...}}`` gives ``data.downloadUrl`` (else ``fileUrl``).
    Files are deleted by kie after 24 h or more, long after a task has
    fetched them.

    Raises :class:`ProviderError` mapped like every call; HTTP or body 413
    (file too large) is permanent with its own message. Uploads are free and
    the same name overwrites, so a timeout or a garbled answer is transient:
    submitting again cannot cost twice.
    """
    base_url = getattr(settings, "KIE_UPLOAD_BASE_URL", DEFAULT_UPLOAD_BASE_URL)
    file_name = upload_file_name(request, position, item)
    try:
        with item.open() as fileobj:
            data = client.call(
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
        raise bad_response(permanent=False)
    return url
