"""Pages of the studio: dashboard, Image, job cards, My creations, files.

Views stay thin: get the object for this user (or 404), call one service,
render a page or, for htmx, a partial.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import FileSystemStorage
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import condition, require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from credits.services import InsufficientCredits, wallet_for
from providers.models import Service

from . import consent, fragments, pages, selectors, services
from .forms import AvatarForm, JobForm
from .limits import limit_generate
from .models import Asset, Job, JobStatus, Upload
from .uploads import UploadRejected, describe_limits, limits_from_settings

RECENT_JOBS = 6


def _get_job_for_user(request: HttpRequest, job_id: int) -> Job:
    """The job if it belongs to the signed-in user; 404 otherwise (never 403,
    so an outsider cannot tell a job exists)."""
    return get_object_or_404(Job.objects.select_related("offer"), pk=job_id, user=request.user)


def _studio_copy(service: str) -> dict[str, str]:
    if service == Service.VIDEO:
        return {
            "title": _("Video"),
            "heading": _("Create a video"),
            "feed": _("Your latest videos"),
            "empty": _("Your videos will appear here"),
            "no_models": _("No video model is available right now"),
            "placeholder": _("Describe the scene and the motion you want…"),
            "charged": _("You are charged only for videos that are delivered."),
        }
    return {
        "title": _("Image"),
        "heading": _("Create an image"),
        "feed": _("Your latest images"),
        "empty": _("Your images will appear here"),
        "no_models": _("No image model is available right now"),
        "placeholder": _("Describe the image you want…"),
        "charged": _("You are charged only for images that are delivered."),
    }


def _studio_context(request: HttpRequest, form: JobForm, offers: list, service: str) -> dict:  # noqa: ANN001
    offer = form.selected_offer(offers)
    try:
        outputs = int((form.data.get("outputs") if form.is_bound else None) or 1)
    except ValueError:
        outputs = 1
    params = form.selected_params()
    if offer is not None:
        outputs = max(1, min(outputs, offer.max_outputs))
    price = offer.price_for(outputs=outputs, params=params) if offer else 0
    wallet = wallet_for(request.user)
    return {
        "service": service,
        "copy": _studio_copy(service),
        "options_url": reverse("studio_options", kwargs={"service": service}),
        "form": form,
        "offers": offers,
        "offer": offer,
        "price": price,
        "unit_price": offer.unit_price(params) if offer else 0,
        "wallet": wallet,
        "can_afford": wallet.available >= price,
        "limits_text": _limits_text(),
    }


def _limits_text() -> str:
    limits = describe_limits(limits_from_settings())
    return (
        _(
            "JPEG, PNG or WebP; up to %(max_mb)s MB and %(max_megapixels)s megapixels; "
            "at least %(min_side_px)s px on each side."
        )
        % limits
    )


STUDIO_SERVICES = (Service.IMAGE, Service.VIDEO)


@login_required
@pages.cached_page
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "generation/dashboard.html",
        {"jobs": selectors.jobs_for_user(user=request.user)[:RECENT_JOBS], "wallet": wallet_for(request.user)},
    )


@login_required
@require_GET
@pages.cached_page
def studio_page(request: HttpRequest, service: str) -> HttpResponse:
    """The Image and Video pages: the form and the latest jobs of the service."""
    offers = services.offers_available(service=service)
    form = JobForm(offers=offers, service=service)
    context = _studio_context(request, form, offers, service)
    context["jobs"] = selectors.jobs_for_user(user=request.user, service=service)[:RECENT_JOBS]
    return render(request, "generation/studio.html", context)


@login_required
@require_GET
def studio_options(request: HttpRequest, service: str) -> HttpResponse:
    """The model-dependent options and the live price, for htmx."""
    if service not in STUDIO_SERVICES:
        raise Http404
    offers = services.offers_available(service=service)
    form = JobForm.for_options(request.GET, offers=offers, service=service)
    return render(request, "generation/partials/options.html", _studio_context(request, form, offers, service))


def _form_error(request: HttpRequest, message: str, *, short: bool = False, page: str = "image") -> HttpResponse:
    if request.htmx:
        response = render(request, "generation/partials/form_error.html", {"message": message, "short": short})
        response["HX-Retarget"] = "#form-errors"
        response["HX-Reswap"] = "innerHTML"
        return response
    messages.error(request, message)
    return redirect(page)


def _too_fast(request: HttpRequest, *, page: str) -> HttpResponse:
    """Generate over ``MIRSAM_RATE_GENERATE``: nothing is stored or held.

    htmx gets the message in ``#form-errors`` with a 200, like every other
    form error: htmx does not swap a 4xx, and configuring it to would change
    how every htmx request in the studio treats errors. Without htmx the
    answer is a real 429 page carrying the same message."""
    message = _("You are generating too fast. Please wait a minute, then try again.")
    if request.htmx:
        return _form_error(request, message, page=page)
    return render(request, "429.html", {"message": message}, status=429)


def _store_uploads(request: HttpRequest, files: list, *, consent_version: str | None = None) -> list[Upload]:  # noqa: ANN001
    """Check and store the files, all or none (a refused one deletes the rest)."""
    uploads: list[Upload] = []
    try:
        for f in files:
            uploads.append(services.upload_create(user=request.user, file=f, consent_version=consent_version))
    except UploadRejected:
        _discard(uploads)
        raise
    return uploads


def _discard(uploads: list[Upload]) -> None:
    # A job that was refused must not leave the user's photos behind.
    for upload in uploads:
        services.upload_delete(upload=upload)


def _submit(request: HttpRequest, page: str, submit) -> HttpResponse:  # noqa: ANN001
    """Run ``submit()`` and answer with the new job card or a clear error."""
    try:
        job = submit()
    except InsufficientCredits as exc:
        return _form_error(request, exc.message, short=True, page=page)
    except (services.GenerationError, UploadRejected) as exc:
        return _form_error(request, str(exc.message), page=page)
    if not request.htmx:
        return redirect("job_detail", job_id=job.pk)
    response = render(request, "generation/partials/job_created.html", {"job": job})
    return trigger_client_event(response, "balanceChanged")


@login_required
@require_POST
@limit_generate
def job_create(request: HttpRequest) -> HttpResponse:
    """Generate (Image and Video): validate, hold and queue through ``job_submit``."""
    service = request.POST.get("service", Service.IMAGE)
    if service not in STUDIO_SERVICES:
        service = Service.IMAGE
    if request.limited:
        return _too_fast(request, page=service)
    offers = services.offers_available(service=service)
    form = JobForm(request.POST, offers=offers, service=service)
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        return _form_error(request, first, page=service)
    files = [request.FILES[n] for n in ("first_frame", "last_frame") if n in request.FILES and service == "video"]

    def submit() -> Job:
        uploads = _store_uploads(request, files)
        try:
            return services.job_submit(
                user=request.user, offer=form.cleaned_data["offer"], params=form.job_params(), uploads=uploads
            )
        except Exception:
            _discard(uploads)
            raise

    return _submit(request, service, submit)


@login_required
@pages.cached_page(uploads=True)
def avatar_page(request: HttpRequest) -> HttpResponse:
    offers = services.offers_available(service=Service.AVATAR)
    form = AvatarForm(offers=offers)
    return render(request, "generation/avatar.html", _avatar_context(request, form, offers))


def _avatar_context(request: HttpRequest, form: AvatarForm, offers: list) -> dict:  # noqa: ANN001
    offer = offers[0] if offers else None
    if form.is_bound:
        offer = next((o for o in offers if str(o.pk) == str(form.data.get("offer"))), offer)
    return {
        "form": form,
        "offers": offers,
        "offer": offer,
        "wallet": wallet_for(request.user),
        "limits_text": _limits_text(),
        "consent_text": consent.current_wording(),
        "consent_version": consent.CURRENT_VERSION,
        "jobs": selectors.jobs_for_user(user=request.user, service=Service.AVATAR)[:RECENT_JOBS],
        "uploads": request.user.uploads.all()[:24],
    }


@login_required
@require_POST
@limit_generate
def avatar_create(request: HttpRequest) -> HttpResponse:
    """Portraits from the user's photos: consent, checks, style, variants."""
    if request.limited:
        return _too_fast(request, page="avatar")
    offers = services.offers_available(service=Service.AVATAR)
    form = AvatarForm(request.POST, offers=offers)
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        return _form_error(request, first, page="avatar")
    if request.POST.get("consent_version") != consent.CURRENT_VERSION:
        return _form_error(
            request, _("The consent wording has changed; please read it and confirm again."), page="avatar"
        )
    files = request.FILES.getlist("photos")
    if not files:
        return _form_error(request, _("Add at least one photo."), page="avatar")
    offer, preset = form.cleaned_data["offer"], form.cleaned_data["preset"]
    low, high = offer.input_limits
    if len(files) > high:
        return _form_error(request, _("This model takes at most %(max)d photos.") % {"max": high}, page="avatar")

    def submit() -> Job:
        uploads = _store_uploads(request, files, consent_version=consent.CURRENT_VERSION)
        try:
            return services.job_submit(
                user=request.user,
                offer=offer,
                params={"prompt": preset.prompt(form.cleaned_data["details"]), "outputs": form.cleaned_data["outputs"]},
                uploads=uploads,
                extra={"preset": preset.slug, "style": preset.demo_style, "details": form.cleaned_data["details"]},
            )
        except Exception:
            _discard(uploads)
            raise

    return _submit(request, "avatar", submit)


