"""allauth's e-mails: the recipient's language, the site's layout (HTML with
dir and a plain-text part), sent from Celery after commit, and a failing mail
server or broker never breaks the action."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation

from accounts import tasks
from accounts.models import User
from tests.support import mail as failing

pytestmark = pytest.mark.django_db


def _sign_up(client: Client, email: str, language: str) -> object:
    with translation.override(language):
        url = reverse("account_signup")
    return client.post(url, {"email": email, "password1": "a long passphrase 7", "password2": "a long passphrase 7"})


def _html(message: mail.EmailMultiAlternatives) -> str:
    return next(str(content) for content, mimetype in message.alternatives if mimetype == "text/html")


def test_the_confirmation_leaves_after_commit_in_the_language_of_the_sign_up(
    client: Client, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _sign_up(client, "huda@example.com", "ar")
        assert response.status_code == 302
        assert mail.outbox == []  # nothing is sent inside the transaction
    for callback in callbacks:
        callback()
    [message] = mail.outbox
    assert message.to == ["huda@example.com"]
    assert message.subject.startswith("مرسم · ")
    assert "مرسم" in message.body and "http" in message.body  # the plain-text part with the link
    html = _html(message)
    assert 'lang="ar"' in html and 'dir="rtl"' in html
    assert "/ar/accounts/confirm-email/" in html


@pytest.mark.parametrize(("language", "direction"), [("ar", "rtl"), ("en", "ltr")])
def test_a_password_reset_is_written_in_the_account_holders_language(
    client: Client, django_capture_on_commit_callbacks, language: str, direction: str
) -> None:
    user = User.objects.create_user(username="r", email="rana@example.com", password="old passphrase 1")
    user.preferred_language = language
    user.save()
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": "rana@example.com"})  # asked from the English page
    [message] = mail.outbox
    html = _html(message)
    assert f'dir="{direction}"' in html and f'lang="{language}"' in html
    assert ("كلمة" in message.body) == (language == "ar")
    assert "username" not in message.body.lower()  # usernames are generated and never shown


@override_settings(
    EMAIL_BACKEND="tests.support.mail.FailingBackend", MIRSAM_MAIL_RETRIES=3, MIRSAM_MAIL_RETRY_SECONDS=30
)
def test_a_failing_mail_server_is_retried_with_backoff_and_never_breaks_the_sign_up(
    client: Client, django_capture_on_commit_callbacks, caplog: pytest.LogCaptureFixture, monkeypatch
) -> None:
    failing.attempts.clear()
    retries: list[int] = []
    monkeypatch.setattr(tasks.mail_send_task, "retry", lambda **kw: retries.append(kw["countdown"]))
    with django_capture_on_commit_callbacks(execute=True):
        response = _sign_up(client, "fadi@example.com", "en")
    assert response.status_code == 302
    assert User.objects.filter(email="fadi@example.com").exists()
    assert len(failing.attempts) == 1 and retries == [30]
    parts = {"subject": "s", "body": "b", "from_email": "f@example.com", "to": ["fadi@example.com"], "html": ""}
    assert tasks.mail_send_task.apply((parts,), retries=2).get() is False
    assert retries == [30, 120]  # 30 s × 2ⁿ
    assert tasks.mail_send_task.apply((parts,), retries=3).get() is False  # the last attempt
    assert retries == [30, 120] and "lost after 4 attempts" in caplog.text


def test_a_broker_that_refuses_the_task_never_breaks_the_sign_up(
    client: Client, django_capture_on_commit_callbacks, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.mail_send_task, "delay", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        response = _sign_up(client, "ziad@example.com", "en")
    assert response.status_code == 302
    assert User.objects.filter(email="ziad@example.com").exists()
