"""Submitting: what can be generated here, checking a request, holding its
price and creating the job; regenerate and extend build on the same door.

:func:`job_submit` is the one door every job goes through (the pages, staff
retries and, later, the API): the price comes from the catalogue with the
chosen options, never from the client, and the hold and the job are written
in one transaction. :func:`job_submit_with_files` is the door for a request
that brings files (a video's first frame, avatar photos, reference images):
it checks everything it can before a file is stored, and stores none when the
job is refused. A job's inputs may also be the user's own earlier results
(``results``: picked references, the source of a tool); :func:`job_tool_apply`
runs a tool (upscale, remove the background) on one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from credits.selectors import has_paid
from credits.services import credits_hold, wallet_lock
from providers import pricing
from providers.models import Offer, Service
from providers.registry import get_adapter
from providers.shots import ShotsError, shots_on, split_shots
from providers.tools import SOURCE_ROLE, is_tool, tool_spec

from .. import consent
from ..errors import GenerationError
from ..models import (
    FINAL_JOB_STATUSES,
    JOB_HOLD_PREFIX,
    Asset,
    Consent,
    Job,
    JobInput,
    JobStatus,
    Project,
    ProviderTask,
    StylePreset,
    TaskStatus,
    Upload,
    search_text,
)
from ..queues import queue_for
from .library import project_for_job
from .uploads import upload_create, upload_delete

if TYPE_CHECKING:
    from accounts.models import User

#: A job input's file: one of the user's uploads or one of their earlier results.
_Source = tuple[Upload | None, Asset | None]

#: Services whose inputs are photos of people: a job needs the user's consent
#: to the current wording (generation.consent) for each photo.
CONSENT_SERVICES = frozenset({Service.AVATAR})

TEXT_LABELS = {"style": gettext_lazy("style"), "title": gettext_lazy("title")}
PARAM_LABELS = {
    "aspect_ratio": gettext_lazy("aspect ratio"),
    "duration": gettext_lazy("duration"),
    "resolution": gettext_lazy("resolution"),
    "sound": gettext_lazy("sound"),
    "mode": gettext_lazy("quality"),
    "quality": gettext_lazy("quality"),
    "multi_shot": gettext_lazy("shots"),
    "factor": gettext_lazy("scale"),
    "voice": gettext_lazy("voice"),
    "voice_2": gettext_lazy("second voice"),
    "speed": gettext_lazy("speed"),
    "stability": gettext_lazy("stability"),
    "instrumental": gettext_lazy("vocals"),
    "vocal_gender": gettext_lazy("singer"),
    "loop": gettext_lazy("loop"),
}


def usable(offer: Offer) -> bool:
    """Whether ``offer`` can run here: its adapter is configured and, for a
    row with ``options["needs_callback"]`` (Suno, docs/kie.md §2.7), this
    site has a callback address the provider can reach
    (:meth:`~providers.base.Adapter.callback_base_url`: kie.ai's is
    ``KIE_CALLBACK_BASE_URL``)."""
    adapter = get_adapter(offer.adapter)
    if not adapter.is_configured():
        return False
    return not offer.options.get("needs_callback") or (adapter.supports_callbacks and bool(adapter.callback_base_url()))


def offers_available(*, service: str) -> list[Offer]:
    """Active catalogue models of ``service`` whose adapter is configured
    here, tools left out (they work on a result, not in the studio's model
    pickers: :func:`tools_available`), and speaking models too (they have
    their own page: :func:`speaking_offers_available`); only :func:`usable` ones."""
    return [
        offer
        for offer in Offer.objects.filter(service=service, is_active=True)
        if not is_tool(offer) and not offer.speaks and usable(offer)
    ]


def speaking_offers_available() -> list[Offer]:
    """Active speaking models (``Offer.speaks``: talking portraits and
    lip-syncs) whose adapter is configured here, in catalogue order."""
    return [
        offer
        for offer in Offer.objects.filter(is_active=True, options__has_key="speaks").order_by("sort_order", "slug")
        if offer.speaks and usable(offer)
    ]


def tools_available() -> list[Offer]:
    """Active tools (``providers.tools``) whose adapter is configured here, in
    catalogue order; one query."""
    return [
        offer
        for offer in Offer.objects.filter(is_active=True, options__has_key="tool").order_by("sort_order", "slug")
        if is_tool(offer) and get_adapter(offer.adapter).is_configured()
    ]


def catalogue_available() -> tuple[dict[str, list[Offer]], list[Offer], list[Offer]]:
    """What :func:`offers_available` (per service, all four),
    :func:`tools_available` and :func:`speaking_offers_available` return,
    from one query: ``({service: [Offer]}, tools, speaking)``, each in
    catalogue order."""
    by_service: dict[str, list[Offer]] = {service: [] for service in Service.values}
    tools: list[Offer] = []
    speaking: list[Offer] = []
    for offer in Offer.objects.filter(is_active=True).order_by("sort_order", "slug"):
        if is_tool(offer):
            if get_adapter(offer.adapter).is_configured():
                tools.append(offer)
        elif usable(offer):
            (speaking if offer.speaks else by_service.setdefault(offer.service, [])).append(offer)
    return by_service, tools, speaking


def _check_available(offer: Offer) -> None:
    if not offer.is_active or not usable(offer):
        raise GenerationError(_("This model is not available right now."), code="unavailable")


def job_params_clean(*, offer: Offer, params: dict[str, Any]) -> dict[str, Any]:
    """Check ``params`` against what ``offer`` accepts and return the clean set:
    ``{"prompt": str, "outputs": int, <each option of the model>: str}``;
    a missing option takes the model's default. A tool (``providers.tools``)
    takes no prompt: its clean set has none; a row with
    ``options["prompt_optional"]`` (a talking portrait) may have none. Raises :class:`GenerationError`
    naming the first problem."""
    prompt = "" if is_tool(offer) else str(params.get("prompt") or "").strip()
    if not prompt and not is_tool(offer) and not offer.options.get("prompt_optional"):
        raise GenerationError(_("Write a prompt first."), code="prompt")
    limit = min(offer.prompt_max_length, settings.MIRSAM_PROMPT_MAX_LENGTH)
    if len(prompt) > limit:
        raise GenerationError(
            _("The prompt is too long: %(length)d characters, at most %(limit)d.")
            % {"length": len(prompt), "limit": limit},
            code="prompt",
        )
    clean: dict[str, Any] = {"prompt": prompt} if prompt else {}
    for name, spec in offer.param_specs.items():
        value = params.get(name)
        value = spec["default"] if value in (None, "") else str(value)
        if value not in spec["choices"]:
            if name == "aspect_ratio":
                raise GenerationError(
                    _("This model does not offer the aspect ratio %(ratio)s.") % {"ratio": value}, code="option"
                )
            raise GenerationError(
                _("This model does not offer %(value)s for %(name)s.")
                % {"value": value, "name": PARAM_LABELS.get(name, name)},
                code="option",
            )
        clean[name] = value
    if offer.forbidden(clean):
        raise GenerationError(_("This model does not offer that combination of settings."), code="option")
    clean.update(_texts_clean(offer, params, prompt))
    shots = offer.options.get("shots")
    if shots is not None and shots_on(shots, clean):
        try:
            split_shots(shots, prompt, int(clean.get(str(shots.get("seconds", "duration"))) or 0))
        except ShotsError as exc:
            raise GenerationError(str(exc), code="shots") from exc
    try:
        outputs = int(params.get("outputs") or 1)
    except (TypeError, ValueError):
        outputs = 0
    if not 1 <= outputs <= offer.max_outputs:
        raise GenerationError(_("Choose between 1 and %(max)d images.") % {"max": offer.max_outputs}, code="outputs")
    clean["outputs"] = outputs
    return clean


def _texts_clean(offer: Offer, params: dict[str, Any], prompt: str) -> dict[str, str]:
    """The model's free-text fields (``offer.text_specs``: a song's title and
    style) that ``params`` fills, stripped and within their length. A row
    with ``options["custom"]`` (Suno, docs/kie.md §2.7) takes them all or
    none, and without them its prompt is a description of at most
    ``custom["plain_prompt_max"]`` characters. Raises :class:`GenerationError`."""
    texts: dict[str, str] = {}
    for name, spec in offer.text_specs.items():
        value = " ".join(str(params.get(name) or "").split())
        if len(value) > spec["max"]:
            raise GenerationError(
                _("The %(name)s is too long: %(length)d characters, at most %(limit)d.")
                % {"name": TEXT_LABELS.get(name, name), "length": len(value), "limit": spec["max"]},
                code="text",
            )
        if value:
            texts[name] = value
    custom = offer.options.get("custom")
    if isinstance(custom, dict) and offer.text_specs:
        if texts and len(texts) < len(offer.text_specs):
            raise GenerationError(_("For your own lyrics or style, give both a style and a title."), code="text")
        plain_max = int(custom.get("plain_prompt_max") or 0)
        if not texts and plain_max and len(prompt) > plain_max:
            raise GenerationError(
                _(
                    "A description is at most %(limit)d characters (yours has %(length)d); "
                    "for longer lyrics, give a style and a title."
                )
                % {"limit": plain_max, "length": len(prompt)},
                code="prompt",
            )
    return texts


def _check_input_count(offer: Offer, count: int) -> None:
    """The number of input images (uploads and picked results together) fits
    the model (``offer.input_limits``)."""
    low, high = offer.input_limits
    if count > high:
        if not high:
            raise GenerationError(_("This model does not take images."), code="inputs")
        raise GenerationError(
            ngettext("This model takes at most %(max)d image.", "This model takes at most %(max)d images.", high)
            % {"max": high},
            code="inputs",
        )
    if count < low:
        if "reference" in offer.input_roles:
            message = ngettext(
                "Add at least %(min)d reference image.", "Add at least %(min)d reference images.", low
            ) % {"min": low}
        else:
            message = ngettext("Add at least %(min)d photo.", "Add at least %(min)d photos.", low) % {"min": low}
        raise GenerationError(message, code="inputs")


def _check_results(
    offer: Offer, user: User, results: Sequence[Asset], *, first_position: int, roles: Sequence[str] | None = None
) -> None:
    """Earlier results used as inputs are the user's own finished results of
    the kind their role needs: a video only as a video tool's source, an
    image anywhere else. Photos of people (Avatar) need the consent given
    with an upload, so a consent service takes no results. ``first_position``
    is the position of the first result among the job's inputs (uploads
    come first). Raises :class:`GenerationError` (``not_found`` for a result
    that is not the user's, so a view can answer 404)."""
    if not results:
        return
    if any(a.user_id != user.pk for a in results):
        raise GenerationError(_("That result was not found."), code="not_found")
    if offer.service in CONSENT_SERVICES:
        raise GenerationError(_("Upload the photos for a portrait; earlier results cannot be used."), code="inputs")
    roles = list(roles or offer.input_roles)
    for i, asset in enumerate(results, start=first_position):
        if asset.job.status != JobStatus.SUCCEEDED:
            raise GenerationError(_("That result is not finished."), code="inputs")
        wanted, kind = role_kind(offer, roles[min(i, len(roles) - 1)]), asset_kind(asset)
        if kind != wanted:
            video_for_image = kind == "video" and wanted == "image"
            raise GenerationError(
                _("A video cannot be used here.") if video_for_image else KIND_NEEDED[wanted], code="inputs"
            )


#: What a role's file must be when the role is not an image's (``role_kind``).
ROLE_KINDS = {"speech": "audio", "video": "video"}
KIND_NEEDED = {
    "image": gettext_lazy("This needs an image."),
    "video": gettext_lazy("This needs a video."),
    "audio": gettext_lazy("This needs a sound: a voice-over, a piece of music or an audio file."),
}


def role_kind(offer: Offer, role: str) -> str:
    """What kind of file an input of ``role`` must be for ``offer``: "audio"
    for a speech, "video" for a lip-sync's video or a video tool's source,
    else "image"."""
    spec = tool_spec(offer)
    if role == SOURCE_ROLE and spec is not None and spec.source == Service.VIDEO:
        return "video"
    return ROLE_KINDS.get(role, "image")


def asset_kind(asset: Asset) -> str:
    """ "video", "audio" or "image": what a result's file is."""
    if asset.content_type.startswith("video/"):
        return "video"
    return "audio" if asset.content_type.startswith("audio/") else "image"


def _check_consent(offer: Offer, consent_version: str | None) -> None:
    """A photo of a person is used only with consent to the current wording."""
    if consent_version is None:
        if offer.service in CONSENT_SERVICES:
            raise GenerationError(_("Please confirm the consent statement to continue."), code="consent")
        return
    if consent_version != consent.CURRENT_VERSION:
        raise GenerationError(
            _("The consent wording has changed; please read it and confirm again."), code="consent_changed"
        )


def job_submit(
    *,
    user: User,
    offer: Offer,
    params: dict[str, Any],
    uploads: Sequence[Upload] = (),
    results: Sequence[Asset] = (),
    parent: Job | None = None,
    extra: dict[str, Any] | None = None,
    price: int | None = None,
    submission_key: str = "",
    input_roles: Sequence[str] | None = None,
    awaits_input: bool = False,
    project: Project | None = None,
) -> Job:
    """Create a queued job for ``user``, holding its price in credits.

    The price comes from the catalogue (``offer.price_for`` with the chosen
    options), never from the client; ``price`` overrides it only for server
    decisions such as an extend. ``uploads`` are the user's checked images in
    order, then ``results``: the user's own finished results used as inputs
    (picked reference images, a tool's source); their roles follow
    ``offer.input_roles`` by position (or are ``input_roles``, one per
    upload then result, when the caller names them), and both count against
    the model's ``inputs`` limits together; ``extra`` adds
    server-side parameters (an avatar style, the task to extend). Raises
    :class:`GenerationError` for bad input or an unavailable model and
    ``credits.services.InsufficientCredits`` for a short balance; in both
    cases nothing is created or held. On commit the job's provider tasks are
    submitted by ``generation.tasks.submit_job_task``.

    ``submission_key`` (at most 100 characters) names the request that asks
    (a form's one-time token with its action): the user's job made for the
    same key is returned as it is, so a replayed or double-sent request holds
    and makes nothing more, also when both arrive at once (a unique
    constraint decides).

    ``awaits_input``: one more input will be given to the job later by
    another job (a talking portrait's speech, ``speak.speech_attach``); it
    counts against the model's limits now.

    ``project``: file the job in this project of the user's. Checked in the
    same transaction, before anything is held (``library.project_for_job``):
    :class:`GenerationError` ``not_found`` for another user's project,
    ``over_budget`` when the price would take the project past its budget.
    """
    if submission_key:
        existing = _submitted(user, submission_key)
        if existing is not None:
            return existing
    _check_available(offer)
    clean = job_params_clean(offer=offer, params=params)
    if any(u.user_id != user.pk for u in uploads):
        raise GenerationError(_("That file was not found."), code="inputs")
    # A job that waits for an input another job makes (a speech) counts it now.
    _check_input_count(offer, len(uploads) + len(results) + int(awaits_input))
    if input_roles is not None and len(input_roles) != len(uploads) + len(results):
        raise ValueError("input_roles names one role per upload and result")
    roles = list(input_roles or offer.input_roles)
    _check_results(offer, user, results, first_position=len(uploads), roles=roles)
    clean.update(extra or {})
    total = price if price is not None else offer.price_for(outputs=clean["outputs"], params=clean)
    searchable = search_text(service=_service_of(offer), params=clean, preset_names=_preset_names(clean))
    with transaction.atomic():
        if project is not None:
            project = project_for_job(user=user, project=project, amount=total)
        _check_free_concurrency(user)
        try:
            with transaction.atomic():
                job = Job.objects.create(
                    user=user,
                    offer=offer,
                    service=_service_of(offer),
                    params=clean,
                    price_credits=total,
                    parent=parent,
                    submission_key=submission_key,
                    prompt_text=searchable,
                    project=project,
                )
        except IntegrityError:
            existing = _submitted(user, submission_key) if submission_key else None
            if existing is None:
                raise
            return existing  # the same request, sent twice at once: the other one made the job
        job.hold = credits_hold(
            user=user,
            amount=total,
            reference=f"{JOB_HOLD_PREFIX}{job.pk}",
            reason=f"{offer.get_service_display()} · {offer.name} × {clean['outputs']}",
        )
        # Under the wallet's lock, which account deletion takes too: a job
        # sent while its account was being deleted is not made.
        if get_user_model().objects.filter(pk=user.pk, deleted_at__isnull=False).exists():
            raise GenerationError(_("This account was deleted."), code="account_deleted")
        job.save(update_fields=["hold"])
        sources: list[tuple[Upload | None, Asset | None]] = [(u, None) for u in uploads]
        sources += [(None, a) for a in results]
        placed = _in_role_order(offer, [(roles[min(i, len(roles) - 1)], s) for i, s in enumerate(sources)])
        JobInput.objects.bulk_create(
            [
                JobInput(job=job, upload=upload, asset=asset, role=role, position=i)
                for i, (role, (upload, asset)) in enumerate(placed)
            ]
        )
        estimate = pricing.job_output_cost_usd(offer, clean).quantize(Decimal("0.0001"))
        ProviderTask.objects.bulk_create(
            [ProviderTask(job=job, index=i, estimate_usd=estimate) for i in range(clean["outputs"])]
        )
        from ..tasks import submit_job_task

        language = user.preferred_language or settings.LANGUAGE_CODE
        transaction.on_commit(
            lambda: submit_job_task.apply_async((job.pk,), {"language": language}, queue=queue_for(job))
        )
    return job


def _in_role_order(offer: Offer, inputs: list[tuple[str, _Source]]) -> list[tuple[str, _Source]]:
    """``[(role, source)]`` in the order of their roles in ``offer.input_roles``
    (a stable sort: inputs of one role keep their order; a role the model
    does not name goes last). Positions are what a provider reads (kie.ai's
    ``imageUrls`` are first frame, then last frame), so a first frame picked
    from the results still comes before a last frame uploaded with it."""
    order = {role: i for i, role in reversed(list(enumerate(offer.input_roles)))}
    return sorted(inputs, key=lambda item: order.get(item[0], len(order)))


def _preset_names(params: dict[str, Any]) -> tuple[str, ...]:
    """A portrait style's names, English and Arabic (what the search finds it by)."""
    slug = params.get("preset")
    if not slug:
        return ()
    preset = StylePreset.objects.filter(slug=slug).only("name_en", "name_ar").first()
    if preset is None:
        return (str(slug),)
    names = (getattr(preset, "name_en", ""), getattr(preset, "name_ar", ""))  # modeltranslation's fields
    return tuple(n for n in dict.fromkeys(names) if n)


def _service_of(offer: Offer) -> str:
    """The service a job of ``offer`` belongs to: the model's, but for a tool
    the service of the results it works on (an upscale of an image is in the
    Image feed, whatever service the tool's row names)."""
    spec = tool_spec(offer)
    return spec.source if spec is not None and spec.source in Service.values else offer.service


def _check_free_concurrency(user: User) -> None:
    """A user who never bought credits runs at most
    ``MIRSAM_FREE_CONCURRENT_JOBS`` jobs at once (0 = no limit): free credits
    should not buy a farm of provider work. Locks the wallet, so two
    submissions at once are counted one after the other; call inside the
    job's transaction."""
    cap = settings.MIRSAM_FREE_CONCURRENT_JOBS
    if not cap or has_paid(user=user):
        return
    wallet_lock(user=user)
    running = Job.objects.filter(user=user).exclude(status__in=FINAL_JOB_STATUSES).count()
    if running >= cap:
        raise GenerationError(
            ngettext(
                "With free credits, %(count)d creation runs at a time: wait for it to finish, "
                "or buy credits to run more at once.",
                "With free credits, %(count)d creations run at a time: wait for one to finish, "
                "or buy credits to run more at once.",
                cap,
            )
            % {"count": cap},
            code="free_concurrency",
        )


def _submitted(user: User, submission_key: str) -> Job | None:
    return Job.objects.filter(user=user, submission_key=submission_key).first()


def job_submit_with_files(
    *,
    user: User,
    offer: Offer,
    params: dict[str, Any],
    files: Sequence[UploadedFile],
    uploads: Sequence[Upload] = (),
    results: Sequence[Asset] = (),
    input_roles: Sequence[str] | None = None,
    consent_version: str | None = None,
    extra: dict[str, Any] | None = None,
    submission_key: str = "",
    project: Project | None = None,
) -> Job:
    """:func:`job_submit` for a request that brings its images as files, in
    order, then perhaps some of the user's earlier ``uploads`` (a photo or a
    frame given before: its stored, checked copy is used again, nothing is
    uploaded anew) and earlier ``results``, all counted together. Their roles
    follow ``offer.input_roles`` by position, or are ``input_roles``: one per
    file, then upload, then result (the job's inputs are then placed in the
    order of the model's roles: a first frame before a last frame).

    ``consent_version`` is the version of the consent wording the user
    confirmed (``generation.consent.CURRENT_VERSION`` when they saw the
    current one); a model of a consent service (Avatar: photos of people)
    refuses without it, and any model refuses an outdated one. A consent
    record is kept for each photo, an earlier upload picked again included
    (consent is given for each job).

    The model, the settings, the consent, the number of inputs and the
    earlier uploads and results (the user's own, of the kind their role
    needs: an image for a frame or a photo) are checked before anything is
    stored; then every file is checked and stored (``upload_create``), all
    or none, and the job submitted. Raises :class:`GenerationError`
    (``not_found`` for an upload or result that is not the user's,
    ``UploadRejected`` for a refused file) or ``InsufficientCredits``; then
    no new upload is kept and nothing is held. A ``submission_key`` already
    used returns its job and stores nothing.
    ``project`` as for :func:`job_submit` (a project over its budget is
    refused there, and the files stored for the job are removed again).
    """
    if submission_key:
        existing = _submitted(user, submission_key)
        if existing is not None:
            return existing
    _check_available(offer)
    job_params_clean(offer=offer, params=params)
    _check_consent(offer, consent_version)
    count = len(files) + len(uploads) + len(results)
    _check_input_count(offer, count)
    if input_roles is not None and len(input_roles) != count:
        raise ValueError("input_roles names one role per file, upload and result")
    roles = list(input_roles or offer.input_roles)
    _check_uploads(offer, user, uploads, roles=roles, first_position=len(files))
    _check_results(offer, user, results, first_position=len(files) + len(uploads), roles=roles)
    stored: list[Upload] = []
    try:
        for f in files:
            stored.append(upload_create(user=user, file=f, consent_version=consent_version))
        job = job_submit(
            user=user,
            offer=offer,
            params=params,
            uploads=[*stored, *uploads],
            results=results,
            input_roles=input_roles,
            extra=extra,
            submission_key=submission_key,
            project=project,
        )
    except Exception:
        # A refused job must not leave the user's photos behind.
        for upload in stored:
            upload_delete(upload=upload)
        raise
    if stored and not job.inputs.filter(upload__in=stored).exists():
        for upload in stored:  # a twin sent at the same moment made the job with its own copies
            upload_delete(upload=upload)
        return job
    if consent_version and uploads:
        # A photo picked again is used with the consent given for this job.
        Consent.objects.bulk_create([Consent(user=user, upload=u, version=consent_version) for u in uploads])
    return job


def job_submit_with_uploads(
    *,
    user: User,
    offer: Offer,
    params: dict[str, Any],
    uploads: Sequence[Upload] = (),
    results: Sequence[Asset] = (),
    submission_key: str = "",
) -> Job:
    """:func:`job_submit` for a program (the public API, later an agent)
    that uploaded its images first (``upload_create``) and names them: the
    uploads must be the user's own (else :class:`GenerationError` with code
    ``not_found``), and for a consent service (Avatar) each must carry the
    user's consent to the current wording, given when it was uploaded (code
    ``consent`` / ``consent_changed``). Everything else as
    :func:`job_submit`: the same checks, price, hold and refusals."""
    if any(u.user_id != user.pk for u in uploads):
        raise GenerationError(_("That file was not found."), code="not_found")
    if offer.service in CONSENT_SERVICES and uploads:
        versions = dict(
            Consent.objects.filter(upload__in=uploads).order_by("accepted_at").values_list("upload_id", "version")
        )
        for upload in uploads:
            _check_consent(offer, versions.get(upload.pk))
    elif offer.service in CONSENT_SERVICES:
        _check_consent(offer, None)
    return job_submit(
        user=user, offer=offer, params=params, uploads=uploads, results=results, submission_key=submission_key
    )


def _check_uploads(
    offer: Offer, user: User, uploads: Sequence[Upload], *, roles: Sequence[str], first_position: int
) -> None:
    """Earlier uploads used again are the user's own and of the kind their
    role needs (an image for a frame, a photo or a reference; a recording
    for a speech). ``first_position`` is the position of the first of them
    among the job's inputs. Raises :class:`GenerationError` (``not_found``
    for someone else's, so a view can answer 404)."""
    if any(u.user_id != user.pk for u in uploads):
        raise GenerationError(_("That file was not found."), code="not_found")
    for i, upload in enumerate(uploads, start=first_position):
        wanted = role_kind(offer, roles[min(i, len(roles) - 1)]) if roles else "image"
        kind = "audio" if upload.is_audio else "image" if upload.content_type.startswith("image/") else "other"
        if kind != wanted:
            raise GenerationError(KIND_NEEDED[wanted], code="inputs")


def job_regenerate(*, job: Job, submission_key: str = "") -> Job:
    """A new job with the same model, settings and inputs as ``job`` (held
    and priced anew), filed in the same project. Inputs whose upload or
    earlier result was deleted make it refuse. A tool's job runs the tool again on the same source
    (:func:`job_tool_apply`: its parent is the source's job, not ``job``).
    ``submission_key`` as for :func:`job_submit`."""
    inputs = list(job.inputs.select_related("upload", "asset__job__offer"))
    keep = {"prompt", "outputs", *job.offer.param_specs, *job.offer.text_specs}
    params = {k: v for k, v in job.params.items() if k in keep}
    if is_tool(job.offer):
        source = next((i.asset for i in inputs if i.role == SOURCE_ROLE and i.asset is not None), None)
        if source is None:
            raise GenerationError(_("The original of this result was deleted."), code="inputs_deleted")
        return job_tool_apply(asset=source, tool=job.offer, params=params, submission_key=submission_key)
    if any(i.upload is None and i.asset is None for i in inputs):
        raise GenerationError(_("The photos of this job were deleted; upload them again."), code="inputs_deleted")
    if job.params.get("extend_task_id"):
        raise GenerationError(_("Extend the original video again instead."), code="extended")
    # A speaking job is priced by its speech's seconds, which it keeps; a job
    # that waited for its speech now has it as an input.
    kept = {"preset", "style", "details", *(("duration",) if job.offer.speaks else ())}
    extra = {k: v for k, v in job.params.items() if k in kept}
    from_uploads = [i for i in inputs if i.upload is not None]
    from_results = [i for i in inputs if i.upload is None and i.asset is not None]
    return job_submit(
        user=job.user,
        offer=job.offer,
        params=params,
        uploads=[i.upload for i in from_uploads if i.upload is not None],
        results=[i.asset for i in from_results if i.asset is not None],
        input_roles=[i.role for i in (*from_uploads, *from_results)],
        parent=job,
        extra=extra,
        submission_key=submission_key,
        project=job.project,  # the same project, against its budget
    )


def job_tool_apply(*, asset: Asset, tool: Offer, params: dict[str, Any], submission_key: str = "") -> Job:
    """Run ``tool`` (a catalogue row with ``options["tool"]``,
    ``providers.tools``) on ``asset``, one of its owner's finished results:
    a new job for the asset's owner with the tool as its model, one input
    (role ``"source"``) = ``asset``, the tool's own options from ``params``
    (others are ignored; missing ones take the tool's defaults), priced by
    the tool's ``price_for`` and held like any job; its ``parent`` is the
    source's job, so the new card says what it was made from.

    Raises :class:`GenerationError` (``not_applicable``) when the tool does
    not work on this result (another service or model, a video for an image
    tool, an unfinished job), what :func:`job_submit` raises otherwise.
    ``submission_key`` as for :func:`job_submit`."""
    if submission_key:
        existing = _submitted(asset.user, submission_key)
        if existing is not None:
            return existing
    source_job = asset.job
    spec = tool_spec(tool)
    if (
        spec is None
        or source_job.status != JobStatus.SUCCEEDED
        or not spec.applies_to(service=source_job.service, model_slug=source_job.offer.slug)
        or asset.is_video != (spec.source == Service.VIDEO)
    ):
        raise GenerationError(_("This tool does not work on that result."), code="not_applicable")
    options: dict[str, Any] = {name: params.get(name) for name in tool.param_specs}
    options["outputs"] = 1
    return job_submit(
        user=asset.user,
        offer=tool,
        params=options,
        results=[asset],
        parent=source_job,
        extra=_source_facts(asset),
        submission_key=submission_key,
        project=source_job.project,
    )


def _source_facts(asset: Asset) -> dict[str, Any]:
    """What a tool's job needs to know of its source besides the file: the
    provider task that made it (``source_task_id``, ``source_index``: Veo's
    own upscales name the clip at kie.ai, docs/kie.md §2.2) and its length
    in seconds (``duration``: a video tool is priced per second of it)."""
    facts: dict[str, Any] = {}
    task = asset.task
    if task is not None and task.task_id:
        facts.update(source_task_id=task.task_id, source_index=0)
    duration = str(asset.job.params.get("duration") or "")
    if duration.isdigit():
        facts["duration"] = duration
    return facts


def job_extend(*, job: Job, prompt: str, submission_key: str = "") -> Job:
    """Continue a finished video (Veo, Runway, demo): a new job that
    references its parent, priced at the model's ``extend_price_credits`` and
    held like any other. Raises :class:`GenerationError` when the job cannot
    be extended. ``submission_key`` as for :func:`job_submit`."""
    if not job.can_extend:
        raise GenerationError(_("This video cannot be extended."), code="not_extendable")
    task = job.tasks.filter(status=TaskStatus.SUCCEEDED).exclude(task_id="").first()
    if task is None:
        raise GenerationError(_("This video cannot be extended."), code="not_extendable")
    params = {k: v for k, v in job.params.items() if k in job.offer.param_specs}
    params.update({"prompt": prompt, "outputs": 1})
    return job_submit(
        user=job.user,
        offer=job.offer,
        params=params,
        parent=job,
        extra={"extend_task_id": task.task_id},
        price=job.offer.extend_price_credits,
        submission_key=submission_key,
        project=job.project,
    )
