"""The kie adapter's video families against a local kie.ai: Veo 3.1 (docs/kie.md §2.2),
Runway (§2.3) and Market video models (§2.1), and video downloads."""

from __future__ import annotations

import json

import pytest
from werkzeug import Response

from providers.base import TaskRequest, TaskState
from providers.kie import KieAdapter, family_for
from tests.support.kie import (
    CREATE,
    HMAC_KEY,
    MP4_PATH,
    POSTER_PATH,
    RECORD,
    RUNWAY_EXTEND,
    RUNWAY_GENERATE,
    RUNWAY_RECORD,
    RUNWAY_TASK_ID,
    TASK_ID,
    VEO_EXTEND,
    VEO_GENERATE,
    VEO_RECORD,
    VEO_TASK_ID,
    callback_body,
    created,
    envelope,
    mp4_bytes,
    record,
    requests_to,
    runway_callback_body,
    runway_record,
    serve_mp4,
    signed_headers,
    veo_callback_body,
    veo_record,
)
from tests.support.providers import catalogue_options, raised

pytestmark = pytest.mark.django_db

CALLBACK_URL = "https://mirsam.test/callbacks/secret-token/"
VIDEO_URL = "https://tempfile.aiquickdraw.com/v/fox.mp4"
POSTER_URL = "https://tempfile.aiquickdraw.com/v/fox.jpg"


@pytest.fixture
def adapter(kie) -> KieAdapter:
    return KieAdapter()


def task(provider_model: str, callback_url: str | None = CALLBACK_URL, **params) -> TaskRequest:
    return TaskRequest(
        job_id=7,
        index=0,
        provider_model=provider_model,
        params={"prompt": "a fox running through snow", **params},
        callback_url=callback_url,
        options=catalogue_options(provider_model),
    )


def sent(server, path: str) -> dict:
    (request,) = requests_to(server, path)
    return request.get_json()


# --- families -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider_model", "family", "extends"),
    [
        ("veo3", "veo", True),
        ("veo3_fast", "veo", True),
        ("veo3_lite", "veo", True),
        ("runway", "runway", True),
        ("kling-2.6/text-to-video", "market", False),
        ("kling-2.6/image-to-video", "market", False),
        ("wan/2-5-text-to-video", "market", False),
        ("wan/2-5-image-to-video", "market", False),
        ("google/nano-banana", "market", False),
        ("google/nano-banana-edit", "market", False),
    ],
)
def test_each_provider_model_belongs_to_one_family_and_only_veo_and_runway_extend(provider_model, family, extends):
    assert family_for(provider_model).name == family
    assert KieAdapter().supports_extend(provider_model) is extends


# --- Veo 3.1 (§2.2) ---------------------------------------------------------------


def test_a_veo_text_to_video_task_sends_the_documented_body(adapter, kie):
    kie.expect_request(VEO_GENERATE, method="POST").respond_with_json(created(VEO_TASK_ID))

    task_id = adapter.submit(
        task("veo3_fast", aspect_ratio="16:9", duration="8", resolution="720p", sound="on", output_format="png")
    )

    assert task_id == VEO_TASK_ID
    body = sent(kie, VEO_GENERATE)
    assert body == {
        "prompt": "a fox running through snow",
        "model": "veo3_fast",
        "generationType": "TEXT_2_VIDEO",
        "aspectRatio": "16:9",
        "duration": 8,
        "resolution": "720p",
        "callBackUrl": CALLBACK_URL,
    }
    assert type(body["duration"]) is int  # seconds as a number, not the catalogue's string
    assert not requests_to(kie, CREATE)


def test_a_veo_task_without_options_sends_only_prompt_model_and_type(adapter, kie):
    kie.expect_request(VEO_GENERATE).respond_with_json(created(VEO_TASK_ID))

    adapter.submit(task("veo3_lite", callback_url=None, aspect_ratio="auto"))

    assert sent(kie, VEO_GENERATE) == {
        "prompt": "a fox running through snow",
        "model": "veo3_lite",
        "generationType": "TEXT_2_VIDEO",
        "aspectRatio": "Auto",
    }


