"""The public REST API, version 1, under ``/api/v1/`` (django-ninja; the
OpenAPI 3 schema at ``/api/v1/openapi.json``, its docs page at
``/api/v1/docs``). docs/api.md is the guide.

Each endpoint is thin: check the key's scope, load what belongs to the
key's owner (anything else is 404), call one service of ``generation`` or
``credits`` — the same ones the pages call, so prices, holds and refunds are
the pages' — and shape the answer. Errors are
``{"error": {"code", "message"}}`` (:mod:`api.errors`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from csp.decorators import csp_update
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Form, Header, NinjaAPI, Query, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.files import UploadedFile

from credits.describe import entries_describe
from credits.selectors import entries_for_user
from credits.services import CreditsOwed, InsufficientCredits, wallet_for
from generation import consent, services
from generation.errors import GenerationError
from generation.files import asset_download_token
from generation.models import Asset, Job, Upload
from generation.selectors import jobs_for_user
from providers.models import Offer
from providers.tools import is_tool

from . import schemas
from .auth import JOBS_GROUP, KeyAuth, headers_of, need_scope, rate_check
from .errors import ApiError
from .models import ApiKey, Scope
from .services import idempotent

api = NinjaAPI(
    title="Mirsam API",
    version="1",
    description="Generate images, videos and portraits with your Mirsam credits. Guide: docs/api.md.",
    urls_namespace="api_v1",
    auth=KeyAuth(),
    # Swagger UI comes from our static files (ninja's own, "ninja" in
    # INSTALLED_APPS): scripts stay 'self'; the UI sets inline styles.
    docs_decorator=csp_update({"style-src": ["'unsafe-inline'"]}),
)

ERRORS: dict[int, Any] = {401: schemas.ErrorOut, 403: schemas.ErrorOut, 404: schemas.ErrorOut, 429: schemas.ErrorOut}
PAGE_MAX = 100


# --- errors ---------------------------------------------------------------------------


def _error(exc: ApiError) -> HttpResponse:
    response = JsonResponse(exc.body(), status=exc.status)
    for name, value in headers_of(exc).items():
        response[name] = value
    return response


def as_api_error(exc: Exception) -> ApiError:
    """A domain error as the API answers it: ``InsufficientCredits`` 402
    with needed and available, ``GenerationError`` 422 with its code (404 for
    ``not_found``)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, CreditsOwed):
        return ApiError("credits_owed", exc.message, status=402)
    if isinstance(exc, InsufficientCredits):
        return ApiError("insufficient_credits", exc.message, status=402, needed=exc.needed, available=exc.available)
    if isinstance(exc, GenerationError):
        code = exc.code or "refused"
        return ApiError(code, str(exc.message), status=404 if code == "not_found" else 422)
    raise exc


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return _error(exc)


@api.exception_handler(GenerationError)
def _generation_error(request: HttpRequest, exc: GenerationError) -> HttpResponse:
    return _error(as_api_error(exc))


@api.exception_handler(InsufficientCredits)
def _insufficient(request: HttpRequest, exc: InsufficientCredits) -> HttpResponse:
    return _error(as_api_error(exc))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(ApiError("unauthenticated", _("Send your API key as “Authorization: Bearer <key>”."), status=401))


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = [".".join(str(p) for p in e.get("loc", ())) for e in exc.errors]
    return _error(
        ApiError(
            "invalid_request",
            _("The request is not valid: %(fields)s.") % {"fields": ", ".join(fields)},
            status=422,
        )
    )


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(ApiError("not_found", _("Not found."), status=404))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(ApiError("http_error", str(exc), status=exc.status_code))


# --- shaping answers ------------------------------------------------------------------


def _models() -> list[Offer]:
    """The models a program can start a job of: the studio's (every service),
    as the pages offer them; tools and speaking models are not in v1."""
    by_service, _tools, _speaking = services.catalogue_available()
    return [offer for offers in by_service.values() for offer in offers if not is_tool(offer)]


