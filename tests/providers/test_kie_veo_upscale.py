"""Veo 3.1's own upscales against a local kie.ai (docs/kie.md §2.2 "1080p and
4K"): the first ask creates, asking again polls, "still processing" is running."""

from __future__ import annotations

import json

import pytest

from providers.base import TaskRequest, TaskState
from providers.kie import KieAdapter, family_for
from providers.kie.veo_upscale import GET_4K_PATH, GET_1080P_PATH, MODEL
from tests.support.kie import VEO_TASK_ID, envelope, requests_to
from tests.support.providers import raised

pytestmark = pytest.mark.django_db

CALLBACK_URL = "https://mirsam.test/callbacks/secret-token/"
HD_URL = "https://tempfile.aiquickdraw.com/v/fox-1080p.mp4"
UHD_URL = "https://file.aiquickdraw.com/v/fox-4k.mp4"
UHD_POSTER = "https://file.aiquickdraw.com/v/fox-4k.jpg"


def upscale(resolution: str, **params) -> TaskRequest:
    return TaskRequest(
        job_id=9,
        index=0,
        provider_model=MODEL,
        params={"source_task_id": VEO_TASK_ID, "source_index": 0, "resolution": resolution, **params},
        callback_url=CALLBACK_URL,
    )


@pytest.fixture
def adapter(kie) -> KieAdapter:
    return KieAdapter()


def test_the_upscale_belongs_to_the_veo_upscale_family():
    assert family_for(MODEL).name == "veo-upscale"


def test_1080p_asks_with_a_get_until_the_rendition_is_ready(adapter, kie):
    processing = envelope(None, code=400, msg="1080P is still processing, please try again later")
    kie.expect_ordered_request(GET_1080P_PATH, method="GET").respond_with_json(processing)
    kie.expect_ordered_request(GET_1080P_PATH, method="GET").respond_with_json(processing)
    kie.expect_ordered_request(GET_1080P_PATH, method="GET").respond_with_json(envelope({"resultUrl": HD_URL}))

    task_id = adapter.submit(upscale("1080p"))
    running = adapter.fetch(task_id, upscale("1080p"))
    done = adapter.fetch(task_id, upscale("1080p"))

    assert task_id == VEO_TASK_ID
    assert running.state is TaskState.RUNNING
    assert (done.state, done.output_urls) == (TaskState.SUCCEEDED, [HD_URL])
    asked = requests_to(kie, GET_1080P_PATH)
    assert [dict(r.args) for r in asked] == [{"taskId": VEO_TASK_ID, "index": "0"}] * 3


def test_4k_posts_the_documented_body_and_reads_the_rendition_and_its_poster(adapter, kie):
    processing = envelope(None, code=422, msg="4k is processing. It should be ready in 5-10 minutes")
    rendering = envelope({"taskId": VEO_TASK_ID, "resultUrls": None, "imageUrls": None})
    ready = envelope({"taskId": VEO_TASK_ID, "resultUrls": [UHD_URL], "imageUrls": [UHD_POSTER]})
    kie.expect_ordered_request(GET_4K_PATH, method="POST").respond_with_json(rendering)
    kie.expect_ordered_request(GET_4K_PATH, method="POST").respond_with_json(processing)
    kie.expect_ordered_request(GET_4K_PATH, method="POST").respond_with_json(ready)

    task_id = adapter.submit(upscale("4k"))
    running = adapter.fetch(task_id, upscale("4k"))
    done = adapter.fetch(task_id, upscale("4k"))

    assert running.state is TaskState.RUNNING
    (first, *_again) = requests_to(kie, GET_4K_PATH)
    assert first.get_json() == {"taskId": VEO_TASK_ID, "index": 0, "callBackUrl": CALLBACK_URL}
    assert (done.state, done.output_urls, done.poster_urls) == (TaskState.SUCCEEDED, [UHD_URL], [UHD_POSTER])


@pytest.mark.parametrize(
    ("body", "state", "urls"),
    [
        (
            {"code": 200, "msg": "success", "data": {"taskId": VEO_TASK_ID, "resultUrls": [UHD_URL]}},
            "succeeded",
            [UHD_URL],
        ),
        (
            {"code": 200, "msg": "success", "data": {"taskId": VEO_TASK_ID, "info": {"resultUrls": [UHD_URL]}}},
            "succeeded",
            [UHD_URL],
        ),
        (
            {"code": 200, "msg": "success", "data": {"task_id": VEO_TASK_ID, "result_urls": [UHD_URL]}},
            "succeeded",
            [UHD_URL],
        ),
        ({"code": 500, "msg": "4K failed", "data": {"taskId": VEO_TASK_ID}}, "failed", []),
    ],
)
def test_the_4k_callback_in_each_documented_shape(adapter, body, state, urls):
    result = adapter.parse_callback(json.dumps(body).encode(), provider_model=MODEL)

    assert (result.task_id, str(result.state), result.output_urls) == (VEO_TASK_ID, state, urls)
    if state == "failed":
        assert "4K failed" in result.error_message


def test_a_refusal_other_than_processing_is_raised_as_kie_meant_it(adapter, kie):
    kie.expect_request(GET_1080P_PATH, method="GET").respond_with_json(envelope(None, code=401, msg="no"))

    error = raised(lambda: adapter.submit(upscale("1080p")))

    assert (error.code, error.permanent) == ("401", True)


def test_an_upscale_without_its_source_task_sends_nothing(adapter, kie):
    request = TaskRequest(job_id=9, index=0, provider_model=MODEL, params={})

    error = raised(lambda: adapter.submit(request))

    assert (error.code, error.permanent) == ("bad_input", True)
    assert not kie.log
