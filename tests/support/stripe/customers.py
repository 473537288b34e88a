"""The account, customers and the Customer Portal (POST /v1/customers,
POST /v1/billing_portal/sessions and the hosted portal page)."""

from __future__ import annotations

import html
from typing import Any

from .errors import as_url, bad, check_metadata, required, unknown
from .pages import Reply, page
from .store import ACCOUNT_ID, PORTAL_LOCALES, Store, rand


def account() -> dict[str, Any]:
    """The stand-in's own Stripe account (``acct_standin``, GET /v1/account)."""
    return {
        "id": ACCOUNT_ID,
        "object": "account",
        "business_profile": {
            "mcc": None,
            "name": "Mirsam (stand-in)",
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "country": "US",
        "created": 1700000000,
        "default_currency": "usd",
        "details_submitted": True,
        "email": "billing@example.com",
        "external_accounts": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/accounts/{ACCOUNT_ID}/external_accounts",
        },
        "livemode": False,
        "metadata": {},
        "payouts_enabled": True,
        "settings": {
            "branding": {"icon": None, "logo": None, "primary_color": None, "secondary_color": None},
            "dashboard": {"display_name": "Mirsam", "timezone": "Etc/UTC"},
            "payments": {"statement_descriptor": "MIRSAM"},
        },
        "type": "standard",
    }


def create_customer(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/customers: unknown parameters are refused, as Stripe does."""
    known = {
        "email",
        "name",
        "metadata",
        "description",
        "phone",
        "preferred_locales",
        "address",
        "invoice_settings",
        "payment_method",
        "shipping",
        "tax_exempt",
        "test_clock",
        "expand",
    }
    for key in params:
        if key not in known:
            raise unknown(key)
    cus = store.base("customer", "cus_", metadata=check_metadata(params.get("metadata")))
    cus.update(
        {
            "address": params.get("address"),
            "balance": 0,
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": params.get("description"),
            "discount": None,
            "email": params.get("email"),
            "invoice_prefix": rand(8).upper(),
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "name": params.get("name"),
            "next_invoice_sequence": 1,
            "phone": params.get("phone"),
            "preferred_locales": params.get("preferred_locales") or [],
            "shipping": params.get("shipping"),
            "tax_exempt": params.get("tax_exempt", "none"),
            "test_clock": None,
        }
    )
    return store.store(cus)


def create_billing_portal_session(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/billing_portal/sessions: a session for an existing customer, its
    ``url`` the stand-in's hosted portal page (:func:`portal_page`)."""
    if not params.get("customer"):
        raise required("customer")
    store.find("customer", params["customer"], "customer", 400)
    if params.get("return_url") is not None:
        as_url(params["return_url"], "return_url")
    locale = params.get("locale")
    if locale is not None and locale not in PORTAL_LOCALES:
        raise bad(f"Invalid locale: must be one of {', '.join(sorted(PORTAL_LOCALES))}", "locale")
    bps = store.base("billing_portal.session", "bps_")
    bps.update(
        {
            "configuration": params.get("configuration") or "bpc_standin",
            "customer": params["customer"],
            "flow": params.get("flow_data"),
            "locale": locale,
            "on_behalf_of": None,
            "return_url": params.get("return_url"),
            "url": f"{store.url}/p/session/{bps['id']}",
        }
    )
    return store.store(bps)


def portal_page(store: Store, session_id: str) -> Reply:
    """The hosted Customer Portal page of a ``billing_portal.session``: the
    customer's id and a Return link to its ``return_url`` (404 if unknown)."""
    with store.lock:
        bps = store.objects.get(session_id)
    if bps is None or bps.get("object") != "billing_portal.session":
        return page(404, "Not found", "<p>Unknown portal session.</p>")
    back = html.escape(bps.get("return_url") or "#")
    return page(
        200,
        "Stand-in Customer Portal",
        f"<p id='customer'>{html.escape(bps['customer'])}</p><a id='return' href='{back}'>Return</a>",
    )
