"""The MCP server for AI agents: the Model Context Protocol over the same
services and JSON as the REST API (docs/api.md "MCP server").

Built with the official Python SDK (``mcp``, its ``MCPServer``). Five tools:
``list_models``, ``quote_price``, ``generate``, ``get_job`` and
``get_balance``; each answers what its REST endpoint answers (the shaping
functions of :mod:`api.v1`), as structured content and as JSON text.

Who calls: a personal API key, read on every tool call. Over stdio
(``python manage.py mcp_server``) it is the ``MIRSAM_API_KEY`` variable the
agent's client sets; over streamable HTTP (:func:`http_app`, mounted at
:data:`PATH` by ``config.asgi``) the ``Authorization: Bearer`` header of the
request carrying the call, which :class:`KeyGate` has already checked (no key,
an unknown or a revoked key → 401 before the MCP transport sees the request).
Scopes as in the REST API: ``read`` for list/quote/get, ``generate`` for
``generate``. Each call counts against the key's ``MIRSAM_API_RATE_REQUESTS``
(and ``generate`` against ``MIRSAM_API_RATE_JOBS``), the same counters as its
REST requests.

A refusal is a tool error (``isError``) whose structured content and text are
the REST API's error body, ``{"error": {"code", "message", ...}}``, the
message in the key owner's language (``Accept-Language`` over HTTP wins).

The tools are async; their Django work runs through ``sync_to_async``
(thread-sensitive: one thread, as Django runs sync views under ASGI), between
``close_old_connections`` calls, as a request's start and end would do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urljoin, urlsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import close_old_connections
from django.http import HttpRequest
from django.http.request import split_domain_port, validate_host
from django.utils import translation
from django.utils.translation import gettext as _
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from credits.services import InsufficientCredits
from generation.errors import GenerationError

from . import schemas, v1
from .auth import JOBS_GROUP, REQUESTS_GROUP, answer_language, key_check, rate_check, scope_check
from .errors import ApiError
from .models import ApiKey
from .models import Scope as KeyScope
from .services import api_key_authenticate, idempotent

if TYPE_CHECKING:
    from generation.models import Job

logger = logging.getLogger(__name__)

#: The environment variable holding the key for ``manage.py mcp_server`` (stdio).
SECRET_ENV = "MIRSAM_API_KEY"  # noqa: S105  # a variable's name, not a secret
#: Where ``config.asgi`` mounts the streamable HTTP endpoint ("/mcp" is answered too).
PATH = "/mcp/"

INSTRUCTIONS = (
    "Mirsam generates images, videos and portraits for credits. list_models shows each model's "
    "options and prices; quote_price says what a job costs; generate starts one (its price is held, "
    "charged per output delivered, the rest returned); poll get_job until its status is succeeded, "
    "failed or canceled, then download its outputs' urls (valid for a few minutes). Input images are "
    "uploaded with the REST API (POST /api/v1/uploads) and named here by id."
)


# --- who calls ------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """What a tool call brings besides its arguments: the key's secret, the
    client's ``Accept-Language`` (HTTP only) and the site's address for links."""

    secret: str
    accept_language: str
    base_url: str


def _bearer(value: str | None) -> str:
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip()
    return ""


def _call_of(ctx: Context, stdio_secret: str | None) -> Call:
    """Read the call's credentials: over HTTP from the request that carries
    it (the transport's headers, or the Starlette request on the stateless
    path), over stdio the server's own key. An HTTP call never falls back to
    the process's key."""
    request = ctx.request_context.request
    headers = ctx.headers
    if headers is None and isinstance(request, Request):
        headers = request.headers
    if headers is None:  # stdio
        return Call(secret=stdio_secret or "", accept_language="", base_url=settings.MIRSAM_SITE_URL)
    lowered = {k.lower(): v for k, v in headers.items()}
    base = f"{request.url.scheme}://{request.url.netloc}/" if isinstance(request, Request) else settings.MIRSAM_SITE_URL
    return Call(
        secret=_bearer(lowered.get("authorization")),
        accept_language=lowered.get("accept-language", ""),
        base_url=base,
    )


