"""The demo provider's sound models (issue 18): speech, dialogue, music and
sound effects as real MP3s, talking portraits and lip-syncs as real MP4s
whose mouth moves with the speech, all checked with the bundled ffmpeg."""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image, ImageDraw

from providers import demo_media
from providers.base import InputFile, ProviderError, TaskState
from providers.demo import AUDIO_KINDS, DemoAdapter
from tests.providers.test_demo_media import MAX, TASK_ID, adapter, mean_difference, open_png, request_for

__all__ = ["adapter"]  # the fixture, used by name below

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()

# --- helpers -------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """What ffmpeg says of a file it decoded from end to end."""

    duration: float  # seconds, from the container
    mean_volume: float | None  # dB, of the sound track
    stderr: str


def probe(data: bytes, tmp_path: Path, name: str = "probe") -> Probe:
    path = tmp_path / name
    path.write_bytes(data)
    check = subprocess.run(
        [FFMPEG, "-hide_banner", "-i", str(path), "-af", "volumedetect", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", check.stderr).groups()
    volume = re.search(r"mean_volume: (-?[\d.]+) dB", check.stderr)
    return Probe(int(h) * 3600 + int(m) * 60 + float(s), float(volume.group(1)) if volume else None, check.stderr)


def frame_at(data: bytes, seconds: float, tmp_path: Path) -> Image.Image:
    """The frame of the video ``data`` at ``seconds``, decoded by ffmpeg."""
    path = tmp_path / "frames.mp4"
    path.write_bytes(data)
    png = subprocess.run(
        [
            FFMPEG,
            "-v",
            "error",
            "-ss",
            str(seconds),
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "image2pipe",
            "-c:v",
            "png",
            "-",
        ],
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    return open_png(png)


def sine_mp3(seconds: float, *, expression: str = "0.5*sin(2*PI*220*t)") -> bytes:
    """An MP3 of ``seconds`` seconds of ``expression`` (an ffmpeg aevalsrc formula of t), written to a
    file as an upload would be (through a pipe, the header that trims the encoder's padding is missing)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sine.mp3"
        subprocess.run(
            [FFMPEG, "-v", "error", "-f", "lavfi", "-i", f"aevalsrc={expression}:s=22050:d={seconds}"]
            + ["-c:a", "libmp3lame", "-b:a", "64k", str(path)],
            timeout=60,
            check=True,
        )
        return path.read_bytes()


def face(size: tuple[int, int] = (600, 800)) -> bytes:
    """A portrait stand-in: a face on a plain backdrop."""
    w, h = size
    img = Image.new("RGB", size, (90, 120, 160))
    draw = ImageDraw.Draw(img)
    draw.ellipse([w * 0.25, h * 0.18, w * 0.75, h * 0.78], fill=(230, 190, 160))
    draw.ellipse([w * 0.37, h * 0.38, w * 0.45, h * 0.43], fill=(40, 40, 40))
    draw.ellipse([w * 0.55, h * 0.38, w * 0.63, h * 0.43], fill=(40, 40, 40))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def upload(data: bytes, role: str, content_type: str) -> InputFile:
    return InputFile(name=role, content_type=content_type, open=lambda: io.BytesIO(data), role=role)


def render(adapter: DemoAdapter, model: str, params: dict, inputs: tuple[InputFile, ...] = (), index: int = 0):
    """fetch the finished task, then download each of its outputs and posters:
    (the result, [(content type, bytes) of each output], [… of each poster])."""
    request = request_for(params, inputs=inputs, model=model, index=index)
    result = adapter.fetch(TASK_ID, request)
    assert result.state == TaskState.SUCCEEDED

    def get(url: str) -> tuple[str, bytes]:
        download = adapter.download(url, request, max_bytes=MAX)
        data = download.file.read()
        download.file.close()
        assert download.size == len(data) > 0
        return download.content_type, data

    return result, [get(url) for url in result.output_urls], [get(url) for url in result.poster_urls]


def speech(adapter: DemoAdapter, text: str, **params: str) -> bytes:
    _result, [(content_type, data)], _posters = render(
        adapter, "demo/speech", {"prompt": text, "voice": "aria", **params}
    )
    assert content_type == "audio/mpeg"
    return data


TEXT_280 = ("The quick brown fox jumps over the lazy dog, and then it rests. " * 5)[:280]


@pytest.fixture(scope="module")
def portrait() -> bytes:
    return face()


@pytest.fixture(scope="module")
def voice_over() -> bytes:
    """Three seconds of tone bursts with gaps: speech as far as a mouth is concerned."""
    return sine_mp3(3, expression="0.6*sin(2*PI*200*t)*gt(sin(2*PI*2*t)\\,0)")


# --- speech ----------------------------------------------------------------------


def test_a_speech_task_gives_one_mp3(adapter):
    result, outputs, posters = render(adapter, "demo/speech", {"prompt": "Hello there", "voice": "aria"})
    assert result.output_urls == [f"demo://{TASK_ID}/0.mp3"]
    assert result.poster_urls == [] == posters
    content_type, data = outputs[0]
    assert content_type == "audio/mpeg"
    assert data[:3] == b"ID3" or data[0] == 0xFF  # an ID3 tag or an MPEG frame


def test_speech_lasts_as_long_as_its_text_and_is_not_silent(adapter, tmp_path):
    long = probe(speech(adapter, TEXT_280), tmp_path)
    short = probe(speech(adapter, "Hello, world!!"), tmp_path)

    assert "Audio: mp3" in long.stderr
    assert 20 * 0.7 <= long.duration <= 20 * 1.3
    assert abs(short.duration - 1.0) <= 0.25
    assert long.mean_volume > -50 and short.mean_volume > -50


def test_arabic_text_is_spoken_too(adapter, tmp_path):
    text = "مَرْحَبًا بِكُمْ في ميرسام، كيف حالكم اليوم؟"
    spoken = probe(speech(adapter, text), tmp_path)
    assert abs(spoken.duration - len(text) / 14) <= 0.3
    assert spoken.mean_volume > -50


def test_a_slower_speed_speaks_longer(adapter, tmp_path):
    text = "A sentence of some length, said twice."
    normal = probe(speech(adapter, text, speed="1.0"), tmp_path).duration
    slow = probe(speech(adapter, text, speed="0.8"), tmp_path).duration
    assert slow == pytest.approx(normal / 0.8, abs=0.2)


def test_two_voices_sound_different(adapter):
    text = "The same words in two voices."
    first = speech(adapter, text, voice="aria")
    second = speech(adapter, text, voice="omar")
    assert first != second
    assert speech(adapter, text, voice="aria") == first  # and a voice is always itself


def test_the_longest_speech_is_five_minutes():
    assert demo_media.speech_duration_seconds("x" * 10_000) == demo_media.MAX_SPEECH_SECONDS
    assert demo_media.speech_duration_seconds("") == demo_media.MIN_SPEECH_SECONDS


# --- dialogue --------------------------------------------------------------------


def test_a_dialogue_is_its_turns_one_after_the_other(adapter, tmp_path):
    lines = ["Did you see the sunrise today?", "I did, it was beautiful.", "Let us go again tomorrow."]
    params = {"prompt": "\n".join([lines[0], "", lines[1], "  ", lines[2]]), "voice": "aria", "voice_2": "omar"}
    result, [(content_type, data)], _posters = render(adapter, "demo/dialogue", params)

    assert result.output_urls == [f"demo://{TASK_ID}/0.mp3"]
    assert content_type == "audio/mpeg"
    dialogue = probe(data, tmp_path)
    turns = [
        probe(speech(adapter, line, voice=voice), tmp_path).duration
        for line, voice in zip(lines, ["aria", "omar", "aria"], strict=True)
    ]
    assert dialogue.duration == pytest.approx(sum(turns), abs=0.3)
    assert dialogue.mean_volume > -50


def test_a_dialogues_turns_alternate_voices(adapter):
    params = {"prompt": "One line.\nAnother line.", "voice": "aria", "voice_2": "omar"}
    swapped = {**params, "voice": "omar", "voice_2": "aria"}
    _r, [(_t, first)], _p = render(adapter, "demo/dialogue", params)
    _r, [(_t, second)], _p = render(adapter, "demo/dialogue", swapped)
    assert first != second


# --- music -----------------------------------------------------------------------


def test_a_music_task_gives_two_different_stereo_tracks_of_8_to_12_seconds(adapter, tmp_path):
    params = {"prompt": "a happy song about the sea", "style": "pop", "title": "Waves", "instrumental": "off"}
    result, outputs, posters = render(adapter, "demo/music", params)

    assert result.output_urls == [f"demo://{TASK_ID}/0.mp3", f"demo://{TASK_ID}/1.mp3"]
    assert posters == []
    (type_a, a), (type_b, b) = outputs
    assert type_a == type_b == "audio/mpeg"
    assert a != b
    for data in (a, b):
        track = probe(data, tmp_path)
        assert 8 <= track.duration <= 12
        assert "stereo" in track.stderr
        assert track.mean_volume > -50
        assert "Waves" in track.stderr and demo_media.LABEL in track.stderr  # the ID3 tag


def test_an_instrumental_differs_from_a_song_with_vocals(adapter):
    params = {"prompt": "calm piano", "instrumental": "on"}
    _r, [(_t, instrumental), _second], _p = render(adapter, "demo/music", params)
    _r, [(_t, vocals), _second], _p = render(adapter, "demo/music", {**params, "instrumental": "off"})
    assert instrumental != vocals


def test_the_tracks_of_another_output_of_the_job_differ(adapter):
    _r, [(_t, first), _b], _p = render(adapter, "demo/music", {"prompt": "jazz"})
    _r, [(_t, other), _b], _p = render(adapter, "demo/music", {"prompt": "jazz"}, index=1)
    assert first != other


def test_a_music_task_has_no_third_track(adapter):
    with pytest.raises(ProviderError) as exc:
        adapter.download(f"demo://{TASK_ID}/2.mp3", request_for({"prompt": "x"}, model="demo/music"), max_bytes=MAX)
    assert exc.value.code == "bad_output"


# --- sound effects ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "duration", "loop", "seconds"),
    [
        ("a wooden door slams", "3", "off", 3.0),
        ("wind in the trees", "10", "on", 10.0),
        ("a laser zap", "auto", "off", 4.0),
        ("something strange", "5", "off", 5.0),
    ],
)
def test_a_sound_effect_lasts_as_asked(adapter, tmp_path, prompt, duration, loop, seconds):
    params = {"prompt": prompt, "duration": duration, "loop": loop}
    result, [(content_type, data)], _posters = render(adapter, "demo/sound-effect", params)

    assert result.output_urls == [f"demo://{TASK_ID}/0.mp3"]  # a duration, yet no video
    assert content_type == "audio/mpeg"
    effect = probe(data, tmp_path)
    assert effect.duration == pytest.approx(seconds, abs=0.1)
    assert effect.mean_volume > -50


def test_a_looping_sound_effect_ends_where_it_starts():
    samples = demo_media._sound_effect_samples(prompt="rain on a roof", seconds=3, loop=True)
    steps = [abs(samples[i + 1] - samples[i]) for i in range(1000, 5000)]
    # Played on repeat, the step from the last sample to the first is like any other step.
    assert abs(samples[0] - samples[-1]) <= max(steps)
    # and the sound does not fade to nothing at either end
    assert max(abs(s) for s in samples[:2000]) > 1000 and max(abs(s) for s in samples[-2000:]) > 1000


def test_different_prompts_make_different_sound_effects(adapter):
    _r, [(_t, a)], _p = render(adapter, "demo/sound-effect", {"prompt": "thunder", "duration": "2"})
    _r, [(_t, b)], _p = render(adapter, "demo/sound-effect", {"prompt": "a bird", "duration": "2"})
    assert a != b


# --- audio length ----------------------------------------------------------------


def test_audio_duration_is_counted_from_the_samples():
    assert demo_media.audio_duration_seconds(sine_mp3(2.5)) == pytest.approx(2.5, abs=0.05)
    with pytest.raises(demo_media.MediaError):
        demo_media.audio_duration_seconds(b"not a sound")


def test_the_mouth_follows_the_loudness_of_the_speech():
    half_silent = sine_mp3(2, expression="gt(t\\,1)*0.5*sin(2*PI*220*t)")
    levels = demo_media.loudness_per_frame(half_silent, fps=24)
    assert len(levels) == pytest.approx(48, abs=2)
    assert max(levels[:18]) < 0.05  # the first second is silent: the mouth is shut
    assert min(levels[30:46]) > 0.8  # then it speaks: open


# --- talking portraits -----------------------------------------------------------


def test_a_talking_portrait_is_an_h264_mp4_that_speaks_its_speech(adapter, tmp_path, portrait, voice_over):
    inputs = (upload(portrait, "portrait", "image/png"), upload(voice_over, "speech", "audio/mpeg"))
    result, [(content_type, clip)], [(poster_type, poster)] = render(adapter, "demo/talking-portrait", {}, inputs)

    assert result.output_urls == [f"demo://{TASK_ID}/0.mp4"]
    assert result.poster_urls == [f"demo://{TASK_ID}/0.png"]
    assert content_type == "video/mp4" and poster_type == "image/png"
    video = probe(clip, tmp_path)
    assert "Video: h264" in video.stderr and "yuv420p" in video.stderr and "Audio: aac" in video.stderr
    assert video.duration == pytest.approx(demo_media.audio_duration_seconds(voice_over), abs=0.3)
    assert video.mean_volume > -50
    first, later = frame_at(clip, 0.1, tmp_path), frame_at(clip, 1.35, tmp_path)
    assert first.size == (480, 640)  # the portrait's 3:4, its long side 640
    assert mean_difference(first, later) > 1  # it moves
    picture = open_png(poster)
    assert picture.size == (480, 640)
    assert mean_difference(picture, frame_at(clip, 0, tmp_path)) < 6  # the first frame, H.264's loss apart


def test_a_talking_portrait_of_a_minute_and_more_stops_at_a_minute():
    assert demo_media.MAX_TALKING_SECONDS == 60
    assert len(demo_media.loudness_per_frame(sine_mp3(61), fps=24)) == 60 * 24


@pytest.mark.parametrize(
    "inputs",
    [
        pytest.param(lambda portrait, speech: (upload(portrait, "portrait", "image/png"),), id="no speech"),
        pytest.param(lambda portrait, speech: (upload(speech, "speech", "audio/mpeg"),), id="no portrait"),
        pytest.param(
            lambda portrait, speech: (
                upload(b"not an image", "portrait", "image/png"),
                upload(speech, "speech", "audio/mpeg"),
            ),
            id="unreadable portrait",
        ),
        pytest.param(
            lambda portrait, speech: (
                upload(portrait, "portrait", "image/png"),
                upload(b"noise", "speech", "audio/mpeg"),
            ),
            id="unreadable speech",
        ),
    ],
)
@pytest.mark.parametrize("suffix", ["mp4", "png"])
def test_a_talking_portrait_without_readable_inputs_fails_for_good(adapter, portrait, voice_over, inputs, suffix):
    request = request_for({}, inputs=inputs(portrait, voice_over), model="demo/talking-portrait")
    with pytest.raises(ProviderError) as exc:
        adapter.download(f"demo://{TASK_ID}/0.{suffix}", request, max_bytes=MAX)
    assert (exc.value.code, exc.value.permanent) == ("render_failed", True)


def test_how_long_a_talking_portrait_of_10_seconds_takes(adapter, capsys, portrait):
    ten_seconds = speech(adapter, "x" * 140)
    started = time.perf_counter()
    clip = io.BytesIO()
    demo_media.render_talking_portrait(portrait=portrait, speech=ten_seconds, out=clip)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        size = len(clip.getvalue()) / 1024
        print(f"\n10 s talking portrait, 480x640 at 24 fps: rendered in {elapsed:.2f} s, {size:.0f} KiB")


# --- lip-sync ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source_video() -> bytes:
    """Two seconds of a demo clip, with a (silent) sound track of its own."""
    out = io.BytesIO()
    demo_media.render_mp4(prompt="a presenter", aspect_ratio="16:9", duration_seconds=2, out=out, audio=True)
    return out.getvalue()


def test_a_lip_sync_loops_the_video_to_the_speech_and_replaces_its_sound(adapter, tmp_path, source_video, voice_over):
    inputs = (upload(source_video, "video", "video/mp4"), upload(voice_over, "speech", "audio/mpeg"))
    result, [(content_type, clip)], [(poster_type, poster)] = render(adapter, "demo/lip-sync", {}, inputs)

    assert result.output_urls == [f"demo://{TASK_ID}/0.mp4"]
    assert result.poster_urls == [f"demo://{TASK_ID}/0.png"]
    assert content_type == "video/mp4" and poster_type == "image/png"
    video = probe(clip, tmp_path)
    assert "Video: h264" in video.stderr and "yuv420p" in video.stderr and "Audio: aac" in video.stderr
    # 3 s of speech over a 2 s video: it loops, and the sound is the speech, not the video's silence.
    assert video.duration == pytest.approx(demo_media.audio_duration_seconds(voice_over), abs=0.3)
    assert video.mean_volume > -50
    first, later = frame_at(clip, 0.1, tmp_path), frame_at(clip, 1.6, tmp_path)
    assert first.size == (640, 360)
    assert mean_difference(first, later) > 1
    picture = open_png(poster)
    assert picture.size == (640, 360)
    assert mean_difference(picture, frame_at(clip, 0, tmp_path)) < 6


def test_a_shorter_speech_cuts_the_video(tmp_path, source_video):
    clip = io.BytesIO()
    demo_media.render_lip_sync(video=source_video, speech=sine_mp3(1), out=clip)
    assert probe(clip.getvalue(), tmp_path).duration == pytest.approx(1.0, abs=0.3)


@pytest.mark.parametrize("video", [b"not a video", None])
def test_a_lip_sync_without_a_readable_video_fails_for_good(adapter, voice_over, video):
    inputs = (upload(voice_over, "speech", "audio/mpeg"),)
    if video is not None:
        inputs += (upload(video, "video", "video/mp4"),)
    request = request_for({}, inputs=inputs, model="demo/lip-sync")
    with pytest.raises(ProviderError) as exc:
        adapter.download(f"demo://{TASK_ID}/0.mp4", request, max_bytes=MAX)
    assert (exc.value.code, exc.value.permanent) == ("render_failed", True)


def test_an_ffmpeg_that_hangs_is_stopped_and_a_media_error(tmp_path, monkeypatch, portrait, voice_over):
    hang = tmp_path / "ffmpeg"
    hang.write_text("#!/bin/sh\nexec sleep 30\n")
    hang.chmod(0o755)
    monkeypatch.setattr(demo_media, "_ffmpeg", lambda: str(hang))
    monkeypatch.setattr(demo_media, "_FFMPEG_TIMEOUT_SECONDS", 0.5)
    started = time.monotonic()
    with pytest.raises(demo_media.MediaError, match="timed out"):
        demo_media.render_speech(text="hello", voice="aria", out=io.BytesIO())
    with pytest.raises(demo_media.MediaError, match="timed out"):
        demo_media._encode_frames([str(hang)], [b"\0" * (1 << 20)] * 4)  # a write that blocks is cut short too
    assert time.monotonic() - started < 10


# --- the adapter, for every sound model ------------------------------------------------


@pytest.mark.parametrize("model", sorted(AUDIO_KINDS))
def test_a_sound_task_fails_on_purpose_as_other_demo_tasks_do(adapter, settings, model):
    settings.DEMO_FAILURE_RATE = 1.0
    result = adapter.fetch(TASK_ID, request_for({"prompt": "x", "duration": "3"}, model=model))
    assert (result.state, result.error_code) == (TaskState.FAILED, "demo_failure")


@pytest.mark.parametrize("model", sorted(AUDIO_KINDS))
def test_a_sound_task_is_running_during_the_delay(adapter, settings, model):
    settings.DEMO_DELAY_SECONDS = 3600
    fresh = f"demo-{int(time.time() * 1000)}-0123456789ab"
    assert adapter.fetch(fresh, request_for({"prompt": "x"}, model=model)).state == TaskState.RUNNING


def test_a_sound_download_over_max_bytes_is_refused(adapter):
    request = request_for({"prompt": "Hello there", "voice": "aria"}, model="demo/speech")
    with pytest.raises(ProviderError) as exc:
        adapter.download(f"demo://{TASK_ID}/0.mp3", request, max_bytes=1000)
    assert (exc.value.code, exc.value.permanent) == ("too_large", True)


def test_a_speech_has_no_png(adapter):
    with pytest.raises(ProviderError) as exc:
        adapter.download(f"demo://{TASK_ID}/0.png", request_for({"prompt": "x"}, model="demo/speech"), max_bytes=MAX)
    assert exc.value.code == "bad_output"
