"""The demo stand-ins of issue 16 (part 8): pictures that really show their
reference images, an upscale that is really larger, a background removal
with a real alpha channel, a clip from a first to a last frame, and the
seeded catalogue rows that offer them."""

from __future__ import annotations

import importlib
import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from providers import demo_media
from providers.base import ProviderError
from providers.demo import TOOL_KINDS, render_png
from providers.models import Offer
from providers.tools import tool_spec
from tests.providers.test_demo_media import MAX, TASK_ID, adapter, decode, input_file, mp4, open_png, request_for

__all__ = ["adapter"]  # the fixture, used by name below


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (300, 200), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, format="PNG")
    return out.getvalue()


def subject_on_plain(size: tuple[int, int] = (400, 300)) -> bytes:
    """A yellow disc on a flat green backdrop."""
    img = Image.new("RGB", size, (30, 160, 60))
    w, h = size
    ImageDraw.Draw(img).ellipse([w * 0.3, h * 0.25, w * 0.7, h * 0.75], fill=(250, 220, 40))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def colours(img: Image.Image) -> set[tuple[int, ...]]:
    return {c for _n, c in img.convert("RGB").getcolors(maxcolors=1 << 22)}


# --- references ------------------------------------------------------------------


def test_the_pixels_of_a_solid_reference_show_up_in_the_picture():
    plain = open_png(render_png(prompt="a garden", aspect_ratio="1:1", index=0))
    with_ref = open_png(render_png(prompt="a garden", aspect_ratio="1:1", index=0, references=[solid((200, 20, 90))]))
    assert with_ref.size == plain.size == (768, 768)
    assert (200, 20, 90) in colours(with_ref) and (200, 20, 90) not in colours(plain)
    assert with_ref.convert("RGB").getpixel((384, 330)) == (200, 20, 90)  # the panel in the middle


def test_every_reference_shows_and_the_outputs_of_one_request_differ():
    refs = [solid((200, 20, 90)), solid((20, 200, 90)), solid((20, 90, 200))]
    first = open_png(render_png(prompt="mix", aspect_ratio="16:9", index=0, references=refs))
    second = open_png(render_png(prompt="mix", aspect_ratio="16:9", index=1, references=refs))
    assert {(200, 20, 90), (20, 200, 90), (20, 90, 200)} <= colours(first)
    assert first.tobytes() != second.tobytes()


def test_a_transparent_reference_sits_on_white():
    out = demo_media.with_references(
        Image.new("RGB", (400, 400), (0, 0, 0)), references=[solid((0, 0, 0, 0), mode="RGBA")]
    )
    assert out.getpixel((200, 170)) == (255, 255, 255)


def test_an_image_request_with_references_is_rendered_with_them(adapter):
    request = request_for(
        {"prompt": "edit", "aspect_ratio": "1:1"},
        inputs=(input_file(solid((10, 120, 240)), "reference"),),
        model="demo/image-edit",
    )
    picture = open_png(adapter.download(f"demo://{TASK_ID}/0.png", request, max_bytes=MAX).file.read())
    assert (10, 120, 240) in colours(picture)


def test_an_unreadable_reference_is_a_permanent_provider_error(adapter):
    request = request_for({"prompt": "x"}, inputs=(input_file(b"not an image", "reference"),), model="demo/image-edit")
    with pytest.raises(ProviderError) as refused:
        adapter.download(f"demo://{TASK_ID}/0.png", request, max_bytes=MAX)
    assert (refused.value.code, refused.value.permanent) == ("render_failed", True)


# --- upscale ---------------------------------------------------------------------


@pytest.mark.parametrize("factor", [2, 4])
def test_an_upscale_is_factor_times_larger(factor):
    big = open_png(demo_media.upscale(image=subject_on_plain((400, 300)), factor=factor))
    assert big.size == (400 * factor, 300 * factor)
    assert big.mode == "RGB"


def test_an_upscale_stops_at_4096_pixels_on_the_long_side():
    big = open_png(demo_media.upscale(image=subject_on_plain((1600, 900)), factor=4))
    assert big.size == (4096, 2304)
    assert max(open_png(demo_media.upscale(image=solid((1, 2, 3), (5000, 10)), factor=2)).size) == 5000  # never smaller


def test_an_upscale_keeps_transparency():
    cut = demo_media.remove_background(image=subject_on_plain())
    big = open_png(demo_media.upscale(image=cut, factor=2))
    assert big.mode == "RGBA" and big.getchannel("A").getextrema() == (0, 255)


def test_the_demo_upscale_tool_reads_its_factor(adapter):
    source = input_file(subject_on_plain((300, 200)), "source")
    for factor, size in (("4", (1200, 800)), ("2", (600, 400)), ("junk", (600, 400))):
        request = request_for({"factor": factor}, inputs=(source,), model="demo/upscale")
        result = adapter.fetch(TASK_ID, request)
        download = adapter.download(result.output_urls[0], request, max_bytes=MAX)
        assert download.content_type == "image/png"
        assert open_png(download.file.read()).size == size


def test_a_demo_tool_without_its_source_fails_permanently(adapter):
    with pytest.raises(ProviderError) as refused:
        adapter.download(f"demo://{TASK_ID}/0.png", request_for({}, model="demo/upscale"), max_bytes=MAX)
    assert refused.value.code == "render_failed"


