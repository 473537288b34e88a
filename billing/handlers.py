"""dj-stripe webhook receivers: verified events → billing services.

dj-stripe verifies the signature, stores the Event (a replayed event id is
not processed again) and runs these inside its transaction after its own
handlers; an exception rolls everything back and answers 500, so Stripe
delivers the event again (docs/stack.md §1). The payload is read from
``event.data["object"]`` because dj-stripe 2.11 misreads some dahlia fields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from djstripe.event_handlers import djstripe_receiver

from . import services

log = logging.getLogger(__name__)

# A receiver of dj-stripe webhook signals: ``(sender, event, **kwargs)``, the
# event a ``djstripe.models.Event``.
_Handler = TypeVar("_Handler", bound=Callable[..., None])


def webhook_receiver(signal_names: str | list[str]) -> Callable[[_Handler], _Handler]:
    """dj-stripe's ``djstripe_receiver`` with a type (dj-stripe has none): it
    connects the handler to the named webhook signals and returns it unchanged."""
    decorator: Callable[[_Handler], _Handler] = djstripe_receiver(signal_names)
    return decorator


def _object(event: Any) -> dict[str, Any]:
    obj: dict[str, Any] = (event.data or {}).get("object") or {}
    return obj


@webhook_receiver(["checkout.session.completed", "checkout.session.async_payment_succeeded"])
def grant_paid_checkout(sender: Any, event: Any, **kwargs: Any) -> None:
    services.purchase_from_session(session=_object(event))


@webhook_receiver("checkout.session.async_payment_failed")
def note_failed_checkout(sender: Any, event: Any, **kwargs: Any) -> None:
    log.info("delayed payment failed for checkout session %s: nothing granted", _object(event).get("id"))


@webhook_receiver("invoice.paid")
def grant_paid_invoice(sender: Any, event: Any, **kwargs: Any) -> None:
    services.purchase_from_invoice(invoice=_object(event))


@webhook_receiver("invoice.payment_failed")
def tell_failed_renewal(sender: Any, event: Any, **kwargs: Any) -> None:
    services.renewal_payment_failed(invoice=_object(event))


@webhook_receiver("charge.refunded")
def revoke_refunded_charge(sender: Any, event: Any, **kwargs: Any) -> None:
    services.revoke_for_refund(charge=_object(event))


@webhook_receiver("charge.dispute.created")
def freeze_disputed_credits(sender: Any, event: Any, **kwargs: Any) -> None:
    services.dispute_freeze(dispute=_object(event))


@webhook_receiver("charge.dispute.closed")
def revoke_lost_dispute(sender: Any, event: Any, **kwargs: Any) -> None:
    services.revoke_for_dispute(dispute=_object(event))
