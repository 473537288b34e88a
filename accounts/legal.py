"""The terms of use and the privacy policy: their versions and pages.

A version is the date its wording took effect; change it with the wording
(templates/pages/terms.html, privacy.html). The photo-consent statement has
its own versions (``generation.consent``), asked again when it changes.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import pgettext

from generation import consent
from providers.models import AdapterName, Offer
from providers.vendors import vendors_of

TERMS_VERSION = datetime.date(2026, 12, 4)
PRIVACY_VERSION = datetime.date(2026, 12, 4)


def terms(request: HttpRequest) -> HttpResponse:
    return render(
        request, "pages/terms.html", {"version": TERMS_VERSION, "contact_email": settings.MIRSAM_CONTACT_EMAIL}
    )


def privacy(request: HttpRequest) -> HttpResponse:
    """The policy, with the facts it states read from where they are kept:
    the retention settings, the consent wording and version, and the companies
    behind the active kie.ai models (``providers.vendors``)."""
    offers = Offer.objects.filter(is_active=True, adapter=AdapterName.KIE).order_by("sort_order", "slug")
    return render(
        request,
        "pages/privacy.html",
        {
            "version": PRIVACY_VERSION,
            "contact_email": settings.MIRSAM_CONTACT_EMAIL,
            "vendors": vendors_of(offers),
            "list_separator": pgettext("between the items of a list", ", "),
            "upload_days": settings.MIRSAM_UPLOAD_RETENTION_DAYS,
            "call_days": settings.PROVIDER_CALL_RETENTION_DAYS,
            "export_hours": settings.MIRSAM_EXPORT_HOURS,
            "consent_version": consent.CURRENT_VERSION,
            "consent_text": consent.current_wording(),
        },
    )
