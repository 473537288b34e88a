"""The pipeline: from a queued job to its results, captured or released.

``job_dispatch`` submits a job's provider tasks; results arrive by callback
(``generation.services.callbacks``) or by polling (:func:`job_poll`); each
final task result goes through :func:`task_complete`, which downloads the
outputs into our storage (provider URLs expire) and, once every task is
final, finishes the job: the price of what was delivered is captured and the
rest released. Every step is guarded by state, so repeating one (a
duplicated callback, a redelivered Celery message) changes nothing.

Workers, callbacks and the sweeper run outside any request: what a job
stores for its owner (failure reasons) is written in the owner's language
(:func:`owner_language`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import IO

import requests
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.db.models.fields.files import FieldFile
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from credits.services import credits_capture
from providers.base import Adapter, Download, InputFile, ProviderError, TaskRequest, TaskResult, TaskState
from providers.ratelimit import RateLimited
from providers.registry import get_adapter

from .. import push
from ..media import CheckedOutput, image_check, image_preview, output_check, video_poster
from ..models import (
    FINAL_TASK_STATUSES,
    UNFINISHED_TASK_STATUSES,
    Asset,
    Job,
    JobInput,
    JobStatus,
    ProviderTask,
    TaskStatus,
    Upload,
)

log = logging.getLogger(__name__)

#: ``error_code`` of a task canceled by staff; a job whose tasks all end so is canceled, not failed.
CANCELED_CODE = "canceled"


def owner_language(*, job_id: int, language: str = "") -> translation.override:
    """Messages a job stores (failure reasons) are written in its owner's
    language: workers, callbacks and the sweeper run outside any request.
    ``language`` is the owner's language when the caller knows it (pipeline
    messages carry it); otherwise it is read from the database."""
    if not language:
        language = Job.objects.filter(pk=job_id).values_list("user__preferred_language", flat=True).first() or ""
    return translation.override(language or settings.LANGUAGE_CODE)


# --- submitting to the provider ---------------------------------------------------


def _callback_url(job: Job) -> str | None:
    adapter = get_adapter(job.offer.adapter)
    base = adapter.callback_base_url() if adapter.supports_callbacks else ""
    if not base:
        return None
    return base.rstrip("/") + reverse("provider_callback", kwargs={"token": job.callback_token})


def _opener(field: FieldFile) -> Callable[[], IO[bytes]]:
    name, storage = field.name or "", field.storage
    return lambda: storage.open(name, "rb")


def _pipeline_job(job_id: int) -> Job:
    """The job with its model, and whether it has user images (so a job
    without any needs no query for them)."""
    return (
        Job.objects.select_related("offer")
        .annotate(has_inputs=Exists(JobInput.objects.filter(job=OuterRef("pk"))))
        .get(pk=job_id)
    )


def _input_files(job: Job) -> tuple[InputFile, ...]:
    """The job's input files in order, read once per ``Job`` instance (a task
    run asks for them per provider call): each input's upload, or the earlier
    result it names (an image, or for a video the video file itself). An
    input whose file was deleted is left out."""
    cached: tuple[InputFile, ...] | None = job.__dict__.get("_input_files")
    if cached is None and job.__dict__.get("has_inputs") is False:
        cached = job.__dict__["_input_files"] = ()
    if cached is None:
        files = []
        for item in job.inputs.select_related("upload", "asset"):
            source: Upload | Asset | None = item.upload or item.asset
            if source is None:
                continue
            files.append(
                InputFile(
                    name=(source.file.name or "").rsplit("/", 1)[-1],
                    content_type=source.content_type,
                    open=_opener(source.file),
                    role=item.role,
                )
            )
        cached = job.__dict__["_input_files"] = tuple(files)
    return cached


def _task_request(job: Job, task: ProviderTask, *, before_create: Callable[[], None] | None = None) -> TaskRequest:
    inputs = _input_files(job)
    params = {k: v for k, v in job.params.items() if k != "outputs"}
    return TaskRequest(
        job_id=job.pk,
        index=task.index,
        provider_model=job.offer.provider_model_for(with_inputs=bool(inputs)),
        params=params,
        callback_url=_callback_url(job),
        inputs=inputs,
        options=job.offer.options,
        before_create=before_create,
    )


def billed_usd(credits: int | None) -> Decimal | None:
    """USD for what a provider billed in its own credits (kie.ai
    ``creditsConsumed`` × ``KIE_CREDIT_USD``, docs/kie.md §2.1), 4 decimals;
    ``None`` when it did not say."""
    if credits is None:
        return None
    return (Decimal(str(settings.KIE_CREDIT_USD)) * credits).quantize(Decimal("0.0001"))


def _create_sent(task_pk: int) -> Callable[[], None]:
    """``TaskRequest.before_create`` for one task: committed at once (the
    worker may die during the create), it moves the task to ``submitting``."""

    def mark() -> None:
        ProviderTask.objects.filter(pk=task_pk, status=TaskStatus.PENDING, task_id="").update(
            status=TaskStatus.SUBMITTING, create_sent_at=timezone.now()
        )

    return mark


def job_dispatch(*, job_id: int) -> Job:
    """Submit every not-yet-submitted task of the job to its provider.

    A task goes ``pending`` → ``submitting`` (recorded right before the
    create request leaves, ``TaskRequest.before_create``) → ``running`` with
    the provider's task id. A task found ``submitting`` (a worker died while
    its create was in flight and this is the redelivered message) is never
    created again: the provider's callback names the task it made
    (``generation.services.callbacks``), else the sweeper ends the job.

    A permanent :class:`ProviderError` fails that task; a transient one (the
    adapter's promise that nothing was created) puts it back to ``pending``
    and is raised so the Celery task retries. Returns the job.
    """
    job = _pipeline_job(job_id)
    if job.is_final:
        return job
    if job.params.get("after_job"):
        from .speak import speech_attach

        if not speech_attach(job_id=job.pk):
            return Job.objects.get(pk=job.pk)  # its speech is not made yet (or failed, and so did it)
        job = _pipeline_job(job_id)
    adapter = get_adapter(job.offer.adapter)
    submitted = failed = 0
    for task in job.tasks.filter(status=TaskStatus.PENDING, task_id=""):
        try:
            task_id = adapter.submit(_task_request(job, task, before_create=_create_sent(task.pk)))
        except ProviderError as exc:
            if not exc.permanent:
                ProviderTask.objects.filter(pk=task.pk, status=TaskStatus.SUBMITTING, task_id="").update(
                    status=TaskStatus.PENDING, create_sent_at=None
                )
                raise
            task_finish_failed(task_pk=task.pk, code=exc.code, message=str(exc.message))
            failed += 1
            continue
        ProviderTask.objects.filter(pk=task.pk, task_id="").exclude(status__in=FINAL_TASK_STATUSES).update(
            task_id=task_id, status=TaskStatus.RUNNING
        )
        submitted += 1
    now = timezone.now()
    # A job leaves "queued" once, with its first chain of polls (a queued job
    # never had one); a later dispatch (a redelivered message) starts a new
    # chain, so the chain the first delivery started stops.
    if Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.SUBMITTED, submitted_at=now, updated_at=now, poll_chain=1
    ):
        job.status, job.submitted_at, job.updated_at, job.poll_chain = JobStatus.SUBMITTED, now, now, 1
        push.job_changed(job_id=job.pk, user_id=job.user_id, status=job.status, updated_at=now)
    else:
        job.poll_chain = poll_chain_restart(job_id=job.pk)
    if submitted and not failed:
        return job  # every task is running at the provider: nothing can be finished yet
    return job_try_finish(job_id=job.pk)


# --- results --------------------------------------------------------------------


def task_finish_failed(*, task_pk: int, code: str, message: str) -> None:
    """Fail one unfinished task (its job is finished by the caller)."""
    ProviderTask.objects.filter(pk=task_pk, status__in=UNFINISHED_TASK_STATUSES).update(
        status=TaskStatus.FAILED, error_code=code[:64], error_message=message
    )


def job_mark_processing(*, job_id: int) -> None:
    """The provider says the job's work has begun: ``processing`` on its card."""
    now = timezone.now()
    if Job.objects.filter(pk=job_id, status__in=[JobStatus.QUEUED, JobStatus.SUBMITTED]).update(
        status=JobStatus.PROCESSING, updated_at=now
    ):
        user_id = Job.objects.values_list("user_id", flat=True).get(pk=job_id)
        push.job_changed(job_id=job_id, user_id=user_id, status=JobStatus.PROCESSING, updated_at=now)


@dataclass
class _Fetched:
    download: Download
    checked: CheckedOutput
    poster: bytes | None = None
    preview: tuple[bytes, str] | None = None  # bytes, extension


def _fetch_outputs(job: Job, task: ProviderTask, result: TaskResult) -> list[_Fetched]:
    """Download and check every output of a succeeded task (and, for a video,
    its poster: the provider's, else its first frame; sound has none).
    Raises ProviderError."""
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
            if item.checked.is_video or item.checked.is_audio:
                item.poster = _poster(adapter, request, result, i, download, first_frame=item.checked.is_video)
            else:
                item.preview = image_preview(download.file)
    except Exception:
        for item in fetched:
            item.download.file.close()
        raise
    return fetched


def _poster(
    adapter: Adapter, request: TaskRequest, result: TaskResult, index: int, output: Download, *, first_frame: bool
) -> bytes | None:
    """The still of output ``index``: the provider's (a video's poster, a
    song's cover: Suno's ``image_url``), checked as an image; else, with
    ``first_frame`` (a video), its first frame; else none (a sound without
    a cover)."""
    if index < len(result.poster_urls) and result.poster_urls[index]:
        try:
            poster = adapter.download(result.poster_urls[index], request, max_bytes=settings.MIRSAM_OUTPUT_MAX_BYTES)
            with poster.file:
                image_check(poster.file)
                return poster.file.read()
        except (ProviderError, requests.RequestException) as exc:
            log.info("provider poster unusable (%s); using the first frame", exc)
    if not first_frame:
        return None
    frame = video_poster(output.file)
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
    seen = timezone.now()  # when we learned it finished, before downloads take their time
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
    claim: dict[str, object]
    if succeeded:
        claim = {"status": TaskStatus.SUCCEEDED, "output_urls": list(result.output_urls)}
    else:
        claim = {
            "status": TaskStatus.FAILED,
            "error_code": (code or "failed")[:64],
            "error_message": message or _("The provider could not make this."),
        }
    claim["billed_credits"] = result.billed_credits
    claim["billed_usd"] = billed_usd(result.billed_credits)
    claim["cost_seconds"] = result.cost_seconds
    claim["finished_at"] = seen
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
            unfinished = ProviderTask.objects.filter(pk=task.pk, status__in=UNFINISHED_TASK_STATUSES)
            if unfinished.update(**claim):
                Asset.objects.bulk_create(assets)
                finished = _finish_locked(locked)
                if not finished.is_final:  # one output of several: its card shows it now
                    now = timezone.now()
                    Job.objects.filter(pk=locked.pk).update(updated_at=now)
                    push.job_changed(job_id=locked.pk, user_id=locked.user_id, status=locked.status, updated_at=now)
    finally:
        for item in fetched:
            item.download.file.close()
        if finished is None:
            for asset in assets:
                asset_files_delete(asset=asset)
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
        duration_seconds=item.checked.duration_seconds,
    )
    asset.file.save(f"output.{item.checked.extension}", File(item.download.file), save=False)
    if item.poster:
        asset.poster.save("poster.png", ContentFile(item.poster), save=False)
    if item.preview:
        data, extension = item.preview
        asset.preview.save(f"preview.{extension}", ContentFile(data), save=False)
    return asset