@pytest.mark.parametrize(
    ("provider_model", "extend_model"), [("veo3", "quality"), ("veo3_fast", "fast"), ("veo3_lite", "lite")]
)
def test_a_veo_extend_continues_the_earlier_task_with_its_model_tier(adapter, kie, provider_model, extend_model):
    kie.expect_request(VEO_EXTEND, method="POST").respond_with_json(created("veo_task_extended"))

    task_id = adapter.submit(task(provider_model, extend_task_id=VEO_TASK_ID, duration="8", aspect_ratio="16:9"))

    assert task_id == "veo_task_extended"
    assert sent(kie, VEO_EXTEND) == {
        "taskId": VEO_TASK_ID,
        "prompt": "a fox running through snow",
        "model": extend_model,
        "callBackUrl": CALLBACK_URL,
    }
    assert not requests_to(kie, VEO_GENERATE)


@pytest.mark.parametrize("flag", [0, "0"])
def test_a_veo_task_still_generating_is_running(adapter, kie, flag):
    kie.expect_request(VEO_RECORD, method="GET", query_string={"taskId": VEO_TASK_ID}).respond_with_json(
        envelope(veo_record(0) | {"successFlag": flag})
    )

    result = adapter.fetch(VEO_TASK_ID, task("veo3_fast"))

    assert (result.task_id, result.state, result.output_urls) == (VEO_TASK_ID, TaskState.RUNNING, [])
    assert not requests_to(kie, RECORD)


def test_a_finished_veo_task_gives_its_videos_and_no_poster(adapter, kie):
    kie.expect_request(VEO_RECORD, query_string={"taskId": VEO_TASK_ID}).respond_with_json(
        envelope(veo_record(1, urls=[VIDEO_URL]))
    )

    result = adapter.fetch(VEO_TASK_ID, task("veo3_fast"))

    assert result.state == TaskState.SUCCEEDED
    assert result.output_urls == [VIDEO_URL]
    assert result.poster_urls == []


@pytest.mark.parametrize("flag", [2, 3])
def test_a_failed_veo_task_carries_its_error_code_and_message(adapter, kie, flag):
    kie.expect_request(VEO_RECORD).respond_with_json(
        envelope(veo_record(flag, error_code=400, error_message="Prompt flagged by content policy."))
    )

    result = adapter.fetch(VEO_TASK_ID, task("veo3"))

    assert result.state == TaskState.FAILED
    assert result.error_code == "400"
    assert result.error_message == "The provider could not make this: Prompt flagged by content policy."


def test_a_failed_veo_task_without_a_message_explains_its_code(adapter, kie):
    kie.expect_request(VEO_RECORD).respond_with_json(envelope(veo_record(3, error_code=501)))

    result = adapter.fetch(VEO_TASK_ID, task("veo3"))

    assert (result.state, result.error_code) == (TaskState.FAILED, "501")
    assert result.error_message == "The provider could not generate this; try another prompt or setting."


def test_a_veo_success_without_result_urls_is_a_permanent_bad_response(adapter, kie):
    kie.expect_request(VEO_RECORD).respond_with_json(envelope(veo_record(1, urls=[])))

    error = raised(lambda: adapter.fetch(VEO_TASK_ID, task("veo3")))

    assert (error.code, error.permanent) == ("bad_response", True)


def test_an_unknown_veo_flag_is_worth_asking_again(adapter, kie):
    kie.expect_request(VEO_RECORD).respond_with_json(envelope(veo_record(0) | {"successFlag": 9}))

    error = raised(lambda: adapter.fetch(VEO_TASK_ID, task("veo3")))

    assert (error.code, error.permanent) == ("bad_response", False)


@pytest.mark.parametrize("hint", ["veo3_fast", ""])
def test_a_veo_success_callback_gives_its_videos_with_or_without_the_model_hint(adapter, hint):
    body = veo_callback_body(urls=[VIDEO_URL])

    result = adapter.parse_callback(body, provider_model=hint)

    assert (result.task_id, result.state, result.output_urls) == (VEO_TASK_ID, TaskState.SUCCEEDED, [VIDEO_URL])


