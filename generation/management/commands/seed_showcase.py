"""``manage.py seed_showcase --owner admin@mirsam.local``: a few finished
results rendered offline by the demo provider's own renderers
(``providers.demo``, ``providers.demo_media``), owned by that staff user and
picked for the public showcase, so a fresh studio's landing page shows real
examples of each service (Image, Avatar, Video, Audio).

Idempotent: each example is one job keyed ``seed-showcase:<name>`` on its
owner (``Job.submission_key``); a run finds the jobs it made before and makes
only the missing ones, and never touches an item staff have since edited,
unpicked or switched off. The jobs cost nothing (no hold, price 0). Called by
``seed_demo``."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from generation import services
from generation.media import image_check
from generation.models import Asset, Job, JobStatus, ShowcaseItem
from providers import demo, demo_media
from providers.models import Offer


@dataclass(frozen=True)
class Example:
    name: str
    offer: str  # the demo offer's slug
    prompt: str
    aspect_ratio: str
    caption_en: str
    caption_ar: str
    params: tuple[tuple[str, str], ...] = ()


EXAMPLES = [
    Example(
        "lighthouse",
        "demo-image",
        "A lighthouse on a cliff at dusk, warm light over a calm sea",
        "16:9",
        "A lighthouse at dusk",
        "منارة عند الغسق",
    ),
    Example(
        "old-city",
        "demo-image",
        "Lanterns over a quiet old-city street, blue shutters, evening",
        "3:4",
        "Lanterns in the old city",
        "فوانيس في المدينة القديمة",
    ),
    Example(
        "portrait",
        "demo-avatar",
        "A portrait in bold pop-art colours",
        "3:4",
        "A pop-art portrait",
        "بورتريه بألوان فن البوب",
        (("style", "pop"),),
    ),
    Example(
        "harbour",
        "demo-video",
        "Boats drifting in a harbour at sunrise",
        "16:9",
        "A harbour at sunrise",
        "ميناء عند الشروق",
        (("duration", "4"),),
    ),
    Example(
        "oud",
        "demo-music",
        "A calm evening tune with an oud and soft drums",
        "1:1",
        "A calm evening tune",
        "لحن مسائي هادئ",
        (("title", "Evening"), ("style", "calm acoustic")),
    ),
]


def _png_asset(asset: Asset, data: bytes) -> None:
    checked = image_check(io.BytesIO(data))
    asset.content_type, asset.width, asset.height = checked.content_type, checked.width, checked.height
    asset.file.save("result.png", ContentFile(data), save=False)


def _render(example: Example, asset: Asset) -> None:
    """Fill ``asset`` with the demo provider's render of ``example``."""
    params = dict(example.params)
    if example.offer == "demo-image":
        _png_asset(asset, demo.render_png(prompt=example.prompt, aspect_ratio=example.aspect_ratio, index=0))
    elif example.offer == "demo-avatar":
        # A drawn picture, not anyone's photo: the demo stylist's own input.
        picture = demo.render_png(prompt=example.prompt, aspect_ratio=example.aspect_ratio, index=0)
        _png_asset(asset, demo_media.avatar_variant(photo=picture, style=params["style"], index=0))
    elif example.offer == "demo-video":
        out = io.BytesIO()
        seconds = int(params["duration"])
        demo_media.render_mp4(
            prompt=example.prompt,
            aspect_ratio=example.aspect_ratio,
            duration_seconds=seconds,
            out=out,
            seed=example.name,
        )
        asset.width, asset.height = demo_media.video_size(example.aspect_ratio)
        asset.content_type, asset.duration_seconds = "video/mp4", float(seconds)
        asset.file.save("result.mp4", ContentFile(out.getvalue()), save=False)
        poster = demo_media.render_poster(prompt=example.prompt, aspect_ratio=example.aspect_ratio, seed=example.name)
        asset.poster.save("poster.png", ContentFile(poster), save=False)
    else:
        out = io.BytesIO()
        demo_media.render_music(prompt=example.prompt, style=params["style"], title=params["title"], out=out)
        asset.content_type = "audio/mpeg"
        asset.duration_seconds = demo_media.audio_duration_seconds(out.getvalue())
        asset.file.save("result.mp3", ContentFile(out.getvalue()), save=False)
        cover = demo.render_png(prompt=example.prompt, aspect_ratio="1:1", index=0)
        asset.poster.save("cover.png", ContentFile(cover), save=False)
    asset.size_bytes = asset.file.size


def seed_example(*, owner: User, example: Example, position: int) -> ShowcaseItem | None:
    """The example's job, result and showcase item, made once; None when its
    demo model is not in the catalogue."""
    key = f"seed-showcase:{example.name}"
    job = Job.objects.filter(user=owner, submission_key=key).first()
    if job is None:
        offer = Offer.objects.filter(slug=example.offer).first()
        if offer is None:
            return None
        now = timezone.now()
        params: dict[str, Any] = {"prompt": example.prompt, "aspect_ratio": example.aspect_ratio, "outputs": 1}
        params.update(example.params)
        with transaction.atomic():
            job = Job.objects.create(
                user=owner,
                offer=offer,
                service=offer.service,
                status=JobStatus.SUCCEEDED,
                params=params,
                price_credits=0,
                submission_key=key,
                submitted_at=now,
                finished_at=now,
            )
            made = Asset(job=job, user=owner, index=0)
            _render(example, made)
            made.save()
    asset = job.assets.order_by("index").first()
    if asset is None:
        return None
    item = ShowcaseItem.objects.filter(asset=asset).first()
    if item is not None:
        return item  # staff may have changed it since: theirs to decide
    item = ShowcaseItem(asset=asset, position=position, caption_en=example.caption_en, caption_ar=example.caption_ar)
    return services.showcase_pick(staff=owner, item=item)


class Command(BaseCommand):
    help = "Render a few demo results owned by a staff user and pick them for the showcase (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--owner", default="admin@mirsam.local", help="e-mail of the staff user who owns them")

    def handle(self, *args: Any, **options: Any) -> None:
        owner = User.objects.filter(email=options["owner"], is_staff=True).first()
        if owner is None:
            raise CommandError(f"no staff user {options['owner']}")
        items = [seed_example(owner=owner, example=e, position=i) for i, e in enumerate(EXAMPLES)]
        made = [i for i in items if i is not None]
        self.stdout.write(f"Showcase: {len(made)} example(s) on the landing page's list.")