def asset_files_delete(*, asset: Asset) -> None:
    """Delete an asset's file and poster from storage (the row is the caller's)."""
    for field in (asset.file, asset.poster, asset.preview):
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
    job.save(update_fields=["charged_credits", "finished_at", "status", "error_code", "error_message"])
    push.job_changed(job_id=job.pk, user_id=job.user_id, status=job.status, updated_at=job.updated_at)
    _start_waiting(job)
    # Webhooks out and the owner's notification: explicit calls, not signals;
    # imported here because api and accounts' notifications build on
    # generation, not the other way round. Neither queries anything now, only
    # after commit (api/webhooks.py, accounts/notifications.py).
    from accounts.notifications import job_finished
    from api.webhooks import job_finished_notify

    job_finished_notify(job=job)
    job_finished(job=job)  # the bell and, when the owner is not watching, an e-mail
    return job


def _start_waiting(job: Job) -> None:
    """After commit, send the submit message of every job waiting for
    ``job`` (a talking portrait waiting for its speech, ``params["after_job"]``):
    it starts with the speech, or fails with it (``speak.speech_attach``)."""
    waiting = list(Job.objects.filter(params__after_job=job.pk, status=JobStatus.QUEUED).values_list("pk", flat=True))
    if not waiting:
        return
    from ..queues import queue_for
    from ..tasks import submit_job_task

    def send() -> None:
        for pk in waiting:  # the task reads the owner's language itself
            submit_job_task.apply_async((pk,), queue=queue_for(job))

    transaction.on_commit(send)


