"""The generation pipeline (DESIGN.md, "The generation pipeline").

``job_submit`` validates, prices from the catalogue, holds credits and
creates the job in one transaction, then (on commit) a Celery task submits
its provider tasks (``job_dispatch``). Results arrive by callback
(``callback_receive``) or by polling (``job_poll``); each final task result
goes through ``task_complete``, which downloads the outputs into our storage
and, once every task is final, ``job_try_finish`` captures the price of what
was delivered and releases the rest. ``sweep_stuck_jobs`` fails jobs past
their deadline. Every step is guarded by state, so repeating one (a
duplicated callback, a redelivered Celery message) changes nothing.

Errors: :class:`GenerationError` carries a message for the user; credits
errors (``InsufficientCredits``) pass through from ``credits.services``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from credits.models import EntryKind
from credits.services import credits_capture, credits_grant, credits_hold
from providers.base import Download, InputFile, ProviderError, TaskRequest, TaskResult, TaskState
from providers.models import Offer
from providers.registry import get_adapter

from .media import CheckedOutput, image_check, output_check, video_poster
from .models import FINAL_JOB_STATUSES, Asset, Consent, Job, JobInput, JobStatus, ProviderTask, TaskStatus, Upload
from .queues import queue_for

log = logging.getLogger(__name__)

CANCELED_CODE = "canceled"
TIMEOUT_MESSAGE = gettext_lazy("The provider did not finish in time. Your credits were returned.")


class GenerationError(Exception):
    """A refused generation request; ``message`` is safe to show the user."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


def owner_language(*, job_id: int, language: str = "") -> translation.override:
    """Messages a job stores (failure reasons) are written in its owner's
    language: workers, callbacks and the sweeper run outside any request.
    ``language`` is the owner's language when the caller knows it (pipeline
    messages carry it); otherwise it is read from the database."""
    if not language:
        language = Job.objects.filter(pk=job_id).values_list("user__preferred_language", flat=True).first() or ""
    return translation.override(language or settings.LANGUAGE_CODE)


# --- submitting -----------------------------------------------------------------


def offers_available(*, service: str) -> list[Offer]:
    """Active catalogue models of ``service`` whose adapter is configured here."""
    return [
        offer
        for offer in Offer.objects.filter(service=service, is_active=True)
        if get_adapter(offer.adapter).is_configured()
    ]


PARAM_LABELS = {
    "aspect_ratio": gettext_lazy("aspect ratio"),
    "duration": gettext_lazy("duration"),
    "resolution": gettext_lazy("resolution"),
    "sound": gettext_lazy("sound"),
}


def job_params_clean(*, offer: Offer, params: dict[str, Any]) -> dict[str, Any]:
    """Check ``params`` against what ``offer`` accepts and return the clean set:
    ``{"prompt": str, "outputs": int, <each option of the model>: str}``;
    a missing option takes the model's default. Raises
    :class:`GenerationError` naming the first problem."""
    prompt = str(params.get("prompt") or "").strip()
    if not prompt:
        raise GenerationError(_("Write a prompt first."))
    limit = min(offer.prompt_max_length, settings.MIRSAM_PROMPT_MAX_LENGTH)
    if len(prompt) > limit:
        raise GenerationError(
            _("The prompt is too long: %(length)d characters, at most %(limit)d.")
            % {"length": len(prompt), "limit": limit}
        )
    clean: dict[str, Any] = {"prompt": prompt}
    for name, spec in offer.param_specs.items():
        value = params.get(name)
        value = spec["default"] if value in (None, "") else str(value)
        if value not in spec["choices"]:
            if name == "aspect_ratio":
                raise GenerationError(_("This model does not offer the aspect ratio %(ratio)s.") % {"ratio": value})
            raise GenerationError(
                _("This model does not offer %(value)s for %(name)s.")
                % {"value": value, "name": PARAM_LABELS.get(name, name)}
            )
        clean[name] = value
    if offer.forbidden(clean):
        raise GenerationError(_("This model does not offer that combination of settings."))
    try:
        outputs = int(params.get("outputs") or 1)
    except (TypeError, ValueError):
        outputs = 0
    if not 1 <= outputs <= offer.max_outputs:
        raise GenerationError(_("Choose between 1 and %(max)d images.") % {"max": offer.max_outputs})
    clean["outputs"] = outputs
    return clean


