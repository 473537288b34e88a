"""The showcase: a creator allows Mirsam to feature one of their finished
results publicly, or withdraws it; staff pick results to show
(``generation.models.ShowcaseItem``, the wording in ``generation.showcase``).

Every write saves the item, which moves its ``updated_at``: the landing page's
version (``generation.versions``, part "showcase") changes, so a pick or a
withdrawal shows on the next request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import showcase
from ..errors import GenerationError
from ..models import Asset, JobStatus, ShowcaseItem

if TYPE_CHECKING:
    from accounts.models import User


def _item_for(asset: Asset) -> ShowcaseItem:
    """The asset's item, locked, or a new unsaved one."""
    item = ShowcaseItem.objects.select_for_update().filter(asset=asset).first()
    return item if item is not None else ShowcaseItem(asset=asset)


def showcase_permit(*, user: User, asset: Asset, version: str) -> ShowcaseItem:
    """Record that ``user``, the owner of ``asset``, allows Mirsam to feature
    it, having been shown the wording ``version`` (``generation.showcase``).
    Allowing again after a withdrawal records the new permission and clears
    the withdrawal (staff must still pick it to show it).

    Raises ``GenerationError`` (code ``not_owner``, ``not_finished``,
    ``stale_wording``) for someone else's result, a job that has not
    succeeded, or a wording version other than the current one."""
    if asset.user_id != user.pk:
        raise GenerationError(_("This is not your result."), code="not_owner")
    if asset.job.status != JobStatus.SUCCEEDED:
        raise GenerationError(_("Only a finished result can be featured."), code="not_finished")
    if version != showcase.CURRENT_VERSION:
        raise GenerationError(
            _("The wording of the permission has changed. Please read it again and confirm."), code="stale_wording"
        )
    with transaction.atomic():
        item = _item_for(asset)
        item.permission_by = user
        item.permission_at = timezone.now()
        item.permission_version = version
        item.withdrawn_at = None
        item.save()
    return item


def showcase_withdraw(*, user: User, asset: Asset) -> ShowcaseItem | None:
    """``user``, the owner of ``asset``, withdraws their permission: from now
    on it is shown nowhere (the item stays as the record, withdrawn). Returns
    the item, or None when there was nothing to withdraw. Raises
    ``GenerationError`` (``not_owner``) for someone else's result."""
    if asset.user_id != user.pk:
        raise GenerationError(_("This is not your result."), code="not_owner")
    with transaction.atomic():
        item = ShowcaseItem.objects.select_for_update().filter(asset=asset).first()
        if item is None:
            return None
        if item.withdrawn_at is None:
            item.withdrawn_at = timezone.now()
            item.save()
    return item


def showcase_pick(*, staff: User, item: ShowcaseItem) -> ShowcaseItem:
    """``staff`` picks ``item`` (saved or new, with its caption, order and
    active flag as set) to be shown. Allowed only for a finished result that
    is the staff member's own (picking records their own permission with the
    current wording) or whose owner's permission is in force
    (:meth:`ShowcaseItem.pick_refusal`). An item already picked keeps its
    first pick. Raises ``GenerationError`` (code ``pick_refused``) otherwise."""
    with transaction.atomic():
        if item.pk:
            fresh = ShowcaseItem.objects.select_for_update().get(pk=item.pk)
            # The owner's side may have changed since the form was shown: theirs wins.
            for name in ("permission_by", "permission_at", "permission_version", "withdrawn_at"):
                setattr(item, name, getattr(fresh, name))
        refusal = item.pick_refusal(staff)
        if refusal:
            raise GenerationError(refusal, code="pick_refused")
        now = timezone.now()
        if item.asset.user_id == staff.pk and not item.owner_allows:
            item.permission_by = staff
            item.permission_at = now
            item.permission_version = showcase.CURRENT_VERSION
            item.withdrawn_at = None
        if item.picked_at is None:
            item.picked_by = staff
            item.picked_at = now
        item.save()
    return item


def showcase_unpick(*, item: ShowcaseItem) -> ShowcaseItem:
    """Staff stop showing ``item``; the owner's permission stays recorded."""
    item.picked_by = None
    item.picked_at = None
    item.save()
    return item
