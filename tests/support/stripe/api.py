"""The API's front door: a request recorded, authenticated, replayed for a
repeated Idempotency-Key, routed by resource (``RESOURCES``) to the module
that stands in for it, and answered as Stripe answers (JSON objects, error
bodies, ``Request-Id`` / ``Stripe-Version`` headers)."""

from __future__ import annotations

import html
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import checkout, customers, lists, payments, products, subscriptions
from .errors import StripeAPIError, as_bool, bad, deep_merge, merge_metadata, unknown, unrecognized
from .forms import decode_form, decode_query
from .pages import Reply, page
from .store import ACCOUNT_ID, DEFAULT_API_VERSION, PATH_FOR_TYPE, RESOURCES, Store, rand


@dataclass
class RecordedRequest:
    """One request the stand-in received, with what it answered."""

    method: str
    path: str
    query: dict[str, Any]
    params: dict[str, Any]
    headers: dict[str, str]
    body: str = ""
    status: int | None = None  # the status the stand-in answered with
    response: Any = None  # the decoded JSON (or None for HTML pages)

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")

    @property
    def stripe_version(self) -> str | None:
        return self.headers.get("Stripe-Version")


# POST /v1/{res}: object type -> its creator
CREATORS: dict[str, Callable[[Store, dict[str, Any]], dict[str, Any]]] = {
    "customer": customers.create_customer,
    "product": products.create_product,
    "price": products.create_price,
    "checkout.session": checkout.create_checkout_session,
    "billing_portal.session": customers.create_billing_portal_session,
    "refund": payments.create_refund,
}


def handle(store: Store, method: str, raw_path: str, headers: dict[str, str], body: str) -> Reply:
    """Answer one HTTP request: record it in ``store.requests`` (with the
    status and decoded JSON answered), then the API under /v1/ (under the
    lock) or a hosted page."""
    split = urllib.parse.urlsplit(raw_path)
    path = split.path
    try:
        params = decode_form(urllib.parse.parse_qsl(body, keep_blank_values=True)) if body else {}
    except ValueError:
        params = {}
    record = RecordedRequest(method, path, decode_query(split.query), params, headers, body)
    with store.lock:
        store.requests.append(record)
    if not path.startswith("/v1/"):
        reply = hosted(store, method, path, params)
    else:
        with store.lock:
            reply = api(store, method, path, record)
    record.status = reply.status
    if reply.content_type == "application/json":
        record.response = json.loads(reply.body)
    return reply


def json_reply(status: int, data: Any, record: RecordedRequest | None = None) -> Reply:
    """A JSON reply with Stripe's headers (``Request-Id``, the request's ``Stripe-Version``; ``Stripe-Should-Retry:
    false`` on errors)."""
    headers = {"Request-Id": f"req_{rand(14)}", "Stripe-Version": DEFAULT_API_VERSION}
    if record is not None and record.stripe_version:
        headers["Stripe-Version"] = record.stripe_version
    if status >= 400:
        headers["Stripe-Should-Retry"] = "false"
    return Reply(status, json.dumps(data).encode("utf-8"), headers=headers)


def api(store: Store, method: str, path: str, record: RecordedRequest) -> Reply:
    """/v1/: the key checked, Idempotency-Key replays (same parameters only), routed."""
    auth_error = check_auth(store, record.headers)
    if auth_error is not None:
        return json_reply(auth_error.status, auth_error.body(), record)
    key = record.idempotency_key if method == "POST" else None
    if key:
        seen = store.idempotency.get(key)
        if seen is not None:
            if (seen[0], seen[1], seen[2]) != (method, path, record.params):
                err = StripeAPIError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they were first "
                    f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
                    type="idempotency_error",
                )
                return json_reply(400, err.body(), record)
            replay = seen[3]
            return Reply(replay.status, replay.body, headers=dict(replay.headers, **{"Idempotent-Replayed": "true"}))
    try:
        status, data = route(store, method, path, record)
    except StripeAPIError as err:
        status, data = err.status, err.body()
    except Exception as exc:  # a bug in the stand-in: make it loud, never retried
        status, data = 500, StripeAPIError(500, f"stand-in error: {exc!r}", type="api_error").body()
    reply = json_reply(status, data, record)
    if key and status < 300:  # Stripe saves no result for requests that failed validation
        store.idempotency[key] = (method, path, record.params, reply)
    return reply