def _check_inputs(*, offer: Offer, user, uploads: Sequence[Upload]) -> None:  # noqa: ANN001
    low, high = offer.input_limits
    if any(u.user_id != user.pk for u in uploads):
        raise GenerationError(_("That file was not found."))
    if len(uploads) > high:
        raise GenerationError(
            _("This model takes at most %(max)d images.") % {"max": high}
            if high
            else _("This model does not take images.")
        )
    if len(uploads) < low:
        raise GenerationError(_("Add at least %(min)d photo.") % {"min": low})


def job_submit(
    *,
    user,  # noqa: ANN001
    offer: Offer,
    params: dict[str, Any],
    uploads: Sequence[Upload] = (),
    parent: Job | None = None,
    extra: dict[str, Any] | None = None,
    price: int | None = None,
) -> Job:
    """Create a queued job for ``user``, holding its price in credits.

    The price comes from the catalogue (``offer.price_for`` with the chosen
    options), never from the client; ``price`` overrides it only for server
    decisions such as an extend. ``uploads`` are the user's checked images in
    order (their roles follow ``offer.input_roles``); ``extra`` adds
    server-side parameters (an avatar style, the task to extend). Raises
    :class:`GenerationError` for bad input or an unavailable model and
    ``credits.services.InsufficientCredits`` for a short balance; in both
    cases nothing is created or held.
    """
    if not offer.is_active or not get_adapter(offer.adapter).is_configured():
        raise GenerationError(_("This model is not available right now."))
    clean = job_params_clean(offer=offer, params=params)
    _check_inputs(offer=offer, user=user, uploads=uploads)
    clean.update(extra or {})
    total = price if price is not None else offer.price_for(outputs=clean["outputs"], params=clean)
    with transaction.atomic():
        job = Job.objects.create(
            user=user, offer=offer, service=offer.service, params=clean, price_credits=total, parent=parent
        )
        job.hold = credits_hold(
            user=user,
            amount=total,
            reference=f"job:{job.pk}",
            reason=f"{offer.get_service_display()} · {offer.name} × {clean['outputs']}",
        )
        job.save(update_fields=["hold"])
        roles = offer.input_roles
        JobInput.objects.bulk_create(
            [
                JobInput(job=job, upload=upload, role=roles[min(i, len(roles) - 1)], position=i)
                for i, upload in enumerate(uploads)
            ]
        )
        ProviderTask.objects.bulk_create([ProviderTask(job=job, index=i) for i in range(clean["outputs"])])
        from .tasks import submit_job_task

        language = user.preferred_language or settings.LANGUAGE_CODE
        transaction.on_commit(
            lambda: submit_job_task.apply_async((job.pk,), {"language": language}, queue=queue_for(job))
        )
    return job


def job_regenerate(*, job: Job) -> Job:
    """A new job with the same model, settings and inputs as ``job`` (held
    and priced anew). Inputs whose upload was deleted make it refuse."""
    inputs = list(job.inputs.select_related("upload"))
    if any(i.upload is None for i in inputs):
        raise GenerationError(_("The photos of this job were deleted; upload them again."))
    if job.params.get("extend_task_id"):
        raise GenerationError(_("Extend the original video again instead."))
    params = {k: v for k, v in job.params.items() if k in {"prompt", "outputs", *job.offer.param_specs}}
    extra = {k: v for k, v in job.params.items() if k in {"preset", "style", "details"}}
    return job_submit(
        user=job.user, offer=job.offer, params=params, uploads=[i.upload for i in inputs], parent=job, extra=extra
    )


