"""Pages of the studio: dashboard, Image, job cards, My creations, files.

Views stay thin: get the object for this user (or 404), call one service,
render a page or, for htmx, a partial.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import FileSystemStorage
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from credits.services import InsufficientCredits, wallet_for
from providers.models import Service

from . import selectors, services
from .forms import ImageJobForm
from .models import Asset, Job, JobStatus

RECENT_JOBS = 6


def _get_job_for_user(request: HttpRequest, job_id: int) -> Job:
    """The job if it belongs to the signed-in user; 404 otherwise (never 403,
    so an outsider cannot tell a job exists)."""
    return get_object_or_404(Job.objects.select_related("offer"), pk=job_id, user=request.user)


def _image_context(request: HttpRequest, form: ImageJobForm, offers: list) -> dict:  # noqa: ANN001
    offer = form.selected_offer(offers)
    outputs = form.data.get("outputs") if form.is_bound else None
    try:
        outputs = int(outputs or 1)
    except ValueError:
        outputs = 1
    if offer is not None:
        outputs = max(1, min(outputs, offer.max_outputs))
    price = offer.price_for(outputs=outputs) if offer else 0
    wallet = wallet_for(request.user)
    return {
        "form": form,
        "offers": offers,
        "offer": offer,
        "price": price,
        "wallet": wallet,
        "can_afford": wallet.available >= price,
    }


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "generation/dashboard.html",
        {"jobs": selectors.jobs_for_user(user=request.user)[:RECENT_JOBS], "wallet": wallet_for(request.user)},
    )


@login_required
@require_GET
def image_page(request: HttpRequest) -> HttpResponse:
    offers = services.offers_available(service=Service.IMAGE)
    form = ImageJobForm(offers=offers)
    context = _image_context(request, form, offers)
    context["jobs"] = selectors.jobs_for_user(user=request.user, service=Service.IMAGE)[:RECENT_JOBS]
    return render(request, "generation/image.html", context)


@login_required
@require_GET
def image_options(request: HttpRequest) -> HttpResponse:
    """The model-dependent options and the live price, for htmx."""
    offers = services.offers_available(service=Service.IMAGE)
    form = ImageJobForm.for_options(request.GET, offers=offers)
    return render(request, "generation/partials/image_options.html", _image_context(request, form, offers))


def _form_error(request: HttpRequest, message: str, *, short: bool = False) -> HttpResponse:
    if request.htmx:
        response = render(request, "generation/partials/form_error.html", {"message": message, "short": short})
        response["HX-Retarget"] = "#form-errors"
        response["HX-Reswap"] = "innerHTML"
        return response
    messages.error(request, message)
    return redirect("image")


@login_required
@require_POST
def job_create(request: HttpRequest) -> HttpResponse:
    """Generate: validate, hold and queue through ``job_submit``."""
    offers = services.offers_available(service=Service.IMAGE)
    form = ImageJobForm(request.POST, offers=offers)
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        return _form_error(request, first)
    try:
        job = services.job_submit(
            user=request.user,
            offer=form.cleaned_data["offer"],
            params={
                "prompt": form.cleaned_data["prompt"],
                "aspect_ratio": form.cleaned_data["aspect_ratio"],
                "outputs": form.cleaned_data["outputs"],
            },
        )
    except InsufficientCredits as exc:
        return _form_error(request, exc.message, short=True)
    except services.GenerationError as exc:
        return _form_error(request, str(exc.message))
    if not request.htmx:
        return redirect("job_detail", job_id=job.pk)
    response = render(request, "generation/partials/job_created.html", {"job": job})
    return trigger_client_event(response, "balanceChanged")


@login_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _get_job_for_user(request, job_id)
    return render(request, "generation/job_detail.html", {"job": job})


@login_required
@require_GET
def job_card(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job card; it polls itself until the job is final, then tells the
    page to refresh the balance."""
    job = _get_job_for_user(request, job_id)
    response = render(request, "generation/partials/job_card.html", {"job": job})
    if job.is_final:
        trigger_client_event(response, "balanceChanged")
    return response


@login_required
@require_POST
def job_regenerate(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _get_job_for_user(request, job_id)
    try:
        new_job = services.job_regenerate(job=job)
    except InsufficientCredits as exc:
        messages.error(request, exc.message)
        target = reverse("job_detail", args=[job.pk])
        return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    except services.GenerationError as exc:
        messages.error(request, str(exc.message))
        target = reverse("job_detail", args=[job.pk])
        return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    target = reverse("job_detail", args=[new_job.pk])
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@login_required
@require_http_methods(["GET", "POST"])
def job_delete(request: HttpRequest, job_id: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes the job and its files."""
    job = _get_job_for_user(request, job_id)
    if request.method == "GET":
        return render(request, "generation/job_confirm_delete.html", {"job": job})
    try:
        services.job_delete(job=job)
    except services.GenerationError as exc:
        messages.error(request, str(exc.message))
        return redirect("job_detail", job_id=job.pk)
    messages.success(request, _("The creation was deleted."))
    return redirect("creations")


@login_required
@require_GET
def creations(request: HttpRequest) -> HttpResponse:
    """My creations: newest first, filter by service and status, paginated."""
    service = request.GET.get("service", "")
    status = request.GET.get("status", "")
    if service not in Service.values:
        service = ""
    if status not in JobStatus.values:
        status = ""
    jobs = selectors.jobs_for_user(user=request.user, service=service or None, status=status or None)
    page = Paginator(jobs, settings.MIRSAM_CREATIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "generation/creations.html",
        {
            "page": page,
            "service": service,
            "status": status,
            "services": Service.choices,
            "statuses": JobStatus.choices,
        },
    )


@login_required
@require_GET
def asset_file(request: HttpRequest, asset_id: int) -> HttpResponse:
    """A file, to its owner only (others get 404). ``?download=1`` makes it an
    attachment. On S3 this redirects to a short-lived signed URL."""
    asset = get_object_or_404(Asset, pk=asset_id, user=request.user)
    download = bool(request.GET.get("download"))
    if not isinstance(asset.file.storage, FileSystemStorage):
        return HttpResponseRedirect(asset.file.url)
    response = FileResponse(
        asset.file.open("rb"), content_type=asset.content_type, as_attachment=download, filename=asset.download_name
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def service_soon(request: HttpRequest, service: str) -> HttpResponse:
    return render(request, "generation/soon.html", {"service": Service(service)})
