"""The API keys and webhooks sections of the account page: make a key (its
secret shown once, on the answer to the form, never again) and revoke one
after a confirmation; register a webhook endpoint (its signing secret shown
once too), see its deliveries, send it a test event, turn it back on, delete
it. Owner only: another user's key or endpoint is 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest

from .errors import ApiError
from .models import ApiKey, WebhookEndpoint
from .selectors import webhook_deliveries_for_endpoint
from .services import api_key_create, api_key_revoke
from .webhooks import (
    WebhookError,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_enable,
    webhook_ping,
)


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


# --- webhooks ---------------------------------------------------------------------------

DELIVERIES_PER_PAGE = 25


def _endpoint_for(request: AuthedRequest, endpoint_id: int) -> WebhookEndpoint:
    """The signed-in user's endpoint ``endpoint_id``; anyone else's is 404."""
    return get_object_or_404(WebhookEndpoint, pk=endpoint_id, user=request.user)


@login_required
@require_POST
def webhook_create(request: AuthedRequest) -> HttpResponse:
    """Register an endpoint from the account page's form (``url``,
    ``description``); the answer shows its signing secret once and is never
    kept by a cache. A refused URL goes back to the form with the reason."""
    try:
        endpoint = webhook_endpoint_create(
            user=request.user, url=request.POST.get("url", ""), description=request.POST.get("description", "")
        )
    except WebhookError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("account_settings") + "#webhooks")
    response = render(request, "api/webhook_created.html", {"endpoint": endpoint})
    response["Cache-Control"] = "no-store"
    return response


@login_required
def webhook_detail(request: AuthedRequest, endpoint_id: int) -> HttpResponse:
    """One endpoint: its state and every delivery, newest first, paginated."""
    endpoint = _endpoint_for(request, endpoint_id)
    page = Paginator(webhook_deliveries_for_endpoint(endpoint=endpoint), DELIVERIES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "api/webhook_detail.html", {"endpoint": endpoint, "page": page})


@login_required
@require_POST
def webhook_test(request: AuthedRequest, endpoint_id: int) -> HttpResponse:
    """Send a test event (``ping``) to the endpoint."""
    endpoint = _endpoint_for(request, endpoint_id)
    webhook_ping(endpoint=endpoint)
    messages.success(request, _("A test event was sent. Its delivery is listed below."))
    return redirect("api_webhook_detail", endpoint.pk)


@login_required
@require_POST
def webhook_enable(request: AuthedRequest, endpoint_id: int) -> HttpResponse:
    """Turn a turned-off endpoint back on."""
    endpoint = webhook_endpoint_enable(endpoint=_endpoint_for(request, endpoint_id))
    messages.success(request, _("The endpoint is on again."))
    return redirect("api_webhook_detail", endpoint.pk)


@login_required
def webhook_delete(request: AuthedRequest, endpoint_id: int) -> HttpResponse:
    """GET asks to confirm; POST deletes the endpoint and its deliveries."""
    endpoint = _endpoint_for(request, endpoint_id)
    if request.method == "POST":
        webhook_endpoint_delete(endpoint=endpoint)
        messages.success(request, _("The webhook endpoint was deleted."))
        return redirect(reverse("account_settings") + "#webhooks")
    return render(request, "api/webhook_delete.html", {"endpoint": endpoint})
