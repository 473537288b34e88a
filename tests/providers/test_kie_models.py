"""Each seeded kie.ai model against a local kie.ai: the create body exactly as
its model page writes it (docs/kie.md §2.1, §2.5, §2.9: field names, value
spellings and JSON types), built from its catalogue row alone."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from providers.base import TaskRequest, TaskState
from providers.kie import KieAdapter
from providers.kie.flux import GENERATE_PATH as FLUX_GENERATE
from providers.kie.flux import RECORD_PATH as FLUX_RECORD
from tests.support.catalogue import seeded_offer
from tests.support.kie import CREATE, UPLOAD, created, envelope, requests_to, uploaded
from tests.support.providers import input_file, raised

pytestmark = pytest.mark.django_db

CALLBACK_URL = "https://mirsam.test/callbacks/secret-token/"
PROMPT = "a fox running through snow"


def url(n: int) -> str:
    return f"https://tempfile.redpandaai.co/kieai/mirsam/7/{n}.png"


def request_for(slug: str, *, files: int = 0, roles: tuple[str, ...] = (), **params) -> TaskRequest:
    """The task request the pipeline makes for the seeded ``slug`` with
    ``params`` (defaults filled as ``job_params_clean`` does) and ``files``."""
    offer = seeded_offer(slug)
    values = {name: spec["default"] for name, spec in offer.param_specs.items()}
    values.update(params)
    offer_roles = roles or tuple(offer.input_roles)
    inputs = tuple(input_file(name=f"{i}.png", role=offer_roles[min(i, len(offer_roles) - 1)]) for i in range(files))
    return TaskRequest(
        job_id=7,
        index=0,
        provider_model=offer.provider_model_for(with_inputs=bool(inputs)),
        params={"prompt": PROMPT, **values},
        callback_url=CALLBACK_URL,
        inputs=inputs,
        options=offer.options,
    )


def sent_input(kie, request: TaskRequest, uploads: int = 0) -> dict:
    for n in range(uploads):
        kie.expect_oneshot_request(UPLOAD, method="POST").respond_with_json(uploaded(url(n)))
    kie.expect_request(CREATE, method="POST").respond_with_json(created())
    KieAdapter().submit(request)
    (create,) = requests_to(kie, CREATE)
    body = create.get_json()
    assert body["model"] == request.provider_model
    assert body["callBackUrl"] == CALLBACK_URL
    return body["input"]


@pytest.mark.parametrize(
    ("slug", "params", "files", "expected"),
    [
        (
            "nano-banana-pro",
            {"resolution": "4K", "aspect_ratio": "16:9"},
            2,
            {
                "prompt": PROMPT,
                "aspect_ratio": "16:9",
                "resolution": "4K",
                "output_format": "png",
                "image_input": [url(0), url(1)],
            },
        ),
        (
            "nano-banana-2",
            {},
            0,
            {"prompt": PROMPT, "aspect_ratio": "auto", "resolution": "1K", "output_format": "png"},
        ),
        (
            "gpt-image-2",
            {"resolution": "2K", "aspect_ratio": "3:2"},
            0,
            {"prompt": PROMPT, "aspect_ratio": "3:2", "resolution": "2K"},
        ),
        (
            "gpt-image-2",
            {},
            1,
            {"prompt": PROMPT, "aspect_ratio": "1:1", "resolution": "1K", "input_urls": [url(0)]},
        ),
        (
            "seedream-4-5",
            {"quality": "high"},
            3,
            {"prompt": PROMPT, "aspect_ratio": "1:1", "quality": "high", "image_urls": [url(0), url(1), url(2)]},
        ),
        (
            "kling-3-0",
            {"duration": "12", "mode": "4K", "sound": "on"},
            2,
            {
                "prompt": PROMPT,
                "duration": "12",
                "aspect_ratio": "16:9",
                "mode": "4K",
                "sound": True,
                "multi_shots": False,
                "multi_prompt": [],
                "kling_elements": [],
                "image_urls": [url(0), url(1)],
            },
        ),
        (
            "seedance-2",
            {"resolution": "4k", "duration": "15", "sound": "off"},
            2,
            {
                "prompt": PROMPT,
                "duration": 15,
                "aspect_ratio": "16:9",
                "resolution": "4k",
                "generate_audio": False,
                "first_frame_url": url(0),
                "last_frame_url": url(1),
            },
        ),
        (
            "seedance-2-fast",
            {"aspect_ratio": "adaptive"},
            1,
            {
                "prompt": PROMPT,
                "duration": 5,
                "aspect_ratio": "adaptive",
                "resolution": "720p",
                "generate_audio": True,
                "first_frame_url": url(0),
            },
        ),
        (
            "hailuo-2-3",
            {"duration": "10"},
            1,
            {"prompt": PROMPT, "duration": "10", "resolution": "768P", "image_url": url(0)},
        ),
        (
            "hailuo-2-3-pro",
            {"resolution": "1080P"},
            1,
            {"prompt": PROMPT, "duration": "6", "resolution": "1080P", "image_url": url(0)},
        ),
        ("topaz-image-upscale", {"factor": "4"}, 1, {"upscale_factor": "4", "image_url": url(0)}),
        ("recraft-remove-background", {}, 1, {"image": url(0)}),
        ("topaz-video-upscale", {}, 1, {"upscale_factor": "2", "video_url": url(0)}),
    ],
)
def test_each_market_model_sends_its_documented_input(kie, slug, params, files, expected):
    roles = ("source",) if "upscale" in slug or "background" in slug else ()
    request = request_for(slug, files=files, roles=roles, **params)

    assert sent_input(kie, request, uploads=files) == expected


def test_kling_3_sends_one_shot_per_line_with_the_seconds_shared_out(kie):
    request = request_for("kling-3-0", files=1, duration="10", multi_shot="on")
    request = replace(request, params={**request.params, "prompt": "Dawn.\nA fox runs.\nDusk."})

    sent = sent_input(kie, request, uploads=1)

    assert sent["multi_shots"] is True
    assert sent["multi_prompt"] == [
        {"prompt": "Dawn.", "duration": 4},
        {"prompt": "A fox runs.", "duration": 3},
        {"prompt": "Dusk.", "duration": 3},
    ]
    assert "multi_shot" not in sent
    assert sent["image_urls"] == [url(0)]


def test_kling_3_refuses_several_shots_with_a_last_frame_before_any_upload(kie):
    request = request_for("kling-3-0", files=2, multi_shot="on")

    error = raised(lambda: KieAdapter().submit(request))

    assert error.code == "bad_input"
    assert not kie.log


@pytest.mark.parametrize(("slug", "count"), [("nano-banana-pro", 9), ("hailuo-2-3", 0), ("hailuo-2-3", 2)])
def test_a_file_count_outside_the_rows_limits_sends_nothing(kie, slug, count):
    error = raised(lambda: KieAdapter().submit(request_for(slug, files=count)))

    assert (error.code, error.permanent) == ("bad_input", True)
    assert not kie.log


@pytest.mark.parametrize(("state", "expected"), [("success", TaskState.SUCCEEDED), ("fail", TaskState.FAILED)])
def test_a_seedance_task_reads_success_and_fail_with_what_kie_billed(kie, state, expected):
    data = {
        "taskId": "task_seedance_1",
        "model": "bytedance/seedance-2",
        "state": state,
        "resultJson": json.dumps({"resultUrls": ["https://cdn.test/v.mp4"]}) if state == "success" else None,
        "failCode": "500" if state == "fail" else "",
        "failMsg": "Internal error" if state == "fail" else "",
        "creditsConsumed": 820 if state == "success" else 0,
    }
    kie.expect_request("/api/v1/jobs/recordInfo").respond_with_json(envelope(data))

    result = KieAdapter().fetch("task_seedance_1", request_for("seedance-2"))

    assert result.state is expected
    assert result.billed_credits == (820 if state == "success" else 0)


# --- Flux Kontext, its own API (§2.5) ---------------------------------------------


def test_flux_kontext_edits_with_its_flat_body_and_reads_its_record(kie):
    kie.expect_oneshot_request(UPLOAD, method="POST").respond_with_json(uploaded(url(0)))
    kie.expect_request(FLUX_GENERATE, method="POST").respond_with_json(created("task_flux_1"))
    result_url = "https://tempfile.aiquickdraw.com/f/edit.png"
    kie.expect_request(FLUX_RECORD, query_string={"taskId": "task_flux_1"}).respond_with_json(
        envelope(
            {
                "taskId": "task_flux_1",
                "successFlag": 1,
                "response": {"originImageUrl": url(0), "resultImageUrl": result_url},
            }
        )
    )
    request = request_for("flux-kontext-max", files=1, aspect_ratio="16:9")

    task_id = KieAdapter().submit(request)
    result = KieAdapter().fetch(task_id, request)

    (create,) = requests_to(kie, FLUX_GENERATE)
    assert create.get_json() == {
        "prompt": PROMPT,
        "model": "flux-kontext-max",
        "enableTranslation": True,
        "aspectRatio": "16:9",
        "outputFormat": "png",
        "inputImage": url(0),
        "callBackUrl": CALLBACK_URL,
    }
    assert (result.state, result.output_urls) == (TaskState.SUCCEEDED, [result_url])


@pytest.mark.parametrize(
    ("body", "state"),
    [
        (
            {"code": 200, "msg": "ok", "data": {"taskId": "t1", "info": {"resultImageUrl": "https://cdn.test/a.png"}}},
            TaskState.SUCCEEDED,
        ),
        (
            {"code": 400, "msg": "Content policy", "data": {"taskId": "t1", "info": {"resultImageUrl": ""}}},
            TaskState.FAILED,
        ),
    ],
)
def test_a_flux_kontext_callback(body, state):
    result = KieAdapter().parse_callback(json.dumps(body).encode(), provider_model="flux-kontext-pro")

    assert result.state is state
    if state is TaskState.FAILED:
        assert (result.error_code, "Content policy" in result.error_message) == ("400", True)


def test_a_flux_kontext_generation_failure_in_the_record(kie):
    kie.expect_request(FLUX_RECORD).respond_with_json(
        envelope({"taskId": "t2", "successFlag": 3, "errorCode": 501, "errorMessage": "Generation failed"})
    )

    result = KieAdapter().fetch("t2", request_for("flux-kontext-pro"))

    assert (result.state, result.error_code) == (TaskState.FAILED, "501")


# --- every family maps every documented error code the same way (§1) -------------

FAMILY_CREATES = [
    pytest.param("nano-banana-pro", CREATE, id="market"),
    pytest.param("veo3-lite", "/api/v1/veo/generate", id="veo"),
    pytest.param("flux-kontext-pro", FLUX_GENERATE, id="flux-kontext"),
    pytest.param("runway", "/api/v1/runway/generate", id="runway"),
]
CODES = [
    (400, True),
    (401, True),
    (402, True),
    (422, True),
    (429, False),
    (451, True),
    (455, False),
    (500, False),
    (501, True),
    (505, True),
]


@pytest.mark.parametrize(("slug", "path"), FAMILY_CREATES)
@pytest.mark.parametrize(("code", "permanent"), CODES)
def test_each_error_code_on_a_create_of_each_family(kie, slug, path, code, permanent):
    kie.expect_request(path, method="POST").respond_with_json(envelope(None, code=code, msg="kie-internal-text"))

    error = raised(lambda: KieAdapter().submit(request_for(slug)))

    assert (error.code, error.permanent) == (str(code), permanent)
    assert str(error.message) and "kie-internal-text" not in str(error.message)  # our words, not kie's


@pytest.mark.parametrize(("code", "permanent"), [c for c in CODES if c[0] not in (400, 422)])
def test_each_error_code_on_a_veo_upscale_ask(kie, code, permanent):
    kie.expect_request("/api/v1/veo/get-1080p-video").respond_with_json(
        envelope(None, code=code, msg="kie-internal-text")
    )
    request = replace(request_for("veo-upscale"), params={"source_task_id": "veo_task_1", "resolution": "1080p"})

    error = raised(lambda: KieAdapter().fetch("veo_task_1", request))

    assert (error.code, error.permanent) == (str(code), permanent)
