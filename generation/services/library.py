"""My creations as a library: projects (folders with an optional budget in
credits), favourites, and the bulk actions on a selection of jobs (move,
delete; the ZIP download is a read, ``generation.archive``).

Every write here goes through a :class:`config.pagecache.Stamped` model's
``save()`` or ``update()``, so the kept library and studio pages change with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..errors import GenerationError
from ..models import Job, Project
from ..selectors import project_spent
from .housekeeping import job_delete

if TYPE_CHECKING:
    from accounts.models import User

NAME_MAX = Project._meta.get_field("name").max_length or 80


def _clean(name: str, budget_credits: int | None) -> tuple[str, int | None]:
    name = " ".join(str(name or "").split())
    if not name:
        raise GenerationError(_("Give the project a name."), code="project")
    if len(name) > NAME_MAX:
        raise GenerationError(_("A project name is at most %(max)d characters.") % {"max": NAME_MAX}, code="project")
    if budget_credits is not None and budget_credits < 1:
        raise GenerationError(_("A budget is a whole number of credits, 1 or more."), code="project")
    return name, budget_credits


def project_create(*, user: User, name: str, budget_credits: int | None = None) -> Project:
    """A new project of ``user`` named ``name`` (spaces collapsed, 1–80
    characters) with an optional budget (whole credits ≥ 1). Raises
    :class:`GenerationError` (code ``project``) for a bad name or budget."""
    name, budget_credits = _clean(name, budget_credits)
    return Project.objects.create(user=user, name=name, budget_credits=budget_credits)


def project_update(*, project: Project, name: str, budget_credits: int | None) -> Project:
    """Rename ``project`` and set (or, with None, remove) its budget; checked
    as for :func:`project_create`. A budget below what is already spent is
    allowed: the project is then full and takes no new job."""
    project.name, project.budget_credits = _clean(name, budget_credits)
    project.save(update_fields=["name", "budget_credits"])
    return project


def project_delete(*, project: Project) -> int:
    """Delete ``project``; its jobs stay, in no project. Returns how many
    jobs were unfiled. The jobs are unfiled with a stamped ``update()``
    first (the database's own SET NULL would not move their stamps, and kept
    pages would go on showing them filed)."""
    with transaction.atomic():
        moved = Job.objects.filter(project=project).update(project=None)
        project.delete()
    return moved


def project_for_job(*, user: User, project: Project, amount: int) -> Project:
    """Lock ``project`` for a new job of ``user`` costing ``amount`` credits
    and check it may take it. Call inside the job's transaction, before the
    hold: the row lock makes two jobs filed at once counted one after the
    other (lock order: project → wallet → hold). Raises
    :class:`GenerationError` — ``not_found`` when the project is not the
    user's (a view answers 404), ``over_budget`` when its jobs' spend plus
    ``amount`` would pass its budget."""
    locked = Project.objects.select_for_update().filter(pk=project.pk, user=user).first()
    if locked is None:
        raise GenerationError(_("That project was not found."), code="not_found")
    if locked.budget_credits is not None:
        spent = project_spent(project=locked)
        if spent + amount > locked.budget_credits:
            raise GenerationError(
                _(
                    "This would take the project “%(name)s” over its budget: %(spent)d of %(budget)d credits "
                    "are used and this costs %(price)d. Raise the budget or choose another project."
                )
                % {"name": locked.name, "spent": spent, "budget": locked.budget_credits, "price": amount},
                code="over_budget",
            )
    return locked


def job_favourite_set(*, job: Job, favourite: bool | None = None) -> Job:
    """Mark ``job`` a favourite (``True``), not (``False``) or flip it
    (``None``); returns the job as stored. The write moves the job's stamp,
    so its tile and the kept pages showing it change."""
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        value = (not locked.favourite) if favourite is None else favourite
        if value != locked.favourite:
            locked.favourite = value
            locked.save(update_fields=["favourite"])
    job.favourite, job.updated_at = locked.favourite, locked.updated_at
    return job


def bulk_ids(raw: Iterable[object]) -> list[int]:
    """Job ids as a form sends them, as numbers, once each, in order;
    anything not a positive number is dropped. Raises
    :class:`GenerationError` (``too_many``) past ``MIRSAM_LIBRARY_BULK_MAX``."""
    ids: dict[int, None] = {}
    for value in raw:
        text = str(value).strip()
        if text.isdigit() and int(text) > 0:
            ids[int(text)] = None
    limit = settings.MIRSAM_LIBRARY_BULK_MAX
    if len(ids) > limit:
        raise GenerationError(
            ngettext(
                "Select at most %(max)d creation at once (you selected %(count)d).",
                "Select at most %(max)d creations at once (you selected %(count)d).",
                limit,
            )
            % {"max": limit, "count": len(ids)},
            code="too_many",
        )
    return list(ids)


def jobs_move(*, user: User, ids: list[int], project: Project | None) -> int:
    """File ``user``'s jobs among ``ids`` in ``project`` (None: in none);
    ids of other users' jobs are ignored. Returns how many jobs were
    updated. Raises :class:`GenerationError` (``not_found``) when ``project``
    is not the user's. Moving does not check the budget (the jobs are paid
    for already): a project moved past it shows as full."""
    if project is not None and project.user_id != user.pk:
        raise GenerationError(_("That project was not found."), code="not_found")
    return Job.objects.filter(user=user, pk__in=ids).update(project=project)


def jobs_delete(*, user: User, ids: list[int]) -> tuple[int, int]:
    """Delete ``user``'s finished jobs among ``ids`` and their files, one by
    one through :func:`job_delete`; others' ids are ignored, and a job that
    cannot be deleted (still running, or its result in use) is kept.
    Returns ``(deleted, kept)``."""
    deleted = kept = 0
    for job in Job.objects.filter(user=user, pk__in=ids).select_related("offer"):
        try:
            job_delete(job=job)
        except GenerationError:
            kept += 1
        else:
            deleted += 1
    return deleted, kept