def check_auth(store: Store, headers: dict[str, str]) -> StripeAPIError | None:
    """None when the Bearer key is accepted, else Stripe's 401 (no key; an invalid key shown masked)."""
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        return StripeAPIError(
            401,
            "You did not provide an API key. You need to provide your API key in the Authorization header, "
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    key = auth[7:].strip()
    ok = key == store.api_key if store.api_key else bool(re.fullmatch(r"(sk|rk)_test_[A-Za-z0-9]+", key))
    if not ok:
        shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else key
        return StripeAPIError(401, f"Invalid API Key provided: {shown}")
    return None


def route(store: Store, method: str, path: str, record: RecordedRequest) -> tuple[int, Any]:
    """``(status, data)`` for an authenticated /v1/ request: /v1/account,
    else the longest matching ``RESOURCES`` path."""
    rest = path[len("/v1/") :].strip("/")
    params = record.params
    expand = as_list(record.query.get("expand")) + as_list(params.get("expand"))
    if rest == "account" and method == "GET":
        return 200, store.objects[ACCOUNT_ID]
    for res in sorted(RESOURCES, key=len, reverse=True):
        if rest == res or rest.startswith(res + "/"):
            obj_type = RESOURCES[res][0]
            tail = [p for p in rest[len(res) :].split("/") if p]
            return resource(store, method, res, obj_type, tail, record, expand)
    raise unrecognized(method, path)


def resource(
    store: Store, method: str, res: str, obj_type: str, tail: list[str], record: RecordedRequest, expand: list[str]
) -> tuple[int, Any]:
    """One resource's routes: list and create; retrieve, update and delete by id; and the actions Stripe has (session
    ``expire`` and ``line_items``, invoice ``lines``, product ``features``, subscription ``cancel``)."""
    params = record.params
    path = record.path
    if not tail:
        if method == "GET":
            return 200, lists.list_objects(store, res, obj_type, record.query, expand)
        if method == "POST":
            creator = CREATORS.get(obj_type)
            if creator is None:
                raise unrecognized(method, path)
            return 200, lists.expanded(store, creator(store, params), expand)
        raise unrecognized(method, path)
    obj_id = tail[0]
    action = tail[1] if len(tail) > 1 else None
    if len(tail) > 2:
        raise unrecognized(method, path)
    obj = store.find(obj_type, obj_id)
    if action is None:
        if method == "GET":
            return 200, lists.expanded(store, obj, expand)
        if method == "POST":
            return 200, lists.expanded(store, update_object(store, obj, params), expand)
        if method == "DELETE":
            return 200, delete_object(store, obj, params)
    if obj_type == "checkout.session" and action == "expire" and method == "POST":
        if obj["status"] != "open":
            raise bad(
                f'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has '
                f'a status of "{obj["status"]}".'
            )
        return 200, lists.expanded(store, checkout.expire_session(store, obj["id"]), expand)
    if obj_type == "checkout.session" and action == "line_items" and method == "GET":
        items = store.line_items.get(obj["id"], [])
        return 200, lists.paginate(store, items, record.query, f"/v1/checkout/sessions/{obj['id']}/line_items", expand)
    if obj_type == "invoice" and action == "lines" and method == "GET":
        lines = obj["lines"]["data"]
        return 200, lists.paginate(store, lines, record.query, f"/v1/invoices/{obj['id']}/lines", expand)
    if obj_type == "product" and action == "features" and method == "GET":  # dj-stripe syncs these
        return 200, lists.paginate(store, [], record.query, f"/v1/products/{obj['id']}/features", expand)
    if obj_type == "subscription" and action == "cancel" and method == "POST":
        return 200, subscriptions.cancel_subscription(store, obj["id"])
    raise unrecognized(method, path)


def update_object(store: Store, obj: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/{res}/{id}: the fields Stripe lets change on each type."""
    params = {k: v for k, v in params.items() if k != "expand"}
    obj_type = obj["object"]
    if obj_type == "price":
        return products.update_price(store, obj, params)
    if obj_type == "customer":
        allowed = None
    elif obj_type == "product":
        allowed = {
            "active",
            "description",
            "images",
            "metadata",
            "name",
            "statement_descriptor",
            "tax_code",
            "unit_label",
            "url",
            "default_price",
            "marketing_features",
            "shippable",
        }
    elif obj_type == "subscription":
        allowed = {"metadata", "description", "cancel_at_period_end", "cancel_at", "default_payment_method"}
    elif obj_type in ("checkout.session", "payment_intent", "charge", "invoice", "dispute", "refund"):
        allowed = {"metadata", "description"}
    else:
        raise unrecognized("POST", f"/v1/{PATH_FOR_TYPE[obj_type]}/{obj['id']}")
    for key, value in params.items():
        if allowed is not None and key not in allowed:
            raise unknown(key)
        if key == "metadata":
            obj["metadata"] = merge_metadata(obj.get("metadata") or {}, value)
        elif key in ("active", "cancel_at_period_end", "shippable"):
            obj[key] = as_bool(value, key)
        elif key == "default_price":
            store.find("price", value, "default_price", 400)
            obj[key] = value
        elif isinstance(value, dict) and isinstance(obj.get(key), dict):
            obj[key] = deep_merge(obj[key], value)
        else:
            obj[key] = None if value == "" else value
    if obj_type == "product":
        obj["updated"] = store.now()
    if obj_type == "subscription" and "cancel_at_period_end" in params:
        end = obj["items"]["data"][0]["current_period_end"] if obj["items"]["data"] else None
        obj["cancel_at"] = end if obj["cancel_at_period_end"] else None
        obj["canceled_at"] = store.now() if obj["cancel_at_period_end"] else None
    return obj


def delete_object(store: Store, obj: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """DELETE /v1/{res}/{id}: subscriptions are canceled; customers and products marked deleted."""
    if obj["object"] == "subscription":
        return subscriptions.cancel_subscription(store, obj["id"])
    if obj["object"] in ("customer", "product"):
        obj["deleted"] = True
        return {"id": obj["id"], "object": obj["object"], "deleted": True}
    raise unrecognized("DELETE", f"/v1/{PATH_FOR_TYPE[obj['object']]}/{obj['id']}")


def hosted(store: Store, method: str, path: str, params: dict[str, Any]) -> Reply:
    """Stripe's hosted pages (no auth): Checkout at /c/pay/{id}, the portal at /p/session/{id}."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "c" and parts[1] == "pay":
        return checkout.checkout_page(store, method, parts[2], parts[3:])
    if len(parts) == 3 and parts[:2] == ["p", "session"] and method == "GET":
        return customers.portal_page(store, parts[2])
    return page(404, "Not found", f"<p>{html.escape(method)} {html.escape(path)}</p>")


def as_list(value: Any) -> list[Any]:
    """``value`` as a list (one value, a list, or nothing for None / "")."""
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list) else [value]
