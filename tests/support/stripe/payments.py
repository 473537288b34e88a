"""Payments: payment methods, PaymentIntents, charges, balance transactions,
refunds (POST /v1/refunds and the scenario helper) and disputes."""

from __future__ import annotations

import copy
from typing import Any

from .errors import as_int, bad, check_metadata
from .store import Store, rand


def payment_method(store: Store, customer: str | None, email: str | None) -> dict[str, Any]:
    """A Visa test card (4242) of ``customer``."""
    pm = store.base("payment_method", "pm_", metadata={})
    pm.update(
        {
            "allow_redisplay": "unspecified",
            "billing_details": {
                "address": {
                    "city": None,
                    "country": "US",
                    "line1": None,
                    "line2": None,
                    "postal_code": "10001",
                    "state": None,
                },
                "email": email,
                "name": None,
                "phone": None,
                "tax_id": None,
            },
            "card": {
                "brand": "visa",
                "checks": {"address_line1_check": None, "address_postal_code_check": "pass", "cvc_check": "pass"},
                "country": "US",
                "display_brand": "visa",
                "exp_month": 12,
                "exp_year": 2034,
                "fingerprint": rand(16),
                "funding": "credit",
                "generated_from": None,
                "last4": "4242",
                "networks": {"available": ["visa"], "preferred": None},
                "regulated_status": "unregulated",
                "three_d_secure_usage": {"supported": True},
                "wallet": None,
            },
            "customer": customer,
            "type": "card",
        }
    )
    return store.store(pm)


def payment_intent(
    store: Store,
    *,
    amount: int,
    currency: str,
    customer: str | None,
    pm: dict[str, Any],
    metadata: dict[str, str],
    description: str | None,
    status: str,
) -> dict[str, Any]:
    """A PaymentIntent paid with ``pm``, in ``status``."""
    pi = store.base("payment_intent", "pi_", metadata=dict(metadata))
    pi.update(
        {
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": amount if status == "succeeded" else 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic_async",
            "client_secret": f"{rand(27)}_secret_{rand(25)}",
            "confirmation_method": "automatic",
            "currency": currency,
            "customer": customer,
            "description": description,
            "last_payment_error": None,
            "latest_charge": None,
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": pm["id"],
            "payment_method_configuration_details": None,
            "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
            "payment_method_types": ["card"],
            "processing": None,
            "receipt_email": None,
            "review": None,
            "setup_future_usage": None,
            "shipping": None,
            "source": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": status,
            "transfer_data": None,
            "transfer_group": None,
        }
    )
    pi["client_secret"] = f"{pi['id']}_secret_{rand(25)}"
    return store.store(pi)


def balance_transaction(store: Store, amount: int, currency: str, source: str, kind: str) -> dict[str, Any]:
    """A pending BalanceTransaction of ``kind`` (charge: Stripe's 2.9 % + 30 fee)."""
    fee = round(abs(amount) * 0.029) + 30 if kind == "charge" else 0
    txn = store.base("balance_transaction", "txn_")
    txn.update(
        {
            "amount": amount,
            "available_on": txn["created"] + 2 * 86400,
            "currency": currency,
            "description": None,
            "exchange_rate": None,
            "fee": fee,
            "fee_details": [
                {
                    "amount": fee,
                    "application": None,
                    "currency": currency,
                    "description": "Stripe processing fees",
                    "type": "stripe_fee",
                }
            ]
            if fee
            else [],
            "net": amount - fee,
            "reporting_category": kind,
            "source": source,
            "status": "pending",
            "type": kind,
        }
    )
    return store.store(txn)


def charge(store: Store, pi: dict[str, Any], email: str | None) -> dict[str, Any]:
    """A succeeded Charge for ``pi`` (which becomes "succeeded"), with its balance transaction."""
    ch = store.base("charge", "ch_", metadata=dict(pi.get("metadata") or {}))
    txn = balance_transaction(store, pi["amount"], pi["currency"], ch["id"], "charge")
    pm = store.objects[pi["payment_method"]]
    ch.update(
        {
            "amount": pi["amount"],
            "amount_captured": pi["amount"],
            "amount_refunded": 0,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": txn["id"],
            "billing_details": copy.deepcopy(pm["billing_details"]),
            "calculated_statement_descriptor": "MIRSAM",
            "captured": True,
            "currency": pi["currency"],
            "customer": pi.get("customer"),
            "description": pi.get("description"),
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": None,
            "failure_message": None,
            "fraud_details": {},
            "on_behalf_of": None,
            "outcome": {
                "advice_code": None,
                "network_advice_code": None,
                "network_decline_code": None,
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "risk_score": 32,
                "seller_message": "Payment complete.",
                "type": "authorized",
            },
            "paid": True,
            "payment_intent": pi["id"],
            "payment_method": pm["id"],
            "payment_method_details": {
                "card": {
                    "brand": "visa",
                    "country": "US",
                    "exp_month": 12,
                    "exp_year": 2034,
                    "funding": "credit",
                    "last4": "4242",
                    "network": "visa",
                },
                "type": "card",
            },
            "radar_options": {},
            "receipt_email": email,
            "receipt_number": None,
            "receipt_url": f"{store.url}/receipts/{ch['id']}",
            "refunded": False,
            "review": None,
            "shipping": None,
            "source": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "succeeded",
            "transfer_data": None,
            "transfer_group": None,
        }
    )
    store.store(ch)
    pi["latest_charge"] = ch["id"]
    pi["status"] = "succeeded"
    pi["amount_received"] = pi["amount"]
    return ch