def _model_for(slug: str) -> Offer:
    for offer in _models():
        if offer.slug == slug:
            return offer
    raise ApiError("not_found", _("There is no model “%(slug)s”.") % {"slug": slug}, status=404)


def _model_json(offer: Offer) -> dict[str, Any]:
    defaults = {name: spec["default"] for name, spec in offer.param_specs.items()}
    low, high = offer.input_limits
    return {
        "slug": offer.slug,
        "name": offer.name,
        "service": offer.service,
        "description": offer.description,
        "max_outputs": offer.max_outputs,
        "prompt_max_length": min(offer.prompt_max_length, settings.MIRSAM_PROMPT_MAX_LENGTH),
        "prompt_required": not offer.options.get("prompt_optional"),
        "inputs": {"min": low, "max": high, "roles": offer.input_roles},
        "texts": {name: spec["max"] for name, spec in offer.text_specs.items()},
        "options": [
            {
                "name": name,
                "label": str(services.PARAM_LABELS.get(name, name)),
                "default": spec["default"],
                "choices": [
                    {"value": value, "unit_price": offer.unit_price({**defaults, name: value})}
                    for value in spec["choices"]
                ],
            }
            for name, spec in offer.param_specs.items()
        ],
        "unit_price": offer.unit_price(defaults),
    }


def _params_of(body: schemas.JobRequest) -> dict[str, Any]:
    """The request as the studio's services take it (what a form would post)."""
    return {**body.params, "prompt": body.prompt, "outputs": body.outputs}


def _output_json(absolute: Callable[[str], str], asset: Asset, expires: str) -> dict[str, Any]:
    path = reverse("asset_file", args=[asset.pk])
    query = f"?token={asset_download_token(asset)}&download=1"
    return {
        "id": asset.pk,
        "index": asset.index,
        "content_type": asset.content_type,
        "width": asset.width,
        "height": asset.height,
        "duration_seconds": asset.duration_seconds,
        "size_bytes": asset.size_bytes,
        "url": absolute(path + query),
        "expires_at": expires,
    }


def job_json(request: HttpRequest, job: Job) -> dict[str, Any]:
    """A job as the API shows it (JSON-ready: kept as it is by idempotency)."""
    return job_payload(job, absolute=request.build_absolute_uri)


