"""Push: tell a creator's open pages the moment one of their jobs changes.

Without it a running job's card asks for itself every 2 seconds. With it the
page holds one server-sent-events stream (``GET /events/``, the HTML
standard's ``EventSource``) while it shows a running card, and the card asks
for itself only when the stream says its job changed (``static/js/mirsam.js``).

The way an event travels:

1. Whatever changes a job (the pipeline, in a worker or in the callback
   view) calls :func:`job_changed` inside its transaction; after commit it is
   published on the owner's Redis pub/sub channel (:func:`channel`), so any
   web process can serve any viewer and no process keeps state of its own.
2. :func:`events` (an async view, served under ASGI by the Procfile's
   ``asgi`` process) subscribes to the signed-in viewer's own channel only —
   a viewer never receives another user's events — and writes each message
   as ``event: job`` with ``data: {"id": <job id>, "status": <JobStatus>,
   "at": <µs>}`` and ``id: <µs>``, where ``at`` is the job's ``updated_at``
   in microseconds since the Unix epoch.
3. The page compares ``at`` with its card's ``data-updated`` and fetches the
   card (``job_card``, the same view polling uses) when it is newer.

Nothing is lost when a stream breaks: a stream starts by sending every job
of the viewer changed after ``?since=`` (µs; the page sends the oldest
version of its running cards) or after the ``Last-Event-ID`` the browser
sends when it reconnects, whichever is later, read after subscribing. A
restarted or lost web process only makes its viewers reconnect to another.

Where push is not available the cards poll as before: the embedded default
has no Redis (``MIRSAM_PUSH_URL`` is empty then and the page opens no
stream); a stream that cannot subscribe (Redis down) answers 503 and one
that loses Redis ends, and while the page has no open stream its running
cards poll every 2 s; a request served over WSGI (``/events/`` not routed to
the ASGI process) answers 204, which tells the browser not to reconnect.

Settings: ``MIRSAM_REDIS_URL``, ``MIRSAM_PUSH_URL``,
``MIRSAM_PUSH_HEARTBEAT_SECONDS`` (a comment line keeps proxies from closing
an idle stream), ``MIRSAM_PUSH_STREAM_SECONDS`` (a stream ends after this,
and the browser reconnects at once, to any process, so long-lived
connections spread again after a deploy).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from .models import Job

log = logging.getLogger(__name__)

#: How many streams of one process may be opening at once (reading the
#: session, the user and the catch-up, each on a database connection of its
#: own): 200 pages reconnecting together after a deploy took 200 PostgreSQL
#: connections and were refused past ``max_connections`` (bench/latency.py).
OPENING_AT_ONCE = 8

#: How far back a stream's catch-up looks at most, and how many jobs it sends.
CATCH_UP = timedelta(hours=1)
CATCH_UP_JOBS = 200


def channel(user_id: int) -> str:
    """The Redis pub/sub channel of one user's job events."""
    return f"mirsam:push:user:{user_id}"


def micros(moment: datetime) -> int:
    """A moment as whole microseconds since the Unix epoch (events' ``at`` and ``id``)."""
    return round(moment.timestamp() * 1_000_000)


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def job_changed(*, job_id: int, user_id: int, status: str, updated_at: datetime) -> None:
    """Publish that job ``job_id`` of ``user_id`` now has ``status`` and
    ``updated_at`` (the row's new stamp), once the current transaction
    commits (at once outside one). Without Redis nothing is published (the
    cards poll). A Redis error is logged and dropped: the job has changed
    anyway, and a viewer whose stream lost Redis polls."""
    url = settings.MIRSAM_REDIS_URL
    if not url:
        return
    message = json.dumps({"id": job_id, "status": status, "at": micros(updated_at)})

    def publish() -> None:
        try:
            _client(url).publish(channel(user_id), message)
        except redis.RedisError as exc:
            log.warning("push for job %s not published: %s", job_id, exc)

    transaction.on_commit(publish)


def watching(*, user_id: int) -> bool:
    """Does ``user_id`` have a push stream open, i.e. a page showing a
    running card of theirs (``PUBSUB NUMSUB`` of their channel: streams are
    its only subscribers)? ``False`` without Redis or when it cannot say."""
    url = settings.MIRSAM_REDIS_URL
    if not url:
        return False
    try:
        [(_, count)] = _client(url).pubsub_numsub(channel(user_id))
    except redis.RedisError as exc:
        log.info("push presence unknown: %s", exc)
        return False
    return int(count) > 0


def _event(message: str) -> bytes:
    """One ``job`` event of the stream for a published ``message`` (JSON)."""
    at = json.loads(message)["at"]
    return f"id: {at}\nevent: job\ndata: {message}\n\n".encode()


