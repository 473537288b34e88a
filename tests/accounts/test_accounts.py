from __future__ import annotations

import re
import subprocess
import sys

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import User
from credits.models import EntryKind, LedgerEntry, Wallet
from tests.support.env import ROOT

pytestmark = pytest.mark.django_db


def test_sign_up_creates_the_user_and_grants_the_sign_up_bonus(client, settings):
    settings.MIRSAM_SIGNUP_CREDITS = 40
    response = client.post(
        reverse("account_signup"),
        {"email": "new@example.com", "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"},
    )
    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert Wallet.objects.get(user=user).balance == 40
    entry = LedgerEntry.objects.get(wallet__user=user)
    assert (entry.kind, entry.amount, entry.idempotency_key) == (EntryKind.GRANT, 40, f"signup:{user.pk}")


def test_a_zero_bonus_grants_nothing(client, settings):
    settings.MIRSAM_SIGNUP_CREDITS = 0
    client.post(
        reverse("account_signup"),
        {"email": "zero@example.com", "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"},
    )
    assert not LedgerEntry.objects.filter(wallet__user__email="zero@example.com").exists()


def test_signing_up_on_the_arabic_site_remembers_arabic(client):
    client.post(
        "/ar/accounts/signup/",
        {"email": "ar@example.com", "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"},
    )
    assert User.objects.get(email="ar@example.com").preferred_language == "ar"


def test_log_in_sends_the_user_to_the_dashboard_in_their_language(client, alice):
    alice.preferred_language = "ar"
    alice.save()
    response = client.post(reverse("account_login"), {"login": "alice@example.com", "password": "pass-word-123"})
    assert response.status_code == 302
    assert response["Location"] == "/ar/dashboard/"


def test_password_reset_sends_an_email(client, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # e-mails leave after commit (accounts.mail)
        client.post(reverse("account_reset_password"), {"email": "alice@example.com"})
    assert len(mail.outbox) == 1
    assert "alice@example.com" in mail.outbox[0].to


def test_the_language_switcher_remembers_the_choice_on_the_user(alice_client, alice):
    response = alice_client.post(reverse("language_set"), {"language": "ar", "next": "/image/"})
    assert response.status_code == 302 and response["Location"] == "/ar/image/"
    alice.refresh_from_db()
    assert alice.preferred_language == "ar"


def test_the_language_switcher_ignores_an_outside_next_url(client):
    response = client.post(reverse("language_set"), {"language": "ar", "next": "https://evil.example/"})
    assert response["Location"] == "/ar/"


@pytest.mark.parametrize("path", ["/ar/", "/ar/pricing/", "/ar/terms/", "/ar/accounts/login/"])
def test_arabic_pages_are_right_to_left(client, path):
    body = client.get(path).content.decode()
    assert 'lang="ar"' in body and 'dir="rtl"' in body


def test_english_pages_are_left_to_right(client):
    body = client.get("/").content.decode()
    assert 'lang="en"' in body and 'dir="ltr"' in body


@pytest.mark.parametrize("name", ["landing", "terms", "privacy", "pricing", "account_login", "account_signup"])
def test_public_pages_open_for_visitors(client, name):
    assert client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize(
    "name", ["dashboard", "image", "creations", "credit_history", "account_settings", "video", "avatar"]
)
def test_signed_in_pages_open_for_the_user(alice_client, name):
    assert alice_client.get(reverse(name)).status_code == 200


def test_the_header_shows_the_balance_on_every_signed_in_page(alice_client):
    body = alice_client.get(reverse("creations")).content.decode()
    assert 'id="balance"' in body and "100" in body


def test_credit_history_lists_every_entry_with_its_balance_after(alice_client, alice):
    response = alice_client.get(reverse("credit_history"))
    entries = list(response.context["page"].object_list)
    assert [(e.kind, e.amount, e.balance_after) for e in entries] == [("grant", 100, 100)]


# --- the sign-up bonus waits for a confirmed e-mail ----------------------------------


def _sign_up(client, email: str = "fresh@example.com") -> User:
    from django.test import TestCase

    password = "a-long-pass-phrase-9"
    with TestCase.captureOnCommitCallbacks(execute=True):  # the confirmation leaves after commit
        client.post(reverse("account_signup"), {"email": email, "password1": password, "password2": password})
    return User.objects.get(email=email)


def _confirmation_path(email: str) -> str:
    body = next(m.body for m in mail.outbox if email in m.to)
    return re.search(r"https?://[^/\s]+(/\S*confirm-email/\S+)", body)[1]


def test_the_sign_up_bonus_waits_until_the_e_mail_is_confirmed(client, settings):
    settings.MIRSAM_SIGNUP_BONUS_AFTER_VERIFICATION = True
    user = _sign_up(client)
    assert not LedgerEntry.objects.filter(wallet__user=user).exists()
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "Confirm your e-mail address to receive your 50 free credits." in dashboard

    path = _confirmation_path(user.email)
    assert client.post(path).status_code == 302
    assert Wallet.objects.get(user=user).balance == 50
    assert "Confirm your e-mail address" not in client.get(reverse("dashboard")).content.decode()

    client.post(path)  # the link again
    assert LedgerEntry.objects.filter(wallet__user=user).count() == 1


def test_before_the_e_mail_is_confirmed_a_new_account_cannot_start_a_paid_job(client, settings, demo_offer):
    settings.MIRSAM_SIGNUP_BONUS_AFTER_VERIFICATION = True
    user = _sign_up(client)
    data = {"offer": demo_offer.pk, "prompt": "a lighthouse", "aspect_ratio": "1:1", "outputs": 1}
    response = client.post(reverse("job_create"), data, HTTP_HX_REQUEST="true")
    assert "This needs 2 credits but you have 0 available." in response.content.decode()
    assert not user.jobs.exists()


@pytest.mark.parametrize(("verification", "waits"), [("optional", "True"), ("mandatory", "True"), ("none", "False")])
def test_the_bonus_waits_by_default_whenever_e_mails_are_verified(verification, waits):
    code = "from django.conf import settings as s; print(s.MIRSAM_SIGNUP_BONUS_AFTER_VERIFICATION)"
    env = {"DJANGO_SETTINGS_MODULE": "config.settings", "ACCOUNT_EMAIL_VERIFICATION": verification, "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == waits


def test_the_language_cookie_follows_the_cookie_settings(client, settings):
    settings.LANGUAGE_COOKIE_SECURE = True
    response = client.post(reverse("language_set"), {"language": "ar", "next": "/"})
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "ar" and cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
