"""Staff must have a second factor before they reach the admin."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import get_language_from_path
from django.utils.translation import gettext as _


class StaffSecondFactorMiddleware:
    """A signed-in staff member without a TOTP authenticator who asks for an
    admin page is sent to allauth's TOTP set-up first (allauth then asks
    for the code at every later login)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff and self._is_admin(request.path):
            from allauth.mfa.utils import is_mfa_enabled

            if not is_mfa_enabled(user, ["totp"]):
                messages.warning(request, _("Staff accounts need a second factor. Set up an authenticator app first."))
                return HttpResponseRedirect(
                    f"{reverse('mfa_activate_totp')}?{urlencode({'next': request.get_full_path()})}"
                )
        return self.get_response(request)

    @staticmethod
    def _is_admin(path: str) -> bool:
        language = get_language_from_path(path)
        if language and path.startswith(f"/{language}/"):
            path = path[len(language) + 1 :]
        return path.startswith("/" + settings.ADMIN_URL)
