"""The audio and speaking models against a local kie.ai (docs/kie.md §2.1,
§2.7, §2.9): ElevenLabs speech, dialogue and sound effects as Market rows,
Suno's own API with its staged callbacks and its two tracks, and the
talking portraits and lip-sync."""

from __future__ import annotations

import json

import pytest

from providers.base import TaskRequest, TaskState
from providers.kie import KieAdapter
from providers.kie.suno import GENERATE_PATH as SUNO_GENERATE
from providers.kie.suno import RECORD_PATH as SUNO_RECORD
from tests.support.catalogue import seeded_offer
from tests.support.kie import CREATE, UPLOAD, created, envelope, requests_to, uploaded
from tests.support.providers import input_file, raised

pytestmark = pytest.mark.django_db

CALLBACK_URL = "https://mirsam.test/callbacks/secret-token/"
JAMES, ARABELLA = "EkK5I93UQWFDigLMpZcX", "Z3R5wn05IrDiVCyEkUrK"


def request_for(slug: str, *, prompt: str = "", roles: tuple[str, ...] = (), callback: bool = True, **params):
    offer = seeded_offer(slug)
    values = {name: spec["default"] for name, spec in offer.param_specs.items()}
    values.update(params)
    if prompt:
        values["prompt"] = prompt
    inputs = tuple(input_file(name=f"{i}.bin", role=role) for i, role in enumerate(roles))
    return TaskRequest(
        job_id=9,
        index=0,
        provider_model=offer.provider_model,
        params=values,
        callback_url=CALLBACK_URL if callback else None,
        inputs=inputs,
        options=offer.options,
    )


def sent_body(kie, request: TaskRequest, *, path: str = CREATE, uploads: int = 0) -> dict:
    for n in range(uploads):
        kie.expect_oneshot_request(UPLOAD, method="POST").respond_with_json(uploaded(f"https://tmp.test/{n}"))
    kie.expect_request(path, method="POST").respond_with_json(created("task_audio_1"))
    assert KieAdapter().submit(request) == "task_audio_1"
    (create,) = requests_to(kie, path)
    return create.get_json()


def test_speech_sends_text_voice_and_numbers_and_no_language_code(kie):
    body = sent_body(kie, request_for("elevenlabs-v2", prompt="مرحبا بكم في مرسم", speed="1.1"))

    assert body == {
        "model": "elevenlabs/text-to-speech-multilingual-v2",
        "callBackUrl": CALLBACK_URL,
        "input": {"text": "مرحبا بكم في مرسم", "voice": JAMES, "speed": 1.1, "stability": 0.5},
    }


def test_dialogue_sends_one_turn_per_line_with_the_voices_in_turn(kie):
    request = request_for("elevenlabs-dialogue-v3", prompt="Hello there.\n\n  Hi! How are you?\nFine.", stability="1")

    body = sent_body(kie, request)

    assert body["input"] == {
        "dialogue": [
            {"text": "Hello there.", "voice": JAMES},
            {"text": "Hi! How are you?", "voice": ARABELLA},
            {"text": "Fine.", "voice": JAMES},
        ],
        "stability": 1.0,
    }


@pytest.mark.parametrize(
    ("duration", "loop", "expected"),
    [
        ("auto", "off", {"text": "rain on a tin roof", "loop": False, "output_format": "mp3_44100_128"}),
        (
            "10",
            "on",
            {"text": "rain on a tin roof", "duration_seconds": 10.0, "loop": True, "output_format": "mp3_44100_128"},
        ),
    ],
)
def test_a_sound_effect_sends_its_seconds_unless_automatic(kie, duration, loop, expected):
    body = sent_body(kie, request_for("elevenlabs-sfx-v2", prompt="rain on a tin roof", duration=duration, loop=loop))

    assert body["input"] == expected


def test_a_speech_result_is_read_from_the_market_record(kie):
    kie.expect_request("/api/v1/jobs/recordInfo").respond_with_json(
        envelope(
            {
                "taskId": "task_audio_1",
                "state": "success",
                "resultJson": json.dumps({"resultUrls": ["https://cdn.test/speech.mp3"]}),
                "creditsConsumed": 12,
            }
        )
    )

    result = KieAdapter().fetch("task_audio_1", request_for("elevenlabs-v2", prompt="hi"))

    assert (result.state, result.output_urls, result.billed_credits) == (
        TaskState.SUCCEEDED,
        ["https://cdn.test/speech.mp3"],
        12,
    )


# --- Suno (§2.7) -------------------------------------------------------------------


def test_suno_describes_a_song_in_plain_mode(kie):
    body = sent_body(kie, request_for("suno-v5", prompt="a calm oud melody at dusk"), path=SUNO_GENERATE)

    assert body == {
        "model": "V5",
        "customMode": False,
        "instrumental": False,
        "prompt": "a calm oud melody at dusk",
        "callBackUrl": CALLBACK_URL,
    }


def test_suno_sings_the_creators_lyrics_in_custom_mode(kie):
    request = request_for(
        "suno-v5", prompt="[Verse] يا ليل", style="Arabic pop, oud", title="Ya Layl", vocal_gender="f"
    )

    body = sent_body(kie, request, path=SUNO_GENERATE)

    assert body == {
        "model": "V5",
        "customMode": True,
        "instrumental": False,
        "prompt": "[Verse] يا ليل",
        "style": "Arabic pop, oud",
        "title": "Ya Layl",
        "vocalGender": "f",
        "callBackUrl": CALLBACK_URL,
    }


