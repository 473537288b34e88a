"""Staff pages of the admin open, search and filter; the ledger is read-only."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from credits.models import LedgerEntry, Wallet
from generation import services
from providers.models import ProviderCall
from tests.factories import OfferFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(alice, demo_offer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.job_submit(user=alice, offer=demo_offer, params={"prompt": "admin", "outputs": 1})


@pytest.mark.parametrize(
    "model",
    [
        "accounts.user",
        "credits.wallet",
        "credits.ledgerentry",
        "credits.hold",
        "providers.offer",
        "providers.providercall",
        "generation.job",
        "generation.upload",
        "generation.consent",
        "generation.stylepreset",
        "billing.creditpack",
        "billing.plan",
        "billing.purchase",
        "billing.revocation",
    ],
)
def test_every_admin_list_opens_searches_and_filters(staff_client, data, model):
    url = reverse(f"admin:{model.replace('.', '_')}_changelist")
    assert staff_client.get(url).status_code == 200
    assert staff_client.get(url, {"q": "alice"}).status_code == 200


def test_the_job_and_wallet_pages_open(staff_client, data, alice):
    assert staff_client.get(reverse("admin:generation_job_change", args=[data.pk])).status_code == 200
    wallet = Wallet.objects.get(user=alice)
    page = staff_client.get(reverse("admin:credits_wallet_change", args=[wallet.pk]))
    assert page.status_code == 200
    assert "capture" in page.content.decode()


def test_ledger_entries_cannot_be_changed_or_deleted_in_the_admin(staff_client, data):
    entry = LedgerEntry.objects.first()
    assert (
        staff_client.post(reverse("admin:credits_ledgerentry_delete", args=[entry.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()
    assert staff_client.get(reverse("admin:credits_ledgerentry_add")).status_code == 403


def test_the_catalogue_edits_both_languages(staff_client):
    offer = OfferFactory(slug="nano", name_en="Nano Banana", name_ar="نانو بنانا")
    body = staff_client.get(reverse("admin:providers_offer_change", args=[offer.pk])).content.decode()
    assert 'name="name_en"' in body and 'name="name_ar"' in body
    assert "نانو بنانا" in body


def test_provider_calls_are_searchable_by_task_id(staff_client, data):
    call = ProviderCall.objects.exclude(task_id="").first()
    response = staff_client.get(reverse("admin:providers_providercall_changelist"), {"q": call.task_id})
    assert call.task_id in response.content.decode()


def test_a_creator_cannot_open_the_admin(alice_client):
    response = alice_client.get(reverse("admin:index"))
    assert response.status_code == 302 and "login" in response["Location"]


INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def test_dj_stripes_admin_pages_carry_nothing_inline_our_csp_would_block(staff_client, settings):
    """dj-stripe's confirmation and change pages kept script, style and event
    handlers inline; ours (templates/djstripe/admin/) load them from static files."""
    from djstripe.models import Product, WebhookEndpoint

    product = Product.objects.create(id="prod_csp", livemode=False, stripe_data={"name": "Pack"})
    endpoint = WebhookEndpoint.objects.create(
        id="we_csp",
        url="https://mirsam.example/stripe/webhook/",
        livemode=False,
        secret="whsec_x",
        enabled_events=["*"],
        status="enabled",
    )
    confirm = staff_client.post(
        reverse("admin:djstripe_product_changelist"), {"action": "_sync_all_instances", "select_across": "0"}
    )
    change = staff_client.get(reverse("admin:djstripe_product_change", args=[product.pk]))
    delete = staff_client.get(reverse("admin:djstripe_webhookendpoint_delete", args=[endpoint.pk]))

    for page, marker in (
        (confirm, "form_custom_action"),
        (change, "stripe-confirmation-warning"),
        (delete, "div_spinner"),
    ):
        body = page.content.decode()
        assert page.status_code == 200 and marker in body
        assert "djstripe/admin" in body  # our stylesheet (and script) from static files
        assert not INLINE.search(body), INLINE.search(body).group(0)