@pytest.mark.parametrize("code", [400, 422, 500, 501])
@pytest.mark.parametrize("hint", ["veo3", ""])
def test_a_veo_failure_callback_is_a_failure_with_its_reason(adapter, code, hint):
    body = veo_callback_body(code, msg="Your prompt was flagged by Website as violating content policies.")

    result = adapter.parse_callback(body, provider_model=hint)

    assert (result.task_id, result.state, result.error_code) == (VEO_TASK_ID, TaskState.FAILED, str(code))
    assert result.error_message == (
        "The provider could not make this: Your prompt was flagged by Website as violating content policies."
    )


def test_a_veo_success_callback_without_urls_is_refused(adapter):
    error = raised(lambda: adapter.parse_callback(veo_callback_body(urls=[]), provider_model="veo3"))

    assert (error.code, error.permanent) == ("bad_callback", True)


def test_a_signed_veo_callback_is_verified_by_its_task_id(adapter, settings):
    settings.KIE_WEBHOOK_HMAC_KEY = HMAC_KEY
    body = veo_callback_body(urls=[VIDEO_URL])

    adapter.verify_callback(body, signed_headers(body))  # no exception


# --- Runway (§2.3) ----------------------------------------------------------------


def test_a_runway_text_to_video_task_sends_the_documented_body(adapter, kie):
    kie.expect_request(RUNWAY_GENERATE, method="POST").respond_with_json(created(RUNWAY_TASK_ID))

    task_id = adapter.submit(task("runway", duration="5", resolution="720p", aspect_ratio="16:9", sound="on"))

    assert task_id == RUNWAY_TASK_ID
    body = sent(kie, RUNWAY_GENERATE)
    assert body == {
        "prompt": "a fox running through snow",
        "duration": 5,
        "quality": "720p",
        "aspectRatio": "16:9",
        "waterMark": "",
        "callBackUrl": CALLBACK_URL,
    }
    assert type(body["duration"]) is int


def test_a_runway_extend_continues_the_earlier_task(adapter, kie):
    kie.expect_request(RUNWAY_EXTEND, method="POST").respond_with_json(created("runway_extended"))

    task_id = adapter.submit(task("runway", extend_task_id=RUNWAY_TASK_ID, duration="5", resolution="1080p"))

    assert task_id == "runway_extended"
    assert sent(kie, RUNWAY_EXTEND) == {
        "taskId": RUNWAY_TASK_ID,
        "prompt": "a fox running through snow",
        "quality": "1080p",
        "waterMark": "",
        "callBackUrl": CALLBACK_URL,
    }
    assert not requests_to(kie, RUNWAY_GENERATE)


@pytest.mark.parametrize("state", ["wait", "queueing", "generating"])
def test_a_runway_task_at_work_is_running(adapter, kie, state):
    kie.expect_request(RUNWAY_RECORD, method="GET", query_string={"taskId": RUNWAY_TASK_ID}).respond_with_json(
        envelope(runway_record(state))
    )

    result = adapter.fetch(RUNWAY_TASK_ID, task("runway"))

    assert (result.task_id, result.state, result.output_urls) == (RUNWAY_TASK_ID, TaskState.RUNNING, [])


def test_a_finished_runway_task_gives_its_video_and_poster(adapter, kie):
    kie.expect_request(RUNWAY_RECORD).respond_with_json(
        envelope(runway_record("success", video_url=VIDEO_URL, image_url=POSTER_URL))
    )

    result = adapter.fetch(RUNWAY_TASK_ID, task("runway"))

    assert result.state == TaskState.SUCCEEDED
    assert result.output_urls == [VIDEO_URL]
    assert result.poster_urls == [POSTER_URL]


def test_a_failed_runway_task_carries_its_fail_code_and_message(adapter, kie):
    kie.expect_request(RUNWAY_RECORD).respond_with_json(
        envelope(runway_record("fail", fail_code=400, fail_msg="Inappropriate content detected."))
    )

    result = adapter.fetch(RUNWAY_TASK_ID, task("runway"))

    assert (result.state, result.error_code) == (TaskState.FAILED, "400")
    assert result.error_message == "The provider could not make this: Inappropriate content detected."


def test_a_runway_result_that_expired_is_a_failure(adapter, kie):
    kie.expect_request(RUNWAY_RECORD).respond_with_json(
        envelope(runway_record("success", video_url=VIDEO_URL, image_url=POSTER_URL, expire_flag=1))
    )

    result = adapter.fetch(RUNWAY_TASK_ID, task("runway"))

    assert (result.state, result.error_code) == (TaskState.FAILED, "expired")
    assert "expired" in result.error_message


