"""Provider callbacks: a provider tells us a task finished (or began).

The endpoint (``generation.callbacks``) must answer fast (kie.ai waits 15 s
at most, docs/kie.md §1 Callbacks), so :func:`callback_receive` only verifies
and parses; the downloads run in a Celery task queued on commit.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import translation

from providers.base import ProviderError, TaskResult, TaskState
from providers.registry import get_adapter

from ..errors import CallbackRejected
from ..models import Job, ProviderTask, TaskStatus
from ..queues import queue_for
from .pipeline import job_mark_processing

log = logging.getLogger(__name__)


def _adopt(job: Job, task_id: str) -> ProviderTask | None:
    """The job's first ``submitting`` task, now ``running`` as ``task_id``;
    ``None`` when there is none (or ``task_id`` is empty)."""
    if not task_id:
        return None
    for task in job.tasks.filter(status=TaskStatus.SUBMITTING, task_id="").order_by("index"):
        if ProviderTask.objects.filter(pk=task.pk, status=TaskStatus.SUBMITTING, task_id="").update(
            task_id=task_id, status=TaskStatus.RUNNING
        ):
            log.warning(
                "job %s: task %s adopts provider task %s (its create answer was lost)", job.pk, task.pk, task_id
            )
            task.refresh_from_db()
            return task
    return None


def callback_receive(*, job: Job, body: bytes, headers: dict[str, str]) -> TaskResult:
    """Verify and parse a provider callback for ``job`` (``headers`` with
    lower-case names) and, when it reports a final state, queue
    ``task_complete`` for that task after commit. The result's failure reason
    is written in the job owner's language (the provider's request carries
    none), and so is whatever the task stores.

    A task id that is not one of the job's is adopted by a task of the job
    left ``submitting`` (a worker died while its create was in flight: the
    provider made the task, we never heard its id); it then goes on as if
    the create had answered, so the output is delivered and charged once.

    Raises :class:`CallbackRejected` for a bad signature, an unparsable body
    or a task id that is not one of the job's tasks and that no task can
    adopt; nothing changes then.
    """
    adapter = get_adapter(job.offer.adapter)
    language = job.user.preferred_language or settings.LANGUAGE_CODE
    try:
        adapter.verify_callback(body, headers)
        with translation.override(language):
            result = adapter.parse_callback(body, provider_model=job.offer.provider_model)
    except ProviderError as exc:
        raise CallbackRejected(exc.code) from exc
    task = job.tasks.filter(task_id=result.task_id).exclude(task_id="").first() or _adopt(job, result.task_id)
    if task is None:
        raise CallbackRejected("unknown_task")
    if result.state.is_final and not task.is_final:
        from ..tasks import complete_task_task

        transaction.on_commit(
            lambda: complete_task_task.apply_async(
                (task.pk, result.as_dict()), {"language": language}, queue=queue_for(job)
            )
        )
    elif result.state == TaskState.RUNNING:
        job_mark_processing(job_id=job.pk)
    return result
