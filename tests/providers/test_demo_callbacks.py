"""The demo provider calls back as kie.ai does (issue 21 part 4): a Market
callback body (docs/kie.md §2.1), signed as kie.ai signs (§1 Callbacks), sent
by a Celery task due when the task is done; its own check and parser. The
round trip through the real endpoint is in tests/generation/test_demo_callbacks.py."""

from __future__ import annotations

import json
import socket
import time

import pytest
import requests
from django.utils import translation

from providers import demo
from providers.base import ProviderError, TaskState
from providers.demo import DemoAdapter, callback_body, callback_headers
from providers.kie.client import callback_signature
from providers.models import ProviderCall
from providers.tasks import DEMO_CALLBACK_RETRIES, demo_callback_task
from tests.providers.test_demo_media import TASK_ID, VIDEO, adapter, request_for

__all__ = ["adapter"]  # the fixture, used by name below

IMAGE = {"prompt": "a lighthouse", "aspect_ratio": "1:1"}


def sent(result, *, model: str = "demo/video", params: dict | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers the demo sends for ``result``, as our endpoint
    sees them: the JSON as requests encodes it, the header names lower-case."""
    body = callback_body(result, provider_model=model, params=params or {})
    prepared = requests.Request("POST", "http://testserver/", json=body, headers=callback_headers(result.task_id))
    wire = prepared.prepare()
    assert isinstance(wire.body, bytes)
    return wire.body, {k.lower(): v for k, v in wire.headers.items()}


@pytest.mark.parametrize(
    ("model", "params"),
    [("demo/image", IMAGE), ("demo/video", VIDEO), ("demo/music", {"prompt": "rain"})],
    ids=["image", "video", "music"],
)
def test_a_callback_passes_its_check_and_parses_to_what_a_poll_gives(adapter, model, params):
    polled = adapter.fetch(TASK_ID, request_for(params, model=model))
    body, headers = sent(polled, model=model, params=params)

    adapter.verify_callback(body, headers)
    parsed = adapter.parse_callback(body, provider_model=model)

    assert polled.state == TaskState.SUCCEEDED
    assert parsed == polled  # outputs, posters (a video's), no billed credits
    data = json.loads(body)["data"]
    assert json.loads(body)["code"] == 200
    assert (data["taskId"], data["state"], data["model"]) == (TASK_ID, "success", model)
    assert json.loads(data["resultJson"]) == {"resultUrls": polled.output_urls}
    assert json.loads(data["param"]) == {"model": model, "input": params}
    assert data["createTime"] == int(TASK_ID.split("-")[1])


def test_a_failure_callback_parses_to_the_demos_failure_in_the_owners_language(adapter, settings):
    settings.DEMO_FAILURE_RATE = 1.0
    polled = adapter.fetch(TASK_ID, request_for(IMAGE, model="demo/image"))
    body, headers = sent(polled)

    adapter.verify_callback(body, headers)
    with translation.override("ar"):
        parsed = adapter.parse_callback(body)
        polled_ar = adapter.fetch(TASK_ID, request_for(IMAGE, model="demo/image"))

    envelope = json.loads(body)
    assert (envelope["code"], envelope["data"]["state"], envelope["data"]["resultJson"]) == (501, "fail", None)
    assert (parsed.state, parsed.error_code) == (TaskState.FAILED, "demo_failure")
    assert parsed == polled_ar
    assert parsed.error_message != polled.error_message  # Arabic, not the worker's English


def _tamper(body: bytes, **data) -> bytes:
    envelope = json.loads(body)
    envelope["data"].update(data)
    return json.dumps(envelope).encode()


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda b, h: (_tamper(b, taskId=f"demo-{int(time.time() * 1000)}-ffffffffffff"), h), id="taskId"),
        pytest.param(lambda b, h: (b, {**h, "x-webhook-signature": h["x-webhook-signature"][:-4] + "AAA="}), id="sig"),
        pytest.param(lambda b, h: (b, {k: v for k, v in h.items() if k != "x-webhook-signature"}), id="no-sig"),
        pytest.param(lambda b, h: (b, {k: v for k, v in h.items() if k != "x-webhook-timestamp"}), id="no-time"),
        pytest.param(lambda b, h: (b, {**h, "x-webhook-timestamp": "12e3"}), id="bad-time"),
        pytest.param(lambda b, h: (b"not json", h), id="body"),
    ],
)
def test_a_tampered_or_unsigned_callback_is_refused_as_a_bad_signature(adapter, spoil):
    body, headers = sent(adapter.fetch(TASK_ID, request_for(IMAGE, model="demo/image")))

    with pytest.raises(ProviderError) as caught:
        adapter.verify_callback(*spoil(body, headers))

    assert (caught.value.code, caught.value.permanent) == ("bad_signature", True)


def test_a_stale_signature_or_one_made_with_another_key_is_refused(adapter):
    result = adapter.fetch(TASK_ID, request_for(IMAGE, model="demo/image"))
    body, headers = sent(result)
    stale = callback_headers(TASK_ID, timestamp=int(time.time()) - 301)
    stamp = headers["x-webhook-timestamp"]
    other_key = callback_signature(key="someone-elses-key", task_id=TASK_ID, timestamp=stamp)

    for bad in ({k.lower(): v for k, v in stale.items()}, {**headers, "x-webhook-signature": other_key}):
        with pytest.raises(ProviderError) as caught:
            adapter.verify_callback(body, bad)
        assert caught.value.code == "bad_signature"


def test_the_key_comes_from_secret_key(settings):
    first = demo.callback_key()
    settings.SECRET_KEY = "another-secret-key-for-this-test"
    assert demo.callback_key() != first
    assert settings.SECRET_KEY not in first


@pytest.mark.parametrize(
    "data",
    [
        {"state": "generating"},
        {"taskId": "veo_task_123"},
        {"resultJson": json.dumps({"resultUrls": ["https://elsewhere.example/x.png"]})},
        {"resultJson": json.dumps({"resultUrls": []})},
        {"resultJson": "{not json"},
    ],
)
def test_a_signed_callback_the_demo_would_not_send_is_unreadable(adapter, data):
    body, _headers = sent(adapter.fetch(TASK_ID, request_for(IMAGE, model="demo/image")))

    with pytest.raises(ProviderError) as caught:
        adapter.parse_callback(_tamper(body, **data))

    assert (caught.value.code, caught.value.permanent) == ("bad_callback", True)


@pytest.fixture
def scheduled(monkeypatch, django_capture_on_commit_callbacks):
    """The demo callbacks submit schedules, run after commit: [(args, kwargs, countdown)]."""
    calls: list[tuple[tuple, dict, float]] = []
    monkeypatch.setattr(
        demo_callback_task,
        "apply_async",
        lambda args, kwargs, countdown: calls.append((args, kwargs, countdown)),
    )
    return calls


@pytest.mark.django_db
def test_submit_schedules_the_callback_after_commit_due_when_the_task_is_done(
    adapter, settings, scheduled, django_capture_on_commit_callbacks
):
    settings.DEMO_DELAY_SECONDS = 4
    url = "http://127.0.0.1:8000/callbacks/token/"
    request = request_for(VIDEO, model="demo/video")
    request = type(request)(**{**request.__dict__, "callback_url": url})

    with django_capture_on_commit_callbacks(execute=True) as pending:
        task_id = adapter.submit(request)
        assert scheduled == []  # not before the commit
    assert len(pending) == 1
    ((args, kwargs, countdown),) = scheduled
    assert args[0] == url and args[1]["task_id"] == task_id
    assert args[1]["output_urls"] == [f"demo://{task_id}/0.mp4"]
    assert kwargs == {"provider_model": "demo/video", "params": VIDEO, "job_ref": 1}
    assert 3 < countdown <= 4


@pytest.mark.django_db
def test_submit_without_a_callback_url_schedules_nothing(adapter, scheduled, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        adapter.submit(request_for(IMAGE, model="demo/image"))
    assert scheduled == []


def test_the_demo_calls_back_only_when_demo_callbacks_is_on(settings):
    settings.MIRSAM_SITE_URL = "http://127.0.0.1:8123"
    settings.DEMO_CALLBACKS = True
    assert DemoAdapter().callback_base_url() == "http://127.0.0.1:8123"
    settings.DEMO_CALLBACKS = False
    assert DemoAdapter().callback_base_url() == ""


@pytest.mark.django_db
def test_a_callback_nobody_answers_is_tried_once_and_twice_more_then_given_up(adapter):
    from config.celery import app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    result = adapter.fetch(TASK_ID, request_for(IMAGE, model="demo/image"))
    url = f"http://127.0.0.1:{port}/callbacks/secret-token/"

    # Eager retries run at once, one inside the other; each must hand its error on, not raise Retry.
    app.conf.task_eager_propagates = False
    try:
        outcome = demo_callback_task.apply((url, result.as_dict()), {"provider_model": "demo/image", "job_ref": 7})
    finally:
        app.conf.task_eager_propagates = True
    with pytest.raises(requests.ConnectionError):
        outcome.get()

    calls = list(ProviderCall.objects.filter(adapter="demo", operation="callback", job_ref=7))
    assert len(calls) == 1 + DEMO_CALLBACK_RETRIES
    assert all(call.status_code is None and call.task_id == TASK_ID for call in calls)
    assert all("secret-token" not in call.url for call in calls)  # the job's token stays out of the log
