"""The ``kie`` adapter: drives a task through the kie.ai family that serves
its provider model (:data:`FAMILIES`), over the one HTTP seam (:mod:`.client`)."""

from __future__ import annotations

import hmac
import json
import logging
import time

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from ..base import Adapter, Download, ProviderError, TaskRequest, TaskResult, TaskState
from .client import Client, callback_signature
from .family import Family, Malformed, callback_data
from .flux import FLUX_KONTEXT
from .market import MARKET
from .runway import RUNWAY
from .suno import SUNO
from .uploads import upload
from .veo import VEO
from .veo_upscale import VEO_UPSCALE

log = logging.getLogger(__name__)

#: Every family, asked in order which one serves a provider model; the Market
#: serves any model no other family names, so it comes last. A new kie.ai API
#: is one new file and one entry here.
FAMILIES: tuple[Family, ...] = (VEO, VEO_UPSCALE, RUNWAY, FLUX_KONTEXT, SUNO, MARKET)

#: How far a signed callback's timestamp may be from our clock, in seconds.
SIGNATURE_MAX_SKEW_SECONDS = 300

BAD_CALLBACK_MESSAGE = _("The provider sent a callback we could not read.")
BAD_SIGNATURE_MESSAGE = _("The callback's signature is not valid.")


def family_for(provider_model: str) -> Family:
    """The family that serves ``provider_model`` (the first of :data:`FAMILIES`)."""
    return next(family for family in FAMILIES if family.serves(provider_model))


def callback_family(envelope: dict[str, object]) -> Family:
    """The family of a callback told by its shape, for when the pipeline gives
    no provider model: Suno's names its ``callbackType`` (§2.7), Market
    ``data`` carries ``state`` (§2.1), Runway's is
    snake_case (§2.3), Flux Kontext's ``info.resultImageUrl`` (§2.5), a Veo
    4K's ``resultUrls`` and Veo's ``taskId`` and ``info`` (§2.2). Raises
    :class:`Malformed` for none of these."""
    data = callback_data(envelope)
    for family in (SUNO, MARKET, RUNWAY, FLUX_KONTEXT, VEO_UPSCALE, VEO):
        if family.is_callback(data):
            return family
    raise Malformed("unknown callback shape")


