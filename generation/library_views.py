"""My creations as a library: search and filters, favourites, projects with
budgets, and bulk actions on a selection (delete, move, download as a ZIP).

Views stay thin, as in ``generation.views``: the reader's own rows or 404,
one service, a page, a partial for htmx, or a redirect back.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import AuthedRequest
from config.pagecache import cached_page

from . import archive, selectors, services
from .errors import GenerationError
from .forms import LibraryFilterForm, ProjectForm
from .models import Job, Project
from .versions import STUDIO

#: Titles the bulk delete confirmation lists before "and N more".
CONFIRM_LIST = 20


def _safe(request: AuthedRequest, target: str) -> str:
    """``target`` if it is a URL of this site, else ""."""
    ours = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and ours else ""


def _back(request: AuthedRequest) -> HttpResponseBase:
    """Back to where the form was (``next``, else the referring page) when it
    is one of ours; My creations otherwise."""
    for target in (request.POST.get("next", ""), request.headers.get("Referer", "")):
        if _safe(request, target):
            return redirect(target)
    return redirect(reverse("creations"))


@login_required
@require_GET
@cached_page(STUDIO)
def creations(request: AuthedRequest) -> HttpResponse:
    """My creations: search (``q``), filters (``service``, ``offer``,
    ``status``, ``date_from``, ``date_to``, ``favourites``, ``project``),
    newest first, paginated, each project's budget state."""
    budgets = selectors.project_budgets(user=request.user)
    form = LibraryFilterForm(request.GET, offers=selectors.library_offers(), projects=[b.project for b in budgets])
    form.is_valid()
    filters = form.filters()
    jobs = selectors.library_jobs(user=request.user, filters=filters)
    page = Paginator(jobs, settings.MIRSAM_CREATIONS_PER_PAGE).get_page(request.GET.get("page"))
    kept = request.GET.copy()
    kept.pop("page", None)
    for key in [k for k, v in kept.items() if not v]:
        kept.pop(key)
    current = next((b for b in budgets if b.project.pk == filters.project), None)
    return render(
        request,
        "generation/creations.html",
        {
            "page": page,
            "form": form,
            "filters": filters,
            "query": f"&{kept.urlencode()}" if kept else "",
            "budgets": budgets,
            "current_budget": current,
            "warnings": [b for b in budgets if b.warn],
            "bulk_max": settings.MIRSAM_LIBRARY_BULK_MAX,
            "page_path": request.get_full_path(),
        },
    )


@login_required
@require_POST
def job_favourite(request: AuthedRequest, job_id: int) -> HttpResponseBase:
    """Star or unstar a job (``favourite`` = "1" / "0"; flips without it).
    htmx gets the new button; a plain form goes back to its page."""
    job = get_object_or_404(Job.objects.select_related("offer"), pk=job_id, user=request.user)
    wanted = request.POST.get("favourite")
    job = services.job_favourite_set(job=job, favourite=None if wanted not in ("0", "1") else wanted == "1")
    if request.htmx:
        return render(request, "generation/partials/favourite_button.html", {"job": job})
    return _back(request)


def _selected_ids(request: AuthedRequest) -> list[int]:
    """The job ids a bulk form sends: every tile of the page with "select
    all on this page" (works without JavaScript), else the ticked ones."""
    if request.POST.get("all_on_page"):
        return services.bulk_ids(request.POST.getlist("page_job"))
    return services.bulk_ids(request.POST.getlist("job"))


@login_required
@require_POST
def creations_bulk(request: AuthedRequest) -> HttpResponseBase:
    """A bulk action on the selected jobs (``action``): ``zip`` streams their
    results as one ZIP, ``move`` files them in ``target`` (a project id, or
    empty for none), ``delete`` asks for confirmation, then (``confirm``)
    deletes the finished ones. Ids that are not the reader's are ignored;
    more than ``MIRSAM_LIBRARY_BULK_MAX`` are refused with a message."""
    try:
        ids = _selected_ids(request)
    except GenerationError as exc:
        messages.error(request, str(exc.message))
        return _back(request)
    action = request.POST.get("action", "")
    if not ids:
        messages.error(request, _("Select at least one creation first."))
        return _back(request)
    if action == "zip":
        return _zip(request, ids)
    if action == "move":
        return _move(request, ids)
    if action == "delete":
        return _delete(request, ids)
    messages.error(request, _("Choose what to do with the selection."))
    return _back(request)


