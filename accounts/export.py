"""Export my data (issue 19): one ZIP of everything a user has in Mirsam.

The ZIP (``mirsam-data-<YYYY-MM-DD>.zip``) holds:

- ``profile.json``: the account (e-mail, names, language, dates) and the
  photo consents given (wording version, time);
- ``credit-history.csv``: every ledger entry, newest first, described as on
  the Credits history page (``credits.describe``), in the user's language;
- ``payments.csv``: every purchase (``billing.Purchase``), amounts in major
  units of their currency;
- ``jobs.json``: one record per job (model, service, settings, status,
  credits, times, the names of its files in the ZIP);
- ``results/``: every result file of the user's jobs and their posters.

It is built by ``accounts.tasks.data_export_build_task`` after the request
commits. zipstream-ng writes the archive as it is read (``generation.archive``:
each stored file is read :data:`generation.archive.CHUNK` bytes at a time
when its turn comes), and the archive is handed to ``default_storage.save``
as a non-seekable file object that pulls from that generator: the local
file system writes it 64 KiB at a time, S3 (django-storages) uploads it in
multipart parts. So memory stays bounded whatever the number of results,
and no temporary copy needs disk space. The owner downloads it for
``MIRSAM_EXPORT_HOURS`` hours (``accounts.views.data_export_download``);
:func:`exports_purge` (beat) deletes it after, and deleting the account
deletes it with the rest (``accounts.deletion``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream

from .mail import mail_queue
from .models import DataExport, User

log = logging.getLogger(__name__)

#: A pending export older than this is taken as lost (its worker died) and
#: marked failed by :func:`exports_purge`, so the user can ask again.
STALE_PENDING = timedelta(hours=6)


class ExportRefused(Exception):
    """An export cannot be started now; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def export_latest(*, user: User) -> DataExport | None:
    """The user's newest export (any status), or None."""
    return DataExport.objects.filter(user=user).order_by("-created_at", "-id").first()


def export_is_expired(export: DataExport, *, now: Any = None) -> bool:
    """Whether a ready export's download link has run out (``expires_at`` passed)."""
    return export.expires_at is not None and export.expires_at <= (now or timezone.now())


def export_request(*, user: User) -> DataExport:
    """Start an export of ``user``'s data: a pending :class:`DataExport`, its
    build queued after commit. Raises :class:`ExportRefused` while another
    of theirs is in progress (the user row is locked, and a partial unique
    constraint backs it up)."""
    from .tasks import data_export_build_task

    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        refused = _("An export of your data is being prepared already. Please wait until it is ready.")
        if DataExport.objects.filter(user=user, status=DataExport.Status.PENDING).exists():
            raise ExportRefused(refused)
        try:
            with transaction.atomic():  # a savepoint: the constraint, should the lock ever be bypassed
                export = DataExport.objects.create(user=user)
        except IntegrityError:
            raise ExportRefused(refused) from None
        export_id = export.pk
        transaction.on_commit(lambda: data_export_build_task.delay(export_id))
    log.info("user %s asked for an export of their data (export %s)", user.pk, export.pk)
    return export


# --- What goes in the ZIP --------------------------------------------------------


def _csv_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")  # the BOM makes spreadsheet programs read UTF-8 (Arabic)


def _json_bytes(data: Any) -> bytes:
    return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2).encode()


def profile_data(user: User) -> dict[str, Any]:
    """``profile.json``: the account and the photo consents given."""
    from generation.models import Consent

    return {
        "id": user.pk,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "preferred_language": user.preferred_language,
        "date_joined": user.date_joined,
        "last_login": user.last_login,
        "consents": [
            {"version": c.version, "accepted_at": c.accepted_at}
            for c in Consent.objects.filter(user=user).order_by("accepted_at", "pk")
        ],
    }


def credit_history_csv(user: User) -> bytes:
    """``credit-history.csv``: every ledger entry of the user, newest first,
    with the description the Credits history page shows (in the active
    language). Amounts in whole credits."""
    from credits.describe import entries_describe
    from credits.selectors import entries_for_user

    rows = [
        [
            e.created_at.isoformat(),
            e.kind,
            str(e.get_kind_display()),
            str(e.description),
            e.amount,
            e.held_delta,
            e.balance_after,
            e.available_after,
            e.reference,
        ]
        for e in entries_describe(entries_for_user(user=user))
    ]
    header = ["time", "kind", "kind_name", "description", "amount", "held_change", "balance_after", "available_after"]
    return _csv_bytes([*header, "reference"], rows)