@login_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _get_job_for_user(request, job_id)
    return render(request, "generation/job_detail.html", {"job": job})


@login_required
@require_GET
@cache_control(private=True, no_cache=True)
@condition(etag_func=fragments.card_etag)
def job_card(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job card; it polls itself until the job is final, then tells the
    page to refresh the balance. Answered "304 Not Modified" to a browser
    whose copy is still right (``fragments.card_etag``): the browser keeps
    the copy (``no-cache``: always asking first) and htmx swaps it in."""
    job = _get_job_for_user(request, job_id)
    card = fragments.job_fragment(request, fragments.CARD, job, on_detail=bool(request.GET.get("detail")))
    response = HttpResponse(card)
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
@pages.cached_page
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
@require_POST
def job_extend(request: HttpRequest, job_id: int) -> HttpResponse:
    """Continue a finished video with a new prompt: a new job, held and priced."""
    job = _get_job_for_user(request, job_id)
    prompt = request.POST.get("prompt", "")
    try:
        new_job = services.job_extend(job=job, prompt=prompt)
    except InsufficientCredits as exc:
        messages.error(request, exc.message)
        new_job = None
    except services.GenerationError as exc:
        messages.error(request, str(exc.message))
        new_job = None
    target = reverse("job_detail", args=[(new_job or job).pk])
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _serve(request: HttpRequest, field, content_type: str, filename: str) -> HttpResponse:  # noqa: ANN001
    """A stored file to its owner: a signed redirect on S3; locally a stream
    that honours a single HTTP ``Range`` (browsers seek videos with it)."""
    download = bool(request.GET.get("download"))
    if not isinstance(field.storage, FileSystemStorage):
        # S3: a short-lived signed URL; a download asks S3 to send it as an attachment.
        params = {"ResponseContentDisposition": f'attachment; filename="{filename}"'} if download else None
        return HttpResponseRedirect(field.storage.url(field.name, parameters=params))
    size = field.size
    match = _RANGE.match(request.headers.get("Range", ""))
    if match and (match.group(1) or match.group(2)):
        if match.group(1):
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
        else:  # a suffix range: the last N bytes
            start, end = max(0, size - int(match.group(2))), size - 1
        if start > end or start >= size:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        f = field.open("rb")
        f.seek(start)
        response = StreamingHttpResponse(_read_span(f, end - start + 1), status=206, content_type=content_type)
        response["Content-Length"] = str(end - start + 1)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    else:
        response = FileResponse(field.open("rb"), content_type=content_type, as_attachment=download, filename=filename)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _read_span(f, length: int, chunk: int = 64 * 1024):  # noqa: ANN001, ANN202
    try:
        while length > 0:
            data = f.read(min(chunk, length))
            if not data:
                break
            length -= len(data)
            yield data
    finally:
        f.close()


@login_required
@require_GET
def asset_file(request: HttpRequest, asset_id: int) -> HttpResponse:
    """A file, to its owner only (others get 404). ``?download=1`` makes it an
    attachment. On S3 this redirects to a short-lived signed URL."""
    asset = get_object_or_404(Asset, pk=asset_id, user=request.user)
    return _serve(request, asset.file, asset.content_type, asset.download_name)


@login_required
@require_GET
def asset_poster(request: HttpRequest, asset_id: int) -> HttpResponse:
    """A video's poster frame, to its owner only."""
    asset = get_object_or_404(Asset, pk=asset_id, user=request.user)
    if not asset.poster:
        raise Http404
    return _serve(request, asset.poster, "image/png", f"mirsam-{asset.job_id}-poster.png")


@login_required
@require_GET
def upload_file(request: HttpRequest, upload_id: int) -> HttpResponse:
    """One of the user's own uploads (a thumbnail on the Avatar page)."""
    upload = get_object_or_404(Upload, pk=upload_id, user=request.user)
    return _serve(
        request, upload.file, upload.content_type, f"upload-{upload.pk}.{upload.file.name.rsplit('.', 1)[-1]}"
    )


@login_required
@require_http_methods(["GET", "POST"])
def upload_delete(request: HttpRequest, upload_id: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes the photo (results stay)."""
    upload = get_object_or_404(Upload, pk=upload_id, user=request.user)
    if request.method == "GET":
        return render(request, "generation/upload_confirm_delete.html", {"upload": upload})
    try:
        services.upload_delete(upload=upload)
    except services.GenerationError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The photo was deleted."))
    return redirect("avatar")
