"""The webhooks section of the account page: add an endpoint (its signing
secret shown once), see its deliveries, send a test event, turn it back on,
delete it after a confirmation. Another user's endpoint is 404 everywhere."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from pytest_httpserver import HTTPServer

from api.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from api.webhooks import webhook_endpoint_create

pytestmark = pytest.mark.django_db
SECRET = re.compile(r'value="(mwhsec_[A-Za-z0-9_-]+)"')


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.MIRSAM_WEBHOOK_ALLOW_LOOPBACK = True
    settings.MIRSAM_WEBHOOK_ALLOW_HTTP = True


@pytest.fixture
def receiver():
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def endpoint(alice):
    return webhook_endpoint_create(user=alice, url="http://127.0.0.1:9/hook", description="my tool")


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_an_endpoint_is_added_and_its_secret_shown_once(alice_client, alice):
    answer = alice_client.post(
        reverse("api_webhook_create"), {"url": "http://127.0.0.1:8123/hook", "description": "  Zapier  bridge "}
    )
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    (secret,) = SECRET.findall(answer.content.decode())
    endpoint = WebhookEndpoint.objects.get(user=alice)
    assert (endpoint.url, endpoint.description, endpoint.secret) == (
        "http://127.0.0.1:8123/hook",
        "Zapier bridge",
        secret,
    )
    assert len(secret) == len("mwhsec_") + 43
    settings_page = alice_client.get(reverse("account_settings")).content.decode()
    detail = alice_client.get(reverse("api_webhook_detail", args=[endpoint.pk])).content.decode()
    for page in (settings_page, detail):
        assert "http://127.0.0.1:8123/hook" in page and secret not in page


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/hook", "10.0.0.1 is a private address"),
        ("http://169.254.169.254/", "link-local"),
        ("ftp://example.com/", "https://"),
        ("", "at most 500 characters"),
    ],
)
def test_a_refused_url_goes_back_to_the_form_with_the_reason(alice_client, url, reason):
    response = alice_client.post(reverse("api_webhook_create"), {"url": url})
    assert response.status_code == 302 and response["Location"].endswith("#webhooks")
    assert any(reason in m for m in _messages(response))
    assert not WebhookEndpoint.objects.exists()


def test_loopback_is_refused_at_registration_without_the_setting(alice_client, settings):
    settings.MIRSAM_WEBHOOK_ALLOW_LOOPBACK = False
    response = alice_client.post(reverse("api_webhook_create"), {"url": "http://localhost:8000/hook"})
    assert any("loopback" in m for m in _messages(response))
    assert not WebhookEndpoint.objects.exists()


def test_a_creator_has_at_most_the_allowed_number_of_endpoints(alice_client, alice, settings):
    settings.MIRSAM_WEBHOOK_MAX_ENDPOINTS = 2
    for n in range(3):
        alice_client.post(reverse("api_webhook_create"), {"url": f"http://127.0.0.1:81{n}/hook"})
    assert WebhookEndpoint.objects.filter(user=alice).count() == 2
    page = alice_client.get(reverse("account_settings")).content.decode()
    assert "You have the most endpoints allowed (2)" in page and 'name="url"' not in page


def test_a_test_event_is_sent_and_its_delivery_listed(
    alice_client, alice, receiver, django_capture_on_commit_callbacks
):
    receiver.expect_request("/hook", method="POST").respond_with_data("thanks", status=200)
    endpoint = webhook_endpoint_create(user=alice, url=receiver.url_for("/hook"))
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reverse("api_webhook_test", args=[endpoint.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("api_webhook_detail", args=[endpoint.pk])
    assert len(receiver.log) == 1
    event = WebhookEvent.objects.get(endpoint=endpoint)
    assert event.type == "ping" and event.status == "succeeded"
    detail = alice_client.get(response["Location"]).content.decode()
    assert "HTTP 200" in detail and "thanks" in detail and "ping" in detail
    settings_page = alice_client.get(reverse("account_settings")).content.decode()
    assert "HTTP 200" in settings_page  # the last delivery


def test_the_deliveries_are_paginated(alice_client, endpoint):
    event = WebhookEvent.objects.create(endpoint=endpoint, type="ping")
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(event=event, attempt=n, status_code=500, latency_ms=n) for n in range(1, 31)
    )
    first = alice_client.get(reverse("api_webhook_detail", args=[endpoint.pk])).content.decode()
    second = alice_client.get(reverse("api_webhook_detail", args=[endpoint.pk]) + "?page=2").content.decode()
    assert first.count("HTTP 500") == 25 and second.count("HTTP 500") == 5
    assert "Page 1 of 2" in first


def test_turning_back_on_resets_the_failures(alice_client, endpoint):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        disabled_at="2026-01-01T00:00:00Z", disabled_reason="5 events in a row", consecutive_failures=5
    )
    detail = alice_client.get(reverse("api_webhook_detail", args=[endpoint.pk])).content.decode()
    assert "5 events in a row" in detail and "Turn back on" in detail
    assert alice_client.get(reverse("api_webhook_enable", args=[endpoint.pk])).status_code == 405
    alice_client.post(reverse("api_webhook_enable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 0
    assert "Turn back on" not in alice_client.get(reverse("api_webhook_detail", args=[endpoint.pk])).content.decode()


def test_deleting_asks_first_then_removes_the_endpoint_and_its_deliveries(alice_client, endpoint):
    event = WebhookEvent.objects.create(endpoint=endpoint, type="ping")
    WebhookDelivery.objects.create(event=event, attempt=1, status_code=200, succeeded=True)
    url = reverse("api_webhook_delete", args=[endpoint.pk])
    confirm = alice_client.get(url)
    assert confirm.status_code == 200 and b"cannot be undone" in confirm.content
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    response = alice_client.post(url)
    assert response.status_code == 302
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("api_webhook_detail", "get"),
        ("api_webhook_test", "post"),
        ("api_webhook_enable", "post"),
        ("api_webhook_delete", "get"),
        ("api_webhook_delete", "post"),
    ],
)
def test_an_outsider_gets_404_on_every_webhook_view(charlie_client, endpoint, name, method):
    response = getattr(charlie_client, method)(reverse(name, args=[endpoint.pk]))
    assert response.status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookEvent.objects.exists()


def test_the_pages_need_a_sign_in(client, endpoint):
    response = client.get(reverse("api_webhook_detail", args=[endpoint.pk]))
    assert response.status_code == 302 and "login" in response["Location"]
    assert client.post(reverse("api_webhook_create"), {"url": "http://127.0.0.1/x"}).status_code == 302
    assert not WebhookEndpoint.objects.exclude(pk=endpoint.pk).exists()


def test_the_admin_shows_endpoints_without_their_secret(staff_client, endpoint):
    admin_client = staff_client
    page = admin_client.get(reverse("admin:api_webhookendpoint_change", args=[endpoint.pk])).content.decode()
    assert endpoint.url in page and endpoint.secret not in page
    assert admin_client.get(reverse("admin:api_webhookdelivery_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:api_webhookevent_changelist")).status_code == 200
