"""Push (generation/push.py): the pipeline publishes a job's changes on its
owner's Redis channel after commit, and ``GET /events/`` streams exactly the
signed-in viewer's events, with a catch-up for what a reconnecting page
missed. Streams are read through Django's async test client (an ASGI
request, as under uvicorn), driven from these sync tests with
``async_to_sync`` so the view's ORM calls run in the test's thread and
transaction."""

from __future__ import annotations

import json
import time

import pytest
import redis
from asgiref.sync import async_to_sync, sync_to_async
from django.db import connection
from django.test import AsyncClient, Client
from django.urls import reverse
from django.utils import timezone

from generation import push, services
from generation.models import Job, JobStatus
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.django_db


def _events(chunks: list[bytes]) -> list[dict]:
    """The ``job`` events among a stream's chunks, as their data (JSON), each with its ``id``."""
    found = []
    for chunk in chunks:
        fields = dict(line.split(": ", 1) for line in chunk.decode().splitlines() if ": " in line)
        if fields.get("event") == "job":
            found.append({**json.loads(fields["data"]), "event_id": fields["id"]})
    return found


def _read(user, path: str = "/events/", *, during=None, headers: dict | None = None) -> tuple[int, list[bytes]]:
    """Open ``path`` as ``user`` (``None``: a visitor) and read the stream to
    its end; ``during`` (a sync callable) runs once the stream has sent its
    first chunk, i.e. once it is subscribed."""

    async def run() -> tuple[int, list[bytes]]:
        client = AsyncClient()
        if user is not None:
            await client.aforce_login(user)
        response = await client.get(path, headers=headers or {})
        if not response.streaming:
            return response.status_code, [response.content]
        chunks: list[bytes] = []
        async for chunk in response.streaming_content:
            chunks.append(chunk)
            if len(chunks) == 1 and during is not None:
                await sync_to_async(during)()
        return response.status_code, chunks

    return async_to_sync(run)()


def _running_job(user, offer) -> Job:
    job = services.job_submit(user=user, offer=offer, params={"prompt": "a slow comet", "outputs": 1})
    Job.objects.filter(pk=job.pk).update(status=JobStatus.PROCESSING)
    job.refresh_from_db()
    return job


def test_a_viewer_gets_their_jobs_change_and_an_outsider_gets_nothing(
    push_on, alice, charlie, demo_offer, django_capture_on_commit_callbacks
):
    job = _running_job(alice, demo_offer)
    since = f"?since={job.version_us}"  # the page shows this version: no catch-up

    def change() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            push.job_changed(job_id=job.pk, user_id=alice.pk, status="succeeded", updated_at=timezone.now())

    status, chunks = _read(alice, "/events/" + since, during=change)
    assert status == 200
    assert chunks[0].startswith(b"retry: ")
    [event] = _events(chunks)
    assert event["id"] == job.pk and event["status"] == "succeeded" and event["at"] > job.version_us
    assert event["event_id"] == str(event["at"])  # what the browser sends back as Last-Event-ID
    assert b": keep-alive\n\n" in chunks  # heartbeats while nothing happens

    # charlie asks for the same job's events (and everything since the epoch): none of alice's reach him.
    status, chunks = _read(charlie, f"/events/?since=0&job={job.pk}", during=change)
    assert status == 200 and _events(chunks) == []


def test_the_stream_starts_with_the_jobs_changed_since_the_page_or_the_last_event(push_on, alice, demo_offer):
    older = _running_job(alice, demo_offer)
    newer = _running_job(alice, demo_offer)
    Job.objects.filter(pk=newer.pk).update(status=JobStatus.SUCCEEDED)  # changed after the page was drawn
    newer.refresh_from_db()
    assert newer.version_us > older.version_us

    _, chunks = _read(alice, f"/events/?since={older.version_us}")
    assert [(e["id"], e["status"], e["at"]) for e in _events(chunks)] == [(newer.pk, "succeeded", newer.version_us)]
    # A reconnecting browser sends the id of the last event it saw, which wins over the page's ?since=.
    _, chunks = _read(alice, "/events/?since=0", headers={"Last-Event-ID": str(newer.version_us)})
    assert _events(chunks) == []
    # Forged marks are ignored (the last hour is sent), never an error.
    for forged in ("?since=abc", "?since=" + "9" * 30, "?since=-5"):
        status, chunks = _read(alice, "/events/" + forged)
        assert status == 200 and {e["id"] for e in _events(chunks)} == {older.pk, newer.pk}


def test_the_pipeline_publishes_each_step_of_a_job_after_commit(
    push_on, alice, demo_offer, django_capture_on_commit_callbacks
):
    listener = redis.Redis.from_url(REDIS_URL).pubsub()
    listener.subscribe(push.channel(alice.pk))
    listener.get_message(timeout=2)  # the subscription's confirmation
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a lighthouse", "outputs": 1})
        seen_before_commit = listener.get_message(timeout=0.2)
    assert callbacks and seen_before_commit is None
    statuses = []
    deadline = time.monotonic() + 5
    while "succeeded" not in statuses and time.monotonic() < deadline:
        message = listener.get_message(ignore_subscribe_messages=True, timeout=1)
        if message:
            data = json.loads(message["data"])
            assert data["id"] == job.pk
            statuses.append(data["status"])
    listener.close()
    job.refresh_from_db()
    assert statuses == ["submitted", "succeeded"]
    assert data["at"] == job.version_us  # the card the page then fetches shows exactly this version


