from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import translate_url
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language_from_path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from api.models import Scope
from api.selectors import api_keys_for_user, webhook_endpoints_for_user

from .http import AuthedRequest
from .services import user_language_set


def _translate_path(path: str, language: str) -> str:
    """``path`` in ``language``, whatever language its own prefix is in
    (``translate_url`` alone only resolves paths of the active language)."""
    with translation.override(get_language_from_path(path) or settings.LANGUAGE_CODE):
        return translate_url(path, language)


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Switch the interface language, remember it on the signed-in user, and
    go back to the same page in that language."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    if language not in dict(settings.LANGUAGES):
        return redirect(next_url)
    if request.user.is_authenticated:
        user_language_set(user=request.user, language=language)
    response = redirect(_translate_path(next_url, language))
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite="Lax",
    )
    return response


@login_required
def account_settings(request: AuthedRequest) -> HttpResponse:
    if request.method == "POST":
        user_language_set(user=request.user, language=request.POST.get("language", ""))
        language = request.user.preferred_language
        with translation.override(language):
            messages.success(request, _("Your settings were saved."))
        return redirect(_translate_path(request.path, language))
    return render(
        request,
        "accounts/settings.html",
        {
            "languages": settings.LANGUAGES,
            "api_keys": api_keys_for_user(user=request.user),
            "api_scopes": Scope.choices,
            "webhook_endpoints": webhook_endpoints_for_user(user=request.user),
            "webhook_limit": settings.MIRSAM_WEBHOOK_MAX_ENDPOINTS,
        },
    )
