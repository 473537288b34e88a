"""Results of several jobs as one ZIP, streamed while it is made.

The archive is written by zipstream-ng (``zipstream.ZipStream``) as the
response is sent: each result file is read from its storage (local or S3)
in chunks of :data:`CHUNK` bytes when its turn comes, so neither a whole
file nor the archive is ever held in memory, and the first bytes leave at
once. Files are stored, not compressed (images, videos and sound are
compressed already). Nothing here checks ownership: the caller passes the
reader's own jobs (``generation.selectors.jobs_by_ids``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath

from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.text import slugify
from zipstream import ZIP_STORED, ZipStream

from .models import Asset, Job, JobStatus

CHUNK = 64 * 1024
#: Most characters of the prompt kept in a file's name.
SLUG_CHARS = 40


def entry_name(job: Job, asset: Asset) -> str:
    """A result's name inside the ZIP: ``<job id>-<n>-<prompt slug><suffix>``
    (``n`` counts from 1; Arabic letters are kept; "creation" for a job with
    no words), unique because the job id and ``n`` are."""
    slug = slugify(job.summary, allow_unicode=True)[:SLUG_CHARS].strip("-_") or "creation"
    suffix = PurePosixPath(asset.file.name or "").suffix.lower() or ".bin"
    return f"{job.pk}-{asset.index + 1}-{slug}{suffix}"


def field_chunks(field: FieldFile) -> Iterator[bytes]:
    """A stored file (an asset's file or poster, any ``FileField``),
    :data:`CHUNK` bytes at a time, opened only when the archive reaches it
    and closed after."""
    with field.storage.open(field.name or "", "rb") as f:
        while True:
            data = f.read(CHUNK)
            if not data:
                return
            yield data


def zip_entries(jobs: Iterable[Job]) -> list[tuple[str, Asset]]:
    """``[(name in the ZIP, asset)]`` of the results of the succeeded jobs
    among ``jobs``, in their order (a job's results by index)."""
    entries = []
    for job in jobs:
        if job.status != JobStatus.SUCCEEDED:
            continue
        for asset in sorted(job.assets.all(), key=lambda a: a.index):
            if asset.file:
                entries.append((entry_name(job, asset), asset))
    return entries


def zip_stream(entries: list[tuple[str, Asset]]) -> ZipStream:
    """A ZIP of ``entries`` (:func:`zip_entries`) to iterate over: bytes as
    they are made."""
    archive = ZipStream(compress_type=ZIP_STORED)
    for name, asset in entries:
        archive.add(field_chunks(asset.file), name)
    return archive


def zip_filename() -> str:
    """The download's name: ``mirsam-<YYYY-MM-DD-HHMM>.zip`` (local time)."""
    return f"mirsam-{timezone.localtime():%Y-%m-%d-%H%M}.zip"
