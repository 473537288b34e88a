"""How the ledger entries of a job read on the credit history (registered
with ``credits.describe`` for references "job:<id>"): what the job was for,
in the page's language, e.g. "Image · Nano Banana · 4 images", "Returned:
2 images not delivered"."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from credits.models import EntryKind, LedgerEntry
from providers.models import Service

from .models import JOB_HOLD_PREFIX, Job


def _count(job: Job, n: int) -> str:
    """``n`` outputs of ``job``, as a creator counts them."""
    if job.service == Service.VIDEO:
        return ngettext("%(n)d video", "%(n)d videos", n) % {"n": n}
    if job.service == Service.AVATAR:
        return ngettext("%(n)d portrait", "%(n)d portraits", n) % {"n": n}
    if job.service == Service.AUDIO:
        if job.offer.audio_kind == "music":
            return ngettext("%(n)d request of two tracks", "%(n)d requests of two tracks", n) % {"n": n}
        return ngettext("%(n)d sound", "%(n)d sounds", n) % {"n": n}
    return ngettext("%(n)d image", "%(n)d images", n) % {"n": n}


def job_line(job: Job) -> str:
    """ "Image · Nano Banana · 4 images": the service, the model and what was asked."""
    return " · ".join([str(Service(job.service).label), job.offer.name, _count(job, job.outputs)])


def _not_delivered(job: Job) -> int:
    per_output = job.price_credits // max(1, job.outputs)
    delivered = job.charged_credits // per_output if per_output else 0
    return max(0, job.outputs - delivered) if job.is_final else 0


def job_entries_describe(entries: list[LedgerEntry]) -> dict[int, str]:
    """``{entry id: text}`` for entries of jobs (one query for all of them):
    the job's line for its hold and charge; for a release, what was not
    delivered; for a staff refund, that it was refunded."""
    ids = {}
    for entry in entries:
        raw = entry.reference.removeprefix(JOB_HOLD_PREFIX)
        if raw.isdigit():
            ids[entry.pk] = int(raw)
    jobs = Job.objects.select_related("offer").in_bulk(set(ids.values()))
    texts = {}
    for entry in entries:
        job = jobs.get(ids.get(entry.pk, 0))
        if job is None:
            continue
        line = job_line(job)
        if entry.kind == EntryKind.RELEASE:
            missing = _not_delivered(job)
            texts[entry.pk] = (
                _("Returned: %(what)s not delivered") % {"what": _count(job, missing)}
                if missing
                else _("Returned: what was held but not charged · %(line)s") % {"line": line}
            )
        elif entry.kind == EntryKind.JOB_REFUND:
            texts[entry.pk] = _("Refunded by our team · %(line)s") % {"line": line}
        else:
            texts[entry.pk] = line
    return texts
