"""Subscriptions and their invoices (dahlia shapes): the subscription a
Checkout Session makes, an invoice per period with its PaymentIntent, Charge
and InvoicePayment, failed renewals, and cancellation."""

from __future__ import annotations

import calendar
import copy
import datetime as dt
from typing import Any

from . import payments
from .errors import check_metadata
from .store import Store, rand


def add_interval(ts: int, interval: str, count: int = 1) -> int:
    """``ts`` plus ``count`` days, weeks, months or years (months clamp to the month's last day), UTC."""
    if interval == "day":
        return ts + 86400 * count
    if interval == "week":
        return ts + 7 * 86400 * count
    start = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    months = count * (12 if interval == "year" else 1)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def subscription_for_session(
    store: Store, session: dict[str, Any], customer_id: str | None, sub_data: dict[str, Any]
) -> dict[str, Any]:
    """An "incomplete" Subscription for a completed subscription-mode session
    (one item per recurring line item; metadata from ``subscription_data``)."""
    now = store.now()
    sub = store.base("subscription", "sub_", metadata=check_metadata(sub_data.get("metadata")))
    items = []
    for li in store.line_items.get(session["id"], []):
        price = li["price"]
        if price["type"] != "recurring":
            continue
        rec = price["recurring"]
        si = store.base("subscription_item", "si_", metadata={})
        si.update(
            {
                "billing_thresholds": None,
                "current_period_end": add_interval(now, rec["interval"], rec["interval_count"]),
                "current_period_start": now,
                "discounts": [],
                "price": copy.deepcopy(store.objects.get(price["id"], price)),
                "quantity": li["quantity"],
                "subscription": sub["id"],
                "tax_rates": [],
            }
        )
        items.append(store.store(si))
    pm = payments.payment_method(store, customer_id, None)
    sub.update(
        {
            "application": None,
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": now,
            "billing_cycle_anchor_config": None,
            "billing_mode": {"flexible": None, "type": "classic"},
            "billing_thresholds": None,
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically",
            "currency": session["currency"],
            "customer": customer_id,
            "days_until_due": None,
            "default_payment_method": pm["id"],
            "default_source": None,
            "default_tax_rates": [],
            "description": sub_data.get("description"),
            "discounts": [],
            "ended_at": None,
            "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
            "items": {},
            "latest_invoice": None,
            "next_pending_invoice_item_invoice": None,
            "on_behalf_of": None,
            "pause_collection": None,
            "payment_settings": {
                "payment_method_options": None,
                "payment_method_types": None,
                "save_default_payment_method": "off",
            },
            "pending_invoice_item_interval": None,
            "pending_setup_intent": None,
            "pending_update": None,
            "schedule": None,
            "start_date": now,
            "status": "incomplete",
            "test_clock": None,
            "transfer_data": None,
            "trial_end": None,
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": None,
        }
    )
    store.store(sub)
    sync_items(store, sub)
    return sub


def sync_items(store: Store, sub: dict[str, Any]) -> None:
    """Copy the subscription's items into ``sub["items"]`` (a list object)."""
    items = [o for o in store.ordered("subscription_item") if o["subscription"] == sub["id"]]
    sub["items"] = {
        "object": "list",
        "data": copy.deepcopy(items),
        "has_more": False,
        "total_count": len(items),
        "url": f"/v1/subscription_items?subscription={sub['id']}",
    }


