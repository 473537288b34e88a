"""The endpoint providers POST task results to (outside i18n URLs, no CSRF)."""

from __future__ import annotations

import logging

from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.http import HtmxRequest

from .errors import CallbackRejected
from .limits import limit_callback
from .models import Job
from .services import callback_receive

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
@limit_callback
def provider_callback(request: HtmxRequest, token: str) -> JsonResponse:
    """``POST /callbacks/<job token>/``: 404 for an unknown token, 400 for a
    callback that fails verification or parsing (nothing changes), 200 else;
    429 past ``MIRSAM_RATE_CALLBACK`` from one IP (kie.ai retries a callback
    that failed, and polling covers one that never comes).
    kie.ai waits 15 s at most (docs/kie.md §1 Callbacks), so the downloads run in
    a Celery task, not here."""
    if request.limited:
        return JsonResponse({"ok": False, "error": "rate_limited"}, status=429)
    job = get_object_or_404(Job.objects.select_related("offer", "user"), callback_token=token)
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        result = callback_receive(job=job, body=request.body, headers=headers)
    except CallbackRejected as exc:
        log.warning("callback for job %s rejected: %s", job.pk, exc)
        return JsonResponse({"ok": False, "error": str(exc)}, status=400)
    return JsonResponse({"ok": True, "taskId": result.task_id})