def payments_csv(user: User) -> bytes:
    """``payments.csv``: every purchase of the user, newest first; ``amount``
    in major units of ``currency`` (e.g. 50.00 USD)."""
    from billing.models import Purchase

    rows = [
        [
            p.created_at.isoformat(),
            p.kind,
            p.pack.name if p.pack else (p.plan.name if p.plan else ""),
            p.credits,
            p.amount_major,
            p.currency.upper(),
            p.stripe_id,
        ]
        for p in Purchase.objects.filter(user=user).select_related("pack", "plan").order_by("-created_at", "-id")
    ]
    return _csv_bytes(["time", "kind", "product", "credits", "amount", "currency", "stripe_id"], rows)


def result_entries(user: User) -> tuple[list[dict[str, Any]], list[tuple[str, Any]]]:
    """The jobs' records for ``jobs.json`` and ``[(name in the ZIP, stored
    file)]`` of every result and poster of ``user`` (only assets whose job
    and owner are both the user), named as the library's ZIP names them
    (``generation.archive.entry_name``) under ``results/``."""
    from generation.archive import entry_name
    from generation.models import Job

    records: list[dict[str, Any]] = []
    files: list[tuple[str, Any]] = []
    jobs = Job.objects.filter(user=user).select_related("offer").prefetch_related("assets").order_by("created_at", "pk")
    for job in jobs:
        names = []
        for asset in sorted(job.assets.all(), key=lambda a: a.index):
            if asset.user_id != user.pk:
                continue
            if asset.file:
                name = f"results/{entry_name(job, asset)}"
                files.append((name, asset.file))
                names.append(name)
            if asset.poster:
                stem = PurePosixPath(entry_name(job, asset)).stem
                suffix = PurePosixPath(asset.poster.name or "").suffix.lower() or ".png"
                name = f"results/{stem}-poster{suffix}"
                files.append((name, asset.poster))
                names.append(name)
        records.append(
            {
                "id": job.pk,
                "model": job.offer.name,
                "model_slug": job.offer.slug,
                "service": job.service,
                "status": job.status,
                "params": job.params,
                "price_credits": job.price_credits,
                "charged_credits": job.charged_credits,
                "refunded_credits": job.refunded_credits,
                "error": job.error_message,
                "created_at": job.created_at,
                "finished_at": job.finished_at,
                "files": names,
            }
        )
    return records, files


def export_archive(user: User) -> ZipStream:
    """The whole ZIP of ``user``'s data, to iterate over (bytes as they are
    made); the data files are compressed, the results stored as they are."""
    from generation.archive import field_chunks

    records, files = result_entries(user)
    archive = ZipStream(compress_type=ZIP_STORED)
    archive.add(_json_bytes(profile_data(user)), "profile.json", compress_type=ZIP_DEFLATED)
    archive.add(credit_history_csv(user), "credit-history.csv", compress_type=ZIP_DEFLATED)
    archive.add(payments_csv(user), "payments.csv", compress_type=ZIP_DEFLATED)
    archive.add(_json_bytes(records), "jobs.json", compress_type=ZIP_DEFLATED)
    for name, field in files:
        archive.add(field_chunks(field), name)
    return archive