def job_payload(job: Job, *, absolute: Callable[[str], str]) -> dict[str, Any]:
    """:func:`job_json` without a request (webhooks): ``absolute`` turns a
    path into the URL a program downloads from. ``job.hold`` and
    ``job.assets`` are read (select_related / prefetch them for many jobs)."""
    hold = job.hold
    open_hold = hold is not None and hold.status == "open"
    rest = (hold.amount - hold.captured_amount) if hold is not None else 0
    expires = (timezone.now() + timedelta(seconds=settings.MIRSAM_API_DOWNLOAD_URL_SECONDS)).isoformat()
    return {
        "id": job.pk,
        "status": job.status,
        "model": job.offer.slug,
        "service": job.service,
        "params": job.params,
        "credits": {
            "price": job.price_credits,
            "held": rest if open_hold else 0,
            "charged": job.charged_credits,
            "returned": (0 if open_hold else rest) + job.refunded_credits,
        },
        "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None,
        "outputs": [_output_json(absolute, a, expires) for a in job.assets.all()] if job.is_final else [],
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def _job_for(key: ApiKey, job_id: int) -> Job:
    """The key owner's job ``job_id``; anyone else's is 404 as if it did not exist."""
    job = jobs_for_user(user=key.user).select_related("hold").filter(pk=job_id).first()
    if job is None:
        raise ApiError("not_found", _("That job was not found."), status=404)
    return job


def _page_params(limit: int, offset: int) -> tuple[int, int]:
    if not 1 <= limit <= PAGE_MAX or offset < 0:
        raise ApiError(
            "invalid_request", _("limit is 1 to %(max)d and offset at least 0.") % {"max": PAGE_MAX}, status=422
        )
    return limit, offset


# --- endpoints ------------------------------------------------------------------------


@api.get("/models", response={200: schemas.ModelsOut, **ERRORS}, tags=["models"])
def models_list(request: HttpRequest) -> dict[str, Any]:
    """Every model you can generate with, its options and prices in credits."""
    need_scope(request, Scope.READ)
    return {
        "models": [_model_json(offer) for offer in _models()],
        "consent": {"version": consent.CURRENT_VERSION, "text": str(consent.current_wording())},
    }


@api.get("/models/{slug}", response={200: schemas.ModelOut, **ERRORS}, tags=["models"])
def model_detail(request: HttpRequest, slug: str) -> dict[str, Any]:
    """One model, as in the list."""
    need_scope(request, Scope.READ)
    return _model_json(_model_for(slug))


@api.post("/quote", response={200: schemas.QuoteOut, **ERRORS, 422: schemas.ErrorOut}, tags=["jobs"])
def quote(request: HttpRequest, body: schemas.JobRequest) -> dict[str, Any]:
    """The price of a job with these settings, by the pages' rule (the same
    checks as creating it; nothing is held). A model priced by its text needs
    the prompt for its price; elsewhere the prompt may be left out."""
    key = need_scope(request, Scope.READ)
    offer = _model_for(body.model)
    params = _params_of(body)
    if not params["prompt"]:
        params["prompt"] = "-"  # the price does not depend on it; job_params_clean wants one
    clean = services.job_params_clean(offer=offer, params=params)
    price = offer.price_for(outputs=clean["outputs"], params=clean)
    if not body.prompt:
        clean.pop("prompt", None)
    available = wallet_for(key.user).available
    return {
        "model": offer.slug,
        "outputs": clean["outputs"],
        "params": clean,
        "unit_price": offer.unit_price(clean),
        "price": price,
        "available": available,
        "can_afford": available >= price,
    }


@api.post("/uploads", response={201: schemas.UploadOut, **ERRORS, 422: schemas.ErrorOut}, tags=["uploads"])
def upload_create(
    request: HttpRequest, file: File[UploadedFile], consent_version: Form[str] = ""
) -> Status[dict[str, Any]]:
    """Upload an input image (JPEG, PNG or WebP, checked and stripped of its
    metadata as on the pages). For a photo of a person (Avatar) send
    ``consent_version``: the version from GET /models you agree to."""
    key = need_scope(request, Scope.GENERATE)
    if consent_version and consent_version != consent.CURRENT_VERSION:
        raise ApiError(
            "consent_changed", _("The consent wording has changed; please read it and confirm again."), status=422
        )
    upload: Upload = services.upload_create(user=key.user, file=file, consent_version=consent_version or None)
    return Status(
        201,
        {
            "id": upload.pk,
            "content_type": upload.content_type,
            "width": upload.width,
            "height": upload.height,
            "size_bytes": upload.size_bytes,
            "consent_version": consent_version or None,
        },
    )


@api.post(
    "/jobs",
    response={201: schemas.JobOut, 402: schemas.ErrorOut, **ERRORS, 422: schemas.ErrorOut},
    tags=["jobs"],
)
def job_create(
    request: HttpRequest,
    body: schemas.JobRequest,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),  # type: ignore[type-arg]  # ninja: a default, not a type
) -> HttpResponse:
    """Start a job: its price is held from your credits (402 when they are
    short) and charged per output delivered; the rest comes back. With an
    ``Idempotency-Key`` header a retried request (same key, same body,
    within 24 hours) gets the first answer and starts nothing new."""
    key = need_scope(request, Scope.GENERATE)
    rate_check(request, group=JOBS_GROUP, rate=settings.MIRSAM_API_RATE_JOBS)

    def run() -> tuple[int, dict[str, Any]]:
        try:
            offer = _model_for(body.model)
            uploads = list(Upload.objects.filter(pk__in=body.uploads, user=key.user))
            results = list(Asset.objects.filter(pk__in=body.results, user=key.user).select_related("job"))
            if len(uploads) != len(set(body.uploads)) or len(results) != len(set(body.results)):
                raise ApiError("not_found", _("That file was not found."), status=404)
            uploads.sort(key=lambda u: body.uploads.index(u.pk))
            results.sort(key=lambda a: body.results.index(a.pk))
            job = services.job_submit_with_uploads(
                user=key.user, offer=offer, params=_params_of(body), uploads=uploads, results=results
            )
        except (ApiError, GenerationError, InsufficientCredits) as exc:
            error = as_api_error(exc)
            return error.status, error.body()
        job = jobs_for_user(user=key.user).select_related("hold").get(pk=job.pk)
        return 201, job_json(request, job)

    if idempotency_key is None:
        status, payload = run()
        return JsonResponse(payload, status=status)
    status, text = idempotent(api_key=key, key=idempotency_key, payload=body.dict(), run=run)
    return HttpResponse(text, status=status, content_type="application/json")