@pytest.mark.parametrize("hint", ["runway", ""])
def test_a_runway_success_callback_gives_its_video_and_poster_with_or_without_the_hint(adapter, hint):
    body = runway_callback_body(video_url=VIDEO_URL, image_url=POSTER_URL)

    result = adapter.parse_callback(body, provider_model=hint)

    assert (result.task_id, result.state) == (RUNWAY_TASK_ID, TaskState.SUCCEEDED)
    assert (result.output_urls, result.poster_urls) == ([VIDEO_URL], [POSTER_URL])


@pytest.mark.parametrize("hint", ["runway", ""])
def test_a_runway_failure_callback_is_a_failure_with_its_reason(adapter, hint):
    body = runway_callback_body(400, msg="Image could not be fetched.")

    result = adapter.parse_callback(body, provider_model=hint)

    assert (result.task_id, result.state, result.error_code) == (RUNWAY_TASK_ID, TaskState.FAILED, "400")
    assert result.error_message == "The provider could not make this: Image could not be fetched."


def test_a_signed_runway_callback_is_verified_by_its_snake_case_task_id(adapter, settings):
    settings.KIE_WEBHOOK_HMAC_KEY = HMAC_KEY
    body = runway_callback_body(video_url=VIDEO_URL)

    adapter.verify_callback(body, signed_headers(body))  # no exception


# --- Market video models (§2.1) --------------------------------------------------


def test_a_kling_text_to_video_task_sends_duration_as_a_string_and_sound_as_a_bool(adapter, kie):
    kie.expect_request(CREATE, method="POST").respond_with_json(created())

    adapter.submit(task("kling-2.6/text-to-video", aspect_ratio="9:16", duration="10", sound="on", output_format="png"))

    assert sent(kie, CREATE) == {
        "model": "kling-2.6/text-to-video",
        "callBackUrl": CALLBACK_URL,
        "input": {"prompt": "a fox running through snow", "aspect_ratio": "9:16", "duration": "10", "sound": True},
    }


def test_a_wan_text_to_video_task_sends_only_the_keys_wan_accepts(adapter, kie):
    kie.expect_request(CREATE).respond_with_json(created())

    adapter.submit(task("wan/2-5-text-to-video", aspect_ratio="16:9", duration=5, resolution="1080p", sound="off"))

    assert sent(kie, CREATE)["input"] == {
        "prompt": "a fox running through snow",
        "aspect_ratio": "16:9",
        "duration": "5",
        "resolution": "1080p",
    }


def test_kling_sound_off_is_false(adapter, kie):
    kie.expect_request(CREATE).respond_with_json(created())

    adapter.submit(task("kling-2.6/text-to-video", aspect_ratio="1:1", duration="5", sound="off"))

    assert sent(kie, CREATE)["input"]["sound"] is False


@pytest.mark.parametrize(
    ("params", "word"), [({"duration": "five"}, "duration"), ({"duration": "5", "sound": "loud"}, "sound")]
)
def test_a_setting_that_cannot_be_sent_is_refused_before_anything_is_sent(adapter, kie, params, word):
    error = raised(lambda: adapter.submit(task("kling-2.6/text-to-video", **params)))

    assert (error.code, error.permanent) == ("bad_input", True)
    assert word in str(error.message)
    assert not kie.log


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("waiting", TaskState.RUNNING),
        ("queuing", TaskState.RUNNING),
        ("generating", TaskState.RUNNING),
        ("success", TaskState.SUCCEEDED),
        ("fail", TaskState.FAILED),
    ],
)
def test_each_market_state_maps_to_our_state(adapter, kie, state, expected):
    data = record(state, urls=[VIDEO_URL] if state == "success" else None, fail_code="500", fail_msg="Internal error")
    kie.expect_request(RECORD, query_string={"taskId": TASK_ID}).respond_with_json(envelope(data))

    result = adapter.fetch(TASK_ID, task("kling-2.6/text-to-video"))

    assert result.state == expected
    assert result.output_urls == ([VIDEO_URL] if state == "success" else [])
    assert not requests_to(kie, VEO_RECORD) and not requests_to(kie, RUNWAY_RECORD)


