"""Editing with reference images on the Image page (issue 16, part 3):
uploads checked as avatar photos are, earlier results picked by id, the
model's limits enforced on the server, an outsider's result refused."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from credits.models import Wallet
from generation import services
from generation.models import Job, JobInput, JobStatus, Upload
from providers.models import ProviderCall
from tests.factories import OfferFactory
from tests.support.uploads import photo

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def editor(db):
    """A demo image model that takes one to three reference images."""
    return OfferFactory(
        slug="t-editor",
        provider_model="demo/image-edit",
        name="Test editor",
        sort_order=5,
        price_credits=2,
        options={
            "params": {"aspect_ratio": {"choices": ["1:1", "16:9"], "default": "1:1"}},
            "max_outputs": 2,
            "inputs": {"min": 1, "max": 3, "roles": ["reference"]},
        },
    )


def _done(user, offer, django_capture_on_commit_callbacks, prompt="a harbour at dawn", **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=user, offer=offer, params={"prompt": prompt, "outputs": 1}, **kwargs)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    return job


def _post(client, offer, *, files=(), picked=(), **extra):
    data = {"service": "image", "offer": offer.pk, "prompt": "put them on a beach", "outputs": 1, "aspect_ratio": "1:1"}
    data.update(extra)
    if files:
        data["references"] = list(files)
    if picked:
        data["reference_asset"] = [str(p) for p in picked]
    return client.post(reverse("job_create"), data, **HX)


def _solid(name, colour, size=(320, 320)):
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/png")


def test_the_image_page_shows_the_reference_control_only_for_a_model_that_takes_references(
    alice_client, demo_offer, editor
):
    url = reverse("studio_options", args=["image"])
    plain = alice_client.get(url, {"offer": demo_offer.pk}, **HX).content.decode()
    assert 'name="references"' not in plain
    assert 'name="references"' not in alice_client.get(reverse("image")).content.decode()  # the painter is first
    body = alice_client.get(url, {"offer": editor.pk}, **HX).content.decode()
    assert 'name="references"' in body and 'data-reference-limit="3"' in body
    # htmx keeps the control (and the files chosen in it) while the options of the
    # same model change; its id names the model, so another model brings its own.
    assert f'id="references-{editor.pk}" hx-preserve="true"' in body
    assert 'name="references"' not in alice_client.get(url, {"offer": demo_offer.pk}, **HX).content.decode()
    for video in (alice_client.get(reverse("video")), alice_client.get(reverse("studio_options", args=["video"]))):
        assert 'name="references"' not in video.content.decode()


def test_the_picker_offers_the_creators_finished_images_and_more_on_request(
    alice_client, alice, charlie, demo_offer, editor, django_capture_on_commit_callbacks
):
    from tests.support.accounts import fund

    fund(alice, 500)
    mine = [_done(alice, demo_offer, django_capture_on_commit_callbacks, prompt=f"p{i}") for i in range(10)]
    fund(charlie, 10)
    theirs = _done(charlie, demo_offer, django_capture_on_commit_callbacks)
    body = alice_client.get(reverse("studio_options", args=["image"]), {"offer": editor.pk}, **HX).content.decode()
    newest = [j.assets.get().pk for j in reversed(mine)]
    pick = 'name="reference_asset" value="{}"'.format
    for pk in newest[:8]:
        assert pick(pk) in body
    assert pick(newest[8]) not in body
    assert pick(theirs.assets.get().pk) not in body
    assert reverse("reference_results") + "?offset=8" in body
    more = alice_client.get(reverse("reference_results"), {"offset": 8}, **HX).content.decode()
    assert all(pick(pk) in more for pk in newest[8:])
    assert pick(theirs.assets.get().pk) not in more
    assert "?offset=" not in more  # nothing after the last page


def test_an_upload_and_a_picked_result_make_one_job_with_both_as_references(
    alice_client, alice, demo_offer, editor, django_capture_on_commit_callbacks
):
    earlier = _done(alice, demo_offer, django_capture_on_commit_callbacks).assets.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(alice_client, editor, files=[_solid("red.png", (220, 30, 30))], picked=[earlier.pk])
    assert response.status_code == 200, response.content
    job = Job.objects.get(offer=editor)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    inputs = list(job.inputs.order_by("position"))
    assert [(i.role, i.upload is not None, i.asset_id) for i in inputs] == [
        ("reference", True, None),
        ("reference", False, earlier.pk),
    ]
    assert job.price_credits == editor.price_for(outputs=1, params={"aspect_ratio": "1:1"})


def test_too_many_references_are_refused_on_the_server_uploads_and_results_counted_together(
    alice_client, alice, demo_offer, editor, django_capture_on_commit_callbacks
):
    a, b = (_done(alice, demo_offer, django_capture_on_commit_callbacks, prompt=p).assets.get() for p in "ab")
    held = Wallet.objects.get(user=alice).held
    response = _post(alice_client, editor, files=[photo("1.jpg"), photo("2.jpg")], picked=[a.pk, b.pk])
    assert response["HX-Retarget"] == "#form-errors"
    assert "at most 3 images" in response.content.decode()
    assert not Job.objects.filter(offer=editor).exists() and not Upload.objects.exists()
    assert Wallet.objects.get(user=alice).held == held


def test_a_model_that_needs_a_reference_refuses_none(alice_client, editor):
    response = _post(alice_client, editor)
    assert response["HX-Retarget"] == "#form-errors"
    assert "at least 1 reference image" in response.content.decode()
    assert not Job.objects.exists()


def test_a_model_without_references_refuses_any(alice_client, alice, demo_offer, django_capture_on_commit_callbacks):
    earlier = _done(alice, demo_offer, django_capture_on_commit_callbacks).assets.get()
    for kwargs in ({"files": [photo()]}, {"picked": [earlier.pk]}):
        response = _post(alice_client, demo_offer, **kwargs)
        assert response["HX-Retarget"] == "#form-errors"
        assert "does not take images" in response.content.decode()
    assert Job.objects.count() == 1 and not Upload.objects.exists()
    with pytest.raises(services.GenerationError):
        services.job_submit(user=alice, offer=demo_offer, params={"prompt": "x"}, results=[earlier])


def test_an_outsiders_result_cannot_be_used_as_a_reference(
    alice_client, alice, charlie, editor, demo_offer, django_capture_on_commit_callbacks
):
    from tests.support.accounts import fund

    fund(charlie, 10)
    theirs = _done(charlie, demo_offer, django_capture_on_commit_callbacks).assets.get()
    response = _post(alice_client, editor, files=[photo()], picked=[theirs.pk])
    assert response.status_code == 404
    for forged in (["nope"], [str(theirs.pk + 1000)]):
        assert _post(alice_client, editor, picked=forged).status_code == 404
    assert not Job.objects.filter(user=alice).exists() and not Upload.objects.exists()
    assert Wallet.objects.get(user=alice).held == 0
    # The service refuses it too, whatever a caller passes.
    with pytest.raises(services.GenerationError) as refused:
        services.job_submit(user=alice, offer=editor, params={"prompt": "x"}, results=[theirs])
    assert refused.value.code == "not_found"


def test_a_video_result_cannot_be_a_reference_image(alice, editor, django_capture_on_commit_callbacks):
    video_offer = OfferFactory(
        service="video", provider_model="demo/video", options={"params": {"duration": {"choices": ["1"]}}}
    )
    clip = _done(alice, video_offer, django_capture_on_commit_callbacks).assets.get()
    with pytest.raises(services.GenerationError, match="video"):
        services.job_submit(user=alice, offer=editor, params={"prompt": "x"}, results=[clip])


def _huge():
    f = SimpleUploadedFile("huge.png", b"\x89PNG\r\n\x1a\n" + b"0" * 1024, content_type="image/png")
    f.size = 60 * 1024 * 1024
    return f


def _truncated():
    buf = io.BytesIO()
    Image.new("RGB", (400, 400), (10, 200, 90)).save(buf, "PNG")
    data = buf.getvalue()
    return SimpleUploadedFile("cut.png", data[: len(data) // 2], content_type="image/png")


@pytest.mark.parametrize(
    "make",
    [
        lambda: SimpleUploadedFile("notes.png", b"just some text, not an image", content_type="image/png"),
        _huge,
        _truncated,
    ],
    ids=["text renamed .png", "60 MB", "truncated png"],
)
def test_a_hostile_reference_upload_is_refused_with_nothing_stored_or_held(
    alice_client, alice, demo_offer, editor, make, django_capture_on_commit_callbacks
):
    earlier = _done(alice, demo_offer, django_capture_on_commit_callbacks).assets.get()
    calls = ProviderCall.objects.count()
    response = _post(alice_client, editor, files=[photo("ok.jpg"), make()], picked=[earlier.pk])
    assert response["HX-Retarget"] == "#form-errors"
    assert len(response.content.decode().strip()) > 20
    assert not Upload.objects.exists()  # the good file of the batch is not kept either
    assert not Job.objects.filter(offer=editor).exists() and not JobInput.objects.exists()
    assert ProviderCall.objects.count() == calls
    assert Wallet.objects.get(user=alice).held == 0


def test_the_reference_images_appear_in_the_demo_picture(
    alice_client, alice, demo_offer, editor, django_capture_on_commit_callbacks
):
    earlier = _done(alice, demo_offer, django_capture_on_commit_callbacks).assets.get()
    with django_capture_on_commit_callbacks(execute=True):
        _post(alice_client, editor, files=[_solid("blue.png", (20, 60, 230))], picked=[earlier.pk])
    job = Job.objects.get(offer=editor)
    job.refresh_from_db()
    result = Image.open(job.assets.get().file).convert("RGB")
    colours = {colour for _count, colour in result.getcolors(maxcolors=1 << 20)}
    assert (20, 60, 230) in colours  # the solid upload, laid into the picture as it is


def test_regenerating_an_edit_reuses_its_references_and_refuses_once_one_was_deleted(
    alice, demo_offer, editor, django_capture_on_commit_callbacks
):
    source = _done(alice, demo_offer, django_capture_on_commit_callbacks)
    edit = _done(alice, editor, django_capture_on_commit_callbacks, results=[source.assets.get()])
    again = _done(alice, editor, django_capture_on_commit_callbacks, results=[source.assets.get()])
    assert again.inputs.get().asset == source.assets.get()
    with django_capture_on_commit_callbacks(execute=True):
        redo = services.job_regenerate(job=edit)
    assert (redo.parent, redo.inputs.get().asset) == (edit, source.assets.get())
    services.job_delete(job=source)
    assert JobInput.objects.get(job=edit).asset is None  # the edit's record stays
    with pytest.raises(services.GenerationError):
        services.job_regenerate(job=Job.objects.get(pk=edit.pk))