def refund(
    store: Store, charge: dict[str, Any], amount: int | None, reason: str | None, metadata: dict[str, str]
) -> dict[str, Any]:
    """A succeeded Refund of ``amount`` (None: what is left) of ``charge``."""
    remaining = charge["amount"] - charge["amount_refunded"]
    amount = remaining if amount is None else amount
    refund = store.base("refund", "re_", metadata=metadata)
    txn = balance_transaction(store, -amount, charge["currency"], refund["id"], "refund")
    refund.update(
        {
            "amount": amount,
            "balance_transaction": txn["id"],
            "charge": charge["id"],
            "currency": charge["currency"],
            "destination_details": {
                "card": {
                    "reference_status": "pending",
                    "reference_type": "acquirer_reference_number",
                    "type": "refund",
                },
                "type": "card",
            },
            "payment_intent": charge.get("payment_intent"),
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        }
    )
    store.store(refund)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    return refund


def create_refund(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/refunds: by ``charge`` or ``payment_intent``, a positive ``amount`` (default: what is left) of
    at most what is left to refund, and not of a disputed charge, refused with Stripe's words and codes
    (``parameter_invalid_integer``, ``charge_disputed``, ``charge_already_refunded``, ``amount_too_large``)."""
    charge_id = params.get("charge")
    if not charge_id and params.get("payment_intent"):
        pi = store.find("payment_intent", params["payment_intent"], "payment_intent", 400)
        charge_id = pi.get("latest_charge")
        if not charge_id:
            raise bad("This PaymentIntent does not have a successful charge to refund.", "payment_intent")
    if not charge_id:
        raise bad("One of the following params should be provided for this request: payment_intent or charge.")
    charge = store.find("charge", charge_id, "charge", 400)
    amount = as_int(params["amount"], "amount") if "amount" in params else None
    if amount is not None and amount < 1:
        raise bad("Invalid positive integer", "amount", "parameter_invalid_integer")
    remaining = charge["amount"] - charge["amount_refunded"]
    if charge.get("disputed"):
        raise bad(f"Charge {charge_id} has been charged back; cannot issue a refund.", code="charge_disputed")
    if remaining <= 0:
        raise bad(f"Charge {charge_id} has already been refunded.", code="charge_already_refunded")
    if amount is not None and amount > remaining:
        raise bad(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
            "amount",
            "amount_too_large",
        )
    return refund(store, charge, amount, params.get("reason"), check_metadata(params.get("metadata")))


def refund_charge(
    store: Store, charge_id: str, *, amount: int | None = None, reason: str | None = None
) -> dict[str, Any]:
    """A succeeded Refund; charge.amount_refunded accumulates, charge.refunded once fully refunded.
    Returns the refund (the charge: ``standin.get(charge_id)``)."""
    with store.lock:
        charge = store.require("charge", charge_id)
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0 or (amount is not None and not 0 < amount <= remaining):
            raise ValueError(f"cannot refund {amount} of {charge_id}: {remaining} left")
        return copy.deepcopy(refund(store, charge, amount, reason, {}))


def dispute_charge(
    store: Store, charge_id: str, *, status: str = "lost", amount: int | None = None, reason: str = "fraudulent"
) -> dict[str, Any]:
    """A Dispute on a charge (charge.disputed = True). Returns the dispute."""
    with store.lock:
        charge = store.require("charge", charge_id)
        amount = charge["amount"] if amount is None else amount
        dp = store.base("dispute", "dp_", metadata={})
        txns = []
        if status in ("needs_response", "under_review", "lost", "won"):
            txns.append(balance_transaction(store, -amount, charge["currency"], dp["id"], "dispute"))
        dp.update(
            {
                "amount": amount,
                "balance_transactions": copy.deepcopy(txns),
                "charge": charge_id,
                "currency": charge["currency"],
                "enhanced_eligibility_types": [],
                "evidence": {"customer_email_address": charge.get("receipt_email"), "uncategorized_text": None},
                "evidence_details": {
                    "due_by": dp["created"] + 7 * 86400,
                    "enhanced_eligibility": {},
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                "is_charge_refundable": False,
                "payment_intent": charge.get("payment_intent"),
                "payment_method_details": {
                    "card": {"brand": "visa", "case_type": "chargeback", "network_reason_code": "10.4"},
                    "type": "card",
                },
                "reason": reason,
                "status": status,
            }
        )
        store.store(dp)
        charge["disputed"] = True
        return copy.deepcopy(dp)
