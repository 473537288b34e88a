"""dj-stripe webhook receivers: verified events → billing services.

dj-stripe verifies the signature, stores the Event (a replayed event id is
not processed again) and runs these inside its transaction after its own
handlers; an exception rolls everything back and answers 500, so Stripe
delivers the event again (stack-notes §1). The payload is read from
``event.data["object"]`` because dj-stripe 2.11 misreads some dahlia fields.
"""

from __future__ import annotations

import logging

from djstripe.event_handlers import djstripe_receiver

from . import services

log = logging.getLogger(__name__)


def _object(event) -> dict:  # noqa: ANN001
    return (event.data or {}).get("object") or {}


@djstripe_receiver(["checkout.session.completed", "checkout.session.async_payment_succeeded"])
def grant_paid_checkout(sender, event, **kwargs) -> None:  # noqa: ANN001, ANN003
    services.purchase_from_session(session=_object(event))


@djstripe_receiver("checkout.session.async_payment_failed")
def note_failed_checkout(sender, event, **kwargs) -> None:  # noqa: ANN001, ANN003
    log.info("delayed payment failed for checkout session %s: nothing granted", _object(event).get("id"))


@djstripe_receiver("invoice.paid")
def grant_paid_invoice(sender, event, **kwargs) -> None:  # noqa: ANN001, ANN003
    services.purchase_from_invoice(invoice=_object(event))


@djstripe_receiver("charge.refunded")
def revoke_refunded_charge(sender, event, **kwargs) -> None:  # noqa: ANN001, ANN003
    services.revoke_for_refund(charge=_object(event))


@djstripe_receiver("charge.dispute.closed")
def revoke_lost_dispute(sender, event, **kwargs) -> None:  # noqa: ANN001, ANN003
    services.revoke_for_dispute(dispute=_object(event))