def pay_invoice(
    store: Store,
    subscription_id: str,
    *,
    period_start: int | None = None,
    period_end: int | None = None,
    paid: bool = True,
) -> dict[str, Any]:
    """A subscription Invoice in dahlia shape, as Stripe makes at each period.

    ``billing_reason`` is "subscription_create" for the subscription's first invoice, then
    "subscription_cycle". The subscription id is at ``parent.subscription_details.subscription``
    (no top-level ``subscription``/``charge``/``payment_intent`` since basil), the price at
    ``lines.data[0].pricing.price_details.price``, the billed period at ``lines.data[0].period``.
    Also creates a PaymentIntent, a Charge (if ``paid``), an InvoicePayment (GET
    /v1/invoice_payments?payment[payment_intent]=pi_...) and moves the subscription items'
    current_period_start/end. ``paid=False`` models a failed renewal: invoice "open",
    subscription "past_due" (or "incomplete" for the first). Periods default to the next one.
    """
    with store.lock:
        sub = store.require("subscription", subscription_id)
        item = store.objects[sub["items"]["data"][0]["id"]]
        if period_start is None:
            has_invoice = any(
                sub_of_invoice(o) == subscription_id for o in store.objects.values() if o.get("object") == "invoice"
            )
            period_start = item["current_period_end"] if has_invoice else item["current_period_start"]
        if period_end is None:
            rec = item["price"]["recurring"]
            period_end = add_interval(period_start, rec["interval"], rec["interval_count"])
        return copy.deepcopy(invoice_for_period(store, subscription_id, period_start, period_end, paid=paid))


