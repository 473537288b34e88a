"""The provider adapter contract.

An adapter turns one *task request* (one output of a job) into a task at a
provider, and reports that task's state. It never sees users, wallets or
jobs' models: ``generation`` builds the :class:`TaskRequest` and acts on the
:class:`TaskResult`.

Lifecycle of a task, as the pipeline drives it:

1. ``submit(request)`` → the provider's task id (a string). Raises
   :class:`ProviderError`; ``permanent=True`` means retrying cannot help.
2. ``fetch(task_id, request)`` → :class:`TaskResult`, any number of times.
3. ``parse_callback(body, headers)`` → :class:`TaskResult` for a callback
   POSTed by the provider (after ``verify_callback``) to
   ``request.callback_url``, which the pipeline builds from
   ``callback_base_url()`` for an adapter that ``supports_callbacks``.
4. ``download(url, request, max_bytes)`` → :class:`Download`: the output's
   bytes, read at once because provider URLs expire (docs/kie.md §1 Retention),
   streamed in chunks and capped at ``max_bytes``; images and videos.
5. ``supports_extend(provider_model)``: whether ``params["extend_task_id"]``
   can continue an earlier result (Veo, Runway).
"""

from __future__ import annotations

import enum
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from django.utils.translation import gettext_lazy as _


class TaskState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (TaskState.SUCCEEDED, TaskState.FAILED)


class ProviderError(Exception):
    """A provider refused or failed a call.

    ``message`` is shown to the user (translatable); ``code`` is a short
    machine code ("401", "402", "timeout", "bad_response", …) kept on the job;
    ``permanent`` says whether a retry could succeed (429, 5xx and timeouts are
    not permanent; 401, 402, 422 and content refusals are).
    """

    def __init__(self, message: Any, *, code: str, permanent: bool) -> None:
        super().__init__(str(message))
        self.message = message
        self.code = code
        self.permanent = permanent


@dataclass(frozen=True)
class InputFile:
    """A file the user gave for this task (a reference frame, a photo),
    already checked and re-encoded by Mirsam. ``open()`` returns a binary
    file at position 0 that the caller closes."""

    name: str
    content_type: str
    open: Callable[[], IO[bytes]]
    role: str = ""  # "first_frame", "last_frame", "photo"


@dataclass(frozen=True)
class TaskRequest:
    """What to make. ``params`` are validated by the catalogue already:
    ``prompt`` (str) and the model's options, e.g. ``aspect_ratio`` ("16:9"),
    ``duration`` (seconds, as the catalogue's string),
    ``resolution`` ("720p"), ``sound`` ("on"/"off"); ``extend_task_id`` when
    the job extends an earlier provider task. ``inputs`` are the user's files
    in order (first frame before last frame). ``options`` is the catalogue
    row's data (``Offer.options``): what the model accepts and how its
    provider spells it (docs/catalogue.md).

    ``before_create``, when given, is called by :meth:`Adapter.submit` once,
    right before the request that creates the task is sent (after uploads and
    waiting for a rate-limit slot): from then on the task may exist at the
    provider even if this process dies before the answer arrives, so the
    pipeline records it and never creates that task again."""

    job_id: int
    index: int
    provider_model: str
    params: dict[str, Any]
    callback_url: str | None = None
    inputs: tuple[InputFile, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    before_create: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    def create_starts(self) -> None:
        """Adapters call this right before sending the create request."""
        if self.before_create is not None:
            self.before_create()


@dataclass(frozen=True)
class TaskResult:
    """A task's state. ``output_urls`` are the results (images or videos);
    ``poster_urls`` optional still images for videos, in the same order;
    ``billed_credits`` what the provider says the task cost, in its own
    credits (kie.ai ``creditsConsumed``, docs/kie.md §2.1), when it says;
    ``cost_seconds`` how long the provider says it worked on the task, in
    seconds (kie.ai ``costTime``, §2.1: ms in a record, s in a callback, each
    family converts), when it says."""

    task_id: str
    state: TaskState
    output_urls: list[str] = field(default_factory=list)
    error_code: str = ""
    error_message: str = ""
    poster_urls: list[str] = field(default_factory=list)
    billed_credits: int | None = None
    cost_seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "state": str(self.state),
            "output_urls": list(self.output_urls),
            "error_code": self.error_code,
            "error_message": self.error_message,
            "poster_urls": list(self.poster_urls),
            "billed_credits": self.billed_credits,
            "cost_seconds": self.cost_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskResult:
        return cls(
            task_id=data["task_id"],
            state=TaskState(data["state"]),
            output_urls=list(data.get("output_urls") or []),
            error_code=data.get("error_code", ""),
            error_message=data.get("error_message", ""),
            poster_urls=list(data.get("poster_urls") or []),
            billed_credits=data.get("billed_credits"),
            cost_seconds=data.get("cost_seconds"),
        )


@dataclass
class Download:
    """A downloaded output: a temporary file positioned at 0, its MIME type
    and size in bytes. The caller closes ``file``."""

    file: IO[bytes]
    content_type: str
    size: int


def spooled_file() -> IO[bytes]:
    # Kept in memory up to 8 MB, then on disk: a big output never fills RAM.
    return tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)


class Adapter:
    """Base class; subclasses set ``name`` and implement the methods."""

    name: str = ""
    #: True when the provider can POST callbacks (the pipeline then passes a URL).
    supports_callbacks: bool = False

    def is_configured(self) -> bool:
        """Whether the adapter has what it needs (keys) to run."""
        return True

    def callback_base_url(self) -> str:
        """The base URL at which this provider reaches our callback endpoint
        (``<base>/callbacks/<job token>/``, no trailing slash needed); empty
        when it cannot, and then its tasks are only polled."""
        return ""

    def submit(self, request: TaskRequest) -> str:
        """Create the task at the provider and return its id. Calls
        ``request.create_starts()`` right before the create request leaves.
        A transient :class:`ProviderError` promises the task was not created
        (sending again is safe); a permanent one fails the task."""
        raise NotImplementedError

    def fetch(self, task_id: str, request: TaskRequest) -> TaskResult:
        raise NotImplementedError

    def verify_callback(self, body: bytes, headers: dict[str, str]) -> None:
        """Raise :class:`ProviderError` if a callback's signature is wrong."""
        raise ProviderError(_("This provider does not send callbacks."), code="no_callbacks", permanent=True)

    def parse_callback(self, body: bytes, *, provider_model: str = "") -> TaskResult:
        raise ProviderError(_("This provider does not send callbacks."), code="no_callbacks", permanent=True)

    def download(self, url: str, request: TaskRequest, *, max_bytes: int) -> Download:
        raise NotImplementedError

    def supports_extend(self, provider_model: str) -> bool:
        return False

    def health(self) -> bool:
        return self.is_configured()