def test_one_output_of_several_is_announced_and_shown_while_the_rest_run(
    push_on, alice, alice_client, demo_offer, django_capture_on_commit_callbacks
):
    from generation.services.pipeline import _task_request
    from providers.registry import get_adapter

    push_on.DEMO_DELAY_SECONDS = 3600  # both tasks keep running through the eager polls
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "two moons", "outputs": 2})
    job = Job.objects.get(pk=job.pk)
    assert not job.is_final and job.tasks.filter(status="running").count() == 2
    before = job.version_us
    listener = redis.Redis.from_url(REDIS_URL).pubsub()
    listener.subscribe(push.channel(alice.pk))
    listener.get_message(timeout=2)
    first = job.tasks.order_by("index").first()
    push_on.DEMO_DELAY_SECONDS = 0  # the first task is done now; the second is never asked
    result = get_adapter("demo").fetch(first.task_id, _task_request(job, first))
    with django_capture_on_commit_callbacks(execute=True):
        services.task_complete(task_pk=first.pk, result=result)
    message = listener.get_message(ignore_subscribe_messages=True, timeout=2)
    listener.close()
    job.refresh_from_db()
    assert not job.is_final and job.assets.count() == 1
    assert job.version_us > before  # a new version of the card, so its cached copy and ETag move on
    assert message is not None and json.loads(message["data"])["at"] == job.version_us
    card = alice_client.get(reverse("job_card", args=[job.pk])).content.decode()
    assert card.count('elementtiming="job-output"') == 1  # the delivered result …
    assert card.count("tile skeleton") == 1  # … and a placeholder for the other


def test_a_visitor_a_wsgi_request_and_push_off_get_204_and_redis_down_503(push_on, alice, settings):
    status, _ = _read(None)
    assert status == 204  # a visitor: EventSource does not reconnect
    client = Client()
    client.force_login(alice)
    assert client.get("/events/").status_code == 204  # over WSGI a stream would hold a worker
    settings.MIRSAM_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    status, _ = _read(alice)
    assert status == 503
    settings.MIRSAM_PUSH_URL = ""
    status, _ = _read(alice)
    assert status == 204


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_stream_gives_back_its_database_connection(push_on, alice, demo_offer):
    """A stream lasts minutes; it must not keep a PostgreSQL connection (one per viewer) all that time.
    (Transactional: inside a test's transaction the connection must stay.)"""
    _running_job(alice, demo_offer)
    seen = []
    _read(alice, "/events/?since=0", during=lambda: seen.append(connection.connection is None))
    assert seen == [True]


def test_pages_name_the_stream_only_for_a_signed_in_viewer_when_push_is_on(push_on, alice_client, client):
    page = alice_client.get(reverse("image")).content.decode()
    assert 'data-push-url="/events/"' in page
    assert "data-push-url" not in Client().get(reverse("landing")).content.decode()


def test_a_running_card_carries_its_version_and_the_push_trigger(push_on, alice, alice_client, demo_offer):
    job = _running_job(alice, demo_offer)
    card = alice_client.get(reverse("job_card", args=[job.pk])).content.decode()
    assert f'data-updated="{job.version_us}"' in card
    assert 'hx-trigger="every 2s, mirsam:job"' in card


def test_without_redis_nothing_is_published_and_a_redis_error_loses_the_job_nothing(
    settings, alice, demo_offer, django_capture_on_commit_callbacks, monkeypatch
):
    calls = []
    monkeypatch.setattr(push, "_client", lambda url: calls.append(url) or redis.Redis.from_url(url))
    settings.MIRSAM_REDIS_URL = ""
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        push.job_changed(job_id=1, user_id=alice.pk, status="succeeded", updated_at=timezone.now())
    assert callbacks == [] and calls == []
    settings.MIRSAM_REDIS_URL = "redis://127.0.0.1:1/0"  # down: logged, and the job still finishes
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a lighthouse", "outputs": 1})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and calls


def test_an_open_stream_counts_as_watching_so_no_email_is_sent(push_on, alice, charlie):
    from accounts.notifications import is_watching

    seen = []
    _read(alice, during=lambda: seen.append((is_watching(user_id=alice.pk), is_watching(user_id=charlie.pk))))
    assert seen == [(True, False)]  # alice's page holds a stream; charlie has none
    assert not is_watching(user_id=alice.pk)  # the stream ended
    push_on.MIRSAM_REDIS_URL = "redis://127.0.0.1:1/0"
    assert not push.watching(user_id=alice.pk)  # cannot say: not watching, so the e-mail goes


def test_at_most_eight_streams_of_a_process_open_at_once_and_an_open_one_frees_its_slot():
    """A storm of reconnects waits its turn (each opening holds a database
    connection); a stream that has sent its first bytes no longer counts."""
    import asyncio

    opening = {"now": 0, "most": 0}
    streaming = []

    async def app(scope, receive, send):
        opening["now"] += 1
        opening["most"] = max(opening["most"], opening["now"])
        await asyncio.sleep(0.01)  # the session and catch-up reads
        opening["now"] -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"retry: 2000\n\n", "more_body": True})
        streaming.append(scope["n"])
        await asyncio.sleep(0.5)  # the stream goes on, not holding a slot

    async def send(message):
        pass

    async def run():
        started = asyncio.get_running_loop().time()
        await asyncio.gather(*(push.gated(app, {"n": n}, None, send) for n in range(40)))
        return asyncio.get_running_loop().time() - started

    took = async_to_sync(run)()
    assert opening["most"] == push.OPENING_AT_ONCE
    assert sorted(streaming) == list(range(40))
    assert took < 1.5  # 40 streams open together (5 rounds of 0.01 s), not one after another's 0.5 s


def test_the_asgi_router_gates_the_path_the_urls_serve_push_on():
    from config import asgi

    assert reverse("push_events") == asgi.EVENTS_PATH
