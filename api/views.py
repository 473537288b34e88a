"""The API keys section of the account page: make a key (its secret shown
once, on the answer to the form, never again) and revoke one after a
confirmation. Owner only: another user's key is 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest

from .errors import ApiError
from .models import ApiKey
from .services import api_key_create, api_key_revoke


@login_required
@require_POST
def key_create(request: AuthedRequest) -> HttpResponse:
    """Make a key from the account page's form (``name``, ``scopes``); the
    answer shows its secret once and is never kept by a cache."""
    try:
        key, secret = api_key_create(
            user=request.user, name=request.POST.get("name", ""), scopes=request.POST.getlist("scopes")
        )
    except ApiError as exc:
        messages.error(request, exc.message)
        return redirect("account_settings")
    response = render(request, "api/key_created.html", {"key": key, "secret": secret})
    response["Cache-Control"] = "no-store"
    return response


@login_required
def key_revoke(request: AuthedRequest, key_id: int) -> HttpResponse:
    """GET asks to confirm; POST revokes the key at once."""
    key = get_object_or_404(ApiKey, pk=key_id, user=request.user)
    if request.method == "POST":
        api_key_revoke(key=key)
        messages.success(request, _("The key “%(name)s” was revoked.") % {"name": key.name})
        return redirect("account_settings")
    return render(request, "api/key_revoke.html", {"key": key})
