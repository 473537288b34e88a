"""The showcase permission wording, versioned (as ``generation.consent``):
what a creator agrees to when they allow Mirsam to feature one of their
results publicly. A new wording gets a new version; old versions stay here so
a recorded permission always names the exact text its owner was shown."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

WORDINGS = {
    "2026-12-03": _(
        "I allow Mirsam to show this result on its public pages as an example of what the studio makes, "
        "without my name or my prompt. I can withdraw this at any time, and it is then taken down at once."
    ),
}
CURRENT_VERSION = "2026-12-03"


def current_wording() -> str | Promise:
    """The wording of :data:`CURRENT_VERSION`, lazily translated."""
    return WORDINGS[CURRENT_VERSION]