@pytest.mark.parametrize("hint", ["kling-2.6/text-to-video", ""])
def test_a_market_video_callback_parses_with_or_without_the_hint(adapter, hint):
    result = adapter.parse_callback(callback_body("success", urls=[VIDEO_URL]), provider_model=hint)

    assert (result.task_id, result.state, result.output_urls) == (TASK_ID, TaskState.SUCCEEDED, [VIDEO_URL])


def test_a_market_model_cannot_extend_and_nothing_is_sent(adapter, kie):
    error = raised(lambda: adapter.submit(task("kling-2.6/text-to-video", extend_task_id=TASK_ID)))

    assert (error.code, error.permanent) == ("bad_input", True)
    assert str(error.message) == "This model cannot extend a video."
    assert not kie.log


def test_a_callback_of_no_known_shape_is_refused(adapter):
    body = json.dumps({"code": 200, "msg": "ok", "data": {"id": "x"}}).encode()

    assert raised(lambda: adapter.parse_callback(body)).code == "bad_callback"


# --- refusals at create, for every family (§1 body codes) ------------------------

FAMILY_CREATES = [
    ("veo3_fast", VEO_GENERATE),
    ("runway", RUNWAY_GENERATE),
    ("kling-2.6/text-to-video", CREATE),
]


@pytest.mark.parametrize(("provider_model", "path"), FAMILY_CREATES)
@pytest.mark.parametrize(
    ("code", "message"),
    [
        (400, "The provider refused this request (content policy or invalid settings)."),
        (451, "The provider could not fetch the source image."),
        (501, "The provider could not generate this; try another prompt or setting."),
    ],
)
def test_a_refused_create_is_a_permanent_readable_error_in_every_family(
    adapter, kie, provider_model, path, code, message
):
    kie.expect_request(path, method="POST").respond_with_json(envelope(None, code=code, msg="refused"))

    error = raised(lambda: adapter.submit(task(provider_model, duration="5")))

    assert (error.code, error.permanent, str(error.message)) == (str(code), True, message)
    assert len(requests_to(kie, path)) == 1


# --- video downloads --------------------------------------------------------------


def test_a_video_is_downloaded_with_its_content_type(adapter, kie):
    url = serve_mp4(kie, mp4_bytes(300_000))

    download = adapter.download(url, task("veo3_fast"), max_bytes=1_000_000)

    assert (download.content_type, download.size) == ("video/mp4", 300_000)
    assert download.file.tell() == 0
    assert download.file.read() == mp4_bytes(300_000)
    download.file.close()


def test_a_poster_image_is_downloaded_too(adapter, kie):
    kie.expect_request(POSTER_PATH).respond_with_data(b"\xff\xd8\xff\xe0jpeg", content_type="image/jpeg")

    download = adapter.download(kie.url_for(POSTER_PATH), task("runway"), max_bytes=1_000_000)

    assert (download.content_type, download.file.read()) == ("image/jpeg", b"\xff\xd8\xff\xe0jpeg")


def test_a_video_larger_than_allowed_is_refused_by_its_content_length(adapter, kie):
    url = serve_mp4(kie, mp4_bytes(50_000))

    error = raised(lambda: adapter.download(url, task("veo3"), max_bytes=10_000))

    assert (error.code, error.permanent, str(error.message)) == ("too_large", True, "The result file is too large.")


def test_a_streamed_video_is_cut_off_once_it_passes_the_limit(adapter, kie):
    def endless(_request):
        return Response((b"\0" * 65536 for _ in range(1000)), content_type="video/mp4")  # 64 MB, chunked

    kie.expect_request(MP4_PATH).respond_with_handler(endless)

    error = raised(lambda: adapter.download(kie.url_for(MP4_PATH), task("veo3"), max_bytes=200_000))

    assert (error.code, error.permanent) == ("too_large", True)


def test_a_download_that_is_a_web_page_is_refused(adapter, kie):
    kie.expect_request(MP4_PATH).respond_with_data("<html>link expired</html>", content_type="text/html")

    error = raised(lambda: adapter.download(kie.url_for(MP4_PATH), task("runway"), max_bytes=1_000_000))

    assert (error.code, error.permanent) == ("bad_output", True)
    assert str(error.message) == "The provider returned a file that is not an image, a video or a sound."
