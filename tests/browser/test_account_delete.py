"""Deleting an account in Arabic in Debian's Chromium: from Settings, the
page right-to-left, the wrong password refused with an Arabic error, the
right one deletes, signs out and lands on the landing page; signing in with
the old password then fails."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from tests.factories import UserFactory
from tests.support.accounts import fund
from tests.support.browser import sign_in

PASSWORD = "pass-word-123"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_user_in_arabic_deletes_their_account_and_cannot_sign_in_again(page, live_server):
    user = UserFactory(email="leaving@example.com", preferred_language="ar")
    fund(user, 30)
    base = live_server.url
    sign_in(page, base, user.email, PASSWORD, prefix="/ar")

    page.goto(f"{base}/ar/account/settings/")
    page.locator("#your-data a.btn-danger").click()
    page.wait_for_url(re.compile(r".*/ar/account/delete/$"))
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("main h1")).to_have_text("احذف حسابك")

    page.fill("main form input[name=password]", "not-the-password")
    page.locator("main form button.btn-danger").click()
    expect(page.locator("main .field__error")).to_be_visible()
    assert User.objects.get(pk=user.pk).deleted_at is None

    page.fill("main form input[name=password]", PASSWORD)
    page.locator("main form button.btn-danger").click()
    page.wait_for_url(re.compile(r".*/ar/$"))
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_text("حُذف حسابك")).to_be_visible()
    assert User.objects.get(pk=user.pk).deleted_at is not None

    page.goto(f"{base}/ar/accounts/login/")
    page.fill("input[name=login]", "leaving@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form [type=submit]").first.click()
    page.wait_for_load_state()
    assert "/accounts/login/" in page.url  # still on the sign-in page
    expect(page.locator("main .field__error, main .errorlist, main [role=alert]").first).to_be_visible()
    page.goto(f"{base}/ar/account/settings/")
    assert "/accounts/login/" in page.url  # not signed in
