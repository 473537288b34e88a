from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.core import context as allauth_context
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp, SocialLogin
from django import forms
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from .mail import mail_queue
from .models import User
from .services import user_email_verified, user_language_set, user_signed_up


class AccountAdapter(DefaultAccountAdapter):
    """Grants the sign-up bonus (at sign-up, or once the e-mail is confirmed)
    and sends people to their own language."""

    def save_user(self, request: HttpRequest, user: User, form: forms.Form, commit: bool = True) -> User:
        user = super().save_user(request, user, form, commit=False)
        user.preferred_language = translation.get_language() or user.preferred_language
        if commit:
            user.save()
            user_signed_up(user=user)
        return user

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """allauth's e-mails (address confirmation, password reset, …) in the
        recipient's language: the account's ``preferred_language`` when the
        address has one, else the language of the page that asked; rendered
        as text and as HTML in the site's layout, and sent from Celery after
        commit (``accounts.mail``), so a failing mail server fails nothing."""
        user = context.get("user")
        if not isinstance(user, User):
            user = User.objects.filter(email__iexact=email).first()
        language = user.preferred_language if user is not None else translation.get_language()
        with translation.override(language or settings.LANGUAGE_CODE):
            request = allauth_context.request
            message = self.render_mail(
                template_prefix,
                email,
                {"request": request, "email": email, "current_site": get_current_site(request), **context},
            )
        mail_queue(message)

    def format_email_subject(self, subject: str) -> str:
        return f"{_('Mirsam')} · {subject}"

    def confirm_email(self, request: HttpRequest, email_address: EmailAddress) -> bool:
        confirmed = bool(super().confirm_email(request, email_address))
        if confirmed:
            user_email_verified(user=email_address.user)
        return confirmed

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        user = request.user
        language = getattr(user, "preferred_language", None)
        if language:
            with translation.override(language):
                return reverse("dashboard")
        return super().get_login_redirect_url(request)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """A new account made by signing in with Google gets what a sign-up
    with a password gets: the interface language it signed up in and the
    sign-up bonus (its address is verified by Google, so the bonus is not
    held back for a confirmation)."""

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: forms.Form | None = None) -> User:
        user = sociallogin.user
        user.preferred_language = translation.get_language() or user.preferred_language
        saved: User = super().save_user(request, sociallogin, form)
        user_signed_up(user=saved)
        return saved

    def get_provider(self, request: HttpRequest, provider: str, client_id: str | None = None) -> Any:
        """allauth's lookup, but a provider with no app configured here
        (``GOOGLE_CLIENT_ID`` / ``_SECRET`` unset) is a 404, not a 500: its
        buttons are hidden and its URLs answer as if they did not exist."""
        try:
            return super().get_provider(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist as exc:
            raise Http404(provider) from exc


__all__ = ["AccountAdapter", "SocialAccountAdapter", "user_language_set"]
