from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp, SocialLogin
from django import forms
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils import translation

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