def _django_request(call: Call, key: ApiKey | None) -> HttpRequest:
    """The call as the REST API's helpers read a request: its
    ``Accept-Language`` (answer_language) and its key (rate_check)."""
    request = HttpRequest()
    if call.accept_language:
        request.META["HTTP_ACCEPT_LANGUAGE"] = call.accept_language
    request.auth = key  # type: ignore[attr-defined]
    return request


Work = Callable[[ApiKey, Call], dict[str, Any]]


def _answer(call: Call, scope: str, work: Work, *, jobs: bool = False) -> tuple[bool, dict[str, Any]]:
    """Authenticate ``call``, check ``scope`` and the key's limits, run
    ``work(key, call)`` in the owner's language; returns ``(is_error,
    JSON-ready body)``. Runs in Django's thread (sync_to_async)."""
    close_old_connections()
    try:
        found = api_key_authenticate(secret=call.secret)
        request = _django_request(call, found)
        with translation.override(answer_language(request, found)):
            try:
                key = key_check(found)
                rate_check(request, group=REQUESTS_GROUP, rate=settings.MIRSAM_API_RATE_REQUESTS)
                scope_check(key, scope)
                if jobs:
                    rate_check(request, group=JOBS_GROUP, rate=settings.MIRSAM_API_RATE_JOBS)
                return False, work(key, call)
            except (ApiError, GenerationError, InsufficientCredits) as exc:
                return True, v1.as_api_error(exc).body()
    finally:
        close_old_connections()


async def _tool_result(call: Call, scope: str, work: Work, *, jobs: bool = False) -> CallToolResult:
    is_error, body = await sync_to_async(_answer, thread_sensitive=True)(call, scope, work, jobs=jobs)
    if list(body) == ["error"]:
        is_error = True  # a refusal answered by work itself (generate's, perhaps kept by idempotency)
    text = json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False)
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=json.loads(text),  # JSON types only: datetimes as ISO 8601 strings
        is_error=is_error,
    )


def _absolute(call: Call) -> Callable[[str], str]:
    return lambda path: urljoin(call.base_url, path)


def _job_request(
    model: str, prompt: str, params: dict[str, str], outputs: int, uploads: list[int], results: list[int]
) -> schemas.JobRequest:
    return schemas.JobRequest(
        model=model, prompt=prompt, params=params, outputs=outputs, uploads=uploads, results=results
    )


# --- arguments ------------------------------------------------------------------------

Model = Annotated[str, Field(description="A model's slug, as list_models gives it (e.g. the 'slug' of a model).")]
Prompt = Annotated[
    str,
    Field(description="What to make, in any language; at most the model's prompt_max_length characters."),
]
Params = Annotated[
    dict[str, str] | None,
    Field(
        description="Option values by option name, from the model's options in list_models "
        '(e.g. {"aspect_ratio": "16:9"}); a missing option takes its default.'
    ),
]
Outputs = Annotated[int, Field(ge=1, description="How many results to make, 1 to the model's max_outputs.")]
Uploads = Annotated[
    list[int] | None,
    Field(
        description="Input images: ids from the REST API's POST /api/v1/uploads, in the order of the model's "
        "input roles (a portrait model needs a photo uploaded with consent_version)."
    ),
]
Results = Annotated[list[int] | None, Field(description="Ids of your own earlier outputs (get_job) to use as inputs.")]


# --- the server -----------------------------------------------------------------------