def job_extend(*, job: Job, prompt: str) -> Job:
    """Continue a finished video (Veo, Runway, demo): a new job that
    references its parent, priced at the model's ``extend_price_credits`` and
    held like any other. Raises :class:`GenerationError` when the job cannot
    be extended."""
    if not job.can_extend:
        raise GenerationError(_("This video cannot be extended."))
    task = job.tasks.filter(status=TaskStatus.SUCCEEDED).exclude(task_id="").first()
    if task is None:
        raise GenerationError(_("This video cannot be extended."))
    params = {k: v for k, v in job.params.items() if k in job.offer.param_specs}
    params.update({"prompt": prompt, "outputs": 1})
    return job_submit(
        user=job.user,
        offer=job.offer,
        params=params,
        parent=job,
        extra={"extend_task_id": task.task_id},
        price=job.offer.extend_price_credits,
    )


def _callback_url(job: Job) -> str | None:
    base = settings.KIE_CALLBACK_BASE_URL
    if not base or not get_adapter(job.offer.adapter).supports_callbacks:
        return None
    return base.rstrip("/") + reverse("provider_callback", kwargs={"token": job.callback_token})


def _opener(upload: Upload):  # noqa: ANN202
    return lambda: upload.file.storage.open(upload.file.name, "rb")


def _pipeline_job(job_id: int) -> Job:
    """The job with its model, and whether it has user images (so a job
    without any needs no query for them)."""
    return (
        Job.objects.select_related("offer")
        .annotate(has_inputs=Exists(JobInput.objects.filter(job=OuterRef("pk"))))
        .get(pk=job_id)
    )


def _input_files(job: Job) -> tuple[InputFile, ...]:
    """The job's user images in order, read once per ``Job`` instance (a task
    run asks for them per provider call)."""
    cached = job.__dict__.get("_input_files")
    if cached is None and job.__dict__.get("has_inputs") is False:
        cached = job.__dict__["_input_files"] = ()
    if cached is None:
        cached = job.__dict__["_input_files"] = tuple(
            InputFile(
                name=i.upload.file.name.rsplit("/", 1)[-1],
                content_type=i.upload.content_type,
                open=_opener(i.upload),
                role=i.role,
            )
            for i in job.inputs.select_related("upload")
            if i.upload is not None
        )
    return cached


def _task_request(job: Job, task: ProviderTask) -> TaskRequest:
    inputs = _input_files(job)
    params = {k: v for k, v in job.params.items() if k != "outputs"}
    params.setdefault("output_format", job.offer.options.get("output_format", "png"))
    return TaskRequest(
        job_id=job.pk,
        index=task.index,
        provider_model=job.offer.provider_model_for(with_inputs=bool(inputs)),
        params=params,
        callback_url=_callback_url(job),
        inputs=inputs,
    )


def job_dispatch(*, job_id: int) -> Job:
    """Submit every not-yet-submitted task of the job to its provider.

    A permanent :class:`ProviderError` fails that task; a transient one is
    raised so the Celery task retries (tasks already submitted are skipped
    next time). Returns the job.
    """
    job = _pipeline_job(job_id)
    if job.is_final:
        return job
    adapter = get_adapter(job.offer.adapter)
    submitted = failed = 0
    for task in job.tasks.filter(status=TaskStatus.PENDING, task_id=""):
        try:
            task_id = adapter.submit(_task_request(job, task))
        except ProviderError as exc:
            if not exc.permanent:
                raise
            _task_finish_failed(task.pk, code=exc.code, message=str(exc.message))
            failed += 1
            continue
        ProviderTask.objects.filter(pk=task.pk, task_id="").update(
            task_id=task_id, status=TaskStatus.RUNNING, updated_at=timezone.now()
        )
        submitted += 1
    now = timezone.now()
    if Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.SUBMITTED, submitted_at=now, updated_at=now
    ):
        job.status, job.submitted_at, job.updated_at = JobStatus.SUBMITTED, now, now
    if submitted and not failed:
        return job  # every task is running at the provider: nothing can be finished yet
    return job_try_finish(job_id=job.pk)


