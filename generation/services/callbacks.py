"""Provider callbacks: a provider tells us a task finished (or began).

The endpoint (``generation.callbacks``) must answer fast (kie.ai waits 15 s
at most, docs/kie.md §1 Callbacks), so :func:`callback_receive` only verifies
and parses; the downloads run in a Celery task queued on commit.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import translation

from providers.base import ProviderError, TaskResult, TaskState
from providers.registry import get_adapter

from ..errors import CallbackRejected
from ..models import Job
from ..queues import queue_for
from .pipeline import job_mark_processing


def callback_receive(*, job: Job, body: bytes, headers: dict[str, str]) -> TaskResult:
    """Verify and parse a provider callback for ``job`` (``headers`` with
    lower-case names) and, when it reports a final state, queue
    ``task_complete`` for that task after commit. The result's failure reason
    is written in the job owner's language (the provider's request carries
    none), and so is whatever the task stores.

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
        from ..tasks import complete_task_task

        transaction.on_commit(
            lambda: complete_task_task.apply_async(
                (task.pk, result.as_dict()), {"language": language}, queue=queue_for(job)
            )
        )
    elif result.state == TaskState.RUNNING:
        job_mark_processing(job_id=job.pk)
    return result