class KieAdapter(Adapter):
    """kie.ai's Market models (§2.1, §2.9), Veo 3.1 (§2.2), Runway (§2.3),
    Flux Kontext (§2.5) and Suno (§2.7);
    user files go through the upload API (§1 File upload).

    Settings: ``KIE_API_KEY``, ``KIE_BASE_URL``, ``KIE_UPLOAD_BASE_URL``,
    ``KIE_TIMEOUT_SECONDS`` (connect and read, seconds), ``KIE_MAX_RETRIES``,
    ``KIE_RETRY_BACKOFF_SECONDS`` and ``KIE_WEBHOOK_HMAC_KEY``; see
    :class:`~providers.kie.client.Client`.
    """

    name = "kie"
    supports_callbacks = True

    def __init__(self) -> None:
        self.client = Client()

    def is_configured(self) -> bool:
        return bool(settings.KIE_API_KEY)

    def callback_base_url(self) -> str:
        """``KIE_CALLBACK_BASE_URL``: this site's public address, which kie.ai reaches."""
        return str(settings.KIE_CALLBACK_BASE_URL)

    def supports_extend(self, provider_model: str) -> bool:
        """Veo (``veo/extend``, §2.2) and Runway (``runway/extend``, §2.3) can
        continue an earlier task; Market models cannot."""
        return family_for(provider_model).extends

    # --- tasks ------------------------------------------------------------------

    def submit(self, request: TaskRequest) -> str:
        """Create a task in the family of ``request.provider_model`` and return
        kie's ``taskId``.

        Unless the task extends an earlier one (``params["extend_task_id"]``),
        ``request.inputs`` are checked (:meth:`Family.check_inputs`), the body
        is built once with no URLs so that bad params fail before any upload,
        the files are uploaded in order (:func:`.uploads.upload`) and the body
        built with their URLs. The create waits for a slot of the shared rate
        limiter (:meth:`Client.create_slot`); uploads do not count.

        Raises :class:`ProviderError`: transient for 429/455/5xx,
        ``"rate_limited"``, ``"unreachable"`` and upload timeouts; permanent
        for 400/401/402/422/451/501/505, ``"bad_input"``, an answer without
        ``data.taskId`` (``"bad_response"``) and a read ``"timeout"`` of the
        create (the task may exist at kie.ai; re-sending could bill twice).
        """
        family = family_for(request.provider_model)
        if family.asks:
            family.check_inputs(request)
            self.client.create_slot()
            request.create_starts()
            return self._ask(family, request, operation="create").task_id
        urls: list[str] = []
        if family.uploads_inputs(request):
            family.check_inputs(request)
            family.create(request, [])
            urls = [upload(self.client, request, position, item) for position, item in enumerate(request.inputs)]
        path, body = family.create(request, urls)
        self.client.create_slot()
        request.create_starts()
        data = self.client.call(
            operation="create",
            method="POST",
            path=path,
            json_body=body,
            job_ref=request.job_id,
            bad_response_permanent=True,
        )
        task_id = data.get("taskId") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise ProviderError(
                _("The provider sent an answer we could not read."), code="bad_response", permanent=True
            )
        return task_id

    def fetch(self, task_id: str, request: TaskRequest) -> TaskResult:
        """The task's state from its family's record endpoint (``GET
        <record_path>?taskId=``): RUNNING, SUCCEEDED with ``output_urls`` (and
        ``poster_urls`` where the family sends them), or FAILED with kie's code
        and a readable ``error_message``.

        Every fetch first takes a slot of the shared poll limiter
        (:meth:`Client.poll_slot`, kie's 10 record requests per second per
        key); none within its short wait raises
        :class:`~providers.ratelimit.RateLimited` and nothing is sent.

        Raises :class:`ProviderError` as :meth:`submit` does, except that an
        unreadable answer (``"bad_response"``) is transient: polling is safe to
        repeat and the sweeper bounds it. A success whose URLs cannot be read
        will not get better, so that one is permanent.
        """
        family = family_for(request.provider_model)
        self.client.poll_slot()
        if family.asks:
            return self._ask(family, request, operation="fetch")
        data = self.client.call(
            operation="fetch",
            method="GET",
            path=family.record_path,
            params={"taskId": task_id},
            task_id=task_id,
            job_ref=request.job_id,
            bad_response_permanent=False,
        )
        try:
            return family.read_record(data, task_id=task_id)
        except Malformed as exc:
            try:
                final = isinstance(data, dict) and family.state(data) is TaskState.SUCCEEDED
            except Malformed:
                final = False
            log.warning("kie %s record for %s unreadable: %s", family, task_id, exc)
            raise ProviderError(
                _("The provider sent an answer we could not read."), code="bad_response", permanent=final
            ) from exc

    def _ask(self, family: Family, request: TaskRequest, *, operation: str) -> TaskResult:
        """One ask of a family that :attr:`~Family.asks`: the same question
        creates and polls, so a timeout is always safe to ask again."""
        method, path, payload = family.ask(request)

        def call() -> object:
            return self.client.call(
                operation=operation,
                method=method,
                path=path,
                params=payload if method == "GET" else None,
                json_body=None if method == "GET" else payload,
                job_ref=request.job_id,
                bad_response_permanent=False,
                resend_safe=True,
            )

        return family.answer(request, call)

    # --- callbacks --------------------------------------------------------------

    def verify_callback(self, body: bytes, headers: dict[str, str]) -> None:
        """Check a callback's signature when ``KIE_WEBHOOK_HMAC_KEY`` is set (§1 Callbacks).

        ``headers`` have lower-case names: ``x-webhook-timestamp`` (unix
        seconds, within :data:`SIGNATURE_MAX_SKEW_SECONDS` of now) and
        ``x-webhook-signature`` = :func:`.client.callback_signature` of
        ``data.taskId`` (Market, Veo) else ``data.task_id`` (Runway) from the
        body. Raises ``ProviderError(code="bad_signature", permanent=True)`` on
        any mismatch. Without a key every callback passes: the per-job secret
        token in the URL already authenticates it.
        """
        key = settings.KIE_WEBHOOK_HMAC_KEY
        if not key:
            return

        def reject(why: str) -> ProviderError:
            log.warning("kie callback signature rejected: %s", why)
            return ProviderError(BAD_SIGNATURE_MESSAGE, code="bad_signature", permanent=True)

        timestamp = headers.get("x-webhook-timestamp", "").strip()
        signature = headers.get("x-webhook-signature", "").strip()
        if not timestamp or not signature:
            raise reject("missing headers")
        try:
            sent_at = int(timestamp)
        except ValueError as exc:
            raise reject("timestamp is not an integer") from exc
        if abs(time.time() - sent_at) > SIGNATURE_MAX_SKEW_SECONDS:
            raise reject("timestamp out of range")
        try:
            data = json.loads(body).get("data")
            task_id = data.get("taskId") or data.get("task_id")
        except (ValueError, AttributeError) as exc:
            raise reject("body unreadable") from exc
        if not isinstance(task_id, str) or not task_id:
            raise reject("no task id")
        expected = callback_signature(key=key, task_id=task_id, timestamp=timestamp)
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace")):
            raise reject("signature mismatch")

    def parse_callback(self, body: bytes, *, provider_model: str = "") -> TaskResult:
        """A :class:`TaskResult` from a callback of the family of
        ``provider_model`` (the job's), or told by the body's shape when it is
        empty (:func:`callback_family`). Each family's ``read_callback`` says
        its shape. Raises ``ProviderError(code="bad_callback", permanent=True)``
        for a body that is not such an object (our endpoint then answers 400).
        """
        try:
            envelope = json.loads(body)
            if not isinstance(envelope, dict):
                raise Malformed("not an object")
            family = family_for(provider_model) if provider_model else callback_family(envelope)
            return family.read_callback(envelope)
        except (ValueError, Malformed) as exc:  # Malformed is a ValueError, named for the reader
            log.warning("kie callback unreadable: %s", exc)
            raise ProviderError(BAD_CALLBACK_MESSAGE, code="bad_callback", permanent=True) from exc

    # --- outputs and account ----------------------------------------------------

    def download(self, url: str, request: TaskRequest, *, max_bytes: int) -> Download:
        """See :meth:`.client.Client.download`."""
        return self.client.download(url, job_ref=request.job_id, max_bytes=max_bytes)

    def credits_remaining(self, *, timeout: float | None = None, retries: int | None = None) -> int:
        """See :meth:`.client.Client.credits_remaining`."""
        return self.client.credits_remaining(timeout=timeout, retries=retries)

    def health(self) -> bool:
        """True when the key is set and the credits endpoint answers code 200 (§1 Credits)."""
        if not self.is_configured():
            return False
        try:
            self.credits_remaining()
        except ProviderError as exc:
            log.info("kie health check failed: %s %s", exc.code, exc)
            return False
        return True
