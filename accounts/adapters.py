from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from django import forms
from django.http import HttpRequest
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


__all__ = ["AccountAdapter", "user_language_set"]
