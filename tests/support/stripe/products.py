"""Products and prices (POST /v1/products, POST /v1/prices, POST /v1/prices/{id})."""

from __future__ import annotations

from typing import Any

from .errors import as_bool, as_int, bad, check_metadata, merge_metadata, required, unknown
from .store import Store


def create_product(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/products (``default_price_data`` makes its price too)."""
    if not params.get("name"):
        raise required("name")
    prod = store.base("product", "prod_", metadata=check_metadata(params.get("metadata")))
    prod.update(
        {
            "active": as_bool(params.get("active", True), "active"),
            "attributes": [],
            "default_price": None,
            "description": params.get("description"),
            "images": params.get("images") or [],
            "marketing_features": [],
            "name": params["name"],
            "package_dimensions": None,
            "shippable": None,
            "statement_descriptor": params.get("statement_descriptor"),
            "tax_code": params.get("tax_code"),
            "type": "service",
            "unit_label": params.get("unit_label"),
            "updated": prod["created"],
            "url": params.get("url"),
        }
    )
    if params.get("id"):
        prod["id"] = params["id"]
    store.store(prod)
    if isinstance(params.get("default_price_data"), dict):
        price = create_price(store, {**params["default_price_data"], "product": prod["id"]})
        prod["default_price"] = price["id"]
    return prod


def create_price(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/prices: one-time or ``recurring``, ``product`` or ``product_data``,
    ``lookup_key`` unique unless ``transfer_lookup_key``."""
    if not params.get("currency"):
        raise required("currency")
    product_id = params.get("product")
    if product_id is None and isinstance(params.get("product_data"), dict):
        product_id = create_product(store, params["product_data"])["id"]
    if product_id is None:
        raise required("product")
    store.find("product", product_id, "product", 400)
    if "unit_amount" not in params and "unit_amount_decimal" not in params and "custom_unit_amount" not in params:
        raise required("unit_amount")
    unit_amount = as_int(params.get("unit_amount", params.get("unit_amount_decimal", 0)), "unit_amount")
    if unit_amount < 0:
        raise bad("This value must be greater than or equal to 0.", "unit_amount")
    recurring = params.get("recurring")
    if recurring is not None:
        interval = recurring.get("interval") if isinstance(recurring, dict) else None
        if interval not in ("day", "week", "month", "year"):
            raise bad("Invalid recurring[interval]: must be one of day, month, week, or year", "recurring[interval]")
        recurring = {
            "interval": interval,
            "interval_count": as_int(recurring.get("interval_count", 1), "recurring[interval_count]"),
            "meter": None,
            "trial_period_days": None,
            "usage_type": recurring.get("usage_type", "licensed"),
        }
    lookup_key = params.get("lookup_key")
    if lookup_key:
        claim_lookup_key(store, lookup_key, as_bool(params.get("transfer_lookup_key", False), "transfer_lookup_key"))
    price = store.base("price", "price_", metadata=check_metadata(params.get("metadata")))
    price.update(
        {
            "active": as_bool(params.get("active", True), "active"),
            "billing_scheme": "per_unit",
            "currency": str(params["currency"]).lower(),
            "custom_unit_amount": None,
            "lookup_key": lookup_key or None,
            "nickname": params.get("nickname"),
            "product": product_id,
            "recurring": recurring,
            "tax_behavior": params.get("tax_behavior", "unspecified"),
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        }
    )
    return store.store(price)


def claim_lookup_key(store: Store, lookup_key: str, transfer: bool, except_id: str | None = None) -> None:
    """Take ``lookup_key`` from the price using it (only with ``transfer``; else a 400)."""
    for other in store.ordered("price"):
        if other.get("lookup_key") == lookup_key and other["id"] != except_id:
            if not transfer:
                raise bad(
                    f"A price (`{other['id']}`) already uses that lookup key. Pass `transfer_lookup_key=true` "
                    "to transfer the lookup key to this price.",
                    "lookup_key",
                )
            other["lookup_key"] = None


def update_price(store: Store, price: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/prices/{id}: the few fields Stripe lets change on a price."""
    allowed = {
        "active",
        "metadata",
        "lookup_key",
        "nickname",
        "tax_behavior",
        "transfer_lookup_key",
        "currency_options",
    }
    for key in params:
        if key not in allowed:
            raise unknown(key)
    if "lookup_key" in params and params["lookup_key"]:
        transfer = as_bool(params.get("transfer_lookup_key", False), "transfer_lookup_key")
        claim_lookup_key(store, params["lookup_key"], transfer, except_id=price["id"])
    for key, value in params.items():
        if key == "metadata":
            price["metadata"] = merge_metadata(price.get("metadata") or {}, value)
        elif key == "active":
            price["active"] = as_bool(value, "active")
        elif key in ("lookup_key", "nickname", "tax_behavior"):
            price[key] = value or None
    return price
