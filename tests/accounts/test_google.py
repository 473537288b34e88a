"""Sign in with Google: allauth's real Google adapter against a local
OAuth / OpenID Connect stand-in on 127.0.0.1 (tests/support/google_oauth.py)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.google import views as google_views
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from credits.models import LedgerEntry
from tests.support.google_oauth import GoogleStandIn, serve

pytestmark = pytest.mark.django_db

CLIENT_ID = "1234-stand-in.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-stand-in-secret"


@pytest.fixture
def google(monkeypatch: pytest.MonkeyPatch) -> Iterator[GoogleStandIn]:
    stand_in = GoogleStandIn(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    server, _thread = serve(stand_in)
    adapter = google_views.GoogleOAuth2Adapter
    monkeypatch.setattr(adapter, "authorize_url", f"{stand_in.url}/o/oauth2/v2/auth")
    monkeypatch.setattr(adapter, "access_token_url", f"{stand_in.url}/token")
    monkeypatch.setattr(google_views, "CERTS_URL", f"{stand_in.url}/oauth2/v1/certs")
    providers = {"google": {**settings.SOCIALACCOUNT_PROVIDERS["google"]}}
    providers["google"]["APPS"] = [{"client_id": CLIENT_ID, "secret": CLIENT_SECRET}]
    with override_settings(
        GOOGLE_CLIENT_ID=CLIENT_ID, GOOGLE_CLIENT_SECRET=CLIENT_SECRET, SOCIALACCOUNT_PROVIDERS=providers
    ):
        yield stand_in
    server.shutdown()


def _sign_in(client: Client, stand_in: GoogleStandIn, *, language: str = "en") -> object:
    """Press "Continue with Google", consent at the stand-in, come back."""
    with translation.override(language):
        start = client.post(reverse("google_login") + "?process=login")
    assert start.status_code == 302
    assert start["Location"].startswith(f"{stand_in.url}/o/oauth2/v2/auth?")
    consent = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert consent.status_code == 302, consent.text
    back = urlparse(consent.headers["Location"])
    with translation.override(language):
        assert back.path == reverse("google_callback")
    return client.get(f"{back.path}?{back.query}")


def _signed_in_as(client: Client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value else None


def test_a_new_google_user_gets_an_account_the_bonus_and_their_language(client: Client, google: GoogleStandIn) -> None:
    google.sign_in_as(sub="1098765", email="layla@gmail.com", name="Layla Haddad")
    response = _sign_in(client, google, language="ar")
    assert response.status_code == 302
    user = User.objects.get(email="layla@gmail.com")
    assert _signed_in_as(client) == user.pk
    assert user.preferred_language == "ar"
    assert response["Location"] == "/ar/dashboard/"
    assert SocialAccount.objects.get(user=user).uid == "1098765"
    assert EmailAddress.objects.get(user=user).verified
    assert LedgerEntry.objects.filter(wallet__user=user, idempotency_key=f"signup:{user.pk}").count() == (
        1 if settings.MIRSAM_SIGNUP_CREDITS > 0 else 0
    )
    token = next(form for method, path, form in google.requests if path == "/token")
    assert token["code_verifier"] and token["client_secret"] == CLIENT_SECRET


def test_google_links_to_the_account_with_the_same_verified_address(client: Client, google: GoogleStandIn) -> None:
    existing = User.objects.create_user(username="omar", email="omar@gmail.com", password="a long passphrase 1")
    EmailAddress.objects.create(user=existing, email="omar@gmail.com", verified=True, primary=True)
    google.sign_in_as(sub="555", email="omar@gmail.com")
    assert _sign_in(client, google).status_code == 302
    assert _signed_in_as(client) == existing.pk
    assert SocialAccount.objects.get(provider="google", uid="555").user == existing
    existing.refresh_from_db()
    assert existing.check_password("a long passphrase 1")
    assert User.objects.filter(email="omar@gmail.com").count() == 1
    # The next time is an ordinary social log-in of the linked account.
    client.logout()
    assert _sign_in(client, google).status_code == 302
    assert _signed_in_as(client) == existing.pk


def test_an_unverified_registration_of_the_address_is_locked_out(client: Client, google: GoogleStandIn) -> None:
    """Someone registered the address with a password and never confirmed it:
    the real owner signing in with Google gets the account, the password stops working."""
    squatter = User.objects.create_user(username="sq", email="mona@gmail.com", password="squatter password 9")
    EmailAddress.objects.create(user=squatter, email="mona@gmail.com", verified=False, primary=True)
    google.sign_in_as(sub="777", email="mona@gmail.com")
    _sign_in(client, google)
    squatter.refresh_from_db()
    assert _signed_in_as(client) == squatter.pk
    assert not squatter.has_usable_password()


def test_an_unverified_google_address_never_opens_an_existing_account(client: Client, google: GoogleStandIn) -> None:
    existing = User.objects.create_user(username="sara", email="sara@gmail.com", password="a long passphrase 2")
    EmailAddress.objects.create(user=existing, email="sara@gmail.com", verified=True, primary=True)
    google.sign_in_as(sub="888", email="sara@gmail.com", email_verified=False)
    _sign_in(client, google)
    assert _signed_in_as(client) != existing.pk
    assert not SocialAccount.objects.filter(user=existing).exists()


def test_a_forged_state_signs_nobody_in(client: Client, google: GoogleStandIn) -> None:
    google.sign_in_as(sub="999", email="eve@gmail.com")
    start = client.post(reverse("google_login") + "?process=login")
    consent = requests.get(start["Location"], allow_redirects=False, timeout=5)
    query = parse_qs(urlparse(consent.headers["Location"]).query)
    response = client.get(reverse("google_callback"), {"code": query["code"][0], "state": "forged"})
    assert response.status_code == 401  # allauth's "login failure" page
    assert "auth-card" in response.content.decode()
    assert _signed_in_as(client) is None
    assert not User.objects.filter(email="eve@gmail.com").exists()


def test_the_button_shows_only_when_google_is_configured(client: Client, google: GoogleStandIn) -> None:
    for name in ("account_login", "account_signup"):
        assert 'data-provider="google"' in client.get(reverse(name)).content.decode()


def test_without_settings_google_is_hidden_and_its_urls_are_404(client: Client) -> None:
    assert not settings.GOOGLE_CLIENT_ID
    for name in ("account_login", "account_signup"):
        assert "auth-social" not in client.get(reverse(name)).content.decode()
    assert client.post(reverse("google_login")).status_code == 404
    assert client.get(reverse("google_callback"), {"code": "x", "state": "y"}).status_code == 404


def test_the_settings_page_shows_the_link_and_it_can_be_removed(client: Client, google: GoogleStandIn) -> None:
    user = User.objects.create_user(username="nour", email="nour@example.com", password="a long passphrase 3")
    EmailAddress.objects.create(user=user, email="nour@example.com", verified=True, primary=True)
    account = SocialAccount.objects.create(user=user, provider="google", uid="42", extra_data={"email": "n@gmail.com"})
    client.force_login(user)
    page = client.get(reverse("account_settings")).content.decode()
    assert "Connected accounts" in page and "n@gmail.com" in page
    response = client.post(reverse("socialaccount_connections"), {"account": account.pk})
    assert response.status_code == 302
    assert not SocialAccount.objects.filter(pk=account.pk).exists()


def test_a_google_only_account_cannot_remove_its_only_way_in(client: Client, google: GoogleStandIn) -> None:
    google.sign_in_as(sub="31", email="adam@gmail.com")
    _sign_in(client, google)
    account = SocialAccount.objects.get(uid="31")
    client.post(reverse("socialaccount_connections"), {"account": account.pk})
    assert SocialAccount.objects.filter(pk=account.pk).exists()
