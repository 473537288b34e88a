"""Stripe's webhook endpoint: dj-stripe's view behind a signature check.

dj-stripe's ``ProcessWebhookView`` stores a ``WebhookEventTrigger`` row for
every POST that carries a ``Stripe-Signature`` header before it checks the
signature, so anyone could fill the table with junk; and with ``DEBUG`` on it
takes the secret from the request's own ``X-Djstripe-Webhook-Secret`` header
(docs/stack.md §1), so on the embedded default anyone could sign an event with
a secret of their choosing and be granted credits. Here the signature is
checked first against the endpoint's stored secret, exactly as Stripe signs
(``Stripe-Signature: t=<unix s>,v1=<HMAC-SHA256(secret, "<t>.<body>")>``,
within the endpoint's tolerance), that header is dropped, and only then does
dj-stripe see the request. A refused request stores nothing.
"""

from __future__ import annotations

import json
from typing import Any

import stripe
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from djstripe.models import WebhookEndpoint
from djstripe.views import ProcessWebhookView

_djstripe_view = ProcessWebhookView.as_view()


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest, uuid: Any) -> HttpResponse:
    """``POST /stripe/webhook/<endpoint uuid>/``: 404 for an unknown endpoint,
    400 (nothing stored) for a missing or wrong signature, 200 with a
    :class:`~billing.models.PaymentIssue` for an event naming an object Stripe
    says does not exist (``resource_missing``), else what dj-stripe answers
    (200, or 500 so that Stripe delivers again)."""
    endpoint = get_object_or_404(WebhookEndpoint, djstripe_uuid=uuid)
    if endpoint.djstripe_validation_method != "retrieve_event":  # that one asks Stripe for the event itself
        try:
            stripe.WebhookSignature.verify_header(
                request.body.decode("utf-8"),
                request.headers.get("Stripe-Signature", ""),
                endpoint.secret,
                endpoint.djstripe_tolerance,
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError):
            return HttpResponseBadRequest()
    request.META.pop("HTTP_X_DJSTRIPE_WEBHOOK_SECRET", None)
    try:
        response: HttpResponse = _djstripe_view(request, uuid=uuid)
    except stripe.InvalidRequestError as exc:
        if exc.code != "resource_missing":
            raise
        # Stripe says an object the event names does not exist (a deleted
        # customer, another account's data): no redelivery can succeed, so
        # answer 200 to stop days of retries, and give staff the event
        # (dj-stripe kept the trigger with its traceback).
        _unprocessable(request.body, exc)
        return HttpResponse("unprocessable: " + (exc.user_message or "missing object"), status=200)
    return response


def _unprocessable(body: bytes, exc: Exception) -> None:
    from .models import PaymentIssue
    from .services import payment_issue_record

    try:
        event = json.loads(body)
    except ValueError:
        return
    obj = (event.get("data") or {}).get("object") or {}
    amount = obj.get("amount_paid") or obj.get("amount_total") or obj.get("amount") or 0
    payment_issue_record(
        kind=PaymentIssue.Kind.UNPROCESSED_EVENT,
        stripe_id=str(event.get("id") or ""),
        user=None,
        amount=amount if isinstance(amount, int) and amount > 0 else 0,
        currency=str(obj.get("currency") or ""),
        detail=f"{event.get('type')}: {exc}",
    )
