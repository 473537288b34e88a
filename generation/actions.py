"""What can be done with a job's results, one entry per action.

Every card (the studio feeds, a job's own page) shows the actions of
:data:`ACTIONS` that apply to its job, in that order, and the views that
carry an action out ask :func:`require` first, so an action a card does not
show is refused on the server too (404, like someone else's job). A new
action is one more :class:`Action` here (and, when it needs one, a view):
for which jobs it applies, what it costs and what it opens.

What it opens (``Action.opens``):

- ``"form"``: the studio form of the action's page, filled in
  (:func:`form_data`); on that page itself the form is swapped in place
  (``mirsam.js``), elsewhere the link goes to the page;
- ``"feed"``: a POST that makes a new job, whose card goes to the top of the feed;
- ``"slot"``: a small form inside the card (a tool's options and price);
- ``"details"``: a form folded in the card (Extend's new prompt);
- ``"page"``: another page (Make it speak);
- ``"remove"``: a POST that removes the card (Delete, confirmed first);
- ``"toggle"``: a POST that flips a state of the job (the favourite star).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from providers.models import Offer, Service
from providers.tools import ACTIONS as TOOL_ACTIONS
from providers.tools import tool_spec

from .models import Job, JobStatus

#: The studio pages whose form an action can fill in.
STUDIO_SERVICES = (Service.IMAGE, Service.VIDEO, Service.AUDIO)


@dataclass(frozen=True)
class Available:
    """What this site offers right now, read once per request: the models of
    each service's page, the tools and the speaking models (all in catalogue
    order; ``generation.services.catalogue_available``)."""

    studio: dict[str, list[Offer]]
    tools: list[Offer]
    speaking: list[Offer]

    def references_offer(self) -> Offer | None:
        """The first Image model that takes reference images."""
        return next((o for o in self.studio[Service.IMAGE] if takes_references(o)), None)

    def frames_offer(self) -> Offer | None:
        """The first Video model that starts from a first frame."""
        return next((o for o in self.studio[Service.VIDEO] if o.input_limits[1] >= 1), None)


def takes_references(offer: Offer | None) -> bool:
    """Whether ``offer`` takes reference images (``options.inputs`` with the role "reference")."""
    return offer is not None and offer.input_limits[1] > 0 and "reference" in offer.input_roles


def available(request: HttpRequest) -> Available:
    """:class:`Available` for ``request``, read once (a page shows several cards)."""
    cached: Available | None = getattr(request, "_mirsam_available", None)
    if cached is None:
        from . import services

        studio, tools, speaking = services.catalogue_available()
        cached = Available(studio=studio, tools=tools, speaking=speaking)
        setattr(request, "_mirsam_available", cached)  # noqa: B010 - a private per-request memo
    return cached


@dataclass(frozen=True)
class Shown:
    """An action as a card shows it: plain values, so a rendered card can be
    kept (``generation.fragments``) under a key made of them.

    ``price`` is whole credits the action will hold, ``None`` when it holds
    nothing by itself (it opens a form whose own price shows there)."""

    slug: str
    label: str
    icon: str
    opens: str
    url: str
    method: str = "get"
    price: int | None = None
    service: str = ""
    primary: bool = False


@dataclass(frozen=True)
class Action:
    """One thing a creator can do with a job's results.

    ``applies(job, available)`` says for which jobs; ``url(job, available)``
    where it goes; ``price(job, available)`` what it holds (credits, or
    ``None``); ``label`` may depend on the job (``label_for``); ``primary``
    ones show on the card itself, the others under "More". ``expand``
    replaces all of these for an entry that shows as several buttons (one
    per tool)."""

    slug: str
    label: Promise | None
    icon: str
    opens: str
    applies: Callable[[Job, Available], bool] = lambda job, available: False
    url: Callable[[Job, Available], str] = lambda job, available: ""
    method: str = "get"
    price: Callable[[Job, Available], int | None] = lambda job, available: None
    label_for: Callable[[Job], Promise] | None = None
    service: Callable[[Job], str] = lambda job: ""
    expand: Callable[[Job, Available], list[Shown]] | None = field(default=None)
    #: Shown on the card itself; the others are under "More".
    primary: bool = False

    def shown(self, job: Job, available: Available) -> list[Shown]:
        if self.expand is not None:
            return self.expand(job, available)
        if not self.applies(job, available):
            return []
        label = self.label_for(job) if self.label_for is not None else self.label
        return [
            Shown(
                slug=self.slug,
                label=str(label),
                icon=self.icon,
                opens=self.opens,
                url=self.url(job, available),
                method=self.method,
                price=self.price(job, available),
                service=self.service(job),
                primary=self.primary,
            )
        ]


def _succeeded(job: Job) -> bool:
    return job.status == JobStatus.SUCCEEDED


def first_result(job: Job) -> Any:
    """The job's first result, from its loaded ``assets`` (no query when they are)."""
    assets = list(job.assets.all())
    return assets[0] if assets else None


def _first_is(job: Job, kind: str) -> bool:
    first = first_result(job)
    if first is None:
        return False
    return bool({"image": first.is_image, "video": first.is_video, "audio": first.is_audio}[kind])


def _reusable(job: Job, available: Available) -> bool:
    """A finished studio job (not a tool's, not an extension) whose model its page still offers."""
    if not job.is_final or job.service not in STUDIO_SERVICES or job.tool_action:
        return False
    if job.params.get("extend_task_id"):
        return False
    return any(o.pk == job.offer_id for o in available.studio[job.service])