# --- results --------------------------------------------------------------------


def _task_finish_failed(task_pk: int, *, code: str, message: str) -> None:
    ProviderTask.objects.filter(pk=task_pk, status__in=[TaskStatus.PENDING, TaskStatus.RUNNING]).update(
        status=TaskStatus.FAILED, error_code=code[:64], error_message=message, updated_at=timezone.now()
    )


def job_mark_processing(*, job_id: int) -> None:
    Job.objects.filter(pk=job_id, status__in=[JobStatus.QUEUED, JobStatus.SUBMITTED]).update(
        status=JobStatus.PROCESSING, updated_at=timezone.now()
    )


@dataclass
class _Fetched:
    download: Download
    checked: CheckedOutput
    poster: bytes | None = None


def _fetch_outputs(job: Job, task: ProviderTask, result: TaskResult) -> list[_Fetched]:
    """Download and check every output of a succeeded task (and, for a video,
    its poster: the provider's, else its first frame). Raises ProviderError."""
    adapter = get_adapter(job.offer.adapter)
    request = _task_request(job, task)
    if not result.output_urls:
        raise ProviderError(_("The provider finished without a result."), code="no_output", permanent=True)
    fetched: list[_Fetched] = []
    try:
        for i, url in enumerate(result.output_urls):
            download = adapter.download(url, request, max_bytes=settings.MIRSAM_OUTPUT_MAX_BYTES)
            item = _Fetched(download, output_check(download.file))
            fetched.append(item)
            if item.checked.is_video:
                item.poster = _poster(adapter, request, result, i, download)
    except Exception:
        for item in fetched:
            item.download.file.close()
        raise
    return fetched


def _poster(adapter, request: TaskRequest, result: TaskResult, index: int, video: Download) -> bytes | None:  # noqa: ANN001
    if index < len(result.poster_urls):
        try:
            poster = adapter.download(result.poster_urls[index], request, max_bytes=settings.MIRSAM_OUTPUT_MAX_BYTES)
            with poster.file:
                image_check(poster.file)
                return poster.file.read()
        except (ProviderError, requests.RequestException) as exc:
            log.info("provider poster unusable (%s); using the first frame", exc)
    frame = video_poster(video.file)
    return frame[0] if frame else None


def task_complete(*, task_pk: int, result: TaskResult) -> Job | None:
    """Record a task's final result: download its outputs into our storage
    (provider URLs expire) and finish the job if it was the last task.

    Idempotent: a task already final is left as it is, so a duplicated
    callback or a poll racing a callback stores files and charges once.
    Returns the job as :func:`job_try_finish` left it, or ``None`` when there
    was nothing to record (a running state, a task already final).
    """
    task = ProviderTask.objects.select_related("job__offer").get(pk=task_pk)
    return _task_record(task.job, task, result)


def _task_record(job: Job, task: ProviderTask, result: TaskResult) -> Job | None:
    """:func:`task_complete` for a task and its job already read."""
    if not result.state.is_final:
        if result.state == TaskState.RUNNING:
            job_mark_processing(job_id=job.pk)
        return None
    if task.is_final:
        return None
    fetched: list[_Fetched] = []
    code, message = result.error_code, result.error_message
    succeeded = result.state == TaskState.SUCCEEDED
    if succeeded:
        try:
            fetched = _fetch_outputs(job, task, result)
        except ProviderError as exc:
            succeeded, code, message = False, exc.code, str(exc.message)
        except requests.RequestException as exc:
            log.warning("download of task %s failed: %s", task.pk, exc)
            succeeded, code, message = False, "download_failed", _("We could not fetch the result from the provider.")
    if succeeded:
        claim = {"status": TaskStatus.SUCCEEDED, "output_urls": list(result.output_urls)}
    else:
        claim = {
            "status": TaskStatus.FAILED,
            "error_code": (code or "failed")[:64],
            "error_message": message or _("The provider could not make this."),
        }
    # The files go to storage before any row is locked (an upload to S3 can
    # take a while). Then one transaction records the result and finishes the
    # job: the job is locked first, as staff actions do (job_refund cancels
    # its tasks under the job's lock), and the task is claimed by a
    # conditional update, so a task someone else made final is left alone and
    # nothing is stored or charged twice. Files of a result not recorded are
    # deleted again.
    finished = None
    assets: list[Asset] = []
    try:
        for offset, item in enumerate(fetched):
            assets.append(_stored_asset(job, task, offset, item))
        with transaction.atomic():
            locked = _lock_job(job.pk)
            unfinished = ProviderTask.objects.filter(pk=task.pk, status__in=[TaskStatus.PENDING, TaskStatus.RUNNING])
            if unfinished.update(**claim, updated_at=timezone.now()):
                Asset.objects.bulk_create(assets)
                finished = _finish_locked(locked)
    finally:
        for item in fetched:
            item.download.file.close()
        if finished is None:
            for asset in assets:
                _delete_files(asset)
    return finished


