"""Staff actions on a job (the admin's refund and retry), each recorded in
the audit list (``accounts.StaffAction``) in the same transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import StaffAction
from accounts.services import staff_action_record
from credits.models import EntryKind
from credits.services import credits_grant

from ..errors import GenerationError
from ..models import UNFINISHED_TASK_STATUSES, Job
from .pipeline import CANCELED_CODE, job_try_finish, task_finish_failed
from .submit import job_regenerate

if TYPE_CHECKING:
    from accounts.models import User


def job_refund(*, job: Job, actor: User, reason: str) -> Job:
    """Staff give a job's credits back, recorded in the audit list.

    A running job is canceled and its hold released; a finished job that was
    charged gets its charged credits back (ledger kind ``job_refund``, keyed
    on the job, with the actor). Raises :class:`GenerationError` without a
    reason, when nothing was charged, or when it was refunded already — a
    refund never applies twice.
    """
    if not reason.strip():
        raise GenerationError(_("A refund needs a reason."), code="reason")
    with transaction.atomic():
        job = Job.objects.select_for_update().select_related("user").get(pk=job.pk)
        if not job.is_final:
            message = _("Canceled by Mirsam staff: %(reason)s") % {"reason": reason}
            for task in job.tasks.filter(status__in=UNFINISHED_TASK_STATUSES):
                task_finish_failed(task_pk=task.pk, code=CANCELED_CODE, message=message)
            job = job_try_finish(job_id=job.pk)
            staff_action_record(
                actor=actor,
                kind=StaffAction.Kind.JOB_REFUND,
                user=job.user,
                credits=0,
                reason=reason,
                reference=f"job:{job.pk} canceled, hold released",
            )
            return job
        due = job.charged_credits - job.refunded_credits
        if job.refunded_credits:
            raise GenerationError(_("This job was refunded already."), code="refunded")
        if due <= 0:
            raise GenerationError(_("Nothing to refund: this job charged no credits."), code="nothing_charged")
        credits_grant(
            user=job.user,
            amount=due,
            idempotency_key=f"job-refund:{job.pk}",
            kind=EntryKind.JOB_REFUND,
            reason=reason,
            reference=f"job:{job.pk}",
            actor=actor,
        )
        job.refunded_credits = due
        job.save(update_fields=["refunded_credits"])
        staff_action_record(
            actor=actor,
            kind=StaffAction.Kind.JOB_REFUND,
            user=job.user,
            credits=due,
            reason=reason,
            reference=f"job:{job.pk}",
        )
        return job


def job_retry(*, job: Job, actor: User) -> Job:
    """Staff run a job again for its owner: a new job with the same settings,
    priced and held from the owner's credits like any other, recorded in the
    audit list. Raises what :func:`job_regenerate` raises."""
    with transaction.atomic():
        new = job_regenerate(job=job)
        staff_action_record(
            actor=actor,
            kind=StaffAction.Kind.JOB_RETRY,
            user=job.user,
            credits=0,
            reason=_("Retry of job %(id)s") % {"id": job.pk},
            reference=f"job:{new.pk}",
        )
    return new
