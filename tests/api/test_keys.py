"""Personal API keys on the account page: made with a name and scopes, the
secret shown once and stored only as a hash, revoked after a confirmation;
staff revoke any key from the admin, audited."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.urls import reverse

from accounts.models import StaffAction
from api.models import ApiKey
from api.services import api_key_authenticate, api_key_create

from .conftest import KeyClient

pytestmark = pytest.mark.django_db
SECRET = re.compile(r'value="(msk_[A-Za-z0-9_-]+)"')


def test_a_key_is_made_on_the_account_page_and_its_secret_shown_once(alice_client, alice):
    answer = alice_client.post(reverse("api_key_create"), {"name": "My tool", "scopes": ["read"]})
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    (secret,) = SECRET.findall(answer.content.decode())
    key = ApiKey.objects.get(user=alice)
    assert key.name == "My tool" and key.scopes == ["read"] and secret.startswith(key.prefix)
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiKey.objects.filter(pk=key.pk).values().get())  # only the hash is stored
    page = alice_client.get(reverse("account_settings")).content.decode()
    assert "My tool" in page and key.prefix in page and secret not in page
    assert KeyClient(secret).get("/api/v1/balance").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_a_key_needs_a_name_and_a_known_scope(alice_client, alice):
    alice_client.post(reverse("api_key_create"), {"name": " ", "scopes": ["read"]})
    alice_client.post(reverse("api_key_create"), {"name": "x", "scopes": []})
    alice_client.post(reverse("api_key_create"), {"name": "x", "scopes": ["admin"]})
    assert not ApiKey.objects.exists()


def test_revoking_asks_first_then_the_key_stops_working(alice_client, alice):
    key, secret = api_key_create(user=alice, name="tool", scopes=["read"])
    url = reverse("api_key_revoke", args=[key.pk])
    confirm = alice_client.get(url)
    assert confirm.status_code == 200 and b"cannot be undone" in confirm.content
    key.refresh_from_db()
    assert key.is_active
    assert alice_client.post(url).status_code == 302
    key.refresh_from_db()
    assert not key.is_active and key.revoked_by is None
    assert KeyClient(secret).get("/api/v1/balance").json()["error"]["code"] == "revoked_key"
    assert not StaffAction.objects.exists()  # the owner's own doing is not a staff action


def test_an_outsider_cannot_revoke_someone_elses_key(alice, charlie_client):
    key, _secret = api_key_create(user=alice, name="tool", scopes=["read"])
    url = reverse("api_key_revoke", args=[key.pk])
    assert charlie_client.get(url).status_code == 404
    assert charlie_client.post(url).status_code == 404
    key.refresh_from_db()
    assert key.is_active


def test_a_forged_secret_with_a_real_prefix_is_refused(alice):
    key, secret = api_key_create(user=alice, name="tool", scopes=["read"])
    assert api_key_authenticate(secret=secret) == key
    assert api_key_authenticate(secret=secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert api_key_authenticate(secret=key.prefix) is None


def test_staff_revoke_any_key_from_the_admin_audited(alice, staff, staff_client):
    key, _secret = api_key_create(user=alice, name="tool", scopes=["read"])
    answer = staff_client.post(
        reverse("admin:api_apikey_changelist"), {"action": "revoke", "_selected_action": [key.pk]}
    )
    assert answer.status_code == 302
    key.refresh_from_db()
    assert not key.is_active and key.revoked_by == staff
    action = StaffAction.objects.get()
    assert (action.actor, action.user, action.kind) == (staff, alice, StaffAction.Kind.API_KEY_REVOKE)
    assert action.reference == f"api-key:{key.pk}"
    assert staff_client.get(reverse("admin:api_apikey_change", args=[key.pk])).status_code == 200
