"""``{% upload_max_bytes kind %}``: the largest file a drop zone takes, for
its client-side check (the server checks again: ``generation.uploads``,
``generation.audio``)."""

from __future__ import annotations

from django import template

from ..audio import audio_limits_from_settings
from ..uploads import limits_from_settings

register = template.Library()


@register.simple_tag
def upload_max_bytes(kind: str = "image") -> int:
    """Bytes: ``MIRSAM_AUDIO_UPLOAD_MAX_MB`` for "audio", else ``MIRSAM_UPLOAD_MAX_BYTES``."""
    if kind == "audio":
        return audio_limits_from_settings().max_bytes
    return limits_from_settings().max_bytes
