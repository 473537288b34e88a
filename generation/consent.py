"""The photo-consent wording, versioned. A new wording gets a new version;
old versions stay here so a stored acceptance always names its exact text.
``tests/generation/test_consent_versions.py`` keeps a fingerprint of each
version's English text, so a wording cannot change under an old version."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

WORDINGS = {
    "2026-11-21": _(
        "I am the person in these photos, or I have their permission. I agree that Mirsam sends them to its AI "
        "provider only to make this job, keeps them private, and deletes them after the retention period."
    ),
    "2026-12-04": _(
        "I am the person in these photos, or I have their permission. I agree that Mirsam sends them to kie.ai "
        "and the company that runs the chosen model only to make this job, keeps them private, and deletes them "
        "after the retention period, as the privacy policy describes."
    ),
}
CURRENT_VERSION = "2026-12-04"


def current_wording() -> str | Promise:
    """The wording of :data:`CURRENT_VERSION`, lazily translated."""
    return WORDINGS[CURRENT_VERSION]