def job_fail(*, job_id: int, code: str, message: str) -> Job:
    """Fail every unfinished task of the job with ``code``/``message`` and
    finish the job (its hold is released for what was not delivered)."""
    for task in ProviderTask.objects.filter(job_id=job_id, status__in=UNFINISHED_TASK_STATUSES):
        task_finish_failed(task_pk=task.pk, code=code, message=message)
    return job_try_finish(job_id=job_id)


def poll_chain_restart(*, job_id: int) -> int:
    """Start a new chain of polls for the job and return its number: a poll
    message of an older chain then stops (``job_poll``), so one chain polls."""
    Job.objects.filter(pk=job_id).update(poll_chain=F("poll_chain") + 1)
    return Job.objects.values_list("poll_chain", flat=True).get(pk=job_id)


def job_poll(*, job_id: int, chain: int | None = None) -> Job:
    """Ask the provider once about every running task of the job and record
    final results. Returns the job; ``is_final`` tells whether it finished
    (here or before). Transient provider errors are logged and left for the
    next poll. A poll of a ``chain`` other than the job's ``poll_chain``
    (superseded) asks nothing; ``None`` polls whatever the chain.

    Raises :class:`~providers.ratelimit.RateLimited` when the provider's poll
    limit gave no slot (nothing more is asked then; results recorded before
    it stay), so the caller can come back soon rather than wait a whole gap."""
    job = _pipeline_job(job_id)
    if job.is_final or (chain is not None and job.poll_chain != chain):
        return job
    adapter = get_adapter(job.offer.adapter)
    finished = None
    for task in job.tasks.filter(status=TaskStatus.RUNNING).exclude(task_id=""):
        try:
            result = adapter.fetch(task.task_id, _task_request(job, task))
        except RateLimited:
            raise
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