def _stored_asset(job: Job, task: ProviderTask, offset: int, item: _Fetched) -> Asset:
    """An unsaved asset for one fetched output, its file (and poster) already in storage."""
    asset = Asset(
        job=job,
        user_id=job.user_id,
        task=task,
        index=task.index + offset,
        content_type=item.checked.content_type,
        size_bytes=item.download.size,
        width=item.checked.width,
        height=item.checked.height,
    )
    asset.file.save(f"output.{item.checked.extension}", File(item.download.file), save=False)
    if item.poster:
        asset.poster.save("poster.png", ContentFile(item.poster), save=False)
    return asset


def _delete_files(asset: Asset) -> None:
    for field in (asset.file, asset.poster):
        if field.name:
            field.storage.delete(field.name)


def _lock_job(job_id: int) -> Job:
    return Job.objects.select_related("hold").select_for_update(of=("self",)).get(pk=job_id)


def job_try_finish(*, job_id: int) -> Job:
    """If every task of the job is final, finish the job: capture the price
    of the outputs delivered, release the rest, set the final status.
    Otherwise return the job unchanged."""
    with transaction.atomic():
        return _finish_locked(_lock_job(job_id))


def _finish_locked(job: Job) -> Job:
    """:func:`job_try_finish` for a job locked in the current transaction."""
    if job.is_final:
        return job
    tasks = list(job.tasks.all())
    if any(not t.is_final for t in tasks):
        return job
    delivered = [t for t in tasks if t.status == TaskStatus.SUCCEEDED]
    failed = [t for t in tasks if t.status == TaskStatus.FAILED]
    per_output = job.price_credits // max(1, len(tasks))
    charge = per_output * len(delivered)
    if job.hold is not None:
        credits_capture(hold=job.hold, amount=charge, reason=f"job {job.pk}")
    job.charged_credits = charge
    job.finished_at = timezone.now()
    if delivered:
        job.status = JobStatus.SUCCEEDED
        if failed:
            job.error_code = failed[0].error_code
            job.error_message = _(
                "%(made)d of %(asked)d images were made; the credits for the rest were returned. (%(reason)s)"
            ) % {"made": len(delivered), "asked": len(tasks), "reason": failed[0].error_message}
    else:
        canceled = bool(failed) and all(t.error_code == CANCELED_CODE for t in failed)
        job.status = JobStatus.CANCELED if canceled else JobStatus.FAILED
        job.error_code = failed[0].error_code if failed else "failed"
        job.error_message = failed[0].error_message if failed else _("The job failed.")
    job.save(update_fields=["charged_credits", "finished_at", "status", "error_code", "error_message", "updated_at"])
    return job


def job_fail(*, job_id: int, code: str, message: str) -> Job:
    """Fail every unfinished task of the job with ``code``/``message`` and
    finish the job (its hold is released for what was not delivered)."""
    for task in ProviderTask.objects.filter(job_id=job_id, status__in=[TaskStatus.PENDING, TaskStatus.RUNNING]):
        _task_finish_failed(task.pk, code=code, message=message)
    return job_try_finish(job_id=job_id)