def build_server(*, stdio_secret: str | None = None) -> MCPServer[Any]:
    """The MCP server with its five tools. ``stdio_secret`` is the key of a
    stdio server (one agent, one key); an HTTP server passes none and reads
    each call's bearer key."""
    server: MCPServer[Any] = MCPServer(
        "mirsam", title="Mirsam", instructions=INSTRUCTIONS, website_url=settings.MIRSAM_SITE_URL, log_level="WARNING"
    )
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)

    def run(ctx: Context, scope: str, work: Work, *, jobs: bool = False) -> Awaitable[CallToolResult]:
        return _tool_result(_call_of(ctx, stdio_secret), scope, work, jobs=jobs)

    @server.tool(annotations=read_only)
    async def list_models(
        ctx: Context,
        service: Annotated[
            Literal["image", "video", "avatar", "audio"] | None,
            Field(description="Only the models of this service; all when left out."),
        ] = None,
    ) -> Annotated[CallToolResult, schemas.ModelsOut]:
        """Every model you can generate with: its slug, service (image, video,
        avatar, audio), options with each choice's price in credits, default
        price per output, prompt limits, how many input images it takes, and
        the consent wording's version (for photos of people). Scope: read."""

        def work(key: ApiKey, call: Call) -> dict[str, Any]:
            body = v1.models_json()
            if service:
                body["models"] = [m for m in body["models"] if m["service"] == service]
            return body

        return await run(ctx, KeyScope.READ, work)

    @server.tool(annotations=read_only)
    async def quote_price(
        ctx: Context,
        model: Model,
        prompt: Prompt = "",
        params: Params = None,
        outputs: Outputs = 1,
    ) -> Annotated[CallToolResult, schemas.QuoteOut]:
        """The price in credits of a job with these settings, by the same rule
        as the website (the settings as they would run, with defaults filled
        in; your available credits and whether they suffice). Nothing is held.
        Scope: read."""
        body = _job_request(model, prompt, params or {}, outputs, [], [])
        return await run(ctx, KeyScope.READ, lambda key, call: v1.quote_json(user=key.user, body=body))

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True))
    async def generate(
        ctx: Context,
        model: Model,
        prompt: Prompt = "",
        params: Params = None,
        outputs: Outputs = 1,
        uploads: Uploads = None,
        results: Results = None,
        idempotency_key: Annotated[
            str | None,
            Field(
                max_length=255,
                description="Any unique string: repeating the call with the same key and arguments within "
                "24 hours returns the first answer and starts nothing new (shared with the REST API's "
                "Idempotency-Key).",
            ),
        ] = None,
    ) -> Annotated[CallToolResult, schemas.JobOut]:
        """Start an image, video or portrait job. Its price is held from your
        credits (a refusal with code insufficient_credits says what is needed
        and available), charged per output delivered; the rest comes back.
        Returns the job (status queued or later); poll get_job until it is
        succeeded, failed or canceled. Scope: generate."""
        body = _job_request(model, prompt, params or {}, outputs, uploads or [], results or [])

        def work(key: ApiKey, call: Call) -> dict[str, Any]:
            def start() -> tuple[int, dict[str, Any]]:
                try:
                    job: Job = v1.job_start(user=key.user, body=body)
                except (ApiError, GenerationError, InsufficientCredits) as exc:
                    error = v1.as_api_error(exc)
                    return error.status, error.body()
                return 201, v1.job_dict(job, absolute=_absolute(call))

            if idempotency_key is None:
                return start()[1]
            _status, text = idempotent(api_key=key, key=idempotency_key, payload=body.dict(), run=start)
            return json.loads(text)  # type: ignore[no-any-return]  # the first answer, a refusal too

        return await run(ctx, KeyScope.GENERATE, work, jobs=True)

    @server.tool(annotations=read_only)
    async def get_job(
        ctx: Context,
        job_id: Annotated[int, Field(description="The job's id, from generate.")],
    ) -> Annotated[CallToolResult, schemas.JobOut]:
        """One of your jobs: status (queued, submitted, processing, succeeded,
        failed, canceled), credits (price, held, charged, returned), error, and
        once finished its outputs with download links that work for a few
        minutes without a key. Scope: read."""
        return await run(
            ctx,
            KeyScope.READ,
            lambda key, call: v1.job_dict(v1.job_for(user=key.user, job_id=job_id), absolute=_absolute(call)),
        )

    @server.tool(annotations=read_only)
    async def get_balance(ctx: Context) -> Annotated[CallToolResult, schemas.BalanceOut]:
        """Your credits, whole numbers: balance (held ones included), held by
        running jobs, available to spend, owed. Scope: read."""
        return await run(ctx, KeyScope.READ, lambda key, call: v1.balance_json(user=key.user))

    return server


