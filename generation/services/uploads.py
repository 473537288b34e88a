"""Uploads: the photos, reference images and recordings people give us,
stored privately.

Every image goes through ``generation.uploads.image_clean`` first (a real
JPEG/PNG/WebP within the limits, EXIF orientation applied, metadata
stripped, re-encoded), every recording through
``generation.audio.audio_clean`` (real MP3/WAV/M4A/OGG sound within the
size and length limits, decoded whole, re-encoded as a bare MP3); what is
stored is that clean copy.
"""

from __future__ import annotations

from datetime import timedelta
from typing import IO, TYPE_CHECKING

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..audio import audio_clean
from ..errors import GenerationError
from ..models import FINAL_JOB_STATUSES, Consent, JobInput, Upload
from ..uploads import image_clean

if TYPE_CHECKING:
    from accounts.models import User


def upload_create(*, user: User, file: IO[bytes] | UploadedFile, consent_version: str | None = None) -> Upload:
    """Check and normalise an uploaded image (``generation.uploads.image_clean``:
    real JPEG/PNG/WebP, size, pixel and dimension limits, EXIF orientation
    applied, metadata stripped, re-encoded), store it privately and, when
    ``consent_version`` is given, record the user's consent for it. Raises
    ``generation.errors.UploadRejected``; a refused file stores nothing."""
    clean = image_clean(file=file)
    with transaction.atomic():
        upload = Upload(user=user, width=clean.width, height=clean.height)
        _store(upload, file, clean.content_type, clean.extension, clean.data, clean.size, clean.sha256)
        if consent_version:
            Consent.objects.create(user=user, upload=upload, version=consent_version)
    return upload


def _store(
    upload: Upload,
    file: IO[bytes] | UploadedFile,
    content_type: str,
    extension: str,
    data: bytes,
    size: int,
    sha256: str,
) -> None:
    """Save ``upload`` with its clean copy ``data`` (the checked file, not the one sent)."""
    upload.original_name = str(getattr(file, "name", "") or "")[:255]
    upload.content_type, upload.size_bytes, upload.sha256 = content_type, size, sha256
    upload.file.save(f"upload.{extension}", ContentFile(data), save=False)
    upload.save()


def audio_upload_create(*, user: User, file: IO[bytes] | UploadedFile) -> Upload:
    """Check and clean an uploaded recording (``generation.audio.audio_clean``:
    real sound in MP3, WAV, M4A or OGG, within ``MIRSAM_AUDIO_UPLOAD_MAX_MB``
    and ``MIRSAM_AUDIO_MIN_SECONDS``..``MIRSAM_AUDIO_MAX_SECONDS``, decoded
    whole, re-encoded as an MP3 with no tags or cover art) and store the clean
    copy privately. The upload has no width or height; its
    ``duration_seconds`` is the decoded length. Raises
    ``generation.errors.UploadRejected``; a refused file stores nothing."""
    clean = audio_clean(file=file)
    with transaction.atomic():
        upload = Upload(user=user, duration_seconds=clean.duration_seconds)
        _store(upload, file, clean.content_type, clean.extension, clean.data, clean.size, clean.sha256)
    return upload


def upload_delete(*, upload: Upload) -> None:
    """Delete an upload and its file. The jobs and results made from it stay;
    the consent record stays, pointing at no upload. Raises
    :class:`GenerationError` while a running job still needs it."""
    if upload.job_inputs.exclude(job__status__in=FINAL_JOB_STATUSES).exists():
        raise GenerationError(
            _("A running job still uses this photo; delete it when the job has finished."), code="in_use"
        )
    name, storage = upload.file.name, upload.file.storage
    with transaction.atomic():
        upload.delete()
        if name:
            transaction.on_commit(lambda: storage.delete(name))


def uploads_purge(*, older_than_days: int | None = None) -> int:
    """Delete uploads older than ``MIRSAM_UPLOAD_RETENTION_DAYS`` (days) whose
    jobs have all finished. Returns how many were deleted."""
    days = settings.MIRSAM_UPLOAD_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    # Inputs that are earlier results have no upload: a NULL in NOT IN would exclude every row.
    busy = JobInput.objects.exclude(job__status__in=FINAL_JOB_STATUSES).filter(upload__isnull=False).values("upload_id")
    deleted = 0
    for upload in Upload.objects.filter(created_at__lt=cutoff).exclude(pk__in=busy).iterator():
        upload_delete(upload=upload)
        deleted += 1
    return deleted