# --- remove the background --------------------------------------------------------


def test_a_background_removal_has_a_real_alpha_channel():
    cut = open_png(demo_media.remove_background(image=subject_on_plain((400, 300))))
    assert cut.mode == "RGBA" and cut.size == (400, 300)
    alpha = cut.getchannel("A")
    assert alpha.getpixel((10, 10)) == 0 and alpha.getpixel((395, 290)) == 0  # the backdrop is gone
    assert alpha.getpixel((200, 150)) == 255  # the subject stays
    assert cut.getpixel((200, 150))[:3] == (250, 220, 40)  # with its own colour


def test_a_gradient_backdrop_is_removed_too():
    img = Image.linear_gradient("L").resize((300, 300)).convert("RGB")
    ImageDraw.Draw(img).rectangle([110, 110, 190, 190], fill=(230, 40, 40))
    out = io.BytesIO()
    img.save(out, format="PNG")
    alpha = open_png(demo_media.remove_background(image=out.getvalue())).getchannel("A")
    assert alpha.getpixel((20, 150)) == 0 and alpha.getpixel((280, 40)) == 0
    assert alpha.getpixel((150, 150)) == 255


def test_a_demo_picture_loses_its_background_but_keeps_some_of_itself(adapter):
    request = request_for({}, inputs=(input_file(render_png(prompt="boats", aspect_ratio="1:1", index=0), "source"),))
    request = request_for({}, inputs=request.inputs, model="demo/remove-background")
    cut = open_png(adapter.download(f"demo://{TASK_ID}/0.png", request, max_bytes=MAX).file.read())
    histogram = cut.getchannel("A").histogram()
    assert histogram[0] > 0 and histogram[255] > 0


# --- first and last frame -----------------------------------------------------------


def test_a_clip_with_a_first_and_a_last_frame_starts_on_one_and_ends_on_the_other(tmp_path: Path):
    first, last = solid((20, 60, 220), (640, 360)), solid((240, 200, 30), (640, 360))
    data = mp4(prompt="", aspect_ratio="16:9", duration_seconds=2, first_frame=first, last_frame=last)
    _meta, frames = decode(data, tmp_path)
    assert len(frames) == 24

    def near(pixel: tuple[int, ...], colour: tuple[int, int, int]) -> bool:
        return all(abs(a - b) <= 12 for a, b in zip(pixel, colour, strict=False))

    assert near(frames[0].getpixel((320, 120)), (20, 60, 220))
    assert near(frames[-1].getpixel((320, 120)), (240, 200, 30))
    assert not near(frames[12].getpixel((320, 120)), (240, 200, 30))  # it moves from one to the other


def test_the_demo_video_uses_the_last_frame_input(adapter, tmp_path: Path):
    params = {"prompt": "dusk", "aspect_ratio": "16:9", "duration": "1"}
    inputs = (input_file(solid((20, 60, 220)), "first_frame"), input_file(solid((240, 200, 30)), "last_frame"))
    request = request_for(params, inputs=inputs)
    clip = adapter.download(f"demo://{TASK_ID}/0.mp4", request, max_bytes=MAX).file.read()
    _meta, frames = decode(clip, tmp_path)
    r, g, b = frames[-1].getpixel((320, 120))
    assert r > 200 and g > 170 and b < 80
    poster = open_png(adapter.download(f"demo://{TASK_ID}/0.png", request, max_bytes=MAX).file.read())
    r, g, b = poster.convert("RGB").getpixel((320, 120))
    assert b > 180 and r < 60  # the poster is the first frame


# --- the seeded rows -----------------------------------------------------------------

SEED = importlib.import_module("providers.migrations.0006_demo_stand_ins")


def test_the_seeded_demo_tools_are_tools_the_demo_adapter_runs():
    tools = {data["slug"]: data for data in SEED.OFFERS if "tool" in data["options"]}
    assert set(tools) == {"demo-upscale", "demo-remove-background"}
    for data in tools.values():
        offer = Offer(**{k: v for k, v in data.items() if not k.endswith(("_en", "_ar"))})
        spec = tool_spec(offer)
        assert spec is not None and spec.source == "image" and not spec.models
        assert data["provider_model"] in TOOL_KINDS
        assert offer.input_limits == (1, 1) and offer.input_roles == ["source"]
        assert data["options"]["cost"]["usd"] and "price_credits" not in data  # derived from the cost
    assert tools["demo-upscale"]["options"]["params"]["factor"]["choices"] == ["2", "4"]
    editor = next(data for data in SEED.OFFERS if data["slug"] == "demo-image-edit")
    assert editor["options"]["inputs"] == {"min": 1, "max": 4, "roles": ["reference"]}
    assert SEED.VIDEO_INPUTS == {"min": 0, "max": 2, "roles": ["first_frame", "last_frame"]}


@pytest.mark.django_db
def test_the_seeded_rows_are_in_the_catalogue_after_migrating():
    from django.apps import apps

    SEED.forward(apps, None)  # idempotent: by slug
    SEED.forward(apps, None)
    assert Offer.objects.filter(slug__in=["demo-image-edit", "demo-upscale", "demo-remove-background"]).count() == 3
    video = Offer.objects.filter(slug="demo-video").first()
    if video is not None:
        assert video.input_limits == (0, 2) and video.input_roles == ["first_frame", "last_frame"]
