"""File inputs as drop zones in Debian's Chromium: on the Arabic Video page
at phone size the zone speaks Arabic, a chosen or dropped file is previewed
and can be removed, an earlier result picked as the first frame makes a
demo clip; the Avatar page's zone of several photos removes one of them;
a chosen recording on "Make it speak" shows its name and length."""

from __future__ import annotations

import base64
import io

import pytest
from django.core.files.base import ContentFile
from PIL import Image
from playwright.sync_api import expect

from generation.models import Asset, Job, JobStatus
from tests.factories import OfferFactory, UserFactory
from tests.support.accounts import fund
from tests.support.browser import open_settings, sign_in

PASSWORD = "pass-word-123"
DROP = """async ([data, name, type]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type }));
  const target = document.querySelector("[data-dropzone] .dropzone__target");
  for (const kind of ["dragenter", "dragover", "drop"]) {
    target.dispatchEvent(new DragEvent(kind, { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }
  return document.querySelector("input[name=first_frame]").files.length;
}"""


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (640, 360)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def _finished_image(user, offer) -> Asset:
    job = Job.objects.create(
        user=user,
        offer=offer,
        service="image",
        status=JobStatus.SUCCEEDED,
        params={"prompt": "a blue sky", "outputs": 1},
        price_credits=1,
        charged_credits=1,
    )
    asset = Asset(job=job, user=user, index=0, content_type="image/png", width=640, height=360)
    asset.file.save("output.png", ContentFile(_png((20, 60, 220))), save=False)
    asset.size_bytes = asset.file.size
    asset.save()
    return asset


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_arabic_video_page_takes_a_frame_by_choice_drop_or_pick(page, live_server, worker, tmp_path):
    user = UserFactory(email="frames@example.com", preferred_language="ar")
    fund(user, 40)
    painter = OfferFactory(slug="browser-painter", adapter="demo", name="Demo painter")
    earlier = _finished_image(user, painter)
    offer = OfferFactory(
        slug="browser-frames",
        service="video",
        adapter="demo",
        provider_model="demo/video",
        price_credits=2,
        name="Demo motion",
        options={
            "params": {"duration": {"choices": ["2"], "default": "2"}},
            "max_outputs": 1,
            "inputs": {"min": 0, "max": 2, "roles": ["first_frame", "last_frame"]},
        },
    )
    chosen = tmp_path / "sunrise.png"
    chosen.write_bytes(_png((240, 200, 30)))

    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server.url, "frames@example.com", PASSWORD, prefix="/ar")
    page.goto(f"{live_server.url}/ar/video/")
    open_settings(page)  # folded in the phone's dock
    zone = page.locator("[data-dropzone]").first
    assert "اختر ملفًا أو أفلته هنا" in zone.locator(".dropzone__text").inner_text()
    assert "الإطار الأول" in zone.locator(".dropzone__title").inner_text()
    assert _fits(page)

    # Chosen through the (hidden) input: a preview and a Remove button, in Arabic.
    page.set_input_files("input[name=first_frame]", str(chosen))
    expect(zone.locator(".dropzone__files img")).to_be_visible()
    remove = zone.locator("[data-dropzone-remove]")
    assert remove.inner_text() == "إزالة"
    assert remove.get_attribute("aria-label") == "إزالة sunrise.png"
    assert _fits(page)
    remove.click()
    expect(zone.locator(".dropzone__files")).to_be_hidden()
    assert page.evaluate("document.querySelector('input[name=first_frame]').files.length") == 0

    # Dropped: the input holds the file; a refused type says so and keeps it.
    data = base64.b64encode(_png((30, 170, 70))).decode()
    assert page.evaluate(DROP, [data, "dropped.png", "image/png"]) == 1
    expect(zone.locator(".dropzone__name")).to_have_text("dropped.png")
    assert page.evaluate(DROP, [base64.b64encode(b"hello").decode(), "notes.txt", "text/plain"]) == 1
    expect(zone.locator("[data-dropzone-error]")).to_contain_text("notes.txt")
    expect(zone.locator(".dropzone__name")).to_have_text("dropped.png")

    # Picking an earlier result replaces the file; Generate makes the clip from it.
    slot = page.locator("[data-pick-slot]").first
    slot.locator("summary").click()
    slot.locator(f"input[name=first_frame_asset][value='{earlier.pk}']").check()
    assert page.evaluate("document.querySelector('input[name=first_frame]').files.length") == 0
    expect(zone.locator(".dropzone__files")).to_be_hidden()
    assert _fits(page)
    page.fill("textarea[name=prompt]", "the sky turns to day")
    page.locator("#video-form [type=submit]").click()
    page.locator("#jobs video").first.wait_for(timeout=90_000)
    job = Job.objects.get(offer=offer)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert [(i.role, i.asset_id, i.upload_id) for i in job.inputs.all()] == [("first_frame", earlier.pk, None)]
    assert _fits(page)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_avatar_zone_shows_each_photo_and_removes_one(page, live_server, tmp_path):
    UserFactory(email="photos@example.com")
    OfferFactory(
        slug="browser-stylist",
        service="avatar",
        adapter="demo",
        provider_model="demo/avatar",
        name="Demo stylist",
        options={"params": {}, "max_outputs": 4, "inputs": {"min": 1, "max": 2, "roles": ["photo"]}},
    )
    paths = []
    for name, colour in (("one.png", (200, 50, 50)), ("two.png", (50, 200, 50)), ("three.png", (50, 50, 200))):
        path = tmp_path / name
        path.write_bytes(_png(colour, (400, 400)))
        paths.append(str(path))
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server.url, "photos@example.com", PASSWORD)
    page.goto(f"{live_server.url}/avatar/")
    zone = page.locator("[data-dropzone]")
    assert "Choose files or drop them here" in zone.inner_text()
    page.set_input_files("input[name=photos]", paths)  # three for a model that takes two
    expect(zone.locator(".dropzone__file")).to_have_count(2)
    expect(zone.locator("[data-dropzone-error]")).to_contain_text("At most 2")
    zone.locator("[data-dropzone-remove]").first.focus()
    page.keyboard.press("Enter")  # Remove works from the keyboard
    expect(zone.locator(".dropzone__file")).to_have_count(1)
    names = page.evaluate("Array.from(document.querySelector('input[name=photos]').files, (f) => f.name)")
    assert names == ["two.png"]
    assert _fits(page)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_chosen_recording_shows_its_name_and_length(page, live_server, tmp_path):
    import math
    import struct
    import wave

    UserFactory(email="voice@example.com")
    path = tmp_path / "hello.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 8))) for i in range(8000 * 3)))
    sign_in(page, live_server.url, "voice@example.com", PASSWORD)
    page.goto(f"{live_server.url}/speak/")
    zone = page.locator("[data-dropzone][data-kind=audio]")
    page.set_input_files("input[name=speech_file]", str(path))
    expect(zone.locator(".dropzone__name")).to_have_text("hello.wav")
    expect(zone.locator(".dropzone__meta")).to_contain_text("0:03")
    assert zone.locator("audio").count() == 1
    zone.locator("[data-dropzone-remove]").click()
    assert page.evaluate("document.querySelector('input[name=speech_file]').files.length") == 0
