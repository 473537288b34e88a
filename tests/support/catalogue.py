"""The seeded catalogue as the migrations leave it, for the pricing tests.

The test database cannot be trusted to still hold the seeded rows (a
transactional test flushes it at teardown, and ``--reuse-db`` keeps that), so
the rows come from a fresh SQLite database migrated in a subprocess
(``migrate providers`` and ``migrate billing``: a few seconds), dumped once
per test session.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.support.env import ROOT

SEEDED_MODELS = (
    "demo-image",
    "nano-banana",
    "demo-video",
    "veo3-fast",
    "veo3-quality",
    "runway",
    "kling-2-6",
    "wan-2-5",
    "demo-avatar",
    "nano-banana-edit",
    "demo-image-edit",
    "demo-upscale",
    "demo-remove-background",
    "nano-banana-pro",
    "nano-banana-2",
    "gpt-image-2",
    "seedream-4-5",
    "flux-kontext-pro",
    "flux-kontext-max",
    "kling-3-0",
    "seedance-2",
    "seedance-2-fast",
    "hailuo-2-3",
    "hailuo-2-3-pro",
    "veo3-lite",
    "topaz-image-upscale",
    "recraft-remove-background",
    "topaz-video-upscale",
    "veo-upscale",
    "elevenlabs-v2",
    "elevenlabs-dialogue-v3",
    "suno-v5",
    "elevenlabs-sfx-v2",
    "kling-avatar-standard",
    "kling-avatar-pro",
    "infinitalk",
    "omnihuman-1-5",
    "lip-sync",
    "demo-speech",
    "demo-dialogue",
    "demo-music",
    "demo-sound-effect",
    "demo-talking-portrait",
    "demo-lip-sync",
)


@functools.cache
def seeded_rows() -> dict[str, list[dict[str, Any]]]:
    """``{"providers.offer": [fields, …], "billing.creditpack": […], "billing.plan": […]}``
    (dumpdata's ``fields``, with ``slug``) as the migrations seed them."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "DJANGO_SETTINGS"))}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            MIRSAM_VAR_DIR=tmp,
            DATABASE_URL=f"sqlite:///{Path(tmp) / 'seed.sqlite3'}",
        )

        def manage(*args: str) -> str:
            done = subprocess.run(
                [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        manage("migrate", "--noinput", "providers")
        manage("migrate", "--noinput", "billing")
        dumped = json.loads(manage("dumpdata", "providers.offer", "billing.creditpack", "billing.plan"))
    rows: dict[str, list[dict[str, Any]]] = {}
    for item in dumped:
        rows.setdefault(item["model"], []).append(item["fields"])
    return rows


def install_seeded_catalogue() -> None:
    """Make the test database's catalogue, packs and plans exactly the seeded
    ones (inside the test's transaction): seeded rows written as seeded,
    every other row made inactive."""
    from billing.models import CreditPack, Plan
    from providers.models import Offer

    rows = seeded_rows()
    for model, label in ((Offer, "providers.offer"), (CreditPack, "billing.creditpack"), (Plan, "billing.plan")):
        slugs = []
        for fields in rows[label]:
            values = {k: v for k, v in fields.items() if k not in {"updated_at", "created_at"}}
            slugs.append(values.pop("slug"))
            model.objects.update_or_create(slug=slugs[-1], defaults=values)
        model.objects.exclude(slug__in=slugs).update(is_active=False)


def seeded_offer(slug: str) -> Any:
    """The seeded catalogue row ``slug`` as an unsaved ``Offer`` (from
    :func:`seeded_rows`, so whatever the test database holds)."""
    from providers.models import Offer

    (fields,) = [f for f in seeded_rows()["providers.offer"] if f["slug"] == slug]
    names = {f.name for f in Offer._meta.concrete_fields} - {"id", "updated_at"}
    return Offer(**{k: v for k, v in fields.items() if k in names})
