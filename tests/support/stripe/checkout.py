"""Checkout Sessions: POST /v1/checkout/sessions with its validation, line
items, what happens when the customer pays (or a delayed payment settles, or
the session expires), and the hosted Checkout page."""

from __future__ import annotations

import copy
import html
from typing import Any

from . import customers, events, payments, products, subscriptions
from .errors import as_int, as_url, bad, check_metadata, required
from .pages import Reply, page
from .store import CHECKOUT_LOCALES, Store, rand


def create_checkout_session(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/checkout/sessions: validated as Stripe validates ``mode``,
    ``line_items``, ``customer``/``customer_email``, ``locale``, URLs and
    metadata; ``url`` is the stand-in's hosted page (:func:`checkout_page`)."""
    mode = params.get("mode")
    if mode is None:
        raise required("mode")
    if mode not in ("payment", "subscription", "setup"):
        raise bad("Invalid mode: must be one of payment, setup, or subscription", "mode")
    if mode != "payment" and "payment_intent_data" in params:
        raise bad(f"You can not pass `payment_intent_data` in `{mode}` mode.", "payment_intent_data")
    if mode != "subscription" and "subscription_data" in params:
        raise bad(f"You can not pass `subscription_data` in `{mode}` mode.", "subscription_data")
    if params.get("customer") and params.get("customer_email"):
        raise bad(
            "You may only specify one of these parameters: customer, customer_email.",
            "customer",
            "parameters_exclusive",
        )
    customer = params.get("customer")
    if customer:
        store.find("customer", customer, "customer", 400)
    locale = params.get("locale")
    if locale is not None and locale not in CHECKOUT_LOCALES:
        raise bad(f"Invalid locale: must be one of {', '.join(sorted(CHECKOUT_LOCALES))}", "locale")
    for url_param in ("success_url", "cancel_url"):
        if params.get(url_param) is not None:
            as_url(params[url_param], url_param)
    metadata = check_metadata(params.get("metadata"))
    for sub in ("payment_intent_data", "subscription_data"):
        if isinstance(params.get(sub), dict) and "metadata" in params[sub]:
            check_metadata(params[sub]["metadata"], f"{sub}[metadata]")
    ref = params.get("client_reference_id")
    if ref is not None and len(str(ref)) > 200:
        raise bad("client_reference_id must be at most 200 characters", "client_reference_id")
    line_items = checkout_line_items(store, params, mode)
    amount = sum(li["amount_total"] for li in line_items)
    currency = line_items[0]["currency"] if line_items else params.get("currency")
    session = store.base("checkout.session", "cs_test_", metadata=metadata)
    created = session["created"]
    session.update(
        {
            "adaptive_pricing": {"enabled": False},
            "after_expiration": None,
            "allow_promotion_codes": params.get("allow_promotion_codes"),
            "amount_subtotal": amount,
            "amount_total": amount,
            "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
            "billing_address_collection": params.get("billing_address_collection"),
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": ref,
            "client_secret": None,
            "consent": None,
            "consent_collection": params.get("consent_collection"),
            "currency": currency,
            "custom_fields": [],
            "custom_text": {
                "after_submit": None,
                "shipping_address": None,
                "submit": None,
                "terms_of_service_acceptance": None,
            },
            "customer": customer or None,
            "customer_creation": (params.get("customer_creation") or "if_required")
            if mode == "payment" and not customer
            else None,
            "customer_details": None,
            "customer_email": params.get("customer_email"),
            "discounts": [],
            "expires_at": as_int(params.get("expires_at", created + 86400), "expires_at"),
            "invoice": None,
            "invoice_creation": {
                "enabled": False,
                "invoice_data": {
                    "account_tax_ids": None,
                    "custom_fields": None,
                    "description": None,
                    "footer": None,
                    "issuer": None,
                    "metadata": {},
                    "rendering_options": None,
                },
            }
            if mode == "payment"
            else None,
            "locale": locale,
            "mode": mode,
            "payment_intent": None,
            "payment_link": None,
            "payment_method_collection": "always" if mode == "subscription" else None,
            "payment_method_configuration_details": None,
            "payment_method_options": {},
            "payment_method_types": params.get("payment_method_types") or ["card"],
            "payment_status": "no_payment_required" if mode == "setup" else "unpaid",
            "phone_number_collection": {"enabled": False},
            "recovered_from": None,
            "saved_payment_method_options": None,
            "setup_intent": None,
            "shipping_address_collection": None,
            "shipping_cost": None,
            "shipping_options": [],
            "status": "open",
            "submit_type": params.get("submit_type"),
            "subscription": None,
            "success_url": params.get("success_url"),
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": params.get("ui_mode", "hosted"),
            "url": None,
            "wallet_options": None,
        }
    )
    session["url"] = f"{store.url}/c/pay/{session['id']}"
    # Kept for complete_session (Stripe does not echo these on the session object).
    session_extra = {
        "payment_intent_data": params.get("payment_intent_data") or {},
        "subscription_data": params.get("subscription_data") or {},
    }
    store.session_extra[session["id"]] = session_extra
    store.line_items[session["id"]] = line_items
    return store.store(session)


def checkout_line_items(store: Store, params: dict[str, Any], mode: str) -> list[dict[str, Any]]:
    """The session's line items from ``line_items`` (``price`` or ad-hoc ``price_data``, whose price Stripe archives),
    validated per ``mode``."""
    raw = params.get("line_items")
    if mode == "setup":
        return []
    if not raw:
        raise required("line_items")
    if not isinstance(raw, list):
        raise bad("Invalid array", "line_items")
    items = []
    for i, entry in enumerate(raw):
        where = f"line_items[{i}]"
        if not isinstance(entry, dict):
            raise bad("Invalid object", where)
        if entry.get("price"):
            price = store.find("price", entry["price"], f"{where}[price]", 400)
            if not price.get("active", True):
                raise bad("The price specified is inactive. This field only accepts active prices.", f"{where}[price]")
        elif isinstance(entry.get("price_data"), dict):
            data = dict(entry["price_data"])
            if "product" not in data and "product_data" not in data:
                raise bad(
                    "You must specify either `product` or `product_data` when creating a price.",
                    f"{where}[price_data]",
                )
            price = products.create_price(store, data)
            price["active"] = False  # Stripe archives ad-hoc prices
        else:
            raise bad("You must specify either `price` or `price_data`.", where)
        if "quantity" not in entry:
            raise required(f"{where}[quantity]")
        quantity = as_int(entry["quantity"], f"{where}[quantity]")
        if quantity < 1:
            raise bad("This value must be greater than or equal to 1.", f"{where}[quantity]")
        if mode == "payment" and price["type"] == "recurring":
            raise bad(
                "You specified `payment` mode but passed a recurring price. Either switch to "
                "`subscription` mode or use only one-time prices.",
                f"{where}[price]",
            )
        product = store.objects.get(price["product"], {})
        total = price["unit_amount"] * quantity
        items.append(
            {
                "id": f"li_{rand()}",
                "object": "item",
                "amount_discount": 0,
                "amount_subtotal": total,
                "amount_tax": 0,
                "amount_total": total,
                "currency": price["currency"],
                "description": product.get("name"),
                "price": copy.deepcopy(price),
                "quantity": quantity,
            }
        )
    if mode == "subscription" and not any(li["price"]["type"] == "recurring" for li in items):
        raise bad(
            "You must provide at least one recurring price in `subscription` mode when using prices.", "line_items"
        )
    return items


def complete_session(store: Store, session_id: str, *, paid: bool = True, email: str | None = None) -> dict[str, Any]:
    """What Stripe does when the customer pays on the hosted page.

    payment mode: PaymentIntent (metadata from payment_intent_data[metadata]) and, when ``paid``, a
    Charge; ``paid=False`` models a delayed method (payment_status "unpaid", PI "processing"; finish
    it with ``complete_async_payment``). subscription mode: a Subscription (metadata from
    subscription_data[metadata]) and its first Invoice via ``pay_invoice``. Returns the session.
    """
    with store.lock:
        session = store.require("checkout.session", session_id)
        if session["status"] != "open":
            raise ValueError(f"checkout session {session_id} is {session['status']}, not open")
        extra = store.session_extra.get(session_id, {})
        mode = session["mode"]
        customer_id = session.get("customer")
        if customer_id is None and (mode == "subscription" or session.get("customer_creation") == "always"):
            customer_id = customers.create_customer(
                store, {"email": email or session.get("customer_email") or "customer@example.com"}
            )["id"]
            session["customer"] = customer_id
        customer = store.objects.get(customer_id) if customer_id else None
        buyer_email = email or (customer or {}).get("email") or session.get("customer_email") or "customer@example.com"
        session["customer_details"] = {
            "address": {
                "city": None,
                "country": "US",
                "line1": None,
                "line2": None,
                "postal_code": "10001",
                "state": None,
            },
            "business_name": None,
            "email": buyer_email,
            "individual_name": None,
            "name": (customer or {}).get("name"),
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        }
        session["status"] = "complete"
        if mode == "payment":
            pi_data = extra.get("payment_intent_data") or {}
            pm = payments.payment_method(store, customer_id, buyer_email)
            pi = payments.payment_intent(
                store,
                amount=session["amount_total"],
                currency=session["currency"],
                customer=customer_id,
                pm=pm,
                metadata=check_metadata(pi_data.get("metadata")),
                description=pi_data.get("description"),
                status="succeeded" if paid else "processing",
            )
            session["payment_intent"] = pi["id"]
            if paid:
                payments.charge(store, pi, buyer_email)
            session["payment_status"] = "paid" if paid else "unpaid"
        elif mode == "subscription":
            sub = subscriptions.subscription_for_session(
                store, session, customer_id, extra.get("subscription_data") or {}
            )
            session["subscription"] = sub["id"]
            start = sub["items"]["data"][0]["current_period_start"]
            end = sub["items"]["data"][0]["current_period_end"]
            invoice = subscriptions.invoice_for_period(store, sub["id"], start, end, paid=paid, email=buyer_email)
            session["invoice"] = invoice["id"]
            session["payment_status"] = "paid" if paid else "unpaid"
        else:
            session["payment_status"] = "no_payment_required"
        return copy.deepcopy(session)


def complete_async_payment(store: Store, session_id: str, *, succeeded: bool = True) -> dict[str, Any]:
    """Settle a delayed payment (``complete_session(paid=False)``): the state behind
    checkout.session.async_payment_succeeded / _failed. Returns the session."""
    with store.lock:
        session = store.require("checkout.session", session_id)
        if session["status"] != "complete" or session["payment_status"] != "unpaid":
            raise ValueError(f"checkout session {session_id} has no pending payment")
        if session["mode"] != "payment":
            raise ValueError("complete_async_payment supports payment mode sessions")
        pi = store.objects[session["payment_intent"]]
        if succeeded:
            payments.charge(store, pi, session["customer_details"]["email"])
            session["payment_status"] = "paid"
        else:
            pi["status"] = "requires_payment_method"
            pi["last_payment_error"] = {
                "code": "payment_intent_payment_attempt_failed",
                "message": "The payment failed.",
                "type": "invalid_request_error",
            }
        return copy.deepcopy(session)


def expire_session(store: Store, session_id: str) -> dict[str, Any]:
    """Stripe's expiry (or POST .../expire): status "expired", url None."""
    with store.lock:
        session = store.require("checkout.session", session_id)
        if session["status"] != "open":
            raise ValueError(f"checkout session {session_id} is {session['status']}, not open")
        session["status"] = "expired"
        session["url"] = None
        return copy.deepcopy(session)


def checkout_page(store: Store, method: str, session_id: str, tail: list[str]) -> Reply:
    """The hosted Checkout page: GET shows the amount and a Pay button; POST
    .../complete pays (:func:`complete_session`), delivers the events when a
    webhook is set (:func:`events_for_completion`) and redirects to ``success_url``."""
    with store.lock:
        session = store.objects.get(session_id)
        if session is None or session.get("object") != "checkout.session":
            return page(404, "Not found", "<p>Unknown Checkout Session.</p>")
        session = copy.deepcopy(session)
    if method == "GET" and not tail:
        amount = session.get("amount_total") or 0
        status = html.escape(f"{session['status']}/{session['payment_status']}")
        cancel = html.escape(session.get("cancel_url") or "#")
        body = (
            f"<p id='session-id'>{html.escape(session_id)}</p>"
            f"<p id='amount'>{amount / 100:.2f} {html.escape((session.get('currency') or '').upper())}</p>"
            f"<p id='status'>{status}</p>"
            f"<form method='post' action='/c/pay/{html.escape(session_id)}/complete'>"
            f"<button id='pay' type='submit'>Pay</button></form>"
            f"<a id='cancel' href='{cancel}'>Cancel</a>"
        )
        return page(200, "Stand-in Checkout", body)
    if method == "POST" and tail == ["complete"]:
        if session["status"] != "open":
            return page(409, "Stand-in Checkout", f"<p>Session is {html.escape(session['status'])}.</p>")
        done = complete_session(store, session_id)
        if store.webhook_url and store.webhook_secret:
            for event in events_for_completion(store, done):
                events.deliver(store, event)
        target = (done.get("success_url") or "").replace("{CHECKOUT_SESSION_ID}", session_id)
        if target:
            return Reply(303, b"", content_type="text/html; charset=utf-8", headers={"Location": target})
        return page(200, "Stand-in Checkout", "<p id='done'>Payment complete.</p>")
    return page(404, "Not found", "<p>Unknown checkout action.</p>")


def events_for_completion(store: Store, session: dict[str, Any]) -> list[dict[str, Any]]:
    """The events Stripe sends after a hosted payment, in order, stored."""
    out = []
    with store.lock:
        if session.get("subscription"):
            out.append(events.store_event(store, "customer.subscription.created", store.get(session["subscription"])))
        if session.get("invoice"):
            invoice = store.get(session["invoice"])
            out.append(events.store_event(store, "invoice.paid", invoice))
        out.append(events.store_event(store, "checkout.session.completed", session))
    return out
