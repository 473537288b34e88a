"""A video from a first to a last frame on the Video page (issue 16, part 8:
the demo video takes both and really starts and ends on them)."""

from __future__ import annotations

import io

import imageio_ffmpeg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from generation.models import Job, JobStatus, Upload
from tests.factories import OfferFactory

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def video_offer(db):
    return OfferFactory(
        slug="t-frames",
        service="video",
        provider_model="demo/video",
        options={
            "params": {"duration": {"choices": ["2"], "default": "2"}},
            "max_outputs": 1,
            "inputs": {"min": 0, "max": 2, "roles": ["first_frame", "last_frame"]},
        },
    )


def _frame(name, colour):
    buf = io.BytesIO()
    Image.new("RGB", (640, 360), colour).save(buf, "PNG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/png")


def _post(client, offer, **files):
    data = {"service": "video", "offer": offer.pk, "prompt": "dawn to noon", "outputs": 1, "duration": "2", **files}
    return client.post(reverse("job_create"), data, **HX)


def test_a_demo_clip_starts_on_the_first_frame_and_ends_on_the_last(
    alice_client, video_offer, tmp_path, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _post(
            alice_client,
            video_offer,
            first_frame=_frame("a.png", (20, 60, 220)),
            last_frame=_frame("b.png", (240, 200, 30)),
        )
    job = Job.objects.get()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert [i.role for i in job.inputs.order_by("position")] == ["first_frame", "last_frame"]
    path = tmp_path / "clip.mp4"
    path.write_bytes(job.assets.get().file.read())
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    frames = [Image.frombytes("RGB", meta["size"], raw) for raw in reader]
    first, last = frames[0].getpixel((320, 120)), frames[-1].getpixel((320, 120))
    assert first[2] > 180 and first[0] < 60  # blue
    assert last[0] > 200 and last[1] > 170 and last[2] < 80  # yellow


def test_a_last_frame_without_a_first_is_refused_before_anything_is_stored(alice_client, video_offer):
    response = _post(alice_client, video_offer, last_frame=_frame("b.png", (240, 200, 30)))
    assert response["HX-Retarget"] == "#form-errors"
    assert "first frame" in response.content.decode()
    assert not Job.objects.exists() and not Upload.objects.exists()