def test_an_instrumental_custom_song_sends_no_lyrics(kie):
    request = request_for("suno-v5", prompt="ignored", style="ambient", title="Dunes", instrumental="on")

    body = sent_body(kie, request, path=SUNO_GENERATE)

    assert (body["customMode"], body["instrumental"], "prompt" in body) == (True, True, False)


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"callback": False, "prompt": "a song"},  # Suno requires a callback URL
        {"prompt": "a song", "style": "pop"},  # custom mode needs both
        {"prompt": "x" * 501},  # a description is at most 500 characters
    ],
)
def test_suno_refuses_what_it_cannot_take_before_sending_anything(kie, request_kwargs):
    error = raised(lambda: KieAdapter().submit(request_for("suno-v5", **request_kwargs)))

    assert (error.code, error.permanent) == ("bad_input", True)
    assert not requests_to(kie, SUNO_GENERATE)


def suno_track(n: int, *, camel: bool) -> dict:
    audio, image = ("audioUrl", "imageUrl") if camel else ("audio_url", "image_url")
    return {
        "id": f"track-{n}",
        audio: f"https://cdn.test/{n}.mp3",
        image: f"https://cdn.test/{n}.jpeg",
        "duration": 8.5,
    }


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("PENDING", TaskState.RUNNING),
        ("TEXT_SUCCESS", TaskState.RUNNING),
        ("FIRST_SUCCESS", TaskState.RUNNING),
        ("SUCCESS", TaskState.SUCCEEDED),
        ("GENERATE_AUDIO_FAILED", TaskState.FAILED),
        ("SENSITIVE_WORD_ERROR", TaskState.FAILED),
    ],
)
def test_suno_record_states(kie, status, state):
    tracks = [suno_track(0, camel=True), suno_track(1, camel=True)] if status == "SUCCESS" else []
    failed = state is TaskState.FAILED
    kie.expect_request(SUNO_RECORD, query_string={"taskId": "task_suno"}).respond_with_json(
        envelope(
            {
                "taskId": "task_suno",
                "status": status,
                "response": {"taskId": "task_suno", "sunoData": tracks},
                "errorCode": 501 if failed else None,
                "errorMessage": "Generation failed" if failed else None,
            }
        )
    )

    result = KieAdapter().fetch("task_suno", request_for("suno-v5", prompt="a song"))

    assert result.state is state
    if state is TaskState.SUCCEEDED:
        assert result.output_urls == ["https://cdn.test/0.mp3", "https://cdn.test/1.mp3"]
        assert result.poster_urls == ["https://cdn.test/0.jpeg", "https://cdn.test/1.jpeg"]
    if failed:
        assert result.error_code == "501" and "Generation failed" in result.error_message


@pytest.mark.parametrize(
    ("stage", "code", "state"),
    [
        ("text", 200, TaskState.RUNNING),
        ("first", 200, TaskState.RUNNING),
        ("complete", 200, TaskState.SUCCEEDED),
        ("error", 501, TaskState.FAILED),
        ("complete", 531, TaskState.FAILED),
    ],
)
def test_suno_staged_callbacks(stage, code, state):
    tracks = [suno_track(0, camel=False), suno_track(1, camel=False)]
    body = {
        "code": code,
        "msg": "All generated successfully." if code == 200 else "Audio generation failed",
        "data": {"callbackType": stage, "task_id": "task_suno", "data": tracks if code == 200 else None},
    }

    for provider_model in ("suno/V5", ""):  # told by the job's model, or by the body's shape
        result = KieAdapter().parse_callback(json.dumps(body).encode(), provider_model=provider_model)

        assert (result.task_id, result.state) == ("task_suno", state)
        if state is TaskState.SUCCEEDED:
            assert result.output_urls == ["https://cdn.test/0.mp3", "https://cdn.test/1.mp3"]
        if state is TaskState.FAILED:
            assert result.error_code == str(code)


# --- talking portraits and lip-sync (§2.9) ------------------------------------------


@pytest.mark.parametrize(
    ("slug", "params", "expected"),
    [
        (
            "kling-avatar-standard",
            {},
            {"prompt": "", "image_url": "https://tmp.test/0", "audio_url": "https://tmp.test/1"},
        ),
        (
            "infinitalk",
            {"prompt": "smiling", "resolution": "720p"},
            {
                "prompt": "smiling",
                "resolution": "720p",
                "image_url": "https://tmp.test/0",
                "audio_url": "https://tmp.test/1",
            },
        ),
        (
            "omnihuman-1-5",
            {"resolution": "720"},
            {
                "prompt": "",
                "output_resolution": "720",
                "image_url": "https://tmp.test/0",
                "audio_url": "https://tmp.test/1",
            },
        ),
    ],
)
def test_a_talking_portrait_sends_its_picture_and_speech(kie, slug, params, expected):
    request = request_for(slug, roles=("portrait", "speech"), duration="7", **params)

    body = sent_body(kie, request, uploads=2)

    assert body["input"] == expected  # the speech's seconds price the job; they are not a field


def test_a_lip_sync_sends_its_mode_video_and_speech_without_a_prompt(kie):
    request = request_for("lip-sync", prompt="ignored", roles=("video", "speech"), duration="12", mode="basic")

    body = sent_body(kie, request, uploads=2)

    assert body["input"] == {"mode": "basic", "video_url": "https://tmp.test/0", "audio_url": "https://tmp.test/1"}
