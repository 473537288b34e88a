"""Lists and expansion: GET on a collection, filters, pagination and
``expand[]``, as Stripe answers them."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from .errors import as_int, bad, missing, unknown
from .store import Store

LIST_CONTROL = frozenset({"limit", "starting_after", "ending_before", "expand", "created"})


def list_objects(store: Store, res: str, obj_type: str, query: dict[str, Any], expand: list[str]) -> dict[str, Any]:
    """GET /v1/{res}: newest first, filtered by the query (``created[gte]``…,
    subscriptions without ``status`` exclude canceled ones), paginated."""
    objs = list(reversed(store.ordered(obj_type)))  # newest first
    filters = {k: v for k, v in query.items() if k not in LIST_CONTROL}
    if obj_type == "subscription":
        status = filters.pop("status", None)
        if status is None:
            objs = [o for o in objs if o.get("status") != "canceled"]
        elif status != "all":
            objs = [o for o in objs if o.get("status") == status]
    objs = [o for o in objs if all(_matches(o, k, v) for k, v in filters.items())]
    created = query.get("created")
    if isinstance(created, dict):
        for op, raw in created.items():
            bound = as_int(raw, f"created[{op}]")
            test = {
                "gte": lambda c, b=bound: c >= b,
                "gt": lambda c, b=bound: c > b,
                "lte": lambda c, b=bound: c <= b,
                "lt": lambda c, b=bound: c < b,
            }.get(op)
            if test is None:
                raise unknown(f"created[{op}]")
            objs = [o for o in objs if test(o.get("created", 0))]
    elif created is not None:
        objs = [o for o in objs if o.get("created") == as_int(created, "created")]
    return paginate(store, objs, query, f"/v1/{res}", expand)


def paginate(
    store: Store, objs: list[dict[str, Any]], query: dict[str, Any], url: str, expand: list[str]
) -> dict[str, Any]:
    """A list object of ``objs`` by ``limit`` (1–100, default 10),
    ``starting_after``/``ending_before``; ``data.*`` expansions apply to each item."""
    limit = as_int(query.get("limit", 10), "limit")
    if not 1 <= limit <= 100:
        raise bad("Invalid limit: must be between 1 and 100", "limit")
    ids = [o["id"] for o in objs]
    after, before = query.get("starting_after"), query.get("ending_before")
    if after:
        if after not in ids:
            raise missing(objs[0]["object"] if objs else "object", after, "starting_after", 400)
        page = objs[ids.index(after) + 1 :]
        chunk, has_more = page[:limit], len(page) > limit
    elif before:
        if before not in ids:
            raise missing(objs[0]["object"] if objs else "object", before, "ending_before", 400)
        page = objs[: ids.index(before)]
        chunk, has_more = page[-limit:], len(page) > limit
    else:
        chunk, has_more = objs[:limit], len(objs) > limit
    item_expand = [e[len("data.") :] for e in expand if e.startswith("data.")]
    return {
        "object": "list",
        "data": [expanded(store, o, item_expand) for o in chunk],
        "has_more": has_more,
        "url": url,
    }


def expanded(store: Store, obj: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """A copy of ``obj`` with each dotted path in ``paths`` expanded (ids
    replaced by their objects; fields Stripe only sends when expanded filled in)."""
    out = copy.deepcopy(obj)
    for path_ in paths:
        _expand_path(store, out, path_.split("."))
    return out


def _expand_path(store: Store, node: Any, parts: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _expand_path(store, item, parts)
        return
    if not isinstance(node, dict) or not parts:
        return
    head, rest = parts[0], parts[1:]
    value = node.get(head)
    if isinstance(value, str) and value in store.objects:
        value = copy.deepcopy(store.objects[value])
        node[head] = value
    elif head not in node:
        value = _virtual_field(store, node, head)
        if value is None:
            return
        node[head] = value
    if rest:
        _expand_path(store, value, rest)


def _virtual_field(store: Store, node: dict[str, Any], name: str) -> Any:
    """Fields Stripe includes only when expanded."""
    obj_type = node.get("object")
    if obj_type == "checkout.session" and name == "line_items":
        items = copy.deepcopy(store.line_items.get(node["id"], []))
        url = f"/v1/checkout/sessions/{node['id']}/line_items"
        return {"object": "list", "data": items, "has_more": False, "url": url}
    if obj_type == "charge" and name == "refunds":
        refunds = [o for o in reversed(store.ordered("refund")) if o.get("charge") == node["id"]]
        return {
            "object": "list",
            "data": copy.deepcopy(refunds),
            "has_more": False,
            "url": f"/v1/charges/{node['id']}/refunds",
        }
    if obj_type == "invoice" and name == "payments":
        pays = [o for o in reversed(store.ordered("invoice_payment")) if o.get("invoice") == node["id"]]
        return {
            "object": "list",
            "data": copy.deepcopy(pays),
            "has_more": False,
            "url": f"/v1/invoices/{node['id']}/payments",
        }
    if obj_type == "customer" and name == "sources":
        return {"object": "list", "data": [], "has_more": False, "url": f"/v1/customers/{node['id']}/sources"}
    if obj_type == "item" and name == "discounts":
        return []
    if obj_type is None and name == "breakdown":  # checkout.session total_details.breakdown
        return {"discounts": [], "taxes": []}
    return None


def _matches(obj: dict[str, Any], key: str, wanted: Any) -> bool:
    """List filters: ``customer=cus_x``, ``payment[payment_intent]=pi_x``, ``lookup_keys[]=a``."""
    if key not in obj and isinstance(wanted, list) and key.endswith("s") and key[:-1] in obj:
        return _scalar(obj[key[:-1]]) in [str(w) for w in wanted]
    if key not in obj:
        return True  # a filter the stand-in does not model
    value = obj[key]
    if isinstance(wanted, dict):
        if not isinstance(value, dict):
            return False
        return all(_matches(value, k, v) for k, v in wanted.items())
    return _scalar(value) == str(wanted)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return str(value.get("id"))
    return "" if value is None else str(value)
