"""What ``check_ledger`` also verifies about generation's holds
(credits.selectors.ledger_problems reads this module's ``problems``): a job
never ends with its hold open, and no open hold outlives its job."""

from __future__ import annotations

from credits.models import Hold, HoldStatus

from .models import FINAL_JOB_STATUSES, JOB_HOLD_PREFIX


def problems() -> list[str]:
    """One line per open job hold whose job is final or gone."""
    lines = []
    open_holds = Hold.objects.filter(status=HoldStatus.OPEN, reference__startswith=JOB_HOLD_PREFIX)
    for hold in open_holds.filter(job__isnull=True):
        lines.append(
            f"OPEN HOLD hold={hold.pk} {hold.reference}: the job no longer exists ({hold.amount} credits held)"
        )
    for hold in open_holds.filter(job__status__in=FINAL_JOB_STATUSES).select_related("job"):
        lines.append(f"OPEN HOLD hold={hold.pk} {hold.reference}: the job is {hold.job.status} ({hold.amount} held)")
    return lines