def invoice_for_period(
    store: Store, subscription_id: str, period_start: int, period_end: int, *, paid: bool, email: str | None = None
) -> dict[str, Any]:
    """The invoice of one period of ``subscription_id`` (see :func:`pay_invoice`)."""
    sub = store.objects[subscription_id]
    customer = store.objects.get(sub["customer"]) or {}
    previous = [o for o in store.ordered("invoice") if sub_of_invoice(o) == subscription_id]
    first = not previous
    items = [store.objects[i["id"]] for i in sub["items"]["data"]]
    currency = sub["currency"]
    invoice = store.base("invoice", "in_", metadata={})
    now = invoice["created"]
    lines = []
    for item in items:
        price = item["price"]
        product = store.objects.get(price["product"], {})
        amount = price["unit_amount"] * item["quantity"]
        lines.append(
            {
                "id": f"il_{rand()}",
                "object": "line_item",
                "amount": amount,
                "currency": currency,
                "description": f"{item['quantity']} × {product.get('name', 'Subscription')}",
                "discount_amounts": [],
                "discountable": True,
                "discounts": [],
                "invoice": invoice["id"],
                "livemode": False,
                "metadata": dict(sub.get("metadata") or {}),
                "parent": {
                    "invoice_item_details": None,
                    "subscription_item_details": {
                        "invoice_item": None,
                        "proration": False,
                        "proration_details": {"credited_items": None},
                        "subscription": subscription_id,
                        "subscription_item": item["id"],
                    },
                    "type": "subscription_item_details",
                },
                "period": {"end": period_end, "start": period_start},
                "pretax_credit_amounts": [],
                "pricing": {
                    "price_details": {"price": price["id"], "product": price["product"]},
                    "type": "price_details",
                    "unit_amount_decimal": str(price["unit_amount"]),
                },
                "quantity": item["quantity"],
                "taxes": [],
            }
        )
    total = sum(line["amount"] for line in lines)
    pm = store.objects.get(sub.get("default_payment_method") or "") or payments.payment_method(
        store, sub["customer"], email
    )
    pi = payments.payment_intent(
        store,
        amount=total,
        currency=currency,
        customer=sub["customer"],
        pm=pm,
        metadata={},
        description="Subscription creation" if first else "Subscription update",
        status="succeeded" if paid else "requires_payment_method",
    )
    if paid:
        payments.charge(store, pi, email or customer.get("email"))
    else:
        pi["last_payment_error"] = {
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
            "type": "card_error",
        }
    seq = customer.get("next_invoice_sequence", 1) if customer else 1
    if customer:
        customer["next_invoice_sequence"] = seq + 1
    prev_period = (
        (period_start, period_start) if first else (previous[-1]["lines"]["data"][0]["period"]["start"], period_start)
    )
    invoice.update(
        {
            "account_country": "US",
            "account_name": "Mirsam",
            "account_tax_ids": None,
            "amount_due": total,
            "amount_overpaid": 0,
            "amount_paid": total if paid else 0,
            "amount_remaining": 0 if paid else total,
            "amount_shipping": 0,
            "application": None,
            "attempt_count": 1,
            "attempted": True,
            "auto_advance": not paid,
            "automatic_tax": {
                "disabled_reason": None,
                "enabled": False,
                "liability": None,
                "provider": None,
                "status": None,
            },
            "automatically_finalizes_at": None,
            "billing_reason": "subscription_create" if first else "subscription_cycle",
            "collection_method": "charge_automatically",
            "currency": currency,
            "custom_fields": None,
            "customer": sub["customer"],
            "customer_address": None,
            "customer_email": customer.get("email"),
            "customer_name": customer.get("name"),
            "customer_phone": None,
            "customer_shipping": None,
            "customer_tax_exempt": "none",
            "customer_tax_ids": [],
            "default_payment_method": None,
            "default_source": None,
            "default_tax_rates": [],
            "description": None,
            "discounts": [],
            "due_date": None,
            "effective_at": now,
            "ending_balance": 0,
            "footer": None,
            "from_invoice": None,
            "hosted_invoice_url": f"{store.url}/i/{invoice['id']}",
            "invoice_pdf": f"{store.url}/i/{invoice['id']}/pdf",
            "issuer": {"type": "self"},
            "last_finalization_error": None,
            "latest_revision": None,
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{invoice['id']}/lines",
            },
            "next_payment_attempt": None if paid else now + 3 * 86400,
            "number": f"{customer.get('invoice_prefix', 'STANDIN')}-{seq:04d}",
            "on_behalf_of": None,
            "parent": {
                "quote_details": None,
                "subscription_details": {
                    "metadata": dict(sub.get("metadata") or {}),
                    "subscription": subscription_id,
                },
                "type": "subscription_details",
            },
            "payment_settings": {
                "default_mandate": None,
                "payment_method_options": None,
                "payment_method_types": None,
            },
            "period_end": prev_period[1],
            "period_start": prev_period[0],
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": None,
            "rendering": None,
            "shipping_cost": None,
            "shipping_details": None,
            "starting_balance": 0,
            "statement_descriptor": None,
            "status": "paid" if paid else "open",
            "status_transitions": {
                "finalized_at": now,
                "marked_uncollectible_at": None,
                "paid_at": now if paid else None,
                "voided_at": None,
            },
            "subtotal": total,
            "subtotal_excluding_tax": total,
            "test_clock": None,
            "total": total,
            "total_discount_amounts": [],
            "total_excluding_tax": total,
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
            "webhooks_delivered_at": now,
        }
    )
    store.store(invoice)
    inpay = store.base("invoice_payment", "inpay_")
    inpay.update(
        {
            "amount_paid": total if paid else None,
            "amount_requested": total,
            "currency": currency,
            "invoice": invoice["id"],
            "is_default": True,
            "payment": {"type": "payment_intent", "payment_intent": pi["id"]},
            "status": "paid" if paid else "open",
            "status_transitions": {"canceled_at": None, "paid_at": now if paid else None},
        }
    )
    store.store(inpay)
    for item in items:
        item["current_period_start"] = period_start
        item["current_period_end"] = period_end
    sync_items(store, sub)
    sub["latest_invoice"] = invoice["id"]
    if paid:
        sub["status"] = "active"
    else:
        sub["status"] = "incomplete" if first else "past_due"
    return invoice


def cancel_subscription(store: Store, subscription_id: str, *, at_period_end: bool = False) -> dict[str, Any]:
    """Cancel now (status "canceled", ended_at) or flag cancel_at_period_end. Returns the subscription."""
    with store.lock:
        sub = store.require("subscription", subscription_id)
        now = store.now()
        sub["canceled_at"] = now
        sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": "cancellation_requested"}
        if at_period_end:
            sub["cancel_at_period_end"] = True
            sub["cancel_at"] = sub["items"]["data"][0]["current_period_end"]
        else:
            sub["status"] = "canceled"
            sub["ended_at"] = now
        return copy.deepcopy(sub)


def sub_of_invoice(invoice: dict[str, Any]) -> str | None:
    """The subscription id of an invoice (dahlia: ``parent.subscription_details.subscription``)."""
    parent = invoice.get("parent") or {}
    return ((parent.get("subscription_details") or {}).get("subscription")) or None
