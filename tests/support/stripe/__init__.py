"""A local stand-in for the Stripe API (v1, dahlia shapes) for offline tests.

The real ``stripe`` library (and dj-stripe through it) talks to this server over
HTTP exactly as it would talk to api.stripe.com: form-encoded bodies with
Stripe's bracket notation in, JSON objects and Stripe error bodies out.

    from tests.support.stripe import make_event, sign_event

    def test_x(stripe_standin):                  # the fixture (tests/billing/fixtures.py)
        session = stripe.checkout.Session.create(api_key=KEY, mode="payment", ...)
        paid = stripe_standin.complete_session(session.id)     # what Stripe would do
        event = make_event("checkout.session.completed", paid)
        payload, header = sign_event(event, "whsec_t")         # -> POST to the webhook view

State lives in ``standin.objects`` (id -> JSON-ready dict). Scenario helpers
return deep copies (snapshots) so an event built from one keeps that state.
Every request, including unexpected ones, is in ``standin.requests``.

The public API is what this package exports: :class:`StripeStandIn` (the
server and its scenario helpers), :func:`make_event`, :func:`sign_event`,
:func:`sign_payload`, :func:`decode_form`, :class:`RecordedRequest`,
:class:`StripeAPIError` and the constants. The modules behind it, one per
thing Stripe does:

* ``server`` — StripeStandIn: the threaded HTTP server and the scenario helpers;
* ``api`` — a request recorded, authenticated, replayed (Idempotency-Key), routed;
* ``lists`` — list endpoints, filters, pagination, ``expand[]``;
* ``store`` — the state, the clock, ids and storage primitives;
* ``forms`` / ``errors`` — bracket-notation forms; error bodies and parameter checks;
* ``customers`` — the account, customers, the Customer Portal;
* ``products`` — products and prices;
* ``checkout`` — Checkout Sessions and the hosted Checkout page;
* ``subscriptions`` — subscriptions and their invoices;
* ``payments`` — payment methods, PaymentIntents, charges, refunds, disputes;
* ``events`` — Event objects, ``Stripe-Signature``, webhook delivery;
* ``pages`` — the HTTP reply type and the hosted pages' HTML.
"""

from __future__ import annotations

from .api import RecordedRequest
from .errors import StripeAPIError
from .events import make_event, sign_event, sign_payload
from .forms import decode_form, decode_query
from .server import StripeStandIn
from .store import ACCOUNT_ID, CHECKOUT_LOCALES, DEFAULT_API_VERSION, PORTAL_LOCALES, RESOURCES

__all__ = [
    "ACCOUNT_ID",
    "CHECKOUT_LOCALES",
    "DEFAULT_API_VERSION",
    "PORTAL_LOCALES",
    "RESOURCES",
    "RecordedRequest",
    "StripeAPIError",
    "StripeStandIn",
    "decode_form",
    "decode_query",
    "make_event",
    "sign_event",
    "sign_payload",
]
