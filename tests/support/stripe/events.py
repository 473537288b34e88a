"""Events and their delivery: Stripe Event objects, the ``Stripe-Signature``
header (``t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<payload>")>``), and a
signed POST to a webhook URL as Stripe sends it."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

from .store import DEFAULT_API_VERSION, Store, rand


def make_event(
    event_type: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    api_version: str = DEFAULT_API_VERSION,
    previous_attributes: dict[str, Any] | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    """A Stripe Event (``object: "event"``) wrapping a deep copy of ``obj``."""
    data: dict[str, Any] = {"object": copy.deepcopy(plain(obj))}
    if previous_attributes is not None:
        data["previous_attributes"] = copy.deepcopy(previous_attributes)
    return {
        "id": event_id or f"evt_{rand()}",
        "object": "event",
        "api_version": api_version,
        "created": int(time.time()) if created is None else created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def sign_payload(payload: str, secret: str, *, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends: ``t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<payload>")>``."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode("utf-8"), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def sign_event(event: dict[str, Any], secret: str, *, timestamp: int | None = None) -> tuple[str, str]:
    """``(payload, Stripe-Signature header)`` for an event dict, ready to POST to a webhook URL."""
    payload = json.dumps(event)
    return payload, sign_payload(payload, secret, timestamp=timestamp)


def plain(obj: Any) -> Any:
    """Accept a StripeObject (v15: not a dict) as well as a dict."""
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict) and not isinstance(obj, dict):
        return to_dict()
    return obj


def store_event(store: Store, event_type: str, obj: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """``make_event`` (created at the stand-in's clock) and store it, so GET
    /v1/events/{id} (dj-stripe's retrieve_event) finds it; returns a copy."""
    evt = make_event(event_type, obj, created=kwargs.pop("created", store.now()), **kwargs)
    with store.lock:
        store.store(evt)
    return copy.deepcopy(evt)


def deliver(
    store: Store,
    event: dict[str, Any],
    url: str | None = None,
    secret: str | None = None,
    *,
    timestamp: int | None = None,
) -> tuple[int, str]:
    """POST a signed event to a webhook URL (a live server), as Stripe does;
    ``url``/``secret`` default to ``store.webhook_url``/``webhook_secret``.
    Appends ``(event, status, body)`` to ``store.deliveries``; returns (status, body)."""
    url = url or store.webhook_url
    secret = secret or store.webhook_secret
    if not url or not secret:
        raise ValueError("deliver() needs url and secret (or standin.webhook_url/webhook_secret)")
    payload, header = sign_event(event, secret, timestamp=timestamp)
    req = urllib.request.Request(
        url,
        data=payload.encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=30) as resp:
            status, text = resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode("utf-8", "replace")
    store.deliveries.append((event, status, text))
    return status, text
