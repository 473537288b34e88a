"""Staff pages of the admin open, search and filter; the ledger is read-only."""

from __future__ import annotations

import re
from decimal import Decimal

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
        "generation.showcaseitem",
        "billing.creditpack",
        "billing.plan",
        "billing.purchase",
        "billing.revocation",
        "billing.stripeprice",
        "billing.paymentissue",
        "accounts.creditadjustment",
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


def test_provider_calls_cannot_be_added_changed_or_deleted_in_the_admin(staff_client, data):
    call = ProviderCall.objects.first()
    delete = reverse("admin:providers_providercall_delete", args=[call.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    assert ProviderCall.objects.filter(pk=call.pk).exists()
    assert staff_client.get(reverse("admin:providers_providercall_add")).status_code == 403
    assert staff_client.get(reverse("admin:providers_providercall_change", args=[call.pk])).status_code == 200
    changelist = staff_client.get(reverse("admin:providers_providercall_changelist")).content.decode()
    assert "delete_selected" not in changelist


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
    change = staff_client.get(reverse("admin:djstripe_product_change", args=[product.pk]))  # read-only now
    endpoint_change = staff_client.get(reverse("admin:djstripe_webhookendpoint_change", args=[endpoint.pk]))
    delete = staff_client.get(reverse("admin:djstripe_webhookendpoint_delete", args=[endpoint.pk]))

    for page, marker in (
        (confirm, "form_custom_action"),
        (change, "A read-only copy of what Stripe holds"),
        (endpoint_change, 'name="enabled_events"'),
        (delete, "div_spinner"),
    ):
        body = page.content.decode()
        assert page.status_code == 200 and marker in body
        assert "djstripe/admin" in body  # our stylesheet (and script) from static files
        assert not INLINE.search(body), INLINE.search(body).group(0)
    assert 'name="_save"' not in change.content.decode()
    assert 'name="_save"' in endpoint_change.content.decode()


def _stripe_rows():
    """One local row of each dj-stripe model the read-only tests open."""
    from djstripe.models import Charge, Event, Price, Product, Refund

    product = Product.objects.create(id="prod_ro", livemode=False, name="Pack", stripe_data={"name": "Pack"})
    charge = Charge.objects.create(id="ch_ro", livemode=False, amount=500, currency="usd", status="succeeded")
    return {
        "product": product,
        "price": Price.objects.create(id="price_ro", livemode=False, product=product, active=True, currency="usd"),
        "refund": Refund.objects.create(id="re_ro", livemode=False, charge=charge, amount=100, currency="usd"),
        "event": Event.objects.create(
            id="evt_ro", livemode=False, type="charge.refunded", data={"object": {"id": "ch_ro", "object": "charge"}}
        ),
    }


@pytest.mark.parametrize("model", ["product", "price", "refund", "event"])
def test_dj_stripes_models_are_view_only_in_the_admin(staff_client, model):
    """A row added, changed or deleted here would only be a local row (an "Add
    refund" refunds nothing), so dj-stripe's mirror is view-only (issue 15, finding 9)."""
    obj = _stripe_rows()[model]
    name = f"admin:djstripe_{model}"
    change_url = reverse(f"{name}_change", args=[obj.pk])
    assert staff_client.get(reverse(f"{name}_changelist")).status_code == 200
    assert staff_client.get(change_url).status_code == 200
    assert staff_client.get(reverse(f"{name}_add")).status_code == 403
    assert staff_client.post(reverse(f"{name}_add"), {"id": "x_new"}).status_code == 403
    assert staff_client.post(change_url, {"id": "x_changed"}).status_code == 403
    assert staff_client.get(reverse(f"{name}_delete", args=[obj.pk])).status_code == 403
    assert staff_client.post(reverse(f"{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    assert type(obj).objects.get(pk=obj.pk).id == obj.id
    changelist = staff_client.get(reverse(f"{name}_changelist")).content.decode()
    assert reverse(f"{name}_add") not in changelist
    assert "delete_selected" not in changelist


def test_every_dj_stripe_admin_but_the_webhook_endpoints_is_read_only(rf, staff):
    from django.contrib import admin

    request = rf.get("/")
    request.user = staff
    editable = {
        model._meta.model_name
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label == "djstripe"
        and (
            model_admin.has_add_permission(request)
            or model_admin.has_change_permission(request)
            or model_admin.has_delete_permission(request)
        )
    }
    assert editable == {"webhookendpoint"}


def test_the_webhook_endpoint_stays_editable(staff_client, stripe_env):
    endpoint = stripe_env.endpoint
    assert staff_client.get(reverse("admin:djstripe_webhookendpoint_add")).status_code == 200
    page = staff_client.get(reverse("admin:djstripe_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200 and 'name="enabled_events"' in page.content.decode()


def test_the_sync_actions_need_only_view_permission_and_write_actions_are_closed(stripe_env, db):
    """A staff member who may only view Stripe products can still sync them
    from Stripe; dj-stripe's unguarded confirmation URL no longer cancels a
    subscription for anyone."""
    from django.contrib.auth.models import Permission
    from django.test import Client

    from tests.factories import UserFactory
    from tests.support.accounts import with_totp

    viewer = with_totp(UserFactory(email="viewer@example.com", is_staff=True))
    viewer.user_permissions.add(Permission.objects.get(codename="view_product", content_type__app_label="djstripe"))
    client = Client()
    client.force_login(viewer)
    stripe_env.create_product(name="Synced pack")

    changelist = reverse("admin:djstripe_product_changelist")
    assert "_sync_all_instances" in client.get(changelist).content.decode()
    action = reverse("admin:djstripe_custom_action", args=["_sync_all_instances", "product"])
    response = client.post(action, {"_selected_action": ["_sync_all_instances"]})
    assert response.status_code == 302
    from djstripe.models import Product

    assert Product.objects.filter(stripe_data__name="Synced pack").exists()

    # Not offered, so refused: writes at Stripe, and models the user may not view.
    assert client.post(reverse("admin:djstripe_custom_action", args=["_cancel", "subscription"])).status_code == 403
    assert (
        client.post(reverse("admin:djstripe_custom_action", args=["_sync_all_instances", "customer"])).status_code
        == 403
    )


def _change_form_data(page):
    """What the admin change form in ``page`` would post unchanged."""
    form = page.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is True:
            data[name] = "on"
        elif value is not None and value is not False:
            data[name] = value
        if form.fields[name].show_hidden_initial and value is not None:  # e.g. a JSONField with default=dict
            data[form[name].html_initial_name] = value
    return data


def _save(staff_client, url, **changes):
    data = {**_change_form_data(staff_client.get(url)), **changes, "_save": "Save"}
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


def test_a_price_change_is_logged_with_old_and_new_values_in_both_languages(staff_client):
    from django.contrib.admin.models import LogEntry

    offer = OfferFactory(slug="nano", name_en="Nano Banana", name_ar="نانو بنانا", price_credits=4, service="image")
    url = reverse("admin:providers_offer_change", args=[offer.pk])
    _save(staff_client, url, price_credits="6", service="video", is_active="")

    entry = LogEntry.objects.get(object_id=str(offer.pk))
    # Django's own rendering (labels only) still reads as before.
    assert entry.get_change_message().startswith("Changed ")
    assert "Price override (credits per output)" in entry.get_change_message()
    assert "Options" not in entry.get_change_message()
    english = staff_client.get(reverse("admin:providers_offer_history", args=[offer.pk])).content.decode()
    assert "price override (credits per output): 4 → 6" in english
    assert "service: Image → Video" in english
    assert "active: Yes → No" in english

    arabic = staff_client.get(
        reverse("admin:providers_offer_history", args=[offer.pk]).replace("/admin/", "/ar/admin/", 1)
    ).content.decode()
    assert "السعر اليدوي (أرصدة لكل ناتج): 4 ← 6" in arabic
    assert "صورة ← فيديو" in arabic


def test_a_list_edit_of_a_price_and_a_pack_name_change_are_logged_with_their_values(staff_client):
    from django.contrib.admin.models import LogEntry

    from billing.models import CreditPack

    offer = OfferFactory(slug="list-edit", price_credits=3)
    changelist = reverse("admin:providers_offer_changelist")
    page = staff_client.get(changelist, {"q": "list-edit"})
    formset = page.context["cl"].formset
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(offer.pk),
        "form-0-price_credits": "5",
        "form-0-is_active": "on",
        "_save": "Save",
    }
    assert formset.total_form_count() == 1
    assert staff_client.post(changelist + "?q=list-edit", data).status_code == 302
    history = staff_client.get(reverse("admin:providers_offer_history", args=[offer.pk])).content.decode()
    assert "price override (credits per output): 3 → 5" in history

    pack = CreditPack.objects.create(slug="p10", name_en="Ten", name_ar="عشرة", credits=10, price_amount=500)
    _save(staff_client, reverse("admin:billing_creditpack_change", args=[pack.pk]), name_ar="عشر", price_amount="450")
    history = staff_client.get(reverse("admin:billing_creditpack_history", args=[pack.pk])).content.decode()
    assert "name [ar]: عشرة → عشر" in history
    assert "price (minor units): 500 → 450" in history
    assert LogEntry.objects.filter(object_id=str(pack.pk)).count() == 1


def test_the_job_inspector_shows_the_billed_cost_next_to_the_estimate(staff_client, alice, settings):
    from generation.models import Job, JobStatus, ProviderTask, TaskStatus

    settings.KIE_CREDIT_USD = "0.005"
    offer = OfferFactory(
        slug="billed",
        adapter="kie",
        price_credits=5,
        options={
            "params": {"resolution": {"choices": ["720p", "1080p"], "default": "720p"}},
            "cost": {"usd": "0.03", "by": {"resolution": {"1080p": "0.04"}}},
        },
    )
    job = Job.objects.create(
        user=alice,
        offer=offer,
        service=offer.service,
        status=JobStatus.SUCCEEDED,
        params={"resolution": "1080p"},
        price_credits=5,
    )
    ProviderTask.objects.create(
        job=job,
        index=0,
        status=TaskStatus.SUCCEEDED,
        billed_credits=12,
        billed_usd=Decimal("0.0600"),
        estimate_usd=Decimal("0.0400"),
    )
    body = staff_client.get(reverse("admin:generation_job_change", args=[job.pk])).content.decode()
    assert "billed by the provider: $0.0600" in body and "catalogue estimate: $0.0400" in body
    assert "Provider cost: $0.0600" in body