@api.get("/jobs", response={200: schemas.JobPage, **ERRORS, 422: schemas.ErrorOut}, tags=["jobs"])
def jobs_list(
    request: HttpRequest, limit: Query[int] = 20, offset: Query[int] = 0, status: Query[str] = ""
) -> dict[str, Any]:
    """Your jobs, newest first; ``limit`` (1–100) from ``offset``, perhaps of one ``status``."""
    key = need_scope(request, Scope.READ)
    limit, offset = _page_params(limit, offset)
    jobs = jobs_for_user(user=key.user, status=status or None).select_related("hold")
    count = jobs.count()
    items = [job_json(request, job) for job in jobs[offset : offset + limit]]
    return {"count": count, "items": items, "next_offset": offset + limit if offset + limit < count else None}


@api.get("/jobs/{job_id}", response={200: schemas.JobOut, **ERRORS}, tags=["jobs"])
def job_detail(request: HttpRequest, job_id: int) -> dict[str, Any]:
    """One of your jobs: its status, credits and, once finished, its outputs
    with download links that work for a few minutes without a key."""
    key = need_scope(request, Scope.READ)
    return job_json(request, _job_for(key, job_id))


@api.post("/jobs/{job_id}/cancel", response={200: schemas.JobOut, **ERRORS}, tags=["jobs"])
def job_cancel(request: HttpRequest, job_id: int) -> dict[str, Any]:
    """Cancel a job that has not finished: outputs already delivered are
    charged, the rest of its hold comes back. A finished job is returned as it is."""
    key = need_scope(request, Scope.GENERATE)
    services.job_cancel(job=_job_for(key, job_id))
    return job_json(request, _job_for(key, job_id))


@api.get("/balance", response={200: schemas.BalanceOut, **ERRORS}, tags=["credits"])
def balance(request: HttpRequest) -> dict[str, Any]:
    """Your credits: balance (held ones included), held, available, owed."""
    key = need_scope(request, Scope.READ)
    wallet = wallet_for(key.user)
    return {"balance": wallet.balance, "held": wallet.held, "available": wallet.available, "owed": wallet.owed}


@api.get("/credits/history", response={200: schemas.EntryPage, **ERRORS, 422: schemas.ErrorOut}, tags=["credits"])
def credit_history(request: HttpRequest, limit: Query[int] = 25, offset: Query[int] = 0) -> dict[str, Any]:
    """Every change to your credits, newest first, described as on the history page."""
    key = need_scope(request, Scope.READ)
    limit, offset = _page_params(limit, offset)
    entries = entries_for_user(user=key.user)
    count = entries.count()
    page = entries_describe(entries[offset : offset + limit])
    items = [
        {
            "id": e.pk,
            "kind": e.kind,
            "amount": e.amount,
            "held_change": e.held_delta,
            "balance_after": e.balance_after,
            "available_after": e.available_after,
            "description": str(e.description),
            "reference": e.reference,
            "created_at": e.created_at,
        }
        for e in page
    ]
    return {"count": count, "items": items, "next_offset": offset + limit if offset + limit < count else None}
