"""The demo provider's offline media: real MP4 clips and posters, avatar
variants of a photo, and the demo adapter serving them."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from providers import demo_media
from providers.base import InputFile, ProviderError, TaskRequest, TaskState
from providers.demo import DemoAdapter

# --- helpers -------------------------------------------------------------------


def mp4(**kwargs) -> bytes:
    out = io.BytesIO()
    demo_media.render_mp4(**kwargs, out=out)
    return out.getvalue()


def decode(data: bytes, tmp_path: Path) -> tuple[dict, list[Image.Image]]:
    """ffmpeg's metadata for the clip and its frames, decoded back to RGB."""
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    frames = [Image.frombytes("RGB", meta["size"], raw) for raw in reader]
    return meta, frames


def ffmpeg_check(data: bytes, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Decode the whole file with the ffmpeg binary, as an ffprobe would."""
    path = tmp_path / "check.mp4"
    path.write_bytes(data)
    return subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def top_level_boxes(data: bytes) -> list[str]:
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        boxes.append(data[pos + 4 : pos + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        if size < 8:
            break
        pos += size
    return boxes


def png(size: tuple[int, int], *, seed: int = 0) -> bytes:
    """A photo stand-in with structure: a gradient sky, a dark left half and shapes."""
    w, h = size
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, w // 2, h], fill=(40 + seed * 50 % 200, 30, 60))
    draw.ellipse([w * 0.55, h * 0.2, w * 0.9, h * 0.7], fill=(230, 180 - seed * 40 % 150, 120))
    draw.rectangle([w * 0.1, h * 0.6, w * 0.4, h * 0.9], fill=(90, 200, 90 + seed * 30 % 160))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def open_png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


# --- clips ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aspect_ratio", "size"), [("16:9", (640, 360)), ("9:16", (360, 640)), ("1:1", (640, 640)), ("21:9", (640, 274))]
)
def test_a_clip_is_a_real_h264_mp4_of_the_requested_length_and_frame_size(tmp_path, aspect_ratio, size):
    data = mp4(prompt="a red fox in the snow", aspect_ratio=aspect_ratio, duration_seconds=3)

    assert data[4:8] == b"ftyp"
    check = ffmpeg_check(data, tmp_path)
    assert check.returncode == 0, check.stderr
    assert "h264" in check.stderr and "yuv420p" in check.stderr
    meta, frames = decode(data, tmp_path)
    assert meta["size"] == size == demo_media.video_size(aspect_ratio)
    assert abs(meta["duration"] - 3) <= 0.5
    assert abs(len(frames) / meta["fps"] - 3) <= 0.5


def test_a_clip_starts_with_its_index_so_browsers_can_play_it_while_loading():
    boxes = top_level_boxes(mp4(prompt="x", aspect_ratio="16:9", duration_seconds=1))
    assert boxes[0] == "ftyp"
    assert boxes.index("moov") < boxes.index("mdat")


def test_a_clip_moves(tmp_path):
    _meta, frames = decode(mp4(prompt="drifting lights", aspect_ratio="16:9", duration_seconds=2), tmp_path)
    assert mean_difference(frames[0], frames[-1]) > 5


def test_a_clip_lasts_as_long_as_asked_at_the_given_frame_rate(tmp_path):
    data = mp4(prompt="x", aspect_ratio="1:1", duration_seconds=2, fps=24)
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    assert frames == 48
    assert abs(seconds - 2) <= 0.5


def test_a_clip_can_carry_a_silent_audio_track(tmp_path):
    check = ffmpeg_check(mp4(prompt="x", aspect_ratio="16:9", duration_seconds=1, audio=True), tmp_path)
    assert check.returncode == 0, check.stderr
    assert "Audio: aac" in check.stderr
    silent = ffmpeg_check(mp4(prompt="x", aspect_ratio="16:9", duration_seconds=1), tmp_path)
    assert "Audio:" not in silent.stderr


def test_a_clip_from_a_first_frame_starts_from_that_picture(tmp_path):
    picture = Image.new("RGB", (800, 450), (20, 60, 220))
    ImageDraw.Draw(picture).rectangle([400, 0, 800, 450], fill=(240, 220, 30))
    first = io.BytesIO()
    picture.save(first, format="PNG")

    data = mp4(prompt="zoom", aspect_ratio="16:9", duration_seconds=2, first_frame=first.getvalue())
    _meta, frames = decode(data, tmp_path)

    r, g, b = frames[0].getpixel((100, 60))
    assert b > 150 and r < 80  # blue on the left
    r, g, b = frames[0].getpixel((540, 60))
    assert r > 180 and g > 160 and b < 100  # yellow on the right
    assert mean_difference(frames[0], frames[-1]) > 1  # and it zooms


def test_a_clip_refuses_a_length_out_of_range():
    with pytest.raises(ValueError):
        mp4(prompt="x", aspect_ratio="16:9", duration_seconds=0)
    with pytest.raises(ValueError):
        mp4(prompt="x", aspect_ratio="16:9", duration_seconds=demo_media.MAX_DURATION_SECONDS + 1)


def test_a_clip_from_an_unreadable_first_frame_is_a_media_error():
    with pytest.raises(demo_media.MediaError):
        mp4(prompt="x", aspect_ratio="16:9", duration_seconds=1, first_frame=b"not an image")


def test_how_long_a_5_second_clip_takes_to_encode(capsys):
    started = time.perf_counter()
    data = mp4(prompt="a red fox running through snowy woods at dusk", aspect_ratio="16:9", duration_seconds=5)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n5 s 640x360 clip at 12 fps: encoded in {elapsed:.2f} s, {len(data) / 1024:.0f} KiB")


# --- posters -------------------------------------------------------------------


@pytest.mark.parametrize("aspect_ratio", ["16:9", "9:16"])
def test_the_poster_is_a_png_of_the_clips_first_frame(tmp_path, aspect_ratio):
    prompt = "a lighthouse at night"
    poster = open_png(demo_media.render_poster(prompt=prompt, aspect_ratio=aspect_ratio))
    _meta, frames = decode(mp4(prompt=prompt, aspect_ratio=aspect_ratio, duration_seconds=1), tmp_path)

    assert poster.size == frames[0].size == demo_media.video_size(aspect_ratio)
    assert mean_difference(poster, frames[0]) < 6  # only H.264's loss apart
    assert mean_difference(poster, frames[-1]) > mean_difference(poster, frames[0])


def test_the_poster_of_a_first_frame_clip_shows_that_picture(tmp_path):
    first = png((900, 500))
    poster = open_png(demo_media.render_poster(prompt="p", aspect_ratio="16:9", first_frame=first))
    _meta, frames = decode(mp4(prompt="p", aspect_ratio="16:9", duration_seconds=1, first_frame=first), tmp_path)
    assert mean_difference(poster, frames[0]) < 6


# --- avatars -------------------------------------------------------------------


@pytest.fixture(scope="module")
def photo() -> bytes:
    return png((600, 400))


@pytest.mark.parametrize("style", demo_media.AVATAR_STYLES)
def test_an_avatar_variant_is_a_png_with_the_photos_aspect_ratio(photo, style):
    img = open_png(demo_media.avatar_variant(photo=photo, style=style, index=0))
    assert img.mode == "RGB"
    assert abs(img.width / img.height - 600 / 400) < 0.01
    assert img.width <= 600


def test_an_avatar_variant_of_a_big_photo_is_at_most_1024_pixels_long():
    img = open_png(demo_media.avatar_variant(photo=png((2400, 1200)), style="duotone", index=0))
    assert img.size == (1024, 512)


@pytest.mark.parametrize("style", demo_media.AVATAR_STYLES)
def test_the_variants_of_one_style_differ_by_index(photo, style):
    variants = [open_png(demo_media.avatar_variant(photo=photo, style=style, index=i)) for i in range(4)]
    for i, a in enumerate(variants):
        for b in variants[i + 1 :]:
            assert mean_difference(a, b) > 3


def test_the_styles_differ_from_each_other_and_from_the_photo(photo):
    original = Image.open(io.BytesIO(photo))
    variants = {s: open_png(demo_media.avatar_variant(photo=photo, style=s, index=0)) for s in demo_media.AVATAR_STYLES}
    for name, img in variants.items():
        assert mean_difference(img.resize(original.size), original) > 3, name
    names = list(variants)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert mean_difference(variants[a].resize(original.size), variants[b].resize(original.size)) > 3, (a, b)


@pytest.mark.parametrize("style", demo_media.AVATAR_STYLES)
def test_a_variant_depends_on_the_photo(photo, style):
    other = png((600, 400), seed=3)
    ImageDraw.Draw(img := Image.open(io.BytesIO(other)).convert("RGB")).ellipse(
        [50, 50, 250, 250], fill=(255, 255, 255)
    )
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    a = open_png(demo_media.avatar_variant(photo=photo, style=style, index=1))
    b = open_png(demo_media.avatar_variant(photo=buf.getvalue(), style=style, index=1))
    assert mean_difference(a, b) > 3


def test_a_duotone_keeps_the_photos_light_and_shade(photo):
    img = open_png(demo_media.avatar_variant(photo=photo, style="duotone", index=2)).convert("L")
    w, h = img.size
    dark_half = ImageStat.Stat(img.crop((0, 0, w // 2 - 5, h // 2))).mean[0]
    light_sky = ImageStat.Stat(img.crop((w // 2 + 5, h - 20, w, h))).mean[0]
    assert dark_half < light_sky


def test_an_unknown_style_falls_back_to_cartoon(photo):
    assert demo_media.avatar_variant(photo=photo, style="baroque", index=1) == demo_media.avatar_variant(
        photo=photo, style="cartoon", index=1
    )
    assert demo_media.avatar_variant(photo=photo, style="Posterize", index=0) == demo_media.avatar_variant(
        photo=photo, style="posterise", index=0
    )


def test_an_unreadable_photo_is_a_media_error():
    with pytest.raises(demo_media.MediaError):
        demo_media.avatar_variant(photo=b"\x89PNG broken", style="cartoon", index=0)


# --- the adapter ---------------------------------------------------------------

TASK_ID = f"demo-{int((time.time() - 3600) * 1000)}-0123456789ab"
MAX = 50 * 1024 * 1024


@pytest.fixture
def adapter(settings) -> DemoAdapter:
    settings.DEMO_DELAY_SECONDS = 0
    settings.DEMO_FAILURE_RATE = 0.0
    return DemoAdapter()


def request_for(params: dict, *, inputs: tuple[InputFile, ...] = (), index: int = 0, model: str = "demo/video"):
    return TaskRequest(job_id=1, index=index, provider_model=model, params=params, inputs=inputs)


def input_file(data: bytes, role: str) -> InputFile:
    return InputFile(name=f"{role}.png", content_type="image/png", open=lambda: io.BytesIO(data), role=role)


VIDEO = {"prompt": "a red fox", "aspect_ratio": "16:9", "duration": "2", "resolution": "720p"}


def test_a_finished_video_task_has_an_mp4_and_a_poster(adapter):
    result = adapter.fetch(TASK_ID, request_for(VIDEO))
    assert result.state == TaskState.SUCCEEDED
    assert result.output_urls == [f"demo://{TASK_ID}/0.mp4"]
    assert result.poster_urls == [f"demo://{TASK_ID}/0.png"]


def test_a_finished_avatar_task_has_one_png(adapter, photo):
    result = adapter.fetch(TASK_ID, request_for({"style": "sketch"}, inputs=(input_file(photo, "photo"),)))
    assert result.output_urls == [f"demo://{TASK_ID}/0.png"]
    assert result.poster_urls == []


def test_a_finished_image_task_is_as_before(adapter):
    result = adapter.fetch(TASK_ID, request_for({"prompt": "x", "aspect_ratio": "1:1"}, model="demo/image"))
    assert result.output_urls == [f"demo://{TASK_ID}/0.png"]
    assert result.poster_urls == []


def test_a_video_task_is_running_during_the_delay(adapter, settings):
    settings.DEMO_DELAY_SECONDS = 3600
    fresh = f"demo-{int(time.time() * 1000)}-0123456789ab"
    assert adapter.fetch(fresh, request_for(VIDEO)).state == TaskState.RUNNING


def test_downloading_a_video_gives_a_real_mp4_of_its_duration(adapter, tmp_path):
    download = adapter.download(f"demo://{TASK_ID}/0.mp4", request_for(VIDEO), max_bytes=MAX)
    data = download.file.read()
    download.file.close()

    assert download.content_type == "video/mp4"
    assert download.size == len(data) > 0
    assert data[4:8] == b"ftyp"
    meta, _frames = decode(data, tmp_path)
    assert meta["size"] == (640, 360)
    assert abs(meta["duration"] - 2) <= 0.5


def test_downloading_a_video_with_sound_on_gives_an_audio_track(adapter, tmp_path):
    download = adapter.download(f"demo://{TASK_ID}/0.mp4", request_for({**VIDEO, "sound": "on"}), max_bytes=MAX)
    assert "Audio: aac" in ffmpeg_check(download.file.read(), tmp_path).stderr


def test_downloading_a_videos_poster_gives_its_first_frame(adapter, tmp_path):
    request = request_for(VIDEO)
    clip = adapter.download(f"demo://{TASK_ID}/0.mp4", request, max_bytes=MAX).file.read()
    poster = adapter.download(f"demo://{TASK_ID}/0.png", request, max_bytes=MAX)

    assert poster.content_type == "image/png"
    img = open_png(poster.file.read())
    _meta, frames = decode(clip, tmp_path)
    assert img.size == frames[0].size == (640, 360)
    assert mean_difference(img, frames[0]) < 6


def test_a_video_with_a_first_frame_input_starts_from_it(adapter):
    first = png((640, 360))
    request = request_for(VIDEO, inputs=(input_file(first, "first_frame"),))
    poster = open_png(adapter.download(f"demo://{TASK_ID}/0.png", request, max_bytes=MAX).file.read())
    plain = open_png(adapter.download(f"demo://{TASK_ID}/0.png", request_for(VIDEO), max_bytes=MAX).file.read())
    picture = Image.open(io.BytesIO(first))
    assert mean_difference(poster, picture) < mean_difference(plain, picture)


def test_two_outputs_of_one_video_job_differ(adapter):
    other = f"demo-{int((time.time() - 3600) * 1000)}-ba9876543210"
    a = adapter.download(f"demo://{TASK_ID}/0.png", request_for(VIDEO), max_bytes=MAX).file.read()
    b = adapter.download(f"demo://{other}/0.png", request_for(VIDEO, index=1), max_bytes=MAX).file.read()
    assert a != b


def test_the_demo_video_model_can_extend_its_clips(adapter, tmp_path):
    assert adapter.supports_extend("demo/video")
    assert not adapter.supports_extend("demo/image")

    extension_id = f"demo-{int((time.time() - 60) * 1000)}-extension000"
    request = request_for({"prompt": "and then it jumps", "aspect_ratio": "16:9", "extend_task_id": TASK_ID})
    result = adapter.fetch(extension_id, request)
    assert result.output_urls == [f"demo://{extension_id}/0.mp4"]

    download = adapter.download(result.output_urls[0], request, max_bytes=MAX)
    data = download.file.read()
    assert download.content_type == "video/mp4"
    assert ffmpeg_check(data, tmp_path).returncode == 0
    meta, _frames = decode(data, tmp_path)
    assert abs(meta["duration"] - 5) <= 0.5  # the default length


def test_downloading_an_avatar_gives_a_variant_of_the_photo(adapter, photo):
    inputs = (input_file(photo, "photo"),)
    first = adapter.download(f"demo://{TASK_ID}/0.png", request_for({"style": "pop"}, inputs=inputs), max_bytes=MAX)
    second = adapter.download(
        f"demo://{TASK_ID}/0.png", request_for({"style": "pop"}, inputs=inputs, index=1), max_bytes=MAX
    )

    assert first.content_type == "image/png"
    data = first.file.read()
    assert data == demo_media.avatar_variant(photo=photo, style="pop", index=0)
    assert first.size == len(data)
    assert second.file.read() == demo_media.avatar_variant(photo=photo, style="pop", index=1)


def test_an_avatar_without_a_style_is_a_cartoon(adapter, photo):
    download = adapter.download(
        f"demo://{TASK_ID}/0.png", request_for({}, inputs=(input_file(photo, "photo"),)), max_bytes=MAX
    )
    assert download.file.read() == demo_media.avatar_variant(photo=photo, style="cartoon", index=0)


def test_downloading_an_image_is_as_before(adapter):
    download = adapter.download(
        f"demo://{TASK_ID}/0.png",
        request_for({"prompt": "x", "aspect_ratio": "1:1"}, model="demo/image"),
        max_bytes=MAX,
    )
    assert download.content_type == "image/png"
    assert open_png(download.file.read()).size == (768, 768)


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (f"demo://{TASK_ID}/0.mp4", VIDEO),
        (f"demo://{TASK_ID}/0.png", VIDEO),
        (f"demo://{TASK_ID}/0.png", {"prompt": "x"}),
    ],
)
def test_a_download_over_max_bytes_is_refused(adapter, url, params):
    with pytest.raises(ProviderError) as exc:
        adapter.download(url, request_for(params), max_bytes=1000)
    assert (exc.value.code, exc.value.permanent) == ("too_large", True)


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (f"demo://{TASK_ID}/0.mp4", {"prompt": "an image job"}),
        (f"demo://{TASK_ID}/0.gif", VIDEO),
        (f"https://example.com/{TASK_ID}/0.mp4", VIDEO),
    ],
)
def test_a_url_the_adapter_never_gave_is_refused(adapter, url, params):
    with pytest.raises(ProviderError) as exc:
        adapter.download(url, request_for(params), max_bytes=MAX)
    assert (exc.value.code, exc.value.permanent) == ("bad_output", True)


def test_an_unreadable_photo_is_a_permanent_provider_error(adapter):
    request = request_for({"style": "sketch"}, inputs=(input_file(b"nope", "photo"),))
    with pytest.raises(ProviderError) as exc:
        adapter.download(f"demo://{TASK_ID}/0.png", request, max_bytes=MAX)
    assert (exc.value.code, exc.value.permanent) == ("render_failed", True)


def test_an_ffmpeg_failure_is_a_media_error_and_a_permanent_provider_error(adapter, monkeypatch):
    monkeypatch.setattr(demo_media, "_ffmpeg", lambda: shutil.which("false"))
    with pytest.raises(demo_media.MediaError, match="ffmpeg exited with 1"):
        mp4(prompt="x", aspect_ratio="16:9", duration_seconds=1)
    with pytest.raises(ProviderError) as exc:
        adapter.download(f"demo://{TASK_ID}/0.mp4", request_for(VIDEO), max_bytes=MAX)
    assert (exc.value.code, exc.value.permanent) == ("render_failed", True)
