"""``{% job_card job %}`` and ``{% creation_tile job %}``: a job's card or
tile through generation.fragments (rendered once per version of the job)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from generation import fragments
from generation.models import Job

register = template.Library()


@register.simple_tag(takes_context=True)
def job_card(context: template.Context, job: Job, detail: bool = False) -> SafeString:
    """The job's card; ``detail`` on the job's own page (no prompt, no Details link)."""
    return fragments.job_fragment(context["request"], fragments.CARD, job, on_detail=bool(detail))


@register.simple_tag(takes_context=True)
def creation_tile(
    context: template.Context, job: Job, show_actions: bool = False, selectable: bool = False
) -> SafeString:
    """The job's compact tile for grids; ``show_actions`` adds favourite,
    download and delete, ``selectable`` the checkbox of My creations' bulk form."""
    return fragments.job_fragment(
        context["request"], fragments.TILE, job, show_actions=bool(show_actions), selectable=bool(selectable)
    )
