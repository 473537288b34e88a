"""Actions on a result (issue 17, part 2): one entry per action in
``generation.actions``; a card shows only the actions its job allows, each
does what it says at the price it shows, the server refuses an action the
card does not show, and nobody acts on someone else's result."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from credits.models import Wallet
from generation import actions, services
from generation.models import Job, JobStatus
from providers.models import Offer
from tests.support.accounts import fund
from tests.support.catalogue import install_seeded_catalogue

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _catalogue(db):
    install_seeded_catalogue()


def _done(user, slug, django_capture_on_commit_callbacks, **params):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=user, offer=Offer.objects.get(slug=slug), params={"prompt": "a fox", **params})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    return Job.objects.prefetch_related("assets").select_related("offer").get(pk=job.pk)


def _slugs(rf, user, job):
    request = rf.get("/")
    request.user = user
    return [shown.slug for shown in actions.actions_for(job, actions.available(request))]


def _card(client, job):
    return client.get(reverse("job_card", args=[job.pk])).content.decode()


def test_an_image_offers_what_an_image_can_do_and_a_video_what_a_video_can(
    rf, alice, django_capture_on_commit_callbacks
):
    image = _done(alice, "demo-image", django_capture_on_commit_callbacks)
    video = _done(alice, "demo-video", django_capture_on_commit_callbacks)
    speech = _done(alice, "demo-speech", django_capture_on_commit_callbacks)
    assert _slugs(rf, alice, image) == [
        "favourite",
        "reuse",
        "vary",
        "reference",
        "animate",
        "speak",
        "tool:demo-upscale",
        "tool:demo-remove-background",
        "delete",
    ]
    assert _slugs(rf, alice, video) == ["favourite", "reuse", "vary", "speak", "extend", "delete"]
    assert _slugs(rf, alice, speech) == ["favourite", "reuse", "vary", "speak", "delete"]


def test_a_running_job_offers_nothing_and_an_unavailable_model_no_reuse(
    rf, alice, settings, django_capture_on_commit_callbacks
):
    image = _done(alice, "demo-image", django_capture_on_commit_callbacks)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    running = services.job_submit(user=alice, offer=Offer.objects.get(slug="demo-image"), params={"prompt": "x"})
    assert _slugs(rf, alice, Job.objects.prefetch_related("assets").get(pk=running.pk)) == []
    Offer.objects.filter(slug="demo-image").update(is_active=False)
    assert "reuse" not in _slugs(rf, alice, image) and "vary" not in _slugs(rf, alice, image)


def test_the_card_shows_each_action_once_with_the_price_it_holds(
    alice_client, alice, django_capture_on_commit_callbacks
):
    image = _done(alice, "demo-image", django_capture_on_commit_callbacks, outputs=2)
    card = _card(alice_client, image)
    for label in ("Reuse settings", "Regenerate", "Use as reference", "Animate", "Make it speak", "Upscale", "Delete"):
        assert card.count(f"</svg>{label}") == 1, label
    assert "Extend" not in card
    price = Offer.objects.get(slug="demo-image").price_for(outputs=2)
    assert re.search(rf'class="action__price">{price} credits<', card)

    held_before = Wallet.objects.get(user=alice).held
    alice_client.post(reverse("job_regenerate", args=[image.pk]), {"in_feed": "1", "form_token": "t0ken-vary-1"}, **HX)
    new = Job.objects.filter(user=alice).exclude(pk=image.pk).get()
    assert new.price_credits == price and new.parent_id == image.pk
    assert Wallet.objects.get(user=alice).held in (held_before, held_before + price)  # eager: captured already


def test_the_server_refuses_an_action_the_card_does_not_show(
    alice_client, alice, settings, django_capture_on_commit_callbacks
):
    image = _done(alice, "demo-image", django_capture_on_commit_callbacks)
    video = _done(alice, "demo-video", django_capture_on_commit_callbacks)
    # Extend is for videos; a video has no reference or animate; tools work on images.
    assert alice_client.post(reverse("job_extend", args=[image.pk]), {"prompt": "more"}).status_code == 404
    video_result = video.assets.get()
    assert alice_client.get(f"{reverse('image')}?reference={video_result.pk}").status_code == 404
    assert alice_client.get(reverse("job_tool", args=[video.pk, "demo-upscale"])).status_code == 404
    # A job is reused on its own page only.
    assert alice_client.get(f"{reverse('video')}?reuse={image.pk}").status_code == 404
    assert alice_client.get(f"{reverse('image')}?reuse=nine").status_code == 404
    # A running job can't be regenerated or deleted yet.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    running = services.job_submit(user=alice, offer=Offer.objects.get(slug="demo-image"), params={"prompt": "x"})
    assert alice_client.post(reverse("job_regenerate", args=[running.pk])).status_code == 404
    assert alice_client.post(reverse("job_delete", args=[running.pk])).status_code == 404
    assert Job.objects.filter(user=alice).count() == 3  # nothing made, nothing deleted


def test_an_outsider_cannot_act_on_someone_elses_result(
    alice, charlie, charlie_client, django_capture_on_commit_callbacks
):
    fund(charlie, 100)
    image = _done(alice, "demo-image", django_capture_on_commit_callbacks)
    video = _done(alice, "demo-video", django_capture_on_commit_callbacks)
    result = image.assets.get()
    for response in (
        charlie_client.post(reverse("job_regenerate", args=[image.pk])),
        charlie_client.post(reverse("job_extend", args=[video.pk]), {"prompt": "more"}),
        charlie_client.post(reverse("job_delete", args=[image.pk]), {"in_feed": "1"}, **HX),
        charlie_client.get(reverse("job_tool", args=[image.pk, "demo-upscale"])),
        charlie_client.get(f"{reverse('image')}?reuse={image.pk}"),
        charlie_client.get(f"{reverse('image')}?reference={result.pk}"),
    ):
        assert response.status_code == 404
    assert Job.objects.filter(user=charlie).count() == 0
    assert Job.objects.filter(pk=image.pk).exists() and Wallet.objects.get(user=charlie).held == 0


def test_reuse_fills_the_form_with_the_jobs_model_prompt_and_options(
    alice_client, alice, django_capture_on_commit_callbacks
):
    job = _done(alice, "demo-video", django_capture_on_commit_callbacks, duration="8", aspect_ratio="9:16")
    job.params["prompt"] = "a lighthouse in the storm"
    job.save(update_fields=["params"])
    page = alice_client.get(f"{reverse('video')}?reuse={job.pk}").content.decode()
    assert ">a lighthouse in the storm</textarea>" in page
    assert re.search(rf'<option value="{job.offer_id}" selected>', page)
    assert '<option value="8" selected>' in page and '<option value="9:16" selected>' in page
    # In place: the page's form panel, for mirsam.js to swap in.
    fragment = alice_client.get(f"{reverse('video')}?reuse={job.pk}", **HX).content.decode()
    assert 'id="studio-panel"' in fragment


def test_use_as_reference_picks_the_result_on_a_model_that_takes_references(
    alice_client, alice, django_capture_on_commit_callbacks
):
    image = _done(alice, "demo-image", django_capture_on_commit_callbacks)
    result = image.assets.get()
    page = alice_client.get(f"{reverse('image')}?reference={result.pk}").content.decode()
    editor = Offer.objects.get(slug="demo-image-edit")
    assert re.search(rf'<option value="{editor.pk}" selected>', page)
    assert f'name="reference_asset" value="{result.pk}" checked' in page


def test_delete_in_the_feed_removes_the_card_in_place_or_says_why_not(
    alice_client, alice, settings, django_capture_on_commit_callbacks
):
    image = _done(alice, "demo-image", django_capture_on_commit_callbacks)
    card = _card(alice_client, image)
    assert "hx-confirm=" in card  # asked first
    keep = _done(alice, "demo-image", django_capture_on_commit_callbacks)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    services.job_tool_apply(asset=keep.assets.get(), tool=Offer.objects.get(slug="demo-upscale"), params={})
    refused = alice_client.post(reverse("job_delete", args=[keep.pk]), {"in_feed": "1"}, **HX)
    assert refused.status_code == 200 and refused["HX-Retarget"] == f"#tool-slot-{keep.pk}"
    assert Job.objects.filter(pk=keep.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        gone = alice_client.post(reverse("job_delete", args=[image.pk]), {"in_feed": "1"}, **HX)
    assert gone.status_code == 200 and gone.content == b""
    assert not Job.objects.filter(pk=image.pk).exists()
    # From the job's own page: on to My creations.
    other = _done(alice, "demo-video", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        moved = alice_client.post(reverse("job_delete", args=[other.pk]), **HX)
    assert moved["HX-Redirect"] == reverse("creations")


def test_every_action_has_an_arabic_label(alice, rf, django_capture_on_commit_callbacks):
    from django.utils import translation

    image = _done(alice, "demo-image", django_capture_on_commit_callbacks)
    request = rf.get("/")
    request.user = alice
    english = [s.label for s in actions.actions_for(image, actions.available(request))]
    with translation.override("ar"):
        arabic = [s.label for s in actions.actions_for(image, actions.available(request))]
    assert all(a != e and re.search(r"[\u0600-\u06ff]", a) for a, e in zip(arabic, english, strict=True))


def test_animate_picks_the_image_as_the_first_frame_of_a_video_model_that_takes_one(
    alice_client, alice, django_capture_on_commit_callbacks
):
    image = _done(alice, "demo-image", django_capture_on_commit_callbacks)
    result = image.assets.get()
    page = alice_client.get(f"{reverse('video')}?first_frame={result.pk}").content.decode()
    video = Offer.objects.get(slug="demo-video")
    assert re.search(rf'<option value="{video.pk}" selected>', page)
    assert f'name="first_frame_asset" value="{result.pk}" data-pick checked' in page
    # Generate with it: the result is the job's first frame.
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            reverse("job_create"),
            {
                "service": "video",
                "offer": video.pk,
                "prompt": "it moves",
                "outputs": 1,
                "first_frame_asset": result.pk,
                **{name: spec["default"] for name, spec in video.param_specs.items()},
            },
        )
    assert response.status_code == 302
    made = Job.objects.filter(user=alice, offer=video).get()
    assert [(i.role, i.asset_id) for i in made.inputs.all()] == [("first_frame", result.pk)]