def _since(request: HttpRequest) -> datetime:
    """Where the catch-up starts: the later of ``?since=`` and ``Last-Event-ID``
    (µs since the epoch), never more than :data:`CATCH_UP` ago."""
    floor = timezone.now() - CATCH_UP
    marks = [request.GET.get("since", ""), request.headers.get("Last-Event-ID", "")]
    values = [int(m) for m in marks if m.isdigit()]
    try:
        return max([floor, *(datetime.fromtimestamp(v / 1_000_000, tz=UTC) for v in values)])
    except (OverflowError, ValueError, OSError):  # a forged mark past the calendar
        return floor


def _viewer(request: HttpRequest) -> int | None:
    """The signed-in viewer's id, ``None`` for a visitor."""
    user = request.user
    return user.pk if user.is_authenticated else None


def _catch_up(request: HttpRequest, user_id: int) -> list[bytes]:
    """An event for each of the viewer's jobs changed since :func:`_since`,
    oldest first. Closes this thread's database connection afterwards: a
    stream lasts minutes and must not hold a PostgreSQL connection."""
    try:
        rows = (
            Job.objects.filter(user_id=user_id, updated_at__gt=_since(request))
            .order_by("updated_at")
            .values_list("pk", "status", "updated_at")[:CATCH_UP_JOBS]
        )
        return [_event(json.dumps({"id": pk, "status": s, "at": micros(at)})) for pk, s, at in rows]
    finally:
        _release_connection()


def _release_connection() -> None:
    """Close this thread's database connection, unless a transaction holds
    it (a test's; a request's would with ``ATOMIC_REQUESTS``, which is off)."""
    if not connection.in_atomic_block:
        connection.close()


async def _stream(
    client: redis.asyncio.Redis, pubsub: redis.asyncio.client.PubSub, catch_up: list[bytes]
) -> AsyncIterator[bytes]:
    """The stream's bytes: catch-up, then each message, heartbeats between,
    until ``MIRSAM_PUSH_STREAM_SECONDS`` have passed, Redis fails or the
    viewer goes (the ASGI handler then cancels this)."""
    heartbeat = settings.MIRSAM_PUSH_HEARTBEAT_SECONDS
    ends = time.monotonic() + settings.MIRSAM_PUSH_STREAM_SECONDS
    try:
        # The middleware's session and user reads ran in this request's
        # thread; its connection would otherwise stay open for the stream.
        await sync_to_async(_release_connection)()
        yield b"retry: 2000\n\n"  # the browser's reconnect delay, in ms
        for event in catch_up:
            yield event
        while (left := ends - time.monotonic()) > 0:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=min(heartbeat, left))
            if message is None:
                yield b": keep-alive\n\n"
            elif message["type"] == "message":
                yield _event(message["data"].decode())
    except (redis.RedisError, OSError) as exc:
        log.info("push stream ended: %s", exc)
    finally:
        await asyncio.shield(_close(client, pubsub))


async def _close(client: redis.asyncio.Redis, pubsub: redis.asyncio.client.PubSub) -> None:
    await pubsub.aclose()
    await client.aclose()


_opening: dict[int, asyncio.Semaphore] = {}


async def gated(app: Any, scope: Any, receive: Any, send: Any) -> None:
    """Serve a ``/events/`` request through ``app`` (Django's ASGI handler,
    config/asgi.py) while at most :data:`OPENING_AT_ONCE` requests of this
    process are opening: the slot is held from the request's start (the
    middleware reads the session) to the stream's first bytes (sent once the
    stream gave its database connection back), so a storm of reconnects
    waits its turn instead of taking every PostgreSQL connection."""
    loop = id(asyncio.get_running_loop())
    gate = _opening.setdefault(loop, asyncio.Semaphore(OPENING_AT_ONCE))
    await gate.acquire()
    held = True

    def release() -> None:
        nonlocal held
        if held:
            held = False
            gate.release()

    async def sending(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            release()
        await send(message)

    try:
        await app(scope, receive, sending)
    finally:
        release()


@require_GET
async def events(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """``GET /events/``: the signed-in viewer's job events as
    ``text/event-stream`` (module docstring). 204 — "do not reconnect" — for
    a visitor, when push is off or when not served under ASGI (a WSGI server
    would hold a worker for the stream's life); 503 while Redis cannot be
    reached (the browser polls and tries again later)."""
    if not settings.MIRSAM_PUSH_URL or not isinstance(request, ASGIRequest):
        return HttpResponse(status=204)
    user_id = await sync_to_async(_viewer)(request)
    if user_id is None:
        return HttpResponse(status=204)
    client = redis.asyncio.Redis.from_url(settings.MIRSAM_REDIS_URL, socket_connect_timeout=2)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(channel(user_id))
    except (redis.RedisError, OSError) as exc:
        log.warning("push stream refused: %s", exc)
        await _close(client, pubsub)
        return HttpResponse(status=503, headers={"Retry-After": "10"})
    # Read after subscribing, so a change between the two is sent twice at worst, never lost.
    try:
        catch_up = await sync_to_async(_catch_up)(request, user_id)
    except BaseException:
        await _close(client, pubsub)
        raise
    response = StreamingHttpResponse(_stream(client, pubsub, catch_up), content_type="text/event-stream")
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
