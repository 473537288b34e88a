"""Who runs each kie.ai model: the company behind the model, named on the
privacy policy as a recipient of the prompts and inputs of that model's jobs.

kie.ai (our provider, docs/kie.md) forwards a job to the vendor that runs the
model; the vendor is a fact of the model's own page on kie.ai (its title and
the "by" line), kept here as data keyed by our offer slug. A test requires an
entry for every active kie.ai offer, so the policy cannot fall behind the
catalogue. Company names are not translated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from .models import AdapterName, Offer

VENDORS: dict[str, str] = {
    "nano-banana": "Google",
    "nano-banana-edit": "Google",
    "nano-banana-pro": "Google",
    "nano-banana-2": "Google",
    "veo3-fast": "Google",
    "veo3-quality": "Google",
    "veo3-lite": "Google",
    "veo-upscale": "Google",
    "gpt-image-2": "OpenAI",
    "seedream-4-5": "ByteDance",
    "seedance-2": "ByteDance",
    "seedance-2-fast": "ByteDance",
    "omnihuman-1-5": "ByteDance",
    "lip-sync": "ByteDance (Volcengine)",
    "flux-kontext-pro": "Black Forest Labs",
    "flux-kontext-max": "Black Forest Labs",
    "kling-2-6": "Kuaishou (Kling AI)",
    "kling-3-0": "Kuaishou (Kling AI)",
    "kling-avatar-standard": "Kuaishou (Kling AI)",
    "kling-avatar-pro": "Kuaishou (Kling AI)",
    "wan-2-5": "Alibaba (Wan)",
    "hailuo-2-3": "MiniMax (Hailuo)",
    "hailuo-2-3-pro": "MiniMax (Hailuo)",
    "runway": "Runway",
    "topaz-image-upscale": "Topaz Labs",
    "topaz-video-upscale": "Topaz Labs",
    "recraft-remove-background": "Recraft",
    "infinitalk": "MeiGen-AI (InfiniteTalk)",
    "elevenlabs-v2": "ElevenLabs",
    "elevenlabs-dialogue-v3": "ElevenLabs",
    "elevenlabs-sfx-v2": "ElevenLabs",
    "suno-v5": "Suno",
}


def vendors_of(offers: Iterable[Offer]) -> list[tuple[str, list[str]]]:
    """``[(vendor, [model names])]`` for the kie.ai offers among ``offers``,
    vendors in alphabetical order, models in the offers' order. An offer
    without an entry in :data:`VENDORS` is listed under "kie.ai"."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for offer in offers:
        if offer.adapter == AdapterName.KIE:
            grouped[VENDORS.get(offer.slug, "kie.ai")].append(offer.name)
    return sorted(grouped.items(), key=lambda item: item[0].casefold())
