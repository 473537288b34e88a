from __future__ import annotations

import logging
from typing import Any

import stripe
from celery import Task, shared_task

from . import services
from .models import CreditPack, Plan, Purchase

log = logging.getLogger(__name__)


@shared_task
def reconcile_checkouts_task() -> int:
    """Beat: grant paid Checkout Sessions whose webhook never arrived."""
    if not services.payments_configured():
        return 0
    return services.checkouts_reconcile()


@shared_task(bind=True, max_retries=6)
def offering_sync_task(self: Task[Any, str], kind: str, pk: int) -> str:
    """After an offering is saved: push it to Stripe (services.offering_sync_to_stripe).
    A failure is noted on the row (staff see it; it is not for sale until in
    step) and retried with backoff: 30 s, 60 s, … up to about 30 minutes."""
    model = Plan if kind == "plan" else CreditPack
    offering = model.objects.filter(pk=pk).first()
    if offering is None or not services.payments_configured():
        return "skipped"
    try:
        return services.offering_sync_to_stripe(offering=offering)
    except stripe.StripeError as exc:
        services.offering_sync_failed(offering=offering, error=str(exc) or type(exc).__name__)
        log.warning("syncing %s %s to Stripe failed: %s", kind, pk, exc)
        if self.request.is_eager:  # run in the caller's process: nobody to retry later; staff push again
            return "failed"
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc


@shared_task(bind=True, max_retries=5)
def purchase_fee_task(self: Task[Any, int | None], purchase_pk: int) -> int | None:
    """After a grant: store Stripe's fee for the payment (the finance view
    subtracts it). Retried with backoff while Stripe has no balance
    transaction yet or cannot be reached; the fee is only a report, so
    giving up changes no money."""
    purchase = Purchase.objects.filter(pk=purchase_pk).first()
    if purchase is None or purchase.fee is not None or not services.payments_configured():
        return None
    try:
        fee = services.purchase_fee_fetch(purchase=purchase)
    except (stripe.StripeError, services.BillingError) as exc:
        log.info("fee of purchase %s not read: %s", purchase_pk, exc)
        fee = None
    if fee is None and not self.request.is_eager:
        raise self.retry(countdown=60 * 2**self.request.retries)
    return fee
