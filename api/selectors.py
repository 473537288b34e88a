"""Reads of the API app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import OuterRef, QuerySet, Subquery

from .models import ApiKey, WebhookDelivery, WebhookEndpoint

if TYPE_CHECKING:
    from accounts.models import User


def api_keys_for_user(*, user: User) -> QuerySet[ApiKey]:
    """The user's keys, newest first, revoked ones included (they show as revoked)."""
    return ApiKey.objects.filter(user=user).order_by("-created_at", "-id")


def webhook_endpoints_for_user(*, user: User) -> list[WebhookEndpoint]:
    """The user's webhook endpoints, newest first, each with ``last_delivery``
    (its latest attempt, with its event, or None): two queries whatever the history."""
    latest = (
        WebhookDelivery.objects.filter(event__endpoint_id=OuterRef("pk"))
        .order_by("-attempted_at", "-id")
        .values("pk")[:1]
    )
    endpoints: list[WebhookEndpoint] = list(
        WebhookEndpoint.objects.filter(user=user)
        .annotate(last_delivery_id=Subquery(latest))
        .order_by("-created_at", "-id")
    )
    wanted = [e.last_delivery_id for e in endpoints if e.last_delivery_id]  # type: ignore[attr-defined]  # annotated
    deliveries = (
        {d.pk: d for d in WebhookDelivery.objects.filter(pk__in=wanted).select_related("event")} if wanted else {}
    )
    for endpoint in endpoints:
        endpoint.last_delivery = deliveries.get(endpoint.last_delivery_id)  # type: ignore[attr-defined]
    return endpoints


def webhook_deliveries_for_endpoint(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """Every attempt to deliver an event to ``endpoint``, newest first, with its event."""
    return (
        WebhookDelivery.objects.filter(event__endpoint=endpoint)
        .select_related("event")
        .order_by("-attempted_at", "-id")
    )