class _StreamReader(io.RawIOBase):
    """A read-only, non-seekable file over an iterator of bytes (the ZIP
    generator), counting what was read; storages read it chunk by chunk."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self.bytes_read += n
        return n


def export_write(*, user: User, name: str) -> tuple[str, int]:
    """Write ``user``'s ZIP to the default storage as ``name`` (or the name
    the storage picks); returns (stored name, size in bytes). A partly
    written file is deleted when writing fails, and the error re-raised."""
    raw = _StreamReader(iter(export_archive(user)))
    reader = io.BufferedReader(raw, buffer_size=64 * 1024)
    try:
        stored = default_storage.save(name, File(reader, name=name))
    except Exception:
        try:
            default_storage.delete(name)
        except Exception:
            log.warning("could not delete the partial export %s", name, exc_info=True)
        raise
    return stored, raw.bytes_read


def export_build(*, export_id: int) -> DataExport | None:
    """Build a pending export (the Celery task's body): write the ZIP, mark
    it ready with its size and expiry (``MIRSAM_EXPORT_HOURS``), delete the
    user's earlier exports, and e-mail the link, in the user's language.
    A failure marks it failed (the detail in ``error``, for staff). Returns
    the export, or None when it is gone or not pending (run twice, account
    deleted meanwhile: a file written for it is deleted)."""
    from .deletion import storage_files_delete

    export = DataExport.objects.select_related("user").filter(pk=export_id).first()
    if export is None or export.status != DataExport.Status.PENDING or export.user.deleted_at is not None:
        return None
    user = export.user
    name = export.file.field.generate_filename(
        export, f"mirsam-data-{timezone.now():%Y-%m-%d}-{uuid.uuid4().hex[:12]}.zip"
    )
    try:
        with translation.override(user.preferred_language):
            stored, size = export_write(user=user, name=name)
    except Exception as exc:
        log.exception("export %s of user %s failed", export_id, user.pk)
        DataExport.objects.filter(pk=export_id, status=DataExport.Status.PENDING).update(
            status=DataExport.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:255], finished_at=timezone.now()
        )
        return DataExport.objects.filter(pk=export_id).first()
    with transaction.atomic():
        export = DataExport.objects.select_for_update().filter(pk=export_id).first()
        if export is None or export.status != DataExport.Status.PENDING:
            transaction.on_commit(lambda: storage_files_delete(names=[stored]))
            return None
        now = timezone.now()
        export.status = DataExport.Status.READY
        export.file.name = stored
        export.size_bytes = size
        export.finished_at = now
        export.expires_at = now + timedelta(hours=settings.MIRSAM_EXPORT_HOURS)
        export.save(update_fields=["status", "file", "size_bytes", "finished_at", "expires_at"])
        older = DataExport.objects.filter(user=user).exclude(pk=export.pk).exclude(status=DataExport.Status.PENDING)
        names = [n for n in older.values_list("file", flat=True) if n]
        older.delete()
        if names:
            transaction.on_commit(lambda: storage_files_delete(names=names))
        export_mail(export=export)
    log.info("export %s of user %s ready: %d bytes", export.pk, user.pk, size)
    return export


def export_mail(*, export: DataExport) -> None:
    """Queue the "your export is ready" e-mail (``accounts.mail.mail_queue``:
    sent after commit): subject, plain text and HTML, in the owner's
    language, with an absolute link (``MIRSAM_SITE_URL`` and the language's
    prefix) to the download."""
    user = export.user
    with translation.override(user.preferred_language):
        context = {
            "url": settings.MIRSAM_SITE_URL + reverse("data_export_download", args=[export.pk]),
            "settings_url": settings.MIRSAM_SITE_URL + reverse("account_settings") + "#your-data",
            "export": export,
            "hours": settings.MIRSAM_EXPORT_HOURS,
        }
        subject = _("Your Mirsam data export is ready")
        body = render_to_string("accounts/email/export_ready.txt", context)
        html = render_to_string("accounts/email/export_ready.html", context)
    message = EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    message.attach_alternative(html, "text/html")
    mail_queue(message)


def exports_purge(*, now: Any = None) -> int:
    """The beat task's body: delete exports whose link expired, and failed
    ones older than ``MIRSAM_EXPORT_HOURS`` (rows now, files after commit);
    mark pending ones older than :data:`STALE_PENDING` failed. Returns how
    many rows were deleted."""
    from .deletion import storage_files_delete

    now = now or timezone.now()
    with transaction.atomic():
        DataExport.objects.filter(status=DataExport.Status.PENDING, created_at__lt=now - STALE_PENDING).update(
            status=DataExport.Status.FAILED, error="stale: the build never finished", finished_at=now
        )
        doomed = DataExport.objects.filter(expires_at__lte=now) | DataExport.objects.filter(
            status=DataExport.Status.FAILED, created_at__lt=now - timedelta(hours=settings.MIRSAM_EXPORT_HOURS)
        )
        names = [n for n in doomed.values_list("file", flat=True) if n]
        count = doomed.delete()[1].get(DataExport._meta.label, 0)
        if names:
            transaction.on_commit(lambda: storage_files_delete(names=names))
    if count:
        log.info("deleted %d expired data exports (%d files)", count, len(names))
    return count
