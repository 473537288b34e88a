"""The generation app's services: every write the studio makes to jobs,
their provider tasks, results and uploads (docs/architecture.md, "Generate →
result"). Import from here; the modules are rooms of one house:

- ``submit``: what can be generated, checking a request, holding its price,
  creating the job (also with the files the request brings, or the user's
  earlier results), regenerate, extend, running a tool on a result;
- ``pipeline``: submitting to the provider, recording results, polling,
  finishing the job (capture / release);
- ``callbacks``: verifying and queueing a provider's callback;
- ``speak``: talking portraits and lip-syncs (a picture or video and a speech);
- ``uploads``: storing, deleting and purging the user's photos and audio;
- ``housekeeping``: the sweeper, deleting a creation, its owner canceling a running job;
- ``library``: projects and their budgets, favourites, bulk move and delete;
- ``staff``: refund and retry from the admin (audited);
- ``showcase``: a creator allows (or withdraws) featuring a result, staff pick it.

Errors: everything refused is a ``generation.errors.GenerationError``;
``credits.services.InsufficientCredits`` passes through from the ledger.
"""

from __future__ import annotations

from ..errors import CallbackRejected, GenerationError, UploadRejected
from .callbacks import callback_receive
from .housekeeping import (
    TIMEOUT_MESSAGE,
    holds_release_orphaned,
    job_cancel,
    job_delete,
    jobs_revive,
    sweep_stuck_jobs,
)
from .library import (
    bulk_ids,
    job_favourite_set,
    jobs_delete,
    jobs_move,
    project_create,
    project_delete,
    project_for_job,
    project_update,
)
from .pipeline import (
    CANCELED_CODE,
    asset_files_delete,
    job_dispatch,
    job_fail,
    job_mark_processing,
    job_poll,
    job_try_finish,
    owner_language,
    poll_chain_restart,
    task_complete,
    task_finish_failed,
)
from .showcase import showcase_permit, showcase_pick, showcase_unpick, showcase_withdraw
from .speak import (
    job_speak,
    job_speak_text,
    speech_attach,
    speech_estimate_seconds,
    speech_max_seconds,
    speech_seconds,
)
from .staff import job_refund, job_retry
from .submit import (
    PARAM_LABELS,
    asset_kind,
    catalogue_available,
    job_extend,
    job_params_clean,
    job_regenerate,
    job_submit,
    job_submit_with_files,
    job_submit_with_uploads,
    job_tool_apply,
    offers_available,
    speaking_offers_available,
    tools_available,
)
from .uploads import audio_upload_create, upload_create, upload_delete, uploads_purge

__all__ = [
    "catalogue_available",
    "CANCELED_CODE",
    "PARAM_LABELS",
    "TIMEOUT_MESSAGE",
    "CallbackRejected",
    "GenerationError",
    "UploadRejected",
    "asset_files_delete",
    "asset_kind",
    "audio_upload_create",
    "bulk_ids",
    "callback_receive",
    "holds_release_orphaned",
    "job_cancel",
    "job_delete",
    "job_dispatch",
    "job_extend",
    "job_favourite_set",
    "job_fail",
    "job_mark_processing",
    "job_params_clean",
    "job_poll",
    "job_refund",
    "job_regenerate",
    "job_retry",
    "job_speak",
    "job_speak_text",
    "job_submit",
    "job_submit_with_files",
    "job_submit_with_uploads",
    "job_tool_apply",
    "job_try_finish",
    "jobs_delete",
    "jobs_move",
    "jobs_revive",
    "offers_available",
    "owner_language",
    "poll_chain_restart",
    "project_create",
    "project_delete",
    "project_for_job",
    "project_update",
    "showcase_permit",
    "showcase_pick",
    "showcase_unpick",
    "showcase_withdraw",
    "speaking_offers_available",
    "speech_attach",
    "speech_estimate_seconds",
    "speech_max_seconds",
    "speech_seconds",
    "sweep_stuck_jobs",
    "task_complete",
    "task_finish_failed",
    "tools_available",
    "upload_create",
    "upload_delete",
    "uploads_purge",
]