def _reuse_url(job: Job, available: Available) -> str:
    url = f"{reverse(job.service)}?reuse={job.pk}"
    if job.service == Service.AUDIO:
        url += f"&kind={job.offer.audio_kind}"
    return url


def _can_vary(job: Job, available: Available) -> bool:
    """Run again with the same settings: a finished job, not an extension
    (extend the original again instead), whose model is still offered."""
    if not job.is_final or job.params.get("extend_task_id"):
        return False
    offered = [*available.studio.get(job.service, []), *available.tools, *available.speaking]
    return any(o.pk == job.offer_id for o in offered)


def _vary_price(job: Job, available: Available) -> int:
    offer = job.offer
    params = {k: str(v) for k, v in job.params.items()}
    return offer.price_for(outputs=job.outputs, params=params)


def _references(job: Job, available: Available) -> bool:
    return _succeeded(job) and _first_is(job, "image") and available.references_offer() is not None


def _animates(job: Job, available: Available) -> bool:
    return _succeeded(job) and _first_is(job, "image") and available.frames_offer() is not None


def _speaks(job: Job, available: Available) -> bool:
    """A picture (not a talking one already) or a spoken line, when a speaking model is offered."""
    if not _succeeded(job) or not available.speaking or job.offer.speaks:
        return False
    if _first_is(job, "audio"):
        return job.offer.audio_kind in ("speech", "dialogue")
    return _first_is(job, "image") or (_first_is(job, "video") and any(o.speaks == "video" for o in available.speaking))


def _speak_url(job: Job, available: Available) -> str:
    first = first_result(job)
    name = "speech" if first.is_audio else "picture"
    return f"{reverse('speak')}?{name}={first.pk}"


def _speak_label(job: Job) -> Promise:
    if _first_is(job, "audio"):
        return _("Give it a face")
    return _("Lip-sync") if _first_is(job, "video") else _("Make it speak")


#: The icon and label of each tool action (``providers.tools.ACTIONS``).
TOOL_LOOK = {"upscale": ("expand", _("Upscale")), "remove_background": ("scissors", _("Remove background"))}


def _tools(job: Job, available: Available) -> list[Shown]:
    """One button per tool the job's results offer (``selectors.tools_for_job``)."""
    from .selectors import tools_for_job

    shown = []
    for tool in tools_for_job(job=job, tools=available.tools):
        spec = tool_spec(tool)
        action = spec.action if spec and spec.action in TOOL_ACTIONS else ""
        icon, label = TOOL_LOOK.get(action, ("wand", tool.name))
        shown.append(
            Shown(
                slug=f"tool:{tool.slug}",
                label=str(label),
                icon=icon,
                opens="slot",
                url=reverse("job_tool", args=[job.pk, tool.slug]),
                price=tool.unit_price(),
            )
        )
    return shown


#: Every action, in the order a card shows them.
ACTIONS: tuple[Action, ...] = (
    Action(
        "favourite",
        _("Favourite"),
        "star",
        "toggle",
        # On a result: a running card has none yet (and polls without a form).
        applies=lambda job, available: job.is_final,
        url=lambda job, available: reverse("job_favourite", args=[job.pk]),
        method="post",
        primary=True,
    ),
    Action(
        "reuse",
        _("Reuse settings"),
        "edit",
        "form",
        applies=_reusable,
        url=_reuse_url,
        service=lambda job: job.service,
        primary=True,
    ),
    Action(
        "vary",
        _("Regenerate"),
        "refresh",
        "feed",
        applies=_can_vary,
        url=lambda job, available: reverse("job_regenerate", args=[job.pk]),
        method="post",
        price=_vary_price,
        primary=True,
    ),
    Action(
        "reference",
        _("Use as reference"),
        "image",
        "form",
        applies=_references,
        url=lambda job, available: f"{reverse('image')}?reference={first_result(job).pk}",
        service=lambda job: Service.IMAGE,
    ),
    Action(
        "animate",
        _("Animate"),
        "video",
        "form",
        applies=_animates,
        url=lambda job, available: f"{reverse('video')}?first_frame={first_result(job).pk}",
        service=lambda job: Service.VIDEO,
    ),
    Action("speak", None, "audio", "page", applies=_speaks, url=_speak_url, label_for=_speak_label),
    Action("tools", None, "wand", "slot", expand=_tools),
    Action(
        "extend",
        _("Extend"),
        "video",
        "details",
        applies=lambda job, available: job.can_extend,
        url=lambda job, available: reverse("job_extend", args=[job.pk]),
        method="post",
        price=lambda job, available: job.offer.extend_price_credits,
        primary=True,
    ),
    Action(
        "delete",
        _("Delete"),
        "trash",
        "remove",
        applies=lambda job, available: job.is_final,
        url=lambda job, available: reverse("job_delete", args=[job.pk]),
        method="post",
    ),
)


def actions_for(job: Job, available: Available) -> list[Shown]:
    """The actions ``job``'s card shows, in :data:`ACTIONS` order."""
    return [shown for action in ACTIONS for shown in action.shown(job, available)]


def require(request: HttpRequest, job: Job, slug: str) -> Shown:
    """The action ``slug`` as ``job``'s card shows it; :class:`Http404` when
    the card does not show it (the server refuses what the page would not offer)."""
    for shown in actions_for(job, available(request)):
        if shown.slug == slug:
            return shown
    raise Http404