def _zip(request: AuthedRequest, ids: list[int]) -> HttpResponseBase:
    entries = archive.zip_entries(selectors.jobs_by_ids(user=request.user, ids=ids))
    if not entries:
        messages.error(request, _("None of the selected creations has a finished result to download."))
        return _back(request)
    response = StreamingHttpResponse(archive.zip_stream(entries), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{archive.zip_filename()}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _move(request: AuthedRequest, ids: list[int]) -> HttpResponseBase:
    target = request.POST.get("target", "")
    project = get_object_or_404(Project, pk=target, user=request.user) if target.isdigit() else None
    moved = services.jobs_move(user=request.user, ids=ids, project=project)
    if project is None:
        message = ngettext(
            "%(count)d creation is now in no project.", "%(count)d creations are now in no project.", moved
        ) % {"count": moved}
    else:
        message = ngettext(
            "%(count)d creation moved to “%(project)s”.", "%(count)d creations moved to “%(project)s”.", moved
        ) % {"count": moved, "project": project.name}
    messages.success(request, message)
    return _back(request)


def _delete(request: AuthedRequest, ids: list[int]) -> HttpResponseBase:
    if not request.POST.get("confirm"):
        jobs = list(selectors.jobs_by_ids(user=request.user, ids=ids))
        if not jobs:
            messages.error(request, _("Select at least one creation first."))
            return _back(request)
        context: dict[str, Any] = {
            "jobs": jobs[:CONFIRM_LIST],
            "more": max(0, len(jobs) - CONFIRM_LIST),
            "count": len(jobs),
            "running": sum(1 for j in jobs if not j.is_final),
            "ids": [j.pk for j in jobs],
            "next": _safe(request, request.POST.get("next", "")),
        }
        return render(request, "generation/creations_confirm_delete.html", context)
    deleted, kept = services.jobs_delete(user=request.user, ids=ids)
    if deleted:
        messages.success(
            request,
            ngettext("%(count)d creation was deleted.", "%(count)d creations were deleted.", deleted)
            % {"count": deleted},
        )
    if kept:
        messages.error(
            request,
            ngettext(
                "%(count)d creation was kept: it is still running or a running job uses it.",
                "%(count)d creations were kept: they are still running or a running job uses them.",
                kept,
            )
            % {"count": kept},
        )
    return _back(request)


# --- projects -----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def projects(request: AuthedRequest) -> HttpResponse:
    """The reader's projects with their budget state; POST creates one."""
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(
                user=request.user, name=form.cleaned_data["name"], budget_credits=form.cleaned_data["budget_credits"]
            )
        except GenerationError as exc:
            form.add_error(None, str(exc.message))
        else:
            messages.success(request, _("The project “%(name)s” was created.") % {"name": project.name})
            return redirect("projects")
    return render(
        request,
        "generation/projects.html",
        {"form": form, "budgets": selectors.project_budgets(user=request.user)},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def project_edit(request: AuthedRequest, project_id: int) -> HttpResponseBase:
    """Rename a project or change its budget (empty: no budget)."""
    project = get_object_or_404(Project, pk=project_id, user=request.user)
    form = ProjectForm(request.POST)
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        messages.error(request, str(first))
        return redirect("projects")
    try:
        services.project_update(
            project=project, name=form.cleaned_data["name"], budget_credits=form.cleaned_data["budget_credits"]
        )
    except GenerationError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The project “%(name)s” was saved.") % {"name": project.name})
    return redirect("projects")


@login_required
@require_http_methods(["GET", "POST"])
def project_delete(request: AuthedRequest, project_id: int) -> HttpResponseBase:
    """GET asks for confirmation; POST deletes the project (its jobs stay, unfiled)."""
    project = get_object_or_404(Project, pk=project_id, user=request.user)
    if request.method == "GET":
        return render(
            request, "generation/project_confirm_delete.html", {"project": project, "jobs": project.jobs.count()}
        )
    name = project.name
    services.project_delete(project=project)
    messages.success(
        request, _("The project “%(name)s” was deleted; its creations stay in My creations.") % {"name": name}
    )
    return redirect("projects")
