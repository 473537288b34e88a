"""Tools on a finished result through the whole pipeline against a local
kie.ai (issue 16 part 5): Veo's own 1080p of a Veo clip (no upload; the source
task named; "still processing" first) and Topaz's upscale of an image (the
result uploaded, then named), each a new job priced, held and charged."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from credits.models import Wallet
from generation import services
from generation.models import Asset, Job, JobStatus, ProviderTask, TaskStatus
from providers.demo_media import render_mp4
from tests.factories import OfferFactory
from tests.support.catalogue import seeded_offer
from tests.support.kie import (
    CREATE,
    RECORD,
    TASK_ID,
    UPLOAD,
    created,
    envelope,
    kie_configure,
    record,
    requests_to,
    serve_mp4,
    serve_png,
    uploaded,
)

pytestmark = pytest.mark.django_db

VEO_TASK = "veo_task_source_1"


@pytest.fixture
def kie(settings, httpserver):
    return kie_configure(settings, httpserver)


def _row(slug: str, **options):
    """A copy of the seeded row ``slug`` (as ``t-<slug>``), with ``options`` keys replaced."""
    seeded = seeded_offer(slug)
    return OfferFactory(
        slug=f"t-{slug}",
        service=seeded.service,
        adapter=seeded.adapter,
        provider_model=seeded.provider_model,
        price_credits=None,
        options={**seeded.options, **options},
    )


def _finished(user, offer, *, content: bytes, content_type: str, params: dict) -> Asset:
    job = Job.objects.create(
        user=user,
        offer=offer,
        service=offer.service,
        status=JobStatus.SUCCEEDED,
        params={"prompt": "a fox", "outputs": 1, **params},
        price_credits=1,
        charged_credits=1,
    )
    task = ProviderTask.objects.create(job=job, index=0, task_id=VEO_TASK, status=TaskStatus.SUCCEEDED)
    asset = Asset(job=job, user=user, task=task, index=0, content_type=content_type, width=64, height=36)
    asset.file.save("source.bin", ContentFile(content), save=False)
    asset.size_bytes = len(content)
    asset.save()
    return asset


def test_veo_1080p_of_a_veo_clip_names_its_task_waits_for_it_and_charges_once(
    kie, alice, django_capture_on_commit_callbacks
):
    veo = _row("veo3-fast")
    tool = _row("veo-upscale", tool={"action": "upscale", "source": "video", "models": ["t-veo3-fast"]})
    clip = io.BytesIO()
    render_mp4(prompt="a fox", aspect_ratio="16:9", duration_seconds=1, out=clip)
    source = _finished(alice, veo, content=clip.getvalue(), content_type="video/mp4", params={"duration": "8"})
    hd = serve_mp4(kie, clip.getvalue(), path="/cdn/hd.mp4")
    processing = envelope(None, code=400, msg="1080P is still processing")
    kie.expect_ordered_request("/api/v1/veo/get-1080p-video").respond_with_json(processing)
    kie.expect_request("/api/v1/veo/get-1080p-video").respond_with_json(envelope({"resultUrl": hd}))
    before = Wallet.objects.get(user=alice).balance

    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_tool_apply(asset=source, tool=tool, params={"resolution": "1080p"})
    services.job_poll(job_id=job.pk)
    job.refresh_from_db()

    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert (job.parent_id, job.price_credits) == (source.job_id, tool.unit_price({"resolution": "1080p"}))
    assert Wallet.objects.get(user=alice).balance == before - job.price_credits
    asks = requests_to(kie, "/api/v1/veo/get-1080p-video")
    assert {r.args["taskId"] for r in asks} == {VEO_TASK} and len(asks) >= 2
    assert not requests_to(kie, UPLOAD)  # the clip is at kie.ai already


def test_topaz_upscale_of_an_image_uploads_the_result_and_names_it(kie, alice, django_capture_on_commit_callbacks):
    painter = OfferFactory(slug="t-painter", adapter="demo")
    tool = _row("topaz-image-upscale")
    png = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 40, 40)).save(png, "PNG")
    source = _finished(alice, painter, content=png.getvalue(), content_type="image/png", params={})
    kie.expect_request(UPLOAD, method="POST").respond_with_json(uploaded("https://tempfile.test/source.png"))
    kie.expect_request(CREATE, method="POST").respond_with_json(created())
    big = io.BytesIO()
    Image.new("RGB", (256, 144), (200, 40, 40)).save(big, "PNG")
    out = serve_png(kie, big.getvalue())
    kie.expect_request(RECORD, query_string={"taskId": TASK_ID}).respond_with_json(
        envelope(record("success", urls=[out]))
    )

    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_tool_apply(asset=source, tool=tool, params={"factor": "4"})
    job.refresh_from_db()

    assert job.status == JobStatus.SUCCEEDED, job.error_message
    (create,) = requests_to(kie, CREATE)
    assert create.get_json()["input"] == {"upscale_factor": "4", "image_url": "https://tempfile.test/source.png"}
    assert job.price_credits == tool.unit_price({"factor": "4"}) == 8  # $0.20 as 8K
    assert job.assets.get().width == 256
