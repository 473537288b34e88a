"""The Audio page: its tabs show the models of each kind, the live price of a
voice-over follows its text, and Generate makes real sound on the demo
provider; the rules of Suno's custom mode are checked before anything is held."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generation import services
from generation.errors import GenerationError
from generation.models import Job, JobStatus
from providers.models import Offer
from tests.support.catalogue import install_seeded_catalogue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def catalogue(db):
    install_seeded_catalogue()


@pytest.mark.parametrize(
    ("kind", "shown", "hidden"),
    [
        ("speech", "Demo voice", "Demo composer"),
        ("dialogue", "Demo dialogue", "Demo voice"),
        ("music", "Demo composer", "Demo sounds"),
        ("sound_effect", "Demo sounds", "Demo dialogue"),
    ],
)
def test_each_tab_offers_only_its_kind_of_model(alice_client, kind, shown, hidden):
    body = alice_client.get(reverse("audio"), {"kind": kind}).content.decode()

    assert f">{shown}</option>" in body and f">{hidden}</option>" not in body
    assert f'name="kind" value="{kind}"' in body


def test_the_arabic_page_is_right_to_left_and_translated(alice_client, alice):
    alice.preferred_language = "ar"
    alice.save()
    body = alice_client.get("/ar" + reverse("audio")).content.decode()
    assert 'dir="rtl"' in body
    assert "Voice-over" not in body and "تعليق صوتي" in body


def test_the_live_price_of_a_voice_over_follows_its_text(alice_client):
    offer = Offer.objects.get(slug="demo-speech")
    url = reverse("studio_options", kwargs={"service": "audio"})
    short = alice_client.get(url, {"kind": "speech", "offer": offer.pk, "prompt": "hello"}).content.decode()
    text = "x" * 3000
    long = alice_client.get(url, {"kind": "speech", "offer": offer.pk, "prompt": text}).content.decode()

    assert "1 credit<" in short and "for 5 characters" in short
    price = offer.unit_price({"prompt": text})  # $0.18 → 8 credits
    assert price == 8 and f"{price} credits<" in long and "3000 characters" in long


def test_a_voice_over_made_on_the_demo_provider(alice_client, alice, django_capture_on_commit_callbacks):
    offer = Offer.objects.get(slug="demo-speech")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            reverse("job_create"),
            {
                "service": "audio",
                "kind": "speech",
                "offer": offer.pk,
                "prompt": "مرحبا بكم",
                "outputs": "1",
                "voice": "Z3R5wn05IrDiVCyEkUrK",
                "speed": "1.2",
                "stability": "0.5",
            },
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    job = Job.objects.get(user=alice)
    assert job.status == JobStatus.SUCCEEDED
    assert job.params["voice"] == "Z3R5wn05IrDiVCyEkUrK" and job.service == "audio"
    asset = job.assets.get()
    assert asset.content_type == "audio/mpeg" and asset.duration_seconds >= 1
    card = alice_client.get(reverse("job_card", args=[job.pk])).content.decode()
    assert "<audio" in card and f'href="{reverse("speak")}?speech={asset.pk}"' in card
    assert "<img" not in card.split("<audio")[0].split("job-card__prompt")[-1]


def test_a_voice_the_model_does_not_offer_is_refused(alice):
    with pytest.raises(GenerationError) as refused:
        services.job_submit(
            user=alice, offer=Offer.objects.get(slug="demo-speech"), params={"prompt": "hi", "voice": "Rachel"}
        )
    assert refused.value.code == "option"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"prompt": "my lyrics", "style": "pop"}, "text"),  # a style without a title
        ({"prompt": "x" * 501}, "prompt"),  # a description of more than 500 characters
        ({"prompt": "lyrics", "title": "t" * 81, "style": "pop"}, "text"),  # a title over 80
    ],
)
def test_suno_custom_mode_rules_refuse_before_anything_is_held(alice, params, code):
    with pytest.raises(GenerationError) as refused:
        services.job_submit(user=alice, offer=Offer.objects.get(slug="demo-music"), params=params)
    assert refused.value.code == code
    assert not Job.objects.filter(user=alice).exists()


def test_music_makes_two_tracks_for_one_price(alice, django_capture_on_commit_callbacks):
    offer = Offer.objects.get(slug="demo-music")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(
            user=alice, offer=offer, params={"prompt": "[Verse] يا ليل", "style": "oud", "title": "Ya Layl"}
        )
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.assets.count() == 2 and job.charged_credits == offer.unit_price()
    assert (job.params["style"], job.params["title"]) == ("oud", "Ya Layl")


def test_a_voice_can_be_heard_before_generating(alice_client, client, settings):
    offer = Offer.objects.get(slug="demo-dialogue")
    url = reverse("studio_options", kwargs={"service": "audio"})
    body = alice_client.get(
        url, {"kind": "dialogue", "offer": offer.pk, "voice_2": "hpp4J3VqNfWAUOO0d1Us"}
    ).content.decode()

    first = reverse("voice_sample", kwargs={"voice": "EkK5I93UQWFDigLMpZcX"})
    second = reverse("voice_sample", kwargs={"voice": "hpp4J3VqNfWAUOO0d1Us"})
    assert f'src="{first}"' in body and f'src="{second}"' in body
    sample = client.get(first)
    assert sample.status_code == 200 and sample["Content-Type"] == "audio/mpeg" and sample.content[:3] == b"ID3"
    assert client.get(reverse("voice_sample", kwargs={"voice": "not-a-voice"})).status_code == 404


def test_a_kie_speech_model_plays_kies_own_preview(alice_client, settings):
    settings.KIE_API_KEY = "key"
    offer = Offer.objects.get(slug="elevenlabs-v2")
    url = reverse("studio_options", kwargs={"service": "audio"})
    body = alice_client.get(url, {"kind": "speech", "offer": offer.pk}).content.decode()
    assert 'src="https://static.aiquickdraw.com/elevenlabs/voice/EkK5I93UQWFDigLMpZcX.mp3"' in body


def test_a_jobs_page_lists_its_own_settings(alice_client, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(
            user=alice,
            offer=Offer.objects.get(slug="demo-music"),
            params={"prompt": "[Verse] a night song", "style": "oud", "title": "Layl", "instrumental": "off"},
        )
    body = alice_client.get(reverse("job_detail", args=[job.pk])).content.decode()

    assert "With vocals" in body and "Layl" in body and "oud" in body
    assert "Number of images" not in body and "Aspect ratio" not in body
