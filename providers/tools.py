"""Tools: catalogue models that work on an earlier result instead of a prompt
(issue 16, part 5: upscale, remove the background).

A tool is an ordinary catalogue row (:class:`~providers.models.Offer`: price,
options, adapter) whose ``options`` carry a ``"tool"`` key
(the catalogue schema of issue 16)::

    "tool": {"action": "upscale" | "remove_background",
             "source": "image" | "video",
             "models": ["veo3-fast", "veo3-quality"]}   # optional

``source`` is the service of the results it works on (and of the jobs it
makes: they show in that service's feed); ``models`` limits it to results of
those catalogue slugs (absent: any result of ``source``). Its one input has
the role ``"source"`` (``options.inputs.roles``). Tools are not
offered in the studio's model pickers; they appear as actions on finished
results (``generation.selectors.tools_for_job``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .models import Offer

#: The actions the studio has words and icons for; a tool with another
#: action is shown under its own name.
ACTIONS = ("upscale", "remove_background")
#: The input role of a tool's one input: the result it works on.
SOURCE_ROLE = "source"


@dataclass(frozen=True)
class ToolSpec:
    """A catalogue row's ``options["tool"]``, read: ``action`` and ``source``
    as the catalogue spells them, ``models`` the slugs it is limited to
    (empty: any model)."""

    action: str
    source: str
    models: tuple[str, ...] = ()

    def applies_to(self, *, service: str, model_slug: str) -> bool:
        """Whether the tool works on a result of ``service`` made by the
        catalogue model ``model_slug``."""
        return service == self.source and (not self.models or model_slug in self.models)


def tool_spec(offer: Offer) -> ToolSpec | None:
    """The tool ``offer`` is, or None for an ordinary model (also for a
    ``"tool"`` value without an action and a source)."""
    raw = (offer.options or {}).get("tool")
    if not isinstance(raw, dict):
        return None
    action, source = str(raw.get("action") or ""), str(raw.get("source") or "")
    if not action or not source:
        return None
    models = raw.get("models")
    return ToolSpec(action, source, tuple(str(m) for m in models) if isinstance(models, list) else ())


def is_tool(offer: Offer) -> bool:
    return tool_spec(offer) is not None


def tools_for(*, tools: Iterable[Offer], service: str, model_slug: str) -> list[Offer]:
    """The tools to offer on a result of ``service`` made by ``model_slug``,
    one per action, in the order of their first appearance in ``tools``
    (give them in catalogue order). For each action a tool limited to
    ``model_slug`` wins over a generic one (Veo's own 1080p endpoint over a
    general video upscaler for Veo clips); among equals the first wins."""
    chosen: dict[str, tuple[bool, Offer]] = {}
    for offer in tools:
        spec = tool_spec(offer)
        if spec is None or not spec.applies_to(service=service, model_slug=model_slug):
            continue
        specific = bool(spec.models)
        held = chosen.get(spec.action)
        if held is None or (specific and not held[0]):
            chosen[spec.action] = (specific, offer)
    return [offer for _specific, offer in chosen.values()]
