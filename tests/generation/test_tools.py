"""Tools on a finished result (issue 16, part 5): catalogue rows with
``options.tool`` appear as actions on matching results only, open a small
form with the price, and make a new job (the source as its "source" input)
priced, held and charged like any other, shown as derived from its source."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from PIL import Image

from credits.models import Wallet
from generation import services
from generation.models import Job, JobInput, JobStatus
from generation.services import pipeline
from providers.models import Offer
from tests.factories import OfferFactory
from tests.support.accounts import fund

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
TOKEN = "t0ken-for-a-tool-form-1"


@pytest.fixture(autouse=True)
def _only_the_tests_tools(db):
    # The seeded demo tools may or may not be in a reused test database: each test brings its own.
    Offer.objects.filter(options__has_key="tool").update(is_active=False)


def _tool(slug, action, *, source="image", models=None, provider_model="demo/upscale", params=None, price=3):
    tool = {"action": action, "source": source, **({"models": models} if models else {})}
    return OfferFactory(
        slug=slug,
        service=source,
        provider_model=provider_model,
        name=f"Tool {slug}",
        price_credits=price,
        options={
            "params": params or {},
            "max_outputs": 1,
            "inputs": {"min": 1, "max": 1, "roles": ["source"]},
            "tool": tool,
        },
    )


@pytest.fixture
def upscaler(db):
    return _tool("t-upscale", "upscale", params={"factor": {"choices": ["2", "4"], "default": "2"}})


@pytest.fixture
def remover(db):
    return _tool("t-cutout", "remove_background", provider_model="demo/remove-background", price=2)


@pytest.fixture
def video_offer(db):
    return OfferFactory(
        slug="t-clip",
        service="video",
        provider_model="demo/video",
        options={"params": {"duration": {"choices": ["1"], "default": "1"}}, "max_outputs": 1},
    )


def _done(user, offer, django_capture_on_commit_callbacks, outputs=1):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=user, offer=offer, params={"prompt": "a quiet bay", "outputs": outputs})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    return job


def _card(client, job):
    return client.get(reverse("job_card", args=[job.pk]), **HX).content.decode()


def _tool_url(job, tool):
    return reverse("job_tool", args=[job.pk, tool.slug])


def test_an_upscale_is_a_new_job_priced_held_and_charged_with_its_source_as_parent(
    alice_client, alice, demo_offer, upscaler, django_capture_on_commit_callbacks
):
    source = _done(alice, demo_offer, django_capture_on_commit_callbacks)
    asset = source.assets.get()
    price = upscaler.price_for(outputs=1, params={"factor": "4"})
    before = Wallet.objects.get(user=alice).balance
    form = alice_client.get(_tool_url(source, upscaler), {"asset": asset.pk, "factor": "4"}, **HX)
    assert form.context["price"] == price
    assert f"Confirm for {price} credit" in form.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            _tool_url(source, upscaler), {"asset": asset.pk, "factor": "4", "form_token": TOKEN}, **HX
        )
    assert response.status_code == 200
    assert (response["HX-Retarget"], response["HX-Reswap"]) == ("#jobs", "afterbegin")
    assert "balanceChanged" in response["HX-Trigger"]
    job = Job.objects.get(offer=upscaler)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    # The source's provider task travels with the job (Veo's own upscales name it at kie.ai).
    source_task = asset.task.task_id
    assert (job.parent, job.service, job.params) == (
        source,
        "image",
        {"factor": "4", "outputs": 1, "source_task_id": source_task, "source_index": 0},
    )
    assert [(i.role, i.asset, i.upload) for i in job.inputs.all()] == [("source", asset, None)]
    assert (job.price_credits, job.charged_credits) == (price, price)
    assert Wallet.objects.get(user=alice).balance == before - price
    with Image.open(job.assets.get().file) as big, Image.open(asset.file) as small:
        assert big.size == (small.width * 4, small.height * 4)  # really four times larger
    body = response.content.decode()
    assert f'id="job-{job.pk}"' in body and "Upscaled from" in body
    assert reverse("job_detail", args=[source.pk]) in body
    assert f'id="tool-slot-{source.pk}"' in body and 'hx-swap-oob="true"' in body  # the form closes


def test_the_same_tool_form_sent_twice_makes_one_job(
    alice_client, alice, demo_offer, upscaler, settings, django_capture_on_commit_callbacks
):
    source = _done(alice, demo_offer, django_capture_on_commit_callbacks)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    data = {"asset": source.assets.get().pk, "factor": "2", "form_token": TOKEN}
    first = alice_client.post(_tool_url(source, upscaler), data, **HX)
    again = alice_client.post(_tool_url(source, upscaler), data, **HX)
    assert first.status_code == again.status_code == 200
    job = Job.objects.get(offer=upscaler)
    assert Wallet.objects.get(user=alice).held == job.price_credits


def test_a_background_removal_is_a_png_with_real_transparency(
    alice_client, alice, demo_offer, remover, django_capture_on_commit_callbacks
):
    source = _done(alice, demo_offer, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(_tool_url(source, remover), {"asset": source.assets.get().pk, "form_token": TOKEN}, **HX)
    job = Job.objects.get(offer=remover)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    asset = job.assets.get()
    assert asset.content_type == "image/png"
    with Image.open(asset.file) as cut:
        assert cut.mode == "RGBA"
        assert cut.getchannel("A").getextrema() == (0, 255)  # transparent and opaque pixels
    assert "Background removed from" in _card(alice_client, job)
    assert "tile--cutout" in _card(alice_client, job)


def test_tool_actions_appear_only_on_results_they_work_on(
    alice_client, alice, demo_offer, upscaler, remover, video_offer, django_capture_on_commit_callbacks
):
    veo = OfferFactory(
        slug="t-veo",
        service="video",
        provider_model="demo/video",
        options={"params": {"duration": {"choices": ["1"], "default": "1"}}, "max_outputs": 1},
    )
    generic_video = _tool("t-video-up", "upscale", source="video", provider_model="demo/video-upscale")
    veo_own = _tool("t-veo-1080", "upscale", source="video", models=["t-veo"], provider_model="demo/veo-1080")
    fund(alice, 100)
    image = _done(alice, demo_offer, django_capture_on_commit_callbacks)
    clip = _done(alice, video_offer, django_capture_on_commit_callbacks)
    veo_clip = _done(alice, veo, django_capture_on_commit_callbacks)

    card = _card(alice_client, image)
    assert _tool_url(image, upscaler) in card and _tool_url(image, remover) in card
    assert "Upscale" in card and "Remove background" in card
    assert "t-video-up" not in card and "t-veo-1080" not in card

    card = _card(alice_client, clip)
    assert _tool_url(clip, generic_video) in card
    assert "t-upscale" not in card and "t-cutout" not in card and "t-veo-1080" not in card

    card = _card(alice_client, veo_clip)  # the tool made for this model wins over the generic one
    assert _tool_url(veo_clip, veo_own) in card and "t-video-up" not in card
    assert card.count("data-tool-open") == 1

    # Not offered where it does not apply, also when asked for directly.
    assert alice_client.get(_tool_url(clip, upscaler)).status_code == 404
    assert alice_client.get(_tool_url(veo_clip, generic_video)).status_code == 404

    failed = Job.objects.create(
        user=alice, offer=demo_offer, service="image", status="failed", params={"prompt": "x"}, price_credits=2
    )
    assert "data-tool-open" not in _card(alice_client, failed)
    Offer.objects.filter(pk=upscaler.pk).update(is_active=False)
    assert "t-upscale" not in _card(alice_client, image)


def test_a_tool_job_belongs_to_the_service_of_its_source(
    alice, video_offer, settings, django_capture_on_commit_callbacks
):
    clip = _done(alice, video_offer, django_capture_on_commit_callbacks)
    tool = _tool("t-video-up", "upscale", source="video", provider_model="demo/video-upscale")
    Offer.objects.filter(pk=tool.pk).update(service="image")  # a row filed under another service
    settings.CELERY_TASK_ALWAYS_EAGER = False
    job = services.job_tool_apply(asset=clip.assets.get(), tool=Offer.objects.get(pk=tool.pk), params={})
    assert job.service == "video"


def test_tools_are_not_models_in_the_studio_pickers(alice_client, demo_offer, upscaler, remover):
    body = alice_client.get(reverse("image")).content.decode()
    assert demo_offer.name in body and upscaler.name not in body and remover.name not in body
    response = alice_client.post(
        reverse("job_create"),
        {"service": "image", "offer": upscaler.pk, "prompt": "x", "outputs": 1, "factor": "2"},
        **HX,
    )
    assert response["HX-Retarget"] == "#form-errors" and not Job.objects.exists()


def test_an_outsider_gets_404_for_a_tool_on_someone_elses_result(
    alice, charlie_client, demo_offer, upscaler, django_capture_on_commit_callbacks
):
    source = _done(alice, demo_offer, django_capture_on_commit_callbacks)
    url = _tool_url(source, upscaler)
    assert charlie_client.get(url, **HX).status_code == 404
    data = {"asset": source.assets.get().pk, "factor": "2", "form_token": TOKEN}
    assert charlie_client.post(url, data, **HX).status_code == 404
    assert not Job.objects.filter(offer=upscaler).exists()


def test_a_result_of_another_job_cannot_be_slipped_into_the_form(
    alice_client, alice, demo_offer, upscaler, django_capture_on_commit_callbacks
):
    source = _done(alice, demo_offer, django_capture_on_commit_callbacks)
    other = _done(alice, demo_offer, django_capture_on_commit_callbacks)
    data = {"asset": other.assets.get().pk, "factor": "2", "form_token": TOKEN}
    assert alice_client.post(_tool_url(source, upscaler), data, **HX).status_code == 404
    assert not Job.objects.filter(offer=upscaler).exists()


def test_a_tool_refuses_what_it_does_not_work_on(
    alice, demo_offer, upscaler, video_offer, django_capture_on_commit_callbacks
):
    clip = _done(alice, video_offer, django_capture_on_commit_callbacks)
    with pytest.raises(services.GenerationError) as refused:
        services.job_tool_apply(asset=clip.assets.get(), tool=upscaler, params={"factor": "2"})
    assert refused.value.code == "not_applicable"
    image = _done(alice, demo_offer, django_capture_on_commit_callbacks)
    with pytest.raises(services.GenerationError):
        services.job_tool_apply(asset=image.assets.get(), tool=upscaler, params={"factor": "8"})
    assert not Job.objects.filter(offer=upscaler).exists()
    assert Wallet.objects.get(user=alice).held == 0


def test_a_short_balance_keeps_the_form_open_with_a_link_to_buy(
    client, demo_offer, upscaler, django_capture_on_commit_callbacks
):
    from tests.factories import UserFactory

    poor = UserFactory()
    fund(poor, 2)
    client.force_login(poor)
    source = _done(poor, demo_offer, django_capture_on_commit_callbacks)  # 2 credits: nothing left
    response = client.post(
        _tool_url(source, upscaler), {"asset": source.assets.get().pk, "factor": "2", "form_token": TOKEN}, **HX
    )
    body = response.content.decode()
    assert response.status_code == 200 and "HX-Retarget" not in response
    assert reverse("pricing") in body and 'class="tool-form"' in body
    assert not Job.objects.filter(offer=upscaler).exists()


def test_a_several_image_job_lets_the_creator_choose_which_result(
    alice_client, alice, demo_offer, upscaler, django_capture_on_commit_callbacks
):
    source = _done(alice, demo_offer, django_capture_on_commit_callbacks, outputs=2)
    second = source.assets.order_by("index")[1]
    body = alice_client.get(_tool_url(source, upscaler), **HX).content.decode()
    assert body.count('type="radio"') == 2
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(_tool_url(source, upscaler), {"asset": second.pk, "factor": "2", "form_token": TOKEN}, **HX)
    assert JobInput.objects.get(job__offer=upscaler).asset == second


def test_without_javascript_the_form_is_a_page_and_the_answer_the_new_jobs_page(
    alice_client, alice, demo_offer, upscaler, django_capture_on_commit_callbacks
):
    source = _done(alice, demo_offer, django_capture_on_commit_callbacks)
    page = alice_client.get(_tool_url(source, upscaler))
    assert page.status_code == 200 and "<html" in page.content.decode() and 'name="factor"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            _tool_url(source, upscaler), {"asset": source.assets.get().pk, "factor": "2", "form_token": TOKEN}
        )
    job = Job.objects.get(offer=upscaler)
    assert response.status_code == 302 and response["Location"] == reverse("job_detail", args=[job.pk])
    # From the job's own page htmx moves to the new job's page instead of adding a card.
    with django_capture_on_commit_callbacks(execute=True):
        moved = alice_client.post(
            _tool_url(source, upscaler),
            {"asset": source.assets.get().pk, "factor": "4", "detail": "1", "form_token": TOKEN + "x"},
            **HX,
        )
    newest = Job.objects.filter(offer=upscaler).latest("id")
    assert moved["HX-Redirect"] == reverse("job_detail", args=[newest.pk])


def test_the_job_page_shows_what_it_was_made_from_in_both_languages(
    alice_client, alice, demo_offer, upscaler, django_capture_on_commit_callbacks
):
    source = _done(alice, demo_offer, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_tool_apply(asset=source.assets.get(), tool=upscaler, params={"factor": "4"})
    body = alice_client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert "Upscaled from" in body and f'href="{reverse("job_detail", args=[source.pk])}"' in body
    assert "Scale" in body and "×4" in body
    assert reverse("asset_file", args=[source.assets.get().pk]) in body  # the source itself
    arabic = alice_client.get("/ar" + reverse("job_detail", args=[job.pk])).content.decode()
    assert "Upscaled from" not in arabic and re.search(r"[\u0600-\u06ff]+ من", arabic)
    tile = alice_client.get(reverse("creations")).content.decode()
    assert "Tool t-upscale · ×4" in tile  # a tool has no prompt: its name and options


def test_a_source_is_kept_while_its_tool_runs_and_its_deletion_leaves_the_derived_job(
    alice_client, alice, demo_offer, upscaler, settings, django_capture_on_commit_callbacks
):
    source = _done(alice, demo_offer, django_capture_on_commit_callbacks)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    job = services.job_tool_apply(asset=source.assets.get(), tool=upscaler, params={"factor": "2"})
    with pytest.raises(services.GenerationError) as refused:
        services.job_delete(job=source)
    assert refused.value.code == "in_use"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.job_dispatch(job_id=job.pk)
        pipeline.job_poll(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    services.job_delete(job=Job.objects.get(pk=source.pk))
    job = Job.objects.get(pk=job.pk)
    assert job.parent is None and job.inputs.get().asset is None and job.assets.count() == 1
    card = _card(alice_client, job)
    assert "Upscaled from a creation that was deleted" in card
    with pytest.raises(services.GenerationError):
        services.job_regenerate(job=job)


def test_regenerating_a_tool_job_runs_the_tool_again_on_the_same_source(
    alice, demo_offer, upscaler, django_capture_on_commit_callbacks
):
    source = _done(alice, demo_offer, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        first = services.job_tool_apply(asset=source.assets.get(), tool=upscaler, params={"factor": "4"})
        again = services.job_regenerate(job=first)
    assert (again.offer, again.parent, again.params["factor"]) == (upscaler, source, "4")
    assert again.inputs.get().asset == source.assets.get()


def test_a_video_source_is_given_to_the_provider_as_the_video_itself(
    alice, video_offer, settings, django_capture_on_commit_callbacks
):
    clip = _done(alice, video_offer, django_capture_on_commit_callbacks)
    tool = _tool("t-video-up", "upscale", source="video", provider_model="demo/video-upscale")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    job = services.job_tool_apply(asset=clip.assets.get(), tool=tool, params={})
    (source,) = pipeline._input_files(Job.objects.get(pk=job.pk))
    assert (source.role, source.content_type) == ("source", "video/mp4")
    with source.open() as fh:
        assert fh.read(12)[4:8] == b"ftyp"
