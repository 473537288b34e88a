"""The terms of use and the privacy policy: real content in both languages,
facts read from where they are kept, and consent wordings that cannot change
under an old version."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation

from generation import consent
from providers.models import AdapterName, Offer
from providers.vendors import VENDORS
from tests.support.catalogue import install_seeded_catalogue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _seeded_catalogue(db: None) -> None:
    install_seeded_catalogue()


# sha256 of each consent version's English wording. A new wording needs a new
# version (and a new line here); an old version's text never changes.
CONSENT_FINGERPRINTS = {
    "2026-11-21": "f795a6482c72d7994027c2ba5ad3e8bf74a2610b758740615b5f612aacd1b560",
    "2026-12-04": "d9c05a8b37650c0fb0ad1aa43d9676226514cddcabf5ec803b977c85ae66df00",
}


def _fingerprint(version: str) -> str:
    with translation.override("en"):
        return hashlib.sha256(str(consent.WORDINGS[version]).encode()).hexdigest()


def test_each_consent_version_keeps_its_exact_wording() -> None:
    assert set(consent.WORDINGS) == set(CONSENT_FINGERPRINTS)
    assert {v: _fingerprint(v) for v in consent.WORDINGS} == CONSENT_FINGERPRINTS
    assert consent.CURRENT_VERSION == max(consent.WORDINGS)


def test_every_active_kie_model_names_the_company_that_runs_it() -> None:
    slugs = set(Offer.objects.filter(adapter=AdapterName.KIE, is_active=True).values_list("slug", flat=True))
    assert len(slugs) > 20, "the seeded catalogue's kie.ai models"
    assert slugs - set(VENDORS) == set()


@pytest.mark.parametrize("language", ["en", "ar"])
@pytest.mark.parametrize("page", ["terms", "privacy"])
def test_legal_pages_have_real_content_in_both_languages(client: Client, language: str, page: str) -> None:
    with translation.override(language):
        response = client.get(reverse(page))
    assert response.status_code == 200
    html = response.content.decode()
    assert "placeholder" not in html.lower()
    assert 'dir="rtl"' in html if language == "ar" else 'dir="ltr"' in html
    assert "privacy@mirsam.local" in html
    if language == "ar":
        assert ("سياسة الخصوصية" if page == "privacy" else "شروط الاستخدام") in html
        assert "Your account" not in html and "What we collect" not in html


@override_settings(
    MIRSAM_UPLOAD_RETENTION_DAYS=3, PROVIDER_CALL_RETENTION_DAYS=45, MIRSAM_CONTACT_EMAIL="dpo@example.com"
)
def test_privacy_policy_states_the_facts_from_settings_and_the_catalogue(client: Client) -> None:
    html = client.get(reverse("privacy")).content.decode()
    assert "deleted automatically 3 days after upload" in html
    assert "Uploads: 3 days." in html
    assert "45 days" in html
    assert "dpo@example.com" in html
    assert "whose link works for 24 hours" in html  # MIRSAM_EXPORT_HOURS
    assert consent.CURRENT_VERSION in html
    with translation.override("en"):
        assert str(consent.current_wording()) in html
    for slug in ("nano-banana", "veo3-fast", "suno-v5"):
        offer = Offer.objects.get(slug=slug)
        assert offer.name in html and VENDORS[slug] in html
    Offer.objects.filter(slug="suno-v5").update(is_active=False)
    assert "Suno" not in client.get(reverse("privacy")).content.decode()


def test_signup_links_to_the_terms_and_the_policy(client: Client) -> None:
    def main(name: str) -> str:
        return client.get(reverse(name)).content.decode().split("<main", 1)[1].split("</main>")[0]

    signup = main("account_signup")
    assert f'href="{reverse("terms")}"' in signup and f'href="{reverse("privacy")}"' in signup
    assert reverse("terms") not in main("account_login")
