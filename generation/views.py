"""Pages of the studio: dashboard, Image, Video, Avatar, job cards (My
creations and projects are in ``generation.library_views``).

Views stay thin: get the object for this user (or 404), call one service,
render a page or, for htmx, a partial. Files are served by
``generation.files``.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import cache_control
from django.views.decorators.http import condition, require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from accounts.http import AuthedRequest
from accounts.notifications import presence_seen
from accounts.selectors import signup_bonus_pending
from config import pagecache
from config.pagecache import cached_page
from credits.selectors import credits_expiring_soon
from credits.services import InsufficientCredits, wallet_for
from providers import demo_media, pricing
from providers.models import Offer, Service
from providers.voices import VOICE_IDS

from . import actions, consent, fragments, selectors, services, showcase
from .audio import describe_audio_limits
from .errors import GenerationError
from .forms import OUTPUT_LABELS, PARAM_LABELS, TEXT_LABELS, AvatarForm, JobForm, ToolForm, choice_label
from .limits import limit_generate
from .models import Asset, Job, JobStatus, Upload
from .uploads import describe_limits, limits_from_settings
from .versions import AVATAR, STUDIO, STUDIO_PAGE

RECENT_JOBS = 6
#: Earlier images the reference picker shows at once ("Show more" adds as many).
PICKER_PAGE = 8
TOO_FAST = gettext_lazy("You are generating too fast. Please wait a minute, then try again.")


def _submission_key(request: AuthedRequest, action: str) -> str:
    """``action`` with the one-time token the form was rendered with
    (``config.pagecache.form_token``), so a replayed POST is the same job;
    empty when the request sent none or a malformed one."""
    token = pagecache.form_token_sent(request)
    return f"{action}:{token}" if token else ""


def _get_job_for_user(request: AuthedRequest, job_id: int) -> Job:
    """The job if it belongs to the signed-in user; 404 otherwise (never 403,
    so an outsider cannot tell a job exists)."""
    return get_object_or_404(Job.objects.select_related("offer"), pk=job_id, user=request.user)


def _studio_copy(service: str) -> dict[str, str]:
    if service == Service.AUDIO:
        return {
            "title": _("Audio"),
            "heading": _("Create audio"),
            "feed": _("Your latest audio"),
            "empty": _("Your voice-overs, music and sounds will appear here"),
            "no_models": _("No audio model is available right now"),
            "placeholder": _("Write what the voice should say…"),
            "charged": _("You are charged only for audio that is delivered."),
        }
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


#: The tabs of the Audio page: what its models make (``Offer.audio_kind``), with their names.
AUDIO_TABS = (
    ("speech", gettext_lazy("Voice-over")),
    ("dialogue", gettext_lazy("Dialogue")),
    ("music", gettext_lazy("Music")),
    ("sound_effect", gettext_lazy("Sound effects")),
)


def _audio_kind(request: AuthedRequest) -> str:
    """The Audio page's tab (``?kind=`` on a page, the form's ``kind`` field
    on its htmx and POST requests); "speech" for anything else."""
    kind = request.POST.get("kind") or request.GET.get("kind") or ""
    return kind if kind in dict(AUDIO_TABS) else "speech"


def _voice_samples(offer: Offer, form: JobForm) -> list[tuple[str, str]]:
    """``[(label, URL)]``: a sample of each voice the form picks (the first
    and, for a dialogue, the second), from kie.ai's previews for a kie.ai
    model (``KIE_VOICE_PREVIEW_URL``) or rendered by the demo provider for a
    demo model (:func:`voice_sample`)."""
    chosen = form.selected_params()
    samples = []
    for name in ("voice", "voice_2"):
        if name not in offer.param_specs:
            continue
        voice = str(chosen.get(name) or offer.param_specs[name]["default"])
        if offer.adapter == "demo":
            url = reverse("voice_sample", kwargs={"voice": voice})
        elif settings.KIE_VOICE_PREVIEW_URL:
            url = settings.KIE_VOICE_PREVIEW_URL.replace("{id}", voice)
        else:
            continue
        samples.append((str(PARAM_LABELS.get(name, name)), url))
    return samples


#: What a demo voice sample says (both languages, so it shows how each sounds).
SAMPLE_TEXT = "Welcome to Mirsam. أهلًا بكم في مرسم."


@require_GET
@cache_control(public=True, max_age=86400)
def voice_sample(request: HttpRequest, voice: str) -> HttpResponse:
    """A few seconds of ``voice`` (one of ``providers.voices``) as the demo
    provider renders it: an MP3 for the Audio page's "Listen". 404 for a
    voice Mirsam does not offer."""
    if voice not in VOICE_IDS:
        raise Http404
    return HttpResponse(_rendered_sample(voice), content_type="audio/mpeg")


@functools.lru_cache(maxsize=len(VOICE_IDS))
def _rendered_sample(voice: str) -> bytes:
    """The demo sample of ``voice``, rendered once per process (a few dozen KB)."""
    out = io.BytesIO()
    demo_media.render_speech(text=SAMPLE_TEXT, voice=voice, out=out)
    return out.getvalue()


def _offers_for(request: AuthedRequest, service: str) -> list[Offer]:
    """The models of a studio page: the service's, on the Audio page only
    those of the chosen tab."""
    offers = services.offers_available(service=service)
    if service == Service.AUDIO:
        kind = _audio_kind(request)
        offers = [offer for offer in offers if offer.audio_kind == kind]
    return offers


def _studio_context(
    request: AuthedRequest, form: JobForm, offers: list[Offer], service: str, *, picked: list[Asset] | None = None
) -> dict[str, Any]:
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
    audio = service == Service.AUDIO
    return {
        **(_reference_context(request, offer, picked or []) if service == Service.IMAGE else {}),
        **({"audio_kind": _audio_kind(request), "audio_tabs": AUDIO_TABS} if audio else {}),
        # What a change of the model or an option sends for the live price: on
        # the Audio page the whole form (a voice-over is priced by its text).
        "options_include": f"#{service}-form" if audio else f"#{service}-form select",
        "per_chars": pricing.per_characters(offer) if offer else None,
        "voice_samples": _voice_samples(offer, form) if audio and offer else [],
        "service": service,
        "copy": _studio_copy(service),
        "options_url": reverse("studio_options", kwargs={"service": service}),
        "form": form,
        "offers": offers,
        "offer": offer,
        "price": price,
        "unit_price": offer.unit_price(params) if offer else 0,
        "prompt_length": len(params.get("prompt") or ""),
        "wallet": wallet,
        "can_afford": wallet.available >= price,
        "limits_text": _limits_text(),
    }


def _reference_context(request: AuthedRequest, offer: Offer | None, picked: list[Asset]) -> dict[str, Any]:
    """The Image page's reference-image control for ``offer``: shown only for
    a model whose ``options.inputs`` has the role "reference" and a maximum
    above 0, with its limits and the first page of the creator's finished
    images to pick from, ``picked`` checked (and listed first when they are
    not on that page)."""
    if not actions.takes_references(offer):
        return {"takes_references": False}
    assert offer is not None
    low, high = offer.input_limits
    page = _picker_page(request, offset=0)
    page["results"] = [*(a for a in picked if a not in page["results"]), *page["results"]]
    return {
        "takes_references": True,
        "reference_min": low,
        "reference_max": high,
        "picked_references": [a.pk for a in picked[:high]],
        **page,
    }


def _picker_page(request: AuthedRequest, *, offset: int) -> dict[str, Any]:
    """``PICKER_PAGE`` of the creator's finished images from ``offset``, and
    where the next page starts (None when there is none)."""
    found = list(selectors.image_results_for_user(user=request.user)[offset : offset + PICKER_PAGE + 1])
    more = len(found) > PICKER_PAGE
    return {"results": found[:PICKER_PAGE], "results_next": offset + PICKER_PAGE if more else None}


def _limits_text() -> str:
    limits = describe_limits(limits_from_settings())
    return (
        _(
            "JPEG, PNG or WebP; up to %(max_mb)s MB and %(max_megapixels)s megapixels; "
            "at least %(min_side_px)s px on each side."
        )
        % limits
    )


STUDIO_SERVICES = (Service.IMAGE, Service.VIDEO, Service.AUDIO)


@login_required
@cached_page(STUDIO)
def dashboard(request: AuthedRequest) -> HttpResponse:
    return render(
        request,
        "generation/dashboard.html",
        {
            "jobs": selectors.jobs_for_user(user=request.user)[:RECENT_JOBS],
            "wallet": wallet_for(request.user),
            # Granted once an address is confirmed, which changes the wallet and so the kept page.
            "bonus_pending": signup_bonus_pending(user=request.user),
            # Set by beat a week ahead, which touches the wallet and so the kept page.
            "expiring": credits_expiring_soon(user=request.user),
        },
    )


@login_required
@require_GET
@cached_page(STUDIO_PAGE)
def studio_page(request: AuthedRequest, service: str) -> HttpResponse:
    """The Image, Video and Audio pages: the form and the latest jobs of the service."""
    offers = _offers_for(request, service)
    data, picked = _prefill(request, service, offers)
    budgets = selectors.project_budgets(user=request.user)
    projects = [b.project for b in budgets]
    form = (
        JobForm.for_options(data, offers=offers, service=service, projects=projects)
        if data
        else JobForm(offers=offers, service=service, projects=projects)
    )
    context = _studio_context(request, form, offers, service, picked=picked)
    context["jobs"] = jobs = list(selectors.jobs_for_user(user=request.user, service=service)[:RECENT_JOBS])
    context["examples"] = [] if jobs else selectors.showcase_examples(service=service)
    context["project_budgets"] = budgets
    if service == Service.VIDEO:
        context.update(_frame_picks(request, first_frame=picked[0] if picked else None))
    return render(request, "generation/studio.html", context)


def _prefill(request: AuthedRequest, service: str, offers: list[Offer]) -> tuple[QueryDict | None, list[Asset]]:
    """The form a card's action opens on this page (``generation.actions``):
    ``?reuse=<job id>`` fills in that job's model, prompt and options (and
    picks its earlier results again as references), ``?reference=<result
    id>`` picks a result as a reference on a model that takes one,
    ``?first_frame=<result id>`` (Animate) as the first frame of a video
    model that starts from one. ``(None,
    [])`` for a plain visit; 404 for a job or result that is not the
    creator's or an action its card does not offer."""
    data = QueryDict(mutable=True)
    if "reuse" in request.GET:
        job = _get_job_for_user(request, _id_or_404(request.GET["reuse"]))
        actions.require(request, job, "reuse")
        if job.service != service:
            raise Http404
        data["offer"] = str(job.offer_id)
        if job.project_id:
            data["project"] = str(job.project_id)
        for name in ("prompt", "outputs", *job.offer.param_specs, *job.offer.text_specs):
            if name in job.params:
                data[name] = str(job.params[name])
        picked = [i.asset for i in job.inputs.select_related("asset") if i.asset is not None and i.role == "reference"]
        return data, picked
    if "reference" in request.GET and service == Service.IMAGE:
        found = selectors.results_by_ids(user=request.user, ids=[request.GET["reference"]])
        if not found:
            raise Http404
        actions.require(request, found[0].job, "reference")
        offer = next((o for o in offers if actions.takes_references(o)), None)
        if offer is None:
            raise Http404
        data["offer"] = str(offer.pk)
        return data, found
    if "first_frame" in request.GET and service == Service.VIDEO:
        found = selectors.results_by_ids(user=request.user, ids=[request.GET["first_frame"]])
        if not found:
            raise Http404
        actions.require(request, found[0].job, "animate")
        offer = next((o for o in offers if o.input_limits[1] >= 1), None)
        if offer is None:
            raise Http404
        data["offer"] = str(offer.pk)
        return data, found
    return None, []


