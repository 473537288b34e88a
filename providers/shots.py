"""Multi-shot prompts: one prompt written as several shots, one per line, for
models that take a list of shots (Kling 3.0 ``multi_prompt``, docs/kie.md §2.9).

The catalogue row says how (``options["shots"]``)::

    {"param": "multi_shot",   # the creator's on/off option that turns it on
     "flag": "multi_shots",   # the provider's bool field
     "field": "multi_prompt", # the provider's list of {"prompt", "duration"}
     "max": 5, "max_chars": 500, "min_seconds": 1, "max_seconds": 12}

Each non-empty line of the prompt is a shot; the clip's duration (whole
seconds) is shared out evenly, the first shots taking the odd seconds. The
server checks this when a job is submitted and the adapter builds the list the
same way, so what was priced is what is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext, ngettext


class ShotsError(ValueError):
    """A prompt that cannot be cut into the shots the model takes; ``str()``
    is a message for the creator."""


def shots_on(spec: Mapping[str, Any] | None, params: Mapping[str, Any]) -> bool:
    """Whether the creator turned multi-shot on for a row with ``spec``."""
    return spec is not None and str(params.get(str(spec.get("param"))) or "") == "on"


def split_shots(spec: Mapping[str, Any], prompt: str, seconds: int) -> list[dict[str, Any]]:
    """``[{"prompt": str, "duration": int seconds}, ...]`` for ``prompt`` over
    ``seconds``. Raises :class:`ShotsError` when there are fewer than two or
    more than ``max`` shots, a shot is longer than ``max_chars`` characters,
    or a shot would get fewer than ``min_seconds`` or more than
    ``max_seconds`` seconds."""
    lines = [" ".join(line.split()) for line in prompt.splitlines()]
    shots = [line for line in lines if line]
    most = int(spec.get("max", 5))
    if len(shots) < 2:
        raise ShotsError(gettext("Write each shot on its own line: at least two shots."))
    if len(shots) > most:
        raise ShotsError(
            ngettext("At most %(count)d shot, one per line.", "At most %(count)d shots, one per line.", most)
            % {"count": most}
        )
    limit = int(spec.get("max_chars", 500))
    for number, text in enumerate(shots, start=1):
        if len(text) > limit:
            raise ShotsError(
                gettext("Shot %(number)d is too long: at most %(limit)d characters.")
                % {"number": number, "limit": limit}
            )
    share, odd = divmod(seconds, len(shots))
    durations = [share + (1 if i < odd else 0) for i in range(len(shots))]
    low, high = int(spec.get("min_seconds", 1)), int(spec.get("max_seconds", 12))
    if min(durations) < low or max(durations) > high:
        raise ShotsError(
            gettext("%(count)d shots do not fit a %(seconds)d-second clip: each shot takes %(low)d to %(high)d s.")
            % {"count": len(shots), "seconds": seconds, "low": low, "high": high}
        )
    return [{"prompt": text, "duration": duration} for text, duration in zip(shots, durations, strict=True)]