def job_poll(*, job_id: int) -> Job:
    """Ask the provider once about every running task of the job and record
    final results. Returns the job; ``is_final`` tells whether it finished
    (here or before). Transient provider errors are logged and left for the
    next poll."""
    job = _pipeline_job(job_id)
    if job.is_final:
        return job
    adapter = get_adapter(job.offer.adapter)
    finished = None
    for task in job.tasks.filter(status=TaskStatus.RUNNING).exclude(task_id=""):
        try:
            result = adapter.fetch(task.task_id, _task_request(job, task))
        except ProviderError as exc:
            if not exc.permanent:
                log.info("poll of task %s: transient %s", task.pk, exc.code)
                continue
            result = TaskResult(
                task_id=task.task_id, state=TaskState.FAILED, error_code=exc.code, error_message=str(exc.message)
            )
        except requests.RequestException as exc:
            log.info("poll of task %s: %s", task.pk, exc)
            continue
        recorded = _task_record(job, task, result)
        if recorded is not None and recorded.is_final:
            finished = recorded
    return finished or job


def sweep_stuck_jobs() -> int:
    """Fail jobs older than ``MIRSAM_JOB_TIMEOUT_SECONDS`` that are not final,
    after asking the provider one last time. Returns how many were failed."""
    deadline = timezone.now() - timedelta(seconds=settings.MIRSAM_JOB_TIMEOUT_SECONDS)
    failed = 0
    for job_id in (
        Job.objects.exclude(status__in=FINAL_JOB_STATUSES).filter(created_at__lt=deadline).values_list("pk", flat=True)
    ):
        with owner_language(job_id=job_id):
            try:
                if job_poll(job_id=job_id).is_final:
                    continue
            except Exception:  # a broken provider must not stop the sweep
                log.exception("last poll of stuck job %s failed", job_id)
            job_fail(job_id=job_id, code="timeout", message=str(TIMEOUT_MESSAGE))
        failed += 1
    return failed


# --- callbacks ------------------------------------------------------------------


class CallbackRejected(Exception):
    """A callback that is not for this job or whose signature is wrong."""


def callback_receive(*, job: Job, body: bytes, headers: dict[str, str]) -> TaskResult:
    """Verify and parse a provider callback for ``job`` and, when it reports a
    final state, queue ``task_complete`` for that task after commit. The
    result's failure reason is written in the job owner's language (the
    provider's request carries none), and so is whatever the task stores.

    Raises :class:`CallbackRejected` for a bad signature, an unparsable body
    or a task id that is not one of the job's tasks; nothing changes then.
    """
    adapter = get_adapter(job.offer.adapter)
    language = job.user.preferred_language or settings.LANGUAGE_CODE
    try:
        adapter.verify_callback(body, headers)
        with translation.override(language):
            result = adapter.parse_callback(body, provider_model=job.offer.provider_model)
    except ProviderError as exc:
        raise CallbackRejected(exc.code) from exc
    task = job.tasks.filter(task_id=result.task_id).exclude(task_id="").first()
    if task is None:
        raise CallbackRejected("unknown_task")
    if result.state.is_final and not task.is_final:
        from .tasks import complete_task_task

        transaction.on_commit(
            lambda: complete_task_task.apply_async(
                (task.pk, result.as_dict()), {"language": language}, queue=queue_for(job)
            )
        )
    elif result.state == TaskState.RUNNING:
        job_mark_processing(job_id=job.pk)
    return result


# --- housekeeping ---------------------------------------------------------------


def job_delete(*, job: Job) -> None:
    """Delete a finished job and its files. Raises :class:`GenerationError`
    while the job is still running (its hold is still open)."""
    if not job.is_final:
        raise GenerationError(_("A job can be deleted once it has finished."))
    with transaction.atomic():
        assets = list(job.assets.all())
        job.delete()
        transaction.on_commit(lambda: [_delete_files(asset) for asset in assets])


# --- uploads --------------------------------------------------------------------