def _id_or_404(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise Http404 from None


@login_required
@require_GET
def studio_options(request: AuthedRequest, service: str) -> HttpResponse:
    """The model-dependent options and the live price, for htmx."""
    if service not in STUDIO_SERVICES:
        raise Http404
    offers = _offers_for(request, service)
    form = JobForm.for_options(request.GET, offers=offers, service=service)
    return render(request, "generation/partials/options.html", _studio_context(request, form, offers, service))


@login_required
@require_GET
def reference_results(request: AuthedRequest) -> HttpResponse:
    """The next page of the reference picker (``?offset=``), for htmx."""
    try:
        offset = max(0, int(request.GET.get("offset", "0")))
    except ValueError:
        offset = 0
    return render(request, "generation/partials/reference_results.html", _picker_page(request, offset=offset))


def _form_error(request: AuthedRequest, message: str, *, short: bool = False, page: str = "image") -> HttpResponse:
    if request.htmx:
        response = render(request, "generation/partials/form_error.html", {"message": message, "short": short})
        response["HX-Retarget"] = "#form-errors"
        response["HX-Reswap"] = "innerHTML"
        return response
    messages.error(request, message)
    return redirect(page)


def _too_fast(request: AuthedRequest, *, page: str) -> HttpResponse:
    """Generate over ``MIRSAM_RATE_GENERATE``: nothing is stored or held.

    htmx gets the message in ``#form-errors`` with a 200, like every other
    form error: htmx does not swap a 4xx, and configuring it to would change
    how every htmx request in the studio treats errors. Without htmx the
    answer is a real 429 page carrying the same message."""
    if request.htmx:
        return _form_error(request, str(TOO_FAST), page=page)
    return render(request, "429.html", {"message": TOO_FAST}, status=429)


def _too_fast_on_job(request: AuthedRequest, job: Job) -> HttpResponseBase:
    """Regenerate or Extend over ``MIRSAM_RATE_GENERATE`` (the same count as
    Generate): nothing is held; back to the job with the message, or a 429
    page without htmx."""
    if request.htmx:
        messages.error(request, TOO_FAST)
        return HttpResponseClientRedirect(reverse("job_detail", args=[job.pk]))
    return render(request, "429.html", {"message": TOO_FAST}, status=429)


def _submit(request: AuthedRequest, page: str, submit: Callable[[], Job]) -> HttpResponse:
    """Run ``submit()`` and answer with the new job card or a clear error
    (404 for an input that is not the user's)."""
    try:
        job = submit()
    except InsufficientCredits as exc:
        return _form_error(request, exc.message, short=True, page=page)
    except GenerationError as exc:
        if exc.code == "not_found":
            raise Http404 from exc
        return _form_error(request, str(exc.message), page=page)
    if not request.htmx:
        return redirect("job_detail", job_id=job.pk)
    response = render(request, "generation/partials/job_created.html", {"job": job})
    return trigger_client_event(response, "balanceChanged")


@login_required
@require_POST
@limit_generate
def job_create(request: AuthedRequest) -> HttpResponse:
    """Generate (Image, Video and Audio): validate, hold and queue through ``job_submit``."""
    service = request.POST.get("service", Service.IMAGE)
    if service not in STUDIO_SERVICES:
        service = Service.IMAGE
    if request.limited:
        return _too_fast(request, page=service)
    offers = _offers_for(request, service)
    form = JobForm(request.POST, offers=offers, service=service, projects=list(request.user.projects.all()))
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        return _form_error(request, str(first), page=service)
    offer = form.cleaned_data["offer"]
    if service == Service.VIDEO:
        return _submit(
            request,
            service,
            lambda: services.job_submit_with_files(
                user=request.user,
                offer=offer,
                params=form.job_params(),
                **_frame_inputs(request, offer),
                submission_key=_submission_key(request, "generate"),
                project=form.cleaned_data.get("project"),
            ),
        )
    results: list[Asset] = []
    files: list[UploadedFile]
    if service == Service.AUDIO:
        files = []  # audio is made from words alone
    else:
        # Reference images: new uploads, then earlier results picked by id,
        # each of which must be the creator's own (anything else is a 404).
        files = request.FILES.getlist("references")
        picked = selectors.results_by_ids(user=request.user, ids=request.POST.getlist("reference_asset"))
        if picked is None:
            raise Http404
        results = picked
    return _submit(
        request,
        service,
        lambda: services.job_submit_with_files(
            user=request.user,
            offer=offer,
            params=form.job_params(),
            files=files,
            results=results,
            submission_key=_submission_key(request, "generate"),
            project=form.cleaned_data.get("project"),
        ),
    )


#: The Video page's frame slots, in order (their roles are the model's, by position).
FRAME_SLOTS = ("first_frame", "last_frame")
FRAME_CHOOSE_ONE = {
    "first_frame": gettext_lazy("Choose one first frame: a new file or one of your images."),
    "last_frame": gettext_lazy("Choose one last frame: a new file or one of your images."),
}


def _frame_inputs(request: AuthedRequest, offer: Offer) -> dict[str, Any]:
    """The Video form's frames as ``job_submit_with_files`` takes them
    (``files``, ``uploads``, ``results``, ``input_roles``): each slot is a
    new file (``first_frame``), an earlier upload (``first_frame_upload``:
    an id) or an earlier result (``first_frame_asset``), at most one of
    them. An id that is not the creator's own is a 404; two choices for a
    slot, or a last frame without a first, raise :class:`GenerationError`
    (call it inside ``_submit``)."""
    roles = offer.input_roles or list(FRAME_SLOTS)
    files: list[tuple[str, UploadedFile]] = []
    uploads: list[tuple[str, Upload]] = []
    results: list[tuple[str, Asset]] = []
    given = []
    for i, slot in enumerate(FRAME_SLOTS):
        role = roles[min(i, len(roles) - 1)]
        file = request.FILES.get(slot)
        upload_ids = [v for v in request.POST.getlist(f"{slot}_upload") if v]
        asset_ids = [v for v in request.POST.getlist(f"{slot}_asset") if v]
        picked_uploads = selectors.uploads_by_ids(user=request.user, ids=upload_ids)
        picked_results = selectors.results_by_ids(user=request.user, ids=asset_ids)
        if picked_uploads is None or picked_results is None:
            raise Http404
        if int(file is not None) + len(picked_uploads) + len(picked_results) > 1:
            raise GenerationError(FRAME_CHOOSE_ONE[slot], code="inputs")
        if file is not None:
            files.append((role, file))
        uploads += [(role, u) for u in picked_uploads]
        results += [(role, a) for a in picked_results]
        given.append(file is not None or bool(picked_uploads or picked_results))
    if given[1] and not given[0]:
        # Roles go by position: a lone last frame would be taken as the first.
        raise GenerationError(_("Add a first frame to end on a last frame."), code="inputs")
    return {
        "files": [f for _r, f in files],
        "uploads": [u for _r, u in uploads],
        "results": [a for _r, a in results],
        "input_roles": [r for r, _x in (*files, *uploads, *results)],
    }


def _frame_picks(request: AuthedRequest, *, first_frame: Asset | None = None) -> dict[str, Any]:
    """What the Video page offers to pick as a frame: the creator's latest
    finished images and uploaded images (``PICKER_PAGE`` of each), with
    ``first_frame`` (a card's "Animate") listed first and picked."""
    results = list(selectors.image_results_for_user(user=request.user)[:PICKER_PAGE])
    if first_frame is not None and first_frame not in results:
        results.insert(0, first_frame)
    return {
        "frame_results": results,
        "frame_uploads": list(selectors.image_uploads_for_user(user=request.user)[:PICKER_PAGE]),
        "first_frame_picked": first_frame.pk if first_frame is not None else None,
    }


@login_required
@cached_page(AVATAR)
def avatar_page(request: AuthedRequest) -> HttpResponse:
    offers = services.offers_available(service=Service.AVATAR)
    budgets = selectors.project_budgets(user=request.user)
    form = AvatarForm(offers=offers, projects=[b.project for b in budgets])
    context = _avatar_context(request, form, offers)
    context["project_budgets"] = budgets
    return render(request, "generation/avatar.html", context)


def _avatar_price(request: AuthedRequest, form: AvatarForm, offers: list[Offer]) -> dict[str, Any]:
    """The model the form picks and its total for the number of variants picked."""
    offer = offers[0] if offers else None
    if form.is_bound:
        offer = next((o for o in offers if str(o.pk) == str(form.data.get("offer"))), offer)
    try:
        outputs = int((form.data.get("outputs") if form.is_bound else None) or form.fields["outputs"].initial)
    except ValueError:
        outputs = 1
    outputs = max(1, min(outputs, 4))
    wallet = wallet_for(request.user)
    price = offer.price_for(outputs=outputs) if offer else 0
    return {
        "offer": offer,
        "unit_price": offer.unit_price() if offer else 0,
        "price": price,
        "wallet": wallet,
        "can_afford": wallet.available >= price,
    }


@login_required
@require_GET
def avatar_price(request: AuthedRequest) -> HttpResponse:
    """The Avatar page's total for the picked model and number of variants, for htmx."""
    offers = services.offers_available(service=Service.AVATAR)
    form = AvatarForm(request.GET, offers=offers)
    return render(request, "generation/partials/avatar_price.html", _avatar_price(request, form, offers))


def _avatar_context(request: AuthedRequest, form: AvatarForm, offers: list[Offer]) -> dict[str, Any]:
    return {
        **_avatar_price(request, form, offers),
        "form": form,
        "offers": offers,
        "limits_text": _limits_text(),
        "consent_text": consent.current_wording(),
        "consent_version": consent.CURRENT_VERSION,
        "jobs": selectors.jobs_for_user(user=request.user, service=Service.AVATAR)[:RECENT_JOBS],
        # Photos of people only: not recordings, nor a video's frames or an image's references.
        "uploads": selectors.portrait_uploads_for_user(user=request.user)[:24],
    }


@login_required
@require_POST
@limit_generate
def avatar_create(request: AuthedRequest) -> HttpResponse:
    """Portraits from the user's photos: consent, checks, style, variants."""
    if request.limited:
        return _too_fast(request, page="avatar")
    offers = services.offers_available(service=Service.AVATAR)
    form = AvatarForm(request.POST, offers=offers, projects=list(request.user.projects.all()))
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        return _form_error(request, str(first), page="avatar")
    preset, details = form.cleaned_data["preset"], form.cleaned_data["details"]
    # Photos uploaded before, picked again (the creator's own, or a 404).
    again = selectors.uploads_by_ids(user=request.user, ids=[v for v in request.POST.getlist("photo_upload") if v])
    if again is None:
        raise Http404
    return _submit(
        request,
        "avatar",
        lambda: services.job_submit_with_files(
            user=request.user,
            offer=form.cleaned_data["offer"],
            params={"prompt": preset.prompt(details), "outputs": form.cleaned_data["outputs"]},
            files=request.FILES.getlist("photos"),
            uploads=again,
            consent_version=request.POST.get("consent_version", ""),
            extra={"preset": preset.slug, "style": preset.demo_style, "details": details},
            submission_key=_submission_key(request, "generate"),
            project=form.cleaned_data.get("project"),
        ),
    )


@login_required
def job_detail(request: AuthedRequest, job_id: int) -> HttpResponse:
    job = _get_job_for_user(request, job_id)
    context: dict[str, Any] = {"job": job, "job_settings": _job_settings(job)}
    if job.tool_action:
        # A tool's job shows what it was made from.
        source = job.inputs.select_related("asset").filter(asset__isnull=False).first()
        context["source"] = source.asset if source else None
    if job.status == JobStatus.SUCCEEDED:
        shown = selectors.showcase_for_job(job=job)
        context["showcase_rows"] = [(asset, shown.get(asset.pk)) for asset in job.assets.order_by("index")]
        context["showcase_wording"] = showcase.current_wording()
        context["showcase_version"] = showcase.CURRENT_VERSION
    return render(request, "generation/job_detail.html", context)


@login_required
@require_POST
def job_showcase(request: AuthedRequest, job_id: int, asset_id: int) -> HttpResponseBase:
    """The owner allows (``allow=1``, with the wording ``version`` shown) or
    withdraws (``allow=0``) featuring one result of their job in the public
    showcase; back to the job's page with a message. Another user's job or
    result: 404."""
    job = _get_job_for_user(request, job_id)
    asset = get_object_or_404(Asset.objects.select_related("job"), pk=asset_id, job=job)
    try:
        if request.POST.get("allow") == "1":
            services.showcase_permit(user=request.user, asset=asset, version=request.POST.get("version", ""))
            messages.success(request, _("Thank you: Mirsam may feature this result. You can withdraw at any time."))
        else:
            services.showcase_withdraw(user=request.user, asset=asset)
            messages.success(request, _("Withdrawn: this result is no longer shown publicly."))
    except GenerationError as exc:
        messages.error(request, str(exc.message))
    return redirect("job_detail", job_id=job.pk)


def landing(request: HttpRequest) -> HttpResponse:
    """The landing page, with the public showcase (``selectors.showcase_public``).
    Kept per version of what it shows (``config.urls``: ``versions.LANDING``)."""
    return render(request, "pages/landing.html", {"showcase": selectors.showcase_public()})


def _job_settings(job: Job) -> list[tuple[Any, Any]]:
    """``[(label, value)]`` of what the job was made with, as the creator
    reads it: each option of its model, its free texts (a song's title and
    style), a speaking job's speech length and the number of outputs asked
    for (when the model makes more than one)."""
    offer = job.offer
    rows: list[tuple[Any, Any]] = [
        (PARAM_LABELS.get(name, name), choice_label(name, str(job.params[name])))
        for name in offer.param_specs
        if name in job.params
    ]
    rows += [(TEXT_LABELS.get(name, name), job.params[name]) for name in offer.text_specs if job.params.get(name)]
    if offer.speaks and str(job.params.get("duration", "")).isdigit():
        rows.append((_("Speech length"), choice_label("duration", str(job.params["duration"]))))
    if offer.max_outputs > 1:
        rows.append((OUTPUT_LABELS.get(job.service, OUTPUT_LABELS["image"]), job.outputs))
    return rows


@login_required
@require_GET
@cache_control(private=True, no_cache=True)
@condition(etag_func=fragments.card_etag)
def job_card(request: AuthedRequest, job_id: int) -> HttpResponse:
    """The job card; it polls itself until the job is final, then tells the
    page to refresh the balance. Answered "304 Not Modified" to a browser
    whose copy is still right (``fragments.card_etag``): the browser keeps
    the copy (``no-cache``: always asking first) and htmx swaps it in."""
    job = _get_job_for_user(request, job_id)
    if not job.is_final:
        presence_seen(user_id=request.user.pk)  # watching: no e-mail when it ends (accounts.notifications)
    card = fragments.job_fragment(request, fragments.CARD, job, on_detail=bool(request.GET.get("detail")))
    response = HttpResponse(card)
    if job.is_final:
        trigger_client_event(response, "balanceChanged")
    return response


@login_required
@require_POST
@limit_generate
def job_regenerate(request: AuthedRequest, job_id: int) -> HttpResponseBase:
    """The "Regenerate" action: a new job with the same settings (``job_regenerate``)."""
    job = _get_job_for_user(request, job_id)
    actions.require(request, job, "vary")
    if request.htmx and request.POST.get("in_feed"):
        # From a card in a studio feed: the new card goes to the top of the
        # feed, in place; an error shows above the page's form.
        if request.limited:
            return _too_fast(request, page=job.service)
        return _submit(
            request,
            job.service,
            lambda: services.job_regenerate(job=job, submission_key=_submission_key(request, f"regenerate:{job.pk}")),
        )
    if request.limited:
        return _too_fast_on_job(request, job)
    try:
        new_job = services.job_regenerate(job=job, submission_key=_submission_key(request, f"regenerate:{job.pk}"))
    except InsufficientCredits as exc:
        messages.error(request, exc.message)
        target = reverse("job_detail", args=[job.pk])
        return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    except GenerationError as exc:
        messages.error(request, str(exc.message))
        target = reverse("job_detail", args=[job.pk])
        return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    target = reverse("job_detail", args=[new_job.pk])
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@login_required
@require_http_methods(["GET", "POST"])
def job_delete(request: AuthedRequest, job_id: int) -> HttpResponseBase:
    """GET asks for confirmation; POST deletes the job and its files. From a
    card in a feed (htmx, ``in_feed``) the card goes in place (an empty
    answer replaces it) or says in its slot why it stays; elsewhere the
    answer is My creations, or the job's page with the reason."""
    job = _get_job_for_user(request, job_id)
    actions.require(request, job, "delete")
    if request.method == "GET":
        return render(request, "generation/job_confirm_delete.html", {"job": job})
    in_feed = bool(request.htmx and request.POST.get("in_feed"))
    try:
        services.job_delete(job=job)
    except GenerationError as exc:
        if in_feed:
            response = render(request, "generation/partials/form_error.html", {"message": exc.message})
            response["HX-Retarget"] = f"#tool-slot-{job.pk}"
            response["HX-Reswap"] = "innerHTML"
            return response
        messages.error(request, str(exc.message))
        target = reverse("job_detail", args=[job.pk])
        return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    if in_feed:
        return HttpResponse("")
    messages.success(request, _("The creation was deleted."))
    return HttpResponseClientRedirect(reverse("creations")) if request.htmx else redirect("creations")


@login_required
@require_POST
@limit_generate
def job_extend(request: AuthedRequest, job_id: int) -> HttpResponseBase:
    """Continue a finished video with a new prompt: a new job, held and priced."""
    job = _get_job_for_user(request, job_id)
    actions.require(request, job, "extend")
    if request.limited:
        return _too_fast_on_job(request, job)
    prompt = request.POST.get("prompt", "")
    try:
        new_job = services.job_extend(
            job=job, prompt=prompt, submission_key=_submission_key(request, f"extend:{job.pk}")
        )
    except InsufficientCredits as exc:
        messages.error(request, exc.message)
        new_job = None
    except GenerationError as exc:
        messages.error(request, str(exc.message))
        new_job = None
    target = reverse("job_detail", args=[(new_job or job).pk])
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@login_required
@require_http_methods(["GET", "POST"])
def upload_delete(request: AuthedRequest, upload_id: int) -> HttpResponseBase:
    """GET asks for confirmation; POST deletes the photo or recording (results stay)."""
    upload = get_object_or_404(Upload, pk=upload_id, user=request.user)
    if request.method == "GET":
        return render(request, "generation/upload_confirm_delete.html", {"upload": upload})
    try:
        services.upload_delete(upload=upload)
    except GenerationError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The recording was deleted.") if upload.is_audio else _("The photo was deleted."))
    return redirect("avatar")


def _tool_for_job(request: AuthedRequest, job: Job, slug: str) -> Offer:
    """The tool ``slug`` if ``job``'s card offers it (a finished result it
    works on, the tool available here); 404 otherwise."""
    actions.require(request, job, f"tool:{slug}")
    return next(t for t in actions.available(request).tools if t.slug == slug)


@login_required
@require_http_methods(["GET", "POST"])
@limit_generate
def job_tool(request: AuthedRequest, job_id: int, slug: str) -> HttpResponseBase:
    """A tool (upscale, remove the background) on one of a finished job's
    results: GET shows its small form (which result, its options, the price);
    POST runs it through ``job_tool_apply``, a new job priced and held like
    any other. htmx gets the form in the card (``?detail=1`` on the job's own
    page) and, once made, the new card at the top of the feed, or on the
    job's own page a move to the new job's page; without htmx the form is a
    page and the answer a redirect to the new job."""
    job = _get_job_for_user(request, job_id)
    tool = _tool_for_job(request, job, slug)
    sources = selectors.tool_sources(job=job, tool=tool)
    if not sources:
        raise Http404
    data = request.POST if request.method == "POST" else (request.GET if "asset" in request.GET else None)
    form = ToolForm(data, tool=tool, sources=sources)
    detail = bool(request.GET.get("detail") or request.POST.get("detail"))
    error, short = "", False
    if request.method == "POST":
        if request.limited:
            return _too_fast_on_job(request, job)
        asset = form.selected_asset()
        if asset is None:
            raise Http404
        try:
            new_job = services.job_tool_apply(
                asset=asset,
                tool=tool,
                params={name: request.POST.get(name) for name in form.param_names},
                # Ids, not the slug: the key (with a token of up to 64 characters) must fit 100.
                submission_key=_submission_key(request, f"tool:{tool.pk}:{asset.pk}"),
            )
        except InsufficientCredits as exc:
            error, short = str(exc.message), True
        except GenerationError as exc:
            error = str(exc.message)
        else:
            target = reverse("job_detail", args=[new_job.pk])
            if not request.htmx:
                return redirect(target)
            if detail:
                return HttpResponseClientRedirect(target)
            response = render(request, "generation/partials/tool_created.html", {"job": new_job, "source": job})
            response["HX-Retarget"] = "#jobs"
            response["HX-Reswap"] = "afterbegin"
            return trigger_client_event(response, "balanceChanged")
    params = form.selected_params()
    price = tool.price_for(outputs=1, params=params)
    wallet = wallet_for(request.user)
    context = {
        "job": job,
        "tool": tool,
        "form": form,
        "sources": sources,
        "selected": form.selected_asset() or sources[0],
        "price": price,
        "wallet": wallet,
        "can_afford": wallet.available >= price,
        "detail": detail,
        "error": error,
        "short": short,
    }
    template = "generation/partials/tool_form.html" if request.htmx else "generation/tool_page.html"
    return render(request, template, context)


# --- Make it speak: talking portraits and lip-sync ----------------------------------

#: Earlier results the "Make it speak" page offers to pick, of each kind.
SPEAK_PICKS = 12


def _speak_context(request: AuthedRequest, data: Any) -> dict[str, Any]:
    """The "Make it speak" page for the model ``data["offer"]`` names (else
    the first): its pictures (images, or videos for a lip-sync) and speeches
    to pick from, each the creator's own, the one ``data`` picks checked,
    and the price for the picked speech (per second until one is picked)."""
    offers = services.speaking_offers_available()
    offer = next((o for o in offers if str(o.pk) == str(data.get("offer"))), None)
    if offer is None and data.get("picture"):
        # A card's "Lip-sync" link names a video: start on a model that takes one.
        video = _picked(request, data.get("picture"), "video") is not None
        offer = next((o for o in offers if (o.speaks == "video") == video), None)
    if offer is None and offers:
        offer = offers[0]
    kind = "video" if offer is not None and offer.speaks == "video" else "image"
    pictures = list(selectors.results_of_kind(user=request.user, kind=kind)[:SPEAK_PICKS])
    speeches = list(selectors.results_of_kind(user=request.user, kind="audio")[:SPEAK_PICKS])
    picked_picture = _picked(request, data.get("picture"), kind)
    writes = data.get("speech") == "text"  # "Write the words": a speech made on the spot
    picked_speech = None if writes else _picked(request, data.get("speech"), "audio")
    speech_offer = _speech_offer()
    if picked_picture is not None and picked_picture not in pictures:
        pictures.insert(0, picked_picture)
    if picked_speech is not None and picked_speech not in speeches:
        speeches.insert(0, picked_speech)
    params = {name: data.get(name) for name in (offer.param_specs if offer else {})}
    per_second = offer.unit_price({**params, "duration": "1"}) if offer else 0
    seconds = None
    if picked_speech is not None and picked_speech.duration_seconds:
        seconds = services.speech_seconds(picked_speech)
    text = str(data.get("speech_text") or "").strip()
    if writes and text and offer is not None:
        seconds = min(services.speech_estimate_seconds(text)[1], services.speech_max_seconds(offer))
    wallet = wallet_for(request.user)
    price = offer.unit_price({**params, "duration": str(seconds)}) if offer and seconds else None
    speech_price = speech_offer.unit_price({"prompt": text}) if writes and speech_offer is not None and text else None
    param_fields = []
    if offer is not None:
        for name, spec in offer.param_specs.items():
            value = data.get(name) if data.get(name) in spec["choices"] else spec["default"]
            choices = [(c, choice_label(name, c)) for c in spec["choices"]]
            param_fields.append(
                {"name": name, "label": PARAM_LABELS.get(name, name), "value": value, "choices": choices}
            )
    return {
        "offers": offers,
        "offer": offer,
        "picture_kind": kind,
        "pictures": pictures,
        "speeches": speeches,
        "picked_picture": picked_picture,
        "picked_speech": picked_speech,
        "param_fields": param_fields,
        "writes": writes,
        # What a change on the page sends to re-render it: the model, its
        # options, the picked results and the words to speak.
        "speak_include": "#speak-form select, #speak-form input[type=radio]:checked, #speak-form textarea",
        "speech_text": text,
        "speech_offer": speech_offer,
        "voices": [(v, choice_label("voice", v)) for v in speech_offer.param_specs["voice"]["choices"]]
        if speech_offer is not None and "voice" in speech_offer.param_specs
        else [],
        "voice": data.get("voice") or "",
        "speech_price": speech_price,
        "per_second": per_second,
        "seconds": seconds,
        "speech_max": services.speech_max_seconds(offer) if offer else 0,
        "price": price,
        "wallet": wallet,
        "can_afford": price is None or wallet.available >= price + (speech_price or 0),
        "limits_text": _limits_text(),
        "audio_limits_text": describe_audio_limits(),
        "consent_text": consent.current_wording(),
        "consent_version": consent.CURRENT_VERSION,
    }


def _speech_offer() -> Offer | None:
    """The voice-over model a speech made on the "Make it speak" page uses:
    the first available one (the Audio page's first)."""
    return next((o for o in services.offers_available(service=Service.AUDIO) if o.audio_kind == "speech"), None)


def _picked(request: AuthedRequest, raw: object, kind: str) -> Asset | None:
    """The result ``raw`` names (an id from the query or the form) if it is
    the creator's own finished result of ``kind``; ``None`` for none, 404 for
    anyone else's (the page is never given someone else's file); ``None``
    too for the creator's own result of another kind (a model change turned
    a portrait's image into a lip-sync's video)."""
    if raw in (None, ""):
        return None
    found = selectors.results_by_ids(user=request.user, ids=[str(raw)])
    if not found:
        raise Http404
    return found[0] if services.asset_kind(found[0]) == kind else None


@login_required
@require_GET
def speak_page(request: AuthedRequest) -> HttpResponse:
    """Make it speak: a picture (or a video) and a speech become a talking
    portrait (or a lip-sync). ``?picture=`` and ``?speech=`` pick the
    creator's own results (a card's "Make it speak" links here)."""
    context = _speak_context(request, request.GET)
    context["jobs"] = selectors.speaking_jobs_for_user(user=request.user)[:RECENT_JOBS]
    template = "generation/partials/speak_form.html" if request.htmx else "generation/speak.html"
    return render(request, template, context)


@login_required
@require_POST
@limit_generate
def speak_create(request: AuthedRequest) -> HttpResponse:
    """Generate on the "Make it speak" page, through ``job_speak``."""
    if request.limited:
        return _too_fast(request, page="speak")
    offers = services.speaking_offers_available()
    offer = next((o for o in offers if str(o.pk) == request.POST.get("offer")), None)
    if offer is None:
        return _form_error(request, _("Choose a model."), page="speak")
    picture = _picked(request, request.POST.get("picture"), "video" if offer.speaks == "video" else "image")
    picture_file = request.FILES.get("picture_file")
    speech_file = request.FILES.get("speech_file")
    params: dict[str, Any] = {name: request.POST.get(name) for name in offer.param_specs}
    params["prompt"] = request.POST.get("prompt", "")
    consent_version = request.POST.get("consent_version") if request.POST.get("consent") else None
    if request.POST.get("speech") == "text" and speech_file is None:
        speech_offer = _speech_offer()
        if speech_offer is None:
            return _form_error(request, _("No voice-over model is available right now."), page="speak")
        return _submit(
            request,
            "speak",
            lambda: services.job_speak_text(
                user=request.user,
                offer=offer,
                params=params,
                speech_offer=speech_offer,
                text=request.POST.get("speech_text", ""),
                voice=request.POST.get("voice", ""),
                picture=None if picture_file is not None else picture,
                picture_file=picture_file,
                consent_version=consent_version,
                submission_key=_submission_key(request, "speak"),
            ),
        )
    speech = None if request.POST.get("speech") == "text" else _picked(request, request.POST.get("speech"), "audio")
    return _submit(
        request,
        "speak",
        lambda: services.job_speak(
            user=request.user,
            offer=offer,
            params=params,
            picture=None if picture_file is not None else picture,
            picture_file=picture_file,
            speech=None if speech_file is not None else speech,
            speech_file=speech_file,
            consent_version=consent_version,
            submission_key=_submission_key(request, "speak"),
        ),
    )
