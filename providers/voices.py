"""The voices a creator can pick for speech and dialogue, as data.

kie.ai's ElevenLabs models (multilingual v2, turbo 2.5, dialogue v3) take
one of 67 fixed voice ids, the same list for all three, default
``EkK5I93UQWFDigLMpZcX`` (docs/kie.md §2.9, from the model pages' ``voice``
enum; the pages' "preset name" wording is wrong: only ids are accepted).
Mirsam offers 16 of them: each id as kie.ai lists it, the voice's name (a
proper name, the same in both languages) and how it sounds, from the same
pages, in English and Arabic. No voice is an "Arabic voice": the
multilingual models speak the language of the text with any voice. The
catalogue rows list the ids as their ``voice`` choices; the demo provider
turns the id into a pitch (``providers.demo_media``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Voice:
    """One voice: ElevenLabs' ``id``, its ``name`` and how it sounds."""

    id: str
    name: str
    description: str | Promise


VOICES: tuple[Voice, ...] = (
    Voice("EkK5I93UQWFDigLMpZcX", "James", _("husky, engaging, bold male voice")),
    Voice("Z3R5wn05IrDiVCyEkUrK", "Arabella", _("mysterious, emotive female voice")),
    Voice("NNl6r8mD7vthiJatiJt1", "Bradford", _("expressive, articulate male voice")),
    Voice("5l5f8iK3YPeGga21rQIX", "Adeline", _("feminine, conversational voice")),
    Voice("BZgkqPqms7Kj9ulSkVzn", "Eve", _("authentic, energetic, happy female voice")),
    Voice("hpp4J3VqNfWAUOO0d1Us", "Bella", _("professional, bright, warm female voice")),
    Voice("nPczCjzI2devNBz1zQrb", "Brian", _("deep, resonant, comforting male voice")),
    Voice("qDuRKMlYmrm8trt5QyBn", "Taksh", _("calm, serious, smooth male voice")),
    Voice("Sm1seazb4gs7RSlUVw7c", "Anika", _("lively, friendly female voice")),
    Voice("TX3LPaxmHKxFdv7VOQHJ", "Liam", _("energetic male voice for social media")),
    Voice("DYkrAHD8iwork3YSUBbs", "Tom", _("male voice for conversations and books")),
    Voice("6aDn1KB0hjpdcocrUkmq", "Tiffany", _("natural, welcoming female voice")),
    Voice("AeRdCCKzvd23BpJoofzx", "Nathaniel", _("calm, engaging British male voice")),
    Voice("LruHrtVF6PSyGItzMNHS", "Benjamin", _("deep, warm, calm male voice")),
    Voice("1wGbFxmAM3Fgw63G1zZJ", "Allison", _("calm, soothing female voice")),
    Voice("6F5Zhi321D3Oq7v1oNT4", "Hank", _("deep, engaging male narrator")),
)
#: Voice ids in display order (the catalogue's ``voice`` choices).
VOICE_IDS: tuple[str, ...] = tuple(v.id for v in VOICES)
_BY_ID = {v.id: v for v in VOICES}


def voice_label(voice_id: str) -> str:
    """How a voice reads in a select and on a job's page: "Rachel — warm,
    clear female voice" (the description in the active language); the id
    itself for a voice not in :data:`VOICES`."""
    voice = _BY_ID.get(voice_id)
    return f"{voice.name} — {voice.description}" if voice else voice_id
