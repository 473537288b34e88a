"""The kie.ai fake answering the real kie adapter: every family, uploads,
credits, errors, signed callbacks, the calls log, and the process the
benchmarks start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from providers.base import TaskRequest, TaskState
from providers.kie import KieAdapter
from providers.kie.uploads import upload
from tests.support.env import ROOT
from tests.support.kie import CREATE, HMAC_KEY, KIE_KEY, RECORD, KieFake, png_bytes
from tests.support.providers import input_file, raised

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings):
    """A KieFake in a thread, without latency, tasks done at once, the adapter pointed at it."""
    with KieFake(key=KIE_KEY, hmac_key=HMAC_KEY, latency=(0, 0), cdn_latency=(0, 0), generation=(0, 0)) as kie:
        settings.KIE_BASE_URL = settings.KIE_UPLOAD_BASE_URL = kie.url
        settings.KIE_API_KEY = KIE_KEY
        settings.KIE_MAX_RETRIES = 0
        settings.KIE_WEBHOOK_HMAC_KEY = HMAC_KEY
        yield kie


def task(provider_model: str, **params) -> TaskRequest:
    return TaskRequest(job_id=7, index=0, provider_model=provider_model, params={"prompt": "a red fox", **params})


def wait_for(condition, seconds: float = 10):
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return value


def test_a_market_task_is_created_polled_and_its_png_downloaded(fake):
    adapter = KieAdapter()
    request = task("google/nano-banana", aspect_ratio="1:1")

    task_id = adapter.submit(request)
    result = adapter.fetch(task_id, request)
    assert result.state is TaskState.SUCCEEDED
    download = adapter.download(result.output_urls[0], request, max_bytes=10**6)

    assert download.content_type == "image/png"
    assert download.file.read(8) == b"\x89PNG\r\n\x1a\n"
    calls = fake.calls_settled(3)
    assert [c["op"] for c in calls] == ["create", "poll", "download"]
    assert all(c["task"] == task_id and c["recv"] <= c["sent"] for c in calls)
    assert fake.tasks[task_id].prompt == "a red fox"


def test_a_task_runs_until_its_generation_time_has_passed(fake):
    fake.generation = (60, 60)
    adapter = KieAdapter()
    request = task("google/nano-banana")

    result = adapter.fetch(adapter.submit(request), request)

    assert result.state is TaskState.RUNNING
    assert fake.calls_of("poll")[0]["done"] is False


@pytest.mark.parametrize("model", ["veo3_fast", "runway"])
def test_video_families_create_extend_and_deliver_an_mp4(fake, model):
    adapter = KieAdapter()
    first = adapter.submit(task(model))
    extended = adapter.submit(task(model, extend_task_id=first))
    result = adapter.fetch(extended, task(model))

    assert result.state is TaskState.SUCCEEDED
    video = adapter.download(result.output_urls[0], task(model), max_bytes=10**6)
    assert video.content_type == "video/mp4"
    assert len(result.poster_urls) == (1 if model == "runway" else 0)
    assert fake.tasks[extended].family == ("veo" if model == "veo3_fast" else "runway")


def test_an_upload_is_served_back_at_its_download_url(fake):
    data = png_bytes((10, 10))
    url = upload(KieAdapter().client, task("veo3_fast"), 0, input_file(data))

    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == data
        assert response.headers["Content-Type"] == "image/png"
    assert "/mirsam/7/" in url


def test_credits_and_errors_answer_in_the_envelope(fake, settings):
    fake.credits = 321
    assert KieAdapter().credits_remaining() == 321

    unknown = raised(lambda: KieAdapter().fetch("task_nobody_made", task("google/nano-banana")))
    assert unknown.code == "422"
    no_prompt = TaskRequest(job_id=7, index=0, provider_model="google/nano-banana", params={})
    assert raised(lambda: KieAdapter().submit(no_prompt)).code == "422"
    assert raised(lambda: KieAdapter().submit(task("veo3_fast", extend_task_id="veo_task_unknown"))).code == "422"
    assert fake.calls_of("create") == []

    settings.KIE_API_KEY = "someone-elses-key"
    assert raised(lambda: KieAdapter().credits_remaining()).code == "401"


def test_an_unknown_path_is_404():
    with KieFake(latency=(0, 0)) as kie, pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{kie.url}/api/v1/nothing", timeout=5)
    assert caught.value.code == 404


@pytest.mark.parametrize("model", ["google/nano-banana", "veo3_fast", "runway"])
def test_a_task_with_a_callback_url_is_announced_signed(fake, httpserver, model):
    httpserver.expect_request("/callback", method="POST").respond_with_data("ok")
    adapter = KieAdapter()
    request = TaskRequest(
        job_id=7,
        index=0,
        provider_model=model,
        params={"prompt": "a fox"},
        callback_url=httpserver.url_for("/callback"),
    )

    task_id = adapter.submit(request)
    line = wait_for(lambda: fake.calls_of("callback"))[0]

    assert line["task"] == task_id and line["status"] == 200
    received, _response = httpserver.log[0]
    headers = {k.lower(): v for k, v in received.headers.items()}
    adapter.verify_callback(received.get_data(), headers)  # raises if the signature is wrong
    result = adapter.parse_callback(received.get_data(), provider_model=model)
    assert result.state is TaskState.SUCCEEDED
    assert result.output_urls and result.output_urls[0].startswith(fake.url)


def test_latency_is_spent_before_answering():
    with KieFake(key="k", latency=(0.1, 0.1), generation=(0, 0)) as kie:
        body = json.dumps({"model": "google/nano-banana", "input": {"prompt": "x"}}).encode()
        request = urllib.request.Request(
            kie.url + CREATE, data=body, headers={"Authorization": "Bearer k"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response)["code"] == 200
        line = kie.calls_of("create")[0]
    assert line["sent"] - line["recv"] >= 0.1
    assert line["done_at"] >= line["recv"]


def test_the_benchmarks_process_serves_logs_and_stops_on_sigterm(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "calls.jsonl"
    args = [sys.executable, "-m", "tests.support.kie", "--port", str(port), "--log", str(log), "--key", "k"]
    args += ["--latency", "0-0", "--generation", "0"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        assert proc.stdout.readline().strip() == f"fake kie.ai on http://127.0.0.1:{port}"
        body = json.dumps({"model": "google/nano-banana", "input": {"prompt": "x"}}).encode()
        create = urllib.request.Request(
            f"http://127.0.0.1:{port}{CREATE}", data=body, headers={"Authorization": "Bearer k"}, method="POST"
        )
        with urllib.request.urlopen(create, timeout=5) as response:
            task_id = json.load(response)["data"]["taskId"]
        poll = urllib.request.Request(
            f"http://127.0.0.1:{port}{RECORD}?taskId={task_id}", headers={"Authorization": "Bearer k"}
        )
        with urllib.request.urlopen(poll, timeout=5) as response:
            data = json.load(response)["data"]
        assert data["state"] == "success"
        assert json.loads(data["resultJson"])["resultUrls"] == [f"http://127.0.0.1:{port}/cdn/{task_id}.png"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(c["op"], c["task"]) for c in lines] == [("create", task_id), ("poll", task_id)]


def test_outputs_of_a_given_size_and_videos_on_their_own_clock(settings):
    """The benchmarks' realistic outputs: a PNG of about ``image_bytes`` that
    decodes, an MP4 of exactly ``video_bytes``, Runway's poster of about
    ``poster_bytes``; video tasks take ``video_generation``, images ``generation``."""
    import io

    from PIL import Image

    with KieFake(
        key=KIE_KEY,
        latency=(0, 0),
        cdn_latency=(0, 0),
        generation=(0, 0),
        video_generation=(30, 30),
        image_bytes=1_500_000,
        video_bytes=2_000_000,
        poster_bytes=200_000,
    ) as kie:
        settings.KIE_BASE_URL = settings.KIE_UPLOAD_BASE_URL = kie.url
        settings.KIE_API_KEY = KIE_KEY
        settings.KIE_MAX_RETRIES = 0
        adapter = KieAdapter()
        image = task("google/nano-banana", aspect_ratio="1:1")
        result = adapter.fetch(adapter.submit(image), image)
        assert result.state is TaskState.SUCCEEDED
        png = adapter.download(result.output_urls[0], image, max_bytes=10**7).file.read()
        assert 1_400_000 <= len(png) <= 1_600_000
        assert Image.open(io.BytesIO(png)).size[0] > 600

        video = task("runway", duration="5", resolution="720p", aspect_ratio="16:9")
        video_task = adapter.submit(video)
        assert adapter.fetch(video_task, video).state is TaskState.RUNNING
        kie.task(video_task).done_at = time.time()  # as if its 30 s had passed
        done = adapter.fetch(video_task, video)
        assert done.state is TaskState.SUCCEEDED
        created = kie.calls_of("create")
        assert created[1]["done_at"] - created[1]["recv"] >= 30 > created[0]["done_at"] - created[0]["recv"]
        mp4 = adapter.download(done.output_urls[0], video, max_bytes=10**7).file.read()
        assert len(mp4) == 2_000_000 and mp4[4:8] == b"ftyp"
        poster = adapter.download(done.poster_urls[0], video, max_bytes=10**7).file.read()
        assert 180_000 <= len(poster) <= 220_000 and poster != png
        Image.open(io.BytesIO(poster)).verify()