def upload_create(*, user, file, consent_version: str | None = None) -> Upload:  # noqa: ANN001
    """Check and normalise an uploaded image (``generation.uploads.image_clean``:
    real JPEG/PNG/WebP, size, pixel and dimension limits, EXIF orientation
    applied, metadata stripped, re-encoded), store it privately and, when
    ``consent_version`` is given, record the user's consent for it. Raises
    ``generation.uploads.UploadRejected``; a refused file stores nothing."""
    from .uploads import image_clean

    clean = image_clean(file=file)
    with transaction.atomic():
        upload = Upload(
            user=user,
            original_name=str(getattr(file, "name", "") or "")[:255],
            content_type=clean.content_type,
            width=clean.width,
            height=clean.height,
            size_bytes=clean.size,
            sha256=clean.sha256,
        )
        upload.file.save(f"upload.{clean.extension}", ContentFile(clean.data), save=False)
        upload.save()
        if consent_version:
            Consent.objects.create(user=user, upload=upload, version=consent_version)
    return upload


def upload_delete(*, upload: Upload) -> None:
    """Delete an upload and its file. The jobs and results made from it stay;
    the consent record stays, pointing at no upload. Refused while a running
    job still needs it."""
    if upload.job_inputs.exclude(job__status__in=FINAL_JOB_STATUSES).exists():
        raise GenerationError(_("A running job still uses this photo; delete it when the job has finished."))
    name, storage = upload.file.name, upload.file.storage
    with transaction.atomic():
        upload.delete()
        transaction.on_commit(lambda: storage.delete(name))


def uploads_purge(*, older_than_days: int | None = None) -> int:
    """Delete uploads older than ``MIRSAM_UPLOAD_RETENTION_DAYS`` whose jobs
    have all finished. Returns how many were deleted."""
    days = settings.MIRSAM_UPLOAD_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    busy = JobInput.objects.exclude(job__status__in=FINAL_JOB_STATUSES).values("upload_id")
    deleted = 0
    for upload in Upload.objects.filter(created_at__lt=cutoff).exclude(pk__in=busy).iterator():
        upload_delete(upload=upload)
        deleted += 1
    return deleted


# --- staff actions ----------------------------------------------------------------


def job_refund(*, job: Job, actor, reason: str) -> Job:  # noqa: ANN001
    """Staff give a job's credits back, recorded in the audit list.

    A running job is canceled and its hold released; a finished job that was
    charged gets its charged credits back (ledger kind ``job_refund``, keyed
    on the job, with the actor). Raises :class:`GenerationError` without a
    reason, when nothing was charged, or when it was refunded already — a
    refund never applies twice.
    """
    from accounts.models import StaffAction
    from accounts.services import staff_action_record

    if not reason.strip():
        raise GenerationError(_("A refund needs a reason."))
    with transaction.atomic():
        job = Job.objects.select_for_update().select_related("user").get(pk=job.pk)
        if not job.is_final:
            message = _("Canceled by Mirsam staff: %(reason)s") % {"reason": reason}
            for task in job.tasks.filter(status__in=[TaskStatus.PENDING, TaskStatus.RUNNING]):
                _task_finish_failed(task.pk, code=CANCELED_CODE, message=message)
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
            raise GenerationError(_("This job was refunded already."))
        if due <= 0:
            raise GenerationError(_("Nothing to refund: this job charged no credits."))
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
        job.save(update_fields=["refunded_credits", "updated_at"])
        staff_action_record(
            actor=actor,
            kind=StaffAction.Kind.JOB_REFUND,
            user=job.user,
            credits=due,
            reason=reason,
            reference=f"job:{job.pk}",
        )
        return job


def job_retry(*, job: Job, actor) -> Job:  # noqa: ANN001
    """Staff run a job again for its owner: a new job with the same settings,
    priced and held from the owner's credits like any other, recorded in the
    audit list. Raises what :func:`job_regenerate` raises."""
    from accounts.models import StaffAction
    from accounts.services import staff_action_record

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
