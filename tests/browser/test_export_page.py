"""Settings' "Export my data" in Chromium, in Arabic and English, on a phone
and a desktop: each state (none, in progress, failed, ready) fits the
screen, and pressing the button makes an export whose download link shows.
``EXPORT_SHOTS=<dir>`` saves a screenshot of each state there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import DataExport
from tests.factories import UserFactory
from tests.support.browser import sign_in

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 768}}
WIDTH = "document.documentElement.scrollWidth <= window.innerWidth"


def _shot(page, name: str) -> None:
    if os.environ.get("EXPORT_SHOTS"):
        page.locator("#your-data").screenshot(path=str(Path(os.environ["EXPORT_SHOTS"]) / f"{name}.png"))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("language", ["en", "ar"])
def test_export_states_fit_and_the_button_makes_an_export(page, live_server, language, viewport):
    user = UserFactory(email=f"export-{language}-{viewport}@example.com", preferred_language=language)
    prefix = "/ar" if language == "ar" else ""
    page.set_viewport_size(VIEWPORTS[viewport])
    sign_in(page, live_server.url, user.email, "pass-word-123", prefix)
    settings_url = f"{live_server.url}{prefix}/account/settings/"
    tag = f"{language}-{viewport}"

    for state in ["none", "pending", "failed"]:
        DataExport.objects.filter(user=user).delete()
        if state != "none":
            DataExport.objects.create(user=user, status=state, error="OSError: disk full", finished_at=timezone.now())
        page.goto(settings_url)
        assert page.evaluate(WIDTH), f"{tag} {state}: wider than the screen"
        assert page.locator("html").get_attribute("dir") == ("rtl" if language == "ar" else "ltr")
        if state == "pending":
            assert page.locator("#data-export [hx-trigger='every 3s']").count() == 1
        else:
            assert page.locator("form[action$='/account/export/'] button").count() == 1
        _shot(page, f"{tag}-{state}")

    DataExport.objects.filter(user=user).delete()
    page.goto(settings_url)
    page.locator("form[action$='/account/export/'] button").click()  # eager Celery: built after commit
    link = page.locator("#data-export a[href*='/download/']")
    link.wait_for()
    export = DataExport.objects.get(user=user)
    assert export.status == DataExport.Status.READY
    assert link.get_attribute("href") == f"{prefix}/account/export/{export.pk}/download/"
    assert page.evaluate(WIDTH), f"{tag} ready: wider than the screen"
    _shot(page, f"{tag}-ready")