# --- streamable HTTP ------------------------------------------------------------------


def _refusal(error: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="mirsam"'} if error.status == 401 else {}
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def _key_refusal(authorization: str | None, accept_language: str) -> ApiError | None:
    """Why a request with this ``Authorization`` header may not use the MCP
    endpoint (:class:`ApiError` 401), or None. In Django's thread."""
    close_old_connections()
    try:
        secret = _bearer(authorization)
        found = api_key_authenticate(secret=secret) if secret else None
        request = _django_request(Call(secret=secret, accept_language=accept_language, base_url=""), found)
        with translation.override(answer_language(request, found)):
            if not secret:
                return ApiError("unauthenticated", _("Send your API key as “Authorization: Bearer <key>”."), status=401)
            try:
                key_check(found)
            except ApiError as exc:
                return exc
        return None
    finally:
        close_old_connections()


def _allowed_hosts() -> list[str]:
    # As HttpRequest.get_host: with DEBUG and no ALLOWED_HOSTS, the local names.
    if not settings.ALLOWED_HOSTS and settings.DEBUG:
        return [".localhost", "127.0.0.1", "[::1]"]
    return list(settings.ALLOWED_HOSTS)


def _host_allowed(host: str) -> bool:
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, _allowed_hosts())


def _origin_allowed(origin: str) -> bool:
    return _host_allowed(urlsplit(origin).netloc) or origin in settings.CSRF_TRUSTED_ORIGINS


class KeyGate:
    """In front of the SDK's streamable HTTP app: the Host header must be
    one of Django's ``ALLOWED_HOSTS`` (its own ``validate_host``, so
    ``.example.com`` and ``*`` mean what they mean for the site: the
    DNS-rebinding check), an ``Origin`` header, when a browser sends one, must
    name an allowed host or a ``CSRF_TRUSTED_ORIGINS`` entry, and the request
    must carry a usable key (else 401 with the REST API's error body)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if not _host_allowed(request.headers.get("host", "")):
            await JSONResponse(
                {"error": {"code": "invalid_host", "message": _("This address is not one of the site's host names.")}},
                400,
            )(scope, receive, send)
            return
        origin = request.headers.get("origin")
        if origin and not _origin_allowed(origin):
            await JSONResponse(
                {
                    "error": {
                        "code": "invalid_origin",
                        "message": _("Requests from this web page's origin are not allowed."),
                    }
                },
                403,
            )(scope, receive, send)
            return
        refusal = await sync_to_async(_key_refusal, thread_sensitive=True)(
            request.headers.get("authorization"), request.headers.get("accept-language", "")
        )
        if refusal is not None:
            await _refusal(refusal)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def http_app() -> ASGIApp:
    """The streamable HTTP endpoint at :data:`PATH` as an ASGI app (its
    lifespan runs the SDK's session manager: send it the server's lifespan
    events). Stateless and answering in JSON: any web process can serve any
    request, so it scales like the REST API; no server-to-client requests
    are needed by these tools. Host and Origin are checked by
    :class:`KeyGate` against ``ALLOWED_HOSTS`` (the SDK's own check knows only
    exact names and ``name:*``), so its DNS-rebinding option is off here."""
    starlette = build_server().streamable_http_app(
        streamable_http_path=PATH,
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return KeyGate(starlette)
